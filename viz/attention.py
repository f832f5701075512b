"""Figures of the Attention explorer: one head's attention as a heatmap, all heads of all
layers as one tiled figure (one trace, so it draws fast), the BertViz-style line view, the
matrices of the step-by-step computation, position encodings, sentence similarity and the
toy attention's weights against scale.

Token labels come from users' text: they are escaped, so plotly shows "<b>" as text
instead of reading it as its own markup, and each figure carries its tokens in
layout.meta so a test can tell which sentence a drawn chart belongs to.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from .colors import BLUE, DIVERGING, ORANGE

WEIGHTS_SCALE = [[0.0, "#ffffff"], [1.0, BLUE]]   # attention weights live in [0, 1]
GRID_MAX_CELLS = 48        # a head in the overview grid is drawn with at most this many rows/columns
ROW_PX = 18                # one token's height in the line view
HOVER_NAMES = 100          # up to this many tokens, hovering a heatmap cell names both tokens


def safe_label(text: str, limit: int = 40) -> str:
    """A user's text as a plotly label: shortened, and <, >, & escaped so that plotly does
    not read them as markup."""
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(fig: go.Figure, height: int, tokens=None, title: str | None = None) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), plot_bgcolor="white",
                      title=dict(text=title, font=dict(size=14), x=0, xanchor="left") if title else None,
                      meta={"tokens": list(tokens)} if tokens is not None else None)
    return fig


def _token_axis(tokens: list[str], title: str, max_ticks: int = 80) -> dict:
    """Numeric positions with the tokens as tick text: a category axis would merge the two
    'the' of a sentence into one row."""
    step = max(1, int(np.ceil(len(tokens) / max_ticks)))
    idx = list(range(0, len(tokens), step))
    return dict(title=title, tickmode="array", tickvals=idx, ticktext=[safe_label(tokens[i], 16) for i in idx],
                showgrid=False, zeroline=False)


def attention_heatmap_figure(weights: np.ndarray, tokens: list[str], height: int = 460,
                             title: str | None = None) -> go.Figure:
    """(T, T) attention: row i = the query token i, column j = how much it takes from token j."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be (T, T) = ({len(tokens)}, {len(tokens)}) for {len(tokens)} tokens, "
                         f"got {w.shape}")
    labels = [safe_label(t, 16) for t in tokens]
    T = len(tokens)
    # Hover names both tokens; past HOVER_NAMES tokens it gives their positions instead, as
    # T² label strings would swell the figure to megabytes (512 tokens: 262,144 of them).
    hover = dict(customdata=np.array([[f"{labels[i]} → {labels[j]}" for j in range(T)] for i in range(T)]),
                 hovertemplate="%{customdata}: %{z:.3f}<extra></extra>") if T <= HOVER_NAMES else dict(
        hovertemplate="token %{y} → token %{x}: %{z:.3f}<extra></extra>")
    fig = go.Figure(go.Heatmap(
        z=w.astype(np.float32), zmin=0, zmax=float(np.nanmax(w)) if w.size else 1.0, colorscale=WEIGHTS_SCALE,
        x=np.arange(T), y=np.arange(T), **hover,
        colorbar=dict(title=dict(text="weight", side="right"), thickness=12)))
    fig.update_xaxes(**_token_axis(tokens, "attended to (key)"), tickangle=-60)
    fig.update_yaxes(**_token_axis(tokens, "attending (query)"), autorange="reversed")
    return _layout(fig, height, tokens, title)


def _pool(w: np.ndarray, cells: int) -> np.ndarray:
    """Mean over blocks, so that a head of T > cells tokens is drawn with cells × cells cells."""
    T = w.shape[-1]
    if T <= cells:
        return w
    edges = np.linspace(0, T, cells + 1).round().astype(int)
    return np.add.reduceat(np.add.reduceat(w, edges[:-1], axis=-2), edges[:-1], axis=-1) / np.outer(
        np.diff(edges), np.diff(edges))


