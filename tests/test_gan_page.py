"""AppTest of the GAN lab: it renders the plane and the curves, the widgets reach the config
(hot ones keep the game), Step / D only / G only / Play / Reset act, presets load, a drawn
target needs 3 points, the digits lab trains; plus the page's plain-Python state."""
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from streamlit.testing.v1 import AppTest

from app_pages.common.frame_interval import LiveRuns
from app_pages.gan.state import (PRESETS, LiveRun, add_point, config_from_widgets, explain, heart, preset_config,
                                 widgets_from_config)
from engine.gan.trainer import GANConfig, GANTrainer
from tests.chart_helpers import charts, live_keys
from tests.test_address_properties import NO_SHRINK, assert_hostile_named, assert_shown, choice, names_of_notes
from tests.test_address_properties import open_page as open_address
from tests.test_address_properties import setups, whole

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "gan" / "page.py")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as app.py sets it
    yield
    torch.set_num_threads(before)


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def trainer(at: AppTest) -> GANTrainer:
    return at.session_state.gan_run.trainer


def test_page_renders_widgets_reach_the_game_and_buttons_act():
    at = open_page()
    assert metrics(at)["Step"] == "0"
    assert live_keys(at) == {"gan_plane", "gan_losses", "gan_verdict", "gan_mmd"}  # plane, losses, D's verdict, MMD
    at.button(key="gan_run_step").click().run()
    assert metrics(at)["Step"] == "1" and metrics(at)["D loss"] != "—"
    at.button(key="gan_step_d").click().run()
    t = trainer(at)
    assert (t.d_updates, t.g_updates) == (11, 1)
    at.button(key="gan_step_g").click().run()
    assert (t.d_updates, t.g_updates) == (11, 11)
    # hot: the same game goes on with the new rule
    at.selectbox(key="gan_loss").set_value("minimax").run()
    at.slider(key="gan_k").set_value(3).run()
    at.select_slider(key="gan_d_lr").set_value(0.01).run()
    assert trainer(at) is t and t.config.loss == "minimax" and t.config.d_steps == 3
    assert t.opt_d.param_groups[0]["lr"] == 0.01 and t.step_count == 21
    # structural: the game has trained, so the page asks; then a new game
    at.selectbox(key="gan_target").set_value("moons").run()
    at.slider(key="gan_g_layers").set_value(3).run()
    at.selectbox(key="gan_d_act").set_value("tanh").run()
    at.slider(key="gan_noise_dim").set_value(4).run()
    assert not at.exception and trainer(at) is t and asking(at)
    at.button(key="gan_run_replace").click().run()
    t2 = trainer(at)
    assert t2 is not t and t2.step_count == 0
    assert (t2.config.target, t2.config.g_layers, t2.config.d_activation, t2.config.noise_dim) == \
        ("moons", 3, "tanh", 4)
    # Play trains a time-boxed chunk per frame; Pause stops it; Reset starts over
    at.button(key="gan_run_play").click().run()
    assert at.session_state.gan_run.playing
    at.run()
    assert trainer(at).step_count > 0
    at.button(key="gan_run_pause").click().run()
    assert not at.session_state.gan_run.playing
    at.button(key="gan_run_reset").click().run()
    assert trainer(at).step_count == 0 and not at.exception


@pytest.mark.parametrize("name", ["Mode collapse (mixture)", "Draw your own"])
def test_presets_load_and_say_what_to_look_for(name):
    at = open_page()
    at.selectbox(key="gan_preset").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    config = trainer(at).config
    assert config.target == PRESETS[name]["target"]
    if name.startswith("Mode collapse"):
        assert (config.g_lr, config.d_lr, config.spread) == (0.01, 0.002, 0.02)
        assert metrics(at)["Modes covered"].endswith("/ 8")
        assert any("Mode collapse" in i.value and "What to try" in i.value for i in at.info)
    else:
        assert config.points == heart()
        at.button(key="gan_clear").click().run()
        # fewer than 3 points: a note, and the last game goes on
        assert any("at least 3" in i.value for i in at.info) and not at.exception
        assert trainer(at).config.points == heart()


