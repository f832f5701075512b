"""The Vanishing gradients page's plain logic: presets, widgets -> config, the lab of several
trainers on the same data, its live tick and history, the explanation, and the figures."""
import numpy as np
import pytest

from app_pages.common.frame_interval import LiveRuns
from app_pages.vanishing.readings import activation_quantiles, explain, sci
from app_pages.vanishing.state import (DEFAULT_PRESET, FRAME_TRAIN_SECONDS, MAX_HISTORY_ROWS, PRESETS, TICK_SECONDS,
                                       LabRun, VanishingLab, config_from_widgets, default_widgets, preset_config,
                                       preset_widgets)
from engine import Trainer
from viz.gradients import activation_figure, grad_heatmap_figure, loss_curves_figure, norms_by_depth_figure

REQUIRED = ["sigmoid ×20", "tanh ×20", "ReLU + He ×20", "ReLU + residual + LayerNorm ×50"]


def small_lab(names=("sigmoid ×20", "ReLU + He ×20")) -> VanishingLab:
    return VanishingLab.build([(n, preset_config(n, "circle", 0)) for n in names], "cpu")


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_valid_configs(name):
    config = preset_config(name, "moons", 4)
    assert config.data.name == "moons" and config.train.seed == 4 and config.model.hidden[0] == 32
    assert config_from_widgets({**default_widgets(), **preset_widgets(name), "vg_dataset": "moons"}, 4) == config


def test_the_issue_presets_exist():
    assert set(REQUIRED) <= set(PRESETS)
    assert preset_config("ReLU + residual + LayerNorm ×50", "circle", 0).model.hidden == [32] * 50
    blobs = preset_config(DEFAULT_PRESET, "blobs", 0)
    assert blobs.train.loss == "ce" and blobs.n_classes == 3


def test_lab_shares_the_data_and_records_every_step():
    lab = small_lab()
    a, b = (r.trainer for r in lab.runs)
    assert a.dataset is b.dataset  # same points for every network compared
    assert [len(r.steps) for r in lab.runs] == [1, 1]  # one step at build: gradients to show
    lab.step(2)
    for run in lab.runs:
        assert run.steps.tolist() == [1, 2, 3] and run.norms.shape == (3, 21)
        assert run.current_norms().tolist() == pytest.approx(list(run.trainer.snapshot().grad_norms.values()))


def test_tick_trains_only_while_playing():
    lab = small_lab()
    lab.tick(0.05)
    assert lab.runs[0].trainer.step_count == 1
    lab.play()
    lab.tick(0.1)
    lab.tick(0.1)
    for run in lab.runs:
        assert run.trainer.step_count > 2 and len(run.steps) == run.trainer.step_count
        assert np.all(np.diff(run.steps) == 1)
    assert lab.steps_per_second > 0
    lab.pause()
    steps = lab.runs[0].trainer.step_count
    lab.tick(0.1)
    assert lab.runs[0].trainer.step_count == steps


def test_play_and_pause_start_and_stop_the_pace_and_the_networks_share_what_it_leaves():
    """The live view's pace (common/frame_interval.py): Play measures the browser afresh, Pause gives
    the server back, and a frame's training is what the interval leaves after the drawing, at most
    FRAME_TRAIN_SECONDS, split evenly between the networks compared."""
    lab = small_lab()
    lab.pace.runs = LiveRuns()                     # this test's own server
    budgets = []
    for run in lab.runs:
        run.trainer.train_for = lambda seconds: budgets.append(seconds)
    lab.play()
    lab.pace.frame_started()
    assert lab.pace.runs.ticked(-1) == 2           # this lab and the probe -1
    lab.pace.browser_floor, lab.pace.interrupted = 2.0, 3
    lab.pace.draw_seconds = 0.01                   # a quick drawing: the frame's training is capped
    lab.tick()
    lab.pace.draw_seconds = 0.15                   # a slow drawing leaves less of the frame to training
    lab.tick()
    assert budgets == [FRAME_TRAIN_SECONDS / 2] * 2 + [pytest.approx((0.8 * TICK_SECONDS - 0.15) / 2)] * 2
    lab.pause()
    assert lab.pace.runs.ticked(-1) == 1
    lab.play()
    assert lab.pace.browser_floor == 0 and lab.pace.interrupted == 0
    assert lab.pace.frame_interval() == TICK_SECONDS


