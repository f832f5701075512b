"""The Energy models page saves each tab's run as it trains and brings it back for the same browser (a
reload, a server restart). The engine: save, load and train on equals the uninterrupted run bit for bit
on the CPU for the Boltzmann machine, the RBM (persistent CD, the dream chain) and the deep belief net
(inside pretraining and inside fine-tuning), and a damaged or unsafe file is refused with a line that
names what is wrong. The page: the address rule (a shared link wins), the autosave clock, the RBM and the
Boltzmann tab restored under AppTest and going on as the uninterrupted run, Reset and a new model
forgetting, a damaged entry, a run too large for the store."""
from __future__ import annotations

import io
import json
import os
import pickle

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.address import widgets_to_query
from app_pages.energy.state import (SAVE_NAMES, TABS, URL_PARAMS, EnergyRun, default_widgets, restored_widgets,
                                    widgets_from_config)
from engine.energy import BoltzmannConfig, BoltzmannTrainer, DBNConfig, DBNTrainer, RBMConfig, RBMTrainer
from tests.test_energy_page import PAGE, metrics


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """One torch thread, as the app runs (and the bit-for-bit comparisons do not depend on the split)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def same_curves(a, b) -> bool:
    return json.dumps(a.history) == json.dumps(b.history)  # NaN (an accuracy not measured yet) compares equal here


def resumed(trainer):
    return type(trainer).from_checkpoint(trainer.checkpoint_bytes(), "cpu")


# ---------- the engine: bit for bit ----------
def test_boltzmann_machine_save_load_and_on_is_the_uninterrupted_run():
    config = BoltzmannConfig(hidden=3, chains=20, momentum=0.9)
    straight = BoltzmannTrainer(config, "cpu")
    first, later = straight.step(30), straight.step(30)
    paused = BoltzmannTrainer(config, "cpu")
    paused.step(30)
    back = resumed(paused)
    assert back.config == config and back.step_count == 30
    assert back.snapshot().to_json_dict() == first.to_json_dict()
    assert back.step(30).to_json_dict() == later.to_json_dict()
    assert same_weights(back, straight) and same_curves(back, straight)
    assert torch.equal(back.chains, straight.chains) and torch.equal(back._velocity_w, straight._velocity_w)
    paused.apply(paused.config.replace(lr=0.3, gibbs_sweeps=5))  # a hot change travels in the config
    assert resumed(paused).config.lr == 0.3 and resumed(paused).config.gibbs_sweeps == 5


def test_rbm_with_persistent_chains_and_its_dreams_goes_on_bit_for_bit():
    config = RBMConfig(hidden=16, k=2, persistent=True, batch_size=50, momentum=0.9)
    straight = RBMTrainer(config, "cpu")
    straight.step(40)
    straight.dream(3)
    paused = RBMTrainer(config, "cpu")
    paused.step(40)
    paused.dream(3)
    back = resumed(paused)
    assert back.epoch == paused.epoch >= 1 and back.dream_steps == 3 and back.cd._persistent is not None
    assert (back.dream(0) == paused.dream(0)).all()
    for run in (straight, back):
        run.step(40)
    assert same_weights(back, straight) and same_curves(back, straight)
    assert torch.equal(back.cd._persistent, straight.cd._persistent) and back.epoch == straight.epoch
    assert (back.dream(2) == straight.dream(2)).all()  # the shown chain draws from its own generator


@pytest.mark.parametrize("cut", [25, 45, 60], ids=["pretraining layer 2", "fine-tuning", "done"])
def test_deep_belief_net_goes_on_from_any_phase_bit_for_bit(cut):
    config = DBNConfig(hidden=[16, 8], pretrain_steps=20, labelled=[10, 20], finetune_steps=10, batch_size=10,
                       persistent=True)
    straight = DBNTrainer(config, "cpu")
    straight.step(cut)
    before = json.dumps(straight.snapshot().to_json_dict())
    straight.step(60 - cut)
    paused = DBNTrainer(config, "cpu")
    paused.step(cut)
    back = resumed(paused)
    assert json.dumps(back.snapshot().to_json_dict()) == before and back.results == paused.results
    back.step(60 - cut)
    assert back.step_count == 60 and back.finished
    assert same_weights(back, straight) and same_curves(back, straight) and back.results == straight.results
    assert len(back.results) == 2
    for name, net in back._finetune["nets"].items():  # the fine-tuned heads, and the layers under them
        assert all(torch.equal(p, q) for p, q in zip(net.parameters(), straight._finetune["nets"][name].parameters()))


class _System:
    """Unpickling this would call os.system(command): what a malicious checkpoint carries."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _tampered(data: bytes, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def _refused(cls, data, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        cls.from_checkpoint(data, "cpu")
    assert type(info.value) is ValueError and "weights_only" not in str(info.value)


