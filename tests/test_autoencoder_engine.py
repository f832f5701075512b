"""The autoencoder engine against independent computations: scikit-learn's digits and PCA,
scipy's principal angles, torch.distributions' KL, a hand-written BCE, a single backward
pass of recon + β·KL; and what the reparameterisation switch does to the encoder's gradient.
Each kind's shapes and what it learns: test_autoencoder_kinds.py."""
from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SklearnPCA

from autoencoder_helpers import one_cpu_thread, small  # noqa: F401 (one_cpu_thread: an autouse fixture)
from engine.autoencoders.models import kl_to_standard_normal
from engine.autoencoders.trainer import AutoencoderConfig, AutoencoderTrainer, principal_angles_deg
from engine.core.config import ConfigError
from engine.core.digits import load_digits_split
from trainer_helpers import _weights

ROOT = Path(__file__).resolve().parents[1]
LINEAR = {"kind": "linear", "latent_dim": 2, "loss": "squared", "lr": 0.01, "batch_size": 256}


# ---------- the digits ----------
def test_digits_split_is_the_sklearn_data_stratified_and_fixed_by_seed():
    x_train, y_train, x_test, y_test = load_digits_split(seed=3, test_fraction=0.25)
    assert x_train.dtype == np.float32 and x_train.shape[1] == 64 and y_train.dtype.kind == "i"
    assert len(x_train) + len(x_test) == 1797 and len(x_train) == len(y_train) and len(x_test) == len(y_test)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    bunch = load_digits()  # the oracle: scikit-learn's own loader
    ours = np.concatenate([x_train, x_test]) * 16
    theirs = bunch.data
    ours_rows = sorted(map(tuple, np.round(ours).astype(int).tolist()), key=str)
    assert ours_rows == sorted(map(tuple, theirs.astype(int).tolist()), key=str)
    # Stratified: each digit held out in the asked share, to within one image.
    for d in range(10):
        n = int((bunch.target == d).sum())
        assert abs(int((y_test == d).sum()) - 0.25 * n) <= 1
    # Labels travel with their images.
    row_label = {tuple(r): t for r, t in zip(theirs.astype(int).tolist(), bunch.target.tolist())}
    assert all(row_label[tuple(r)] == t for r, t in zip(np.round(x_test * 16).astype(int).tolist(), y_test))
    again = load_digits_split(seed=3, test_fraction=0.25)
    assert all(np.array_equal(a, b) for a, b in zip((x_train, y_train, x_test, y_test), again))
    assert not np.array_equal(load_digits_split(seed=4, test_fraction=0.25)[3], y_test)
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(0, 0.9)


# ---------- the config ----------
def test_config_round_trips_and_names_the_bad_field():
    config = AutoencoderConfig.build(kind="vae", latent_dim=32, beta=2.0, reparameterize=False, seed=7)
    assert AutoencoderConfig.from_json(config.to_json()) == config
    assert AutoencoderConfig.from_dict(config.to_dict()) == config
    d = config.to_dict()
    assert d["task"] == "autoencoder" and d["model"]["kind"] == "vae" and d["model"]["latent_dim"] == 32
    assert d["train"]["seed"] == 7 and config.replace(lr=0.1).train.lr == 0.1
    from engine.tasks import config_from_json, default_config
    assert config_from_json(json.dumps({"task": "autoencoder", "model": {"kind": "conv"}})).model.kind == "conv"
    assert default_config("autoencoder") == AutoencoderConfig()
    cases = [({"model": {"latent_dim": 0}}, "model.latent_dim"), ({"model": {"latent_dim": 33}}, "model.latent_dim"),
             ({"model": {"kind": "gan"}}, "model.kind"), ({"model": {"kind": "mlp"}}, "model.kind"),
             ({"model": {"beta": -1}}, "model.beta"), ({"model": {"sparsity": -0.1}}, "model.sparsity"),
             ({"model": {"noise": "salt"}}, "model.noise"), ({"model": {"noise_level": 1.5}}, "model.noise_level"),
             ({"model": {"kind": "linear"}, "train": {"loss": "bce"}}, "train.loss"), ({"train": {"lr": 0}}, "train.lr"),
             ({"model": {"hiden": 3}}, "model.hiden"), ({"model": {"reparameterize": "yes"}}, "model.reparameterize"),
             ({"train": {"test_fraction": 0.9}}, "train.test_fraction"), ({"latent_dim": 2}, "latent_dim"),
             ({"model": "vae"}, "model"), ({"model": {"activation": ["relu"]}}, "model.activation")]
    for bad, field in cases:
        with pytest.raises(ConfigError) as info:
            AutoencoderConfig.from_dict(bad)
        assert info.value.field == field, (bad, str(info.value))
    with pytest.raises(ConfigError, match="model"):
        AutoencoderConfig.from_dict({"latent_dim": 2})  # says which section the key belongs in


