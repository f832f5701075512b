// The Playground's live decision boundary: the model's output over [-d, d]² and the data
// points, drawn on a canvas that stays in the page. Streamlit calls this function again with
// each frame's data, and the picture is redrawn in place: a few milliseconds, where a new
// Plotly chart per frame (Streamlit mounts one whenever its figure changes) costs the
// browser tens. The data come from viz.playground.boundary_canvas.
const MARGIN = { left: 46, right: 10, top: 10, bottom: 40 };
const LEGEND_H = 22, COLORBAR_W = 58;

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = liveRoot(parentElement, "np-plane", (root, canvas) => {
    canvas.addEventListener("mousemove", (e) => showTip(root, e));
    canvas.addEventListener("mouseleave", () => { root.querySelector(".np-plane-tip").hidden = true; });
    canvas.addEventListener("click", (e) => {
      const s = root.__state, p = s && toPlane(s, e);
      if (s && s.data.clickable && p) root.__click({ x: round(p.x, 3), y: round(p.y, 3) });
    });
    new ResizeObserver(() => root.__state && draw(root)).observe(root);
  });
  root.__click = (point) => setTriggerValue("click", point);
  const previous = root.__state && root.__state.data;
  root.__state = { data };
  root.__filename = data.filename;
  draw(root);
  if (!previous || previous.rgb !== data.rgb || JSON.stringify(previous.points) !== JSON.stringify(data.points)) {
    countDraw(root);  // a new picture, not the same one again
  }
}

function round(v, digits) { const f = 10 ** digits; return Math.round(v * f) / f; }

// The plot's square in CSS pixels, and the mapping between the plane and the canvas.
function layout(root, data) {
  // The square takes the width it is given, up to data.height in all.
  const width = root.clientWidth || 400;
  const top = MARGIN.top + (data.legend ? LEGEND_H : 0);
  const right = MARGIN.right + (data.colorbar ? COLORBAR_W : 0);
  const side = Math.max(60, Math.min(width - MARGIN.left - right, data.height - top - MARGIN.bottom));
  const left = MARGIN.left + Math.max(0, (width - MARGIN.left - right - side) / 2);
  return { width, height: side + top + MARGIN.bottom, left, top, side, d: data.domain };
}

function toPlane(state, e) {
  const g = state.geometry, rect = e.target.getBoundingClientRect();
  const px = e.clientX - rect.left - g.left, py = e.clientY - rect.top - g.top;
  if (px < 0 || py < 0 || px > g.side || py > g.side) return null;
  return { x: -g.d + (2 * g.d * px) / g.side, y: g.d - (2 * g.d * py) / g.side, px, py };
}

