"""A drawing pad (assets/draw_pad.js): a person draws a digit with the mouse or a finger, and the
page gets it as an 8×8 grid in [0, 1], as scikit-learn's digits are stored (ink high, paper 0).

The pad is drawn large (224 px, a thick round brush: see BRUSH_FRACTION) and averaged down to 8×8 in the browser,
much as the digits themselves were made: 32×32 bitmaps counted over 4×4 blocks. The grid is sent
once per stroke, when the pointer is lifted, not on every move, so Python reruns once per
stroke. grid_to_input and grid_is_empty are plain Python, usable without Streamlit.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import streamlit as st

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GRID_SIDE = 8              # the digits' side: 8×8 inputs
# Brush width / pad side. The digits' strokes are 1.5 to 2 cells wide (a "1" holds about 20 cells'
# worth of ink); a brush of about 1.3 cells gives a drawing a similar ink mass, which a network
# trained on them expects, and still looks like a pen stroke on the pad.
BRUSH_FRACTION = 0.16
EMPTY_BELOW = 0.02         # a grid whose brightest cell is dimmer than this counts as blank
CSS = """
.np-draw-pad-row { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.np-draw-pad-board { position: relative; border: 1px solid #888888; border-radius: 4px; overflow: hidden; }
.np-draw-pad-board canvas { display: block; cursor: crosshair; touch-action: none; }
.np-draw-pad-lines { position: absolute; inset: 0; pointer-events: none;
  background-image: linear-gradient(to right, rgba(255, 255, 255, 0.12) 1px, transparent 1px),
                    linear-gradient(to bottom, rgba(255, 255, 255, 0.12) 1px, transparent 1px); }
.np-draw-pad-side { display: flex; flex-direction: column; gap: 8px; align-items: flex-start; }
.np-draw-pad-preview { width: 80px; height: 80px; image-rendering: pixelated; border: 1px solid #888888; }
.np-draw-pad-caption { font: 12px sans-serif; color: var(--st-text-color, #444444); max-width: 110px; }
.np-draw-pad-clear { font: inherit; padding: 4px 14px; border-radius: 8px; cursor: pointer;
  border: 1px solid var(--st-border-color, #cccccc); background: var(--st-secondary-background-color, #f0f2f6);
  color: var(--st-text-color, #222222); }
.np-draw-pad-clear:hover { border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }
"""

_pad = st.components.v2.component("neural_playground.draw_pad", css=CSS,
                                  js=(ASSETS / "draw_pad.js").read_text(), isolate_styles=False)


def draw_pad(key: str, size_px: int = 224) -> list[list[float]] | None:
    """Show the pad; returns the latest drawing as 8 rows of 8 values in [0, 1] (top row first),
    or None before anything is drawn and after Clear. A new size_px starts on a blank pad."""
    if not 64 <= size_px <= 1024:
        raise ValueError(f"size_px must be 64..1024 pixels, got {size_px}")
    data = {"size_px": int(size_px), "cells": GRID_SIDE, "brush_px": round(BRUSH_FRACTION * size_px, 1)}
    result = _pad(key=key, data=data, height="content", on_grid_change=lambda: None)
    return _checked_grid(result.get("grid"))


def _checked_grid(value) -> list[list[float]] | None:
    """The grid as the browser sent it, or None when it is not an 8×8 grid of numbers (the
    browser is not trusted to send what it should)."""
    if not isinstance(value, list) or len(value) != GRID_SIDE:
        return None
    rows = []
    for row in value:
        if not isinstance(row, list) or len(row) != GRID_SIDE:
            return None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in row):
            return None
        rows.append([min(1.0, max(0.0, float(v))) for v in row])
    return rows


def grid_is_empty(grid, threshold: float = EMPTY_BELOW) -> bool:
    """True when nothing is drawn: no grid (None), or no cell brighter than `threshold`."""
    if grid is None:
        return True
    return float(np.max(np.asarray(grid, dtype=np.float64), initial=0.0)) < threshold


def grid_to_input(grid) -> np.ndarray:
    """The engine's input for one drawing: (64,) float32 in [0, 1], row-major, as
    engine.core.digits gives its images. Takes 8×8 rows or 64 values; None is a blank image."""
    if grid is None:
        return np.zeros(GRID_SIDE * GRID_SIDE, dtype=np.float32)
    values = np.asarray(grid, dtype=np.float64)
    if values.size != GRID_SIDE * GRID_SIDE or values.shape not in ((GRID_SIDE, GRID_SIDE), (GRID_SIDE ** 2,)):
        raise ValueError(f"a drawing must be 8×8 values or 64 values, got shape {values.shape}")
    values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(values, 0.0, 1.0).astype(np.float32).reshape(-1)
