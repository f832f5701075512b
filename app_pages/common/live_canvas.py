"""The live views' canvases as Streamlit components: the decision boundary
(assets/plane_canvas.js) and the training curves (assets/curves_canvas.js). Each stays in the
page and redraws itself in place with every frame's data. A Plotly chart whose figure
changes is mounted anew by Streamlit, so at five frames a second the browser spent most of
its time building charts, and the charts flickered; the canvases keep up on a small laptop,
and clicks still reach Python. Each has a "⬇ PNG" button (on hover) that saves the picture, made in
the browser."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CSS = """
.np-plane, .np-curves { position: relative; width: 100%; }
.np-plane canvas, .np-curves canvas { display: block; }
.np-plane-tip, .np-curves-tip { position: absolute; pointer-events: none; background: rgba(255, 255, 255, 0.95);
  border: 1px solid #cccccc; border-radius: 4px; padding: 3px 6px; font: 12px sans-serif; color: #222222;
  white-space: nowrap; z-index: 2; }
.np-save { position: absolute; top: 2px; right: 2px; z-index: 3; opacity: 0; transition: opacity 0.2s;
  font: 12px sans-serif; color: #444444; background: rgba(255, 255, 255, 0.9); border: 1px solid #cccccc;
  border-radius: 4px; padding: 1px 6px; cursor: pointer; }
.np-plane:hover .np-save, .np-curves:hover .np-save, .np-save:focus { opacity: 1; }
"""


def _component(name: str):
    """A canvas component: its drawing code after the helpers both canvases use."""
    js = (ASSETS / "live_canvas_common.js").read_text() + (ASSETS / f"{name}.js").read_text()
    return st.components.v2.component(f"neural_playground.{name}", css=CSS, js=js, isolate_styles=False)


_plane = _component("plane_canvas")
_curves = _component("curves_canvas")


def plane_canvas(data: dict, key: str) -> dict | None:
    """Draw viz.playground.boundary_canvas(...) data; returns the point a user clicked
    ({"x": .., "y": ..}) in the run that click started, else None."""
    return _plane(key=key, data={**data, "filename": key}, height="content", on_click_change=lambda: None).get("click")


def curves_canvas(data: dict, key: str) -> None:
    """Draw viz.playground.loss_curves(...) data."""
    _curves(key=key, data={**data, "filename": key}, height="content")
