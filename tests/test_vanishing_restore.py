"""The Vanishing gradients page saves its networks, all of the comparison together, as they train,
and brings them back for the same browser (a reload, a server restart): the autosave clock, the
lab's checkpoint, the address rule (a shared link wins), the restore itself, the seed kept, Reset
forgetting, a damaged entry. AppTest."""
import io

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.vanishing.state import (MAIN_LABEL, SAVE_NAME, VanishingLab, make_config, preset_config,
                                       restored_widgets, widgets_to_query)
from tests.test_vanishing_page import PAGE, asking, metrics

SMALL = {"depth": "4", "width": "8", "compare": "tanh ×20"}  # a small network beside one preset: fast


def small_lab(seed: int = 0) -> VanishingLab:
    config = make_config(4, 8, "sigmoid", "default", False, "none", "sgd", 0.03, 0.0, "circle", seed)
    return VanishingLab.build([(MAIN_LABEL, config), ("tanh ×20", preset_config("tanh ×20", "circle", seed))])


def same_networks(a: VanishingLab, b: VanishingLab) -> bool:
    return [r.label for r in a.runs] == [r.label for r in b.runs] and all(
        ra.trainer.step_count == rb.trainer.step_count and ra.trainer.history == rb.trainer.history
        and np.array_equal(ra.steps, rb.steps) and np.array_equal(ra.norms, rb.norms)
        and all(torch.equal(p, q) for p, q in zip(ra.trainer.model.parameters(), rb.trainer.model.parameters()))
        for ra, rb in zip(a.runs, b.runs))


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    lab = small_lab()
    saved = []
    assert not lab.autosave(saved.append, now=0.0)  # only the step each network is built with: nothing to save
    lab.play()
    lab.tick(budget_s=0.02)
    assert lab.autosave(saved.append, now=1.0) and len(saved) == 1
    lab.tick(budget_s=0.02)
    assert not lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    lab.tick(budget_s=0.02)
    lab.pause()
    assert lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS + 0.1)  # stopped: saved at once
    assert not lab.autosave(saved.append, now=100.0)  # and only once
    lab.step(3)  # the Step button pauses and trains: saved once more
    assert lab.autosave(saved.append, now=100.0) and not lab.autosave(saved.append, now=200.0)
    back = VanishingLab.from_checkpoint(saved[-1], "cpu")
    assert same_networks(back, lab) and not back.playing


def test_a_restored_lab_trains_on_exactly_as_the_uninterrupted_one():
    lab, whole = small_lab(), small_lab()
    lab.step(5), whole.step(5)
    back = VanishingLab.from_checkpoint(lab.checkpoint_bytes(), "cpu")
    assert same_networks(back, whole)
    back.step(7), whole.step(7)
    assert same_networks(back, whole)
    assert all(r.trainer.record_grad_norms for r in back.runs)  # the heatmap goes on recording


