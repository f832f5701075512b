// A Plotly chart that stays in the page and is updated in place (Plotly.react) with each frame's
// figure. st.plotly_chart mounts a new chart whenever its figure changes, so a live view rebuilt
// every chart every frame, and the charts blinked. plotly.js itself is loaded once, from the
// app's static folder (app_pages/live_plotly.py puts it there); THEME, the Streamlit light theme
// as st.plotly_chart draws it, is put before this code by live_plotly.py.

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  if (data.preload) {  // no chart: only start loading plotly.js (live_plotly.preload_plotly)
    loadPlotly(data.src).catch(() => {});
    return;
  }
  let root = parentElement.querySelector(".np-plotly");
  if (!root) {
    root = document.createElement("div");
    root.className = "np-plotly";
    root.dataset.draws = "0";  // how many figures it has drawn: read by tests
    parentElement.appendChild(root);
  }
  root.__click = (point) => setTriggerValue("click", point);
  root.__clickable = Boolean(data.clickable);
  root.__figure = data.figure;
  root.__filename = data.filename || "chart";
  // The chart's height from the first frame on, so the page does not jump when plotly.js arrives.
  root.style.minHeight = `${data.height}px`;
  // The newest figure wins: a frame that arrives while plotly.js loads replaces the one before.
  // If plotly.js cannot be loaded, the chart says so; the next frame tries again.
  loadPlotly(data.src).then((Plotly) => draw(Plotly, root)).catch((error) => {
    if (!root._fullLayout) {
      root.textContent = `This chart could not be drawn: ${error.message || error}. It is tried again with the ` +
        "next update; reload the page if this stays.";
    }
  });
}

function loadPlotly(src) {
  if (!window.__npPlotly) {
    window.__npPlotly = window.Plotly ? Promise.resolve(window.Plotly) : new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.js did not load")));
      script.onerror = () => { window.__npPlotly = null; reject(new Error(`${src} did not load`)); };
      document.head.appendChild(script);
    });
  }
  return window.__npPlotly;
}

function themed(figure) {
  const layout = figure.layout || {};
  layout.template = THEME;
  layout.clickmode = "event";  // a click reports its point and selects nothing (no dimmed points)
  if (layout.title && layout.title.text) layout.title.text = `<b>${layout.title.text}</b>`;
  return { data: figure.data || [], layout };
}

function draw(Plotly, root) {
  const json = root.__figure;
  if (json === root.__drawn) return;  // this figure is on screen already
  root.__drawn = json;
  const { data, layout } = themed(JSON.parse(json));
  if (!root._fullLayout) root.textContent = "";  // a message from a failed load, not a chart
  Plotly.react(root, data, layout, { responsive: true, displaylogo: false, displayModeBar: "hover",
                                     modeBarButtons: [saveButtons(Plotly, root.__filename)] });
  if (!root.__listening) {
    root.__listening = true;
    root.on("plotly_click", (event) => {
      const p = event.points && event.points[0];
      if (!root.__clickable || !p) return;
      root.__click({ x: p.x, y: p.y, curve: p.curveNumber, point: p.pointNumber ?? null,
                     customdata: p.customdata ?? null });
    });
  }
  root.dataset.draws = String(Number(root.dataset.draws) + 1);
}

// The chart's only tools: save it as PNG or SVG, made by plotly.js in the browser (nothing is fetched).
function saveButtons(Plotly, filename) {
  const save = (format) => ({
    name: `save-${format}`, title: `Download this chart as ${format.toUpperCase()}`,
    icon: format === "png" ? Plotly.Icons.camera : Plotly.Icons.disk, click: (gd) => Plotly.downloadImage(gd, { format, filename, scale: format === "png" ? 2 : 1 }),
  });
  return [save("png"), save("svg")];
}
