"""Figures of the Foundations page: activations, losses, one neuron, loss surfaces with
optimiser paths, the chain rule of one weight. Data in, plotly figure out, no st.*."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, DIVERGING, ORANGE

# One colour per activation / loss / optimiser, stable across the page's charts.
SERIES_COLORS = ["#0877bd", "#f59322", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
LOSS_COLORS = {"mse": "#2ca02c", "bce": BLUE, "hinge": ORANGE, "0-1": "#888888", "ce": BLUE, "gini": "#9467bd"}
OPTIMIZER_COLORS = {"sgd": "#333333", "momentum": BLUE, "rmsprop": "#2ca02c", "adam": ORANGE}
LOSS_LABELS = {"mse": "squared error (on σ(s))", "bce": "binary cross-entropy", "hinge": "hinge", "0-1": "0-1 (errors)"}
GRID = dict(showgrid=True, gridcolor="#eeeeee", zeroline=True, zerolinecolor="#bbbbbb")


def _layout(fig: go.Figure, height: int, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=11)))
    fig.update_xaxes(title_text=x_title, **GRID)
    fig.update_yaxes(title_text=y_title, **GRID)
    return fig


def activation_figure(curves: list, highlight: str | None = None, max_slope: float | None = 0.25,
                      threshold: float = 0.1, height: int = 430) -> go.Figure:
    """Each activation f (solid) and its derivative f' (dashed, same colour); the
    `highlight`ed one's saturated ranges (|f'| < threshold) shaded; a line at the
    sigmoid's largest slope."""
    fig = go.Figure()
    for i, c in enumerate(curves):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        width = 3 if c.name == highlight else 1.6
        fig.add_trace(go.Scatter(x=c.x, y=c.value, name=c.name, mode="lines", legendgroup=c.name,
                                 line=dict(color=color, width=width)))
        fig.add_trace(go.Scatter(x=c.x, y=c.derivative, name=f"{c.name}′", mode="lines", legendgroup=c.name,
                                 line=dict(color=color, width=width, dash="dash")))
        if c.name == highlight:
            for lo, hi in c.saturated:
                fig.add_vrect(x0=lo, x1=hi, fillcolor=color, opacity=0.12, line_width=0, layer="below")
    if max_slope is not None:
        fig.add_hline(y=max_slope, line=dict(color="#d62728", width=1, dash="dot"),
                      annotation_text=f"σ′ ≤ {max_slope:g}: the sigmoid's largest slope",
                      annotation_position="top left", annotation_font=dict(size=11, color="#d62728"))
    fig.add_hline(y=threshold, line=dict(color="#888888", width=1, dash="dot"),
                  annotation_text=f"saturation: |f′| < {threshold:g}", annotation_position="bottom right",
                  annotation_font=dict(size=11, color="#666666"))
    _layout(fig, height, "x (the neuron's input z)", "f(x), f′(x)")
    fig.update_yaxes(range=[-1.6, 2.6])
    return fig


def margin_loss_figure(margins: np.ndarray, losses: dict[str, np.ndarray], height: int = 360) -> go.Figure:
    """Loss of one point against its margin y·s (positive: the right side of the boundary)."""
    fig = go.Figure()
    for name, values in losses.items():
        fig.add_trace(go.Scatter(x=margins, y=values, name=LOSS_LABELS.get(name, name), mode="lines",
                                 line=dict(color=LOSS_COLORS.get(name, "#333333"), width=1.5 if name == "0-1" else 2.5,
                                           dash="dot" if name == "0-1" else "solid", shape="hv" if name == "0-1" else "linear")))
    fig.add_vline(x=0, line=dict(color="#999999", width=1))
    fig.add_annotation(x=-2.5, y=3.6, text="wrong side", showarrow=False, font=dict(color="#777777"))
    fig.add_annotation(x=2.5, y=3.6, text="right side", showarrow=False, font=dict(color="#777777"))
    _layout(fig, height, "margin m = y·s (y = ±1, s = the neuron's score)", "loss of one point")
    fig.update_yaxes(range=[-0.1, 4])
    return fig


