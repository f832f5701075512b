"""Figures of the Playground page: decision boundary, loss curves, network diagram. The live
view's boundary and curves are plain data for canvases (app_pages/common/live_canvas.py); the
Plotly boundary_figure serves the pages that draw a boundary once."""
from __future__ import annotations

import base64
import math

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, DIVERGING, ORANGE, diverging_rgb, hex_to_rgb, map_to_data_uri

DOMAIN = 6.0
HEATMAP_OPACITY = 0.65  # the output map under the data points


def _class_colorscale(n_classes: int) -> list:
    """A stepped colour scale for class indices 0..n-1 (heatmap z = class index)."""
    scale = []
    for k in range(n_classes):
        scale += [[k / n_classes, CLASS_COLORS[k]], [(k + 1) / n_classes, CLASS_COLORS[k]]]
    return scale


def boundary_figure(output: np.ndarray, n_classes: int, train_xy: np.ndarray, train_y: np.ndarray,
                    test_xy: np.ndarray | None = None, test_y: np.ndarray | None = None,
                    discretize: bool = False, height: int = 440) -> go.Figure:
    """The model's output over [-6, 6]² under the data points.

    output: (res, res), row 0 at x2 = -6 — P(class 1) for two classes, the winning class
    index for more, the predicted value for regression (n_classes = 0).
    Train points have a white edge, test points a black one. (The Playground's live view
    draws the same picture with boundary_canvas.)"""
    if output.ndim != 2 or output.shape[0] != output.shape[1]:
        raise ValueError(f"output must be a square (res, res) grid, got shape {output.shape}")
    res = output.shape[0]
    axis = np.linspace(-DOMAIN, DOMAIN, res)
    if n_classes > 2:
        z, zmin, zmax, scale = output, -0.5, n_classes - 0.5, _class_colorscale(n_classes)
        hover = "x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>class %{z:.0f}<extra></extra>"
    else:
        z = output * 2 - 1 if n_classes == 2 else output  # P(class 1) in [0,1] -> [-1,1]
        if discretize:
            z = np.sign(z)
        zmin, zmax, scale = -1, 1, DIVERGING
        hover = ("x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>" +
                 ("P(blue) = %{customdata:.2f}" if n_classes == 2 else "prediction %{z:.2f}") + "<extra></extra>")
    fig = go.Figure(go.Heatmap(x=axis, y=axis, z=z, zmin=zmin, zmax=zmax, colorscale=scale, opacity=HEATMAP_OPACITY,
                               showscale=n_classes == 0, customdata=output if n_classes == 2 else None,
                               hovertemplate=hover, name="model output",
                               colorbar=dict(thickness=10, len=0.6, title=dict(text="value"))))

    for points in _point_sets(n_classes, train_xy, train_y, test_xy, test_y):
        fig.add_trace(go.Scatter(x=points["x"], y=points["y"], mode="markers", name=points["name"], text=points["label"],
                                 marker=dict(color=points["color"], size=7, line=dict(color=points["edge"], width=1.2)),
                                 hovertemplate="%{text}<br>(%{x:.2f}, %{y:.2f})<extra>" + points["name"] + "</extra>"))
    fig.update_layout(showlegend=test_xy is not None and len(test_xy) > 0)  # a legend only to tell train from test
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), uirevision="boundary", dragmode=False,
    )
    fig.update_xaxes(range=[-DOMAIN, DOMAIN], constrain="domain", title_text="x₁", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-DOMAIN, DOMAIN], constrain="domain", scaleanchor="x", scaleratio=1, title_text="x₂",
                     showgrid=False, zeroline=False)
    return fig


def _point_sets(n_classes, train_xy, train_y, test_xy, test_y) -> list[dict]:
    """Train points (white edge) and test points (black edge, when given): coordinates, a
    colour and a hover label per point (its class, or its regression target)."""
    sets = []
    for name, xy, y, edge in (("train", train_xy, train_y, "white"), ("test", test_xy, test_y, "black")):
        if xy is None or len(xy) == 0:
            continue
        if n_classes >= 2:
            colors = [CLASS_COLORS[int(k) % len(CLASS_COLORS)] for k in y]
            labels = [f"class {int(k)}" for k in y]
        else:
            colors = [BLUE if v >= 0 else ORANGE for v in y]
            labels = [f"target {v:.2f}" for v in y]
        sets.append({"name": name, "edge": edge, "x": np.round(xy[:, 0], 4).tolist(),
                     "y": np.round(xy[:, 1], 4).tolist(), "color": colors, "label": labels})
    return sets


