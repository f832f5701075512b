"""Figures of the Vanishing gradients page: gradient norms per layer and step (heatmap, log
colour), norms against depth for several networks (log axis), activation distributions per
layer with the saturated fraction, and loss curves of several runs."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, ORANGE

RUN_COLORS = ["#d62728", BLUE, "#2ca02c", ORANGE, "#9467bd", "#8c564b"]
FLOOR = 1e-30  # log10 of an exact zero (a dead layer, or no step yet) is drawn at this floor


def _log10(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.log10(np.clip(np.nan_to_num(v, nan=FLOOR, posinf=1e30), FLOOR, None))


def _layout(fig: go.Figure, height: int, title: str | None) -> go.Figure:
    """Shared style. The page writes its headings above the charts (title=None): a plotly
    title and a legend that wraps to two lines would overlap in the top margin."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), plot_bgcolor="white",
                      title=dict(text=title, font=dict(size=14), x=0, xanchor="left") if title else None,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", font=dict(size=11)))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def grad_heatmap_figure(steps: np.ndarray, norms: np.ndarray, layer_names: list[str], max_columns: int = 400,
                        height: int = 360, title: str | None = None) -> go.Figure:
    """Layer (rows, input at the bottom) × step (columns) heatmap of log10 weight-gradient norms.

    steps (S,), norms (S, layers). More than max_columns steps are thinned evenly (the last
    step always kept) so the browser draws a few hundred columns, not thousands."""
    norms = np.asarray(norms)
    if norms.ndim != 2 or norms.shape[1] != len(layer_names) or len(steps) != norms.shape[0]:
        raise ValueError(f"norms must be (steps, layers) = ({len(steps)}, {len(layer_names)}), got {norms.shape}")
    if len(steps) > max_columns:
        keep = np.unique(np.linspace(0, len(steps) - 1, max_columns).round().astype(int))
        steps, norms = np.asarray(steps)[keep], norms[keep]
    z = _log10(norms).T  # (layers, S)
    labels = [n.replace("hidden", "layer ") for n in layer_names]
    finite = z[z > np.log10(FLOOR)]
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (-8.0, 0.0)
    if zmax - zmin < 1:
        zmin, zmax = zmin - 0.5, zmax + 0.5
    ticks = np.arange(np.ceil(zmin), np.floor(zmax) + 1, max(1, int(np.ceil((zmax - zmin) / 6))))
    fig = go.Figure(go.Heatmap(
        x=np.asarray(steps), y=labels, z=z, zmin=zmin, zmax=zmax, colorscale="Viridis",
        customdata=np.asarray(norms).T,
        hovertemplate="%{y}, step %{x}<br>‖∇W‖ = %{customdata:.3g}<extra></extra>",
        colorbar=dict(title=dict(text="‖∇W‖", side="right"), thickness=12,
                      tickvals=list(ticks), ticktext=[f"1e{int(t)}" for t in ticks])))
    fig.update_yaxes(title="layer (input at the bottom)", showticklabels=len(labels) <= 30,
                     type="category")
    fig.update_xaxes(title="step")
    return _layout(fig, height, title).update_layout(uirevision="heatmap")


def norms_by_depth_figure(series: list[tuple[str, np.ndarray]], height: int = 380,
                          title: str | None = None) -> go.Figure:
    """One line per network: the weight-gradient norm of hidden layer 1..N and the output
    layer (drawn at N + 1), on a log axis — the picture that separates sigmoid, ReLU and skips."""
    fig = go.Figure()
    for i, (label, norms) in enumerate(series):
        norms = np.asarray(norms, dtype=np.float64)
        if norms.ndim != 1:
            raise ValueError(f"each series is one norm per layer (layers,), got shape {norms.shape} for {label!r}")
        depth = np.arange(1, len(norms) + 1)
        text = [f"layer {d}" for d in depth[:-1]] + ["output"]
        fig.add_trace(go.Scatter(x=depth, y=np.clip(np.nan_to_num(norms, nan=FLOOR, posinf=1e30), FLOOR, None),
                                 mode="lines+markers", name=label, text=text,
                                 line=dict(color=RUN_COLORS[i % len(RUN_COLORS)], width=2), marker=dict(size=4),
                                 hovertemplate="%{text}: %{y:.3g}<extra>" + label + "</extra>"))
    fig.update_yaxes(type="log", title="‖∇W‖ (log scale)", exponentformat="power")
    fig.update_xaxes(title="layer (1 = next to the input; last = output)", rangemode="tozero")
    return _layout(fig, height, title).update_layout(uirevision="depth")


def activation_figure(quantiles: np.ndarray, saturated: np.ndarray, activation: str, height: int = 360,
                      title: str | None = None) -> go.Figure:
    """Box per hidden layer from precomputed quantiles (layers, 5) = 1/25/50/75/99 %, as in
    Glorot & Bengio (2010)'s figures, with the fraction of saturated units as bars (right axis)."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    if quantiles.ndim != 2 or quantiles.shape[1] != 5 or len(saturated) != len(quantiles):
        raise ValueError(f"quantiles must be (layers, 5) and saturated (layers,), got {quantiles.shape} "
                         f"and {np.shape(saturated)}")
    layers = np.arange(1, len(quantiles) + 1)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=layers, y=saturated, name="saturated fraction", yaxis="y2", marker_color="#d62728",
                         opacity=0.25, hovertemplate="layer %{x}: %{y:.0%} saturated<extra></extra>"))
    fig.add_trace(go.Box(x=layers, q1=quantiles[:, 1], median=quantiles[:, 2], q3=quantiles[:, 3],
                         lowerfence=quantiles[:, 0], upperfence=quantiles[:, 4], name=f"{activation} output",
                         marker_color=BLUE, line=dict(width=1), fillcolor="rgba(8,119,189,0.35)"))
    _layout(fig, height, title)  # first: it styles every axis, the right one is restyled below
    fig.update_layout(yaxis=dict(title="activation (1–99 %)"), xaxis=dict(title="hidden layer"), bargap=0.3,
                      yaxis2=dict(title="saturated", overlaying="y", side="right", range=[0, 1.02],
                                  tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1], showgrid=False),
                      uirevision="activations")
    return fig


def loss_curves_figure(series: list[tuple[str, list[dict]]], height: int = 300, title: str | None = None) -> go.Figure:
    """Train loss against step for each run; history entries as Trainer.history."""
    fig = go.Figure()
    for i, (label, history) in enumerate(series):
        if len(history) > 1500:  # keep the browser fast on long runs: thin out, keep the last point
            history = history[:: len(history) // 1000] + history[-1:]
        fig.add_trace(go.Scatter(x=[h["step"] for h in history], y=[h["train_loss"] for h in history],
                                 mode="lines" if len(history) > 20 else "lines+markers", name=label, line=dict(color=RUN_COLORS[i % len(RUN_COLORS)], width=2)))
    fig.update_xaxes(title="step", rangemode="tozero")
    # Log axis: a badly scaled deep network can start at a loss of 50 while the others sit near 0.7.
    fig.update_yaxes(title="train loss (log scale)", type="log", exponentformat="power")
    return _layout(fig, height, title).update_layout(uirevision="loss")