def test_history_is_thinned_but_keeps_the_latest_steps():
    trainer = Trainer(preset_config("tanh ×20", "circle", 0).replace(model={"hidden": [4, 4]}), "cpu")
    run = LabRun("small", trainer)
    trainer.step(MAX_HISTORY_ROWS + 10)
    run.collect()
    assert len(run.steps) <= MAX_HISTORY_ROWS and run.steps[-1] == trainer.step_count
    assert np.all(np.diff(run.steps) > 0) and run.steps[-1] - run.steps[-2] == 1
    assert trainer.grad_norm_history == []  # taken over by the run: the trainer holds nothing twice
    trainer.snapshot()
    point = trainer.history[-1]
    trainer.history = [{**point, "step": s} for s in range(1, MAX_HISTORY_ROWS + 11)]  # a loss curve of hours
    run.collect()
    steps = [p["step"] for p in trainer.history]
    assert len(steps) <= MAX_HISTORY_ROWS and steps[-1] == MAX_HISTORY_ROWS + 10 and steps[-2] == steps[-1] - 1
    assert steps[:3] == [1, 3, 5]  # the older half, every other point


def test_hot_change_keeps_progress_structural_does_not():
    lab = small_lab(("ReLU + He ×20",))
    lab.step(3)
    config = lab.runs[0].trainer.config
    assert lab.apply(config.replace(train={"lr": 0.1, "clip_grad_norm": 1.0}))
    assert lab.runs[0].trainer.step_count == 4 and lab.runs[0].trainer.config.train.clip_grad_norm == 1.0
    assert not lab.apply(config.replace(model={"activation": "tanh"}))


def test_diverged_network_stops_and_says_so():
    exploding = preset_config("ReLU + residual ×20, exploding (clipped)", "circle", 0)
    lab = VanishingLab.build([("clipped", exploding), ("relu", preset_config("ReLU + He ×20", "circle", 0)),
                              ("unclipped", exploding.replace(train={"clip_grad_norm": 0.0}))], "cpu")
    # Clipped, the exploding network trains and shows its huge gradients; unclipped, within
    # a few dozen steps the loss overflows: it stops, says so, and the others play on.
    assert lab.runs[0].current_norms().max() > 1e3
    assert "explode" in " ".join(explain("clipped", lab.runs[0].layer_names, lab.runs[0].current_norms(), 1.0))
    lab.play()
    for _ in range(20):
        lab.tick(0.15)
        if lab.runs[2].trainer.diverged:
            break
    assert lab.runs[2].trainer.diverged and "unclipped" in lab.message and "NaN" in lab.message
    assert not lab.runs[0].trainer.diverged
    steps = lab.runs[1].trainer.step_count
    lab.tick(0.1)
    assert lab.playing and lab.runs[1].trainer.step_count > steps
    lab.runs = lab.runs[2:]  # only the diverged one left: Play refuses
    lab.play()
    assert not lab.playing and "NaN" in lab.message


def test_explanation_quotes_the_numbers():
    names = ["hidden1", "hidden2", "hidden3", "output"]
    text = " ".join(explain("sig", names, np.array([3e-17, 1e-9, 1.0, 2.0]), activation="sigmoid"))
    assert "layer 1 receives **3e-17** of the gradient of layer 3" in text and "17 orders" in text and "0.25" in text
    assert "good health" in " ".join(explain("relu", names, np.array([0.5, 0.7, 1.0, 2.0])))
    boom = " ".join(explain("res", names, np.array([1e5, 1e4, 1e3, 1.0]), clip=1.0))
    assert "explode" in boom and "total norm of 1" in boom
    assert "Step or Play" in explain("x", names, np.array([np.nan] * 4))[0]
    assert sci(0.25) == "0.25" and sci(3e-17) == "3e-17" and sci(7.2e4) == "7e+04"


