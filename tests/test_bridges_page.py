"""AppTest of the Bridges page: every pair renders both models and both scores, the logistic
pair agrees numerically, widgets reach the fits, the self-organising map plays, steps and resets."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app_pages.bridges.state import (ALL_SETS, C_VALUES, DEFAULTS, FRAME_TRAIN_SECONDS, GAMMAS, LR_STEPS, RBF_STEPS,
                                     RBF_UNITS, SOM_DATASETS, SOM_RADII, SOM_RATES, SOM_SCHEDULES, SOM_SIDES,
                                     SOM_SPEED_WORDS, SVM_STEPS, TABS, TAB_NAMES, TICK_SECONDS, TRANSFER_SAMPLES,
                                     TREE_CRITERIA, TREE_DEPTHS, TREE_LOSSES, TREE_STEPS, TWO_CLASS_SETS, SOMRun,
                                     compute_logistic, default_widgets, som_config_from_widgets, widgets_from_query,
                                     widgets_to_query)
from app_pages.common.address import format_value
from app_pages.common.frame_interval import LiveRuns
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


def test_play_and_pause_start_and_stop_the_maps_pace_and_a_frame_trains_what_it_leaves():
    """The live map's pace (common/frame_interval.py): Play measures the browser afresh, Pause (and the end
    of the schedule) gives the server back, and a frame trains what the interval leaves after the
    drawing, at most FRAME_TRAIN_SECONDS."""
    state = dict(DEFAULTS, br_som_steps=500)
    run = SOMRun.build(som_config_from_widgets(state, 0), points_per_frame=0)
    run.pace.runs = LiveRuns()                     # this test's own server
    budgets = []
    train_for = run.trainer.train_for
    run.trainer.train_for = lambda seconds, max_steps: budgets.append(seconds) or train_for(seconds, max_steps=1)
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2           # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pace.draw_seconds = 0.01                   # a quick drawing: the frame's training is capped
    run.tick()
    run.pace.draw_seconds = 0.15                   # a slow drawing leaves less of the frame to training
    run.tick()
    assert budgets == [FRAME_TRAIN_SECONDS, pytest.approx(0.8 * TICK_SECONDS - 0.15)]
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    assert run.pace.frame_interval() == TICK_SECONDS
    run.pace.frame_started()
    run.trainer.train_for = train_for
    while run.playing:                             # the end of the schedule: stopped by itself, it leaves the server
        run.tick(0.05)
    assert run.trainer.finished and run.pace.runs.ticked(-1) == 1


def test_the_transfer_tab_waits_for_the_button(at):
    show(at, 5)
    assert at.button(key="br_tr_go") and any("Compute the curve" in i.value for i in at.info)
    assert not at.get("plotly_chart")  # the encoder is loaded only on request


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_and_a_custom_setup():
    import re

    from app_pages.bridges.state import URL_PARAMS, default_widgets, widgets_from_query, widgets_to_query
    names, keys = [p.name for p in URL_PARAMS], [p.key for p in URL_PARAMS]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)?", n) and len(n) <= 24
                                                 for n in names)
    assert not {"embed", "embed_options"} & set(names)  # Streamlit's own parameters: a page cannot set them
    assert set(keys) <= set(default_widgets()) and set(default_widgets()) - set(keys) == {"br_tree_hidden"}  # no widget
    defaults = default_widgets()
    assert all(p.parse(p.format(defaults[p.key])) == defaults[p.key] for p in URL_PARAMS)
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    values = {**defaults, "br_tab": TAB_NAMES[2], "br_lr_data": "xor", "br_lr_noise": 0.05, "br_lr_C": 0.001,
              "br_lr_steps": 1990, "br_svm_data": "moons", "br_svm_C": 1000.0, "br_svm_steps": 100,
              "br_rbf_data": "blobs", "br_rbf_noise": 0.5, "br_rbf_gamma": 5.0, "br_rbf_centres": 40,
              "br_rbf_steps": 50, "br_tree_data": "gauss", "br_tree_criterion": "entropy", "br_tree_depth": 1,
              "br_tree_loss": "ce", "br_tree_steps": 4000, "br_som_data": "digits", "br_som_rows": 20,
              "br_som_cols": 2, "br_som_steps": 32000, "br_som_lr": 0.05, "br_som_radius": 8.0,
              "br_som_speed": "as fast as possible", "br_tr_n": 2400}
    query = widgets_to_query(values, 3)
    assert query == {"tab": "rbf", "logistic.data": "xor", "logistic.noise": "0.05", "logistic.c": "0.001",
                     "logistic.steps": "1990", "svm.data": "moons", "svm.c": "1000", "svm.steps": "100",
                     "rbf.data": "blobs", "rbf.noise": "0.5", "rbf.gamma": "5", "rbf.units": "40", "rbf.steps": "50",
                     "tree.data": "gauss", "tree.criterion": "entropy", "tree.depth": "1", "tree.loss": "ce",
                     "tree.steps": "4000", "som.data": "digits", "som.rows": "20", "som.cols": "2",
                     "som.steps": "32000", "som.lr": "0.05", "som.radius": "8", "som.speed": "max",
                     "transfer.tweets": "2400", "train.seed": "3"}
    restored, problems = widgets_from_query(query)
    assert not problems and {**defaults, **restored} == values


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.bridges.state import widgets_from_query
    values, problems = widgets_from_query({
        "tab": "tree", "logistic.data": "blobs", "logistic.c": "10", "svm.steps": "150", "rbf.gamma": "0.3",
        "rbf.units": "41", "tree.depth": "3", "tree.loss": "mse", "som.rows": "1", "som.speed": "slow",
        "som.radius": "0", "transfer.tweets": "1000", "lr": "0.1"})
    assert values == {"br_tab": TAB_NAMES[3], "br_lr_C": 10.0, "br_tree_depth": 3, "br_som_speed":
                      "slow (20 points a frame)", "br_som_radius": 0.0}
    assert problems == [
        "logistic.data='blobs' was ignored: not one of gauss, moons, circle, xor, spiral",
        "svm.steps='150' was ignored: a whole number from 100 to 5000 in steps of 100",
        "rbf.gamma='0.3' was ignored: not one of 0.05, 0.1, 0.2, 0.5, 1, 2, 5",
        "rbf.units='41' was ignored: a whole number from 1 to 40",
        "tree.loss='mse' was ignored: not one of gini, ce",
        "som.rows='1' was ignored: a whole number from 2 to 20",
        "transfer.tweets='1000' was ignored: not one of 600, 1200, 2400"]


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    app = AppTest.from_file(PAGE, default_timeout=240)
    app.query_params.update({"tab": "tree", "tree.data": "moons", "tree.depth": "3", "tree.criterion": "entropy",
                             "tree.steps": "150", "svm.c": "0.1", "train.seed": "2"})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [w.value for w in app.warning] == [
        "The address: " + md_escape("tree.steps='150' was ignored: a whole number from 100 to 4000 in steps of 100")
        + "."]
    assert app.selectbox(key="br_tree_data").value == "moons" and app.slider(key="br_tree_depth").value == 3
    assert app.selectbox(key="br_tree_criterion").value == "entropy" and app.slider(key="br_tree_steps").value == 1500
    assert any("Decision tree (entropy): depth 3" in json.dumps(c) for c in charts(app).values())
    assert app.query_params == {"tab": "tree", "tree.data": "moons", "tree.depth": "3", "tree.criterion": "entropy",
                                "svm.c": "0.1", "train.seed": "2"}
    app.selectbox(key="br_tree_loss").set_value("ce").run()
    assert app.query_params["tree.loss"] == "ce" and not app.warning  # the warning is shown once
    app.session_state["br_tab"] = TAB_NAMES[1]
    app.run()
    assert app.select_slider(key="br_svm_C").value == 0.1 and app.query_params["tab"] == "svm"
    app.select_slider(key="br_svm_C").set_value(1.0).run()
    assert "svm.c" not in app.query_params and app.query_params["tree.loss"] == "ce"  # back to its default


# ---------- any setup the address can carry opens; hostile values are named, one line each ----------
PAIRS = {"br_lr_": 0, "br_svm_": 1, "br_rbf_": 2, "br_tree_": 3, "br_som_": 4, "br_tr_": 5}  # key prefix -> tab


def _whole(low: int, high: int, step: int = 1):
    return st.integers(0, (high - low) // step).map(lambda i: str(low + i * step))


def _one_of(choices):
    return st.sampled_from([format_value(c) for c in choices])


def _pair(pair: str, sets) -> dict:
    return {f"{pair}.data": _one_of(sets), f"{pair}.noise": st.integers(0, 10).map(lambda i: format_value(i / 20))}


ADDRESS_VALUES = {
    "tab": _one_of(TABS), **_pair("logistic", TWO_CLASS_SETS), "logistic.c": _one_of(C_VALUES),
    "logistic.steps": _whole(*LR_STEPS), **_pair("svm", TWO_CLASS_SETS), "svm.c": _one_of(C_VALUES),
    "svm.steps": _whole(*SVM_STEPS), **_pair("rbf", ALL_SETS), "rbf.c": _one_of(C_VALUES),
    "rbf.gamma": _one_of(GAMMAS), "rbf.units": _whole(*RBF_UNITS), "rbf.steps": _whole(*RBF_STEPS),
    **_pair("tree", ALL_SETS), "tree.criterion": _one_of(TREE_CRITERIA), "tree.depth": _whole(*TREE_DEPTHS),
    "tree.loss": _one_of(TREE_LOSSES), "tree.steps": _whole(*TREE_STEPS), "som.data": _one_of(SOM_DATASETS),
    "som.rows": _whole(*SOM_SIDES), "som.cols": _whole(*SOM_SIDES), "som.steps": _one_of(SOM_SCHEDULES),
    "som.lr": _one_of(SOM_RATES), "som.radius": _one_of(SOM_RADII), "som.speed": _one_of(SOM_SPEED_WORDS),
    "transfer.tweets": _one_of(TRANSFER_SAMPLES), "train.seed": st.integers(0, 2**31 - 1).map(str)}


@st.composite
def valid_addresses(draw) -> dict[str, str]:
    """Any subset of the page's parameters, each with a value its widget offers, and the seed."""
    names = draw(st.sets(st.sampled_from(sorted(ADDRESS_VALUES))))
    return {name: draw(ADDRESS_VALUES[name]) for name in sorted(names)}