def test_junk_unsafe_damaged_and_foreign_checkpoints_are_refused(tmp_path):
    bm = BoltzmannTrainer(BoltzmannConfig(chains=10), "cpu")
    bm.step(2)
    data = bm.checkpoint_bytes()
    _refused(BoltzmannTrainer, b"", "the file is empty")
    _refused(BoltzmannTrainer, os.urandom(300), "not an energy-model checkpoint")
    marker = tmp_path / "ran"
    _refused(BoltzmannTrainer, pickle.dumps({"format": 1, "chains": _System(f"touch {marker}")}, protocol=2),
             "refused as unsafe")
    _refused(BoltzmannTrainer, _tampered(data, chains=_System(f"touch {marker}")), "refused as unsafe")
    assert not marker.exists()
    _refused(RBMTrainer, data, "not a checkpoint of task 'rbm': it holds one of task 'boltzmann'")
    _refused(BoltzmannTrainer, _tampered(data, chains=torch.zeros(3, 13)), "chains must be a float32 tensor of 10")
    _refused(BoltzmannTrainer, _tampered(data, velocity_w=torch.full((13, 13), float("nan"))), "NaN")
    _refused(BoltzmannTrainer, _tampered(data, config='{"task": "boltzmann", "hidden": 40}'), "invalid config")
    _refused(BoltzmannTrainer, _tampered(data, history=[{"step": "x"}]), "history")
    _refused(BoltzmannTrainer, _tampered(data, generator=torch.zeros(3, dtype=torch.uint8)), "generator")
    rbm = RBMTrainer(RBMConfig(hidden=8), "cpu")
    rbm.step(2)
    data = rbm.checkpoint_bytes()
    cd = torch.load(io.BytesIO(data), weights_only=True)["cd"]
    _refused(RBMTrainer, _tampered(data, cd={**cd, "order": torch.zeros_like(cd["order"])}), "permutation")
    _refused(RBMTrainer, _tampered(data, cd={**cd, "velocity": cd["velocity"][:2]}), "velocity must be 3")
    _refused(RBMTrainer, _tampered(data, dreams=torch.zeros(2, 64)), "both be there, or neither")
    dbn = DBNTrainer(DBNConfig(hidden=[8], pretrain_steps=2, labelled=[10], finetune_steps=2), "cpu")
    dbn.step(3)
    data = dbn.checkpoint_bytes()
    _refused(DBNTrainer, _tampered(data, results={"10": {"pretrained": 2.0}}), "results")
    finetune = torch.load(io.BytesIO(data), weights_only=True)["finetune"]
    _refused(DBNTrainer, _tampered(data, finetune={**finetune, "index": 3}), "finetune index")
    _refused(DBNTrainer, _tampered(data, finetune={**finetune, "nets": {**finetune["nets"], "random": {}}}),
             "do not fit its config")


