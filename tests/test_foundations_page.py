"""AppTest of the Foundations page: it renders every tab with no exception, each tab's
widgets change what it shows, Train draws a boundary and a loss curve."""
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common.frame_interval import LiveRuns
from app_pages.foundations.state import (LIVE_EPOCHS_PER_FRAME, LIVE_TICK_SECONDS, LogisticRun, latex_factor,
                                         nearest_option, neuron_weights, new_logistic_trainer, train_epochs)

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "foundations" / "page.py")


@pytest.fixture(scope="module")
def at() -> AppTest:
    """One page for the module (the first run imports torch and builds every tab)."""
    app = AppTest.from_file(PAGE, default_timeout=90)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def rerun_ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}



def test_every_tab_renders_with_its_charts_and_captions(at):
    assert [t.label for t in at.tabs] == ["① One neuron", "② Activations", "③ Losses", "④ Gradient descent",
                                          "⑤ Backprop"]
    assert len(at.get("plotly_chart")) >= 8
    # the logistic regression's live boundary and loss curves are canvases redrawn in place
    assert sorted(e.proto.id.split("-")[-1] for e in at.get("bidi_component")) == ["fd_lr_boundary", "fd_lr_loss"]
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("What to look for") >= 10


def test_neuron_sliders_and_training_a_logistic_regression(at):
    assert metrics(at)["Epoch"] == "0"
    at.slider(key="fd_w1").set_value(-2.0).run()
    at.selectbox(key="fd_neuron_act").set_value("tanh").run()
    rerun_ok(at)
    at.button(key="fd_lr_train").click().run()
    rerun_ok(at)
    m = metrics(at)
    assert m["Epoch"] == "20"
    assert float(m["Test accuracy"].rstrip("%")) > 85            # two noisy gaussians: a line separates them
    trainer = at.session_state.fd_logistic.trainer
    assert trainer.config.model.hidden == [] and trainer.config.train.loss == "bce"
    assert len(trainer.history) > 10                              # the loss curve has a point per epoch
    at.button(key="fd_lr_copy").click().run()
    rerun_ok(at)
    w1, w2, b = neuron_weights(trainer)
    assert at.session_state.fd_w1 == pytest.approx(round(w1, 1)) and at.session_state.fd_neuron_act == "sigmoid"
    at.button(key="fd_lr_reset").click().run()
    assert metrics(rerun_ok(at))["Epoch"] == "0"


def test_logistic_regression_trains_live_and_pauses(at):
    at.button(key="fd_lr_play").click().run()
    rerun_ok(at)
    assert at.session_state.fd_logistic.playing
    for _ in range(3):
        at.run()
    epochs = int(metrics(rerun_ok(at))["Epoch"])
    assert epochs >= 2  # each live frame trains two epochs
    at.button(key="fd_lr_pause").click().run()  # Pause
    assert not at.session_state.fd_logistic.playing
    paused = int(metrics(rerun_ok(at))["Epoch"])
    at.run()
    assert int(metrics(rerun_ok(at))["Epoch"]) == paused


def test_activation_and_loss_widgets(at):
    at.multiselect(key="fd_acts").set_value(["tanh", "elu"]).run()
    rerun_ok(at)
    assert at.selectbox(key="fd_highlight").options == ["tanh", "elu"]
    at.select_slider(key="fd_l2").set_value(0.0).run()
    at.slider(key="fd_logit_1").set_value(3.0).run()
    rerun_ok(at)
    assert float(metrics(at)["Cross-entropy"]) > 2.0             # the true class A now loses clearly
    at.button(key="fd_cmp_train").click().run()
    rerun_ok(at)
    comparison = at.session_state.fd_comparison
    assert set(comparison.snapshots) == {"mse", "bce", "hinge"}
    assert all(s.epoch > 0 and s.test_accuracy > 0.8 for s in comparison.snapshots.values())


def test_gradient_descent_widgets(at):
    at.selectbox(key="fd_surface").set_value("rosenbrock").run()
    rerun_ok(at)
    assert at.session_state.fd_gd_lr == 0.001                     # the surface's own learning rate
    at.select_slider(key="fd_gd_lr").set_value(0.01).run()
    rerun_ok(at)
    assert "diverged" in " ".join(str(df.value) for df in at.dataframe)
    at.selectbox(key="fd_surface").set_value("logistic_w1_w2").run()
    at.selectbox(key="fd_gd_batch").set_value(5).run()
    at.multiselect(key="fd_gd_opts").set_value(["sgd", "adam"]).run()
    rerun_ok(at)


def test_backprop_inspector_agrees_with_autograd(at):
    at.radio(key="fd_bp_layer").set_value("output").run()
    at.selectbox(key="fd_bp_act").set_value("relu").run()
    rerun_ok(at)
    m = metrics(at)
    assert m["Chain rule Σ Π factors"] == m["Autograd ∂L/∂w"]
    assert float(m["Finite difference"]) == pytest.approx(float(m["Autograd ∂L/∂w"]), rel=1e-5, abs=1e-9)
    assert any(r"\frac" in l.value for l in at.get("latex"))


def test_state_helpers():
    assert latex_factor("∂z₁[0]/∂W₁[0,1]") == r"\frac{\partial z_1[0]}{\partial W_1[0,1]}"
    assert nearest_option(0.0011, [0.0001, 0.001, 0.01]) == 0.001
    trainer = new_logistic_trainer("gauss", 0.2, 0.1, seed=0)
    snap = train_epochs(trainer, 3)
    assert snap.epoch == 3 and snap.plane["output"].shape == (50, 50) and len(trainer.history) == 3


