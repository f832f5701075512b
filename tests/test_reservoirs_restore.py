"""The Reservoirs page saves each tab's run as it trains and brings it back for the same browser (a
reload, a server restart): the engine's checkpoints resume bit for bit (the read-out's sums, the series'
state, the spike generator, the twins beside the ELM and the liquid), a damaged file is refused by name,
the autosave clock, which saved run the address lets through, and the page under AppTest: restored at
the same step, a shared link that describes another run wins, Reset and a replaced run forget it, a
damaged entry is one line, a run the store refuses is one line, a trained run is replaced only once the
user says so, and a new λ reaches the running echo state network without losing it."""
from __future__ import annotations

import io

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.reservoirs import state as rs
from app_pages.reservoirs.runs import ESNRun, run_from_checkpoint
from engine.mlp.trainer import Trainer
from engine.reservoirs import ELMConfig, ELMTrainer, ESNConfig, ESNTrainer, LSMConfig, LSMTrainer
from engine.reservoirs.elm import twin_config
from engine.reservoirs.lsm import twin_config as esn_twin_config
from tests.test_reservoirs_page import PAGE, metrics

SMALL_SERIES = {"model": {"size": 30}, "data": {"train_length": 300, "washout": 20, "test_length": 60, "free_run": 20},
                "train": {"samples_per_step": 70}}
SMALL_LIQUID = {"model": {"size": 40}, "data": {"steps_per_row": 2}, "train": {"samples_per_step": 300}}


@pytest.fixture(autouse=True)
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _esn(seed: int = 0) -> ESNTrainer:
    return ESNTrainer(ESNConfig.from_dict({**SMALL_SERIES, "train": {"samples_per_step": 70, "seed": seed}}), "cpu")


def _lsm() -> LSMTrainer:
    config = LSMConfig.from_dict(SMALL_LIQUID)   # Poisson spikes: the generator's state matters
    lsm = LSMTrainer(config, "cpu")
    lsm.twin = ESNTrainer(esn_twin_config(config), "cpu")
    return lsm


def _elm() -> ELMTrainer:
    config = ELMConfig.from_dict({"data": {"n_samples": 60}, "train": {"sweep": [2, 5, 20, 40]}})
    elm = ELMTrainer(config, "cpu")
    elm.twin = Trainer(twin_config(config), "cpu", dataset=elm.dataset)
    return elm


def _same_readout(a, b) -> None:
    assert torch.equal(a.model.readout, b.model.readout) and torch.equal(a.model.readout_bias, b.model.readout_bias)


# ---------- the engine: save, load, step on = the run that did not stop ----------
def test_an_esn_resumes_bit_for_bit_on_a_series_and_on_the_digits():
    for make in (_esn, lambda: ESNTrainer(ESNConfig.from_dict(
            {"model": {"size": 30}, "data": {"signal": "digits"}, "train": {"samples_per_step": 500}}), "cpu")):
        run = make()
        run.step(2)
        back = ESNTrainer.from_checkpoint(run.checkpoint_bytes(), "cpu")
        assert back.step_count == 2 and back.history == run.history
        _same_readout(back, run)
        for _ in range(2):
            assert back.step(1) == run.step(1)
        _same_readout(back, run)
        assert back.history == run.history and torch.equal(back.accumulator.hh, run.accumulator.hh)
        assert torch.equal(torch.cat(back.train_states), torch.cat(run.train_states))   # driven again, the same
        if not run.digits:
            assert torch.equal(back.state, run.state)


def test_an_lsm_resumes_bit_for_bit_with_its_spikes_and_its_echo_state_twin():
    run = _lsm()
    run.step(2)
    run.twin.step(2)
    data = run.checkpoint_bytes()
    back = LSMTrainer.from_checkpoint(data, "cpu")
    assert back.history == run.history and back.twin.history == run.twin.history
    assert torch.equal(back.accumulator.hh, run.accumulator.hh)   # the sums, added up again from the counts
    _same_readout(back, run)
    assert back.step(2) == run.step(2) and back.twin.step(2) == run.twin.step(2)
    _same_readout(back, run)
    _same_readout(back.twin, run.twin)
    assert back.history == run.history and torch.equal(back.test_spikes, run.test_spikes)
    assert len(data) < 1_000_000   # counts as bytes, not the (N·bins)² sums in float64


def test_an_elm_resumes_its_sweep_and_its_mlp_twin_bit_for_bit():
    run = _elm()
    run.step(2)
    run.twin.step(40)
    back = ELMTrainer.from_checkpoint(run.checkpoint_bytes(), "cpu")
    assert back.sweep == run.sweep and back.history == run.history
    assert back.step(2) == run.step(2)
    twin_back, twin_run = back.twin.step(25), run.twin.step(25)
    assert twin_back.train_loss == twin_run.train_loss and back.twin.history == run.twin.history
    for name, value in run.twin.model.state_dict().items():
        assert torch.equal(back.twin.model.state_dict()[name], value)


