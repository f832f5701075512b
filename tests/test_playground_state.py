"""The Playground's plain-Python logic: widgets <-> config, presets, CSV upload, the live tick."""
import time

import numpy as np
import pytest

from app_pages.playground_state import (PRESETS, TICK_SECONDS, PlaygroundRun, config_from_widgets, parse_points_csv,
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


def test_training_budget_shrinks_when_drawing_is_slow():
    run = PlaygroundRun(Trainer(ExperimentConfig(), "cpu"))
    fast = run.training_budget()
    for _ in range(10):
        run.frame_drawn(frame_seconds=0.3, train_seconds=0.05)
    assert run.training_budget() < fast
    assert run.training_budget() > 0


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


def test_live_runs_counts_the_runs_training_now_and_forgets_stale_ones():
    from app_pages.playground_state import LiveRuns
    live = LiveRuns()
    assert live.ticked(1, now=100.0) == 1
    assert live.ticked(2, now=100.2) == 2
    assert live.ticked(1, now=100.5) == 2          # the same run again is not counted twice
    assert live.ticked(3, now=101.4) == 2          # run 2 last ticked 1.2 s ago: no longer training
    live.stopped(3)
    assert live.ticked(1, now=101.5) == 1


def test_many_sessions_playing_share_the_training_time_of_a_frame():
    from app_pages.playground_state import MIN_TRAIN_SECONDS, TICK_SECONDS, PlaygroundRun
    run = PlaygroundRun(Trainer(ExperimentConfig()))
    run.draw_seconds = 0.05
    alone = run.training_budget(1)
    assert alone == pytest.approx(0.8 * TICK_SECONDS - 0.05)
    assert run.training_budget(20) == pytest.approx(alone / 20)
    run.draw_seconds = 10.0                         # drawing slower than a frame: the floor, shared too
    assert run.training_budget(1) == MIN_TRAIN_SECONDS
    assert run.training_budget(4) == pytest.approx(MIN_TRAIN_SECONDS / 4)
