// The drawing pad (app_pages/common/draw_pad.py): a square canvas on which a person draws a digit
// with a mouse, a pen or a finger, in white on black as scikit-learn's digits store ink (high
// values). When a stroke ends, the canvas is averaged over data.cells × data.cells blocks and the
// grid of values in [0, 1] goes to Python as the component's "grid" state: once per stroke, not
// on every move, so Python reruns only when there is a new drawing. Clear sends null.
// Streamlit calls this function again on every rerun; the pad made on the first call stays in
// the page, and what is drawn on it stays with it.

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let pad = parentElement.querySelector(".np-draw-pad");
  if (pad && pad.dataset.size === String(data.size_px) && pad.dataset.cells === String(data.cells)) {
    pad.__send = (grid) => setStateValue("grid", grid);  // the latest callback Streamlit gave us
    return;
  }
  const hadDrawing = pad && pad.dataset.strokes !== "0";
  if (pad) pad.remove();  // a new size: start on a fresh pad
  pad = buildPad(parentElement, data);
  pad.__send = (grid) => setStateValue("grid", grid);
  if (hadDrawing) pad.__send(null);
}

function buildPad(parentElement, data) {
  const size = data.size_px, cells = data.cells;
  const pad = document.createElement("div");
  pad.className = "np-draw-pad";
  pad.dataset.size = String(size);
  pad.dataset.cells = String(cells);
  pad.dataset.strokes = "0";  // strokes since the last Clear: read by tests
  pad.innerHTML = `
    <div class="np-draw-pad-row">
      <div class="np-draw-pad-board" style="width:${size}px;height:${size}px">
        <canvas aria-label="drawing pad: draw a digit"></canvas>
        <div class="np-draw-pad-lines" style="background-size:${size / cells}px ${size / cells}px"></div>
      </div>
      <div class="np-draw-pad-side">
        <canvas class="np-draw-pad-preview" width="${cells}" height="${cells}"
                aria-label="what the network sees"></canvas>
        <div class="np-draw-pad-caption">${cells}×${cells}: what the network sees</div>
        <button type="button" class="np-draw-pad-clear">Clear</button>
      </div>
    </div>`;
  parentElement.appendChild(pad);

  const canvas = pad.querySelector("canvas");
  const ratio = window.devicePixelRatio || 1;  // sharp strokes on high-density screens
  canvas.width = Math.round(size * ratio);
  canvas.height = Math.round(size * ratio);
  canvas.style.width = size + "px";
  canvas.style.height = size + "px";
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = data.brush_px;
  ctx.strokeStyle = "#ffffff";
  ctx.fillStyle = "#ffffff";
  blank(ctx, size);
  showPreview(pad, null);

  let last = null;  // the previous point of the stroke being drawn, null between strokes
  const at = (e) => {
    const rect = canvas.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * size, y: ((e.clientY - rect.top) / rect.height) * size };
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);  // the stroke keeps its pointer past the pad's edge
    last = at(e);
    ctx.beginPath();
    ctx.arc(last.x, last.y, data.brush_px / 2, 0, 2 * Math.PI);  // a tap leaves a dot
    ctx.fill();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  });
  const endStroke = () => {
    if (!last) return;
    last = null;
    pad.dataset.strokes = String(Number(pad.dataset.strokes) + 1);
    const grid = pool(ctx, canvas, cells);
    showPreview(pad, grid);
    pad.__send(grid);
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  pad.querySelector(".np-draw-pad-clear").addEventListener("click", () => {
    last = null;
    blank(ctx, size);
    showPreview(pad, null);
    const wasEmpty = pad.dataset.strokes === "0";
    pad.dataset.strokes = "0";
    if (!wasEmpty) pad.__send(null);
  });
  return pad;
}

function blank(ctx, size) {
  ctx.save();
  ctx.fillStyle = "#000000";
  ctx.fillRect(0, 0, size, size);
  ctx.restore();
}

// The canvas averaged over cells × cells blocks: rows top first, each value the block's mean
// brightness in [0, 1], rounded to 3 digits (plenty for an 8×8 input, and short to send).
function pool(ctx, canvas, cells) {
  const w = canvas.width, h = canvas.height;
  const pixels = ctx.getImageData(0, 0, w, h).data;
  const grid = [];
  for (let r = 0; r < cells; r++) {
    const y0 = Math.floor((r * h) / cells), y1 = Math.floor(((r + 1) * h) / cells);
    const row = [];
    for (let c = 0; c < cells; c++) {
      const x0 = Math.floor((c * w) / cells), x1 = Math.floor(((c + 1) * w) / cells);
      let sum = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) sum += pixels[4 * (y * w + x)];  // red = grey: ink is white
      }
      row.push(Math.round((sum / (255 * (y1 - y0) * (x1 - x0))) * 1000) / 1000);
    }
    grid.push(row);
  }
  return grid;
}

function showPreview(pad, grid) {
  const preview = pad.querySelector(".np-draw-pad-preview"), cells = preview.width;
  const image = new ImageData(cells, cells);
  for (let i = 0; i < cells * cells; i++) {
    const v = grid ? Math.round(255 * grid[Math.floor(i / cells)][i % cells]) : 0;
    image.data.set([v, v, v, 255], 4 * i);
  }
  preview.getContext("2d").putImageData(image, 0, 0);
}
