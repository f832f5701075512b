"""The Playground's plain-Python logic: widgets <-> config, presets, CSV upload, the live tick."""
import time

import numpy as np
import pytest
import torch

from app_pages.common.autosave import AUTOSAVE_SECONDS
from app_pages.common.frame_interval import LiveRuns
from app_pages.playground.state import (PRESETS, TICK_SECONDS, PlaygroundRun, config_from_widgets, parse_points_csv,
                                        preset_config, widgets_from_config)
from engine import ConfigError, ExperimentConfig, Trainer


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_the_widgets(name):
    config = preset_config(name, seed=7)
    assert config.train.seed == 7
    assert config_from_widgets(widgets_from_config(config)) == config


def test_per_layer_activations_and_custom_points_round_trip():
    config = ExperimentConfig.from_dict({
        "data": {"name": "custom", "points": [[0, 0, 0], [1, 1, 1], [2, 0, 0], [-3, 1, 2]]},
        "model": {"hidden": [3, 5, 2], "activation": ["relu", "tanh", "gelu"], "residual": True, "norm": "layer"},
        "train": {"loss": "ce", "optimizer": "rmsprop", "lr": 0.001, "l1": 0.003, "max_epochs": 40, "seed": 3}})
    assert config_from_widgets(widgets_from_config(config)) == config


def test_widgets_that_describe_an_impossible_config_raise_a_named_error():
    state = widgets_from_config(ExperimentConfig())
    state["pg_features"] = []
    with pytest.raises(ConfigError) as err:
        config_from_widgets(state)
    assert err.value.field == "data.features"


def test_overfit_preset_overfits_and_the_l2_preset_cures_it():
    """The two presets make their point: without L2 the test loss ends well above its best,
    with L2 it stays near it."""
    def losses_over_training(name):
        trainer = Trainer(preset_config(name), "cpu")
        return [trainer.run_epochs(20).test_loss for _ in range(15)]
    overfit, cured = losses_over_training("Overfit me"), losses_over_training("Cure overfitting with L2")
    assert overfit[-1] > 2 * min(overfit)
    assert cured[-1] < 1.5 * min(cured)
    assert cured[-1] < overfit[-1] / 2


def test_parse_points_csv_with_header_classes():
    points, task = parse_points_csv(b"x1,x2,label\n0,0,0\n1,1,1\n2,2,0\n3,-1,1\n")
    assert task == "classify2d"
    assert points == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 0.0], [3.0, -1.0, 1.0]]


def test_parse_points_csv_regression_and_scaling():
    rows = "\n".join(f"{x},{-x},{x * 0.5}" for x in range(-12, 13, 3))
    points, task = parse_points_csv(rows.encode())
    arr = np.array(points)
    assert task == "regress2d"
    assert np.abs(arr[:, :2]).max() == pytest.approx(6.0)  # coordinates scaled into [-6, 6]
    assert np.abs(arr[:, 2]).max() <= 1.0


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"a,b\n1,2\n3,4\n5,6\n7,8\n", "three columns"),
    (b"x1,x2,y\n1,2,0\n", "at least 4"),
    (b"1,2,0\n1,nan,1\n2,2,0\n3,3,1\n", "finite"),
    (b"1,2,hello\n1,2,x\n2,2,y\n3,3,z\n", "numeric"),
])
def test_parse_points_csv_refuses_bad_files_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        parse_points_csv(data)


def test_tick_trains_only_while_playing_and_stays_inside_its_frame():
    run = PlaygroundRun(Trainer(preset_config("Circle (start here)"), "cpu"))
    snap = run.tick()
    assert snap.step == 0 and snap.plane["output"].shape == (50, 50)
    run.play()
    start = time.perf_counter()
    snap = run.tick(budget_s=0.05)
    elapsed = time.perf_counter() - start
    assert snap.step > 0
    assert elapsed < 3 * TICK_SECONDS  # a chunk is time-boxed (generous bound for a loaded CI machine)
    run.pause()
    assert run.tick().step == snap.step