def test_digits_lab_trains_and_shows_its_grids():
    at = open_page()
    at.segmented_control(key="gan_mode").set_value("Digits").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(charts(at)) == 5 and len(live_keys(at)) == 5  # samples, nearest real, timeline, losses, MMD
    at.button(key="gan_digits_run_step").click().run()
    assert metrics(at)["Step"] == "100"
    at.select_slider(key="gan_dg_lr").set_value(0.001).run()
    run = at.session_state.gan_digits_run
    assert run.trainer.step_count == 100 and run.trainer.opt_g.param_groups[0]["lr"] == 0.001
    at.select_slider(key="gan_dg_hidden").set_value(64).run()
    assert asking(at) and at.session_state.gan_digits_run is run  # trained for 100 steps: it asks first
    at.button(key="gan_digits_run_keep").click().run()
    assert at.select_slider(key="gan_dg_hidden").value == 128 and not asking(at)
    assert at.session_state.gan_digits_run is run and run.trainer.step_count == 100
    at.select_slider(key="gan_dg_hidden").set_value(64).run()
    at.button(key="gan_digits_run_replace").click().run()
    assert at.session_state.gan_digits_run.trainer.config.hidden == 64 and not at.exception
    assert at.session_state.gan_digits_run.trainer.step_count == 0


def asking(at: AppTest) -> bool:
    return any("needs a new game" in w.value for w in at.warning)


def test_a_structural_change_asks_before_discarding_a_trained_game():
    at = open_page()
    t = trainer(at)
    at.button(key="gan_run_step").click().run()
    at.button(key="gan_run_step").click().run()
    history = list(t.history)
    at.select_slider(key="gan_g_width").set_value(8).run()
    assert not at.exception, [e.value for e in at.exception]
    assert asking(at) and any("g_width" in w.value and "2 steps" in w.value for w in at.warning)
    assert trainer(at) is t and t.step_count == 2 and t.history == history and t.config.g_width != 8
    at.select_slider(key="gan_g_lr").set_value(0.01).run()  # hot: still reaches the game that goes on
    assert trainer(at) is t and t.config.g_lr == 0.01 and t.opt_g.param_groups[0]["lr"] == 0.01

    at.button(key="gan_run_keep").click().run()
    assert at.select_slider(key="gan_g_width").value == t.config.g_width and not asking(at)
    assert at.select_slider(key="gan_g_lr").value == 0.01 and trainer(at) is t and t.step_count == 2

    at.select_slider(key="gan_g_width").set_value(8).run()
    at.button(key="gan_run_replace").click().run()
    assert not at.exception and not asking(at)
    fresh = trainer(at)
    assert fresh is not t and fresh.config.g_width == 8 and fresh.step_count == 0 and fresh.config.g_lr == 0.01

    at.button(key="gan_run_step").click().run()  # the buttons act on the new game at once
    assert fresh.step_count == 1
    at.selectbox(key="gan_preset").set_value("Two moons").run()  # a preset: a new game without asking
    assert not at.exception and not asking(at)
    assert trainer(at).config.target == "moons" and trainer(at).step_count == 0


# ---------- the page's plain-Python state ----------
def test_widgets_and_config_round_trip():
    config = preset_config("Spiral", seed=7)
    state = {**widgets_from_config(config), "gan_points": []}
    assert config_from_widgets(state, 7) == config
    drawn = preset_config("Draw your own", points=[[0, 0], [1, 0], [0, 1]])
    assert config_from_widgets({**widgets_from_config(drawn), "gan_points": drawn.points}, 0) == drawn


def test_add_point_rounds_and_clamps_to_the_plane():
    assert add_point([[0, 0]], 2.5, -0.12345) == [[0, 0], [2.0, -0.123]]
    assert all(abs(v) <= 2 for p in heart() for v in p)