def open_address(query: dict) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=240)
    app.query_params.update(query)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def widget_value(app: AppTest, key: str):
    """The value the widget of `key` shows (one of the open tab's)."""
    for kind in ("selectbox", "slider", "select_slider"):
        try:
            return getattr(app, kind)(key=key).value
        except KeyError:
            continue
    raise KeyError(key)


def shows(app: AppTest, wanted: dict) -> None:
    """Every setting is in the state; the open tab's widgets show theirs."""
    tab = TAB_NAMES.index(app.session_state["br_tab"])
    assert tab == TAB_NAMES.index(wanted["br_tab"])
    for key, value in wanted.items():
        assert app.session_state[key] == value, key
        pair = next((t for prefix, t in PAIRS.items() if key.startswith(prefix)), None)
        if pair == tab and key != "br_tree_hidden":  # the tree pair's network has no widget
            assert widget_value(app, key) == value, key


# Each example opens the page (a second or more): a failure is reported as drawn, not shrunk for minutes.
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(valid_addresses())
def test_any_setup_the_address_can_carry_opens_as_asked(query):
    app = open_address(query)
    values, problems = widgets_from_query(query)
    assert not problems and not app.warning and not app.error
    seed = int(query.get("train.seed", 0))
    wanted = {**default_widgets(), **values}
    shows(app, wanted)
    assert app.session_state.global_seed == seed
    assert app.query_params == widgets_to_query(wanted, seed)  # the address it writes opens the same again