def boundary_canvas(output: np.ndarray, n_classes: int, train_xy: np.ndarray, train_y: np.ndarray,
                    test_xy: np.ndarray | None = None, test_y: np.ndarray | None = None,
                    discretize: bool = False, clickable: bool = False, height: int = 440) -> dict:
    """The picture boundary_figure draws, as plain data for the Playground's live canvas
    (assets/plane_canvas.js), which redraws it in place each frame.

    Keys: res; rgb (base64 of res x res x 3 bytes, row 0 at x2 = +6, the map already blended
    with white as at HEATMAP_OPACITY); values (the hover value of each cell, same order) with
    hover_label and hover_digits; domain; points (train, and test when given: x, y, color,
    label per point, edge colour); legend; colorbar (regression only: min, max, stops, title);
    clickable; height."""
    if output.ndim != 2 or output.shape[0] != output.shape[1]:
        raise ValueError(f"output must be a square (res, res) grid, got shape {output.shape}")
    res = output.shape[0]
    if n_classes > 2:
        palette = np.stack([hex_to_rgb(c) for c in CLASS_COLORS])
        rgb = palette[np.nan_to_num(output).astype(int) % len(CLASS_COLORS)]
        hover, label, digits = output, "class", 0
    else:
        z = output * 2 - 1 if n_classes == 2 else output  # P(class 1) in [0,1] -> [-1,1]
        if discretize:
            z = np.sign(z)
        rgb = diverging_rgb(z).astype(np.float32)
        hover = output
        label, digits = ("P(blue) =", 2) if n_classes == 2 else ("prediction", 2)
    rgb = HEATMAP_OPACITY * rgb + (1 - HEATMAP_OPACITY) * 255
    rows = np.round(rgb).astype(np.uint8)[::-1]  # the canvas draws rows top to bottom
    points = _point_sets(n_classes, train_xy, train_y, test_xy, test_y)
    return {
        "res": res, "rgb": base64.b64encode(rows.tobytes()).decode(),
        "values": np.round(np.nan_to_num(hover[::-1]), 4).ravel().tolist(), "hover_label": label, "hover_digits": digits,
        "domain": DOMAIN, "points": points, "legend": len(points) > 1,
        "colorbar": {"min": -1, "max": 1, "stops": DIVERGING, "title": "value"} if n_classes == 0 else None,
        "clickable": clickable, "height": height,
    }


def _finite_or_none(values) -> list:
    """JSON has no NaN or infinity: a diverged loss becomes null, and the curve breaks there."""
    return [round(float(v), 6) if v is not None and np.isfinite(v) else None for v in values]