def test_live_run_ticks_within_its_budget_and_stops_on_divergence():
    run = LiveRun(GANTrainer(GANConfig(g_width=8, d_width=8, batch_size=16), "cpu"))
    run.pace.runs = LiveRuns()  # its own registry: the server-wide one is shared with other tests
    assert run.tick().step == 0  # paused: nothing trains
    assert run.pace.run_every(False) is None  # paused: the live view asks for no frames
    assert run.pace.run_every(True) == 0.25 and run.pace.training_budget() == pytest.approx(0.1)
    run.pace.draw_seconds = 1.0  # a busy machine: frames come less often, and training keeps a share of each
    assert run.pace.run_every(True) == 1.35 and run.pace.training_budget() == pytest.approx(0.08)
    run.pace.draw_seconds = 0.1
    assert run.pace.run_every(True) == 0.25
    run.play()
    # slow motion: exactly the steps asked for, however long the budget (a long one: on a loaded machine three
    # steps can take longer than a frame's share)
    assert run.tick(speed_steps=3, budget_s=10.0).step == 3
    snap = run.tick(budget_s=0.05)
    assert snap.step > 3
    bad = GANConfig(g_optimizer="sgd", d_optimizer="sgd", g_lr=1.0, d_lr=1.0, g_activation="linear",
                    d_activation="linear", g_layers=3, d_layers=3, loss="least_squares", g_width=8, d_width=8)
    run = LiveRun(GANTrainer(bad, "cpu"))
    run.play()
    for _ in range(20):
        run.tick(speed_steps=50)
        if not run.playing:
            break
    assert not run.playing and "NaN" in run.message


def test_live_run_play_and_pause_start_and_stop_its_pacer_and_a_slow_drawing_shrinks_training():
    runs = LiveRuns()
    run = LiveRun(GANTrainer(GANConfig(g_width=8, d_width=8, batch_size=16), "cpu"))
    other = LiveRun(GANTrainer(GANConfig(g_width=8, d_width=8, batch_size=16), "cpu"))  # the digits game, say
    run.pace.runs = other.pace.runs = runs
    run.play()
    other.play()
    assert run.pace is not other.pace  # each game paces its own live view
    for game in (run, other):
        game.pace.frame_started()
    assert run.pace.live_runs == 1 and other.pace.live_runs == 2  # the server counts both
    run.pace.frame_started()
    assert run.pace.live_runs == 2
    run.pause()
    other.pace.frame_started()
    assert other.pace.live_runs == 1  # a paused game takes no share of the server
    other.pause()

    run.play()
    assert run.pace._frames_since_play == 0  # Play measures the browser's pace afresh
    run.pace.frame_started()
    assert run.pace.live_runs == 1
    budgets = []
    train_for = run.trainer.train_for
    run.trainer.train_for = lambda budget, **kw: budgets.append(budget) or train_for(budget, **kw)
    run.pace.run_every(True)
    run.tick()
    run.pace.draw_seconds = 0.18  # drawing takes most of the frame: it grows to 0.3 s, and training gets what is left
    assert run.pace.run_every(True) == 0.3
    run.tick()
    assert budgets == pytest.approx([0.1, 0.06])  # 80 % of the interval, less the drawing
    assert run.trainer.step_count >= 2


def test_a_game_that_stops_by_itself_stops_its_pacer():
    bad = GANConfig(g_optimizer="sgd", d_optimizer="sgd", g_lr=1.0, d_lr=1.0, g_activation="linear",
                    d_activation="linear", g_layers=3, d_layers=3, loss="least_squares", g_width=8, d_width=8)
    run = LiveRun(GANTrainer(bad, "cpu"))
    run.pace.runs = runs = LiveRuns()
    run.play()
    for _ in range(20):
        run.pace.frame_started()
        run.tick(speed_steps=50)
        if not run.playing:
            break
    assert not run.playing and "NaN" in run.message
    assert runs.ticked(0) == 1  # only the asking run: the stopped game left the registry


def test_explain_reads_the_numbers():
    t = GANTrainer(GANConfig(target="mixture", g_width=8, d_width=8), "cpu")
    snap = t.step(2)
    text = " ".join(explain(snap, t.config, t.frame(8, 3).arrows))
    assert f"p = **{snap.d_real:.2f}**" in text and f"of {t.config.n_modes}**" in text
    assert "Press" in explain(t.snapshot().__class__(**{**snap.to_json_dict(), "step": 0}), t.config)[0]
    assert np.isfinite(snap.mmd)


