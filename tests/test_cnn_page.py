"""The Convolutions page's training tabs: widgets <-> config for every preset, the address (a
round trip, hostile values named, any valid setup opens), the live run (a cached evaluation while
playing), the pair trained step for step, the drawn digit's input, and the page under AppTest:
Step trains, every view draws, a clicked cell shows its receptive field, a bad setting is one line,
and a reload brings the trained network back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app_pages.cnn.runs import EVAL_SECONDS, MAX_TRAIN_SECONDS, CNNRun, PairRun
from app_pages.cnn.state import (TRAIN_URL_PARAMS, config_from_widgets, drawn_input, parse_list, preset_widgets,
                                 widgets_from_config, widgets_from_query)
from app_pages.common.frame_interval import MIN_TRAIN_SECONDS, LiveRuns
from engine import ConfigError
from engine.cnn.config import PRESETS, preset

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "cnn" / "page.py")


@pytest.fixture(autouse=True)
def one_cpu_thread():
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def open_page(key: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if key:
        at.session_state["np_session_key"] = key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


# ---------- plain logic ----------
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_the_widgets(name):
    config = preset(name, seed=4)
    assert config_from_widgets(preset_widgets(name), 4) == config
    assert widgets_from_config(config) == preset_widgets(name)


def test_a_typed_list_is_read_or_refused_naming_the_field():
    assert parse_list(" 8, 16 ,32,", "model.channels", 6) == [8, 16, 32]
    for text in ("", "8;16", "8, x", "²", "1" * 40, ",".join(["8"] * 7)):
        with pytest.raises(ConfigError, match="model.channels"):
            parse_list(text, "model.channels", 6)


def test_the_address_round_trips_and_names_what_it_cannot_use():
    values, problems = widgets_from_query({"preset": "lenet", "lr": "0.01", "channels": "4,8"})
    assert not problems and values["cv_lr"] == 0.01 and values["cv_channels"] == "4, 8"
    assert values["cv_pool"] == "max" and values["cv_head"] == "flatten"  # the preset's settings beneath
    hostile = {"kernel": "²", "lr": "nan", "channels": "9" * 5000, "dense": "513", "steps": "inf", "batch": ""}
    values, problems = widgets_from_query({**hostile, "padding": "1"})
    assert values == {"cv_padding": 1} and len(problems) == len(hostile)
    assert all(len(p) < 400 for p in problems)


def test_the_live_run_evaluates_at_most_every_eval_seconds_while_playing():
    run = CNNRun.build(preset("lenet"), "cpu")
    first = run.snapshot(now=0.0)
    run.play()
    run.trainer.advance(10.0, max_steps=5)
    assert run.snapshot(now=EVAL_SECONDS / 2) is first  # too soon: the last measurement stands
    assert run.snapshot(now=EVAL_SECONDS + 0.1).step == 5
    run.pause()
    run.trainer.advance(10.0, max_steps=2)
    assert run.snapshot(now=EVAL_SECONDS + 0.2).step == 7  # paused: measured at once


def test_play_and_pause_start_and_stop_the_pace_and_a_frame_trains_what_it_leaves():
    """The live view's pace (common/frame_interval.py, tested in test_frame_interval.py): Play measures
    the browser's pace anew, Pause or the step limit leaves the server's count of training runs, a frame
    trains for what the pace gives it (less an evaluation, in a frame that makes one), and the interval
    holds a frame that evaluates."""
    run = CNNRun.build(preset("lenet"), "cpu")
    run.pace.runs = LiveRuns()  # this test's own server
    budgets = []
    advance = run.trainer.advance
    run.trainer.advance = lambda seconds, *more: budgets.append(seconds) or advance(seconds, *more)
    run.snapshot()
    run.mistake_views()  # both measured while paused: the next frame neither evaluates nor measures them
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2  # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.pace.runs.stopped(-1)
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    run.pace.draw_seconds = 0.0   # a quick drawing: the frame's training is capped
    run.tick()
    assert budgets == [pytest.approx(MAX_TRAIN_SECONDS, abs=0.005)] and run.trainer.step_count > 0
    run.eval_seconds = 0.05
    assert run.frame_budget(evaluating=True) == pytest.approx(MAX_TRAIN_SECONDS - 0.05)
    run.eval_seconds = 0.6        # an evaluation longer than the frame's share: it takes the frame
    assert run.frame_budget(evaluating=True) == 0.0
    run.pace.draw_seconds = 1.0   # a slow drawing leaves training the least
    assert run.frame_budget() == pytest.approx(MIN_TRAIN_SECONDS)
    run.pace.draw_seconds = 0.1
    run.plan_frames()
    assert run.pace.frame_interval() == pytest.approx(0.7)  # the drawing and the evaluation fit in it
    assert run.apply(run.trainer.config.replace(max_steps=run.trainer.step_count + 1)) == []
    run.pace.frame_started()
    run.tick(budget_s=1.0)        # reaches the step limit: stops by itself and leaves the server's count
    assert not run.playing and run.pace.runs.ticked(-1) == 1


def test_the_views_follow_the_digit_chosen_the_drawing_and_the_training():
    run = CNNRun.build(preset("lenet"), "cpu")
    test = run.digit_views(3)
    assert test.index == 3 and np.array_equal(test.image, run.trainer.x_test_np[3])
    assert run.digit_views(3) is test  # nothing changed: not measured again
    drawn = drawn_input(np.eye(8))
    views = run.digit_views(3, drawn)
    assert views.index == -1 and np.array_equal(views.image, drawn)
    for (name, maps), (name_again, again) in zip(views.maps, run.trainer.feature_maps(drawn)):
        assert name == name_again and np.array_equal(maps, again)
    assert np.allclose(views.probabilities, run.trainer.predict_proba(drawn[None])[0])
    run.step(5)
    assert run.digit_views(3, drawn).step == 5  # trained: measured again


def test_the_pair_is_compared_after_as_many_steps():
    pair = PairRun.build("lenet", seed=1)
    pair.play()
    for _ in range(3):
        pair.tick(budget_s=0.05)
    assert pair.cnn.step_count > 0 and pair.mlp.step_count == pair.cnn.step_count
    shifts = pair.shift_accuracies()
    assert set(shifts) == {"CNN", "MLP"} and all(len(v) == 3 for v in shifts.values())
    assert shifts["CNN"][0] == pytest.approx(pair.cnn.shifted_accuracy(0))


def test_the_pair_trains_what_its_pace_leaves_and_pause_gives_the_server_back():
    pair = PairRun.build("lenet", seed=1)
    pair.pace.runs = LiveRuns()
    budgets = []
    advance = pair.cnn.advance
    pair.cnn.advance = lambda seconds, *more: budgets.append(seconds) or advance(seconds, *more)
    pair.play()
    pair.pace.frame_started()
    assert pair.pace.runs.ticked(-1) == 2
    pair.pace.draw_seconds = 0.0   # a quick drawing: the CNN's chunk is capped
    pair.tick()
    pair.pace.draw_seconds = 1.0   # a slow drawing leaves training the least
    pair.tick()
    assert budgets == [pytest.approx(MAX_TRAIN_SECONDS), pytest.approx(MIN_TRAIN_SECONDS)]
    assert pair.mlp.step_count == pair.cnn.step_count
    pair.pause()
    assert pair.pace.runs.ticked(-1) == 1


def test_a_drawing_is_framed_as_the_digits_are():
    assert drawn_input(None) is None and drawn_input(np.zeros((8, 8))) is None
    grid = np.zeros((8, 8))
    grid[2:5, 5] = 0.4  # a short faint stroke near the right edge
    image = drawn_input(grid).reshape(8, 8)
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.05), np.flatnonzero(image.max(axis=0) > 0.05)
    assert (rows[0], rows[-1]) == (0, 7) and image.max() == pytest.approx(1.0)  # full height, full ink
    assert 2 <= cols.mean() <= 5  # in the middle
    wide = np.zeros((8, 8))
    wide[3, :] = 1.0
    assert np.flatnonzero(drawn_input(wide).reshape(8, 8).max(axis=0) > 0.05).size <= 6


# ---------- the page ----------
def test_step_trains_and_every_view_draws_and_a_clicked_cell_shows_its_window():
    at = open_page(tab="train")
    assert metrics(at)["Step"] == "0"
    at.button(key="cv_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert m["Step"] == "50" and float(m["Test accuracy"].rstrip("%")) > 50
    text = " ".join(md.value for md in at.markdown)
    for part in ("Feature maps of conv1", "Confusion matrix", "most wrong", "First layer's filters"):
        assert part in text, part
    at.selectbox(key="cv_stage").set_value(6).run()  # conv3's maps (conv1, norm1, act1, conv2, …)
    at.session_state["cv_run"].click(6, 7, 7)
    at.run()
    captions = " ".join(c.value for c in at.caption)
    box = at.session_state["cv_run"].trainer.receptive_field(6, 7, 7)
    assert f"depends on input rows {box[0]}–{box[1] - 1} and columns {box[2]}–{box[3] - 1}" in captions
    assert at.query_params["tab"] == "train" and at.query_params["stage"] == "6"


def test_a_setting_the_engine_refuses_is_one_line_and_the_network_keeps_training():
    at = open_page(tab="train")
    at.text_input(key="cv_channels").set_value("8, sixteen").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This setting is not possible: model.channels: type whole numbers "
                                           "separated by commas, e.g. 8, 16, 32 (got '8, sixteen'). The last valid "
                                           "network keeps running."]
    at.button(key="cv_step").click().run()
    assert metrics(at)["Step"] == "50"


def test_the_pair_trains_step_for_step():
    at = open_page(tab="compare")
    at.button(key="cv_pair_step").click().run()
    pair = at.session_state["cv_pair"]
    assert pair.cnn.step_count == pair.mlp.step_count == 50
    assert "Moved by one pixel, the CNN keeps" in " ".join(md.value for md in at.markdown)


def test_a_reload_brings_the_trained_network_back_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "f" * 32
    at = open_page(key, tab="train", preset="lenet")
    at.button(key="cv_step").click().run()
    weights = [p.detach().clone() for p in at.session_state["cv_run"].trainer.model.parameters()]
    back = open_page(key, **at.query_params)  # a reload keeps the page's own address
    trainer = back.session_state["cv_run"].trainer
    assert trainer.step_count == 50 and all(torch.equal(a, b) for a, b in zip(weights, trainer.model.parameters()))
    assert "Restored your network at step 50, as last saved." in notices(back)
    assert back.selectbox(key="cv_preset").value == "lenet"
    other = open_page(key, tab="train", preset="tiny_vgg")  # a shared link to another network wins
    assert other.session_state["cv_run"].trainer.step_count == 0
    back.button(key="cv_reset").click().run()
    assert session_store().get(key, "cnn") is None


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "9" * 32
    session_store().put(key, "cnn", b"junk")
    at = open_page(key, tab="train")
    assert [w.value for w in at.warning] == ["Your saved network could not be read (ValueError); starting afresh."]
    assert at.session_state["cv_run"].trainer.step_count == 0


@st.composite
def address_setups(draw) -> dict[str, str]:
    """Any values the training tabs' address can carry, a few parameters at a time."""
    params = draw(st.lists(st.sampled_from(TRAIN_URL_PARAMS), min_size=1, max_size=5, unique_by=lambda p: p.name))
    query = {}
    for p in params:
        if p.name in ("channels", "mlp"):
            most, high = (6, 64) if p.name == "channels" else (4, 512)
            query[p.name] = ",".join(map(str, draw(st.lists(st.integers(1, high), min_size=1, max_size=most))))
        elif p.name in ("digit", "stage", "dense"):
            query[p.name] = str(draw(st.integers(0, {"digit": 899, "stage": 24, "dense": 512}[p.name])))
        else:
            options = {"preset": list(PRESETS) + ["custom"], "pair": ["global_pool", "lenet", "tiny_vgg", "all_conv"]}
            choices = options.get(p.name)
            if choices is None:
                choices = [p.format(v) for v in _options(p)]
            query[p.name] = draw(st.sampled_from(choices))
    return query


def _options(param) -> list:
    from app_pages.cnn import state as s
    table = {"kind": ["cnn", "mlp"], "kernel": s.KERNELS, "padding": s.PADDINGS, "stride": s.STRIDES,
             "dilation": s.DILATIONS, "pool": ["max", "avg", "none"], "pool_every": s.POOL_EVERY,
             "head": ["flatten", "global_max", "global_avg"], "activation": ["relu", "tanh", "sigmoid"],
             "batch_norm": [True, False], "dropout": s.DROPOUTS, "optimizer": ["sgd", "adam"],
             "lr": s.LEARNING_RATES, "batch": s.BATCH_SIZES, "steps": s.STEP_LIMITS}
    return table[param.name]


@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(setup=address_setups())
def test_any_address_setup_opens_on_the_training_tab(setup):
    at = open_page(tab="train", **setup)
    shown = " ".join(e.value for e in [*at.error, *at.warning])
    # Either the widgets build the network, or one line names the setting the engine refuses.
    assert "cv_run" in at.session_state and (not at.error or "This setting is not possible" in shown)
