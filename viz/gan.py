"""Figures of the GAN lab: the plane where the game is played (D's opinion as a background,
real points green, generated points purple, the generator's gradient as arrows, the
generator's manifold), the loss curves with their equilibrium values, D's verdict, the
distance between the distributions, and grids of generated digits."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

# GAN Lab's convention: green is real, purple is generated; the background says how real D thinks a point is.
REAL, FAKE = "#1b7837", "#762a83"
D_SCALE = [[0.0, "#c2a5cf"], [0.5, "#f7f7f7"], [1.0, "#a6dba0"]]  # D(x) = 0 (fake) .. 1 (real)
ARROW, MANIFOLD = "#3f1650", "rgba(118, 42, 131, 0.35)"
D_COLOR, G_COLOR = "#333333", FAKE
LOG4 = math.log(4)


def _check_points(name: str, xy: np.ndarray | None) -> None:
    if xy is not None and (xy.ndim != 2 or xy.shape[1] != 2):
        raise ValueError(f"{name} must be an (N, 2) array of points, got shape {xy.shape}")


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of many line segments in one trace, separated by NaN (one trace is cheap to draw)."""
    gap = np.full(len(starts), np.nan)
    xs = np.stack([starts[:, 0], ends[:, 0], gap], 1).ravel()
    ys = np.stack([starts[:, 1], ends[:, 1], gap], 1).ravel()
    return xs, ys