def regularised_figure(weights: np.ndarray, objectives: dict[str, np.ndarray], l2: float, height: int = 360) -> go.Figure:
    """L(w) + l2/2·w² for one point at x = 1, with the minimum of each objective marked."""
    fig = go.Figure()
    # The minima of the losses sit close together, so each is named in the legend, not labelled on the plot.
    for name, values in objectives.items():
        color = LOSS_COLORS.get(name, "#333333")
        k = int(np.argmin(values))
        at_edge = k == len(values) - 1
        where = f"min beyond w = {weights[k]:.0f}" if at_edge else f"min at w = {weights[k]:.2f}"
        fig.add_trace(go.Scatter(x=weights, y=values, name=f"{LOSS_LABELS.get(name, name)} ({where})", mode="lines",
                                 line=dict(color=color, width=2.5), legendgroup=name))
        fig.add_trace(go.Scatter(x=[weights[k]], y=[values[k]], mode="markers", showlegend=False, legendgroup=name,
                                 marker=dict(color=color, size=10, symbol="triangle-right" if at_edge else "circle",
                                             line=dict(color="white", width=1)),
                                 hovertemplate=f"{name}: {where}<extra></extra>"))
    _layout(fig, height, "weight w (one point x = 1 of class 1: margin = w)", f"L(w) + {l2:g}/2 · w²")
    fig.update_yaxes(range=[-0.1, 3])
    return fig


def gini_ce_figure(p_true: np.ndarray, ce: np.ndarray, gini: np.ndarray, marker: dict | None = None,
                   height: int = 360) -> go.Figure:
    """Cross-entropy and Gini impurity of a 3-class prediction against p(true class)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=p_true, y=ce, name="cross-entropy −log p", mode="lines",
                             line=dict(color=LOSS_COLORS["ce"], width=2.5)))
    fig.add_trace(go.Scatter(x=p_true, y=gini, name="Gini impurity 1 − Σ p²", mode="lines",
                             line=dict(color=LOSS_COLORS["gini"], width=2.5)))
    if marker:
        fig.add_trace(go.Scatter(x=[marker["p"]] * 2, y=[marker["ce"], marker["gini"]], mode="markers",
                                 name="your prediction", marker=dict(color="#d62728", size=11, symbol="x")))
    _layout(fig, height, "p (probability given to the true class; the other two share 1 − p)", "loss")
    fig.update_yaxes(range=[-0.05, 3.2])
    fig.update_xaxes(range=[0, 1])
    return fig


def neuron_output_figure(grid: np.ndarray, activation: str, w: tuple[float, float], bias: float,
                         domain: float = 6.0, height: int = 420) -> go.Figure:
    """activation(w·x + b) over the plane, the line w·x + b = 0 and the weight vector."""
    res = grid.shape[0]
    axis = np.linspace(-domain, domain, res)
    if activation == "sigmoid":
        zmin, zmax = 0.0, 1.0
    else:
        scale = float(np.max(np.abs(grid))) or 1.0
        zmin, zmax = -scale, scale
    fig = go.Figure(go.Heatmap(x=axis, y=axis, z=grid, zmin=zmin, zmax=zmax, colorscale=DIVERGING,
                               colorbar=dict(thickness=10, title=dict(text="output")),
                               hovertemplate="x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>output %{z:.3f}<extra></extra>"))
    w1, w2 = w
    if abs(w2) > 1e-9 or abs(w1) > 1e-9:
        if abs(w2) >= abs(w1):
            xs = np.array([-domain, domain])
            ys = -(w1 * xs + bias) / w2
        else:
            ys = np.array([-domain, domain])
            xs = -(w2 * ys + bias) / w1
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="w·x + b = 0", line=dict(color="#222222", dash="dash")))
        norm = np.hypot(w1, w2)
        fig.add_annotation(x=2.5 * w1 / norm, y=2.5 * w2 / norm, ax=0, ay=0, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowwidth=2, arrowcolor="#222222", text="w", font=dict(size=13))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    fig.update_xaxes(range=[-domain, domain], constrain="domain", title_text="x₁", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-domain, domain], constrain="domain", scaleanchor="x", title_text="x₂", showgrid=False,
                     zeroline=False)
    return fig


def surface_figure(xs: np.ndarray, ys: np.ndarray, loss: np.ndarray, paths: list, axis_labels: tuple[str, str],
                   minimum: tuple[float, float] | None = None, height: int = 520) -> go.Figure:
    """Contours of the loss (coloured on a log scale, so a valley as deep as Rosenbrock's
    shows its floor) with each optimiser's path from the shared start."""
    shifted = np.log10(loss - loss.min() + 1e-3)
    fig = go.Figure(go.Contour(x=xs, y=ys, z=shifted, colorscale="Viridis", reversescale=True, ncontours=30,
                               customdata=loss, showscale=False, line=dict(width=0.5),
                               hovertemplate=f"{axis_labels[0]}=%{{x:.2f}}<br>{axis_labels[1]}=%{{y:.2f}}"
                                             "<br>loss %{customdata:.4g}<extra></extra>"))
    for path in paths:
        color = OPTIMIZER_COLORS.get(path.optimizer, "#333333")
        pts = path.points
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="lines+markers", name=path.optimizer
                                 + (" (diverged)" if path.diverged else ""),
                                 line=dict(color=color, width=2), marker=dict(size=4, color=color),
                                 hovertemplate=f"{path.optimizer} step %{{pointNumber}}<br>(%{{x:.3f}}, %{{y:.3f}})<extra></extra>"))
        fig.add_trace(go.Scatter(x=pts[-1:, 0], y=pts[-1:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                                 marker=dict(size=13, color=color, symbol="x" if path.diverged else "circle",
                                             line=dict(color="white", width=1.5))))
    if paths:
        start = paths[0].points[0]
        fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                                 marker=dict(size=13, color="white", symbol="square", line=dict(color="#222222", width=2))))
    if minimum is not None:
        fig.add_trace(go.Scatter(x=[minimum[0]], y=[minimum[1]], mode="markers", name="minimum",
                                 hovertemplate="minimum (%{x:.3f}, %{y:.3f})<extra></extra>",
                                 marker=dict(size=16, color="#d62728", symbol="star", line=dict(color="white", width=1))))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=11)))
    fig.update_xaxes(range=[xs[0], xs[-1]], title_text=axis_labels[0], showgrid=False)
    fig.update_yaxes(range=[ys[0], ys[-1]], title_text=axis_labels[1], showgrid=False)
    return fig


