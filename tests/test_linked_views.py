"""The linked views (viz/linked.py, app_pages/*/linked.py): a selection in one Altair chart drives
another view. AppTest renders each page, feeds a selection as the browser sends it, and checks
that the driven view shows exactly the items an independent filter of the data picks: the test
digits inside a brushed box of the code plane, the test texts of a clicked cell of the confusion
matrix, the recorded steps inside a brushed range of the loss curve."""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from app_pages.autoencoders.linked import brushed_images, digit_counts
from app_pages.sentiment.linked import picked_cells
from app_pages.vanishing.linked import range_columns
from viz.linked import CELL_CLICK, CODE_BRUSH, PREDICTED_FIELD, STEP_BRUSH, TRUE_FIELD

PAGES = Path(__file__).resolve().parent.parent / "app_pages"


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as app.py sets it
    yield
    torch.set_num_threads(before)


def open_page(name: str, **widgets) -> AppTest:
    at = AppTest.from_file(str(PAGES / name / "page.py"), default_timeout=120)
    for key, value in widgets.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def vega_chart(at: AppTest, key: str):
    """The Altair chart that takes selections under `key` (a chart without one has no key)."""
    found = [c for c in at.get("vega_lite_chart") if c.key == key]
    assert len(found) == 1, f"one chart keyed {key!r} expected, found {[c.key for c in at.get('vega_lite_chart')]}"
    return found[0]


def frames(chart) -> list:
    """The chart's data sets as DataFrames (Streamlit sends them as Arrow)."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


def chart_data(at: AppTest, column: str, key: str | None = None) -> list:
    """In page order, the data set holding `column` of each Altair chart (of chart `key` only, if given)."""
    charts = [vega_chart(at, key)] if key else at.get("vega_lite_chart")
    return [f for c in charts for f in frames(c) if column in f.columns]


def select(at: AppTest, key: str, selection: dict) -> AppTest:
    """Rerun the page as the browser does after a selection in the Altair chart `key`. Streamlit's
    testing API has no element for Vega-Lite charts, so the selection goes in as the widget value
    the browser sends for them: the JSON text of {"selection": {parameter name: value}}."""
    states = at._tree.get_widget_states()
    value = json.dumps({"selection": selection})
    states.widgets.append(WidgetState(id=vega_chart(at, key).proto.id, string_value=value))
    at._run(states)
    assert not at.exception, [e.value for e in at.exception]
    return at


def png_ink(url: str) -> np.ndarray:
    """The 64 pixels of a digit drawn as a PNG data URI, back on the [0, 1] ink scale (1 = #1b1b1b)."""
    grey = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))), dtype=np.float64)
    return (255 - grey.ravel()) / (255 - 0x1b)


def markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_brushing_codes_shows_exactly_those_digits_beside_their_reconstructions():
    at = open_page("autoencoders")
    assert "No digits brushed yet" in markdown(at)
    at.button(key="ae_step").click().run()
    trainer = at.session_state.ae_run.trainer
    codes = trainer.encode(trainer.x_test_np)  # a 2-number code: the plane is the code itself
    (plotted,) = chart_data(at, "image", key="ae_codes_brush")
    assert np.allclose(plotted[["x", "y"]].to_numpy(), codes, atol=1e-6)
    (x0, x1), (y0, y1) = np.percentile(codes[:, 0], [20, 70]), np.percentile(codes[:, 1], [30, 80])
    expected = [i for i, (x, y) in enumerate(codes) if x0 <= x <= x1 and y0 <= y <= y1]
    assert len(expected) > 24  # more than are drawn: the count says how many, the first 24 are drawn

    select(at, "ae_codes_brush", {CODE_BRUSH: {"x": [x1, x0], "y": [y0, y1]}})  # dragged right to left
    digits = trainer.y_test[expected]
    assert f"{len(expected)} digits brushed" in markdown(at) and digit_counts(digits) in markdown(at)
    (pairs,) = chart_data(at, "url")
    assert list(dict.fromkeys(pairs["image"])) == expected[:24]
    shown = expected[:24]
    with torch.no_grad():
        redrawn = trainer.model.decode(trainer.model.encode(torch.as_tensor(trainer.x_test_np[shown]))).numpy()
    for drawn, want in (("original", trainer.x_test_np[shown]), ("autoencoder", redrawn)):
        part = pairs[pairs["drawn"] == drawn]
        assert list(part["image"]) == shown and list(part["digit"]) == list(trainer.y_test[shown])
        ink = np.stack([png_ink(url) for url in part["url"]])
        assert np.abs(ink - np.clip(want, 0, 1)).max() < 0.01  # the pictures are those digits, as 8-bit greys

    # A Step keeps the brush and shows what the moved codes now hold.
    at.button(key="ae_step").click().run()
    assert not at.exception and trainer.step_count == 200
    moved = trainer.encode(trainer.x_test_np)
    now = [i for i, (x, y) in enumerate(moved) if x0 <= x <= x1 and y0 <= y <= y1]
    assert now != expected and f"{len(now)} digits brushed" in markdown(at)
    (pairs,) = chart_data(at, "url")
    assert list(dict.fromkeys(pairs["image"])) == now[:24]
    # Play takes the area away (the live frames never redraw it); Pause brings it back.
    at.button(key="ae_play").click().run()
    assert any("Pause to brush the codes" in c.value for c in at.caption)
    assert not at.get("vega_lite_chart") and not at.exception
    at.button(key="ae_pause").click().run()
    assert [c.key for c in at.get("vega_lite_chart")] == ["ae_codes_brush"] and not at.exception


