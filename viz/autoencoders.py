"""Figures of the Autoencoders page: rows of small digit images (one heatmap, not dozens of
subplots, so a frame stays cheap), the latent scatter (clickable), the decoded latent
plane, the loss against PCA, the encoder's gradient split by loss term, principal angles.

Images come in as rows of 64 pixels (8×8, top row first) in [0, 1]; values outside are
clipped for display (the linear autoencoder's can leave the range).

The live view redraws every frame, so each figure is built in one go from plain dicts:
plotly validates a dict figure in a fraction of the time that add_trace / update_xaxes
calls take (measured: the scatter went from 150 ms to about 20 ms), and the colours of
the points are numbers on a stepped colour scale, not a list of colour strings."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, ORANGE

SIDE = 8
GAP = 1                               # blank pixels between two images of a strip
INK = [[0.0, "#ffffff"], [1.0, "#1b1b1b"]]  # pixel 0 (background) white, 1 (ink) near-black
DIGIT_COLORS = CLASS_COLORS + ["#7f7f7f", "#bcbd22"]  # ten digits
PCA_COLOR, KL_COLOR = "#7f7f7f", "#d62728"
CHART_FONT = dict(size=12)
CLICK_GRID = 24                       # invisible click targets per side of the code plane (SVG points: keep few)


def _check_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[1] != SIDE * SIDE:
        raise ValueError(f"{what} must be (n, 64) rows of 8×8 pixels, got shape {images.shape}")
    return np.clip(np.nan_to_num(images), 0.0, 1.0)


def tile_images(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of images (each (n, 64)) -> one picture (rows·9 − 1, n·9 − 1) with blank (NaN)
    gaps, top row first. Rows may hold different numbers of images."""
    n_cols = max(len(r) for r in rows)
    h, w = len(rows) * (SIDE + GAP) - GAP, n_cols * (SIDE + GAP) - GAP
    canvas = np.full((h, w), np.nan)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            r0, c0 = i * (SIDE + GAP), j * (SIDE + GAP)
            canvas[r0:r0 + SIDE, c0:c0 + SIDE] = img.reshape(SIDE, SIDE)
    return canvas


def _figure(data: list[dict], height: int, uirevision: str, **layout) -> go.Figure:
    """Shared style: white plot, small margins, a horizontal legend above the plot."""
    base = dict(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", font=CHART_FONT,
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left"), uirevision=uirevision)
    return go.Figure(data=data, layout={**base, **layout})


def _axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), showgrid=True, gridcolor="#eeeeee", zeroline=False, **kw)


def _image_axes(**kw) -> dict:
    """Axes for pixel pictures: square pixels, top row at the top."""
    return dict(xaxis=dict(showticklabels=False, showgrid=False, zeroline=False, constrain="domain"),
                yaxis=dict(autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                           constrain="domain", **kw))


def image_rows_figure(rows: list[tuple[str, np.ndarray]], height: int | None = None) -> go.Figure:
    """Labelled rows of digit images as one heatmap: ("original", (n, 64)), ("autoencoder", ...)."""
    if not rows:
        raise ValueError("image_rows_figure needs at least one (label, images) row")
    canvas = tile_images([_check_images(images, f"row {label!r}") for label, images in rows])
    centres = [i * (SIDE + GAP) + (SIDE - 1) / 2 for i in range(len(rows))]
    heatmap = dict(type="heatmap", z=canvas, zmin=0, zmax=1, colorscale=INK, showscale=False, hoverongaps=False,
                   hovertemplate="pixel %{z:.2f}<extra></extra>")
    return _figure([heatmap], height or 40 + 62 * len(rows), "rows",
                   **_image_axes(tickvals=centres, ticktext=[label for label, _ in rows]))


