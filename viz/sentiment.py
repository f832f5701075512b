"""Figures of the Sentiment lab: class balance per split, train/validation curves, the test
confusion matrix and per-class precision/recall, class probabilities of a typed sentence,
the words that pushed the decision (chart and highlighted text, escaped), and the n-grams that
won the text CNN's filters.

Class names and words come from the user (an uploaded CSV, a typed sentence). Plotly draws
its labels from a subset of HTML (<b>, <a href>, <br>, <span style>) and TeX between $...$:
every such text goes through plotly_text first, so it shows as written."""
from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, ORANGE

NEUTRAL_GREY = "#9e9e9e"
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
TRAIN_COLOR, VAL_COLOR = BLUE, "#d62728"


def plotly_text(text: str) -> str:
    """`text` for a Plotly label (a category, a legend entry, an axis title, a hover): `&`,
    `<`, `>` and `$` as entities, which Plotly turns back into the characters, so no tag, link
    or formula is made of them."""
    return html.escape(str(text), quote=False).replace("$", "&#36;")


def class_colors(class_names: list[str]) -> list[str]:
    """negative orange, positive blue, neutral grey (the house colours); other labels in palette order."""
    fixed = {"negative": ORANGE, "positive": BLUE, "neutral": NEUTRAL_GREY}
    return [fixed.get(c.lower(), CLASS_COLORS[i % len(CLASS_COLORS)]) for i, c in enumerate(class_names)]


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", font=dict(size=11)))
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", automargin=True)
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", automargin=True)
    return fig


def class_balance_figure(class_names: list[str], counts: dict[str, list[int]], height: int = 220) -> go.Figure:
    """Stacked bars: rows of each class in each split (counts: split -> per-class counts)."""
    splits = [s for s in ("train", "val", "test") if s in counts]
    fig = go.Figure()
    for i, (name, color) in enumerate(zip(class_names, class_colors(class_names))):
        values = [counts[s][i] for s in splits]
        totals = [max(1, sum(counts[s])) for s in splits]
        fig.add_bar(y=[SPLIT_NAMES[s] for s in splits], x=values, name=plotly_text(name), orientation="h",
                    marker_color=color, text=[f"{v / t:.0%}" for v, t in zip(values, totals)], textposition="inside",
                    textangle=0, insidetextanchor="middle",
                    hovertemplate="%{fullData.name}, %{y}: %{x:,} rows<extra></extra>")
    # labels that do not fit inside a thin bar are hidden rather than squeezed
    fig.update_layout(barmode="stack", uniformtext=dict(minsize=10, mode="hide"), legend_traceorder="normal")
    fig.update_xaxes(title="rows")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height)


def curves_figure(history: list[dict], metric: str = "loss", baseline: float | None = None,
                  height: int = 300) -> go.Figure:
    """Training and validation `metric` ("loss" or "accuracy") against epochs; the best
    validation loss marked; the majority-class accuracy as a dashed line."""
    epochs = [h["epoch"] for h in history]
    fig = go.Figure()
    for split, color, label in (("train", TRAIN_COLOR, "training"), ("val", VAL_COLOR, "validation")):
        fig.add_scatter(x=epochs, y=[h[f"{split}_{metric}"] for h in history], mode="lines+markers", name=label,
                        line=dict(color=color, width=2), marker=dict(size=5),
                        hovertemplate=f"{label}, epoch %{{x:.2f}}: %{{y:.3f}}<extra></extra>")
    if metric == "loss" and history:
        best = int(np.argmin([h["val_loss"] for h in history]))
        fig.add_scatter(x=[epochs[best]], y=[history[best]["val_loss"]], mode="markers", name="best validation",
                        marker=dict(symbol="star", size=13, color=VAL_COLOR, line=dict(color="black", width=1)),
                        hovertemplate="best validation loss %{y:.3f} at epoch %{x:.2f}<extra></extra>")
    if metric == "accuracy" and baseline is not None:
        fig.add_hline(y=baseline, line=dict(color="#555555", dash="dash", width=1),
                      annotation_text=f"always the most frequent class: {baseline:.0%}",
                      annotation_position="bottom right", annotation_font_size=11)
    fig.update_xaxes(title="epoch", rangemode="tozero")
    fig.update_yaxes(title="accuracy" if metric == "accuracy" else "loss", rangemode="tozero",
                     tickformat=".0%" if metric == "accuracy" else None)
    return _layout(fig, height).update_layout(uirevision=metric)


def confusion_figure(confusion: list[list[int]], class_names: list[str], height: int = 320) -> go.Figure:
    """Rows: the true class; columns: the predicted one. Colour: the share of the row (recall
    on the diagonal), so a small class's mistakes show as clearly as a large one's."""
    cm = np.asarray(confusion, dtype=float)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion must be (classes, classes) = ({k}, {k}), got {cm.shape}")
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    text = [[f"{int(cm[i, j]):,}<br>{share[i, j]:.0%}" for j in range(k)] for i in range(k)]
    names = [plotly_text(c) for c in class_names]
    fig = go.Figure(go.Heatmap(
        z=share, x=names, y=names, zmin=0, zmax=1, colorscale="Blues", text=text,
        texttemplate="%{text}", textfont=dict(size=13), customdata=cm,
        hovertemplate="true %{y}, predicted %{x}: %{customdata:,} (%{z:.0%} of the row)<extra></extra>",
        colorbar=dict(title=dict(text="share of row", side="right"), thickness=12, tickformat=".0%")))
    fig.update_xaxes(title="predicted class", side="bottom", type="category", showgrid=False)
    fig.update_yaxes(title="true class", autorange="reversed", type="category", showgrid=False)
    return _layout(fig, height)


