"""The live views' canvas data (viz.playground): boundary_canvas, the picture boundary_figure
draws (orientation, colours, hover values, points, legend, colour bar), and loss_curves (the
series, the accuracy axis, broken curves, thinning); both strict JSON."""
import base64
import json

import numpy as np
import pytest

from viz.colors import BLUE, CLASS_COLORS, ORANGE
from viz.playground import HEATMAP_OPACITY, boundary_canvas, loss_curves

RES = 8


def pixels(data: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(data["rgb"]), dtype=np.uint8)
    return raw.reshape(data["res"], data["res"], 3)


def shown(color: str) -> np.ndarray:
    """A colour as the canvas shows it: blended with white at the map's opacity."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.round(HEATMAP_OPACITY * rgb + (1 - HEATMAP_OPACITY) * 255)


def two_class_output() -> np.ndarray:
    """P(class 1) = 1 on the upper half of the plane (rows run from x2 = -6 upwards), 0 below."""
    out = np.zeros((RES, RES), dtype=np.float32)
    out[RES // 2:] = 1.0
    return out


POINTS = np.array([[-1.0, 2.0], [3.0, -4.0], [0.5, 0.5]])
LABELS = np.array([1, 0, 1])


def test_two_classes_top_row_is_the_upper_plane_and_hover_reads_probabilities():
    data = boundary_canvas(two_class_output(), 2, POINTS, LABELS)
    img = pixels(data)
    assert img.shape == (RES, RES, 3)
    np.testing.assert_allclose(img[0, 0], shown(BLUE), atol=1)    # canvas row 0 is x2 = +6: class 1
    np.testing.assert_allclose(img[-1, 0], shown(ORANGE), atol=1)  # the last row is x2 = -6: class 0
    assert data["values"][:RES] == [1.0] * RES and data["values"][-RES:] == [0.0] * RES
    assert data["hover_label"] == "P(blue) =" and data["hover_digits"] == 2
    assert data["colorbar"] is None and data["legend"] is False and data["domain"] == 6.0
    (train,) = data["points"]
    assert train["name"] == "train" and train["edge"] == "white"
    assert train["x"] == [-1.0, 3.0, 0.5] and train["y"] == [2.0, -4.0, 0.5]
    assert train["color"] == [BLUE, ORANGE, BLUE] and train["label"] == ["class 1", "class 0", "class 1"]


def test_discretized_map_has_two_colours_and_keeps_the_probabilities_for_hover():
    out = np.linspace(0.1, 0.9, RES * RES, dtype=np.float32).reshape(RES, RES)
    data = boundary_canvas(out, 2, POINTS, LABELS, discretize=True)
    colours = {tuple(c) for c in pixels(data).reshape(-1, 3)}
    assert colours == {tuple(shown(BLUE)), tuple(shown(ORANGE))}
    assert min(data["values"]) == pytest.approx(0.1) and max(data["values"]) == pytest.approx(0.9)


def test_test_points_get_a_black_edge_and_a_legend():
    data = boundary_canvas(two_class_output(), 2, POINTS, LABELS, POINTS[:2] * 0.5, LABELS[:2])
    assert [s["name"] for s in data["points"]] == ["train", "test"]
    assert data["points"][1]["edge"] == "black" and data["legend"] is True


def test_more_classes_colour_each_class_and_hover_names_it():
    out = np.repeat(np.arange(RES)[None, :] % 3, RES, axis=0).astype(np.float32)  # class by column
    data = boundary_canvas(out, 3, POINTS, np.array([0, 1, 2]))
    img = pixels(data)
    for column in range(3):
        np.testing.assert_allclose(img[0, column], shown(CLASS_COLORS[column]), atol=1)
    assert data["hover_label"] == "class" and data["hover_digits"] == 0
    assert data["points"][0]["color"] == CLASS_COLORS[:3]


def test_regression_has_a_colour_bar_and_colours_targets_by_sign():
    out = np.full((RES, RES), -1.0, dtype=np.float32)
    data = boundary_canvas(out, 0, POINTS, np.array([0.5, -0.2, 0.0]))
    np.testing.assert_allclose(pixels(data)[3, 3], shown(ORANGE), atol=1)
    assert data["hover_label"] == "prediction"
    assert data["colorbar"]["min"] == -1 and data["colorbar"]["max"] == 1
    assert data["points"][0]["color"] == [BLUE, ORANGE, BLUE]
    assert data["points"][0]["label"] == ["target 0.50", "target -0.20", "target 0.00"]


def test_strict_json_even_for_a_diverged_network():
    out = np.full((RES, RES), np.nan, dtype=np.float32)
    data = boundary_canvas(out, 2, POINTS, LABELS, clickable=True, height=300)
    text = json.dumps(data, allow_nan=False)  # NaN is not JSON: the browser could not parse it
    assert json.loads(text)["clickable"] is True and data["height"] == 300


def test_a_grid_that_is_not_square_is_refused():
    with pytest.raises(ValueError, match="square"):
        boundary_canvas(np.zeros((4, 5)), 2, POINTS, LABELS)


def history(losses, accuracies=None, test=True):
    rows = []
    for i, loss in enumerate(losses):
        row = {"epoch_exact": float(i), "train_loss": loss, "test_loss": loss * 1.1 if test else None}
        if accuracies is not None:
            row.update(train_accuracy=accuracies[i], test_accuracy=accuracies[i] if test else None)
        rows.append(row)
    return rows


def test_loss_curves_for_classification_put_accuracies_on_the_second_axis():
    data = loss_curves(history([0.7, 0.5, 0.3], [0.5, 0.75, 1.0]), classification=True)
    assert [(s["name"], s["axis"], s["dash"]) for s in data["series"]] == [
        ("Train loss", "y", False), ("Test loss", "y", False), ("Train accuracy", "y2", True),
        ("Test accuracy", "y2", True)]
    assert data["series"][0]["x"] == [0.0, 1.0, 2.0] and data["series"][0]["y"] == [0.7, 0.5, 0.3]
    assert data["series"][3]["y"] == [0.5, 0.75, 1.0]
    assert data["y2_title"] == "accuracy" and data["empty_text"] is None


def test_loss_curves_without_test_data_or_classes_and_before_training():
    data = loss_curves(history([0.7, 0.5], test=False), classification=False)
    assert [s["name"] for s in data["series"]] == ["Train loss"] and data["y2_title"] is None
    assert loss_curves(history([0.7]), classification=True)["empty_text"] == "Nothing trained yet"


def test_a_diverged_loss_breaks_the_curve_and_stays_strict_json():
    data = loss_curves(history([0.7, float("nan"), float("inf")]), classification=False)
    assert data["series"][0]["y"] == [0.7, None, None]
    json.dumps(data, allow_nan=False)


def test_long_runs_are_thinned_to_about_a_thousand_points_keeping_the_last():
    data = loss_curves(history([1.0 / (i + 1) for i in range(5000)]), classification=False)
    xs = data["series"][0]["x"]
    assert 1000 <= len(xs) <= 1002 and xs[-1] == 4999.0