def loss_curves(history: list[dict], classification: bool, height: int = 260) -> dict:
    """Loss curves as plain data for the live canvas (assets/curves_canvas.js): train and test
    loss against epochs, and for classification the accuracies, dotted, on a right-hand axis
    from 0 to 100 %.

    Keys: series (name, color, width, dash, axis "y" or "y2", x, y with null for a missing or
    non-finite value), x_title, y_title, y2_title (None without accuracies), empty_text, height."""
    if len(history) > 1500:  # keep the browser fast on long runs: thin out, keep the last point
        history = history[:: len(history) // 1000] + history[-1:]
    epochs = [round(float(h["epoch_exact"]), 4) for h in history]
    has_test = bool(history) and history[0].get("test_loss") is not None
    wanted = [("Train loss", "train_loss", "#333333", 2, False, "y"), ("Test loss", "test_loss", ORANGE, 2, False, "y")]
    if classification:
        wanted += [("Train accuracy", "train_accuracy", "#333333", 1, True, "y2"),
                   ("Test accuracy", "test_accuracy", ORANGE, 1, True, "y2")]
    series = [{"name": name, "color": color, "width": width, "dash": dash, "axis": axis, "x": epochs,
               "y": _finite_or_none(h.get(key) for h in history)}
              for name, key, color, width, dash, axis in wanted if has_test or not key.startswith("test")]
    return {"series": series, "x_title": "epoch", "y_title": "loss",
            "y2_title": "accuracy" if classification else None,
            "empty_text": "Nothing trained yet" if len(history) < 2 else None, "height": height}


EDGE_POINT = 0.65


def _column_positions(n: int) -> np.ndarray:
    """Vertical centres of n nodes, top to bottom, one unit apart, centred on 0."""
    return (n - 1) / 2 - np.arange(n)


def network_figure(input_labels: list[str], input_maps: np.ndarray, neuron_maps: list[np.ndarray],
                   weights: list[np.ndarray], output_map: np.ndarray | None = None,
                   selected: tuple[int, int] | None = None) -> go.Figure:
    """The network as TensorFlow Playground draws it: each node a small map of what it
    computes over the plane, edges blue (positive) / orange (negative), thicker for larger |w|.

    input_maps (n_inputs, r, r); neuron_maps one (width, r, r) per hidden layer;
    weights one (out, in) matrix per linear layer, input to output; output_map (r, r) or None.
    Hovering an edge shows its weight; each node carries customdata [column, index], each edge's
    midpoint ["w", layer, to, from] (layer 0 joins the inputs to the first hidden layer)."""
    widths = [len(input_labels)] + [m.shape[0] for m in neuron_maps] + [weights[-1].shape[0]]
    if len(weights) != len(widths) - 1:
        raise ValueError(f"need {len(widths) - 1} weight matrices (one per linear layer), got {len(weights)}")
    for i, w in enumerate(weights):
        if w.shape != (widths[i + 1], widths[i]):
            raise ValueError(f"weights[{i}] must have shape {(widths[i + 1], widths[i])}, got {w.shape}")
    cols = len(widths)
    ys = [_column_positions(n) for n in widths]
    size = 0.62
    fig = go.Figure()

    # Edges, grouped by sign and thickness so that a few traces draw them all.
    # A weight that is not finite (a diverged run) is drawn as the thinnest line; the hover says nan.
    wmax = max((float(np.abs(w[np.isfinite(w)]).max()) for w in weights if np.isfinite(w).any()), default=0.0) or 1.0
    groups: dict[tuple[bool, int], tuple[list, list]] = {}
    mid_x, mid_y, mid_text, mid_data = [], [], [], []
    names = ["input"] + [f"hidden{i + 1}" for i in range(len(neuron_maps))] + ["output"]
    for c, w in enumerate(weights):
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                value = float(w[j, i])
                key = (value >= 0, int(np.ceil(6 * min(abs(value), wmax) / wmax)) if math.isfinite(value) else 0)
                xs, yy = groups.setdefault(key, ([], []))
                xs += [c + size / 2, c + 1 - size / 2, None]
                yy += [ys[c][i], ys[c + 1][j], None]
                # The hover and click point of an edge, EDGE_POINT of the way to its neuron: at the middle,
                # edges that cross (x1 -> h1 and x2 -> h0) would share one point and a click could not tell them apart.
                mid_x.append(c + size / 2 + EDGE_POINT * (1 - size))
                mid_y.append(ys[c][i] + EDGE_POINT * (ys[c + 1][j] - ys[c][i]))
                mid_text.append(f"{names[c]}[{i}] → {names[c + 1]}[{j}]<br>w = {value:+.3f}<br>click to edit")
                mid_data.append(["w", c, j, i])
    for (positive, thickness), (xs, yy) in sorted(groups.items()):
        fig.add_trace(go.Scatter(x=xs, y=yy, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(color=BLUE if positive else ORANGE, width=0.4 + 0.7 * thickness),
                                 opacity=0.75))
    fig.add_trace(go.Scatter(x=mid_x, y=mid_y, mode="markers", marker=dict(size=9, color="rgba(0,0,0,0)"),
                             customdata=mid_data, text=mid_text, hovertemplate="%{text}<extra></extra>", showlegend=False, name="weights"))

    # Nodes: an image per node, and an invisible square marker on it for hover and click.
    maps = [input_maps] + list(neuron_maps)
    images, node_x, node_y, node_text, node_data = [], [], [], [], []
    for c in range(cols):
        for k in range(widths[c]):
            grid = maps[c][k] if c < len(maps) else (output_map if widths[c] == 1 else None)
            if grid is not None:
                images.append(dict(source=map_to_data_uri(grid), xref="x", yref="y", x=c - size / 2,
                                   y=ys[c][k] + size / 2, sizex=size, sizey=size, sizing="stretch", layer="above"))
            label = input_labels[k] if c == 0 else f"{names[c]}[{k}]"
            node_x.append(c)
            node_y.append(ys[c][k])
            node_text.append(label + ("<br>click to enlarge" if c == 0 else "<br>click to edit its bias"
                                      if c == cols - 1 else "<br>click to enlarge, edit its bias"))
            node_data.append([c, k])
    outline = ["#222222" if selected == (d[0], d[1]) else "#999999" for d in node_data]
    fig.add_trace(go.Scatter(x=node_x, y=node_y, mode="markers", customdata=node_data, text=node_text,
                             hovertemplate="%{text}<extra></extra>", showlegend=False, name="neurons",
                             marker=dict(symbol="square-open", size=34, color=outline, line=dict(width=1))))
    fig.update_layout(images=images)
    top = max(y[0] for y in ys) + 0.5
    annotations = [dict(x=-size / 2 - 0.08, y=ys[0][i], text=label, showarrow=False, xanchor="right", font=dict(size=12))
                   for i, label in enumerate(input_labels)]
    for c in range(cols):
        title = "Input" if c == 0 else ("Output" if c == cols - 1 else f"Hidden {c}<br>{widths[c]} neurons")
        annotations.append(dict(x=c, y=top, text=title, showarrow=False, yanchor="bottom",
                                font=dict(size=11, color="#555555")))
    fig.update_layout(annotations=annotations)
    bottom = min(y[-1] for y in ys) - 0.5
    fig.update_xaxes(range=[-1.3, cols - 0.5], visible=False, fixedrange=True, constrain="domain")
    fig.update_yaxes(range=[bottom, top + 0.9], visible=False, fixedrange=True, scaleanchor="x", constrain="domain")
    units = top + 0.9 - bottom
    fig.update_layout(height=int(40 + units * min(85, max(40, 560 / units))), margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white",
                      clickmode="event+select", dragmode=False, uirevision="network")
    return fig


def neuron_figure(grid: np.ndarray, title: str, train_xy: np.ndarray, train_y: np.ndarray, n_classes: int,
                  height: int = 300) -> go.Figure:
    """One neuron's output over the plane, enlarged, with the training points on it."""
    res = grid.shape[0]
    axis = np.linspace(-DOMAIN, DOMAIN, res)
    scale = float(np.nanmax(np.abs(grid), initial=0.0)) if np.isfinite(grid).any() else 1.0
    scale = scale if math.isfinite(scale) and scale > 0 else 1.0
    fig = go.Figure(go.Heatmap(x=axis, y=axis, z=grid, zmin=-scale, zmax=scale, colorscale=DIVERGING,
                               colorbar=dict(thickness=10, title=dict(text="activation")),
                               hovertemplate="x₁=%{x:.2f}<br>x₂=%{y:.2f}<br>activation %{z:.3f}<extra></extra>"))
    colors = [CLASS_COLORS[int(k) % len(CLASS_COLORS)] for k in train_y] if n_classes >= 2 else "#555555"
    fig.add_trace(go.Scatter(x=train_xy[:, 0], y=train_xy[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(size=5, color=colors, line=dict(color="white", width=0.8))))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=10, r=10, t=35, b=10),
                      plot_bgcolor="white")
    fig.update_xaxes(range=[-DOMAIN, DOMAIN], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-DOMAIN, DOMAIN], constrain="domain", scaleanchor="x", showgrid=False, zeroline=False)
    return fig