def arrow_segments(points: np.ndarray, vectors: np.ndarray, max_length: float) -> tuple[np.ndarray, np.ndarray]:
    """Shafts and two head strokes for each arrow; the longest arrow gets max_length, the
    others in proportion, so the picture shows where the push is strong and where weak."""
    norms = np.linalg.norm(vectors, axis=1)
    biggest = float(norms.max()) if len(norms) else 0.0
    if not np.isfinite(biggest) or biggest <= 0:
        return np.zeros(0), np.zeros(0)
    v = vectors / biggest * max_length
    tips = points + v
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    head = 0.35 * np.linalg.norm(v, axis=1, keepdims=True)
    normal = np.stack([-unit[:, 1], unit[:, 0]], 1)
    left, right = tips - head * (unit - 0.6 * normal), tips - head * (unit + 0.6 * normal)
    parts = [_segments(points, tips), _segments(tips, left), _segments(tips, right)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def manifold_lines(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (g, h, 2) grid of generated points as the lines of the deformed grid."""
    if grid.ndim != 3 or grid.shape[2] != 2:
        raise ValueError(f"manifold must be a (g, h, 2) grid of points, got shape {grid.shape}")
    lines = [grid[i] for i in range(grid.shape[0])] if grid.shape[1] > 1 else []
    lines += [grid[:, j] for j in range(grid.shape[1])]
    xs = np.concatenate([np.append(line[:, 0], np.nan) for line in lines])
    ys = np.concatenate([np.append(line[:, 1], np.nan) for line in lines])
    return xs, ys


def plane_figure(heatmap: np.ndarray | None, real: np.ndarray | None, fake: np.ndarray | None,
                 arrows: np.ndarray | None = None, manifold: np.ndarray | None = None, domain: float = 2.0,
                 drawn: np.ndarray | None = None, clickable: bool = False, max_arrows: int = 150,
                 height: int = 520) -> go.Figure:
    """The 2-D game. heatmap: (res, res) D's probability, row 0 at y = -domain; real, fake:
    (N, 2); arrows: (N, 2) the generator's gradient at each fake point; manifold: (g, h, 2).
    Any part may be None (hidden). drawn: the user's points; clickable adds an invisible grid
    a click on which reports where to add a point."""
    for name, xy in (("real", real), ("fake", fake), ("arrows", arrows), ("drawn", drawn)):
        _check_points(name, xy)
    fig = go.Figure()
    if heatmap is not None:
        if heatmap.ndim != 2 or heatmap.shape[0] != heatmap.shape[1]:
            raise ValueError(f"heatmap must be a square (res, res) grid, got shape {heatmap.shape}")
        axis = np.linspace(-domain, domain, heatmap.shape[0])
        fig.add_trace(go.Heatmap(x=axis, y=axis, z=heatmap, zmin=0, zmax=1, colorscale=D_SCALE, name="D(x)",
                                 colorbar=dict(thickness=10, len=0.55, title=dict(text="D(x)", side="right"),
                                               tickvals=[0, 0.5, 1], ticktext=["0 fake", "0.5", "1 real"]),
                                 hovertemplate="(%{x:.2f}, %{y:.2f})<br>D says real with p = %{z:.2f}<extra></extra>"))
    if manifold is not None:
        xs, ys = manifold_lines(manifold)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="G's manifold", hoverinfo="skip",
                                 line=dict(color=MANIFOLD, width=1)))
    if real is not None:
        fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real", hoverinfo="skip",
                                 marker=dict(color=REAL, size=5, opacity=0.75)))
    if drawn is not None and len(drawn):
        fig.add_trace(go.Scatter(x=drawn[:, 0], y=drawn[:, 1], mode="markers", name="your points",
                                 marker=dict(color="white", size=9, line=dict(color=REAL, width=2)),
                                 hovertemplate="your point (%{x:.2f}, %{y:.2f})<extra></extra>"))
    if fake is not None:
        if arrows is not None and len(arrows):
            n = min(max_arrows, len(fake))
            xs, ys = arrow_segments(fake[:n], arrows[:n], max_length=0.3 * domain / 2)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="G's gradient", hoverinfo="skip",
                                     line=dict(color=ARROW, width=1)))
        fig.add_trace(go.Scatter(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated", hoverinfo="skip",
                                 marker=dict(color=FAKE, size=5, opacity=0.85)))
    if clickable:
        g = np.linspace(-domain + 0.05, domain - 0.05, 41)
        gx, gy = np.meshgrid(g, g)
        fig.add_trace(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="click to add", showlegend=False,
                                 marker=dict(size=10, color="rgba(0,0,0,0.01)"),
                                 hovertemplate="add a point at (%{x:.2f}, %{y:.2f})<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font=dict(size=11)),
                      uirevision="gan-plane", clickmode="event+select", dragmode=False)
    fig.update_xaxes(range=[-domain, domain], constrain="domain", title_text="x₁", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-domain, domain], constrain="domain", scaleanchor="x", scaleratio=1, title_text="x₂",
                     showgrid=False, zeroline=False)
    return fig


def equilibrium_losses(variant: str) -> tuple[float, float]:
    """(D loss, G loss) when G matches the data and D says ½ everywhere."""
    if variant == "least_squares":
        return 0.25, 0.125
    return LOG4, -math.log(2) if variant == "minimax" else math.log(2)


def _hline(y: float, color: str, text: str, position: str = "top") -> tuple[dict, dict]:
    """A dotted horizontal line across the plot and its label, as layout entries (much
    cheaper to build than fig.add_hline, which matters at several frames a second)."""
    shape = dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y, line=dict(color=color, width=1, dash="dot"))
    label = dict(xref="paper", x=1, xanchor="right", yref="y", y=y, yanchor="bottom" if position == "top" else "top",
                 text=text, showarrow=False, font=dict(size=10, color=color))
    return shape, label


def _thin(history: list[dict], keep: int = 1000) -> list[dict]:
    return history[:: len(history) // keep] + history[-1:] if len(history) > 1.5 * keep else history


def _empty_note(fig: go.Figure, history: list[dict]) -> None:
    if len(history) < 2:
        fig.add_annotation(text="Press Play or Step", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                           font=dict(size=14, color="#888888"))


def _layout(fig: go.Figure, height: int, x_title: str, y_title: str, key: str) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=x_title, yaxis_title=y_title,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=11)),
                      plot_bgcolor="white", uirevision=key)
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", rangemode="tozero")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def losses_figure(history: list[dict], variant: str, height: int = 280) -> go.Figure:
    """D and G losses against steps, with the values they take at the equilibrium (dotted)."""
    history = [h for h in _thin(history) if h.get("d_loss") is not None]
    steps = [h["step"] for h in history]
    fig = go.Figure()
    d_eq, g_eq = equilibrium_losses(variant)
    lines = []
    for name, key, color, eq in (("D loss", "d_loss", D_COLOR, d_eq), ("G loss", "g_loss", G_COLOR, g_eq)):
        fig.add_trace(go.Scatter(x=steps, y=[h[key] for h in history], name=name, mode="lines",
                                 line=dict(color=color, width=2), connectgaps=False))
        lines.append(_hline(eq, color, f"{name} at equilibrium ({eq:.3f})", "top" if key == "d_loss" else "bottom"))
    fig.update_layout(shapes=[s for s, _ in lines], annotations=[a for _, a in lines])
    _empty_note(fig, history)
    return _layout(fig, height, "step", "loss", "gan-loss")


def verdict_figure(history: list[dict], height: int = 260) -> go.Figure:
    """D's mean probability on real and on generated points: they meet at ½ when D is fooled."""
    steps = [h["step"] for h in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=steps, y=[h["d_real"] for h in history], name="D on real", mode="lines",
                             line=dict(color=REAL, width=2)))
    fig.add_trace(go.Scatter(x=steps, y=[h["d_fake"] for h in history], name="D on generated", mode="lines",
                             line=dict(color=FAKE, width=2)))
    shape, label = _hline(0.5, "#888888", "½: D cannot tell")
    fig.update_layout(shapes=[shape], annotations=[label])
    _empty_note(fig, history)
    fig = _layout(fig, height, "step", "mean D(x)", "gan-verdict")
    fig.update_yaxes(range=[0, 1.02])
    return fig


def distance_figure(history: list[dict], height: int = 260, key: str = "gan-mmd") -> go.Figure:
    """Squared MMD (RBF kernel) between real and generated samples, log scale: 0 = same distribution."""
    rows = [h for h in _thin(history) if h.get("mmd") is not None and np.isfinite(h["mmd"])]
    fig = go.Figure(go.Scatter(x=[h["step"] for h in rows], y=[max(h["mmd"], 1e-5) for h in rows], mode="lines",
                               name="MMD²", line=dict(color="#1f4e79", width=2)))
    _empty_note(fig, rows)
    fig = _layout(fig, height, "step", "MMD² (log scale)", key)
    if len(rows) > 1:  # a log axis over a single point draws a muddle of minor ticks
        fig.update_yaxes(type="log", exponentformat="power")
    return fig


def digit_tiles(images: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """(n, h, w) images in [0, 1] -> one (rows·(h+gap), cols·(w+gap)) array, NaN in the gaps."""
    if images.ndim != 3:
        raise ValueError(f"images must be (n, height, width), got shape {images.shape}")
    n, h, w = images.shape
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    return out


def digits_figure(images: np.ndarray, cols: int, height: int = 360, title: str | None = None) -> go.Figure:
    """A grid of 8 × 8 digits, ink dark on white."""
    tiles = digit_tiles(images, cols)
    fig = go.Figure(go.Heatmap(z=tiles[::-1], zmin=0, zmax=1, colorscale=[[0, "#ffffff"], [1, "#111111"]],
                               showscale=False, hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=30 if title else 5, b=5), plot_bgcolor="#dddddd",
                      title=dict(text=title, font=dict(size=13)) if title else None, uirevision="digits")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1, constrain="domain")
    return fig


def timeline_figure(frames: list[tuple[int, np.ndarray]], per_frame: int = 8, height: int | None = None) -> go.Figure:
    """The first `per_frame` samples of the fixed noise at several moments, one row per moment."""
    title = "The same 8 samples over time"
    if not frames:
        return digits_figure(np.zeros((per_frame, 8, 8)), per_frame, height or 120, title)
    rows = np.concatenate([imgs[:per_frame] for _, imgs in frames])
    fig = digits_figure(rows, per_frame, height or min(480, 70 + 48 * len(frames)), title)
    h = 9  # 8 pixels and the gap
    n = len(frames)
    fig.update_yaxes(visible=True, showgrid=False, zeroline=False, tickmode="array",
                     tickvals=[(n - 1 - i) * h + 3.5 for i in range(n)],
                     ticktext=[f"step {s:,}" for s, _ in frames], tickfont=dict(size=10))
    return fig
