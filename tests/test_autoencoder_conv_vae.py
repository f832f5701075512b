"""The convolutional VAE (kind conv_vae, the Deep Convolutional Inverse Graphics Network's shape):
its layers, that it learns with a positive KL, its loss against an independent BCE and
torch.distributions' KL, exactly zero reconstruction gradient into the encoder without the
reparameterisation trick, and its preset on the page (AppTest) and in the address. The bit-for-bit
checkpoint round trip is tests/test_autoencoder_checkpoint.py's, run for every kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from threadpoolctl import threadpool_limits

from autoencoder_helpers import one_cpu_thread, small  # noqa: F401 (one_cpu_thread: an autouse fixture)
from engine.autoencoders.trainer import AutoencoderTrainer

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "autoencoders" / "page.py")


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """The trainer's PCA is one SVD: one BLAS thread keeps it quick on a busy machine."""
    with threadpool_limits(1):
        yield


def conv_vae(**kw):
    return small(kind="conv_vae", loss="bce", **kw)


def test_conv_vae_has_the_conv_layers_and_two_gaussian_heads():
    model = AutoencoderTrainer(conv_vae(latent_dim=3), "cpu").model
    convs = [m for m in model.body if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (1, 8, (3, 3), (2, 2)), (8, 16, (3, 3), (2, 2))]
    assert [(c.in_channels, c.out_channels, c.stride) for c in deconvs] == [(16, 8, (2, 2)), (8, 1, (2, 2))]
    x = torch.rand(4, 64)
    mean, log_var = model.encode_distribution(x)
    assert model.body[:2](x).shape == (4, 8, 4, 4) and model.body(x).shape == (4, 64)
    assert mean.shape == log_var.shape == (4, 3) and model.decode(mean).shape == (4, 64)
    # The encoder is the body and both heads; the decoder holds the rest.
    encoder = {id(p) for p in model.encoder_parameters()}
    assert encoder == {id(p) for m in (model.body, model.mean, model.log_var) for p in m.parameters()}
    assert not encoder & {id(p) for p in model.decoder.parameters()}
    # Its layers are fixed: hidden width and depth do not change it.
    other = AutoencoderTrainer(conv_vae(latent_dim=3, hidden=256, depth=3), "cpu").model
    assert [p.shape for p in other.parameters()] == [p.shape for p in model.parameters()]


def test_conv_vae_learns_with_a_positive_kl_and_its_loss_is_recon_plus_beta_kl():
    beta = 1.5
    trainer = AutoencoderTrainer(conv_vae(beta=beta), "cpu")
    first = trainer.snapshot()
    snap = trainer.step(300)
    assert snap.test_loss < 0.45 * first.test_loss and snap.test_objective < first.test_objective
    assert snap.train_kl > 0.1 and snap.test_kl > 0.1  # the codes carry information about the images
    assert snap.encoder_grad_norm_recon > 0 and snap.encoder_grad_norm_penalty > 0
    # The oracle: BCE of the mean code's reconstruction and torch.distributions' KL, computed apart.
    with torch.no_grad():
        mean, log_var = trainer.model.encode_distribution(trainer.x_train)
        p = trainer.model.decode(mean).double().numpy()
    x = trainer.x_train_np.astype(np.float64)
    bce = float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1).mean())
    q = torch.distributions.Normal(mean.double(), torch.exp(0.5 * log_var.double()))
    kl = float(torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(dim=1).mean())
    assert snap.train_recon == pytest.approx(bce, rel=1e-4) and snap.train_kl == pytest.approx(kl, rel=1e-4)
    assert snap.train_objective == pytest.approx(bce + beta * kl, rel=1e-4)


def test_without_the_trick_no_reconstruction_gradient_reaches_the_conv_encoder():
    off_trainer = AutoencoderTrainer(conv_vae(reparameterize=False), "cpu")
    off = off_trainer.step(20)
    assert off.encoder_grad_norm_recon == 0.0 and off.code_grad_norm_recon == 0.0  # exactly, not small
    assert off.encoder_grad_norm_penalty > 0 and off.decoder_grad_norm > 0
    # With β = 0 nothing reaches the convolutions at all: their weights never move, the decoder's do.
    frozen = AutoencoderTrainer(conv_vae(reparameterize=False, beta=0.0), "cpu")
    enc0 = [p.detach().clone() for p in frozen.model.encoder_parameters()]
    dec0 = [p.detach().clone() for p in frozen.model.decoder.parameters()]
    frozen.step(20)
    assert all(torch.equal(a, b) for a, b in zip(enc0, frozen.model.encoder_parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(dec0, frozen.model.decoder.parameters()))
    # The switch is hot: turned on for the running network, the reconstruction's gradient flows again.
    assert off_trainer.apply(off_trainer.config.replace(reparameterize=True)) == []
    assert off_trainer.step(1).encoder_grad_norm_recon > 0


# ---------- the page ----------
def test_the_conv_vae_preset_has_an_address_word_that_round_trips():
    from app_pages.autoencoders.state import (CONV_VAE_PRESET, NO_PRESET, PRESET_WORDS, default_widgets,
                                              preset_config, preset_widgets, restored_widgets, widgets_from_query,
                                              widgets_to_query)
    assert PRESET_WORDS["conv-vae"] == CONV_VAE_PRESET
    values = {**default_widgets(), **preset_widgets(CONV_VAE_PRESET), "ae_preset": CONV_VAE_PRESET}
    query = widgets_to_query(values, 3)
    assert query == {"preset": "conv-vae", "train.seed": "3"}
    restored, problems = widgets_from_query(query)
    assert not problems and {**default_widgets(), "ae_preset": NO_PRESET, **restored} == values
    config = preset_config(CONV_VAE_PRESET, 3)
    assert config.model.kind == "conv_vae" and restored_widgets(config, query) == values  # a reload restores it


def test_the_conv_vae_preset_opens_from_its_address_and_shows_the_vae_views():
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update({"preset": "conv-vae", "train.seed": "0"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="ae_model").value == "conv_vae" and not at.warning
    assert not at.select_slider(key="ae_beta").disabled and not at.toggle(key="ae_reparam").disabled
    assert at.select_slider(key="ae_hidden").disabled  # fixed conv layers
    at.button(key="ae_step").click().run()
    run = at.session_state.ae_run
    assert not at.exception and run.trainer.config.model.kind == "conv_vae" and run.trainer.step_count == 100
    text = " ".join(md.value for md in at.markdown)
    assert "β·KL" in text and "With the reparameterisation trick" in text
    assert at.query_params == {"preset": "conv-vae", "train.seed": "0"}
    at.toggle(key="ae_reparam").set_value(False).run()  # hot: the same network goes on without the trick
    at.button(key="ae_step").click().run()
    assert at.session_state.ae_run is run and run.trainer.step_count == 200
    assert {m.label: m.value for m in at.metric}["Encoder ‖∇‖ from recon."] == "0"
    assert "**Without the trick**" in " ".join(md.value for md in at.markdown)