def test_the_live_logistic_regression_paces_its_frames_and_leaves_the_server_when_it_stops():
    """The live view's pace (common/frame_interval.py): Play measures the browser afresh, Pause (or a
    divergence) gives the server back. Its frames train a fixed two epochs (about a millisecond): what
    the pace changes is how often they come, less often when drawing them takes longer."""
    run = LogisticRun(("gauss", 0.2, 0), new_logistic_trainer("gauss", 0.2, 0.1, seed=0))
    run.pace.runs = LiveRuns()                     # this test's own server
    assert run.tick().epoch == 0                   # paused: nothing trains
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2           # this run and the probe -1
    assert run.tick().epoch == LIVE_EPOCHS_PER_FRAME and run.tick().epoch == 2 * LIVE_EPOCHS_PER_FRAME
    assert run.pace.run_every(True) == LIVE_TICK_SECONDS
    run.pace.draw_seconds = 0.6                    # a slow drawing (a busy server): frames come less often
    assert run.pace.interval_is_stale() and run.pace.run_every(True) > 2 * LIVE_TICK_SECONDS
    run.pause()
    assert run.pace.runs.ticked(-1) == 1 and run.pace.run_every(run.playing) is None
    assert run.train_more(3).epoch == 2 * LIVE_EPOCHS_PER_FRAME + 3 and not run.playing
    run.play()
    run.pace.frame_started()
    run.trainer.run_epochs = lambda epochs, plane_resolution: SimpleNamespace(diverged=True)
    run.tick()                                     # a divergence stops it, and it leaves the server
    assert not run.playing and run.pace.runs.ticked(-1) == 1


# ---------------- the address ----------------
def test_the_address_round_trips_the_defaults_and_a_setup_in_every_tab():
    from app_pages.foundations.state import default_widgets, widgets_from_query, widgets_to_query
    defaults = default_widgets()
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    custom = {**defaults, "fd_tab": "④ Gradient descent", "fd_w1": -2.3, "fd_w2": 0.0, "fd_b": 5.0,
              "fd_neuron_act": "relu", "fd_lr_data": "xor", "fd_lr_noise": 0.45, "fd_lr_lr": 3.0,
              "fd_acts": ["elu", "tanh"], "fd_highlight": "tanh", "fd_l2": 0.0, "fd_logit_0": -4.0,
              "fd_logit_1": 0.1, "fd_logit_2": 3.9, "fd_cmp_data": "circle", "fd_cmp_hidden": True,
              "fd_surface": "rosenbrock", "fd_gd_lr": 0.0003, "fd_gd_steps": 390, "fd_gd_batch": 5,
              "fd_gd_opts": ["adam"], "fd_gd_data": "moons", "fd_bp_act": "relu", "fd_bp_width": 5,
              "fd_bp_batch": 16, "fd_bp_layer": "output", "fd_bp_row": 4, "fd_bp_col": 1, "fd_bp_hidden": 3}
    for values in (custom, {**defaults, "fd_tab": "⑤ Backprop", "fd_acts": [], "fd_gd_opts": []}):
        query = widgets_to_query(values, 5)
        restored, problems = widgets_from_query(query)
        assert not problems and {**defaults, **restored} == values, query
    assert widgets_to_query({**defaults, "fd_tab": "④ Gradient descent", "fd_gd_lr": 0.01}, 5) == {
        "tab": "descent", "descent.lr": "0.01", "train.seed": "5"}


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.foundations.state import widgets_from_query
    values, problems = widgets_from_query({"tab": "backprop", "neuron.w1": "0.25", "neuron.b": "-1.5",
                                           "descent.steps": "95", "backprop.width": "2", "backprop.neuron": "2",
                                           "backprop.from": "1", "activations.shown": "tanh,relu",
                                           "activations.shade": "sigmoid", "losses.score_b": "9"})
    assert values == {"fd_tab": "⑤ Backprop", "fd_b": -1.5, "fd_acts": ["tanh", "relu"], "fd_bp_width": 2,
                      "fd_bp_hidden": 1}
    assert problems == ["neuron.w1='0.25' was ignored: a number from -5 to 5 in steps of 0.1",
                        "losses.score_b='9' was ignored: a number from -4 to 4 in steps of 0.1",
                        "descent.steps='95' was ignored: a whole number from 10 to 400 in steps of 10",
                        "backprop.neuron='2' was ignored: the hidden layer has 2 neurons, numbered from 0",
                        "activations.shade='sigmoid' was ignored: not one of the activations shown, tanh, relu"]


def test_a_shared_address_opens_its_tab_and_settings_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    app = AppTest.from_file(PAGE, default_timeout=90)
    app.query_params.update({"tab": "descent", "descent.surface": "saddle", "descent.lr": "0.03",
                             "descent.optimizers": "sgd,adam", "neuron.w1": "-2", "backprop.width": "9",
                             "train.seed": "3"})
    app.run()
    rerun_ok(app)
    assert [w.value for w in app.warning] == [
        "The address: " + md_escape("backprop.width='9' was ignored: a whole number from 2 to 5") + "."]
    assert app.session_state.fd_tab == "④ Gradient descent"
    assert app.selectbox(key="fd_surface").value == "saddle" and app.select_slider(key="fd_gd_lr").value == 0.03
    assert app.multiselect(key="fd_gd_opts").value == ["sgd", "adam"] and app.slider(key="fd_w1").value == -2.0
    assert [r["optimiser"] for r in app.dataframe[1].value.to_dict("records")] == ["sgd", "adam"]  # the paths drawn
    assert app.query_params == {"tab": "descent", "descent.surface": "saddle", "descent.lr": "0.03",
                                "descent.optimizers": "sgd,adam", "neuron.w1": "-2", "train.seed": "3"}
    app.slider(key="fd_bp_width").set_value(5).run()
    rerun_ok(app)
    assert app.query_params["backprop.width"] == "5" and not app.warning  # the warning is shown once