def path_loss_figure(paths: list, height: int = 300) -> go.Figure:
    """The full loss at each step of each path, on a log scale."""
    fig = go.Figure()
    floor = min(float(p.losses.min()) for p in paths) if paths else 0.0
    shown = []
    for path in paths:
        values = path.losses - min(floor, 0.0) + 1e-12  # a loss that goes negative (the saddle) is shifted
        shown.append(values)
        fig.add_trace(go.Scatter(y=values, mode="lines", name=path.optimizer,
                                 line=dict(color=OPTIMIZER_COLORS.get(path.optimizer, "#333333"), width=2)))
    _layout(fig, height, "step", "loss" + (f" − ({floor:.2g})" if floor < 0 else ""))
    fig.update_yaxes(type="log", **_log_ticks(np.concatenate(shown) if shown else np.ones(1)))
    return fig


def _log_ticks(values: np.ndarray) -> dict:
    """Ticks at 1, 2, 5 × 10^k within the data: plotly's own log ticks label minor steps
    with bare digits ("5 2 1 5 2"), which reads as nonsense over a short range."""
    values = values[np.isfinite(values) & (values > 0)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.1, 10.0)
    ticks = [m * 10.0 ** k for k in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
             for m in (1, 2, 5) if lo <= m * 10.0 ** k <= hi]
    if len(ticks) > 8:  # a long range: powers of ten only
        ticks = [t for t in ticks if f"{t:.0e}".startswith("1")]
    return dict(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def chain_figure(factor_names: list[str], per_point: np.ndarray, chain_rule: float, autograd: float,
                 finite_difference: float, height: int = 320) -> go.Figure:
    """Each point's share of ∂L/∂w (the product of its factors) and the three totals."""
    fig = go.Figure()
    colors = [BLUE if v >= 0 else ORANGE for v in per_point]
    fig.add_trace(go.Bar(x=[f"point {i}" for i in range(len(per_point))], y=per_point, marker_color=colors,
                         name="Π factors of one point", hovertemplate="%{x}: %{y:.3e}<extra></extra>"))
    for value, name, color, dash in ((chain_rule, "Σ chain rule", "#222222", "solid"),
                                     (autograd, "autograd", CLASS_COLORS[2], "dash"),
                                     (finite_difference, "finite difference", "#d62728", "dot")):
        fig.add_hline(y=value, line=dict(color=color, dash=dash, width=2))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{name} = {value:.4e}",
                                 line=dict(color=color, dash=dash, width=2)))
    _layout(fig, height, "points of the mini-batch", "contribution to ∂L/∂w")
    values = np.concatenate([per_point, [chain_rule, autograd, finite_difference, 0.0]])
    pad = 0.12 * (values.max() - values.min() or 1.0)
    fig.update_yaxes(range=[values.min() - pad, values.max() + pad])
    return fig