def test_cli_defaults_print_a_config_that_validates(tmp_path, capsys):
    from engine.__main__ import main
    assert main(["defaults", "--task", "autoencoder"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["model"]["kind"] == "deep"
    path = tmp_path / "defaults.json"
    path.write_text(printed)
    assert main(["validate", str(path)]) == 0


# ---------- training is deterministic and resumable ----------
def test_step_5_then_5_equals_step_10_and_same_seed_same_run():
    config = small(kind="vae", batch_size=32)  # the VAE draws noise: the hardest case
    a, b, c = (AutoencoderTrainer(config, "cpu") for _ in range(3))
    a.step(5)
    snap_a = a.step(5)
    snap_b = b.step(10)
    assert snap_a.to_json_dict() == snap_b.to_json_dict()
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b)))
    torch.manual_seed(123)  # someone else drawing from the global generator changes nothing
    torch.rand(10)
    assert c.step(10).train_loss == snap_b.train_loss
    other = AutoencoderTrainer(small(kind="vae", batch_size=32, seed=1), "cpu").step(10)
    assert other.train_loss != snap_b.train_loss


# ---------- the centrepiece: a linear autoencoder finds PCA ----------
def test_linear_autoencoder_matches_pca_and_finds_its_subspace():
    trainer = AutoencoderTrainer(AutoencoderConfig.build(**LINEAR), "cpu")
    x = trainer.x_train_np.astype(np.float64)
    pca = SklearnPCA(n_components=2).fit(x)  # the oracle
    pca_error = float(((pca.inverse_transform(pca.transform(x)) - x) ** 2).sum(axis=1).mean())
    first = trainer.snapshot()
    assert first.pca_train_error == pytest.approx(pca_error, rel=1e-9)
    sk_angles = lambda t: np.degrees(scipy.linalg.subspace_angles(  # noqa: E731
        t.model.decoder.weight.detach().double().numpy(), pca.components_.T))
    start_angle = float(sk_angles(trainer).max())
    assert start_angle > 20  # random start: far from PCA's plane
    errors, max_angles = [], []
    for _ in range(12):
        snap = trainer.step(100)
        ours = ((trainer.reconstruct(trainer.x_train_np) - x) ** 2).sum(axis=1).mean()
        assert snap.train_recon == pytest.approx(ours, rel=1e-4)
        # never below PCA: it is the best rank-2 linear reconstruction of these images
        assert snap.train_recon >= pca_error * (1 - 1e-4), (snap.step, snap.train_recon, pca_error)
        assert snap.principal_angles_deg == pytest.approx(sorted(sk_angles(trainer)), abs=1e-3)
        errors.append(snap.train_recon)
        max_angles.append(max(snap.principal_angles_deg))
    assert errors[-1] <= 1.05 * pca_error, (errors[-1], pca_error)
    assert max_angles[-1] < 10 and max_angles[-1] < start_angle / 5, max_angles
    assert max_angles[-1] <= min(max_angles[:4])  # the angles shrink toward 0


def test_principal_angles_of_known_planes():
    e = np.eye(4)
    assert principal_angles_deg(e[:, :2], e[:, :2]) == pytest.approx([0, 0], abs=1e-6)
    rotated = np.stack([e[:, 0], np.cos(0.3) * e[:, 1] + np.sin(0.3) * e[:, 2]], axis=1)
    assert principal_angles_deg(e[:, :2] @ [[2, 1], [0, 3]], rotated) == pytest.approx([0, math.degrees(0.3)], abs=1e-6)