def test_a_new_lambda_on_a_running_reservoir_is_the_run_that_had_it_from_the_start():
    for make, cls, config in ((_esn, ESNTrainer, ESNConfig.from_dict(SMALL_SERIES)),
                              (_lsm, LSMTrainer, LSMConfig.from_dict(SMALL_LIQUID))):
        running, from_start = make(), cls(config.replace(model={"ridge": 0.5}), "cpu")
        running.step(2)
        from_start.step(2)
        running.set_ridge(0.5)
        _same_readout(running, from_start)
        assert running.history == from_start.history   # this step's point measured again, not added
        assert running.config == from_start.config


def _tampered(data: bytes, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_a_damaged_or_foreign_checkpoint_is_refused_with_what_is_wrong():
    esn = _esn()
    esn.step(2)
    data = esn.checkpoint_bytes()
    sums = torch.load(io.BytesIO(data), weights_only=True)["readout_sums"]
    cases = [
        (ESNTrainer, b"not a checkpoint", "not an esn checkpoint"),
        (LSMTrainer, data, "not an lsm checkpoint: it is one of the 'esn' task"),
        (ESNTrainer, _tampered(data, next_sample=71), "next_sample 71 is not where 2 chunks of 70 end"),
        (ESNTrainer, _tampered(data, readout_sums={**sums, "hh": torch.zeros(3, 3)}), "readout_sums hh must be"),
        (ESNTrainer, _tampered(data, readout_sums={**sums, "n": 5}), "sums are over 5 samples"),
        (ESNTrainer, _tampered(data, state=torch.full((1, 30), float("nan"))), "state must be a tensor"),
        (ESNTrainer, _tampered(data, history=[{"step": "x"}]), "history must be"),
        (ESNTrainer, _tampered(data, config="{\"model\": {\"size\": 0}}"), "invalid config: model.size"),
    ]
    lsm = _lsm()
    lsm.step(1)
    lsm_data = lsm.checkpoint_bytes()
    counts = torch.load(io.BytesIO(lsm_data), weights_only=True)["counts"]
    cases += [(LSMTrainer, _tampered(lsm_data, counts=counts.float()), "counts must be a tensor"),
              (LSMTrainer, _tampered(lsm_data, spike_generator=torch.zeros(3)), "spike_generator must be"),
              (LSMTrainer, _tampered(lsm_data, twin=_esn().checkpoint_bytes()), "its twin trained on other data")]
    elm = _elm()
    elm.step(1)
    cases.append((ELMTrainer, _tampered(elm.checkpoint_bytes(), sweep=[[3, 0.5, 0.5]]), "sweep must hold"))
    for cls, blob, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            cls.from_checkpoint(blob, "cpu")


# ---------- the page's logic ----------
def test_the_autosave_clock_saves_while_playing_every_few_seconds_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    run = ESNRun.build(ESNConfig.from_dict(SMALL_SERIES))
    saved = []
    assert not run.autosave(saved.append, now=0.0)   # nothing driven: nothing to save
    run.play()
    run.tick()
    assert run.autosave(saved.append, now=1.0) and not run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)
    run.tick()
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS)
    run.step()
    assert run.autosave(saved.append, now=7.0) and not run.autosave(saved.append, now=100.0)   # stopped: once
    back = run_from_checkpoint("esn", saved[-1])
    assert back.esn.step_count == 3 and back.config == run.config and back.progress() == run.progress()


def test_the_address_decides_which_saved_run_a_new_session_gets_back():
    config = rs.esn_config({**rs.default_widgets(), "rs_esn_size": 500, "rs_esn_radius": 1.5}, 3)
    values = rs.restored_widgets("esn", config, {})   # the nav menu: nothing about the run
    assert values["rs_esn_size"] == 500 and values["rs_esn_radius"] == 1.5
    own = rs.page_query({**rs.default_widgets(), **values}, 3)
    assert own == {"size": "500", "radius": "1.5", "train.seed": "3"}
    assert rs.restored_widgets("esn", config, {**own, "tab": "lsm", "hidden": "200", "digit": "4"}) == values
    for other in ({**own, "train.seed": "4"}, {**own, "size": "200"}, {"train.seed": "3"}, {"leak": "1"}):
        assert rs.restored_widgets("esn", config, other) is None, other   # a shared link wins
    assert rs.restored_widgets("esn", config.replace(model={"size": 300}), {}) is None   # no widget shows it
    assert rs.restore_order({"tab": "lsm"}) == ["lsm", "elm", "esn"]


# ---------- the page ----------
def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error, *at.info])