def test_figure_builders_check_shapes_and_tile_digits():
    from viz.gan import arrow_segments, digit_tiles, plane_figure
    tiles = digit_tiles(np.ones((5, 8, 8)), cols=3)
    assert tiles.shape == (17, 26) and np.isnan(tiles[8]).all() and np.nansum(tiles) == 5 * 64
    xs, ys = arrow_segments(np.zeros((2, 2)), np.array([[1.0, 0.0], [0.0, 0.5]]), max_length=0.3)
    assert np.nanmax(xs) == pytest.approx(0.3) and np.nanmax(ys) == pytest.approx(0.15)  # the longest gets 0.3
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plane_figure(None, np.zeros((4, 3)), None)


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_every_preset_and_both_games():
    from app_pages.gan.state import (NO_PRESET, PRESET_WORDS, default_widgets, preset_widgets, widgets_from_query,
                                     widgets_to_query)
    assert set(PRESET_WORDS.values()) == set(PRESETS)  # every preset has its word in the address
    defaults = {**default_widgets(), "gan_preset": NO_PRESET}
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    assert widgets_to_query({**defaults, "gan_mode": None}, 0) == {"train.seed": "0"}  # the Lab switch unset
    setups = [{**defaults, **preset_widgets(name), "gan_preset": name} for name in PRESETS]
    setups.append({**defaults, "gan_mode": "Digits", "gan_target": "mixture", "gan_modes": 5, "gan_spread": 0.2,
                   "gan_loss": "least_squares", "gan_k": 3, "gan_batch": 16, "gan_noise_dim": 4,
                   "gan_noise_type": "uniform", "gan_g_layers": 4, "gan_g_width": 8, "gan_g_act": "elu",
                   "gan_g_opt": "rmsprop", "gan_g_lr": 0.0003, "gan_d_layers": 1, "gan_d_width": 128,
                   "gan_d_act": "sigmoid", "gan_d_opt": "sgd", "gan_d_lr": 0.1, "gan_dg_lr": 0.0005, "gan_dg_k": 5,
                   "gan_dg_loss": "minimax", "gan_dg_noise": 64, "gan_dg_hidden": 32, "gan_dg_arch": "dcgan"})
    for values in setups:
        query = widgets_to_query(values, 2)
        restored, problems = widgets_from_query(query)
        assert not problems and {**defaults, **restored} == values, query
    assert widgets_to_query(setups[2], 2) == {"preset": "collapse", "train.seed": "2"}
    assert widgets_to_query({**setups[2], "gan_g_lr": 0.002}, 2) == {"preset": "collapse", "g.lr": "0.002",
                                                                     "train.seed": "2"}


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.gan.state import widgets_from_query
    values, problems = widgets_from_query({"game": "3d", "target": "mixture", "modes": "40", "g.lr": "0.01",
                                           "d.width": "100", "digits.k": "2", "digits.loss": "hinge", "k": "1.5"})
    assert values == {"gan_target": "mixture", "gan_g_lr": 0.01, "gan_dg_k": 2}
    assert problems == ["game='3d' was ignored: not one of plane, digits",
                        "modes='40' was ignored: a whole number from 2 to 16",
                        "k='1.5' was ignored: a whole number from 1 to 10",
                        "d.width='100' was ignored: not one of 4, 8, 16, 32, 64, 128",
                        "digits.loss='hinge' was ignored: not one of minimax, nonsaturating, least_squares"]


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update({"preset": "collapse", "d.lr": "0.003", "g.width": "7", "digits.width": "64",
                            "train.seed": "6"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The address: " + md_escape("g.width='7' was ignored: not one of 4, 8, 16, 32, 64, 128") + "."]
    assert at.selectbox(key="gan_preset").value == "Mode collapse (mixture)"
    assert at.select_slider(key="gan_d_lr").value == 0.003 and at.selectbox(key="gan_target").value == "mixture"
    config = trainer(at).config
    assert (config.target, config.n_modes, config.g_lr, config.d_lr, config.seed) == ("mixture", 8, 0.01, 0.003, 6)
    assert at.query_params == {"preset": "collapse", "d.lr": "0.003", "digits.width": "64", "train.seed": "6"}
    at.slider(key="gan_k").set_value(4).run()
    assert at.query_params["k"] == "4" and not at.warning  # the warning is shown once
    # The digits game: its settings came from the address too, and the address says which game shows.
    at.segmented_control(key="gan_mode").set_value("Digits").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="gan_dg_hidden").value == 64 and at.query_params["game"] == "digits"
    assert at.session_state.gan_digits_run.trainer.config.hidden == 64


# ---------- any setup the address can carry opens (hypothesis) ----------


def _gan_address_domain() -> dict:
    from app_pages.gan import state as gan
    from engine.core.registries import ACTIVATIONS, OPTIMIZERS
    from engine.gan.trainer import LOSS_VARIANTS, NOISE_TYPES, TARGETS
    nets = {f"{net}.{name}": (f"gan_{net}_{key}", domain) for net in ("g", "d") for name, key, domain in (
        ("layers", "layers", whole(1, gan.MAX_LAYERS)), ("width", "width", choice(gan.WIDTHS)),
        ("activation", "act", choice(list(ACTIVATIONS))), ("optimizer", "opt", choice(list(OPTIMIZERS))),
        ("lr", "lr", choice(gan.LEARNING_RATES)))}
    return {
        "preset": ("gan_preset", choice(gan.PRESET_WORDS)),
        "game": ("gan_mode", choice({"plane": gan.MODES[0], "digits": gan.MODES[1]})),
        "target": ("gan_target", choice(list(TARGETS))), "modes": ("gan_modes", whole(2, gan.MAX_MODES)),
        "spread": ("gan_spread", choice(gan.SPREADS)), "loss": ("gan_loss", choice(list(LOSS_VARIANTS))),
        "k": ("gan_k", whole(1, gan.MAX_K)), "batch": ("gan_batch", choice(gan.BATCH_SIZES)),
        "noise_dim": ("gan_noise_dim", whole(1, gan.MAX_NOISE_DIM)),
        "noise": ("gan_noise_type", choice(list(NOISE_TYPES))), **nets,
        "digits.lr": ("gan_dg_lr", choice(gan.DIGIT_LEARNING_RATES)),
        "digits.k": ("gan_dg_k", whole(1, gan.DIGIT_MAX_K)),
        "digits.loss": ("gan_dg_loss", choice(list(LOSS_VARIANTS))),
        "digits.noise_dim": ("gan_dg_noise", choice(gan.DIGIT_NOISE_DIMS)),
        "digits.width": ("gan_dg_hidden", choice(gan.DIGIT_WIDTHS)),
        "digits.arch": ("gan_dg_arch", choice(["mlp", "dcgan"]))}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(_gan_address_domain()))
