"""Figures of the Convolutions page: a grid of numbers with the kernel's window on it (the
operation, cell by cell), many small maps tiled into one heatmap (filters, feature maps),
the training curves, the class probabilities, the confusion matrix, the shift test.

Maps are tiled into one heatmap with NaN gaps rather than drawn as dozens of subplots, so a
live frame stays cheap; each figure is built from plain dicts (see viz/autoencoders.py)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, DIVERGING, ORANGE

INK = [[0.0, "#ffffff"], [1.0, "#1b1b1b"]]  # pixel 0 white, 1 near-black: the digits as drawn
WINDOW, CELL = "#d62728", "#2ca02c"        # the kernel's window on the input, the output cell it makes
SHIFTED = "#9467bd"
CHART_FONT = dict(size=12)


def _figure(data: list[dict], height: int, uirevision: str, **layout) -> go.Figure:
    base = dict(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", font=CHART_FONT,
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left"), uirevision=uirevision)
    return go.Figure(data=data, layout={**base, **layout})


def _axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), showgrid=True, gridcolor="#eeeeee", zeroline=False, **kw)


def _pixel_axes(anchor: str = "x", **kw) -> dict:
    """Square pixels, row 0 at the top, no tick labels."""
    return dict(autorange="reversed", showgrid=False, zeroline=False, showticklabels=False, ticks="",
                scaleanchor=anchor, scaleratio=1, constrain="domain", **kw)


def _number_text(values: np.ndarray, digits: int) -> list[list[str]]:
    return [["" if not np.isfinite(v) else f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"
             for v in row] for row in values]


def _box(x0: float, y0: float, x1: float, y1: float, color: str, xref: str = "x", yref: str = "y",
         width: float = 3) -> dict:
    """A rectangle around cells x0..x1, y0..y1 (inclusive, cell centres on whole numbers)."""
    return dict(type="rect", xref=xref, yref=yref, x0=x0 - 0.5, x1=x1 + 0.5, y0=y0 - 0.5, y1=y1 + 0.5,
                line=dict(color=color, width=width), fillcolor="rgba(0,0,0,0)")


def _symmetric(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def number_grid_figure(values: np.ndarray, title: str, digits: int = 1, window: tuple | None = None,
                       mask: np.ndarray | None = None, diverging: bool = False, height: int = 300,
                       key: str = "grid") -> go.Figure:
    """A small map with its numbers written in the cells. window = (row0, col0, row1, col1) is
    outlined (the kernel's footprint, or the one output cell being computed); mask marks cells
    (padding) drawn grey."""
    values = np.asarray(values, dtype=np.float64)
    shown = values.copy()
    if mask is not None:
        shown = np.where(mask, np.nan, shown)
    scale = _symmetric(shown)
    heat = dict(type="heatmap", z=shown, text=_number_text(values, digits), texttemplate="%{text}",
                textfont=dict(size=11 if values.shape[1] <= 10 else 9), showscale=False, hoverongaps=False,
                colorscale=DIVERGING if diverging else [[0, "#ffffff"], [1, "#9ecae1"]],
                zmin=-scale if diverging else 0, zmax=scale, xgap=1, ygap=1,
                hovertemplate="row %{y}, column %{x}: %{text}<extra></extra>")
    shapes = [_box(window[1], window[0], window[3], window[2], WINDOW if window[0] != window[2] or
                   window[1] != window[3] else CELL)] if window else []
    return _figure([heat], height, key, title=dict(text=title, font=dict(size=13), x=0.5, xanchor="center"),
                   margin=dict(l=10, r=10, t=34, b=10), plot_bgcolor="#cccccc", shapes=shapes,
                   xaxis=dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain"),
                   yaxis=_pixel_axes())


def tile_maps(maps: np.ndarray, cols: int | None = None, gap: int = 1) -> tuple[np.ndarray, int]:
    """(n, h, w) maps -> one (rows·(h+gap) − gap, cols·(w+gap) − gap) array with NaN gaps, and cols."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (n, height, width), got shape {maps.shape}")
    n, h, w = maps.shape
    cols = cols or min(n, max(1, math.ceil(math.sqrt(n * h / max(w, 1) * 2))))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = m
    return out, cols


