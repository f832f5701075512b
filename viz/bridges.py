"""Figures of the Bridges page: the classical model and its network side by side on the same
points, the neuron's weights converging on scikit-learn's, the self-organising map unfolding."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, ORANGE
from .playground import boundary_figure

DOMAIN = 6.0
INK = "#333333"
PARAM_COLORS = {"w₁": BLUE, "w₂": ORANGE, "b": "#2ca02c"}


def side_figure(plane: np.ndarray, ds, title: str, height: int = 380) -> go.Figure:
    """One model's output over the plane (P(class 1), or the class for 3+ classes) under the
    train (white edge) and test (black edge) points."""
    fig = boundary_figure(plane, ds.n_classes, ds.train_xy, ds.train_y, ds.test_xy, ds.test_y, height=height)
    fig.update_layout(title=dict(text=title, x=0.01, y=0.98, font=dict(size=14)), margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, font=dict(size=11)))
    return fig


def add_points(fig: go.Figure, xy: np.ndarray, name: str, symbol: str = "circle-open", color: str = INK,
               size: int = 12) -> go.Figure:
    """Highlight points on a side figure: support vectors, an RBF network's centres."""
    fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, cliponaxis=True,
                             marker=dict(symbol=symbol, size=size, color=color, line=dict(width=2, color=color)),
                             hovertemplate=name + " (%{x:.2f}, %{y:.2f})<extra></extra>"))
    fig.update_layout(showlegend=True)
    return fig


def add_rbf_units(fig: go.Figure, centres: np.ndarray, widths: np.ndarray, start: np.ndarray | None = None) -> go.Figure:
    """Each Gaussian unit as its centre (✕) and a dotted circle of radius sigma (units wider than the
    plane are left out: they are flat there, a constant); grey lines from where the centres started."""
    t = np.linspace(0, 2 * np.pi, 40)
    xs, ys = [], []
    for (cx, cy), s in zip(centres, widths):
        s = float(s)
        if s > DOMAIN:
            continue
        xs += list(cx + s * np.cos(t)) + [None]
        ys += list(cy + s * np.sin(t)) + [None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="width σ", line=dict(color=INK, width=1, dash="dot"),
                             hoverinfo="skip", showlegend=False))
    if start is not None:
        mx, my = [], []
        for a, b in zip(start, centres):
            mx += [a[0], b[0], None]
            my += [a[1], b[1], None]
        fig.add_trace(go.Scatter(x=mx, y=my, mode="lines", name="moved from", line=dict(color="#888888", width=1),
                                 hoverinfo="skip", showlegend=False))
    add_points(fig, centres, "centres", symbol="x-thin", size=12)
    fig.update_xaxes(range=[-DOMAIN, DOMAIN])
    fig.update_yaxes(range=[-DOMAIN, DOMAIN])
    return fig


def convergence_figure(path: np.ndarray, target: np.ndarray, target_name: str = "scikit-learn",
                       height: int = 300) -> go.Figure:
    """The neuron's w₁, w₂, b at each Adam step (solid) and the classical solution (dashed)."""
    fig = go.Figure()
    for i, (name, color) in enumerate(PARAM_COLORS.items()):
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1 + i], mode="lines", name=f"neuron {name}",
                                 line=dict(color=color, width=2)))
        fig.add_hline(y=float(target[i]), line=dict(color=color, dash="dash", width=1),
                      annotation_text=f"{target_name} {name}", annotation_position="top right",
                      annotation_font=dict(size=10, color=color))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
                      xaxis_title="Adam step (full batch)", yaxis_title="value",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def loss_curve_figure(losses: list[float], y_title: str, height: int = 260) -> go.Figure:
    fig = go.Figure(go.Scatter(x=np.arange(1, len(losses) + 1), y=losses, mode="lines", line=dict(color=INK, width=2),
                               name=y_title))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=20, b=10), plot_bgcolor="white",
                      xaxis_title="step (full batch)", yaxis_title=y_title)
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", rangemode="tozero")
    return fig


# ---------------- k-means and the self-organising map ----------------
def _data_trace(x: np.ndarray, labels: np.ndarray) -> go.Scatter:
    colors = [CLASS_COLORS[int(k) % len(CLASS_COLORS)] for k in labels]
    return go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name="data", opacity=0.55,
                      marker=dict(color=colors, size=5), hovertemplate="(%{x:.2f}, %{y:.2f})<extra>data</extra>")


def _square_axes(fig: go.Figure, x: np.ndarray, title: str, height: int) -> go.Figure:
    lo, hi = np.minimum(x.min(0), -1) - 0.5, np.maximum(x.max(0), 1) + 0.5
    fig.update_layout(height=height, title=dict(text=title, x=0.01, y=0.98, font=dict(size=14)),
                      margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.45), uirevision=title)
    fig.update_xaxes(range=[lo[0], hi[0]], title_text="x₁", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[lo[1], hi[1]], title_text="x₂", showgrid=False, zeroline=False, scaleanchor="x",
                     scaleratio=1)
    return fig


