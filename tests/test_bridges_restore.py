"""The Bridges page saves its live self-organising map as it trains and brings it back for the same
browser (a reload, a server restart): the autosave clock, the address rule (a shared link that
describes another map wins; the other pairs' settings apply either way), the restore itself with
k-means fitted again to the very same centres, the seed kept, Reset forgetting, a damaged entry."""
import numpy as np
import torch
from streamlit.testing.v1 import AppTest

from app_pages.bridges.state import (DEFAULTS, SAVE_NAME, TAB_NAMES, SOMRun, restored_map_widgets,
                                     som_config_from_widgets, widgets_to_query)
from engine.bridges.som import SOMConfig, SOMTrainer
from tests.test_bridges_page import PAGE, metrics

SOM_TAB = TAB_NAMES[4]
SMALL = {"tab": "som", "som.rows": "4", "som.cols": "4", "som.steps": "1000"}  # a small map: k-means is quick


def small_run(seed: int = 0) -> SOMRun:
    state = {**DEFAULTS, "br_som_rows": 4, "br_som_cols": 4, "br_som_steps": 1000}
    return SOMRun.build(som_config_from_widgets(state, seed))


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    run = small_run()
    saved = []
    assert not run.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    run.play()
    run.tick(budget_s=0.01)
    assert run.autosave(saved.append, now=1.0) and len(saved) == 1
    run.tick(budget_s=0.01)
    assert not run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    run.tick(budget_s=0.01)
    run.pause()
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS + 0.1)  # stopped: saved at once
    assert not run.autosave(saved.append, now=100.0)  # and only once
    run.step(100)  # the Step button pauses and trains: saved once more
    assert run.autosave(saved.append, now=100.0) and not run.autosave(saved.append, now=200.0)
    back = SOMTrainer.from_checkpoint(saved[-1])
    assert back.step_count == run.trainer.step_count and torch.equal(back.weights, run.trainer.weights)


def test_a_restored_run_fits_k_means_again_to_the_same_centres():
    run = small_run(seed=2)
    run.step(200)
    back = SOMRun.around(SOMTrainer.from_checkpoint(run.trainer.checkpoint_bytes()))
    assert np.array_equal(back.kmeans["centres"], run.kmeans["centres"])
    assert back.kmeans["quantisation_error"] == run.kmeans["quantisation_error"]


def test_restore_follows_the_address_a_shared_link_that_describes_another_map_wins():
    config = SOMConfig(data="circle", rows=4, cols=5, steps=2000, lr_start=0.2, lr_end=0.01, seed=3)
    values = restored_map_widgets(config, {})  # an empty address: the nav menu; the map's tab opens
    assert values == {"br_som_data": "circle", "br_som_rows": 4, "br_som_cols": 5, "br_som_steps": 2000,
                      "br_som_lr": 0.2, "br_som_radius": 0.0, "br_tab": SOM_TAB}
    own = widgets_to_query({**DEFAULTS, **values}, 3)  # what the page writes for it, and a reload sends back
    assert own == {"tab": "som", "som.data": "circle", "som.rows": "4", "som.cols": "5", "som.steps": "2000",
                   "som.lr": "0.2", "train.seed": "3"}
    without_tab = {k: v for k, v in values.items() if k != "br_tab"}
    assert restored_map_widgets(config, own) == without_tab  # the address's tab is kept
    # the other pairs' settings and the map's speed are not part of the saved map: they apply as well
    assert restored_map_widgets(config, {**own, "tab": "svm", "svm.c": "10", "som.speed": "max"}) == without_tab
    assert restored_map_widgets(config, {"tab": "svm", "logistic.c": "10"}) == without_tab  # nothing about the map
    for other in ({**own, "train.seed": "4"}, {**own, "som.rows": "5"}, {"som.data": "circle"},
                  {"tab": "som", "train.seed": "3"}):
        assert restored_map_widgets(config, other) is None, other
    assert restored_map_widgets(SOMConfig(rows=3, steps=777), {}) is None  # a schedule no widget offers


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error, *at.info])


def run_of(at: AppTest) -> SOMRun:
    return at.session_state.br_som_run


def test_the_page_restores_the_map_this_browser_trained():
    key = "a" * 32
    at = _open_as(key, **SMALL, **{"train.seed": "0"})
    for _ in range(2):
        at.button(key="br_som_step").click().run()  # 100 points each; paused, so each is saved
    assert run_of(at).trainer.step_count == 200

    back = _open_as(key, **at.query_params)  # a reload: a new session of the same browser, the same address
    restored, saved = run_of(back).trainer, run_of(at).trainer
    assert restored.step_count == 200 and torch.equal(restored.weights, saved.weights)
    assert restored.history == saved.history and metrics(back)["Step"] == "200"
    assert np.array_equal(run_of(back).kmeans["centres"], run_of(at).kmeans["centres"])
    assert "Restored your self-organising map at step 200, as last saved. Press Play to go on." in _notices(back)
    back.button(key="br_som_step").click().run()  # it trains on from there, as the uninterrupted map does
    at.button(key="br_som_step").click().run()
    assert torch.equal(run_of(back).trainer.weights, run_of(at).trainer.weights)
    assert run_of(back).trainer.step_count == 300 and "Restored" not in _notices(back)  # the notice is shown once

    again = _open_as(key)  # an empty address (the nav menu): restored, on the map's tab
    assert run_of(again).trainer.step_count == 300 and again.session_state.br_tab == SOM_TAB
    assert again.query_params == {**SMALL, "train.seed": "0"}  # the address follows the restored map
    assert "br_som_run" not in _open_as("b" * 32).session_state  # another browser starts afresh
    shared = _open_as(key, **{**SMALL, "som.rows": "5"})  # a shared address that describes another map wins
    assert run_of(shared).trainer.step_count == 0 and run_of(shared).config.rows == 5
    assert "Restored" not in _notices(shared)


def test_a_restored_map_keeps_its_seed_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    at = _open_as(key, **SMALL, **{"train.seed": "7", "svm.c": "10"})
    at.button(key="br_som_step").click().run()
    back = _open_as(key)  # an empty address: the saved map comes back, with its seed
    assert back.session_state.global_seed == 7 and run_of(back).config.seed == 7
    assert run_of(back).trainer.step_count == 100 and "Restored your self-organising map" in _notices(back)
    back.run()  # the widgets describe the restored map exactly: no new map
    assert run_of(back).trainer.step_count == 100

    back.button(key="br_som_reset").click().run()
    assert run_of(back).trainer.step_count == 0 and session_store().get(key, SAVE_NAME) is None
    assert "br_som_run" not in _open_as(key).session_state  # a reload after Reset: no map brought back


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, SAVE_NAME, b"not a checkpoint")
    at = _open_as(key, **SMALL)
    assert [w.value for w in at.warning] == ["Your saved map could not be read (ValueError); starting afresh."]
    assert run_of(at).trainer.step_count == 0 and session_store().get(key, SAVE_NAME) is None
    at.button(key="br_som_step").click().run()
    assert SOMTrainer.from_checkpoint(session_store().get(key, SAVE_NAME)).step_count == 100
