"""The live views' canvases as Streamlit components: the decision boundary
(assets/plane_canvas.js) and the training curves (assets/curves_canvas.js). Each stays in the
page and redraws itself in place with every frame's data. A Plotly chart whose figure
changes is mounted anew by Streamlit, so at five frames a second the browser spent most of
its time building charts, and the charts flickered; the canvases keep up on a small laptop,
and clicks still reach Python."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CSS = """
.np-plane, .np-curves { position: relative; width: 100%; }
.np-plane canvas, .np-curves canvas { display: block; }
.np-plane-tip, .np-curves-tip { position: absolute; pointer-events: none; background: rgba(255, 255, 255, 0.95);
  border: 1px solid #cccccc; border-radius: 4px; padding: 3px 6px; font: 12px sans-serif; color: #222222;
  white-space: nowrap; z-index: 2; }
"""
_plane = st.components.v2.component("neural_playground.plane_canvas", css=CSS,
                                    js=(ASSETS / "plane_canvas.js").read_text(), isolate_styles=False)
_curves = st.components.v2.component("neural_playground.curves_canvas", css=CSS,
                                     js=(ASSETS / "curves_canvas.js").read_text(), isolate_styles=False)


def plane_canvas(data: dict, key: str) -> dict | None:
    """Draw viz.playground.boundary_canvas(...) data; returns the point a user clicked
    ({"x": .., "y": ..}) in the run that click started, else None."""
    return _plane(key=key, data=data, height="content", on_click_change=lambda: None).get("click")


def curves_canvas(data: dict, key: str) -> None:
    """Draw viz.playground.curves_canvas(...) data."""
    _curves(key=key, data=data, height="content")