def test_clicking_a_confusion_cell_lists_exactly_its_texts():
    at = open_page("sentiment", sn_max_rows=1000)
    at.button(key="sn_step").click().run()
    trainer = at.session_state.sn_lab.trainer
    report = trainer.test_report()
    cells = chart_data(at, "texts", key="sn_confusion_cells")[0]
    assert cells["texts"].sum() == len(trainer.data.splits["test"])
    assert not any("test texts" in m.value for m in at.markdown)
    test = trainer.data.splits["test"]
    predicted = trainer.evaluate(test)[2].argmax(1)
    y = trainer.data.y[test]
    mistakes = [(t, p) for t in range(3) for p in range(3) if t != p]
    true_i, pred_i = max(mistakes, key=lambda cell: report["confusion"][cell[0]][cell[1]])  # the largest
    names = trainer.class_names
    select(at, "sn_confusion_cells", {CELL_CLICK: [{TRUE_FIELD: names[true_i], PREDICTED_FIELD: names[pred_i]}]})
    expected = sorted(trainer.data.texts[test[i]] for i in np.flatnonzero((y == true_i) & (predicted == pred_i)))
    assert len(expected) == report["confusion"][true_i][pred_i] > 0
    (table,) = [d.value for d in at.dataframe if "P(predicted)" in d.value.columns]
    assert sorted(table["text"]) == expected
    assert set(table["true"]) == {names[true_i]} and set(table["predicted"]) == {names[pred_i]}
    assert list(table["P(predicted)"]) == sorted(table["P(predicted)"], reverse=True)  # the surest mistakes first
    for _, row in table.head(5).iterrows():  # the probabilities are the network's for that very text
        assert row["P(predicted)"] == pytest.approx(trainer.predict(row["text"])[pred_i], abs=1e-4)
    assert f"{len(expected):,} test text" in markdown(at)


def test_brushing_steps_shows_every_layer_at_exactly_those_steps():
    at = open_page("vanishing")
    lab = at.session_state.vg_lab
    lab.step(39)
    at.run()
    assert "No steps brushed yet" in markdown(at)
    lo, hi = 10.4, 30.6
    select(at, "vg_steps_brush", {STEP_BRUSH: {"step": [lo, hi]}})
    assert "Steps 11 to 30" in markdown(at)
    heatmaps = chart_data(at, "log_norm")
    assert len(heatmaps) == len(lab.runs) > 1  # one per network compared, on one colour scale
    for run, heat in zip(lab.runs, heatmaps):
        rows = np.flatnonzero((run.steps >= lo) & (run.steps <= hi))
        assert sorted(set(heat["start"])) == list(run.steps[rows]) == list(range(11, 31))
        layers = [n.replace("hidden", "layer ") for n in run.layer_names]
        grid = heat.pivot(index="start", columns="layer", values="log_norm")[layers].to_numpy()
        assert np.allclose(grid, np.log10(np.clip(run.norms[rows], 1e-30, None)), atol=1e-9)
    select(at, "vg_steps_brush", {STEP_BRUSH: {"step": [12.2, 12.8]}})  # between two steps
    assert "No step in this range" in markdown(at) and not chart_data(at, "log_norm")


def test_selection_readers_take_what_the_browser_sends():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [1.5, 3.0]])
    assert list(brushed_images(coords, {CODE_BRUSH: {"x": [2.1, 0.9], "y": [0.2, 1.2]}})) == [1, 2]
    assert len(brushed_images(coords, {CODE_BRUSH: {}})) == 0 and len(brushed_images(coords, None)) == 0
    names = ["neg", "neu", "pos"]
    clicks = [{TRUE_FIELD: "pos", PREDICTED_FIELD: "neg"}, {TRUE_FIELD: "gone", PREDICTED_FIELD: "neg"}]
    assert picked_cells({CELL_CLICK: clicks}, names) == [(2, 0)]
    assert picked_cells({CELL_CLICK: {TRUE_FIELD: ["neu"], PREDICTED_FIELD: ["pos"]}}, names) == [(1, 2)]
    assert picked_cells({CELL_CLICK: []}, names) == []


def test_many_steps_are_averaged_in_groups_that_cover_each_once():
    rng = np.random.default_rng(0)
    steps = np.concatenate([np.arange(1, 801, 2), np.arange(801, 1401)])  # older history keeps every other step
    norms = 10.0 ** rng.uniform(-8, 0, size=(len(steps), 3))
    starts, ends, logs = range_columns(steps, norms, 100, 1300, max_columns=50)
    assert len(starts) == 50 and starts[0] == 101 and ends[-1] == 1301
    assert np.array_equal(starts[1:], ends[:-1])  # consecutive, no gap, no overlap
    for start, end, column in zip(starts, ends, logs):
        inside = (steps >= start) & (steps < end)
        assert np.allclose(column, np.log10(norms[inside]).mean(axis=0))