def test_any_setup_the_address_can_carry_opens_both_games(setup):
    from app_pages.gan.state import MODES, digits_config_from_widgets, preset_widgets
    query, asked = setup
    at = open_address("gan", query)
    assert names_of_notes(at) == []
    # A preset's settings, then the parameters given: what the address leaves out comes from the preset.
    preset = asked.get("preset", (None, None))[1]
    from_preset = {k: v for k, v in (preset_widgets(preset) if preset else {}).items()
                   if k not in {key for key, _ in asked.values()}}
    assert_shown(at, {**asked, **{f"preset:{k}": (k, v) for k, v in from_preset.items()}})
    state, seed = at.session_state, asked["train.seed"][1]
    if (state["gan_mode"] or MODES[0]) == MODES[0]:
        assert state.gan_run.trainer.config == config_from_widgets(state, seed)
    else:
        assert state.gan_digits_run.trainer.config == digits_config_from_widgets(state, seed)


@pytest.mark.parametrize("hostile", [
    {"modes": "9" * 5000, "k": "²", "g.lr": "nan", "spread": "inf", "batch": ""},
    {"target": "unknown", "g.activation": "x" * 20_000, "digits.k": "-1", "game": "3d", "preset": "unknown"}])
def test_hostile_address_values_are_each_named_and_the_others_apply(hostile):
    at = open_address("gan", {**hostile, "d.width": "64", "digits.width": "32", "loss": "minimax",
                               "another.page": "1", "train.seed": "4"})
    assert_hostile_named(at, hostile, {"gan_d_width": 64, "gan_dg_hidden": 32, "gan_loss": "minimax",
                                       "global_seed": 4})
    assert trainer(at).config.d_width == 64 and trainer(at).config.seed == 4


@pytest.mark.parametrize("name", list(__import__("app_pages.gan.state", fromlist=["PRESETS"]).PRESETS))
def test_every_preset_value_is_one_its_widget_offers(name):
    """A preset's value that its widget does not offer would be dropped by the widget (the Spiral's
    spread of 0.03 was shown, and trained, as 0): each one reads back through the address."""
    from app_pages.gan.state import URL_PARAMS, preset_widgets
    values = preset_widgets(name)
    for param in URL_PARAMS:
        if param.key in values and param.key != "gan_preset":
            assert param.parse(param.format(values[param.key])) == values[param.key], (name, param.name)
