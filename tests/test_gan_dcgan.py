"""The digits GAN's DCGAN architecture (engine/gan/dcgan.py): its shapes and parameter counts against
the arithmetic of its layers, the transposed convolution's overlap that the page explains, training
that brings the samples toward the data (the page's MMD), a checkpoint that goes on bit for bit, the
config's validation, and the page opened on it through its address."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine import ConfigError
from engine.gan.dcgan import DCGANDiscriminator, DCGANGenerator, digit_networks, parameter_counts
from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer, load_digit_pixels

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "gan" / "page.py")
SMALL = dict(architecture="dcgan", hidden=32, noise_dim=8, batch_size=32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as app.py sets it
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return load_digit_pixels()


def test_shapes_ranges_and_wrong_shapes_named():
    torch.manual_seed(0)
    G, D = DCGANGenerator(16, 128), DCGANDiscriminator(128)
    images = G(torch.randn(5, 16)).detach()
    assert images.shape == (5, 64) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert D(images).shape == (5,) and D(torch.rand(1, 64)).shape == (1,)  # batch norm copes with one image
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        D(torch.rand(5, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, noise_dim\)"):
        G(torch.randn(16))
    mlp_g, mlp_d = digit_networks("mlp", 16, 128)  # the MLP pair keeps the same contract
    assert mlp_g(torch.randn(3, 16)).shape == (3, 64) and mlp_d(torch.rand(3, 64)).shape == (3,)


@pytest.mark.parametrize("noise_dim, w", [(16, 128), (2, 16), (64, 512)])
def test_parameter_counts_are_the_layers_arithmetic(noise_dim, w):
    half, quarter = w // 2, w // 4
    g = noise_dim * half * 4 + 2 * half + half * quarter * 16 + 2 * quarter + quarter * 16 + 1
    d = (9 * quarter + quarter) + quarter * half * 9 + 2 * half + (half * 4 + 1)
    before = torch.get_rng_state()
    assert parameter_counts("dcgan", noise_dim, w) == (g, d)
    assert torch.equal(torch.get_rng_state(), before)  # counting leaves the global generator as it was
    mlp = (noise_dim * w + w + w * w + w + w * 64 + 64, 64 * w + w + w * w + w + w + 1)
    assert parameter_counts("mlp", noise_dim, w) == mlp


def test_a_stride_2_transposed_convolution_spreads_each_cell_and_kernels_of_4_overlap_evenly():
    kernel = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    cell = torch.zeros(1, 1, 2, 2)
    cell[0, 0, 1, 0] = 1.0
    out = torch.nn.functional.conv_transpose2d(cell, kernel, stride=2, padding=1)  # 2 × 2 -> 4 × 4
    spread = torch.zeros(6, 6)  # the kernel placed at twice the cell's position, before padding 1 is cut
    spread[2:6, 0:4] = kernel[0, 0]
    assert torch.equal(out[0, 0], spread[1:5, 1:5])
    # How many patches reach each pixel of an 8 × 8 output: even for 4 × 4 kernels, a checkerboard for 3 × 3.
    ones = torch.ones(1, 1, 4, 4)
    even = torch.nn.functional.conv_transpose2d(ones, torch.ones(1, 1, 4, 4), stride=2, padding=1)
    uneven = torch.nn.functional.conv_transpose2d(ones, torch.ones(1, 1, 3, 3), stride=2, padding=1,
                                                  output_padding=1)
    assert even.shape == uneven.shape == (1, 1, 8, 8)
    assert torch.unique(even[0, 0, 1:-1, 1:-1]).tolist() == [4.0]  # away from the border
    assert torch.unique(uneven[0, 0, 1:-1, 1:-1]).tolist() == [1.0, 2.0, 4.0]
    assert uneven[0, 0, 2, 2] != uneven[0, 0, 2, 3]


def test_dcgan_trains_without_nan_and_its_samples_move_toward_the_data(pixels):
    config = DigitsGANConfig(architecture="dcgan", hidden=64, seed=0)
    dcgan = DigitsGANTrainer(config, "cpu", pixels)
    first = dcgan.snapshot().mmd
    snap = dcgan.step(200, samples=True)
    assert not snap.diverged and all(np.isfinite(list(point.values())).all() for point in dcgan.history[1:])
    assert 0 <= snap.d_fake <= 1 and 0 <= snap.d_real <= 1
    assert snap.mmd < 0.25 * first, (first, snap.mmd)
    assert snap.samples.shape == (36, 8, 8) and np.array_equal(dcgan.sample_grid(), snap.samples)
    assert [s for s, _ in dcgan.timeline] == [0, 200]
    nearest = dcgan.nearest_real(snap.samples)
    assert nearest.shape == (36, 8, 8)
    # The page's claim: digits in a few hundred steps, where the MLP of the same width is still far.
    mlp = DigitsGANTrainer(DigitsGANConfig(hidden=64, seed=0), "cpu", pixels).step(200)
    assert snap.mmd < 0.5 * mlp.mmd, (snap.mmd, mlp.mmd)


def test_a_restored_dcgan_goes_on_bit_for_bit(pixels):
    game = DigitsGANTrainer(DigitsGANConfig(**SMALL, seed=3, d_steps=2), "cpu", pixels)
    twin = DigitsGANTrainer(DigitsGANConfig(**SMALL, seed=3, d_steps=2), "cpu", pixels)
    game.step(30)
    twin.step(30)  # the same snapshots as the saved game, without a save and a load
    back = DigitsGANTrainer.from_checkpoint(game.checkpoint_bytes(), "cpu")
    assert back.config == game.config and back.config.architecture == "dcgan"
    after_back, after_twin = back.step(25, samples=True), twin.step(25, samples=True)
    assert after_back.to_json_dict() == after_twin.to_json_dict()
    assert np.array_equal(after_back.samples, after_twin.samples)
    for net in ("G", "D"):
        mine, theirs = getattr(back, net).state_dict(), getattr(twin, net).state_dict()
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert json.dumps(back.history) == json.dumps(twin.history)
    assert [s for s, _ in back.timeline] == [s for s, _ in twin.timeline] == [30]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(back.timeline, twin.timeline))

    blob = torch.load(io.BytesIO(game.checkpoint_bytes()), weights_only=True)
    blob["config"] = json.dumps({**json.loads(blob["config"]), "architecture": "mlp"})  # DCGAN weights, MLP config
    buf = io.BytesIO()
    torch.save(blob, buf)
    with pytest.raises(ValueError, match="do not fit its config"):
        DigitsGANTrainer.from_checkpoint(buf.getvalue(), "cpu")


def test_the_config_names_the_architecture_and_older_configs_mean_mlp():
    for bad in ("resnet", 3, None):
        with pytest.raises(ConfigError) as e:
            DigitsGANConfig(architecture=bad)
        assert e.value.field == "architecture" and "mlp, dcgan" in str(e.value)
    config = DigitsGANConfig(architecture="dcgan", hidden=64)
    assert DigitsGANConfig.from_dict(json.loads(config.to_json())) == config
    older = {k: v for k, v in DigitsGANConfig().to_dict().items() if k != "architecture"}
    assert DigitsGANConfig.from_dict(older).architecture == "mlp"  # the JSON before the field: an MLP
    trainer = DigitsGANTrainer(DigitsGANConfig(hidden=16, noise_dim=2), "cpu", load_digit_pixels()[:40])
    assert trainer.apply(DigitsGANConfig(hidden=16, noise_dim=2, architecture="dcgan")) == ["architecture"]


def test_the_address_carries_the_architecture_and_a_saved_dcgan_restores_its_widget():
    from app_pages.gan.architecture import architecture_note
    from app_pages.gan.state import NO_PRESET, default_widgets, restored_widgets, widgets_from_query, widgets_to_query
    values = {**default_widgets(), "gan_preset": NO_PRESET, "gan_mode": "Digits", "gan_dg_arch": "dcgan"}
    query = widgets_to_query(values, 0)
    assert query == {"game": "digits", "digits.arch": "dcgan", "train.seed": "0"}
    assert widgets_from_query(query) == ({"gan_mode": "Digits", "gan_dg_arch": "dcgan"}, [])
    assert widgets_from_query({"digits.arch": "gan"})[1] == ["digits.arch='gan' was ignored: not one of mlp, dcgan"]
    saved = DigitsGANConfig(architecture="dcgan", seed=2)
    assert restored_widgets(None, saved, {})["gan_dg_arch"] == "dcgan"
    assert "**37,569** parameters in G and **19,137** in D" in architecture_note(DigitsGANConfig(architecture="dcgan"))


def test_the_page_opens_on_the_dcgan_from_its_address_trains_and_switches_back():
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update({"game": "digits", "digits.arch": "dcgan"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning and at.selectbox(key="gan_dg_arch").value == "dcgan"
    run = at.session_state.gan_digits_run
    assert run.trainer.config.architecture == "dcgan"
    assert at.query_params == {"game": "digits", "digits.arch": "dcgan", "train.seed": "0"}
    g, d = parameter_counts("dcgan", 16, 128)
    assert any(f"**{g:,}** parameters in G and **{d:,}** in D" in c.value for c in at.caption)
    at.button(key="gan_digits_run_step").click().run()  # +100 steps
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Step"] == "100" and float(metrics["MMD²"]) < run.trainer.history[0]["mmd"]
    assert any("after a few hundred steps" in c.value for c in at.caption)
    at.selectbox(key="gan_dg_arch").set_value("mlp").run()  # structural, after training: the page asks
    at.button(key="gan_digits_run_replace").click().run()
    assert not at.exception and at.session_state.gan_digits_run.trainer.config.architecture == "mlp"
    assert "digits.arch" not in at.query_params
