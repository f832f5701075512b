"""The GAN lab saves both games as they train and brings them back for the same browser (a reload,
a server restart): the autosave clock, the address rule (a shared link wins), the restore of the
2-D game and of the digits, each going on bit for bit, the seed and preset kept, Reset forgetting,
a damaged entry. AppTest."""
import json
import uuid

import torch
from hypothesis import HealthCheck, assume, given, settings
from streamlit.testing.v1 import AppTest

from app_pages.gan.state import (MODES, NO_PRESET, LiveRun, config_from_widgets, preset_config, restored_widgets,
                                 widgets_to_query)
from engine.gan.digits import DigitsGANConfig
from engine.gan.trainer import GANConfig, GANTrainer
from tests.test_address_properties import NO_SHRINK, setups
from tests.test_gan_page import one_thread  # noqa: F401 (a fixture: one torch thread, as the app runs)
from tests.test_gan_page import PAGE, _gan_address_domain, asking, metrics, trainer

TINY = dict(g_width=8, d_width=8, g_layers=1, d_layers=1, batch_size=16)


def same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for net in ("G", "D")
               for p, q in zip(getattr(a, net).parameters(), getattr(b, net).parameters()))


def same_curves(a, b) -> bool:
    return json.dumps(a.history) == json.dumps(b.history)  # NaN (no loss yet) compares equal here


def test_autosave_every_few_seconds_while_playing_once_when_stopped_and_after_a_hot_change():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    run = LiveRun(GANTrainer(GANConfig(**TINY), "cpu"))
    saved = []
    assert not run.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    run.play()
    run.tick(speed_steps=3)
    assert run.autosave(saved.append, now=1.0) and len(saved) == 1
    run.tick(speed_steps=3)
    assert not run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    run.tick(speed_steps=3)
    run.pause()
    assert run.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS + 0.1)  # stopped: saved at once
    assert not run.autosave(saved.append, now=100.0)  # and only once
    run.step("d", 10)  # D only: a step of the Step buttons pauses and trains; saved once more
    assert run.autosave(saved.append, now=100.0) and not run.autosave(saved.append, now=200.0)
    run.trainer.apply(run.trainer.config.replace(g_lr=0.01))  # hot: the same step, a new rule
    assert run.autosave(saved.append, now=200.0) and not run.autosave(saved.append, now=300.0)
    back = GANTrainer.from_checkpoint(saved[-1], "cpu")
    assert back.step_count == run.trainer.step_count == 19 and back.config.g_lr == 0.01
    assert same_curves(back, run.trainer) and same_weights(back, run.trainer)


def test_restore_follows_the_address_a_shared_link_wins():
    plane = preset_config("Mode collapse (mixture)", seed=3).replace(d_lr=0.003)
    digits = DigitsGANConfig(lr=0.001, hidden=64, seed=3)
    values = restored_widgets(plane, digits, {})  # an empty address: the nav menu, a bookmark
    assert values["gan_preset"] == NO_PRESET and values["gan_mode"] == MODES[0]
    assert config_from_widgets(values, 3) == plane and values["gan_dg_hidden"] == 64
    own = widgets_to_query(values, 3)  # what the page writes for it, and a reload sends back
    assert restored_widgets(plane, digits, own) == values
    on_digits = {**own, "game": "digits"}  # the same setup, the digits shown
    assert restored_widgets(plane, digits, on_digits)["gan_mode"] == MODES[1]
    by_preset = {"preset": "collapse", "d.lr": "0.003", "digits.lr": "0.001", "digits.width": "64",
                 "train.seed": "3"}  # the same setup, written from its preset
    assert restored_widgets(plane, digits, by_preset)["gan_preset"] == "Mode collapse (mixture)"
    for other in ({**own, "train.seed": "4"}, {"preset": "collapse", "train.seed": "3"}, {"target": "ring"},
                  {**own, "unknown": "1"}, {**own, "k": "11"}):
        assert restored_widgets(plane, digits, other) is None, other
    # Only the digits were saved: an empty address shows them; the address's 2-D settings are kept.
    assert restored_widgets(None, digits, {})["gan_mode"] == MODES[1]
    kept = restored_widgets(None, digits, {"game": "digits", "target": "moons", "digits.lr": "0.001",
                                           "digits.width": "64", "train.seed": "3"})
    assert kept["gan_target"] == "moons" and kept["gan_mode"] == MODES[1]
    assert restored_widgets(GANConfig(), None, {})["gan_mode"] == MODES[0]
    for odd in (GANConfig(max_steps=10), GANConfig(g_width=100), GANConfig(g_lr=0.004)):  # no widget shows these
        assert restored_widgets(odd, None, {}) is None, odd
    assert restored_widgets(None, DigitsGANConfig(batch_size=32), {}) is None
    assert restored_widgets(None, None, {}) is None
    drawn = preset_config("Draw your own", points=[[0, 0], [1, 0], [0, 1]])
    assert restored_widgets(drawn, None, {})["gan_points"] == [[0, 0], [1, 0], [0, 1]]


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def test_the_page_restores_the_2d_game_this_browser_trained():
    key = "a" * 32
    at = _open_as(key)
    at.button(key="gan_run_step").click().run()  # one step; paused, so it is saved
    at.button(key="gan_step_d").click().run()  # 10 D updates: saved again
    t = trainer(at)
    assert t.step_count == 11

    back = _open_as(key)  # a reload: a new session of the same browser
    restored = trainer(back)
    assert restored.step_count == 11 and (restored.d_updates, restored.g_updates) == (11, 1)
    assert same_weights(restored, t) and same_curves(restored, t) and metrics(back)["Step"] == "11"
    assert "Restored your 2-D game at step 11, as last saved. Press Play to go on." in _notices(back)
    back.button(key="gan_step_g").click().run()  # it trains on from there, as the uninterrupted game does
    at.button(key="gan_step_g").click().run()
    assert trainer(back).step_count == trainer(at).step_count == 21
    assert same_weights(trainer(back), trainer(at)) and same_curves(trainer(back), trainer(at))
    assert "Restored" not in _notices(back)  # the notice is shown once

    back.select_slider(key="gan_g_lr").set_value(0.01).run()  # hot: in the address and saved with it
    assert back.query_params == {"g.lr": "0.01", "train.seed": "0"}
    again = _open_as(key, **back.query_params)  # a reload keeps the page's own address: still restored
    assert trainer(again).step_count == 21 and trainer(again).config.g_lr == 0.01
    assert trainer(_open_as("b" * 32)).step_count == 0  # another browser starts afresh
    shared = _open_as(key, preset="moons", **{"train.seed": "5"})  # a shared address wins over the saved game
    assert trainer(shared).step_count == 0 and trainer(shared).config.target == "moons"
    assert trainer(shared).config.seed == 5 and "Restored" not in _notices(shared)


