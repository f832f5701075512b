"""Figures of the Energy models page: learning curves, a weight matrix, pictures tiled into one heatmap
(patterns, chain samples, filters, digits and their reconstructions), the model's probability of each
visible vector beside the data's, the free energies of digits and of random images, and the deep belief
net's learning curve over the number of labelled digits. Data in (plain lists and NumPy), figure out."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .cnn import INK, tile_maps
from .colors import BLUE, DIVERGING, ORANGE

GREEN, GREY = "#2ca02c", "#9a9a9a"
CHART_FONT = dict(size=12)


def _figure(data: list[dict], height: int, uirevision: str, **layout) -> go.Figure:
    base = dict(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white", font=CHART_FONT,
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left"), uirevision=uirevision)
    return go.Figure(data=data, layout={**base, **layout})


def _axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), showgrid=True, gridcolor="#eeeeee", zeroline=False, **kw)


def _bare_axes() -> tuple[dict, dict]:
    x = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain")
    y = dict(autorange="reversed", showgrid=False, zeroline=False, showticklabels=False, ticks="",
             scaleanchor="x", scaleratio=1, constrain="domain")
    return x, y


def _finite_or_none(values) -> list:
    return [float(v) if v is not None and math.isfinite(v) else None for v in values]


def curves_figure(history: list[dict], series: list[tuple[str, str, str]], y_title: str, height: int = 260,
                  key: str = "curves", log_y: bool = False, x_key: str = "step", x_title: str = "step",
                  percent: bool = False, from_zero: bool = True) -> go.Figure:
    """Lines of history[i][key] against history[i][x_key]; series = [(key, legend name, colour), ...].
    NaN points (a value not measured yet) are gaps. from_zero: the x axis starts at 0."""
    x = [h[x_key] for h in history]
    data = [dict(type="scatter", mode="lines", x=x, y=_finite_or_none(h.get(k, math.nan) for h in history),
                 name=name, line=dict(color=color, width=2)) for k, name, color in series]
    y = _axis(y_title, type="log") if log_y else _axis(y_title, tickformat=".0%" if percent else None)
    return _figure(data, height, key, xaxis=_axis(x_title, rangemode="tozero" if from_zero else "normal"), yaxis=y)


def weights_figure(weights: np.ndarray, n_visible: int, height: int = 300, key: str = "weights") -> go.Figure:
    """The symmetric weight matrix (blue positive, orange negative), the visible units first; lines part
    the visible and hidden blocks."""
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    labels = [f"v{i + 1}" for i in range(n_visible)] + [f"h{i + 1}" for i in range(n - n_visible)]
    scale = float(np.abs(w).max()) or 1.0
    heat = dict(type="heatmap", z=w, x=labels, y=labels, zmin=-scale, zmax=scale, colorscale=DIVERGING, xgap=1,
                ygap=1, colorbar=dict(thickness=10, len=0.8), hovertemplate="W(%{y}, %{x}) = %{z:.2f}<extra></extra>")
    shapes = []
    if 0 < n_visible < n:
        edge = n_visible - 0.5
        shapes = [dict(type="line", x0=edge, x1=edge, y0=-0.5, y1=n - 0.5, line=dict(color="#333", width=1.5)),
                  dict(type="line", y0=edge, y1=edge, x0=-0.5, x1=n - 0.5, line=dict(color="#333", width=1.5))]
    return _figure([heat], height, key, shapes=shapes, margin=dict(l=10, r=10, t=10, b=10),
                   xaxis=dict(side="top", tickfont=dict(size=10), constrain="domain"),
                   yaxis=dict(autorange="reversed", tickfont=dict(size=10), scaleanchor="x", scaleratio=1,
                              constrain="domain"))


def pictures_figure(pictures: np.ndarray, cols: int | None = None, height: int = 160, key: str = "pictures",
                    diverging: bool = False, per_picture_scale: bool = False, hover: str = "picture") -> go.Figure:
    """Small pictures (n, h, w) side by side in one heatmap: 0 white to 1 black (a pattern, a sample, a digit),
    or, diverging, blue positive and orange negative, each scaled to its own largest |value| (filters).
    NaN cells (the shifter's unused corner) are blank."""
    pictures = np.asarray(pictures, dtype=np.float64)
    if per_picture_scale:
        peak = np.nanmax(np.abs(pictures).reshape(len(pictures), -1), axis=1)
        pictures = pictures / np.where(peak > 0, peak, 1.0)[:, None, None]
    tiles, cols = tile_maps(pictures, cols)
    n, h, w = pictures.shape
    index = np.full(tiles.shape, np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        index[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = i + 1
    heat = dict(type="heatmap", z=tiles, customdata=index, showscale=False, hoverongaps=False,
                colorscale=DIVERGING if diverging else INK, zmin=-1 if diverging else 0, zmax=1, xgap=0.5, ygap=0.5,
                hovertemplate=f"{hover} %{{customdata:.0f}}: %{{z:.2f}}<extra></extra>")
    x, y = _bare_axes()
    return _figure([heat], height, key, plot_bgcolor="#f3f3f3", margin=dict(l=4, r=4, t=4, b=4), xaxis=x, yaxis=y)


def visible_probabilities_figure(p_model: np.ndarray, p_data: np.ndarray, shown: int = 40, height: int = 260,
                                 key: str = "visible") -> go.Figure:
    """The model's probability of its `shown` likeliest visible vectors, blue for a data pattern and orange
    for one the data never hold, with each data pattern's share of the data marked."""
    p_model, p_data = np.asarray(p_model, dtype=np.float64), np.asarray(p_data, dtype=np.float64)
    order = np.argsort(-p_model, kind="stable")[:shown]
    n_bits = max(1, int(round(math.log2(len(p_model)))))
    names = [format(int(i), f"0{n_bits}b") for i in order]
    in_data = p_data[order] > 0
    bars = dict(type="bar", x=names, y=p_model[order], name="model p(v)",
                marker=dict(color=[BLUE if d else ORANGE for d in in_data]),
                hovertemplate="v = %{x}: p = %{y:.3f}<extra></extra>")
    target = dict(type="scatter", mode="markers", x=names, y=np.where(in_data, p_data[order], np.nan),
                  name="data's share", marker=dict(symbol="line-ew", size=14, color="#222", line=dict(width=2)),
                  hoverinfo="skip")
    return _figure([bars, target], height, key, bargap=0.15,
                   xaxis=dict(title=dict(text="visible vector (blue: a data pattern, orange: not)"),
                              showticklabels=False, type="category"),
                   yaxis=_axis("probability", rangemode="tozero"))


def free_energy_figure(test: np.ndarray, random: np.ndarray, height: int = 240, key: str = "free_energy") -> go.Figure:
    """Histograms of F(v) for the test digits and for random binary images: low free energy, likely."""
    data = [dict(type="histogram", x=np.asarray(test, dtype=np.float64), name="test digits", opacity=0.75,
                 marker=dict(color=BLUE), nbinsx=30),
            dict(type="histogram", x=np.asarray(random, dtype=np.float64), name="random binary images", opacity=0.75,
                 marker=dict(color=ORANGE), nbinsx=30)]
    return _figure(data, height, key, barmode="overlay", xaxis=_axis("free energy F(v)"), yaxis=_axis("images"))


def learning_curve_figure(results: dict[str, dict[str, float]], counts: list[int], live: tuple[int, dict] | None = None,
                          height: int = 280, key: str = "learning_curve") -> go.Figure:
    """Test accuracy against the number of labelled digits (log axis) for the pretrained network and the same
    network from random initialisation; `live` = (count, accuracies) is the count being fine-tuned, drawn
    hollow until it is done."""
    data = []
    for name, label, color in (("pretrained", "pretrained (DBN)", BLUE), ("random", "random initialisation", ORANGE)):
        xs = [int(c) for c in counts if str(c) in results]
        data.append(dict(type="scatter", mode="lines+markers", x=xs, y=[results[str(c)][name] for c in xs], name=label,
                         line=dict(color=color, width=2), marker=dict(size=9, color=color),
                         hovertemplate="%{x} labelled: %{y:.1%}<extra>" + label + "</extra>"))
        if live is not None and str(live[0]) not in results and math.isfinite(live[1].get(name, math.nan)):
            data.append(dict(type="scatter", mode="markers", x=[live[0]], y=[live[1][name]], showlegend=False,
                             marker=dict(size=11, color="white", line=dict(color=color, width=2)),
                             hovertemplate="%{x} labelled, fine-tuning: %{y:.1%}<extra></extra>"))
    ticks = sorted({int(c) for c in counts})
    return _figure(data, height, key, xaxis=_axis("labelled training digits", type="log", tickvals=ticks,
                                                  ticktext=[f"{t:,}" for t in ticks]),
                   yaxis=_axis("test accuracy", range=[0, 1.02], tickformat=".0%"))


def layer_errors_figure(errors: list[float], current: int, height: int = 200, key: str = "layers") -> go.Figure:
    """Each RBM's reconstruction error now, the one being pretrained (1-based `current`; 0: none) in green."""
    names = [f"RBM {i + 1}" for i in range(len(errors))]
    colors = [GREEN if i + 1 == current else BLUE for i in range(len(errors))]
    bars = dict(type="bar", x=names, y=_finite_or_none(errors), marker=dict(color=colors),
                text=["—" if e is None or not math.isfinite(e) else f"{e:.4f}" for e in errors], textposition="outside",
                cliponaxis=False, hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    top = max([e for e in errors if e is not None and math.isfinite(e)] or [0.1])
    return _figure([bars], height, key, showlegend=False, xaxis=dict(type="category"),
                   yaxis=_axis("reconstruction error", range=[0, top * 1.3]))


__all__ = ["GREEN", "GREY", "curves_figure", "free_energy_figure", "layer_errors_figure", "learning_curve_figure",
           "pictures_figure", "visible_probabilities_figure", "weights_figure"]