def single_image_figure(image: np.ndarray, height: int = 220) -> go.Figure:
    """One decoded 8×8 image, large."""
    img = _check_images(np.asarray(image).reshape(1, -1), "image")[0].reshape(SIDE, SIDE)
    heatmap = dict(type="heatmap", z=img, zmin=0, zmax=1, colorscale=INK, showscale=False,
                   hovertemplate="pixel (%{y}, %{x}): %{z:.2f}<extra></extra>")
    axes = _image_axes(visible=False)
    axes["xaxis"]["visible"] = False
    return _figure([heatmap], height, "single", **axes)


def _axis_label(k: int) -> str:
    return f"z{k + 1}"


def _digit_colorscale() -> list:
    """Digit d (0..9) -> DIGIT_COLORS[d] for marker colours given as numbers with cmin -0.5, cmax 9.5."""
    scale = []
    for d, color in enumerate(DIGIT_COLORS[:10]):
        scale += [[d / 10, color], [(d + 1) / 10, color]]
    return scale


def latent_scatter_figure(codes: np.ndarray, labels: np.ndarray, axes: list[np.ndarray],
                          clicked: tuple[float, float] | None = None, dims: tuple[int, int] = (0, 1),
                          height: int = 420, axis_names: tuple[str, str] | None = None) -> go.Figure:
    """The test images' codes, one colour per digit (the digit written at the median of its
    codes), over the range the decoded grid covers.

    codes (N, d), labels (N,). With d = 1 the digit is on the vertical axis. An invisible
    grid of points covers the plane so a click anywhere comes back as a selected point
    (plotly reports clicks on markers only); `clicked` is marked with a cross. axis_names
    replace "z1", "z2" (e.g. for codes projected on their principal components)."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (N, d) with one label each, got {codes.shape} and {len(labels)} labels")
    one_d = codes.shape[1] == 1
    xs = codes[:, dims[0]]
    ys = labels.astype(np.float64) if one_d else codes[:, dims[1]]
    x_range = _tile_range(axes[0])  # the decoded plane's extent, half a tile beyond the outer centres
    y_range = [-0.7, 9.7] if one_d else _tile_range(axes[1])
    present = [d for d in range(10) if (labels == d).any()]
    gx, gy = np.meshgrid(np.linspace(*x_range, CLICK_GRID), np.linspace(*y_range, CLICK_GRID))
    data = [
        # One trace for all points; the digits are written at the median of their codes.
        dict(type="scatter", x=xs, y=ys, mode="markers", name="test images", showlegend=False, customdata=labels,
             marker=dict(size=6, color=labels, cmin=-0.5, cmax=9.5, colorscale=_digit_colorscale(), opacity=0.75),
             hovertemplate="digit %{customdata}<br>(%{x:.2f}, %{y:.2f})<extra></extra>"),
        dict(type="scatter", x=[float(np.median(xs[labels == d])) for d in present],
             y=[float(np.median(ys[labels == d])) for d in present], mode="text", showlegend=False,
             text=[f"<b>{d}</b>" for d in present], textfont=dict(size=18, color="black"), hoverinfo="skip"),
        dict(type="scatter", x=gx.ravel(), y=gy.ravel(), mode="markers", showlegend=False, name="click to decode",
             marker=dict(size=14, color="rgba(0,0,0,0.01)"),
             hovertemplate="decode (%{x:.2f}, %{y:.2f})<extra></extra>"),
    ]
    if clicked is not None:
        data.append(dict(type="scatter", x=[clicked[0]], y=[clicked[1]], mode="markers", showlegend=False,
                         name="decoded", hoverinfo="skip",
                         marker=dict(symbol="x-thin", size=16, line=dict(width=3, color="black"))))
    # A square plot, like the decoded plane beside it, so the two line up point for point.
    square = {} if one_d else dict(scaleanchor="x", scaleratio=_ratio(x_range, y_range), constrain="domain")
    return _figure(data, height, "scatter", clickmode="event+select", dragmode=False,
                   xaxis=_axis(axis_names[0] if axis_names else _axis_label(dims[0]), range=x_range,
                               constrain="domain"),
                   yaxis=_axis("digit" if one_d else axis_names[1] if axis_names else _axis_label(dims[1]),
                               range=y_range, **square))


def _tile_range(axis: np.ndarray) -> list[float]:
    axis = np.asarray(axis, dtype=np.float64)
    half = (axis[-1] - axis[0]) / max(len(axis) - 1, 1) / 2
    return [float(axis[0] - half), float(axis[-1] + half)]


def _ratio(x_range: list[float], y_range: list[float]) -> float:
    """plotly's scaleratio that draws the x and y ranges as equally long sides."""
    return float(x_range[1] - x_range[0]) / max(float(y_range[1] - y_range[0]), 1e-12)