def test_the_page_restores_the_digits_and_both_games_together():
    key = "e" * 32
    at = _open_as(key, game="digits", **{"digits.width": "32", "digits.arch": "dcgan"})
    at.button(key="gan_digits_run_step").click().run()  # 100 steps, saved
    digits = at.session_state.gan_digits_run.trainer
    back = _open_as(key)  # an empty address: the digits were saved last and alone, so they show
    restored = back.session_state.gan_digits_run.trainer
    assert back.segmented_control(key="gan_mode").value == "Digits" and metrics(back)["Step"] == "100"
    assert restored.step_count == 100 and restored.config.hidden == 32 and same_weights(restored, digits)
    assert restored.config.architecture == "dcgan" and back.selectbox(key="gan_dg_arch").value == "dcgan"
    assert [s for s, _ in restored.timeline] == [s for s, _ in digits.timeline] and same_curves(restored, digits)
    assert "Restored your digits GAN at step 100" in _notices(back)
    for page in (at, back):
        page.button(key="gan_digits_run_step").click().run()
    assert same_weights(back.session_state.gan_digits_run.trainer, at.session_state.gan_digits_run.trainer)
    assert back.session_state.gan_digits_run.trainer.step_count == 200

    back.segmented_control(key="gan_mode").set_value("2-D game").run()
    back.button(key="gan_run_step").click().run()  # now both games are saved
    both = _open_as(key, **back.query_params)
    assert both.session_state.gan_run.trainer.step_count == 1 and "gan_digits_run" in both.session_state
    assert both.session_state.gan_digits_run.trainer.step_count == 200
    assert "Restored your 2-D game at step 1 and your digits GAN at step 200" in _notices(both)


def test_a_restored_game_keeps_its_seed_and_preset_and_reset_forgets_it():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    at = _open_as(key, preset="collapse", k="2", **{"train.seed": "7"})
    at.button(key="gan_run_step").click().run()
    back = _open_as(key)  # an empty address: the saved game comes back, with its seed
    assert trainer(back).step_count == 1 and back.session_state.global_seed == 7
    config = trainer(back).config
    assert (config.target, config.g_lr, config.d_steps, config.seed) == ("mixture", 0.01, 2, 7)
    back.run()  # the widgets describe the restored game exactly: no question, no new game
    assert trainer(back).step_count == 1 and not asking(back) and trainer(back).config == config
    by_preset = _open_as(key, preset="collapse", k="2", **{"train.seed": "7"})  # the link it was started from
    assert trainer(by_preset).step_count == 1
    assert by_preset.selectbox(key="gan_preset").value == "Mode collapse (mixture)"

    by_preset.button(key="gan_run_reset").click().run()
    assert trainer(by_preset).step_count == 0 and session_store().get(key, "gan") is None
    assert trainer(_open_as(key)).step_count == 0  # a reload after Reset: the new game, not the old one


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, "gan", b"not a checkpoint")
    session_store().put(key, "gan_digits", GANTrainer(GANConfig(**TINY), "cpu").checkpoint_bytes())  # the wrong kind
    at = _open_as(key)
    assert [w.value for w in at.warning] == ["Your saved 2-D game could not be read (ValueError); starting afresh.",
                                             "Your saved digits GAN could not be read (ValueError); starting afresh."]
    assert trainer(at).step_count == 0 and session_store().get(key, "gan") is None  # and both are gone
    assert session_store().get(key, "gan_digits") is None
    at.button(key="gan_run_step").click().run()
    assert GANTrainer.from_checkpoint(session_store().get(key, "gan"), "cpu").step_count == 1


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(_gan_address_domain()))
def test_any_setup_the_address_can_carry_trains_and_comes_back_on_a_reload(setup):
    query, _ = setup
    key = uuid.uuid4().hex  # a browser of its own
    at = _open_as(key, **query)
    run_key = "gan_run" if at.session_state.gan_mode in (None, MODES[0]) else "gan_digits_run"
    at.button(key=f"{run_key}_step").click().run()  # trained and saved
    assert not at.exception, [e.value for e in at.exception]
    game = at.session_state[run_key].trainer
    assume(game.step_count >= 1)  # a game that diverged at once has nothing to save
    back = _open_as(key, **at.query_params)  # a reload: the address the page wrote for it
    restored = back.session_state[run_key].trainer
    assert restored.config == game.config and restored.step_count == game.step_count
    assert same_weights(restored, game) and "Restored your" in _notices(back)