def test_the_page_restores_the_echo_state_network_and_the_elm_of_this_browser():
    from app_pages.common.saved_runs import session_store
    key = "e" * 32
    at = _open_as(key, tab="esn", size="20", **{"train.seed": "2"})   # a small reservoir: quick frames
    for _ in range(2):
        at.button(key="rs_esn_step").click().run()   # paused: each step is saved
    assert metrics(at)["Training steps seen"] == "100"

    back = _open_as(key, **at.query_params)   # a reload: a new session of the same browser, the same address
    restored, saved = back.session_state.rs_esn_run.esn, at.session_state.rs_esn_run.esn
    assert restored.step_count == 2 and restored.history == saved.history
    assert metrics(back)["Training steps seen"] == "100" and back.session_state.global_seed == 2
    assert "Restored your echo state network after 100 training steps, as last saved" in _notices(back)
    back.button(key="rs_esn_step").click().run()   # it goes on as the run that did not stop
    at.button(key="rs_esn_step").click().run()
    _same_readout(back.session_state.rs_esn_run.esn, at.session_state.rs_esn_run.esn)
    assert "Restored" not in _notices(back)   # said once

    elm = _open_as(key, tab="elm")   # the ELM tab saves under its own name, beside the ESN's
    elm.button(key="rs_elm_step").click().run()
    assert session_store().get(key, rs.SAVE_NAMES["esn"]) and session_store().get(key, rs.SAVE_NAMES["elm"])
    again = _open_as(key)   # the nav menu's empty address: both come back, with their seed
    assert again.session_state.rs_esn_run.esn.step_count == 3 and again.session_state.global_seed == 2
    elm_run, saved_elm = again.session_state.rs_elm_run, elm.session_state.rs_elm_run
    assert elm_run.elm.step_count == 1 and elm_run.twin.step_count == saved_elm.twin.step_count > 0
    assert again.session_state.rs_tab == rs.TABS["elm"] and metrics(again)["Widths fitted"] == "1 of 9"

    other = _open_as("f" * 32, tab="esn")   # another browser starts afresh
    assert other.session_state.rs_esn_run.esn.step_count == 0 and "Restored" not in _notices(other)
    shared = _open_as(key, tab="esn", size="20", radius="1.5", **{"train.seed": "2"})   # another reservoir's link
    assert shared.session_state.rs_esn_run.esn.step_count == 0 and "Restored your echo" not in _notices(shared)


def test_reset_and_a_replaced_run_forget_the_saved_one():
    from app_pages.common.saved_runs import session_store
    key = "1" * 32
    at = _open_as(key, tab="esn", size="20")
    at.button(key="rs_esn_step").click().run()
    at.button(key="rs_esn_reset").click().run()
    assert at.session_state.rs_esn_run.esn.step_count == 0 and session_store().get(key, rs.SAVE_NAMES["esn"]) is None
    assert _open_as(key, tab="esn", size="20").session_state.rs_esn_run.esn.step_count == 0   # nothing brought back

    at.button(key="rs_esn_step").click().run()
    at.select_slider(key="rs_esn_ridge").set_value(1e-4).run()   # a hot change: the run goes on, refitted
    assert at.session_state.rs_esn_run.esn.step_count == 1 and at.session_state.rs_esn_run.config.model.ridge == 1e-4
    at.select_slider(key="rs_esn_radius").set_value(1.5).run()   # structural: asked first, the run kept
    assert "rs_esn_replace" in [b.key for b in at.button] and at.session_state.rs_esn_run.esn.step_count == 1
    at.button(key="rs_esn_replace").click().run()
    run = at.session_state.rs_esn_run
    assert run.esn.step_count == 0 and run.config.model.spectral_radius == 1.5
    assert session_store().get(key, rs.SAVE_NAMES["esn"]) is None


def test_a_damaged_entry_or_a_run_the_store_refuses_is_one_line(monkeypatch):
    from app_pages.common import session_store as store_module
    from app_pages.common.saved_runs import session_store
    key = "2" * 32
    session_store().put(key, rs.SAVE_NAMES["lsm"], b"not a checkpoint")
    at = _open_as(key, tab="lsm")
    assert [w.value for w in at.warning] == ["Your saved liquid state machine and its echo state network could not "
                                             "be read (ValueError); starting afresh."]
    assert session_store().get(key, rs.SAVE_NAMES["lsm"]) is None

    def refuse(self, session, name, data):
        raise ValueError(f"{len(data):,} bytes is more than a session may keep (1,000)")

    monkeypatch.setattr(store_module.SQLiteStore, "put", refuse)
    at.button(key="rs_lsm_step").click().run()
    assert not at.exception and metrics(at)["Digits seen"] == "100"
    assert any("could not be saved" in c.value and "training goes on" in c.value for c in at.caption)
    assert session_store().get(key, rs.SAVE_NAMES["lsm"]) is None


def test_the_elms_own_settings_keep_its_training_mlp_and_new_data_asks_first():
    at = _open_as("3" * 32, tab="elm")
    at.button(key="rs_elm_step").click().run()
    twin = at.session_state.rs_elm_run.twin
    at.select_slider(key="rs_elm_hidden").set_value(200).run()   # a new ELM in milliseconds, the MLP goes on
    run = at.session_state.rs_elm_run
    assert run.twin is twin and run.elm.step_count == 0 and run.config.model.hidden == 200
    assert "rs_elm_replace" not in [b.key for b in at.button]
    at.selectbox(key="rs_elm_data").set_value("xor").run()   # the MLP's data: asked first
    assert "rs_elm_replace" in [b.key for b in at.button] and at.session_state.rs_elm_run.twin is twin
    at.button(key="rs_elm_keep").click().run()   # the widgets go back to the running pair's settings
    assert at.session_state.rs_elm_data == "spiral" and at.session_state.rs_elm_run.twin is twin
    assert "rs_elm_replace" not in [b.key for b in at.button]