def test_tick_speeds_one_step_and_one_epoch():
    run = PlaygroundRun(Trainer(preset_config("Circle (start here)"), "cpu"), playing=True)
    assert run.tick(speed_steps=1).step == 1
    before = run.trainer.epoch
    run.tick(speed_steps=-1)
    assert run.trainer.epoch == before + 1


def test_play_starts_the_pace_afresh_and_pause_gives_the_server_back():
    """The live view's pace (common/frame_interval.py, tested in test_frame_interval.py): a new Play
    measures the browser's pace anew, a pause leaves the server's count of training runs."""
    run = PlaygroundRun(Trainer(ExperimentConfig(), "cpu"))
    run.pace.runs = LiveRuns()                     # this test's own server
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2           # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.pace.runs.stopped(-1)
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    assert run.pace.frame_interval() == TICK_SECONDS
    run.pace.draw_seconds = 0.3                    # a slow drawing leaves less of the frame to training
    assert run.pace.training_budget() < 0.8 * TICK_SECONDS - 0.1


def test_divergence_pauses_with_a_message_and_keeps_finite_weights():
    config = ExperimentConfig.from_dict({"task": "regress2d", "data": {"name": "plane"},
                                         "model": {"hidden": [8, 8], "activation": "relu", "init": "normal"},
                                         "train": {"loss": "mse", "lr": 10.0}})
    run = PlaygroundRun(Trainer(config, "cpu"), playing=True)
    before = [w.copy() for w, _ in run.trainer.weights()]
    snap = run.tick(budget_s=0.1)
    assert snap.diverged and not run.playing
    assert "NaN" in run.message and "learning rate" in run.message
    for (w, _), w0 in zip(run.trainer.weights(), before):
        assert np.isfinite(w).all()
        np.testing.assert_array_equal(w, w0)
    run.play()
    assert not run.playing  # still diverged: Play does nothing until the learning rate changes
    run.trainer.apply(config.replace(train={"lr": 0.001}))
    run.play()
    assert run.playing and run.tick(budget_s=0.05).step > 0


def test_epoch_limit_stops_the_run():
    run = PlaygroundRun(Trainer(preset_config("Circle (start here)").replace(train={"max_epochs": 2}), "cpu"),
                        playing=True)
    for _ in range(50):
        run.tick(budget_s=0.05)
        if not run.playing:
            break
    assert not run.playing and run.trainer.epoch == 2 and "epoch limit" in run.message


@pytest.mark.parametrize("error, says", [(RuntimeError("CUDA error: an illegal memory access"), "RuntimeError: CUDA"),
                                         (MemoryError(), "ran out of memory")])
def test_a_step_that_raises_pauses_with_one_line_and_keeps_the_last_weights(monkeypatch, error, says):
    run = PlaygroundRun(Trainer(ExperimentConfig(), "cpu"))
    run.play()
    run.tick(budget_s=0.05)
    weights = [p.detach().clone() for p in run.trainer.model.parameters()]
    steps = run.trainer.step_count

    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(run.trainer, "train_for", fail)
    monkeypatch.setattr(run.trainer, "run_epochs", fail)
    snap = run.tick(budget_s=0.05)  # the frame still draws from a snapshot
    assert not run.playing and says in run.message and "press Play" in run.message
    assert snap.step == steps and all(torch.equal(a, b) for a, b in zip(weights, run.trainer.model.parameters()))
    run.message = ""
    run.step_epoch()  # the Step button reports the same way
    assert says in run.message and not run.playing


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    run = PlaygroundRun(Trainer(ExperimentConfig(), "cpu"))
    saved = []
    assert not run.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    run.play()
    run.tick(budget_s=0.02)
    assert run.autosave(saved.append, now=1.0) and len(saved) == 1
    run.tick(budget_s=0.02)
    assert not run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    run.tick(budget_s=0.02)
    run.pause()
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS + 0.1)  # stopped: saved at once
    assert not run.autosave(saved.append, now=100.0)  # and only once
    back = Trainer.from_checkpoint(saved[-1], "cpu")
    assert back.step_count == run.trainer.step_count