def test_activation_quantiles_are_ordered_and_saturation_in_range():
    lab = small_lab(("sigmoid ×20",))
    acts = activation_quantiles(lab.runs[0].trainer)
    q = acts["quantiles"]
    assert q.shape == (20, 5) and np.all(np.diff(q, axis=1) >= 0)
    assert np.all((q >= 0) & (q <= 1))  # sigmoid outputs
    assert acts["saturated"].shape == (20,) and np.all((acts["saturated"] >= 0) & (acts["saturated"] <= 1))


def test_figures_draw_the_lab():
    lab = small_lab()
    lab.step(5)
    run = lab.runs[0]
    heat = grad_heatmap_figure(run.steps, run.norms, run.layer_names)
    z = np.asarray(heat.data[0].z)
    assert z.shape == (21, 6)
    np.testing.assert_allclose(z, np.log10(run.norms.T), rtol=1e-6)  # log colour
    assert heat.data[0].y[0] == "layer 1" and heat.data[0].y[-1] == "output"
    many = grad_heatmap_figure(np.arange(1, 1001), np.ones((1000, 3)), ["hidden1", "hidden2", "output"])
    assert len(many.data[0].x) <= 400 and many.data[0].x[-1] == 1000
    depth = norms_by_depth_figure([(r.label, r.current_norms()) for r in lab.runs])
    assert len(depth.data) == 2 and depth.layout.yaxis.type == "log"
    acts = activation_quantiles(run.trainer)
    fig = activation_figure(acts["quantiles"], acts["saturated"], "sigmoid")
    assert [t.type for t in fig.data] == ["bar", "box"]
    loss = loss_curves_figure([(r.label, r.trainer.history) for r in lab.runs])
    assert len(loss.data) == 2
    with pytest.raises(ValueError, match="steps, layers"):
        grad_heatmap_figure(np.arange(3), np.ones((3, 2)), ["a", "b", "c"])


def test_the_address_holds_what_differs_from_the_defaults_and_the_seed():
    from app_pages.vanishing.state import default_widgets, widgets_to_query
    assert widgets_to_query(default_widgets(), 0) == {"train.seed": "0"}  # a plain visit: a short address
    values = {**default_widgets(), "vg_depth": 12, "vg_lr": 0.0001, "vg_residual": True,
              "vg_compare": ["ReLU + residual ×20, exploding (clipped)", "tanh ×20"]}
    assert widgets_to_query(values, 7) == {
        "depth": "12", "residual": "true", "lr": "0.0001", "train.seed": "7",
        "compare": "ReLU + residual ×20, exploding (clipped);tanh ×20"}  # a preset's name may hold a comma


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_and_comparison_comes_back_from_its_address(preset):
    from app_pages.vanishing.state import default_widgets, preset_widgets, widgets_from_query, widgets_to_query
    values = {**default_widgets(), **preset_widgets(preset), "vg_dataset": "spiral",
              "vg_compare": [p for p in PRESETS if p != preset][:3]}
    restored, problems = widgets_from_query(widgets_to_query(values, 3))
    assert not problems
    assert {**default_widgets(), **restored} == values


def test_a_bad_parameter_is_reported_and_the_others_still_apply():
    from app_pages.vanishing.state import widgets_from_query
    values, problems = widgets_from_query({"depth": "0", "width": "33", "lr": "0.5", "activation": "swish",
                                           "compare": "tanh ×20;no such net", "residual": "maybe", "data": "moons",
                                           "init": " he ", "clip": "1", "task": "classify2d"})
    assert values == {"vg_dataset": "moons", "vg_init": "he", "vg_clip": 1.0}  # task: another page's, not ours
    assert problems == [
        "depth='0' was ignored: a whole number from 1 to 100",
        "width='33' was ignored: not one of 2, 4, 8, 16, 32, 64, 128, 256, 512",
        "activation='swish' was ignored: not one of relu, leaky_relu, elu, gelu, tanh, sigmoid, softplus, linear",
        "residual='maybe' was ignored: not one of true, false",
        "lr='0.5' was ignored: not one of 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1",
        "compare='tanh ×20;no such net' was ignored: no preset named 'no such net'"]
    too_many = ";".join(list(PRESETS)[:5])
    assert widgets_from_query({"compare": too_many})[1] == [f"compare={too_many!r} was ignored: at most 4 networks to "
                                                              "compare"]
    assert widgets_from_query({"compare": ""}) == ({"vg_compare": []}, [])  # none: the network alone