def weights_png(z: np.ndarray) -> str:
    """Weights in [0, 1] as a PNG data URI, white to blue; NaN (the gaps between tiles) light grey."""
    rgb0, rgb1 = np.array([255, 255, 255], np.float32), _hex_rgb(BLUE)
    v = np.clip(np.nan_to_num(z, nan=0.0), 0, 1)[..., None]
    rgb = np.where(np.isnan(z)[..., None], np.float32(246), rgb0 + (rgb1 - rgb0) * v).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


def grid_tile(n_tokens: int) -> tuple[int, int]:
    """(cells per side of a head's tile, cells from one tile's start to the next) in the grid."""
    n = min(n_tokens, GRID_MAX_CELLS)
    return n, n + max(1, n // 6)


def head_grid_figure(attentions: np.ndarray, tokens: list[str], selected: tuple[int, int] | None = None,
                     height: int = 430) -> go.Figure:
    """Every head of every layer at a glance: one heatmap of tiles (layer rows, head columns),
    each tile scaled to its own largest weight, plus one invisible marker per tile whose
    click selects the head (customdata = [layer, head], counted from 0)."""
    a = np.asarray(attentions, dtype=np.float64)
    if a.ndim != 4 or a.shape[2] != a.shape[3] or a.shape[2] != len(tokens):
        raise ValueError(f"attentions must be (layers, heads, T, T) with T = {len(tokens)}, got {a.shape}")
    L, H = a.shape[:2]
    n, size = grid_tile(len(tokens))
    tiles = _pool(a, n)
    tiles = tiles / np.maximum(tiles.max(axis=(2, 3), keepdims=True), 1e-12)
    z = np.full((L * size, H * size), np.nan)
    for layer in range(L):
        for head in range(H):
            z[layer * size:layer * size + n, head * size:head * size + n] = tiles[layer, head]
    centres = (np.arange(H) * size + (n - 1) / 2, np.arange(L) * size + (n - 1) / 2)
    # One PNG rather than a heatmap of 72 tiles: a few kB to send and one <image> to draw,
    # where the heatmap's numbers came to half a megabyte for a 20-word sentence.
    fig = go.Figure(go.Image(source=weights_png(z), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    hx, ly = np.meshgrid(np.arange(H), np.arange(L))
    fig.add_trace(go.Scatter(
        x=centres[0][hx.ravel()], y=centres[1][ly.ravel()], mode="markers",
        marker=dict(size=max(8, 26 * n // size), color="rgba(0,0,0,0)", symbol="square"),
        customdata=np.stack([ly.ravel(), hx.ravel()], axis=1),
        text=[f"layer {layer + 1}, head {head + 1}" for layer, head in zip(ly.ravel(), hx.ravel())],
        hovertemplate="%{text}<extra>click to enlarge</extra>", showlegend=False))
    if selected is not None:
        layer, head = selected
        fig.add_shape(type="rect", x0=head * size - 1, x1=head * size + n, y0=layer * size - 1,
                      y1=layer * size + n, line=dict(color=ORANGE, width=3))
    fig.update_xaxes(tickmode="array", tickvals=centres[0], ticktext=[str(h + 1) for h in range(H)],
                     title="head", showgrid=False, zeroline=False, side="top", fixedrange=True)
    fig.update_yaxes(tickmode="array", tickvals=centres[1], ticktext=[str(layer + 1) for layer in range(L)],
                     title="layer", showgrid=False, zeroline=False, autorange="reversed", fixedrange=True)
    return _layout(fig, height, tokens)


def line_view_figure(weights: np.ndarray, tokens: list[str], selected: int) -> go.Figure:
    """BertViz's line view: the tokens twice, side by side; a line from the selected token
    on the left to every token on the right, as opaque as the attention weight."""
    w = np.asarray(weights, dtype=np.float64)
    T = len(tokens)
    if w.shape != (T, T):
        raise ValueError(f"weights must be (T, T) = ({T}, {T}), got {w.shape}")
    if not 0 <= selected < T:
        raise ValueError(f"selected token must be 0..{T - 1}, got {selected}")
    labels = [safe_label(t, 16) for t in tokens]
    row = w[selected]
    shapes = [dict(type="line", x0=0.08, x1=0.92, y0=selected, y1=j, line=dict(color=BLUE, width=3),
                   opacity=float(min(1.0, row[j])), layer="below")
              for j in range(T) if row[j] >= 0.005]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.zeros(T), y=np.arange(T), mode="text", text=labels, textposition="middle left",
                             textfont=dict(color=["#000000" if i == selected else "#888888" for i in range(T)],
                                           size=13),
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=np.ones(T), y=np.arange(T), mode="text+markers", text=labels,
                             textposition="middle right",
                             marker=dict(size=10, color=BLUE, opacity=np.clip(row, 0, 1)),
                             customdata=row, hovertemplate="%{text}: %{customdata:.3f}<extra></extra>",
                             textfont=dict(size=13), showlegend=False))
    fig.update_xaxes(visible=False, range=[-0.6, 1.6], fixedrange=True)
    fig.update_yaxes(visible=False, range=[T - 0.5, -0.5], fixedrange=True)
    fig.update_layout(shapes=shapes)
    return _layout(fig, int(min(4000, max(260, ROW_PX * T + 30))), tokens)


def matrix_figure(matrix: np.ndarray, row_labels: list[str], title: str, x_title: str,
                  col_labels: list[str] | None = None, height: int | None = None, weights: bool = False) -> go.Figure:
    """A matrix of the step-by-step computation: rows are tokens. Diverging colours around 0,
    or white-to-blue for attention weights. -inf (masked) is left blank. The height grows
    with the number of tokens so that every row label stays readable."""
    if height is None:
        height = int(min(900, max(300, 15 * len(row_labels) + (140 if col_labels is not None else 90))))
    m = np.asarray(matrix, dtype=np.float64)
    m = np.where(np.isfinite(m), m, np.nan)
    bound = (float(np.nanmax(m)) or 1.0 if np.isfinite(m).any() else 1.0) if weights else _robust_bound(m)
    trace = dict(z=m.astype(np.float32), y=np.arange(len(row_labels)), colorbar=dict(thickness=10),
                 hovertemplate="token %{y}, column %{x}: %{z:.3f}<extra></extra>")
    if weights:
        trace.update(zmin=0, zmax=bound, colorscale=WEIGHTS_SCALE)
    else:
        trace.update(zmin=-bound, zmax=bound, zmid=0, colorscale=DIVERGING)
    fig = go.Figure(go.Heatmap(**trace))
    fig.update_yaxes(**_token_axis(list(row_labels), None), autorange="reversed")
    if col_labels is not None:
        fig.update_xaxes(**_token_axis(col_labels, x_title), tickangle=-60)
    else:
        fig.update_xaxes(title=x_title, showgrid=False, zeroline=False)
    return _layout(fig, height, row_labels, title)


def _robust_bound(m: np.ndarray) -> float:
    """Colour range ±(99th percentile of |m|): a few outlier dimensions (common in trained
    transformers) would otherwise wash every other value out to white. Hover shows true values."""
    finite = np.abs(m[np.isfinite(m)])
    return float(np.percentile(finite, 99)) or float(finite.max(initial=0.0)) or 1.0 if finite.size else 1.0


def encoding_figure(encoding: np.ndarray, title: str, height: int = 320) -> go.Figure:
    """(positions, d) position encoding: position down, dimension across."""
    e = np.asarray(encoding, dtype=np.float64)
    bound = _robust_bound(e)
    fig = go.Figure(go.Heatmap(z=e, zmin=-bound, zmax=bound, zmid=0, colorscale=DIVERGING,
                               hovertemplate="position %{y}, dimension %{x}: %{z:.3f}<extra></extra>",
                               colorbar=dict(thickness=10)))
    fig.update_xaxes(title="dimension", showgrid=False, zeroline=False)
    fig.update_yaxes(title="position", autorange="reversed", showgrid=False, zeroline=False)
    return _layout(fig, height, None, title)


def similarity_by_distance_figure(curves: dict[str, np.ndarray], height: int = 320) -> go.Figure:
    """Mean cosine similarity of two positions against their distance, one line per encoding."""
    fig = go.Figure()
    for (name, curve), color in zip(curves.items(), (ORANGE, BLUE, "#2ca02c")):
        fig.add_trace(go.Scatter(x=np.arange(len(curve)), y=curve, mode="lines", name=name,
                                 line=dict(color=color, width=2),
                                 hovertemplate="distance %{x}: %{y:.3f}<extra>" + name + "</extra>"))
    fig.update_xaxes(title="distance between the two positions", showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(title="mean cosine similarity", showgrid=True, gridcolor="#eeeeee", zeroline=True,
                     zerolinecolor="#bbbbbb")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left"))
    return _layout(fig, height, None, None)


def cosine_figure(similarity: np.ndarray, sentences: list[str], height: int = 420) -> go.Figure:
    """(N, N) cosine similarity of sentence embeddings, the value written in each cell."""
    s = np.asarray(similarity, dtype=np.float64)
    if s.shape != (len(sentences), len(sentences)):
        raise ValueError(f"similarity must be (N, N) for {len(sentences)} sentences, got {s.shape}")
    labels = [f"{i + 1}. {safe_label(t, 28)}" for i, t in enumerate(sentences)]
    fig = go.Figure(go.Heatmap(z=s, x=np.arange(len(labels)), y=np.arange(len(labels)), zmin=-1, zmax=1, zmid=0,
                               colorscale=DIVERGING, text=np.round(s, 2), texttemplate="%{text:.2f}",
                               hovertemplate="%{x} · %{y}: %{z:.3f}<extra></extra>",
                               colorbar=dict(title=dict(text="cosine", side="right"), thickness=12)))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(labels))), ticktext=[str(i + 1) for i in
                                                                                   range(len(labels))],
                     title="sentence", side="top", showgrid=False)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels, autorange="reversed",
                     showgrid=False)
    return _layout(fig, max(height, 36 * len(labels) + 80), sentences, None)


