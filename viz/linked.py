"""Altair charts for the linked views: a selection made in one chart (a brush over the codes of
the test digits, a click on a cell of a confusion matrix, a brush over a range of steps) is read
back by the page through st.altair_chart(on_select="rerun") and drives another view.

Plotly draws the live views in place (app_pages/common/live_plotly.py); Vega-Lite's selections are
declared in the chart and come back to Python as plain data, which is what a linked view needs.
Every builder takes plain arrays and returns an alt.Chart; the names of the selection parameters
and of the fields they select are module constants, so that the pages read them back by name.

Class names come from the user (an uploaded CSV). Vega draws axis labels, text marks and tooltips
as text (SVG text and an escaping tooltip handler), so they need no escaping here."""
from __future__ import annotations

import base64
import io

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

from .autoencoders import DIGIT_COLORS
from .gradients import RUN_COLORS

CODE_BRUSH = "codes"        # interval over the code plane: {"x": [lo, hi], "y": [lo, hi]}
CELL_CLICK = "cell"         # point on the confusion matrix: [{TRUE_FIELD: name, PREDICTED_FIELD: name}, ...]
TRUE_FIELD, PREDICTED_FIELD = "true_class", "predicted_class"
STEP_BRUSH = "steps"        # interval over the loss curve's steps: {"step": [lo, hi]}
INK_GREY = 0x1b              # a pixel of 1 is #1b1b1b (near-black), 0 is white, as the page's Plotly digits
SIDE, GAP, PAIR_GAP, LABEL_ROOM = 8, 1, 3, 3   # in pixels of the digits


def code_brush_chart(coords: np.ndarray, digits: np.ndarray, axis_names: tuple[str, str] = ("z1", "z2"),
                     height: int = 380) -> alt.Chart:
    """The test digits' codes in the code plane, coloured by digit, with a rectangle brush.

    coords (M, 2) or (M, 1): with a one-number code the digit goes on the vertical axis, as the
    page's Plotly scatter draws it. Points outside the brush fade; the brush's ranges come back
    under CODE_BRUSH keyed "x" and "y" (the fields brushed)."""
    coords = np.asarray(coords, dtype=np.float64)
    digits = np.asarray(digits)
    if coords.ndim != 2 or coords.shape[1] not in (1, 2) or len(coords) != len(digits):
        raise ValueError(f"coords must be (M, 1 or 2) and digits (M,), got {coords.shape} and {digits.shape}; "
                         "project longer codes on a plane first (AutoencoderTrainer.code_plane)")
    one = coords.shape[1] == 1
    frame = pd.DataFrame({"image": np.arange(len(coords)), "digit": digits.astype(int), "x": coords[:, 0],
                          "y": digits.astype(float) if one else coords[:, 1]})
    brush = alt.selection_interval(name=CODE_BRUSH, encodings=["x", "y"], zoom=False)
    digit_scale = alt.Scale(domain=list(range(10)), range=DIGIT_COLORS[:10])
    return alt.Chart(frame).mark_circle(size=34).encode(
        x=alt.X("x:Q", title=axis_names[0], scale=alt.Scale(zero=False, nice=False)),
        y=alt.Y("y:Q", title="digit" if one else axis_names[1], scale=alt.Scale(zero=False, nice=False)),
        color=alt.Color("digit:N", scale=digit_scale, legend=alt.Legend(title="digit", orient="right")),
        opacity=alt.when(brush).then(alt.value(0.9)).otherwise(alt.value(0.12)),
        tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("image:Q", title="test image")],
    ).add_params(brush).properties(height=height)