def latent_grid_figure(axes: list[np.ndarray], images: np.ndarray, dims: tuple[int, int] = (0, 1),
                       height: int = 420, axis_names: tuple[str, str] | None = None) -> go.Figure:
    """What the decoder draws over the latent plane: images (rows, cols, 64) decoded at
    (axes[0][col], axes[1][row]), row 0 at the lowest value, tiled into one heatmap whose
    axes are the code's own coordinates (so it lines up with the scatter)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[2] != SIDE * SIDE or images.shape[1] != len(axes[0]):
        raise ValueError(f"images must be (rows, {len(axes[0])}, 64), got shape {images.shape}")
    rows, cols = images.shape[:2]
    tiles = [_check_images(images[r], "images") for r in range(rows - 1, -1, -1)]  # top row: highest value
    canvas = tile_images(tiles)[::-1]  # heatmap row 0 is drawn at the bottom
    ax = np.asarray(axes[0], dtype=np.float64)
    step_x = (ax[-1] - ax[0]) / max(cols - 1, 1) or 1.0
    # Pixel column c of tile j sits at axes[0][j] + (c - 3.5) / 9 · step: each tile centred on its code.
    x = ax[0] + (np.arange(canvas.shape[1]) - (SIDE - 1) / 2) * step_x / (SIDE + GAP)
    if rows > 1:
        ay = np.asarray(axes[1], dtype=np.float64)
        step_y = (ay[-1] - ay[0]) / max(rows - 1, 1) or 1.0
        y = ay[0] + (np.arange(canvas.shape[0]) - (SIDE - 1) / 2) * step_y / (SIDE + GAP)
        # Square tiles: one step along y drawn as long as one step along x.
        yaxis = dict(title=dict(text=axis_names[1] if axis_names else _axis_label(dims[1])), showgrid=False, zeroline=False, scaleanchor="x",
                     scaleratio=step_x / step_y, constrain="domain", range=_tile_range(ay))
    else:
        y, yaxis = np.arange(canvas.shape[0]), dict(visible=False)
    heatmap = dict(type="heatmap", x=x, y=y, z=canvas, zmin=0, zmax=1, colorscale=INK, showscale=False,
                   hoverongaps=False, hovertemplate="(%{x:.2f}, %{y:.2f})<extra></extra>")
    return _figure([heatmap], height if rows > 1 else 160, "grid",
                   xaxis=dict(title=dict(text=axis_names[0] if axis_names else _axis_label(dims[0])), showgrid=False, zeroline=False,
                              constrain="domain", range=_tile_range(ax)), yaxis=yaxis)


def _thin(history: list[dict], limit: int = 600) -> list[dict]:
    if len(history) > limit:  # keep the browser fast on long runs; the last point stays
        return history[:: len(history) // (limit // 2)] + history[-1:]
    return history


def _line(x, y, name: str, color: str, width: float = 2, dash: str = "solid") -> dict:
    return dict(type="scatter", x=x, y=y, mode="lines", name=name, line=dict(color=color, width=width, dash=dash))


def loss_figure(history: list[dict], variational: bool, squared: bool, height: int = 320) -> go.Figure:
    """Training objective on train and test against step; the test images' squared error
    beside PCA's with the same number of components (a dashed line: what a linear code achieves)."""
    history = _thin(history)
    steps = [h["step"] for h in history]
    name = "loss (recon + β·KL)" if variational else "reconstruction loss"
    data = [_line(steps, [h["train_objective"] for h in history], f"train {name}", BLUE),
            _line(steps, [h["test_objective"] for h in history], f"test {name}", ORANGE)]
    if variational:
        data.append(_line(steps, [h["test_kl"] for h in history], "test KL", KL_COLOR, 1.5, "dot"))
    if not squared or variational:
        data.append(_line(steps, [h["test_squared_error"] for h in history], "test squared error", "#2ca02c", 1.5))
    if history:
        pca = history[-1]["pca_test_error"]
        data.append(_line([steps[0], steps[-1]], [pca, pca], "PCA, same k (test)", PCA_COLOR, 2, "dash"))
    return _figure(data, height, "loss", xaxis=_axis("step", rangemode="tozero"),
                   yaxis=_axis("per image", type="log"))