def _tampered(data: bytes, run: int, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob["runs"][run] = {**blob["runs"][run], **changes}
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_a_damaged_lab_checkpoint_names_the_network_and_what_is_wrong():
    lab = small_lab()
    lab.step(2)
    data = lab.checkpoint_bytes()
    for bad, says in [
        (b"junk", "not a Vanishing gradients checkpoint"),
        (_tampered(data, 1, trainer=b"junk"), "network 2 \\(tanh ×20\\): not a Neural Playground checkpoint"),
        (_tampered(data, 0, norms=torch.zeros(3, 2)), "network 1 .* norms must be 3 rows of 5 layers"),
        (_tampered(data, 0, steps=torch.tensor([2, 1, 3])), "steps must rise"),
        (_tampered(data, 0, label=7), "label must be a short text"),
    ]:
        with pytest.raises(ValueError, match=says):
            VanishingLab.from_checkpoint(bad, "cpu")


def test_restore_follows_the_address_a_shared_link_wins():
    lab = small_lab(seed=3)
    lab.runs[0].trainer.apply(lab.runs[0].trainer.config.replace(train={"lr": 0.1}))  # a hot change: kept
    configs = [(r.label, r.trainer.config) for r in lab.runs]
    values = restored_widgets(configs, {})  # an empty address: the nav menu, a bookmark
    assert values["vg_depth"] == 4 and values["vg_lr"] == 0.1 and values["vg_compare"] == ["tanh ×20"]
    own = widgets_to_query(values, 3)  # what the page writes for it, and a reload sends back
    assert own == {**SMALL, "lr": "0.1", "train.seed": "3"} and restored_widgets(configs, own) == values
    for other in ({**own, "train.seed": "4"}, {**own, "compare": ""}, {"depth": "5"}, {**own, "unknown": "1"}):
        assert restored_widgets(configs, other) is None, other
    odd = make_config(4, 10, "sigmoid", "default", False, "none", "sgd", 0.03, 0.0, "circle", 3)  # width 10: no widget
    assert restored_widgets([(MAIN_LABEL, odd)], {}) is None
    changed_preset = [configs[0], ("tanh ×20", preset_config("sigmoid ×20", "circle", 3))]
    assert restored_widgets(changed_preset, {}) is None  # a compared network that is not its preset


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def lab_of(at: AppTest) -> VanishingLab:
    return at.session_state.vg_lab


def test_the_page_restores_the_networks_this_browser_trained():
    key = "a" * 32
    at = _open_as(key, **SMALL, **{"train.seed": "0"})
    for _ in range(2):
        at.button(key="vg_step").click().run()  # one step each; paused, so each is saved
    assert lab_of(at).runs[0].trainer.step_count == 3

    back = _open_as(key, **at.query_params)  # a reload: a new session of the same browser, the same address
    assert same_networks(lab_of(back), lab_of(at)) and metrics(back)["Step"] == "3"
    assert "Restored your networks at step 3, as last saved. Press Play to go on." in _notices(back)
    back.button(key="vg_step").click().run()  # they train on from there, as the uninterrupted ones do
    at.button(key="vg_step").click().run()
    assert same_networks(lab_of(back), lab_of(at)) and lab_of(back).runs[1].trainer.step_count == 4
    assert "Restored" not in _notices(back) and not asking(back)  # the notice is shown once

    back.select_slider(key="vg_lr").set_value(0.1).run()  # hot: in the address and in the next save
    back.button(key="vg_step").click().run()
    assert back.query_params == {**SMALL, "lr": "0.1", "train.seed": "0"}
    again = _open_as(key)  # an empty address (the nav menu) restores too
    assert lab_of(again).runs[0].trainer.step_count == 5 and lab_of(again).runs[0].trainer.config.train.lr == 0.1
    assert again.query_params == back.query_params  # and the address follows the restored setup
    assert lab_of(_open_as("b" * 32, **SMALL)).runs[0].trainer.step_count == 1  # another browser starts afresh
    shared = _open_as(key, **{**SMALL, "activation": "tanh", "train.seed": "5"})  # a shared address wins
    assert lab_of(shared).runs[0].trainer.step_count == 1 and "Restored" not in _notices(shared)
    assert lab_of(shared).runs[0].trainer.config.model.activation == "tanh"
    assert lab_of(shared).runs[0].trainer.config.train.seed == 5


def test_a_restored_lab_keeps_its_seed_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    at = _open_as(key, **SMALL, **{"train.seed": "7"})
    at.button(key="vg_step").click().run()
    back = _open_as(key)  # an empty address: the saved networks come back, with their seed
    assert back.session_state.global_seed == 7 and all(r.trainer.config.train.seed == 7 for r in lab_of(back).runs)
    assert lab_of(back).runs[0].trainer.step_count == 2 and "Restored your networks at step 2" in _notices(back)
    back.run()  # the widgets describe the restored networks exactly: no question, no new networks
    assert lab_of(back).runs[0].trainer.step_count == 2 and not asking(back)

    back.button(key="vg_reset").click().run()
    assert lab_of(back).runs[0].trainer.step_count == 1 and session_store().get(key, SAVE_NAME) is None
    assert lab_of(_open_as(key)).runs[0].trainer.step_count == 1  # a reload after Reset: new networks


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, SAVE_NAME, b"not a checkpoint")
    at = _open_as(key, **SMALL)
    assert [w.value for w in at.warning] == ["Your saved networks could not be read (ValueError); starting afresh."]
    assert lab_of(at).runs[0].trainer.step_count == 1 and session_store().get(key, SAVE_NAME) is None
    at.button(key="vg_step").click().run()
    assert VanishingLab.from_checkpoint(session_store().get(key, SAVE_NAME), "cpu").runs[0].trainer.step_count == 2