function draw(root) {
  const state = root.__state, data = state.data;
  const g = (state.geometry = layout(root, data));
  const ctx = sizedContext(root, g.width, g.height);
  root.style.height = g.height + "px";
  ctx.canvas.style.cursor = data.clickable ? "crosshair" : "default";

  // The output map: res x res RGB cells, row 0 at the top (x2 = +d), drawn as sharp cells.
  const res = data.res, bytes = atob(data.rgb);
  const image = new ImageData(res, res);
  for (let i = 0, j = 0; i < res * res; i++, j += 3) {
    image.data[4 * i] = bytes.charCodeAt(j);
    image.data[4 * i + 1] = bytes.charCodeAt(j + 1);
    image.data[4 * i + 2] = bytes.charCodeAt(j + 2);
    image.data[4 * i + 3] = 255;
  }
  const cells = state.cells || (state.cells = document.createElement("canvas"));
  cells.width = res; cells.height = res;
  cells.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, g.left, g.top, g.side, g.side);

  const toX = (x) => g.left + ((x + g.d) / (2 * g.d)) * g.side;
  const toY = (y) => g.top + ((g.d - y) / (2 * g.d)) * g.side;
  ctx.save();  // points beyond the plane (noisy data) are cut at its edge, as the axes are
  ctx.beginPath(); ctx.rect(g.left, g.top, g.side, g.side); ctx.clip();
  for (const set of data.points) {
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = set.edge;
    for (let i = 0; i < set.x.length; i++) {
      ctx.beginPath();
      ctx.arc(toX(set.x[i]), toY(set.y[i]), 3.6, 0, 2 * Math.PI);
      ctx.fillStyle = set.color[i];
      ctx.fill();
      ctx.stroke();
    }
  }
  ctx.restore();

  // Frame, ticks and axis titles.
  ctx.strokeStyle = "#bbbbbb"; ctx.lineWidth = 1;
  ctx.strokeRect(g.left + 0.5, g.top + 0.5, g.side - 1, g.side - 1);
  ctx.fillStyle = "#444444"; ctx.font = "12px sans-serif";
  for (let t = -g.d; t <= g.d + 1e-9; t += g.d / 3) {
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.fillText(String(round(t, 1)), toX(t), g.top + g.side + 5);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.fillText(String(round(t, 1)), g.left - 6, toY(t));
  }
  ctx.font = "13px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText("x₁", g.left + g.side / 2, g.height - 2);
  ctx.save(); ctx.translate(Math.max(12, g.left - 36), g.top + g.side / 2); ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle"; ctx.fillText("x₂", 0, 0); ctx.restore();

  if (data.legend) {  // tells train points (white edge) from test points (black edge)
    let x = g.left;
    ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.font = "12px sans-serif";
    for (const set of data.points) {
      ctx.beginPath(); ctx.arc(x + 5, MARGIN.top + 8, 4.5, 0, 2 * Math.PI);
      ctx.fillStyle = "#888888"; ctx.fill(); ctx.strokeStyle = set.edge === "white" ? "#dddddd" : set.edge;
      ctx.lineWidth = 1.5; ctx.stroke();
      ctx.fillStyle = "#444444"; ctx.fillText(set.name, x + 14, MARGIN.top + 8);
      x += 24 + ctx.measureText(set.name).width + 14;
    }
  }
  if (data.colorbar) {  // regression: the colours' values
    const c = data.colorbar, x = g.left + g.side + 14, h = g.side * 0.6, y = g.top + (g.side - h) / 2;
    const gradient = ctx.createLinearGradient(0, y + h, 0, y);
    c.stops.forEach(([at, color]) => gradient.addColorStop(at, color));
    ctx.fillStyle = gradient; ctx.fillRect(x, y, 10, h);
    ctx.fillStyle = "#444444"; ctx.textAlign = "left"; ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(String(c.max), x + 14, y); ctx.fillText(String(c.min), x + 14, y + h);
    ctx.fillText(String(round((c.min + c.max) / 2, 2)), x + 14, y + h / 2);
    ctx.textBaseline = "bottom"; ctx.fillText(c.title, x - 2, y - 6);
  }
}

// The value under the mouse, or the data point under it.
function showTip(root, e) {
  const state = root.__state, tip = root.querySelector(".np-plane-tip");
  const p = state && toPlane(state, e);
  if (!p) { tip.hidden = true; return; }
  const data = state.data, g = state.geometry;
  let text = null;
  for (const set of data.points) {
    for (let i = 0; i < set.x.length && !text; i++) {
      const dx = ((set.x[i] - p.x) / (2 * g.d)) * g.side, dy = ((set.y[i] - p.y) / (2 * g.d)) * g.side;
      if (dx * dx + dy * dy <= 25) text = `${set.label[i]} (${set.name})<br>(${set.x[i].toFixed(2)}, ${set.y[i].toFixed(2)})`;
    }
  }
  if (!text) {
    const res = data.res;
    const col = Math.min(res - 1, Math.floor((p.px / g.side) * res));
    const row = Math.min(res - 1, Math.floor((p.py / g.side) * res));
    const value = data.values[row * res + col];
    text = `x₁=${p.x.toFixed(2)}, x₂=${p.y.toFixed(2)}<br>${data.hover_label} ${value.toFixed(data.hover_digits)}`;
    if (data.clickable) text += "<br>click to add a point here";
  }
  tip.innerHTML = text;
  tip.hidden = false;
  tip.style.left = Math.min(g.width - 150, p.px + g.left + 12) + "px";
  tip.style.top = Math.max(0, p.py + g.top - 10) + "px";
}