# ---------- the page's plain logic ----------
def test_the_address_rule_a_shared_link_wins_over_the_saved_runs():
    rbm = RBMConfig(hidden=100, k=5, seed=3)
    configs = {"boltzmann": None, "rbm": rbm, "dbn": None}
    values = restored_widgets(configs, {})  # an empty address (the nav menu, a bookmark): the saved tab shows
    assert values["en_tab"] == TABS["rbm"] and values["global_seed"] == 3
    assert {k: values[k] for k in widgets_from_config("rbm", rbm)} == widgets_from_config("rbm", rbm)
    own = widgets_to_query(URL_PARAMS, values, default_widgets(), 3)  # what the page writes, and a reload sends back
    assert own == {"tab": "rbm", "rbm.hidden": "100", "rbm.k": "5", "train.seed": "3"}
    assert restored_widgets(configs, own) == values
    kept = {**own, "bm.hidden": "6"}  # a tab that saved nothing keeps the address's settings
    assert restored_widgets(configs, kept)["en_bm_hidden"] == 6
    for other in ({**own, "rbm.k": "1"}, {**own, "train.seed": "4"}, {"tab": "rbm"}, {**own, "rbm.k": "²"}):
        assert restored_widgets(configs, other) is None, other
    assert restored_widgets({"boltzmann": None, "rbm": None, "dbn": None}, {}) is None
    assert restored_widgets({**configs, "rbm": RBMConfig(weight_decay=0.01)}, {}) is None  # no widget shows it
    # Runs of two seeds: the tab shown gives the sidebar's; the address's wins when a saved run has it.
    both = {**configs, "boltzmann": BoltzmannConfig(seed=5)}
    assert restored_widgets(both, {})["global_seed"] == 5
    assert restored_widgets(both, {"tab": "rbm", "train.seed": "3", "rbm.hidden": "100", "rbm.k": "5"}) is not None


def test_autosave_while_playing_when_stopped_and_after_a_hot_change():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    run = EnergyRun(BoltzmannTrainer(BoltzmannConfig(chains=10), "cpu"))
    saved = []
    assert not run.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    run.play()
    run.tick(budget_s=0.005)
    assert run.autosave(saved.append, now=1.0)
    run.tick(budget_s=0.005)
    assert not run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS)
    run.step(5)  # a Step pauses and trains: saved at once, and only once
    assert run.autosave(saved.append, now=10.0) and not run.autosave(saved.append, now=20.0)
    run.apply(run.trainer.config.replace(lr=0.3))  # hot: the same step, a new rule
    assert run.autosave(saved.append, now=30.0) and not run.autosave(saved.append, now=40.0)
    back = BoltzmannTrainer.from_checkpoint(saved[-1], "cpu")
    assert back.config.lr == 0.3 and back.step_count == run.trainer.step_count and same_weights(back, run.trainer)


# ---------- the page under AppTest ----------
def open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error, *at.caption])


def trainer(at: AppTest, task: str):
    return at.session_state[f"en_{task}_run"].trainer


def test_the_rbm_tab_comes_back_in_the_same_browser_and_trains_on_as_it_would_have():
    key = "1" * 32
    at = open_as(key, tab="rbm", **{"rbm.hidden": "16", "train.seed": "2"})
    at.button(key="en_rbm_step").click().run()  # 200 steps; paused, so it is saved
    t = trainer(at, "rbm")
    back = open_as(key)  # a reload from the nav menu: a new session of the same browser
    restored = trainer(back, "rbm")
    assert back.session_state.en_tab == TABS["rbm"] and back.session_state.global_seed == 2
    assert restored.step_count == 200 and restored.config == t.config and metrics(back)["Step"] == "200"
    assert same_weights(restored, t) and same_curves(restored, t)
    assert "Restored your RBM at step 200, as last saved. Press Play to go on." in notices(back)
    for page in (at, back):  # it trains on from there, as the uninterrupted run does
        page.button(key="en_rbm_step").click().run()
    assert trainer(back, "rbm").step_count == 400 and same_weights(trainer(back, "rbm"), trainer(at, "rbm"))
    assert "Restored" not in notices(back)  # the notice is shown once

    back.select_slider(key="en_rbm_lr").set_value(0.1).run()  # hot: in the address and saved with it
    again = open_as(key, **back.query_params)  # a reload keeps the page's own address: still restored
    assert trainer(again, "rbm").step_count == 400 and trainer(again, "rbm").config.lr == 0.1
    assert trainer(open_as("2" * 32, tab="rbm"), "rbm").step_count == 0  # another browser starts afresh
    shared = open_as(key, tab="rbm", **{"rbm.k": "3"})  # a shared address wins over the saved run
    assert trainer(shared, "rbm").step_count == 0 and trainer(shared, "rbm").config.k == 3
    assert "Restored" not in notices(shared)