def digit_png(pixels: np.ndarray) -> str:
    """One 8×8 digit (64 values in [0, 1], clipped) as a grey PNG data URI, ink dark on white as
    the page's Plotly digits; drawn enlarged without smoothing, each pixel stays a sharp square."""
    ink = np.clip(np.asarray(pixels, dtype=np.float64).reshape(SIDE, SIDE), 0, 1)
    grey = np.round(255 - ink * (255 - INK_GREY)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey, "L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def digit_pairs_chart(originals: np.ndarray, reconstructions: np.ndarray, digits: np.ndarray,
                      images: np.ndarray, per_row: int = 4, pixel: int = 5) -> alt.Chart:
    """Each digit (left) beside its reconstruction (right), the pairs in rows of `per_row`, the
    digit's label above each pair. originals and reconstructions (M, 64), pixels in [0, 1] (values
    outside are clipped), digits (M,) labels, images (M,) test-image numbers for the tooltip.
    `pixel` screen pixels per digit pixel: the chart has a fixed size, so the digits stay square."""
    originals, reconstructions = np.asarray(originals, np.float64), np.asarray(reconstructions, np.float64)
    m = len(originals)
    if originals.shape != (m, SIDE * SIDE) or reconstructions.shape != originals.shape or len(digits) != m \
            or len(images) != m:
        raise ValueError(f"originals and reconstructions must be (M, {SIDE * SIDE}) and digits, images (M,), got "
                         f"{originals.shape}, {reconstructions.shape}, {np.shape(digits)}, {np.shape(images)}")
    pair_w, row_h = 2 * SIDE + GAP + PAIR_GAP, SIDE + LABEL_ROOM   # in digit pixels
    rows, cols = np.divmod(np.arange(m), per_row)
    digits, images = np.asarray(digits).astype(int), np.asarray(images).astype(int)
    frame = pd.DataFrame({
        "x": np.concatenate([cols * pair_w, cols * pair_w + SIDE + GAP]) * pixel,
        "y": np.concatenate([rows * row_h + LABEL_ROOM] * 2) * pixel,
        "url": [digit_png(p) for p in originals] + [digit_png(p) for p in reconstructions],
        "drawn": ["original"] * m + ["autoencoder"] * m,
        "digit": np.concatenate([digits, digits]), "image": np.concatenate([images, images])})
    width = (max(1, min(m, per_row)) * pair_w - PAIR_GAP) * pixel
    height = max(1, int(np.ceil(m / per_row))) * row_h * pixel
    x = alt.X("x:Q", scale=alt.Scale(domain=[0, width], nice=False, zero=False), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(domain=[0, height], nice=False, zero=False, reverse=True), axis=None)
    pictures = alt.Chart(frame).mark_image(width=SIDE * pixel, height=SIDE * pixel, align="left", baseline="top",
                                           smooth=False).encode(
        x=x, y=y, url="url:N",
        tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("drawn:N"), alt.Tooltip("image:Q", title="test image")])
    labels = frame.loc[:m - 1, ["x", "y", "digit"]].assign(y=lambda f: f["y"] - 2)  # above each original
    text = alt.Chart(labels).mark_text(align="left", baseline="bottom", fontSize=11, color="#555555").encode(
        x=x, y=y, text="digit:N")
    return alt.layer(pictures, text).properties(width=width, height=height).configure_view(stroke=None)


def confusion_cells_chart(confusion: list[list[int]], class_names: list[str], height: int = 320) -> alt.Chart:
    """The confusion matrix (rows: true class, columns: predicted) as cells that take a click.
    Colour: the share of the row, as the page's tables read it; each cell shows its count and share.
    The clicked cell is outlined; it comes back under CELL_CLICK as {TRUE_FIELD, PREDICTED_FIELD}."""
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion must be (classes, classes) = ({k}, {k}), got {cm.shape}")
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    true_i, pred_i = np.divmod(np.arange(k * k), k)
    names = [str(c) for c in class_names]
    frame = pd.DataFrame({TRUE_FIELD: [names[i] for i in true_i], PREDICTED_FIELD: [names[j] for j in pred_i],
                          "texts": cm.ravel(), "share": share.ravel(),
                          "label": [f"{n:,} · {s:.0%}" for n, s in zip(cm.ravel(), share.ravel())]})
    cell = alt.selection_point(name=CELL_CLICK, fields=[TRUE_FIELD, PREDICTED_FIELD], on="click")
    x = alt.X(f"{PREDICTED_FIELD}:N", sort=names, title="predicted class", axis=alt.Axis(labelAngle=0))
    y = alt.Y(f"{TRUE_FIELD}:N", sort=names, title="true class")
    tooltip = [alt.Tooltip(f"{TRUE_FIELD}:N", title="true"), alt.Tooltip(f"{PREDICTED_FIELD}:N", title="predicted"),
               alt.Tooltip("texts:Q", title="texts", format=","), alt.Tooltip("share:Q", title="share of row",
                                                                              format=".0%")]
    rects = alt.Chart(frame).mark_rect(cursor="pointer").encode(
        x=x, y=y, tooltip=tooltip,
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(title="share of row", format=".0%")),
        stroke=alt.when(cell, empty=False).then(alt.value("#f59322")).otherwise(alt.value(None)),
        strokeWidth=alt.when(cell, empty=False).then(alt.value(4)).otherwise(alt.value(0)),
    ).add_params(cell)
    text = alt.Chart(frame).mark_text(fontSize=13).encode(
        x=x, y=y, text="label:N", tooltip=tooltip,
        color=alt.when(alt.datum.share > 0.55).then(alt.value("white")).otherwise(alt.value("#1b1b1b")))
    return alt.layer(rects, text).properties(height=height)


