"""AppTest of the Bridges page: every pair renders both models and both scores, the logistic
pair agrees numerically, widgets reach the fits, the self-organising map plays, steps and resets."""
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.bridges.state import DEFAULTS, TAB_NAMES, SOMRun, compute_logistic, som_config_from_widgets
from engine.core.device import use_one_cpu_thread
from tests.chart_helpers import charts, live_keys

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "bridges" / "page.py")
use_one_cpu_thread()  # as the app does: tiny models run faster on one thread


@pytest.fixture(scope="module")
def at() -> AppTest:
    """One page for the module: the first run imports scikit-learn and fits every pair."""
    app = AppTest.from_file(PAGE, default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def show(at: AppTest, tab: int) -> AppTest:
    """Open a tab as a click does (only the open tab runs)."""
    at.session_state["br_tab"] = TAB_NAMES[tab]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("tab, names, n_charts", [
    (0, ("Logistic regression", "Neuron"), 3), (1, ("Linear SVM", "Hinge neuron"), 3),
    (2, ("RBF SVM", "RBF network"), 2), (3, ("Tree", "Network"), 3)])
def test_every_pair_shows_both_models_and_both_scores(at, tab, names, n_charts):
    show(at, tab)
    assert not at.error
    m = metrics(at)
    for name in names:
        assert m[f"{name}: train"].endswith("%") and m[f"{name}: test"].endswith("%"), name
    assert len(charts(at)) == n_charts  # both boundaries, and the training curve where there is one
    text = " ".join(md.value for md in at.markdown)
    if tab == 0:
        table = at.dataframe[0].value
        assert list(table["parameter"]) == ["w₁", "w₂", "b"]
        assert np.all(table["|difference|"] < 1e-3 * table["scikit-learn"].abs().max())
        assert "Largest gap" in text
    if tab == 3:
        assert "One quantity, two names" in text


def test_the_map_tab_starts_crumpled(at):
    show(at, 4)
    m = metrics(at)
    assert m["Step"] == "0" and float(m["SOM quantisation error"]) > float(m["k-means quantisation error"])
    assert len(charts(at)) == 3 and len(live_keys(at)) == 3  # k-means cells, the map, the schedule


def test_widgets_reach_the_fits(at):
    show(at, 0)
    at.select_slider(key="br_lr_C").set_value(0.01).run()
    assert not at.exception
    expected = compute_logistic(DEFAULTS["br_lr_data"], DEFAULTS["br_lr_noise"], 0.01, DEFAULTS["br_lr_steps"], 0)
    table = at.dataframe[0].value
    assert np.allclose(table["scikit-learn"], expected["sklearn"])
    assert np.all(np.abs(table["neuron, final"] - expected["sklearn"]) < 1e-3 * np.abs(expected["sklearn"]).max())
    show(at, 3)
    at.selectbox(key="br_tree_criterion").set_value("entropy").run()
    at.selectbox(key="br_tree_loss").set_value("ce").run()
    assert not at.exception
    assert any("entropy (in nats)" in md.value for md in at.markdown)
    show(at, 0)
    assert at.select_slider(key="br_lr_C").value == 0.01  # kept while another tab was shown
    show(at, 4)
    at.slider(key="br_som_rows").set_value(4).run()
    run: SOMRun = at.session_state.br_som_run
    assert run.config.rows == 4 and run.kmeans["centres"].shape == (4 * 8, 2)


def test_the_map_plays_steps_and_resets(at):
    show(at, 4)
    at.button(key="br_som_play").click().run()
    assert at.session_state.br_som_run.playing
    at.run()
    run = at.session_state.br_som_run
    assert run.trainer.step_count > 0 and len(run.trainer.history) > 1
    assert int(metrics(at)["Step"].replace(",", "")) > 0
    at.button(key="br_som_pause").click().run()  # Pause
    before = at.session_state.br_som_run.trainer.step_count
    at.button(key="br_som_step").click().run()
    assert at.session_state.br_som_run.trainer.step_count == before + 100
    at.button(key="br_som_reset").click().run()
    assert at.session_state.br_som_run is not run and metrics(at)["Step"] == "0"


def test_the_map_on_digits_shows_prototype_images(at):
    show(at, 4)
    at.selectbox(key="br_som_data").set_value("digits").run()
    assert not at.exception
    run = at.session_state.br_som_run
    assert run.trainer.x_np.shape[1] == 64
    titles = [json.dumps(c) for c in charts(at).values()]
    assert any("SOM prototypes" in s for s in titles) and any("k-means centres" in s for s in titles)


def test_the_map_stops_at_the_end_of_its_schedule():
    state = dict(DEFAULTS, br_som_steps=500, br_som_speed="as fast as possible")
    run = SOMRun.build(som_config_from_widgets(state, 0), points_per_frame=0)
    run.play()
    for _ in range(50):
        run.tick(0.05)
        if not run.playing:
            break
    assert not run.playing and run.trainer.step_count == 500 and "schedule is over" in run.message
    run.play()  # nothing left to play: it says so instead of running on
    assert not run.playing and "Reset" in run.message


def test_the_transfer_tab_waits_for_the_button(at):
    show(at, 5)
    assert at.button(key="br_tr_go") and any("Compute the curve" in i.value for i in at.info)
    assert not at.get("plotly_chart")  # the encoder is loaded only on request