def per_class_figure(report: dict, height: int = 300) -> go.Figure:
    """Precision, recall and F1 of each class as grouped bars."""
    classes = [plotly_text(c) for c in report["classes"]]
    fig = go.Figure()
    for key, color in (("precision", "#4c78a8"), ("recall", "#f58518"), ("f1", "#54a24b")):
        fig.add_bar(x=classes, y=report[key], name=key if key != "f1" else "F1", marker_color=color,
                    text=[f"{v:.2f}" for v in report[key]], textposition="outside",
                    hovertemplate=f"%{{x}}: {key} %{{y:.3f}}<extra></extra>")
    fig.update_yaxes(title="score", range=[0, 1.12])
    fig.update_xaxes(title="class", type="category")
    return _layout(fig, height)


def probabilities_figure(probabilities: list[float], class_names: list[str], height: int = 180) -> go.Figure:
    fig = go.Figure(go.Bar(x=probabilities, y=[plotly_text(c) for c in class_names], orientation="h",
                           marker_color=class_colors(class_names),
                           text=[f"{p:.1%}" for p in probabilities], textposition="auto",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_xaxes(title="probability", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, height)


def attribution_figure(tokens: list[str], scores: list[float | None], target_name: str, top: int = 15,
                       height: int | None = None) -> go.Figure:
    """The words with the largest contributions, for (blue) or against (orange) the class."""
    pairs = [(t, s) for t, s in zip(tokens, scores) if s is not None and math.isfinite(s)]
    pairs = sorted(pairs, key=lambda p: -abs(p[1]))[:top][::-1]
    # a zero-width space per position keeps repeated words apart as bars
    labels = [f"{plotly_text(t)} " + "\u200b" * i for i, (t, _) in enumerate(pairs)]
    values = [s for _, s in pairs]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h",
                           marker_color=[BLUE if v >= 0 else ORANGE for v in values],
                           hovertemplate="%{y}: %{x:+.3f}<extra></extra>"))
    fig.update_xaxes(title=f"contribution to “{plotly_text(target_name)}” (logit difference)", zeroline=True,
                     zerolinecolor="#888888")
    fig.update_yaxes(type="category")
    return _layout(fig, height or max(160, 28 * len(pairs) + 80))


def ngram_figure(top: list[dict], target_name: str, height: int | None = None) -> go.Figure:
    """The text CNN's strongest filters (rows of engine.sentiment.textcnn.top_ngrams' "top"): the
    n-gram that gave each its maximum, its width and number, and its push for (blue) or against
    (orange) the class; the strongest at the top."""
    rows = top[::-1]
    labels = [f"{plotly_text(r['text'])}{' ·' * r['padding']}  (w{r['width']} #{r['filter']})" for r in rows]
    values = [r["push"] for r in rows]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h",
                           marker_color=[BLUE if v >= 0 else ORANGE for v in values],
                           customdata=[r["activation"] for r in rows],
                           hovertemplate="%{y}: push %{x:+.3f}, activation %{customdata:.3f}<extra></extra>"))
    fig.update_xaxes(title=f"push toward “{plotly_text(target_name)}” (weight × activation)", zeroline=True,
                     zerolinecolor="#888888")
    fig.update_yaxes(type="category")
    return _layout(fig, height or max(160, 26 * len(rows) + 80))


def highlight_html(text: str, spans: list[tuple[int, int]], scores: list[float | None]) -> str:
    """The text as HTML with each token's background coloured by its contribution (blue for,
    orange against; none for a token the model does not read). Every piece of the text is
    escaped: markup typed by the user is shown as text, never run."""
    finite = [abs(s) for s in scores if s is not None and math.isfinite(s)]
    scale = max(finite + [1e-12])
    out, pos = [], 0
    for (a, b), s in sorted(zip(spans, scores), key=lambda p: p[0]):
        if a < pos:
            continue
        out.append(html.escape(text[pos:a]))
        word = html.escape(text[a:b])
        if s is None or not math.isfinite(s):
            out.append(f'<span style="color: #999999" title="not read by the model">{word}</span>')
        else:
            v = max(-1.0, min(1.0, s / scale))
            r, g, b_ = (8, 119, 189) if v >= 0 else (245, 147, 34)
            out.append(f'<span title="{s:+.3f}" style="background: rgba({r},{g},{b_},{abs(v) * 0.8:.2f}); '
                       f'border-radius: 3px; padding: 1px 2px">{word}</span>')
        pos = b
    out.append(html.escape(text[pos:]))
    body = "".join(out).replace("\n", "<br>")
    return f'<div style="font-size: 1.15rem; line-height: 2.1; overflow-wrap: anywhere">{body}</div>'
