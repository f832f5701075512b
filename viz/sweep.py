"""The spread view: loss curves of many variants of one experiment (16 seeds, or a sweep of
learning rates) trained at once by engine.mlp.batched_mlp.train_spread.

Seeds: every run a thin line, the median a thick one, the band from the best to the worst
run shaded: how much of a result is luck. Learning rates: one colour per rate, from light
(small) to dark (large), on a log loss axis: too small crawls, too large jumps or blows up.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, ORANGE

LR_COLORS = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b", "#f59322",
             "#d94801", "#a63603", "#7f2704", "#4d1a02"]


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", font=dict(size=11)))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", title="epoch")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def _lr_color(i: int, n: int) -> str:
    return LR_COLORS[round(i * (len(LR_COLORS) - 1) / max(n - 1, 1))]


def spread_figure(result, which: str = "train", height: int = 320) -> go.Figure:
    """Loss curves of every variant of a SpreadResult; which: "train" or "test"."""
    if which not in ("train", "test"):
        raise ValueError(f"which must be 'train' or 'test', got {which!r}")
    curves = np.asarray(result.train_loss if which == "train" else result.test_loss, dtype=np.float64)
    x = np.asarray(result.epochs, dtype=np.float64)
    if curves.ndim != 2 or curves.shape != (len(result.labels), len(x)):
        raise ValueError(f"losses must be (variants, points) = ({len(result.labels)}, {len(x)}), got {curves.shape}")
    fig = go.Figure()
    name = f"{which} loss"
    if result.varied == "seed":
        with np.errstate(all="ignore"):
            finite = np.where(np.isfinite(curves), curves, np.nan)
            lo, mid, hi = np.nanmin(finite, 0), np.nanmedian(finite, 0), np.nanmax(finite, 0)
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                                 fillcolor="rgba(8,119,189,0.15)", line=dict(width=0), hoverinfo="skip",
                                 name="best to worst seed"))
        for label, curve in zip(result.labels, curves):
            fig.add_trace(go.Scatter(x=x, y=curve, mode="lines", line=dict(color=BLUE, width=1), opacity=0.35,
                                     name=label, showlegend=False,
                                     hovertemplate=f"{label}<br>epoch %{{x:.2f}}<br>{name} %{{y:.4f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=mid, mode="lines", line=dict(color=ORANGE, width=3), name="median seed",
                                 hovertemplate=f"median<br>epoch %{{x:.2f}}<br>{name} %{{y:.4f}}<extra></extra>"))
        fig.update_yaxes(title=name)
    else:
        n = len(result.labels)
        for i, (label, curve) in enumerate(zip(result.labels, curves)):
            fig.add_trace(go.Scatter(x=x, y=curve, mode="lines", line=dict(color=_lr_color(i, n), width=2),
                                     name=label,
                                     hovertemplate=f"{label}<br>epoch %{{x:.2f}}<br>{name} %{{y:.4f}}<extra></extra>"))
        fig.update_yaxes(title=f"{name} (log scale)", type="log")
    return _layout(fig, height)


def final_loss_figure(result, height: int = 260) -> go.Figure:
    """Final train loss of each variant against the varied value (log x for learning rates)."""
    values = np.asarray(result.values, dtype=np.float64)
    final = np.asarray(result.train_loss, dtype=np.float64)[:, -1]
    diverged = ~np.isfinite(final)
    shown = np.where(diverged, np.nan, final)
    fig = go.Figure(go.Scatter(x=values, y=shown, mode="markers+lines" if result.varied == "lr" else "markers",
                               marker=dict(color=BLUE, size=9), line=dict(color=BLUE, width=1), name="final train loss",
                               hovertemplate="%{x:g}: train loss %{y:.4f}<extra></extra>"))
    if diverged.any():
        top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
        fig.add_trace(go.Scatter(x=values[diverged], y=np.full(int(diverged.sum()), top), mode="markers",
                                 marker=dict(color="#d62728", symbol="x", size=11), name="diverged (NaN/inf)"))
    fig = _layout(fig, height)
    fig.update_xaxes(title="learning rate (log scale)" if result.varied == "lr" else "seed",
                     type="log" if result.varied == "lr" else "linear")
    fig.update_yaxes(title="final train loss")
    return fig


def spread_caption(result) -> str:
    """One sentence that says what the spread shows."""
    final = np.asarray(result.train_loss, dtype=np.float64)[:, -1]
    ok = np.isfinite(final)
    n, epochs = len(final), result.epochs[-1]
    lost = f" {int((~ok).sum())} diverged (loss NaN/inf)." if (~ok).any() else ""
    if not ok.any():
        return f"All {n} runs diverged within {epochs:g} epochs: try smaller learning rates."
    if result.varied == "seed":
        lo, hi, med = final[ok].min(), final[ok].max(), np.median(final[ok])
        return (f"{n} seeds, {epochs:g} epochs each: final train loss from {lo:.3f} to {hi:.3f} (median {med:.3f}). "
                "The band is what chance alone (initial weights, batch order) does to the same network." + lost)
    best = int(np.nanargmin(np.where(ok, final, np.nan)))
    return (f"{n} learning rates, {epochs:g} epochs each: {result.labels[best]} ends lowest ({final[best]:.3f}). "
            "Too small crawls; too large jumps around or blows up." + lost)
