"""The Reservoirs page: widgets -> configs, the address (a round trip, hostile values named), the live
runs (a tick advances a chunk and stops at the end; the ELM's twin trains on the ELM's very points),
and the page under AppTest: each tab renders, Step trains and the metrics move, no exception."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common.frame_interval import LiveRuns
from app_pages.reservoirs import state as rs
from app_pages.reservoirs.runs import TICK_SECONDS, TRAIN_SECONDS, ELMRun, ESNRun, LSMRun
from engine.reservoirs import ELMConfig, LSMConfig

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "reservoirs" / "page.py")


@pytest.fixture(autouse=True)
def one_cpu_thread():
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_default_widgets_describe_the_default_configs():
    widgets = rs.default_widgets()
    assert rs.elm_config(widgets, 0) == ELMConfig()
    assert rs.lsm_config(widgets, 3) == LSMConfig.from_dict({"train": {"seed": 3, "samples_per_step": 100}})
    esn = rs.esn_config(widgets, 0)
    assert esn.model.spectral_radius == 0.9 and esn.data.signal == "mackey_glass"


def test_the_address_round_trips_and_names_what_it_cannot_use():
    values = {**rs.default_widgets(), "rs_esn_radius": 1.5, "rs_elm_data": "xor", "rs_tab": rs.TABS["esn"]}
    query = rs.page_query(values, 7)
    assert query == {"radius": "1.5", "data": "xor", "tab": "esn", "train.seed": "7"}
    back, problems = rs.page_from_query(query)
    assert not problems and back == {"rs_esn_radius": 1.5, "rs_elm_data": "xor", "rs_tab": rs.TABS["esn"]}
    hostile = {"radius": "nan", "hidden": "9" * 5000, "tab": "<b>", "digit": "-1"}
    back, problems = rs.page_from_query({**hostile, "leak": "1"})
    assert back == {"rs_esn_leak": 1.0} and len(problems) == len(hostile) and all(len(p) < 400 for p in problems)


def test_the_runs_advance_a_chunk_a_tick_and_stop_at_the_end():
    elm = ELMRun.build(ELMConfig.from_dict({"data": {"n_samples": 60}, "train": {"sweep": [2, 20]}}))
    np.testing.assert_array_equal(elm.twin.dataset.train_xy, elm.elm.dataset.train_xy)   # the same points
    elm.play()
    elm.tick()
    assert elm.elm.step_count == 1 and elm.twin.step_count > 0 and elm.playing
    assert elm.plane("elm").shape == elm.plane("mlp").shape == (50, 50)
    esn = ESNRun.build(rs.esn_config(rs.default_widgets(), 0))
    esn.play()
    for _ in range(25):
        esn.tick()
    assert esn.esn.finished and not esn.playing and esn.esn.snapshot().test_nrmse < 0.05
    curves = list(esn.echo_curves(300).values())
    assert curves[0][-1] < 1e-6 < curves[1][-1]
    config = LSMConfig.from_dict({"model": {"size": 40}, "data": {"steps_per_row": 2},
                                  "train": {"samples_per_step": 800}})
    lsm = LSMRun.build(config, rs.esn_twin_config(config))
    lsm.step()
    assert lsm.lsm.samples_seen == lsm.esn.samples_seen == 800   # the same digits, the same chunks
    assert lsm.raster(3)["spikes"].shape == (16, 40)


def test_play_and_pause_start_and_stop_the_pace_and_the_twin_trains_what_it_leaves():
    """The live view's pace (common/frame_interval.py): Play measures the browser afresh, Pause (and a run
    that stops by itself) gives the server back, and the ELM's MLP twin trains what the frame's interval
    leaves after the drawing, at most TRAIN_SECONDS."""
    elm = ELMRun.build(ELMConfig.from_dict({"data": {"n_samples": 60}, "train": {"sweep": [2, 20]}}))
    elm.pace.runs = LiveRuns()                     # this test's own server
    budgets = []
    elm.twin.train_for = lambda seconds: budgets.append(seconds)
    elm.play()
    elm.pace.frame_started()
    assert elm.pace.runs.ticked(-1) == 2           # this run and the probe -1
    elm.pace.browser_floor, elm.pace.interrupted = 2.0, 3
    elm.pace.draw_seconds = 0.01                   # a quick drawing: the frame's training is capped
    elm.tick()
    elm.pace.draw_seconds = 0.15                   # a slow drawing leaves less of the frame to training
    elm.tick()
    assert budgets == [TRAIN_SECONDS, pytest.approx(0.8 * TICK_SECONDS - 0.15)]
    elm.pause()
    assert elm.pace.runs.ticked(-1) == 1
    elm.play()
    assert elm.pace.browser_floor == 0 and elm.pace.interrupted == 0
    assert elm.pace.frame_interval() == TICK_SECONDS
    esn = ESNRun.build(rs.esn_config(rs.default_widgets(), 0))
    esn.pace.runs = elm.pace.runs
    esn.play()
    esn.pace.frame_started()
    assert esn.pace.runs.ticked(-1) == 2           # the ESN and the probe: the ELM has not ticked since its Play
    while esn.playing:                             # the end of the data: stopped by itself, it leaves the server
        esn.tick()
    assert esn.esn.finished and esn.pace.runs.ticked(-1) == 1


@pytest.mark.parametrize("tab, first, after", [("elm", "Widths fitted", "1 of 9"),
                                               ("esn", "Training steps seen", "100"),   # after the washout
                                               ("lsm", "Digits seen", "100")])
def test_each_tab_renders_and_step_trains(tab, first, after):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)[first] in ("0 of 9", "0")
    for _ in range(2 if tab == "esn" else 1):   # the ESN's first 100 steps are its washout
        at.button(key=f"rs_{tab}_step").click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)[first] == after
    assert not at.error


def test_an_address_value_it_cannot_use_is_one_line_and_the_page_still_draws():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"tab": "esn", "radius": "7"})
    at.run()
    assert not at.exception
    assert any("radius" in w.value and "was ignored" in w.value for w in at.warning)
    assert "Test NRMSE (one step)" in metrics(at)
