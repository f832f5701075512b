"""The Playground's plain-Python logic: widgets <-> config, presets, CSV upload, the live tick."""
import math
import time

import numpy as np
import pytest
import torch

from app_pages.common.autosave import AUTOSAVE_SECONDS
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
    from app_pages.playground.state import LiveRuns
    live = LiveRuns()
    assert live.ticked(1, now=100.0) == 1
    assert live.ticked(2, now=100.2) == 2
    assert live.ticked(1, now=100.5) == 2          # the same run again is not counted twice
    assert live.ticked(3, now=101.4) == 2          # run 2 last ticked 1.2 s ago: no longer training
    live.stopped(3)
    assert live.ticked(1, now=101.5) == 1


def test_many_sessions_playing_share_the_training_time_of_a_frame():
    from app_pages.playground.state import MIN_TRAIN_SECONDS, TICK_SECONDS, PlaygroundRun
    run = PlaygroundRun(Trainer(ExperimentConfig()))
    run.draw_seconds = 0.05
    alone = run.training_budget(1)
    assert alone == pytest.approx(0.8 * TICK_SECONDS - 0.05)
    # Twenty runs on one core: the interval grows until each has its drawing's CPU time and as long again
    # of training.
    run.draw_cpu = 0.05
    run.live_runs = 20
    run.interval = run.frame_interval()
    assert run.interval == pytest.approx(20 * (0.05 + 0.05) / 0.8)
    assert run.training_budget(20) == pytest.approx(0.05)
    assert 20 * (run.draw_seconds + run.training_budget(20)) == pytest.approx(0.8 * run.interval)  # the core, shared
    run.live_runs = 1
    assert run.frame_interval() == TICK_SECONDS     # alone again: five frames a second
    run.interval = TICK_SECONDS
    run.draw_seconds = 10.0                         # drawing slower than a frame: the floor, shared too
    assert run.training_budget(1) == MIN_TRAIN_SECONDS
    assert run.training_budget(4) == pytest.approx(MIN_TRAIN_SECONDS / 4)


def test_frames_come_less_often_when_drawing_them_takes_longer():
    """Twenty sessions drawing on two cores: each frame takes seconds of wall time. The live
    view then asks for frames less often (up to MAX_TICK_SECONDS) rather than having each
    one interrupted by the next request, and goes back to TICK_SECONDS when drawing is quick."""
    from app_pages.playground.state import MAX_TICK_SECONDS, MIN_TRAIN_SECONDS, TICK_SECONDS, PlaygroundRun
    run = PlaygroundRun(Trainer(ExperimentConfig()))
    run.draw_seconds = 0.06                          # one session on an idle machine
    assert run.frame_interval() == TICK_SECONDS and not run.interval_is_stale()
    run.draw_seconds = 1.0                           # a crowded server
    wanted = run.frame_interval()
    assert wanted == pytest.approx(math.ceil((1.0 + MIN_TRAIN_SECONDS) / 0.8 * 20) / 20)
    assert wanted >= (1.0 + MIN_TRAIN_SECONDS) / 0.8 and run.interval_is_stale()
    run.interval = wanted                            # the page drew the live view again with it
    assert not run.interval_is_stale()
    assert run.training_budget(1) == pytest.approx(0.8 * wanted - 1.0)  # the longer frame trains longer
    run.draw_seconds = 30.0
    assert run.frame_interval() == MAX_TICK_SECONDS
    run.draw_seconds = 0.06                          # the class paused: back to five frames a second
    assert run.interval_is_stale() and run.frame_interval() == TICK_SECONDS


def test_a_run_with_slow_frames_still_counts_as_training():
    from app_pages.playground.state import LiveRuns
    live = LiveRuns()
    live.ticked(1, now=100.0, interval=2.0)          # a frame every 2 s
    assert live.ticked(2, now=103.0) == 2            # 3 s later: within two of its intervals
    assert live.ticked(2, now=104.5) == 1            # 4.5 s: gone


def test_frames_that_arrive_late_slow_the_live_view_down_and_it_recovers():
    """A browser that cannot keep up (a weak laptop, or twenty sessions on two cores) asks for
    its frames late: the interval rises to what the frames need, eases back once they keep
    time, and a new Play starts at five frames a second again."""
    from app_pages.playground.state import TICK_SECONDS, PlaygroundRun
    run = PlaygroundRun(Trainer(ExperimentConfig()))
    run.draw_seconds = 0.06
    run.play()
    t = 100.0
    for gap in (1.4, 1.2, 0.2):              # the first frames after Play are late (the page is still loading):
        t += gap                             # not counted
        frame(run, t)
    assert run.frame_interval() == TICK_SECONDS and run.browser_floor == 0
    for _ in range(20):                      # on time, with a little jitter: nothing changes
        frame(run, t)
        t += 0.23
    assert run.frame_interval() == TICK_SECONDS and run.browser_floor == 0
    frame(run, t + 0.6)              # one hiccup is not a trend
    t += 0.6
    assert run.frame_interval() == TICK_SECONDS
    for _ in range(10):                      # frames every 2 s although 0.2 s was asked
        t += 2.0
        frame(run, t)
    slow = run.frame_interval()
    assert 1.0 < slow <= 2.0 and run.interval_is_stale()
    run.interval = slow                      # the page draws the live view again with it
    for _ in range(40):                      # now the frames keep time: it eases back
        t += slow
        frame(run, t)
    assert run.frame_interval() < 0.6 * slow
    run.pause()
    run.play()
    assert run.frame_interval() == TICK_SECONDS


def frame(run, t: float) -> None:
    """A frame that starts at t and is drawn to its end, as the page's live view does."""
    run.frame_started(t)
    run.frame_drawn(frame_seconds=0.08, train_seconds=0.02)


def test_frames_cut_short_by_the_next_request_back_off_until_they_are_drawn():
    """Many sessions on one core: each frame takes longer than the interval, the browser's timer asks
    for the next one first, and Streamlit interrupts the running frame, so frame_drawn never runs and
    the frame gaps look on time. Frames that start without the last one drawn raise the interval
    (x1.5 each, up to MAX_TICK_SECONDS), and the page draws the live view again with it."""
    from app_pages.playground.state import MAX_TICK_SECONDS, TICK_SECONDS, WARMUP_FRAMES, PlaygroundRun
    run = PlaygroundRun(Trainer(ExperimentConfig()))
    run.draw_seconds = 0.06
    run.play()
    t = 100.0
    for _ in range(WARMUP_FRAMES + 1):
        t += TICK_SECONDS
        frame(run, t)
    assert run.interrupted == 0 and not run.interval_is_stale()
    t += TICK_SECONDS
    run.frame_started(t)                     # this frame is interrupted: the next starts before it is drawn
    t += TICK_SECONDS
    run.frame_started(t)
    assert run.interrupted == 1 and run.interval_is_stale()
    intervals = [run.interval]
    for _ in range(12):                      # every frame cut short: the page redraws with each new interval
        run.interval = run.frame_interval()
        intervals.append(run.interval)
        t += run.interval
        run.frame_started(t)
    assert intervals == sorted(intervals) and intervals[-1] == MAX_TICK_SECONDS
    assert all(b >= 1.4 * a for a, b in zip(intervals, intervals[1:]) if b < MAX_TICK_SECONDS)
    run.frame_drawn(frame_seconds=0.5, train_seconds=0.1)  # a frame reaches its end again
    assert run.interrupted == 0
    for _ in range(60):                      # and frames keep time: it eases back
        t += run.interval
        frame(run, t)
        if run.interval_is_stale():
            run.interval = run.frame_interval()
    assert run.interval < 1.0


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