def kmeans_figure(x: np.ndarray, labels: np.ndarray, centres: np.ndarray, qe: float, height: int = 420) -> go.Figure:
    """The points, each centre (✕) and the cells: every point of the plane goes to its nearest centre."""
    lo, hi = np.minimum(x.min(0), -1) - 0.5, np.maximum(x.max(0), 1) + 0.5
    gx, gy = np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200)
    px_, py_ = np.meshgrid(gx, gy)
    grid = np.stack([px_.ravel(), py_.ravel()], 1)
    cell = ((grid[:, None] - centres[None]) ** 2).sum(-1).argmin(1).reshape(200, 200)
    # cell borders: where the nearest centre changes from one pixel to the next
    border = np.zeros_like(cell, dtype=float)
    border[:, 1:] += cell[:, 1:] != cell[:, :-1]
    border[1:, :] += cell[1:, :] != cell[:-1, :]
    fig = go.Figure(go.Heatmap(x=gx, y=gy, z=np.where(border > 0, 1.0, np.nan), showscale=False, hoverinfo="skip",
                               colorscale=[[0, "#bbbbbb"], [1, "#bbbbbb"]]))
    fig.add_trace(_data_trace(x, labels))
    fig.add_trace(go.Scatter(x=centres[:, 0], y=centres[:, 1], mode="markers", name="centres",
                             marker=dict(symbol="x", size=9, color=INK),
                             hovertemplate="centre (%{x:.2f}, %{y:.2f})<extra></extra>"))
    return _square_axes(fig, x, f"k-means (scikit-learn), {len(centres)} centres — quantisation error {qe:.3f}", height)


def som_figure(x: np.ndarray, labels: np.ndarray, prototypes: np.ndarray, step: int, qe: float,
               height: int = 420) -> go.Figure:
    """The points and the map drawn over them: each prototype a dot, grid neighbours joined."""
    rows, cols, _ = prototypes.shape
    xs, ys = [], []
    for r in range(rows):
        xs += list(prototypes[r, :, 0]) + [None]
        ys += list(prototypes[r, :, 1]) + [None]
    for c in range(cols):
        xs += list(prototypes[:, c, 0]) + [None]
        ys += list(prototypes[:, c, 1]) + [None]
    fig = go.Figure(_data_trace(x, labels))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="map grid", line=dict(color=INK, width=1.2),
                             hoverinfo="skip"))
    flat = prototypes.reshape(-1, 2)
    rc = [f"unit ({r}, {c})" for r in range(rows) for c in range(cols)]
    fig.add_trace(go.Scatter(x=flat[:, 0], y=flat[:, 1], mode="markers", name="prototypes", text=rc,
                             marker=dict(size=6, color=INK), hovertemplate="%{text}<br>(%{x:.2f}, %{y:.2f})<extra></extra>"))
    return _square_axes(fig, x, f"Self-organising map {rows}×{cols}, step {step:,} — quantisation error {qe:.3f}",
                        height)


def schedule_figure(history: list[dict], kmeans_qe: float | None, height: int = 280) -> go.Figure:
    """Quantisation error (left) and neighbourhood radius (right, dotted) against the step."""
    steps = [h["step"] for h in history]
    fig = go.Figure(go.Scatter(x=steps, y=[h["quantisation_error"] for h in history], mode="lines+markers",
                               name="SOM quantisation error", line=dict(color=BLUE, width=2), marker=dict(size=4)))
    if kmeans_qe is not None:
        fig.add_hline(y=kmeans_qe, line=dict(color=INK, dash="dash", width=1), annotation_text="k-means",
                      annotation_position="top right")
    fig.add_trace(go.Scatter(x=steps, y=[h["radius"] for h in history], mode="lines", name="neighbourhood radius",
                             yaxis="y2", line=dict(color=ORANGE, width=2, dash="dot")))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
                      xaxis_title="step (points presented)", yaxis_title="quantisation error",
                      yaxis2=dict(title="radius (grid units)", overlaying="y", side="right", rangemode="tozero",
                                  showgrid=False),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", rangemode="tozero")
    return fig


def prototype_mosaic(prototypes: np.ndarray, title: str, height: int = 440) -> go.Figure:
    """(rows, cols, 64) prototypes as a mosaic of 8×8 images, one pixel of gap between them."""
    rows, cols, d = prototypes.shape
    side = int(round(np.sqrt(d)))
    if side * side != d:
        raise ValueError(f"prototypes must be square images (d = side²), got d = {d}")
    img = np.full((rows * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for r in range(rows):
        for c in range(cols):
            img[r * (side + 1): r * (side + 1) + side, c * (side + 1): c * (side + 1) + side] = \
                prototypes[r, c].reshape(side, side)
    fig = go.Figure(go.Heatmap(z=img, colorscale="Greys", zmin=0, zmax=1, showscale=False, hoverinfo="skip"))
    fig.update_layout(height=height, title=dict(text=title, x=0.01, y=0.98, font=dict(size=14)),
                      margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1)
    return fig


def transfer_figure(curve: dict, height: int = 360) -> go.Figure:
    """Test accuracy against labelled examples (log axis): mean of the draws, a band from the
    lowest to the highest, for the model from scratch and the head on frozen vectors."""
    sizes = curve["sizes"]
    fig = go.Figure()
    for key, name, color in (("scratch", "TF-IDF + logistic regression, from scratch", ORANGE),
                             ("pretrained", "logistic head on frozen MiniLM vectors", BLUE)):
        acc = np.asarray(curve[key])
        fig.add_trace(go.Scatter(x=list(sizes) + list(sizes)[::-1], y=list(acc.max(1)) + list(acc.min(1))[::-1],
                                 mode="lines", fill="toself", fillcolor=color, opacity=0.15, line=dict(width=0),
                                 hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=sizes, y=acc.mean(1), mode="lines+markers", name=name,
                                 line=dict(color=color, width=2.5),
                                 hovertemplate="%{x} examples: %{y:.1%}<extra>" + name + "</extra>"))
    fig.add_hline(y=curve["majority"], line=dict(color="#888888", dash="dash"),
                  annotation_text="always the majority class", annotation_position="bottom right")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
                      xaxis_title="labelled training examples (log scale)",
                      yaxis_title=f"test accuracy ({curve['n_test']} tweets)",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_xaxes(type="log", showgrid=True, gridcolor="#eeeeee", tickvals=sizes)
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", tickformat=".0%")
    return fig
