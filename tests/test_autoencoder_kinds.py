"""Each autoencoder kind (linear, deep, conv, sparse, denoising, VAE, conv VAE): its documented shapes and
that it learns; the sparse penalty and the denoising noise computed independently; the encoder
as a feature extractor against scikit-learn."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from autoencoder_helpers import one_cpu_thread, small  # noqa: F401 (one_cpu_thread: an autouse fixture)
from engine.autoencoders.trainer import AutoencoderConfig, AutoencoderTrainer
from trainer_helpers import _weights


# ---------- every kind: shapes, learning ----------
@pytest.mark.parametrize("kind", ["linear", "deep", "conv", "sparse", "denoising", "vae", "conv_vae"])
def test_every_kind_has_the_documented_shapes_and_learns(kind):
    config = AutoencoderConfig.build(kind=kind, latent_dim=5, hidden=32, lr=0.01 if kind == "linear" else 0.003)
    trainer = AutoencoderTrainer(config, "cpu")
    first = trainer.snapshot()
    snap = trainer.step(150)
    codes, labels = trainer.test_codes()
    assert codes.shape == (len(trainer.x_test_np), 5) and labels.shape == (len(codes),)
    assert trainer.decode(codes[:7]).shape == (7, 64) and trainer.reconstruct(trainer.x_test_np[:3]).shape == (3, 64)
    assert trainer.latent_grid(4, codes)["images"].shape == (4, 4, 64)
    assert snap.train_objective < 0.6 * first.train_objective and snap.test_loss < first.test_loss
    assert snap.test_loss == pytest.approx(snap.test_squared_error / 64)
    assert json.loads(json.dumps(snap.to_json_dict()))["step"] == 150
    assert (snap.train_sparsity_penalty is not None) == (kind == "sparse")
    assert (snap.test_denoise_error is not None) == (kind == "denoising")
    assert (snap.train_kl is not None) == (kind in ("vae", "conv_vae"))


def test_conv_autoencoder_is_convolutional_with_the_documented_layer_shapes():
    trainer = AutoencoderTrainer(AutoencoderConfig.build(kind="conv", latent_dim=3), "cpu")
    convs = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in trainer.model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [(1, 8, (2, 2)), (8, 16, (2, 2))]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [(16, 8), (8, 1)]
    x = torch.zeros(4, 64)
    assert trainer.model.encoder[:3](x).shape == (4, 8, 4, 4) and trainer.model.encode(x).shape == (4, 3)


# ---------- sparse: the penalty, computed independently ----------
def test_sparse_penalty_is_weight_times_mean_abs_code_and_makes_codes_sparser():
    weight = 0.3
    trainer = AutoencoderTrainer(small(kind="sparse", latent_dim=16, sparsity=weight), "cpu")
    snap = trainer.step(40)
    z = trainer.encode(trainer.x_train_np).astype(np.float64)  # the oracle: NumPy on the codes
    x = trainer.x_train_np.astype(np.float64)
    recon = float(((trainer.decode(z.astype(np.float32)) - x) ** 2).sum(axis=1).mean())
    assert snap.train_sparsity_penalty == pytest.approx(weight * np.abs(z).mean(), rel=1e-5)
    assert snap.train_recon == pytest.approx(recon, rel=1e-4)
    assert snap.train_objective == pytest.approx(recon + weight * np.abs(z).mean(), rel=1e-4)
    assert snap.train_loss == pytest.approx(recon / 64, rel=1e-4)  # squared error per pixel
    assert (z >= 0).all()  # a ReLU code: 0 means the unit is off
    zt = trainer.encode(trainer.x_test_np)
    assert snap.test_active_codes == pytest.approx(float((np.abs(zt) > 1e-6).mean()))
    assert snap.encoder_grad_norm_penalty > 0
    # A heavier penalty leaves fewer code numbers on than no penalty at all.
    free = AutoencoderTrainer(small(kind="sparse", latent_dim=16, sparsity=0.0), "cpu").step(300)
    tight = AutoencoderTrainer(small(kind="sparse", latent_dim=16, sparsity=1.0), "cpu").step(300)
    assert free.encoder_grad_norm_penalty == 0.0 and free.train_sparsity_penalty == 0.0
    assert tight.test_active_codes < free.test_active_codes


# ---------- denoising: noise in training only, deterministic per seed ----------
@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_denoising_noise_is_applied_in_training_only_and_is_fixed_by_the_seed(noise):
    config = small(kind="denoising", noise=noise, noise_level=0.4, batch_size=32)
    a, b = AutoencoderTrainer(config, "cpu"), AutoencoderTrainer(config, "cpu")
    # The training loss compares the reconstruction of the noisy batch with the clean batch:
    # replay the first step's batch and noise by hand and compare the gradients.
    model = copy.deepcopy(a.model)
    idx = a._order[:32]
    gen = torch.Generator()
    gen.set_state(a._noise_gen.get_state())
    x = a.x_train[idx]
    if noise == "masking":
        noisy = x * (torch.rand(x.shape, generator=gen) >= 0.4)
        assert ((noisy == 0) | (noisy == x)).all() and 0.3 < float(((noisy == 0) & (x > 0)).sum() / (x > 0).sum()) < 0.5
    else:
        noisy = (x + 0.4 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    loss = ((model.decode(model.encode(noisy)) - x) ** 2).sum(dim=1).mean()
    grads = torch.autograd.grad(loss, model.encoder_parameters())
    snap = a.step(1)
    assert snap.encoder_grad_norm == pytest.approx(float(torch.sqrt(sum((g ** 2).sum() for g in grads))), rel=1e-4)
    # Same seed, same noise: identical runs; another seed differs.
    assert b.step(1).to_json_dict() == snap.to_json_dict()
    a.step(20)
    b.step(20)
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b)))
    # No noise at evaluation: encoding the same images twice gives the same codes, and the
    # reported test loss is the clean images' reconstruction.
    assert np.array_equal(a.encode(a.x_test_np), a.encode(a.x_test_np))
    clean = float(((a.reconstruct(a.x_test_np) - a.x_test_np) ** 2).sum(axis=1).mean())
    s = a.snapshot()
    assert s.test_recon == pytest.approx(clean, rel=1e-4)
    # The fixed noisy copy of the test set: the same every time, different from the clean images.
    noisy_test = a.noisy_test_images()
    assert np.array_equal(noisy_test, b.noisy_test_images()) and not np.array_equal(noisy_test, a.x_test_np)
    assert s.test_noisy_input_error == pytest.approx(float(((noisy_test - a.x_test_np) ** 2).sum(axis=1).mean()),
                                                     rel=1e-5)
    other = AutoencoderTrainer(small(kind="denoising", noise=noise, noise_level=0.4, batch_size=32, seed=1), "cpu")
    other.step(1)
    assert not np.array_equal(other.noisy_test_images()[:5], noisy_test[:5])


def test_a_trained_denoising_autoencoder_removes_noise():
    trainer = AutoencoderTrainer(small(kind="denoising", latent_dim=16, hidden=64, noise_level=0.3), "cpu")
    snap = trainer.step(500)
    assert snap.test_denoise_error < 0.6 * snap.test_noisy_input_error


# ---------- the encoder as a feature extractor ----------
def test_softmax_probe_matches_scikit_learn_and_a_trained_code_beats_chance():
    from sklearn.linear_model import LogisticRegression

    from engine.autoencoders.models import softmax_probe_accuracy
    trainer = AutoencoderTrainer(small(kind="deep", latent_dim=8, hidden=64), "cpu")
    x, y, xt, yt = trainer.x_train_np, trainer.y_train, trainer.x_test_np, trainer.y_test
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 1e-8] = 1
    # The oracle: scikit-learn's logistic regression with the same penalty (C = 1 / (2·l2·N)).
    reference = LogisticRegression(C=1 / (2 * 1e-3 * len(x)), max_iter=5000).fit((x - mean) / std, y)
    ours = softmax_probe_accuracy(x, y, xt, yt)
    assert ours == pytest.approx(reference.score((xt - mean) / std, yt), abs=0.01) and ours > 0.9
    untrained = trainer.probe_accuracies()
    trainer.step(400)
    probe = trainer.probe_accuracies()
    assert probe["codes"] > 0.5  # far above chance: 10 digits, 0.1
    assert probe["codes"] > untrained["codes"] - 0.05
    assert probe["pixels"] == pytest.approx(ours) and 0.1 < probe["pca"] < 1
    with pytest.raises(ValueError, match=r"\(N, f\)"):
        softmax_probe_accuracy(x, y, xt[:, :3], yt)
