"""Figures of the Sequence models page: loss and bits per character of several models on one
chart, gradient through time, a Transformer's attention per layer and head with the causal
mask, and a recurrent network's hidden units over the characters of a typed string.

Characters become axis labels through `char_label`: whitespace is made visible and
`<`, `>` and `&` are escaped, because plotly reads a few HTML tags in its text."""
from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colors import BLUE, DIVERGING, ORANGE

ARCH_COLORS = {"rnn": "#d62728", "lstm": BLUE, "gru": "#2ca02c", "transformer": ORANGE}
EXTRA_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#17becf"]
MASKED = "#d9d9d9"  # cells the causal mask hides
LN2 = math.log(2.0)
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def model_colors(archs: list[str]) -> list[str]:
    """One colour per model: its architecture's, or another one when that is taken."""
    used, out, spare = set(), [], iter(EXTRA_COLORS * 3)
    for a in archs:
        c = ARCH_COLORS.get(a, "#7f7f7f")
        if c in used:
            c = next(spare)
        used.add(c)
        out.append(c)
    return out


def char_label(c: str) -> str:
    """A character as plotly shows it safely: visible whitespace, HTML escaped."""
    return html.escape(VISIBLE.get(c, c), quote=False)  # plotly decodes &lt; &gt; &amp;, not &quot;


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", font=dict(size=11)))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` steps, NaN-aware (a stopped model's NaNs stay NaN)."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) == 0:
        return v
    ok = np.isfinite(v)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    n = np.concatenate([[0], np.cumsum(ok)])
    lo = np.maximum(np.arange(1, len(v) + 1) - window, 0)
    count = n[1:] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[1:] - c[lo]) / count
    out[~ok] = np.nan
    return out