# ---------- the VAE's loss and its gradients ----------
def test_vae_loss_is_recon_plus_beta_kl_computed_independently():
    beta = 2.5
    trainer = AutoencoderTrainer(small(kind="vae", loss="bce", beta=beta), "cpu")
    snap = trainer.step(30)
    with torch.no_grad():
        mean, log_var = trainer.model.encode_distribution(trainer.x_train)
        p = trainer.model.decode(mean).double().numpy()
    x = trainer.x_train_np.astype(np.float64)
    bce = float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1).mean())
    q = torch.distributions.Normal(mean.double(), torch.exp(0.5 * log_var.double()))
    kl = float(torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(dim=1).mean())
    assert snap.train_recon == pytest.approx(bce, rel=1e-4)
    assert snap.train_kl == pytest.approx(kl, rel=1e-4)
    assert snap.train_objective == pytest.approx(bce + beta * kl, rel=1e-4)
    squared = float(((p - x) ** 2).mean())  # the snapshot's loss: squared error per pixel, any model
    assert snap.train_loss == pytest.approx(squared, rel=1e-4)


def test_encoder_gradient_split_matches_one_backward_pass():
    """The trainer backpropagates recon and β·KL separately to split the encoder's gradient;
    one backward pass of their sum, on the same batch and noise, gives the same total."""
    beta = 1.5
    trainer = AutoencoderTrainer(small(kind="vae", loss="bce", beta=beta, batch_size=16), "cpu")
    model = copy.deepcopy(trainer.model)
    idx = trainer._order[:16]
    gen = torch.Generator()
    gen.set_state(trainer._noise_gen.get_state())
    noise = torch.randn((16, 2), generator=gen)
    snap = trainer.step(1)
    x = trainer.x_train[idx]
    h = model.body(x)
    mean, log_var = model.mean(h), model.log_var(h).clamp(-12, 12)
    p = model.decode(mean + torch.exp(0.5 * log_var) * noise)
    recon = torch.nn.functional.binary_cross_entropy(p, x, reduction="sum") / 16
    kl = (0.5 * (mean ** 2 + log_var.exp() - 1 - log_var).sum(dim=1)).mean()
    encoder = model.encoder_parameters()
    g_recon = torch.autograd.grad(recon, encoder, retain_graph=True)
    g_total = torch.autograd.grad(recon + beta * kl, encoder)
    norm = lambda gs: float(torch.sqrt(sum((g ** 2).sum() for g in gs)))  # noqa: E731
    assert snap.encoder_grad_norm == pytest.approx(norm(g_total), rel=1e-4)
    assert snap.encoder_grad_norm_recon == pytest.approx(norm(g_recon), rel=1e-4)
    assert snap.encoder_grad_norm_penalty == pytest.approx(norm([t - r for t, r in zip(g_total, g_recon)]), rel=1e-4)
    assert snap.encoder_grad_norm_recon > 0 and snap.encoder_grad_norm_penalty > 0