def maps_figure(maps: np.ndarray, cols: int | None = None, height: int = 220, per_map_scale: bool = True,
                diverging: bool = True, key: str = "maps", hover: str = "map") -> go.Figure:
    """Many small maps (filters, one stage's feature maps) side by side. Each map is scaled by
    its own largest |value| (per_map_scale) so a quiet channel still shows its pattern."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float64))
    if per_map_scale:
        peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
        maps = maps / np.where(peak > 0, peak, 1.0)[:, None, None]
    tiles, cols = tile_maps(maps, cols)
    n, h, w = maps.shape
    index = np.full(tiles.shape, np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        index[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = i + 1
    heat = dict(type="heatmap", z=tiles, customdata=index, showscale=False, hoverongaps=False,
                colorscale=DIVERGING if diverging else INK, zmin=-1 if diverging else 0, zmax=1,
                hovertemplate=f"{hover} %{{customdata:.0f}}: %{{z:.2f}}<extra></extra>")
    return _figure([heat], height, key, plot_bgcolor="#ffffff",
                   xaxis=dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain"),
                   yaxis=_pixel_axes())


def digit_figure(image: np.ndarray, height: int = 220, box: tuple | None = None, overlay: np.ndarray | None = None,
                 key: str = "digit") -> go.Figure:
    """One 8×8 digit, large; box = (row0, col0, row1, col1) outlines a receptive field; overlay
    (8×8, ≥ 0) is drawn over it in red (a saliency map)."""
    image = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64).reshape(8, 8)), 0, 1)
    data = [dict(type="heatmap", z=image, zmin=0, zmax=1, colorscale=INK, showscale=False,
                 hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>")]
    if overlay is not None:
        o = np.nan_to_num(np.asarray(overlay, dtype=np.float64).reshape(8, 8))
        o = o / (o.max() or 1.0)
        data.append(dict(type="heatmap", z=o, zmin=0, zmax=1, showscale=False, hoverinfo="skip",
                         colorscale=[[0, "rgba(214,39,40,0)"], [1, "rgba(214,39,40,0.85)"]]))
    shapes = [_box(box[1], box[0], box[3], box[2], WINDOW)] if box else []
    return _figure(data, height, key, shapes=shapes,
                   xaxis=dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain"),
                   yaxis=_pixel_axes())


def digit_saliency_figure(image: np.ndarray, saliency: np.ndarray, box: tuple | None = None, height: int = 190,
                          key: str = "saliency") -> go.Figure:
    """The digit (left, with box = (row0, col0, row1, col1) outlined: a receptive field) and its
    saliency map |∂score/∂pixel| (right, red), side by side on one row."""
    image = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64).reshape(8, 8)), 0, 1)
    s = np.nan_to_num(np.asarray(saliency, dtype=np.float64).reshape(8, 8))
    s = s / (s.max() or 1.0)
    data = [dict(type="heatmap", z=image, zmin=0, zmax=1, colorscale=INK, showscale=False, xaxis="x", yaxis="y",
                 hovertemplate="pixel (%{y}, %{x}): %{z:.2f}<extra></extra>"),
            dict(type="heatmap", z=s, zmin=0, zmax=1, colorscale=[[0, "#ffffff"], [1, WINDOW]], showscale=False,
                 xaxis="x2", yaxis="y2", hovertemplate="saliency (%{y}, %{x}): %{z:.2f}<extra></extra>")]
    shapes = [_box(box[1], box[0], box[3], box[2], "#2ca02c")] if box else []
    plain = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="")
    titles = [dict(text="the digit", x=0.22, y=1.0, xref="paper", yref="paper", showarrow=False, yanchor="bottom"),
              dict(text="saliency", x=0.78, y=1.0, xref="paper", yref="paper", showarrow=False, yanchor="bottom")]
    return _figure(data, height, key, shapes=shapes, annotations=titles, margin=dict(l=5, r=5, t=24, b=5),
                   xaxis=dict(domain=[0, 0.46], constrain="domain", **plain),
                   yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain", **plain),
                   xaxis2=dict(domain=[0.54, 1], constrain="domain", **plain),
                   yaxis2=dict(autorange="reversed", scaleanchor="x2", constrain="domain", **plain))


def digits_row_figure(images: np.ndarray, labels: list[str], height: int = 150, key: str = "row") -> go.Figure:
    """A row of 8×8 digits with a caption under each (e.g. "7 read as 1, 12 %")."""
    images = np.clip(np.nan_to_num(np.asarray(images, dtype=np.float64).reshape(-1, 8, 8)), 0, 1)
    tiles, cols = tile_maps(images, cols=max(1, len(images)))
    centres = [i * 9 + 3.5 for i in range(len(images))]
    heat = dict(type="heatmap", z=tiles, zmin=0, zmax=1, colorscale=INK, showscale=False, hoverongaps=False,
                hoverinfo="skip")
    return _figure([heat], height, key, margin=dict(l=10, r=10, t=10, b=40),
                   xaxis=dict(showgrid=False, zeroline=False, tickmode="array", tickvals=centres, ticktext=labels,
                              tickfont=dict(size=11), constrain="domain"),
                   yaxis=_pixel_axes())


def _thin(history: list[dict], limit: int = 600) -> list[dict]:
    if len(history) > limit:  # keep the browser fast on long runs; the last point stays
        return history[:: len(history) // (limit // 2)] + history[-1:]
    return history


def _line(x, y, name: str, color: str, dash: str = "solid", width: float = 2) -> dict:
    return dict(type="scatter", x=x, y=y, mode="lines", name=name, line=dict(color=color, width=width, dash=dash))


def curves_figure(history: list[dict], which: str, height: int = 280) -> go.Figure:
    """which = "loss": train and test cross-entropy against the epoch (log scale); "accuracy":
    train, test and shifted-test accuracy."""
    history = _thin(history)
    x = [h["epoch"] for h in history]
    if which == "loss":
        data = [_line(x, [h["train_loss"] for h in history], "train", BLUE),
                _line(x, [h["test_loss"] for h in history], "test", ORANGE)]
        yaxis = _axis("cross-entropy", type="log", dtick=1)  # ticks at 1, 0.1, 0.01: labelled powers of ten
    else:
        data = [_line(x, [h["train_accuracy"] for h in history], "train", BLUE),
                _line(x, [h["test_accuracy"] for h in history], "test", ORANGE),
                _line(x, [h["shifted_test_accuracy"] for h in history], "test, shifted 1 px", SHIFTED, "dot")]
        yaxis = _axis("accuracy", range=[0, 1.02], tickformat=".0%")
    return _figure(data, height, which, xaxis=_axis("epoch", rangemode="tozero"), yaxis=yaxis,
                   margin=dict(l=10, r=10, t=30, b=10))


def probabilities_figure(probs: np.ndarray, height: int = 220, key: str = "probs") -> go.Figure:
    """The ten class probabilities as bars, the most likely one in blue."""
    probs = np.nan_to_num(np.asarray(probs, dtype=np.float64).reshape(-1))
    best = int(np.argmax(probs))
    bars = dict(type="bar", x=[str(d) for d in range(len(probs))], y=probs, text=[f"{p:.0%}" for p in probs],
                textposition="outside", cliponaxis=False,
                marker=dict(color=[BLUE if d == best else "#bbbbbb" for d in range(len(probs))]),
                hovertemplate="digit %{x}: %{y:.1%}<extra></extra>")
    return _figure([bars], height, key, margin=dict(l=10, r=10, t=20, b=10), showlegend=False,
                   xaxis=dict(title=dict(text="digit"), type="category"),
                   yaxis=_axis("probability", range=[0, 1.15], tickformat=".0%"))


def confusion_figure(matrix: np.ndarray, height: int = 340) -> go.Figure:
    """Rows: the true digit, columns: the network's answer; the counts written in."""
    m = np.asarray(matrix, dtype=np.float64)
    off = m.copy()
    np.fill_diagonal(off, np.nan)  # the mistakes set the colour scale; the diagonal is drawn apart
    peak = np.nanmax(off) if np.isfinite(off).any() and np.nanmax(off) > 0 else 1.0
    digits = [str(d) for d in range(len(m))]
    mistakes = dict(type="heatmap", z=off, x=digits, y=digits, zmin=0, zmax=peak, showscale=False,
                    colorscale=[[0, "#ffffff"], [1, "#d62728"]], hoverongaps=False, xgap=1, ygap=1,
                    hovertemplate="true %{y}, read as %{x}: %{z:.0f}<extra></extra>")
    diag = np.full_like(m, np.nan)
    np.fill_diagonal(diag, np.diag(m))
    right = dict(type="heatmap", z=diag, x=digits, y=digits, zmin=0, zmax=1, showscale=False, hoverongaps=False,
                 colorscale=[[0, "#deebf7"], [1, "#deebf7"]], xgap=1, ygap=1,
                 hovertemplate="true %{y}, read as %{x}: %{z:.0f}<extra></extra>")
    counts = [["" if v == 0 and i != j else f"{v:.0f}" for j, v in enumerate(row)] for i, row in enumerate(m)]
    text = dict(type="heatmap", z=np.zeros_like(m), x=digits, y=digits, text=counts, texttemplate="%{text}",
                textfont=dict(color="#222222", size=11), showscale=False, hoverinfo="skip",
                colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]])  # blank off the diagonal: mistakes stand out
    return _figure([mistakes, right, text], height, "confusion", margin=dict(l=10, r=10, t=10, b=10),
                   xaxis=dict(title=dict(text="read as"), side="top", type="category", constrain="domain"),
                   yaxis=dict(title=dict(text="true digit"), autorange="reversed", type="category",
                              scaleanchor="x", scaleratio=1, constrain="domain"))


def shift_figure(results: dict[str, list[float]], height: int = 260) -> go.Figure:
    """Test accuracy by shift (0, 1, 2 pixels), one group of bars per network."""
    colors = [BLUE, ORANGE, SHIFTED, "#2ca02c"]
    data = []
    for i, (name, accuracies) in enumerate(results.items()):
        shifts = [f"{s} px" if s else "as drawn" for s in range(len(accuracies))]
        data.append(dict(type="bar", name=name, x=shifts, y=accuracies, marker=dict(color=colors[i % len(colors)]),
                         text=[f"{a:.0%}" for a in accuracies], textposition="outside", cliponaxis=False,
                         hovertemplate=f"{name}, %{{x}}: %{{y:.1%}}<extra></extra>"))
    return _figure(data, height, "shift", barmode="group", margin=dict(l=10, r=10, t=40, b=10),
                   xaxis=dict(title=dict(text="test digits shifted by"), type="category"),
                   yaxis=_axis("test accuracy", range=[0, 1.12], tickformat=".0%"))
