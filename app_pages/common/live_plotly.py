"""Plotly charts for the live views, updated in place (assets/live_plotly.js).

st.plotly_chart gives a chart a new identity whenever its figure changes, so inside a
`run_every` fragment the browser built every chart anew each frame: the charts blinked (a
screenshot during Play could catch one missing) and the page's main thread was busy. This
component keeps one chart per key and hands it each new figure with Plotly.react.

plotly.js comes from the installed plotly package, copied once into the app's static folder
(served by Streamlit at app/static/, see .streamlit/config.toml), so the browser loads and caches
it once instead of receiving it with every frame. If that copy cannot be made, the charts fall
back to st.plotly_chart, which blinks and does not pass clicks back."""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Callable

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
STATIC = ROOT / "static"  # Streamlit serves the folder named static beside app.py
PLOTLY_JS = "plotly.min.js"
CSS = ".np-plotly { width: 100%; }"
DEFAULT_HEIGHT = 450  # plotly.js's own, for a figure whose layout names none
log = logging.getLogger(__name__)


def _static_plotly_js() -> bool:
    """Copy plotly.js from the installed package into static/ unless the same file is there."""
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = STATIC / PLOTLY_JS
    try:
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            STATIC.mkdir(exist_ok=True)
            # A name of this process's own, then one rename: another server copying at the same time, or
            # one serving the file meanwhile, sees the old file or the new, never half of one.
            partial = STATIC / f".{PLOTLY_JS}.{os.getpid()}.tmp"
            shutil.copyfile(source, partial)
            partial.replace(target)
        return True
    except OSError as error:
        log.warning("Live charts fall back to st.plotly_chart: could not copy %s into %s (%s)", source, STATIC, error)
        return False


# NP_PLOTLY_IN_PLACE=0 draws the live charts with st.plotly_chart, as before this component:
# the baseline of the browser benchmark (python -m bench.browser --only lv).
SERVED = os.environ.get("NP_PLOTLY_IN_PLACE", "1") != "0" and _static_plotly_js()
_THEME = json.dumps(json.loads((ASSETS / "plotly_theme.json").read_text()), separators=(",", ":"))
_component = st.components.v2.component(
    "neural_playground.live_plotly", css=CSS, isolate_styles=False,
    js=f"const THEME = {_THEME};\n" + (ASSETS / "live_plotly.js").read_text())


def _script_src() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + "/".join(p for p in (base, "app/static", PLOTLY_JS) if p)


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js reads it (NumPy arrays as typed arrays), without a template:
    the component puts the Streamlit theme in its place."""
    spec = fig.to_plotly_json()
    spec.get("layout", {}).pop("template", None)
    return pio.to_json(spec, validate=False)


def static_chart_config(filename: str) -> dict:
    """st.plotly_chart's config for a chart drawn once (not live): its one tool, on hover, saves it
    as a PNG made by plotly.js in the browser, offline, named `filename`.png."""
    return {"displaylogo": False, "displayModeBar": "hover", "modeBarButtons": [["toImage"]],
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}


def live_plotly(fig: go.Figure, key: str, on_click: Callable[[dict], None] | None = None) -> dict | None:
    """Draw `fig` in the chart named `key`, in place. With `on_click`, the chart takes clicks:
    on_click(point) runs before the rerun the click starts (so that rerun already draws what the
    click changed), and the call returns the point ({"x", "y", "curve", "point", "customdata"}) in
    that rerun, else None."""
    if not SERVED:  # drawn anew each frame, and clicks are not read
        st.plotly_chart(fig, key=key, config=static_chart_config(key))
        return None

    def clicked() -> None:
        point = (st.session_state.get(key) or {}).get("click")
        if on_click is not None and point:
            on_click(point)

    data = {"figure": figure_json(fig), "height": fig.layout.height or DEFAULT_HEIGHT, "src": _script_src(),
            "clickable": on_click is not None, "filename": key}
    return _component(key=key, data=data, height="content", on_click_change=clicked).get("click")


def preload_plotly() -> None:
    """Start loading plotly.js as soon as a page opens, from the sidebar (drawn before the page).
    Evaluating it takes about a second of the browser's main thread on a slow machine, once per
    browser tab; loaded with the first live chart, that second fell on the frames right after
    an early Play, and the live view, seeing late frames, asked for fewer of them for a while."""
    if SERVED:
        with st.sidebar:
            _component(key="np_plotly_preload", data={"preload": True, "src": _script_src()}, height="content")
