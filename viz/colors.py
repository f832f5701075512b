"""Colours shared by the figures: TensorFlow Playground's orange (negative, class 0)
through near-white to blue (positive, class 1), and a palette for more classes."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

ORANGE, WHITE, BLUE = "#f59322", "#e8eaeb", "#0877bd"
DIVERGING = [[0.0, ORANGE], [0.5, WHITE], [1.0, BLUE]]
CLASS_COLORS = [ORANGE, BLUE, "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def hex_to_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


_LUT_STOPS = np.stack([hex_to_rgb(ORANGE), hex_to_rgb(WHITE), hex_to_rgb(BLUE)])


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (clipped) -> uint8 RGB, orange at -1, white at 0, blue at +1."""
    v = np.clip(np.nan_to_num(values), -1, 1)[..., None]
    low = _LUT_STOPS[1] + (_LUT_STOPS[1] - _LUT_STOPS[0]) * np.minimum(v, 0)
    high = _LUT_STOPS[1] + (_LUT_STOPS[2] - _LUT_STOPS[1]) * np.maximum(v, 0)
    return np.where(v < 0, low, high).astype(np.uint8)


def map_to_data_uri(grid: np.ndarray, scale: float | None = None) -> str:
    """A (res, res) map (row 0 at the bottom of the plane) as a PNG data URI, coloured
    with the diverging scale; `scale` maps |value| = scale to full colour (default: the
    map's own largest |value|, so every neuron's pattern is visible)."""
    if scale is None:
        scale = float(np.max(np.abs(grid))) or 1.0
    rgb = diverging_rgb(grid / scale)[::-1]  # image rows run top to bottom
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
