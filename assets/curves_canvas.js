// Live training curves (loss, and accuracy on a right-hand axis) on a canvas that stays in the
// page and is redrawn in place with each frame's data, as plane_canvas.js does for the
// boundary. The data come from viz.playground.loss_curves.
const MARGIN = { left: 52, right: 16, top: 46, bottom: 42 };
const Y2_W = 48;

export default function (component) {
  const { data, parentElement } = component;
  const root = liveRoot(parentElement, "np-curves", (root, canvas) => {
    canvas.addEventListener("mousemove", (e) => { root.__mouse = e; showTip(root); });
    canvas.addEventListener("mouseleave", () => { root.__mouse = null; root.querySelector(".np-curves-tip").hidden = true; });
    new ResizeObserver(() => root.__data && draw(root)).observe(root);
  });
  root.__data = data;
  root.__filename = data.filename;
  root.style.height = data.height + "px";
  draw(root);
  if (root.__mouse) showTip(root);  // the tip follows the curves as they grow
  countDraw(root);
}

// A step of 1, 2 or 5 times a power of ten that gives about `count` ticks over [0, top].
function niceStep(top, count) {
  const raw = top / count, power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

function label(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return v.toLocaleString("en-US");
  return String(Number(v.toPrecision(3)));
}

function geometry(root, data) {
  const width = root.clientWidth || 600, height = data.height;
  const right = MARGIN.right + (data.y2_title ? Y2_W : 0);
  const left = MARGIN.left, top = MARGIN.top;
  const plotW = Math.max(40, width - left - right), plotH = Math.max(40, height - top - MARGIN.bottom);
  let xMax = 0, yMax = 0;
  for (const s of data.series) {
    for (const x of s.x) xMax = Math.max(xMax, x);
    if (s.axis === "y") for (const y of s.y) if (y !== null && Number.isFinite(y)) yMax = Math.max(yMax, y);
  }
  xMax = xMax || 1;
  yMax = (yMax || 1) * 1.05;
  return { width, height, left, top, plotW, plotH, xMax, yMax,
           toX: (x) => left + (x / xMax) * plotW,
           toY: (y, axis) => top + plotH - (axis === "y2" ? y / 1.02 : y / yMax) * plotH };
}

function draw(root) {
  const data = root.__data, g = (root.__geometry = geometry(root, data));
  const ctx = sizedContext(root, g.width, g.height);
  ctx.font = "12px sans-serif"; ctx.lineWidth = 1;

  // Grid and ticks: x from 0, loss from 0, accuracy 0-100 % on the right.
  const xStep = niceStep(g.xMax, 8), yStep = niceStep(g.yMax, 5);
  ctx.strokeStyle = "#eeeeee"; ctx.fillStyle = "#555555";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (let x = 0; x <= g.xMax + 1e-9; x += xStep) {
    ctx.beginPath(); ctx.moveTo(g.toX(x) + 0.5, g.top); ctx.lineTo(g.toX(x) + 0.5, g.top + g.plotH); ctx.stroke();
    ctx.fillText(label(x), g.toX(x), g.top + g.plotH + 5);
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (let y = 0; y <= g.yMax + 1e-9; y += yStep) {
    ctx.beginPath(); ctx.moveTo(g.left, g.toY(y, "y") + 0.5); ctx.lineTo(g.left + g.plotW, g.toY(y, "y") + 0.5); ctx.stroke();
    ctx.fillText(label(y), g.left - 6, g.toY(y, "y"));
  }
  ctx.textAlign = "left";
  if (data.y2_title) for (const v of [0, 0.25, 0.5, 0.75, 1]) ctx.fillText(`${v * 100}%`, g.left + g.plotW + 6, g.toY(v, "y2"));
  ctx.strokeStyle = "#cccccc";
  ctx.beginPath(); ctx.moveTo(g.left + 0.5, g.top); ctx.lineTo(g.left + 0.5, g.top + g.plotH + 0.5);
  ctx.lineTo(g.left + g.plotW, g.top + g.plotH + 0.5); ctx.stroke();

  ctx.font = "13px sans-serif"; ctx.fillStyle = "#444444"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(data.x_title, g.left + g.plotW / 2, g.height - 2);
  for (const [title, x] of [[data.y_title, 14], [data.y2_title, g.width - 10]]) {
    if (!title) continue;
    ctx.save(); ctx.translate(x, g.top + g.plotH / 2); ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle"; ctx.fillText(title, 0, 0); ctx.restore();
  }

  // The curves; a missing value (a diverged loss) breaks the line.
  ctx.save(); ctx.beginPath(); ctx.rect(g.left, g.top - 2, g.plotW + 2, g.plotH + 4); ctx.clip();
  for (const s of data.series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = s.width; ctx.setLineDash(s.dash ? [3, 3] : []);
    ctx.beginPath();
    let drawing = false;
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      if (y === null || !Number.isFinite(y)) { drawing = false; continue; }
      const px = g.toX(s.x[i]), py = g.toY(y, s.axis);
      if (drawing) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      drawing = true;
    }
    ctx.stroke();
  }
  ctx.restore(); ctx.setLineDash([]);

  // Legend, in one or two rows above the plot.
  ctx.font = "12px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
  let lx = g.left, ly = 12;
  for (const s of data.series) {
    const w = 30 + ctx.measureText(s.name).width + 18;
    if (lx + w > g.left + g.plotW && lx > g.left) { lx = g.left; ly += 18; }
    ctx.strokeStyle = s.color; ctx.lineWidth = s.width; ctx.setLineDash(s.dash ? [3, 3] : []);
    ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 24, ly); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#444444"; ctx.fillText(s.name, lx + 30, ly);
    lx += w;
  }
  if (data.empty_text) {
    ctx.fillStyle = "#888888"; ctx.font = "14px sans-serif"; ctx.textAlign = "center";
    ctx.fillText(data.empty_text, g.left + g.plotW / 2, g.top + g.plotH / 2);
  }
}

// Every curve's value at the epoch under the mouse.
function showTip(root) {
  const data = root.__data, g = root.__geometry, e = root.__mouse, tip = root.querySelector(".np-curves-tip");
  const rect = root.querySelector("canvas").getBoundingClientRect();
  const px = e.clientX - rect.left, py = e.clientY - rect.top;
  const first = data.series[0];
  if (!first || !first.x.length || px < g.left || px > g.left + g.plotW || py < g.top || py > g.top + g.plotH) {
    tip.hidden = true; return;
  }
  const x = ((px - g.left) / g.plotW) * g.xMax;
  let i = 0;
  for (let j = 1; j < first.x.length; j++) if (Math.abs(first.x[j] - x) < Math.abs(first.x[i] - x)) i = j;
  const rows = data.series.map((s) => {
    const v = s.y[i], shown = v === null || !Number.isFinite(v) ? "NaN" : s.axis === "y2" ? `${(v * 100).toFixed(1)}%` : v.toFixed(4);
    return `<span style="color:${s.color}">■</span> ${s.name}: ${shown}`;
  });
  tip.innerHTML = `${data.x_title} ${label(Number(first.x[i].toFixed(2)))}<br>` + rows.join("<br>");
  tip.hidden = false;
  tip.style.left = Math.min(g.width - 190, px + 14) + "px";
  tip.style.top = Math.max(0, py - 20) + "px";
}