def loss_figure(labels: list[str], archs: list[str], batch_losses: np.ndarray, val_steps: list[int],
                val_losses: list[list[float | None]], height: int = 360, max_points: int = 800) -> go.Figure:
    """Training loss (batch losses, smoothed, solid) and held-out loss (dotted) of every model
    against the step, in bits per character (left axis) and nats (right axis, the same curve).

    batch_losses (steps, models) in nats, step 1 first; val_losses one list per val step."""
    losses = np.asarray(batch_losses, dtype=np.float64)
    if losses.ndim != 2 or losses.shape[1] != len(labels):
        raise ValueError(f"batch_losses must be (steps, {len(labels)} models), got {losses.shape}")
    colors = model_colors(archs)
    fig = go.Figure()
    steps = np.arange(1, len(losses) + 1)
    window = max(1, len(losses) // 40)
    keep = np.unique(np.linspace(0, len(losses) - 1, min(len(losses), max_points)).round().astype(int))
    top = 0.0
    for i, label in enumerate(labels):
        y = smooth(losses[:, i], window)[keep] / LN2 if len(losses) else np.zeros(0)
        fig.add_trace(go.Scatter(x=steps[keep] if len(losses) else [], y=y, mode="lines", name=f"{label} (train)",
                                 line=dict(color=colors[i], width=2), legendgroup=label,
                                 hovertemplate="step %{x}: %{y:.2f} bits/char<extra>" + html.escape(label) + "</extra>"))
        vs = [(s, v[i] / LN2) for s, v in zip(val_steps, val_losses) if v[i] is not None and math.isfinite(v[i])]
        if vs:
            fig.add_trace(go.Scatter(x=[s for s, _ in vs], y=[v for _, v in vs], mode="lines",
                                     name=f"{label} (held out)", legendgroup=label,
                                     line=dict(color=colors[i], width=1.5, dash="dot"),
                                     hovertemplate="step %{x}: %{y:.2f} bits/char held out<extra>"
                                                   + html.escape(label) + "</extra>"))
            top = max(top, max(v for _, v in vs[len(vs) // 10:]))
        finite = y[np.isfinite(y)]
        top = max(top, float(finite[len(finite) // 10:].max()) if len(finite) > 1 else 0.0)
    top = (top or 8.0) * 1.08
    # the right axis shows the same curves in nats: an invisible trace pins it to the same range
    fig.add_trace(go.Scatter(x=[1], y=[0], yaxis="y2", showlegend=False, hoverinfo="skip", opacity=0))
    _layout(fig, height)
    fig.update_layout(
        xaxis=dict(title="step", rangemode="tozero"),
        yaxis=dict(title="bits per character", range=[0, top]),
        yaxis2=dict(title="loss (nats per character)", overlaying="y", side="right", range=[0, top * LN2],
                    showgrid=False),
        uirevision="loss")
    return fig


def gradient_time_figure(labels: list[str], archs: list[str], curves: list[np.ndarray],
                         height: int = 340) -> go.Figure:
    """‖∂loss(last position)/∂x_t‖ against how many characters before the last one t is, on a
    log axis: a falling line is a model forgetting, a flat one a model that looks back."""
    fig = go.Figure()
    colors = model_colors(archs)
    for i, (label, curve) in enumerate(zip(labels, curves)):
        curve = np.asarray(curve, dtype=np.float64)
        if curve.ndim != 1:
            raise ValueError(f"each curve is one norm per position (T,), got {curve.shape} for {label!r}")
        back = np.arange(len(curve))[::-1]  # position T-1 is 0 characters back
        fig.add_trace(go.Scatter(x=back, y=np.clip(curve, 1e-30, None), mode="lines+markers", name=label,
                                 line=dict(color=colors[i], width=2), marker=dict(size=4),
                                 hovertemplate="%{x} characters back: %{y:.2e}<extra>" + html.escape(label)
                                               + "</extra>"))
    fig.update_yaxes(type="log", title="‖∂loss / ∂input‖ (log)", exponentformat="power")
    fig.update_xaxes(title="characters before the predicted one (0 = the last input)", rangemode="tozero")
    return _layout(fig, height).update_layout(uirevision="gtt")


def attention_figure(weights: np.ndarray, chars: str, height_per_row: int = 250) -> go.Figure:
    """A grid of heatmaps, one row per layer and one column per head: row t (the character
    being predicted from) against column s (the character it reads). Cells above the
    diagonal are the causal mask, drawn grey. weights (layers, heads, T, T)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] != len(chars):
        raise ValueError(f"weights must be (layers, heads, T, T) with T = {len(chars)} characters, got {w.shape}")
    L, h, T, _ = w.shape
    fig = make_subplots(rows=L, cols=h, subplot_titles=[f"layer {l + 1}, head {k + 1}" for l in range(L)
                                                        for k in range(h)],
                        horizontal_spacing=0.02, vertical_spacing=0.12 / max(1, L - 1) if L > 1 else 0.1)
    labels = [char_label(c) for c in chars]
    masked = np.triu(np.ones((T, T), dtype=bool), k=1)
    for l in range(L):
        for k in range(h):
            z = np.where(masked, np.nan, w[l, k])  # NaN shows the background: the mask
            fig.add_trace(go.Heatmap(z=z, x=list(range(T)), y=list(range(T)), zmin=0, zmax=1, colorscale="Blues",
                                     showscale=(l == 0 and k == h - 1),
                                     colorbar=dict(title=dict(text="weight", side="right"), thickness=10, len=0.6),
                                     hovertemplate="character %{y} reads character %{x}: %{z:.2f}<extra></extra>"),
                          row=l + 1, col=k + 1)
    step = max(1, math.ceil(T / 24))
    ticks = list(range(0, T, step))
    fig.update_xaxes(tickvals=ticks, ticktext=[labels[i] for i in ticks], tickangle=0, showgrid=False,
                     tickfont=dict(size=10))
    fig.update_yaxes(tickvals=ticks, ticktext=[labels[i] for i in ticks], autorange="reversed", showgrid=False,
                     tickfont=dict(size=10))
    for k in range(2, h + 1):  # the rows are the same characters in every head: label them once, on the left
        fig.update_yaxes(showticklabels=False, col=k)
    fig.update_layout(height=height_per_row * L + 30, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor=MASKED,
                      uirevision="attention")
    fig.update_annotations(font=dict(size=11))
    return fig


def hidden_state_figure(states: np.ndarray, chars: str, max_units: int = 32, height: int | None = None) -> go.Figure:
    """Hidden units (rows) over the characters of a string (columns), orange -1 … blue +1.
    With more than max_units units, the ones that vary most along the string are shown."""
    s = np.asarray(states, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != len(chars):
        raise ValueError(f"states must be (T, units) with T = {len(chars)} characters, got {s.shape}")
    units = np.arange(s.shape[1])
    if s.shape[1] > max_units:
        units = np.sort(np.argsort(-s.std(axis=0), kind="stable")[:max_units])
    z = s[:, units].T  # (units shown, T)
    labels = [char_label(c) for c in chars]
    T = len(chars)
    fig = go.Figure(go.Heatmap(z=z, x=list(range(T)), y=[f"unit {u}" for u in units], zmin=-1, zmax=1,
                               colorscale=DIVERGING,
                               colorbar=dict(title=dict(text="h", side="right"), thickness=10),
                               hovertemplate="%{y} after character %{x}: %{z:.2f}<extra></extra>"))
    step = max(1, math.ceil(T / 60))
    ticks = list(range(0, T, step))
    fig.update_xaxes(tickvals=ticks, ticktext=[labels[i] for i in ticks], tickangle=0, showgrid=False,
                     title="character read")
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, tickfont=dict(size=9))
    return _layout(fig, height or max(260, 14 * len(units) + 80)).update_layout(uirevision="hidden")