def test_reset_and_a_new_model_forget_the_saved_run_of_their_tab_only():
    from app_pages.common.saved_runs import session_store
    key = "3" * 32
    at = open_as(key, tab="rbm", **{"rbm.hidden": "16"})
    for _ in range(2):
        at.button(key="en_rbm_step").click().run()
    at.session_state["en_tab"] = TABS["boltzmann"]
    at.run()
    at.button(key="en_boltzmann_step").click().run()  # both tabs trained and saved
    back = open_as(key, **at.query_params)
    assert trainer(back, "boltzmann").step_count == 100 and trainer(back, "rbm").step_count == 400
    assert "Restored your Boltzmann machine at step 100 and your RBM at step 400" in notices(back)
    back.button(key="en_boltzmann_reset").click().run()
    assert session_store().get(key, SAVE_NAMES["boltzmann"]) is None
    assert session_store().get(key, SAVE_NAMES["rbm"]) is not None  # the other tab's run is kept
    after = open_as(key, **back.query_params)
    assert trainer(after, "boltzmann").step_count == 0 and trainer(after, "rbm").step_count == 400

    after.session_state["en_tab"] = TABS["rbm"]
    after.run()
    after.selectbox(key="en_rbm_hidden").set_value(36).run()  # structural: asks first
    after.button(key="en_rbm_replace").click().run()
    assert trainer(after, "rbm").step_count == 0 and session_store().get(key, SAVE_NAMES["rbm"]) is None


def test_a_damaged_entry_is_one_line_and_a_run_too_large_for_the_store_is_not_written():
    from app_pages.common.saved_runs import session_store
    key = "4" * 32
    session_store().put(key, SAVE_NAMES["boltzmann"], b"not a checkpoint")
    session_store().put(key, SAVE_NAMES["dbn"], BoltzmannTrainer(BoltzmannConfig(), "cpu").checkpoint_bytes())
    at = open_as(key)
    assert [w.value for w in at.warning] == [
        "Your saved Boltzmann machine could not be read (ValueError); starting afresh.",
        "Your saved deep belief net could not be read (ValueError); starting afresh."]
    assert trainer(at, "boltzmann").step_count == 0 and session_store().get(key, SAVE_NAMES["boltzmann"]) is None
    assert session_store().get(key, SAVE_NAMES["dbn"]) is None
    store = session_store()
    limit, store.max_session_bytes = store.max_session_bytes, 1000
    try:
        at.button(key="en_boltzmann_step").click().run()
    finally:
        store.max_session_bytes = limit
    assert not at.exception and trainer(at, "boltzmann").step_count == 100
    assert "Your progress could not be saved (ValueError" in notices(at) and "training goes on" in notices(at)
    assert store.get(key, SAVE_NAMES["boltzmann"]) is None
    at.button(key="en_boltzmann_step").click().run()  # room again: saved, and the line is gone
    assert BoltzmannTrainer.from_checkpoint(store.get(key, SAVE_NAMES["boltzmann"]), "cpu").step_count == 200
    assert "could not be saved" not in notices(at)
