"""The Neural Turing machine page: widgets <-> config, the address (a round trip, hostile values named),
the live run (evaluations cached while playing), the figures' shapes, and the page under AppTest: it
draws every view, Step trains both models, a bad setting is one line, and a reload brings the run back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.frame_interval import LiveRuns
from app_pages.ntm.runs import EVAL_SECONDS, FRAME_SHARE, MAX_TRAIN_SECONDS, TICK_SECONDS, NTMRun
from app_pages.ntm.state import (config_from_widgets, default_widgets, page_query, restored_widgets,
                                 widgets_from_config, widgets_from_query)
from engine.ntm import NTMConfig
from viz.ntm import bits_figure, curves_figure, heads_figure, longer_figure, memory_figure

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "ntm" / "page.py")
TINY = NTMConfig.build(bits=3, max_length=3, controller=8, memory_slots=8, memory_width=4, batch_size=4)


@pytest.fixture(autouse=True)
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def open_page(key: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if key:
        at.session_state["np_session_key"] = key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


# ---------- plain logic ----------
def test_the_widgets_round_trip_the_config_and_the_address_names_what_it_cannot_use():
    config = NTMConfig.build(bits=4, min_length=2, max_length=6, memory_slots=16, lr=0.01, seed=7)
    assert config_from_widgets(widgets_from_config(config), 7) == config
    assert config_from_widgets(default_widgets(), 0) == NTMConfig()
    values = {**default_widgets(), **widgets_from_config(config)}
    query = page_query(values, 7)
    assert query == {"bits": "4", "lengths": "2-6", "slots": "16", "lr": "0.01", "train.seed": "7"}
    back, problems = widgets_from_query(query)
    assert not problems and config_from_widgets({**default_widgets(), **back}, 7) == config
    hostile = {"bits": "²", "lengths": "8-2", "slots": "9" * 5000, "lr": "nan", "steps": "inf", "example": "-1"}
    values, problems = widgets_from_query({**hostile, "width": "8"})
    assert values == {"nt_width": 8} and len(problems) == len(hostile) and all(len(p) < 400 for p in problems)
    # a reload (its own address, or none) restores a run; a link to another run does not
    assert restored_widgets(config, query) is not None and restored_widgets(config, {}) is not None
    assert restored_widgets(config, {**query, "bits": "5"}) is None


def test_the_live_run_evaluates_at_most_every_eval_seconds_while_playing():
    run = NTMRun.build(TINY, "cpu")
    first = run.snapshot(now=0.0)
    run.playing = True
    run.trainer.step(2)
    assert run.snapshot(now=EVAL_SECONDS / 2) is first            # too soon: the last measurement
    assert run.snapshot(now=EVAL_SECONDS * 1.5).step == 2
    snap = run.tick(budget_s=0.05)
    assert run.trainer.step_count > 2 and snap.step <= run.trainer.step_count
    run.pause()
    assert run.snapshot().step == run.trainer.step_count          # paused: measured at once
    assert run.example(None).target.shape == (3, 3) and run.example(5).target.shape == (5, 3)
    assert run.longer().lengths[-1] == 9


def test_play_and_pause_start_and_stop_the_pace_and_a_frame_trains_what_the_pace_leaves():
    """The live view's pace (common/frame_interval.py): Play measures the browser afresh, Pause gives
    the server back, and a frame trains what the interval leaves after the drawing, at most
    MAX_TRAIN_SECONDS (two models train each frame)."""
    run = NTMRun.build(TINY, "cpu")
    run.pace.runs = LiveRuns()                     # this test's own server
    assert (run.pace.tick, run.pace.share, run.pace.max_train) == (TICK_SECONDS, FRAME_SHARE, MAX_TRAIN_SECONDS)
    budgets = []
    run.trainer.advance = lambda seconds: budgets.append(seconds) or 0
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2           # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pace.draw_seconds = 0.01                   # a quick drawing: the frame's training is capped
    run.tick()
    run.pace.draw_seconds = 0.1                    # a slow drawing leaves less of the frame to training
    run.tick()
    assert budgets == [MAX_TRAIN_SECONDS, pytest.approx(FRAME_SHARE * TICK_SECONDS - 0.1)]
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    assert run.pace.frame_interval() == TICK_SECONDS


def test_the_figures_have_their_panels():
    run = NTMRun.build(TINY, "cpu")
    run.step(2)
    ex = run.example(None)
    bits = bits_figure(ex.inputs, ex.target, {"NTM": ex.ntm_output, "LSTM": ex.lstm_output})
    z = np.array(bits.data[0].z, dtype=float)
    assert z.shape == (4 + 1 + 3 + 1 + 3 + 1 + 3, 7)                 # input, target, NTM, LSTM with gaps
    np.testing.assert_array_equal(z[5:8, 4:], ex.target.T)           # the target under the answer steps
    assert np.isnan(z[5:8, :4]).all()
    assert list(bits.layout.yaxis.ticktext) == ["input", "target", "NTM", "LSTM"]
    heads = np.array(heads_figure(ex.write_weights, ex.read_weights).data[0].z, dtype=float)
    np.testing.assert_allclose(heads[:, :7], ex.write_weights.T)
    np.testing.assert_allclose(heads[:, 9:], ex.read_weights.T)
    assert memory_figure(ex.memory[-1], 7).data[0].z is not None
    test = run.longer()
    assert len(longer_figure(test.lengths, test.ntm_bit_error, test.lstm_bit_error, (1, 3), 8).layout.shapes) == 2
    assert [t.name for t in curves_figure(run.trainer.history, "bit_error").data] == ["NTM", "LSTM"]
    with pytest.raises(ValueError, match="2T"):
        bits_figure(ex.inputs[:-1], ex.target, {})


# ---------- the page ----------
def test_the_page_draws_steps_both_models_and_names_a_bad_setting_in_one_line():
    at = open_page(bits="3", lengths="1-3", slots="8", width="4", controller="8", batch="8")
    assert not at.error and len(at.get("bidi_component")) == 6   # curves ×2, bits, heads, memory, longer
    at.button(key="nt_step").click().run()
    trainer = at.session_state["nt_run"].trainer
    assert trainer.step_count == 50 and len(trainer.history) >= 1
    assert {m.label: m.value for m in at.metric}["Step"] == "50"
    at.selectbox(key="nt_example").set_value(6).run()
    assert not at.exception
    at.slider(key="nt_lengths").set_value((1, 12)).run()   # 12 > the 8 slots: refused, the run kept
    assert not at.exception and len(at.error) == 1 and "give at least 12 slots" in at.error[0].value
    assert at.session_state["nt_run"].trainer.step_count == 50


def test_a_reload_brings_the_trained_run_back_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "e" * 32
    at = open_page(key, bits="3", lengths="1-3", slots="8", width="4", controller="8", batch="8")
    at.button(key="nt_step").click().run()
    weights = [p.detach().clone() for p in at.session_state["nt_run"].trainer.ntm.parameters()]
    back = open_page(key, **at.query_params)
    trainer = back.session_state["nt_run"].trainer
    assert trainer.step_count == 50 and all(torch.equal(a, b) for a, b in zip(weights, trainer.ntm.parameters()))
    assert "Restored your machines at step 50" in notices(back)
    back.button(key="nt_reset").click().run()
    assert session_store().get(key, "ntm") is None