def encoder_gradient_figure(history: list[dict], penalty: str | None = "β·KL", height: int = 320) -> go.Figure:
    """‖∇‖ of the encoder's weights at each recorded step, split into what the reconstruction
    sends and what the penalty term (`penalty`: β·KL, the L1 penalty; None: no such term)
    sends; exactly 0 from the reconstruction for a VAE without the trick."""
    history = _thin(history)
    steps = [h["step"] for h in history]
    data = [_line(steps, [h["encoder_grad_norm_recon"] for h in history], "from the reconstruction", BLUE)]
    if penalty:
        data.append(_line(steps, [h["encoder_grad_norm_penalty"] for h in history], f"from {penalty}", KL_COLOR))
    return _figure(data, height, "grad", xaxis=_axis("step", rangemode="tozero"),
                   yaxis=_axis("‖∇ encoder weights‖", rangemode="tozero"))


def angles_figure(history: list[dict], height: int = 320) -> go.Figure:
    """Principal angles between the linear decoder's span and PCA's top-k subspace, per step."""
    history = [h for h in _thin(history) if h.get("principal_angles_deg")]
    data = []
    if history:
        steps = [h["step"] for h in history]
        angles = np.array([h["principal_angles_deg"] for h in history])  # (S, k)
        data = [_line(steps, angles[:, k], f"angle {k + 1}", DIGIT_COLORS[k % len(DIGIT_COLORS)])
                for k in range(angles.shape[1])]
    return _figure(data, height, "angles", xaxis=_axis("step", rangemode="tozero"),
                   yaxis=_axis("principal angle (degrees)", range=[0, 91]))


def probe_figure(accuracies: dict[str, float], k: int, height: int = 200) -> go.Figure:
    """Test accuracy of the same softmax classifier on three sets of features: the
    autoencoder's k-number codes, PCA's k coordinates, the 64 raw pixels; chance (10 %) dashed."""
    names = [f"autoencoder codes ({k})", f"PCA codes ({k})", "raw pixels (64)"]
    values = [accuracies["codes"], accuracies["pca"], accuracies["pixels"]]
    bars = dict(type="bar", orientation="h", x=values, y=names, marker=dict(color=[BLUE, PCA_COLOR, ORANGE]),
                text=[f"{v:.1%}" for v in values], textposition="outside", cliponaxis=False,
                hovertemplate="%{y}: %{x:.1%}<extra></extra>")
    chance = dict(type="scatter", x=[0.1, 0.1], y=[names[0], names[-1]], mode="lines", name="chance (10 %)",
                  line=dict(color="#999999", dash="dash", width=1.5), hoverinfo="skip")
    return _figure([bars, chance], height, "probe", showlegend=False, margin=dict(l=10, r=50, t=10, b=10),
                   xaxis=_axis("test accuracy", range=[0, 1.0], tickformat=".0%"),
                   yaxis=dict(autorange="reversed", automargin=True))
