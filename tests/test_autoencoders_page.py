"""AppTest of the Autoencoders page: it renders its views, widgets reach the config (hot ones
keep progress), Play/Step/Reset work, presets load, a click on the code plane decodes that
point, an impossible setting is reported and keeps the running network; and the page's
plain-Python state and figures."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.autoencoders.state import (MAX_TRAIN_SECONDS, PRESETS, TICK_SECONDS, AutoencoderRun, config_from_widgets,
                                          default_widgets, explain, preset_config, sample_indices)
from app_pages.common.frame_interval import MIN_TRAIN_SECONDS, LiveRuns
from engine.autoencoders.trainer import AutoencoderConfig, AutoencoderTrainer
from tests.chart_helpers import charts, live_keys
from viz.autoencoders import image_rows_figure, latent_grid_figure, latent_scatter_figure, tile_images

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "autoencoders" / "page.py")


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
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


def trainer(at: AppTest) -> AutoencoderTrainer:
    return at.session_state.ae_run.trainer


def test_page_renders_trains_and_reacts_to_its_widgets():
    at = open_page()
    m = metrics(at)
    assert m["Step"] == "0" and "PCA, k = 2" in m
    # scatter, decoded plane, reconstructions, loss, encoder gradient, feature classifier
    assert len(charts(at)) == 6 and len(live_keys(at)) == 6  # drawn in place
    assert "PCA with 2 components" in " ".join(md.value for md in at.markdown)

    at.button(key="ae_step").click().run()
    assert trainer(at).step_count == 100 and metrics(at)["Step"] == "100"
    first = trainer(at)
    at.select_slider(key="ae_lr").set_value(0.01).run()  # hot: same trainer, progress kept
    assert trainer(at) is first and first.step_count == 100 and first.optimizer.param_groups[0]["lr"] == 0.01

    at.button(key="ae_play").click().run()
    assert at.session_state.ae_run.playing
    at.run()
    assert trainer(at).step_count > 100
    at.button(key="ae_pause").click().run()  # Pause
    assert not at.session_state.ae_run.playing

    at.selectbox(key="ae_model").set_value("vae").run()
    at.slider(key="ae_latent").set_value(3).run()
    at.select_slider(key="ae_beta").set_value(4.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert trainer(at).config.model.kind == "deep"  # it has trained: the page asks first
    at.button(key="ae_replace").click().run()
    config = trainer(at).config
    assert (config.model.kind, config.model.latent_dim, config.model.beta) == ("vae", 3, 4.0)
    assert "3 numbers each, projected on their first two principal components" in " ".join(
        md.value for md in at.markdown)
    vae = trainer(at)
    at.button(key="ae_step").click().run()
    at.toggle(key="ae_reparam").set_value(False).run()  # hot: the running VAE loses the trick
    assert trainer(at) is vae and not vae.config.model.reparameterize
    at.button(key="ae_step").click().run()
    assert metrics(at)["Encoder ‖∇‖ from recon."] == "0"
    assert "Without the trick" in " ".join(md.value for md in at.markdown)

    at.button(key="ae_reset").click().run()
    assert trainer(at) is not vae and trainer(at).step_count == 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_loads(name):
    at = open_page()
    at.selectbox(key="ae_preset").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    config = trainer(at).config
    assert all(config.flat()[k] == v for k, v in PRESETS[name].items())
    if config.model.kind == "linear":
        assert "Largest angle to PCA" in metrics(at)


def test_a_click_on_the_code_plane_decodes_that_point_and_bad_settings_keep_the_network():
    at = open_page()
    # What a click on the code plane does (the browser test clicks the chart itself).
    at.session_state.ae_run.click(0.5, -0.25)
    at.run()
    assert any(md.value.startswith("**Decoded at (0.50, -0.25)") for md in at.markdown)
    assert len(charts(at)) == 7
    running = trainer(at)
    at.selectbox(key="ae_model").set_value("linear").run()
    assert at.session_state.ae_recon == "squared" and trainer(at).config.model.kind == "linear"
    at.selectbox(key="ae_recon").set_value("bce").run()  # a linear output cannot take BCE
    assert at.error and "train.loss" in at.error[0].value
    assert trainer(at).config.model.kind == "linear" and not at.exception
    assert running is not trainer(at)
    at.selectbox(key="ae_recon").set_value("squared").run()
    at.slider(key="ae_latent").set_value(1).run()  # one number per code: a strip, the digit on the other axis
    assert not at.exception and not at.error and trainer(at).config.model.latent_dim == 1
    assert "What the decoder draws along the code" in " ".join(md.value for md in at.markdown)


def test_sparse_denoising_conv_and_a_32_number_code_on_the_page():
    at = open_page()
    at.selectbox(key="ae_model").set_value("denoising").run()
    at.selectbox(key="ae_noise").set_value("masking").run()
    at.button(key="ae_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    denoiser = trainer(at)
    assert denoiser.config.model.kind == "denoising" and denoiser.config.model.noise == "masking"
    assert "Denoised test error" in metrics(at)
    rows = [c for c in charts(at).values() if "noisy input" in json.dumps(c)]
    assert rows, "the reconstructions show the noisy input"
    at.select_slider(key="ae_noise_level").set_value(0.5).run()  # hot: the same network
    assert trainer(at) is denoiser and denoiser.config.model.noise_level == 0.5 and denoiser.step_count == 100
    assert "50% of the pixels set to 0" in " ".join(md.value for md in at.markdown)

    at.selectbox(key="ae_model").set_value("sparse").run()
    at.slider(key="ae_latent").set_value(32).run()
    at.button(key="ae_replace").click().run()  # the denoiser has trained: the page asked first
    at.button(key="ae_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sparse = trainer(at)
    assert (sparse.config.model.kind, sparse.config.model.latent_dim) == ("sparse", 32)
    assert "Code numbers on" in metrics(at)
    text = " ".join(md.value for md in at.markdown)
    assert "sparsity penalty" in text and "32 numbers each, projected" in text
    assert "autoencoder's codes give" in text and "Chance is 10 %" in text
    at.select_slider(key="ae_sparsity").set_value(1.0).run()
    assert trainer(at) is sparse and sparse.config.model.sparsity == 1.0

    at.selectbox(key="ae_model").set_value("conv").run()
    at.button(key="ae_replace").click().run()
    at.button(key="ae_step").click().run()
    assert not at.exception and trainer(at).config.model.kind == "conv" and trainer(at).step_count == 100


def asking(at: AppTest) -> bool:
    return any("needs a new network" in w.value for w in at.warning)


def test_a_structural_change_asks_before_discarding_a_trained_network():
    at = open_page()
    running = trainer(at)
    running.step(3)
    history = list(running.history)
    at.slider(key="ae_latent").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]
    assert asking(at) and any("model.latent_dim" in w.value and "3 steps" in w.value for w in at.warning)
    assert trainer(at) is running and running.step_count == 3 and running.history == history
    assert running.config.model.latent_dim == 2
    at.select_slider(key="ae_lr").set_value(0.01).run()  # hot: still reaches the network that keeps running
    assert trainer(at) is running and running.optimizer.param_groups[0]["lr"] == 0.01

    at.button(key="ae_keep").click().run()
    assert at.slider(key="ae_latent").value == 2 and at.select_slider(key="ae_lr").value == 0.01
    assert not asking(at) and trainer(at) is running and running.step_count == 3

    at.slider(key="ae_latent").set_value(3).run()
    at.button(key="ae_replace").click().run()
    assert not at.exception and not asking(at)
    fresh = trainer(at)
    assert fresh is not running and fresh.config.model.latent_dim == 3 and fresh.step_count == 0

    fresh.step(2)
    at.selectbox(key="ae_preset").set_value("Linear autoencoder = PCA").run()  # a preset: no question
    assert not at.exception and not asking(at)
    assert trainer(at).config.model.kind == "linear" and trainer(at).step_count == 0


def test_the_feature_classifier_is_refitted_when_the_network_changes():
    run = AutoencoderRun.build(AutoencoderConfig.build(hidden=16), "cpu")
    first = run.probe_accuracies()
    assert set(first) == {"codes", "pca", "pixels"} and run.probe_step == 0
    assert run.probe_accuracies() is first  # nothing changed: no refit
    run.step(200)
    again = run.probe_accuracies()
    assert run.probe_step == 200 and again is not first and again["pixels"] == first["pixels"]
    assert again["codes"] > 0.2  # well above chance (0.1) after 200 steps of a 16-unit network


# ---------- the page's plain-Python parts ----------
def test_widgets_round_trip_and_the_run_decodes_clicks():
    state = default_widgets()
    config = config_from_widgets(state, seed=5)
    assert config == preset_config("Deep autoencoder, 2-D code", 5)
    run = AutoencoderRun.build(AutoencoderConfig.build(hidden=16), "cpu")
    snap = run.tick()  # paused: no training
    assert snap.step == 0
    run.play()
    run.tick(budget_s=0.05)
    assert run.trainer.step_count > 0
    codes, labels = run.trainer.test_codes()
    plane = run.trainer.code_plane(codes)
    assert run.clicked_code(plane) is None
    run.click(1.0, 2.0)
    z = run.clicked_code(plane)
    assert z.shape == (1, 2) and z[0].tolist() == [1.0, 2.0]  # a 2-number code is its own plane
    # A longer code: the click is a point of the plane of the codes' first two principal components.
    wide = AutoencoderRun.build(AutoencoderConfig.build(hidden=16, latent_dim=4), "cpu")
    wide.step(20)
    codes4, _ = wide.trainer.test_codes()
    plane4 = wide.trainer.code_plane(codes4)
    assert plane4["projected"] and plane4["coords"].shape == (len(codes4), 2)
    centred = codes4 - codes4.mean(axis=0)
    top2 = np.linalg.svd(centred, full_matrices=False)[2][:2]  # the oracle: NumPy's SVD of the codes
    assert np.allclose(np.abs(plane4["basis"].T @ top2.T), np.eye(2), atol=1e-6)
    wide.click(*plane4["coords"][7])  # clicking a code's own projection gives its point of the plane
    z4 = wide.clicked_code(plane4)[0]
    assert np.allclose(z4, codes4.mean(axis=0) + (centred[7] @ top2.T) @ top2, atol=1e-4)
    assert list(labels[sample_indices(labels)[:10]]) == list(range(10))
    assert explain(run.trainer.snapshot(), run.trainer.config)


def test_frames_come_less_often_when_they_take_longer():
    run = AutoencoderRun(trainer=None)  # the timing logic needs no trainer
    run.pace.runs = LiveRuns()          # this test's own server
    assert run.pace.frame_interval() == pytest.approx(TICK_SECONDS) and not run.pace.interval_is_stale()
    for _ in range(8):  # a busy machine: each frame takes a second, 0.95 s of it drawing
        run.pace.frame_drawn(1.0, 0.05)
    assert run.pace.frame_interval() == pytest.approx(1.25) and run.pace.interval_is_stale()
    assert run.pace.training_budget() == pytest.approx(MIN_TRAIN_SECONDS)
    assert run.pace.run_every(True) == pytest.approx(1.25)  # the live view drawn again with it
    assert not run.pace.interval_is_stale()
    for _ in range(12):  # the machine is free again
        run.pace.frame_drawn(0.2, 0.1)
    assert run.pace.interval_is_stale() and run.pace.frame_interval() == pytest.approx(TICK_SECONDS)


def test_play_and_pause_start_and_stop_the_pace_and_a_tick_trains_what_it_allows():
    """The live view's pace (common/frame_interval.py, tested in test_frame_interval.py): Play measures
    the browser's pace anew, Pause leaves the server's count of training runs, and a tick trains for
    the budget the pace gives, at most MAX_TRAIN_SECONDS."""
    run = AutoencoderRun.build(AutoencoderConfig.build(hidden=16), "cpu")
    run.pace.runs = LiveRuns()
    budgets = []
    train_for = run.trainer.train_for
    run.trainer.train_for = lambda budget_s: budgets.append(budget_s) or train_for(budget_s)
    run.play()
    run.pace.frame_started()
    assert run.pace.runs.ticked(-1) == 2  # this run and the probe -1
    run.pace.browser_floor, run.pace.interrupted = 2.0, 3
    run.pause()
    assert run.pace.runs.ticked(-1) == 1
    run.pace.runs.stopped(-1)
    run.play()
    assert run.pace.browser_floor == 0 and run.pace.interrupted == 0
    run.pace.draw_seconds = 0.0   # a quick drawing: the frame's training is capped
    run.tick()
    run.pace.draw_seconds = 1.0   # a slow drawing leaves training the least
    run.tick()
    assert budgets == [pytest.approx(MAX_TRAIN_SECONDS), pytest.approx(MIN_TRAIN_SECONDS)]
    assert run.apply(run.trainer.config.replace(max_steps=run.trainer.step_count + 1)) == []
    run.pace.frame_started()
    run.tick()                    # reaches the step limit: stops by itself and leaves the server's count
    assert not run.playing and run.pace.runs.ticked(-1) == 1


def test_divergence_pauses_with_a_message():
    run = AutoencoderRun.build(AutoencoderConfig.build(kind="linear", optimizer="sgd", lr=10.0, batch_size=256), "cpu")
    run.play()
    for _ in range(5):
        run.tick(budget_s=0.05)
    assert not run.playing and "NaN or infinite" in run.message and run.trainer.diverged


def test_image_figures_tile_into_one_heatmap():
    images = np.random.default_rng(0).random((3, 64))
    canvas = tile_images([images, images[:2]])
    assert canvas.shape == (17, 26)
    assert np.array_equal(canvas[:8, 9:17], images[1].reshape(8, 8)) and np.isnan(canvas[8]).all()
    fig = image_rows_figure([("original", images), ("again", images)])
    assert len(fig.data) == 1 and list(fig.layout.yaxis.ticktext) == ["original", "again"]
    axes = [np.linspace(-1, 1, 3), np.linspace(0, 4, 2)]
    grid = np.stack([images, images[::-1]])  # (rows 2, cols 3, 64)
    fig = latent_grid_figure(axes, grid)
    z = np.asarray(fig.data[0].z)
    # row 0 of the grid (lowest z2) is drawn at the bottom: heatmap rows 0..7, top pixel row last
    assert np.array_equal(z[:8, :8], images[0].reshape(8, 8)[::-1])
    with pytest.raises(ValueError, match="rows"):
        latent_grid_figure(axes, images)
    # The scatter covers exactly the decoded plane's extent, so the two line up point for point.
    x = np.asarray(fig.data[0].x)
    assert x[3:5].mean() == pytest.approx(-1) and x[9 + 3:9 + 5].mean() == pytest.approx(0)  # tiles centred on codes
    scatter = latent_scatter_figure(np.array([[0.0, 1.0], [0.5, 2.0]]), np.array([3, 7]), axes, clicked=(0.1, 0.2))
    for figure in (scatter, fig):
        assert figure.layout.xaxis.range == pytest.approx((-1.5, 1.5))
        assert figure.layout.yaxis.range == pytest.approx((-2, 6))
    points = scatter.data[0]
    assert list(points.customdata) == [3, 7] and list(points.marker.color) == [3, 7]  # digits, numeric colours
    assert list(scatter.data[-1].x) == [0.1]  # the clicked point's cross


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_every_preset_and_a_custom_setup():
    from app_pages.autoencoders.state import (NO_PRESET, PRESET_WORDS, preset_widgets, widgets_from_query,
                                              widgets_to_query)
    assert set(PRESET_WORDS.values()) == set(PRESETS)  # every preset has its word in the address
    defaults = {**default_widgets(), "ae_preset": NO_PRESET}
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    setups = [{**defaults, **preset_widgets(name), "ae_preset": name} for name in PRESETS]
    # a preset changed afterwards: the address holds what differs from the preset, here a default again
    setups.append({**defaults, **preset_widgets("β-VAE (β = 4)"), "ae_preset": "β-VAE (β = 4)", "ae_recon": "squared",
                   "ae_lr": 0.01})
    setups.append({**defaults, "ae_model": "denoising", "ae_latent": 7, "ae_hidden": 32, "ae_depth": 3,
                   "ae_activation": "tanh", "ae_noise": "gaussian", "ae_noise_level": 0.6, "ae_reparam": False,
                   "ae_optimizer": "sgd", "ae_batch": 512, "ae_sparsity": 0.03, "ae_beta": 0.1})
    for values in setups:
        query = widgets_to_query(values, 9)
        restored, problems = widgets_from_query(query)
        assert not problems and {**defaults, **restored} == values, query
    assert widgets_to_query(setups[-2], 9) == {"preset": "beta-vae", "loss": "squared", "lr": "0.01", "train.seed": "9"}


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.autoencoders.state import widgets_from_query
    values, problems = widgets_from_query({"preset": "vae2", "model": "sparse", "code": "33", "width": "100",
                                           "depth": "2", "lr": "0.02", "reparam": "yes", "sparsity": "1",
                                           "noise_level": "0.3", "batch": "64.5", "node": "LSTM"})
    assert values == {"ae_model": "sparse", "ae_depth": 2, "ae_sparsity": 1.0, "ae_noise_level": 0.3}
    assert problems == [
        "preset='vae2' was ignored: not one of pca, deep, conv, sparse, denoising, vae, vae-no-trick, beta-vae, "
        "conv-vae",
        "code='33' was ignored: a whole number from 1 to 32",
        "width='100' was ignored: not one of 16, 32, 64, 128, 256",
        "reparam='yes' was ignored: not one of true, false",
        "lr='0.02' was ignored: not one of 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1",
        "batch='64.5' was ignored: not one of 16, 32, 64, 128, 256, 512"]


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update({"preset": "beta-vae", "code": "3", "batch": "100", "lr": "0.01", "train.seed": "4"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The address: " + md_escape("batch='100' was ignored: not one of 16, 32, 64, 128, 256, 512") + "."]
    assert at.selectbox(key="ae_preset").value == "β-VAE (β = 4)" and at.selectbox(key="ae_model").value == "vae"
    assert at.slider(key="ae_latent").value == 3 and at.select_slider(key="ae_lr").value == 0.01
    config = trainer(at).config
    assert (config.model.kind, config.model.latent_dim, config.model.beta, config.train.lr, config.train.batch_size,
            config.seed) == ("vae", 3, 4.0, 0.01, 64, 4)
    assert at.query_params == {"preset": "beta-vae", "code": "3", "lr": "0.01", "train.seed": "4"}
    at.select_slider(key="ae_beta").set_value(0.5).run()
    assert at.query_params["beta"] == "0.5" and not at.warning  # the warning is shown once
    at.selectbox(key="ae_preset").set_value("Linear autoencoder = PCA").run()
    assert at.query_params == {"preset": "pca", "train.seed": "4"}