def loss_brush_chart(series: list[tuple[str, list[dict]]], height: int = 300) -> alt.Chart:
    """Training loss against step (log scale) for each network, with a brush over the steps.
    series: (label, Trainer.history) pairs; points whose loss is not a positive finite number are
    left out (a log axis has no place for them). The brushed range comes back under STEP_BRUSH
    keyed "step"."""
    rows = [{"network": label, "step": int(h["step"]), "loss": float(h["train_loss"])}
            for label, history in series for h in history]
    frame = pd.DataFrame(rows, columns=["network", "step", "loss"])
    frame = frame[np.isfinite(frame["loss"]) & (frame["loss"] > 0)]
    labels = [label for label, _ in series]
    brush = alt.selection_interval(name=STEP_BRUSH, encodings=["x"], zoom=False)
    return alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("step:Q", title="step", scale=alt.Scale(nice=False), axis=alt.Axis(tickMinStep=1, format=",d")),
        y=alt.Y("loss:Q", title="train loss (log scale)", scale=alt.Scale(type="log"),
                axis=alt.Axis(tickCount=4, format="~g")),  # a grid line per decade, not per digit of one
        color=alt.Color("network:N", scale=alt.Scale(domain=labels, range=RUN_COLORS[:len(labels)]),
                        legend=alt.Legend(orient="top", title=None, columns=1, labelLimit=300)),
        tooltip=[alt.Tooltip("network:N"), alt.Tooltip("step:Q", format=","), alt.Tooltip("loss:Q", format=".4g")],
    ).add_params(brush).properties(height=height)


def step_range_heatmap(starts: np.ndarray, ends: np.ndarray, log_norms: np.ndarray, layer_names: list[str],
                       color_domain: tuple[float, float]) -> alt.Chart:
    """Layers (rows, input at the bottom) × columns of steps, coloured by log10 of the weight-
    gradient norm. Column c covers the steps [starts[c], ends[c]); log_norms (columns, layers).
    `color_domain` (lo, hi) in log10 units: give every network of a comparison the same one.
    Its height is given to st.altair_chart: a band scale of layers sized here came out a few pixels tall."""
    log_norms = np.asarray(log_norms, dtype=np.float64)
    n_cols, n_layers = len(starts), len(layer_names)
    if log_norms.shape != (n_cols, n_layers) or len(ends) != n_cols:
        raise ValueError(f"log_norms must be (columns, layers) = ({n_cols}, {n_layers}) and ends ({n_cols},), got "
                         f"{log_norms.shape} and {np.shape(ends)}")
    labels = [n.replace("hidden", "layer ") for n in layer_names]
    col, lay = np.divmod(np.arange(n_cols * n_layers), n_layers)
    frame = pd.DataFrame({"start": np.asarray(starts)[col], "end": np.asarray(ends)[col],
                          "last": np.asarray(ends)[col] - 1, "layer": [labels[i] for i in lay],
                          "log_norm": log_norms.ravel(), "norm": 10.0 ** log_norms.ravel()})
    lo, hi = color_domain
    legend = alt.Legend(title="‖∇W‖", tickMinStep=1, labelExpr="'1e' + format(datum.value, 'd')")
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("start:Q", title="step", scale=alt.Scale(nice=False, zero=False),
                axis=alt.Axis(tickMinStep=1, format=",d")), x2="end:Q",
        y=alt.Y("layer:O", sort=labels[::-1], title=None, axis=alt.Axis(labels=n_layers <= 30)),
        color=alt.Color("log_norm:Q", scale=alt.Scale(scheme="viridis", domain=[lo, hi], clamp=True), legend=legend),
        tooltip=[alt.Tooltip("layer:N"), alt.Tooltip("start:Q", title="from step", format=","),
                 alt.Tooltip("last:Q", title="to step", format=","), alt.Tooltip("norm:Q", title="‖∇W‖",
                                                                                  format=".3g")],
    )