def test_without_reparameterisation_no_gradient_reaches_the_encoder_from_the_reconstruction():
    on = AutoencoderTrainer(small(kind="vae", loss="bce"), "cpu").step(20)
    assert on.encoder_grad_norm_recon > 1e-3 and on.code_grad_norm_recon > 1e-3
    off_trainer = AutoencoderTrainer(small(kind="vae", loss="bce", reparameterize=False), "cpu")
    off = off_trainer.step(20)
    assert off.encoder_grad_norm_recon == 0.0 and off.code_grad_norm_recon == 0.0  # exactly, not small
    assert off.encoder_grad_norm_penalty > 0 and off.decoder_grad_norm > 0
    # With β = 0 nothing at all reaches the encoder: its weights never move, the decoder's do.
    frozen = AutoencoderTrainer(small(kind="vae", reparameterize=False, beta=0.0), "cpu")
    enc0 = [p.detach().clone() for p in frozen.model.encoder_parameters()]
    dec0 = [p.detach().clone() for p in frozen.model.decoder.parameters()]
    frozen.step(25)
    assert all(torch.equal(a, b) for a, b in zip(enc0, frozen.model.encoder_parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(dec0, frozen.model.decoder.parameters()))
    # The switch is hot: flipped on a running VAE, the next steps carry gradient again.
    step_before = off_trainer.step_count
    assert off_trainer.apply(off_trainer.config.replace(reparameterize=True)) == []
    again = off_trainer.step(1)
    assert again.step == step_before + 1 and again.encoder_grad_norm_recon > 0


def test_kl_formula_against_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, log_var = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(dim=1)
    assert torch.allclose(kl_to_standard_normal(mean, log_var), expected, atol=1e-5)


# ---------- reading the model ----------
def test_nonlinear_autoencoder_beats_pca_and_the_latent_views_have_their_shapes():
    trainer = AutoencoderTrainer(small(kind="deep", hidden=64, lr=0.003), "cpu")
    snap = trainer.step(600)
    assert snap.test_squared_error < snap.pca_test_error  # the nonlinear code beats a linear one of size 2
    codes, labels = trainer.test_codes()
    assert codes.shape == (len(trainer.x_test_np), 2) and labels.shape == (len(codes),)
    grid = trainer.latent_grid(5, codes)
    assert grid["images"].shape == (5, 5, 64) and [len(a) for a in grid["axes"]] == [5, 5]
    assert np.allclose(grid["images"][2, 3], trainer.decode(
        np.array([[grid["axes"][0][3], grid["axes"][1][2]]], dtype=np.float32))[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        trainer.decode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="64"):
        trainer.encode(np.zeros((3, 8, 8)))
    one = AutoencoderTrainer(small(kind="deep", latent_dim=1), "cpu")
    assert one.latent_grid(6)["images"].shape == (1, 6, 64)


def test_divergence_keeps_the_last_finite_weights():
    trainer = AutoencoderTrainer(AutoencoderConfig.build(kind="linear", optimizer="sgd", lr=10.0, batch_size=256), "cpu")
    trainer.step(3)
    snap = trainer.step(200)
    assert snap.diverged and trainer.diverged
    assert all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
    assert math.isfinite(snap.train_loss)
    assert trainer.apply(trainer.config.replace(lr=0.001)) == [] and not trainer.diverged


def test_cli_trains_an_autoencoder_config(tmp_path):
    from engine.__main__ import main
    cfg = tmp_path / "ae.json"
    cfg.write_text(json.dumps({"task": "autoencoder", "model": {"kind": "vae", "hidden": 16, "reparameterize": False}}))
    out = tmp_path / "out.jsonl"
    assert main(["train", str(cfg), "--steps", "20", "--every", "10", "--device", "cpu", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line.get("step") for line in lines[:2]] == [10, 20] and lines[-1]["done"] and lines[-1]["steps"] == 20
    assert lines[1]["encoder_grad_norm_recon"] == 0.0 and lines[1]["train_kl"] is not None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "autoencoder", "model": {"latent_dim": 99}}))
    assert main(["validate", str(bad)]) == 2


def test_engine_autoencoder_imports_no_ui_library():
    script = ("import json, sys\nfrom engine.autoencoders.trainer import AutoencoderConfig, AutoencoderTrainer\n"
              "AutoencoderTrainer(AutoencoderConfig.build(hidden=8), 'cpu').step(2)\n"
              "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "engine.autoencoders.trainer" in modules
    assert not [m for m in modules if m.split(".")[0] in ("streamlit", "plotly", "altair", "sklearn")]


def test_whole_numbers_written_as_decimals_build_and_train():
    """A config file may write 32 as 32.0: it passes validation as a whole number and trains as 32."""
    from engine.autoencoders.config import AutoencoderConfig
    from engine.autoencoders.trainer import AutoencoderTrainer
    config = AutoencoderConfig.from_dict({"model": {"hidden": 32.0, "latent_dim": 2.0, "depth": 1.0},
                                          "train": {"batch_size": 16.0, "seed": 3.0, "max_steps": 0.0}})
    assert (config.model.hidden, config.model.latent_dim, config.train.batch_size, config.train.seed) == (32, 2, 16, 3)
    assert all(type(v) is int for v in (config.model.hidden, config.model.depth, config.train.max_steps))
    assert AutoencoderTrainer(config, "cpu").step(2).step == 2
    assert config == AutoencoderConfig.from_json(config.to_json())
