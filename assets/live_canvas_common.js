// Shared by the live canvases: app_pages/live_canvas.py puts this in front of each one's code.

// The element a live canvas lives in (a canvas and a tooltip), made on the component's first
// call; `setup(root, canvas)` adds its listeners then. Later calls find it and redraw into it.
function liveRoot(parentElement, name, setup) {
  let root = parentElement.querySelector(`.${name}`);
  if (root) return root;
  root = document.createElement("div");
  root.className = name;
  root.innerHTML = `<canvas></canvas><div class="${name}-tip" hidden></div>` +
    '<button class="np-save" type="button" title="Download this chart as a PNG image">⬇ PNG</button>';
  parentElement.appendChild(root);
  root.dataset.draws = "0";  // how many pictures it has drawn: read by tests and benchmarks
  root.querySelector(".np-save").addEventListener("click", () => savePNG(root));
  setup(root, root.querySelector("canvas"));
  return root;
}

// The picture on screen as a PNG file, made in the browser (nothing is fetched): the chart as it is
// drawn now, at the screen's pixel density, on white. root.__filename names it.
function savePNG(root) {
  const canvas = root.querySelector("canvas"), out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  const link = document.createElement("a");
  link.href = out.toDataURL("image/png");
  link.download = `${root.__filename || "chart"}.png`;
  link.click();
}

function countDraw(root) { root.dataset.draws = String(Number(root.dataset.draws) + 1); }

// The root's canvas sized to width x height CSS pixels (sharp on high-density screens), cleared,
// and its 2-D context drawing in CSS pixels.
function sizedContext(root, width, height) {
  const canvas = root.querySelector("canvas"), ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}