def weights_against_scale_figure(scales: np.ndarray, weights: np.ndarray, key_labels: list[str],
                                 current: float, marks: dict[str, float] | None = None,
                                 height: int = 320) -> go.Figure:
    """One query's softmax weight on each key as the scale grows: from even to one-hot."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(scales), len(key_labels)):
        raise ValueError(f"weights must be (scales, keys) = ({len(scales)}, {len(key_labels)}), got {w.shape}")
    palette = [BLUE, ORANGE, "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    fig = go.Figure()
    for j, label in enumerate(key_labels):
        name = safe_label(label, 16)
        fig.add_trace(go.Scatter(x=scales, y=w[:, j], mode="lines", name=name,
                                 line=dict(color=palette[j % len(palette)], width=2),
                                 hovertemplate="scale %{x:.2f}: %{y:.3f}<extra>" + name + "</extra>"))
    fig.add_vline(x=current, line=dict(color="#444444", dash="dash"), annotation_text="your scale",
                  annotation_position="top")
    for text, x in (marks or {}).items():
        fig.add_vline(x=x, line=dict(color="#aaaaaa", dash="dot"), annotation_text=text,
                      annotation_position="bottom right")
    fig.update_xaxes(title="scale (multiplies every score)", showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(title="softmax weight", range=[0, 1.02], showgrid=True, gridcolor="#eeeeee")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.08, x=0, xanchor="left"))
    return _layout(fig, height, None, None).update_layout(margin=dict(t=56))