HOSTILE = ["9" * 5000, "²", "nan", "inf", "-inf", "", "nonesuch", "x" * 20_000]
GOOD = {"tab": "tree", "tree.depth": "3", "tree.criterion": "entropy", "logistic.noise": "0.1", "som.lr": "0.2",
        "tree.steps": "200", "tree.loss": "ce", "logistic.c": "10", "som.rows": "4", "som.speed": "fast"}
HALVES = (list(GOOD)[:5], list(GOOD)[5:])  # each holds whole numbers, decimals and names


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:8]))
def test_a_hostile_value_is_named_in_one_line_and_the_other_parameters_apply(value):
    """The hostile value goes into half of the parameters (the first half or the second, in turn)
    and into the seed; the other half carries values the page offers."""
    names = HALVES[HOSTILE.index(value) % 2]
    app = open_address({**GOOD, **dict.fromkeys(names, value), "train.seed": value, "no.such.parameter": value})
    notes = [re.sub(r"\\(.)", r"\1", w.value) for w in app.warning  # shown escaped: the address is user text
             if w.value.startswith("The address")]
    assert len(notes) == len(names) and all("\n" not in n and len(n) < 400 for n in notes), notes
    assert all(sum(f"{n}={value[:200]!r}"[:-1] in note for note in notes) == 1 for n in names), notes
    assert "train.seed" in app.session_state.seed_warning and app.session_state.global_seed == 0  # the sidebar's line
    assert not app.error
    used = widgets_from_query({k: v for k, v in GOOD.items() if k not in names})[0]
    shows(app, {**default_widgets(), **used})  # the poisoned ones keep their defaults
