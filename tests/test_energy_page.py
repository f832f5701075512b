"""The Energy models page: its plain logic (widgets <-> config for each tab, the address, the live run's
tick and stop) and the page under AppTest: each tab renders from its address, Step trains and draws its
charts, a setting the engine refuses is one line, and a structural change after training asks first."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common import address
from app_pages.common.frame_interval import LiveRuns
from app_pages.energy.state import (CONFIG_CLASSES, TICK_SECONDS, TRAIN_SECONDS, URL_PARAMS, EnergyRun,
                                    config_from_widgets, default_widgets, widgets_from_config)
from engine.energy import BoltzmannConfig, BoltzmannTrainer

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "energy" / "page.py")


@pytest.fixture(autouse=True)
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("task", list(CONFIG_CLASSES))
def test_each_tabs_widgets_round_trip_its_default_config(task):
    config = CONFIG_CLASSES[task](seed=3)
    assert config_from_widgets(task, widgets_from_config(task, config), 3) == config
    assert config_from_widgets(task, default_widgets(), 3) == config


def test_the_address_round_trips_and_names_what_it_cannot_use():
    values = {**default_widgets(), "en_tab": "② RBM", "en_rbm_k": 5, "en_rbm_persistent": True, "en_bm_hidden": 6,
              "en_dbn_layers": "100-50-25"}
    query = address.widgets_to_query(URL_PARAMS, values, default_widgets(), 4)
    assert query == {"tab": "rbm", "rbm.k": "5", "rbm.persistent": "true", "bm.hidden": "6",
                     "dbn.layers": "100-50-25", "train.seed": "4"}
    back, problems = address.widgets_from_query(URL_PARAMS, query)
    assert not problems and {**default_widgets(), **back} == values
    hostile = {"bm.hidden": "13", "rbm.k": "²", "bm.lr": "nan", "dbn.layers": "9" * 5000, "tab": "<b>"}
    back, problems = address.widgets_from_query(URL_PARAMS, hostile)
    assert back == {} and len(problems) == len(hostile) and all(len(p) < 400 for p in problems)


def test_the_live_run_trains_in_time_boxed_ticks_and_stops_at_the_limit():
    run = EnergyRun(BoltzmannTrainer(BoltzmannConfig(max_steps=30), "cpu"))
    assert run.tick().step == 0                   # paused: nothing trains
    run.play()
    while run.playing:
        snap = run.tick(budget_s=0.01)
    assert snap.step == 30 and snap.finished and run.message.startswith("Reached the step limit")
    assert run.apply(run.trainer.config.replace(max_steps=40)) == [] and run.message == ""
    run.play()
    assert run.playing and run.tick(budget_s=5.0).step == 40


def test_play_and_pause_start_and_stop_the_pace_and_a_frame_trains_what_it_leaves():
    """The live view's pace (common/frame_interval.py): Play measures the browser afresh, Pause (and a run
    that stops by itself) gives the server back, and a frame trains what the interval leaves after the
    measuring and drawing, at most TRAIN_SECONDS."""
    run = EnergyRun(BoltzmannTrainer(BoltzmannConfig(max_steps=3), "cpu"))
    run.pace.runs = LiveRuns()                     # this test's own server
    budgets = []
    advance = run.trainer.advance
    run.trainer.advance = lambda seconds: budgets.append(seconds) or advance(0.0)
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2           # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pace.draw_seconds = 0.01                   # a quick drawing: the frame's training is capped
    run.train()
    run.pace.draw_seconds = 0.15                   # a slow drawing leaves less of the frame to training
    run.train()
    assert budgets == [TRAIN_SECONDS, pytest.approx(0.8 * TICK_SECONDS - 0.15)]
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    assert run.pace.frame_interval() == TICK_SECONDS
    run.pace.frame_started()
    while run.playing:                             # the step limit: stopped by itself, it leaves the server too
        run.train()
    assert run.trainer.finished and run.pace.runs.ticked(-1) == 1


def open_page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("tab, shown", [("boltzmann", "KL(data ‖ model)"), ("rbm", "Free-energy gap"),
                                        ("dbn", "Phase")])
def test_each_tab_steps_and_draws_its_charts(tab, shown):
    at = open_page(tab=tab)
    before = metrics(at)
    assert before["Step"].startswith("0") and shown in before
    at.button(key=f"en_{tab}_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = metrics(at)
    assert not after["Step"].startswith("0") and after[shown] != "—"
    charts = [c for c in at.get("bidi_component") if c.proto.component_name.endswith("live_plotly")]
    assert len(charts) >= 3
    assert not at.error and not at.warning


def test_a_refused_setting_is_one_line_and_a_structural_change_asks_first():
    at = open_page(**{"bm.data": "shifter4"})
    at.selectbox(key="en_bm_hidden").set_value(12).run()     # 11 + 12 units: too many to enumerate
    assert not at.exception and len(at.error) == 1 and "hidden: 23 units in all is too many" in at.error[0].value
    at.selectbox(key="en_bm_hidden").set_value(4).run()
    at.button(key="en_boltzmann_step").click().run()
    at.selectbox(key="en_bm_data").set_value("bars2x4").run()
    assert "You changed **data**" in at.warning[0].value and metrics(at)["Step"] == "100"   # still the trained one
    at.button(key="en_boltzmann_replace").click().run()
    assert not at.exception and metrics(at)["Step"] == "0" and not at.warning
