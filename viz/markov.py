"""Figures of the Markov chain baseline on the Sequence models page: its held-out bits per character
as a line on the networks' loss chart, the order-1 transition matrix among the most frequent
characters, and held-out against training bits per character for each order."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, ORANGE
from .sequence import char_label

MARKOV_COLOR = "#444444"  # dark grey: the reference line, apart from the networks' colours


def _layout(fig: go.Figure, height: int) -> go.Figure:
    """The Sequence page's look: white plot, light grid, legend above."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", font=dict(size=11)))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def add_markov_line(fig: go.Figure, label: str, steps: list[float], bits: list[float]) -> go.Figure:
    """The chain's held-out bits per character against the networks' step, drawn dashed on `fig`
    (the loss chart of viz.sequence.loss_figure, whose left axis is bits per character)."""
    if len(steps) != len(bits):
        raise ValueError(f"steps and bits must be the same length, got {len(steps)} and {len(bits)}")
    fig.add_trace(go.Scatter(x=list(steps), y=list(bits), mode="lines", name=label, legendgroup="markov",
                             line=dict(color=MARKOV_COLOR, width=2, dash="dash"),
                             hovertemplate="step %{x:.0f}: %{y:.2f} bits/char held out<extra>"
                                           + html.escape(label) + "</extra>"))
    return fig


def transition_figure(chars: list[str], probs: np.ndarray, height: int = 460) -> go.Figure:
    """p(next | previous) as a heatmap: row = the character read, column = the one that follows.
    probs (n, n) for the n characters of `chars`, in that order."""
    p = np.asarray(probs, dtype=np.float64)
    n = len(chars)
    if p.shape != (n, n):
        raise ValueError(f"probs must be (characters, characters) = ({n}, {n}), got {p.shape}")
    labels = [f"{char_label(c)} " for c in chars]  # the space keeps plotly from reading "1" as a number
    custom = [[(labels[i].strip(), labels[j].strip()) for j in range(n)] for i in range(n)]
    fig = go.Figure(go.Heatmap(z=p, x=labels, y=labels, zmin=0, zmax=max(float(p.max(initial=0)), 1e-9),
                               colorscale="Blues", customdata=custom,
                               colorbar=dict(title=dict(text="p(next)", side="right"), thickness=10),
                               hovertemplate="after %{customdata[0]}: %{customdata[1]} with p = %{z:.3f}"
                                             "<extra></extra>"))
    fig.update_xaxes(type="category", title="next character", side="top", tickangle=0, tickfont=dict(size=13),
                     showgrid=False)
    fig.update_yaxes(type="category", title="character read", autorange="reversed", tickfont=dict(size=13),
                     showgrid=False)
    return _layout(fig, height).update_layout(margin=dict(l=10, r=10, t=50, b=10), uirevision="markov_matrix")


def order_figure(orders: list[int], test: list[float], train: list[float], height: int = 300) -> go.Figure:
    """Held-out and training bits per character of each order, the whole training text counted:
    the held-out line turns up where longer contexts are too rare to have been seen (memorising)."""
    if not len(orders) == len(test) == len(train):
        raise ValueError("orders, test and train must be the same length")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=orders, y=test, mode="lines+markers", name="held out", line=dict(color=ORANGE, width=2),
                             hovertemplate="order %{x}: %{y:.2f} bits/char held out<extra></extra>"))
    fig.add_trace(go.Scatter(x=orders, y=train, mode="lines+markers", name="training text",
                             line=dict(color=BLUE, width=2, dash="dot"),
                             hovertemplate="order %{x}: %{y:.2f} bits/char on its training text<extra></extra>"))
    fig.update_xaxes(title="order (characters of context)", tickvals=orders)
    fig.update_yaxes(title="bits per character", rangemode="tozero")
    return _layout(fig, height).update_layout(uirevision="markov_orders")
