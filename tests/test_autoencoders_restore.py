"""The Autoencoders page saves its run as it trains and brings it back for the same browser
(a reload, a server restart): the autosave clock, the address rule (a shared link wins), the
restore itself, the seed and preset kept, Reset forgetting, a damaged entry. AppTest."""
import torch
from streamlit.testing.v1 import AppTest

from app_pages.autoencoders.state import AutoencoderRun, config_from_widgets, preset_config
from engine.autoencoders.trainer import AutoencoderConfig, AutoencoderTrainer
from tests.test_autoencoders_page import PAGE, asking, metrics, one_cpu_thread, trainer  # noqa: F401 (a fixture)


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    run = AutoencoderRun.build(AutoencoderConfig.build(hidden=16), "cpu")
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
    run.step(3)  # the Step button pauses and trains: saved once more
    assert run.autosave(saved.append, now=100.0) and not run.autosave(saved.append, now=200.0)
    back = AutoencoderTrainer.from_checkpoint(saved[-1], "cpu")
    assert back.step_count == run.trainer.step_count and back.history == run.trainer.history


def test_restore_follows_the_address_a_shared_link_wins():
    from app_pages.autoencoders.state import NO_PRESET, restored_widgets, widgets_to_query
    config = preset_config("β-VAE (β = 4)", seed=3).replace(lr=0.01)
    values = restored_widgets(config, {})  # an empty address: the nav menu, a bookmark
    assert values["ae_preset"] == NO_PRESET and config_from_widgets(values, 3) == config
    own = widgets_to_query(values, 3)  # what the page writes for it, and a reload sends back
    assert restored_widgets(config, own) == values
    by_preset = {"preset": "beta-vae", "lr": "0.01", "train.seed": "3"}  # the same setup, written from its preset
    assert restored_widgets(config, by_preset)["ae_preset"] == "β-VAE (β = 4)"
    for other in ({**own, "train.seed": "4"}, {"preset": "beta-vae", "train.seed": "3"}, {"model": "deep"},
                  {**own, "unknown": "1"}):
        assert restored_widgets(config, other) is None, other
    odd = AutoencoderConfig.build(hidden=100)  # a width no widget offers: not shown, so not restored
    assert restored_widgets(odd, {}) is None


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def test_the_page_restores_the_autoencoder_this_browser_trained():
    key = "a" * 32
    at = _open_as(key)
    for _ in range(2):
        at.button(key="ae_step").click().run()  # 100 steps each; paused, so each is saved
    step, weights = trainer(at).step_count, [p.detach().clone() for p in trainer(at).model.parameters()]
    assert step == 200

    back = _open_as(key)  # a reload: a new session of the same browser
    restored = trainer(back)
    assert restored.step_count == step and all(torch.equal(a, b) for a, b in zip(weights, restored.model.parameters()))
    assert restored.history == trainer(at).history and metrics(back)["Step"] == "200"
    assert "Restored your autoencoder at step 200, as last saved. Press Play to go on." in _notices(back)
    back.button(key="ae_step").click().run()  # it trains on from there, as the uninterrupted run does
    at.button(key="ae_step").click().run()
    assert trainer(back).step_count == trainer(at).step_count == 300
    assert all(torch.equal(a, b) for a, b in zip(trainer(at).model.parameters(), trainer(back).model.parameters()))
    assert "Restored" not in _notices(back)  # the notice is shown once

    back.select_slider(key="ae_lr").set_value(0.01).run()  # hot: in the address and in the next save
    back.button(key="ae_step").click().run()
    assert back.query_params == {"lr": "0.01", "train.seed": "0"}
    again = _open_as(key, **back.query_params)  # a reload keeps the page's own address: still restored
    assert trainer(again).step_count == 400 and trainer(again).config.train.lr == 0.01
    assert trainer(_open_as("b" * 32)).step_count == 0  # another browser starts afresh
    shared = _open_as(key, preset="vae", **{"train.seed": "5"})  # a shared address wins over the saved run
    assert trainer(shared).step_count == 0 and trainer(shared).config.model.kind == "vae"
    assert trainer(shared).config.seed == 5 and "Restored" not in _notices(shared)


def test_a_restored_autoencoder_keeps_its_seed_and_preset_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    at = _open_as(key, preset="beta-vae", code="3", **{"train.seed": "7"})
    at.button(key="ae_step").click().run()
    back = _open_as(key)  # an empty address: the saved run comes back, with its seed
    assert trainer(back).step_count == 100 and back.session_state.global_seed == 7
    config = trainer(back).config
    assert (config.model.kind, config.model.beta, config.model.latent_dim, config.seed) == ("vae", 4.0, 3, 7)
    back.run()  # the widgets describe the restored network exactly: no question, no new network
    assert trainer(back).step_count == 100 and not asking(back) and trainer(back).config == config
    by_preset = _open_as(key, preset="beta-vae", code="3", **{"train.seed": "7"})  # the link it was started from
    assert trainer(by_preset).step_count == 100 and by_preset.selectbox(key="ae_preset").value == "β-VAE (β = 4)"

    by_preset.button(key="ae_reset").click().run()
    assert trainer(by_preset).step_count == 0 and session_store().get(key, "autoencoders") is None
    assert trainer(_open_as(key)).step_count == 0  # a reload after Reset: the new network, not the old one


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, "autoencoders", b"not a checkpoint")
    at = _open_as(key)
    assert [w.value for w in at.warning] == ["Your saved autoencoder could not be read (ValueError); starting afresh."]
    assert trainer(at).step_count == 0 and session_store().get(key, "autoencoders") is None  # and it is gone
    at.button(key="ae_step").click().run()
    assert AutoencoderTrainer.from_checkpoint(session_store().get(key, "autoencoders"), "cpu").step_count == 100
