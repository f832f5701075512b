"""The engine behind the Vanishing gradients page: the per-step gradient-norm history against a
hand computation, gradient clipping against a hand-made SGD step, and the issue's claim —
20 sigmoid layers starve the first layer of gradient, ReLU + He does not — through the
library and through the CLI."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine import ConfigError, ExperimentConfig, Trainer
from engine.mlp.export import export_script

ROOT = Path(__file__).resolve().parent.parent


def deep_config(activation: str, init: str, depth: int = 20, width: int = 32, **train) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "task": "classify2d", "data": {"name": "circle", "n_samples": 200},
        "model": {"hidden": [width] * depth, "activation": activation, "init": init},
        "train": {"seed": 0, **train}})


def hand_gradient_norms(model, x, y) -> np.ndarray:
    """Per-layer weight-gradient L2 norms of the BCE loss on (x, y), by autograd.grad on a copy."""
    model = copy.deepcopy(model)
    weights = [b.linear.weight for b in model.blocks] + [model.output.weight]
    loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], y.float())
    grads = torch.autograd.grad(loss, weights)
    return np.array([float(torch.sqrt((g.double() ** 2).sum())) for g in grads])


def first_batches(trainer: Trainer, k: int) -> list[torch.Tensor]:
    """The trainer's first k batches, rebuilt from its documented seeding (seed + 2 orders the batches)."""
    order = torch.randperm(trainer.n_train, generator=torch.Generator().manual_seed(trainer.config.train.seed + 2))
    bs = trainer.config.train.batch_size
    return [order[i * bs:(i + 1) * bs] for i in range(k)]


def test_history_is_off_by_default():
    trainer = Trainer(deep_config("tanh", "default", depth=3), "cpu")
    trainer.step(5)
    assert trainer.grad_norm_steps().shape == (0, 4)


def test_history_matches_a_hand_computation_step_by_step():
    config = deep_config("tanh", "xavier", depth=4, width=8)
    trainer = Trainer(config, "cpu")
    trainer.record_grad_norms = True
    expected = []
    for idx in first_batches(trainer, 3):
        expected.append(hand_gradient_norms(trainer.model, trainer.x_train[idx], trainer.y_train[idx]))
        trainer.step(1)  # one chunk per step: the chunks must line up
    recorded = trainer.grad_norm_steps()
    assert recorded.shape == (3, 5)
    np.testing.assert_allclose(recorded, np.array(expected), rtol=1e-5)
    # The last row is the snapshot's grad_norms.
    assert list(trainer.snapshot().grad_norms.values()) == pytest.approx(recorded[-1].tolist(), rel=1e-6)
    # One chunk of 3 steps records the same rows as three chunks of 1.
    other = Trainer(config, "cpu")
    other.record_grad_norms = True
    other.train_for(60.0, max_steps=3)
    np.testing.assert_allclose(other.grad_norm_steps(), recorded, rtol=1e-6)


def test_clipping_scales_the_update_and_leaves_the_probe_alone():
    clip, lr = 0.01, 0.1
    config = deep_config("relu", "he", depth=3, width=8, optimizer="sgd", lr=lr, clip_grad_norm=clip)
    trainer = Trainer(config, "cpu")
    before = copy.deepcopy(trainer.model)
    idx = first_batches(trainer, 1)[0]
    params = list(before.parameters())
    loss = F.binary_cross_entropy_with_logits(before(trainer.x_train[idx])[:, 0], trainer.y_train[idx].float())
    grads = torch.autograd.grad(loss, params)
    total = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
    assert total > clip  # else this test would not test clipping
    snap = trainer.step(1)
    scale = clip / (total + 1e-6)  # torch's clip_grad_norm_ adds 1e-6 to the norm
    for p_before, g, p_after in zip(params, grads, trainer.model.parameters()):
        torch.testing.assert_close(p_after.detach(), p_before.detach() - lr * scale * g, rtol=1e-5, atol=1e-7)
    # The probe reports what backward produced, before clipping.
    assert snap.grad_norms["output"] == pytest.approx(float(grads[-2].norm()), rel=1e-5)


def test_clip_config_is_validated_exported_and_hot():
    with pytest.raises(ConfigError) as err:
        deep_config("relu", "he", depth=2, clip_grad_norm=-1.0)
    assert err.value.field == "train.clip_grad_norm"
    config = deep_config("relu", "he", depth=2, clip_grad_norm=0.5)
    assert ExperimentConfig.from_json(config.to_json()) == config
    assert ExperimentConfig.from_query(config.to_query()) == (config, [])
    assert "clip_grad_norm_(model.parameters(), 0.5)" in export_script(config)
    assert "clip_grad_norm_" not in export_script(deep_config("relu", "he", depth=2))
    trainer = Trainer(deep_config("relu", "he", depth=2), "cpu")
    trainer.step(3)
    assert trainer.apply(config) == [] and trainer.step_count == 3  # clipping changes without a reset


def test_twenty_sigmoid_layers_starve_the_first_layer_relu_he_does_not():
    """The issue's claim, measured on the first step's gradients (before any update)."""
    sig = Trainer(deep_config("sigmoid", "default"), "cpu").step(1).grad_norms
    relu = Trainer(deep_config("relu", "he"), "cpu").step(1).grad_norms
    assert len(sig) == 21 and list(sig)[0] == "hidden1" and list(sig)[-1] == "output"
    # Many orders of magnitude: measured about 1e-17 with seed 0; 0.25^20 ~ 1e-12 bounds it.
    assert sig["hidden1"] / sig["output"] < 1e-10
    # Falls layer after layer towards the input.
    sig_values = np.array(list(sig.values()))
    assert np.all(np.diff(np.log10(sig_values[:-1])) > 0)
    relu_ratios = np.array(list(relu.values())) / relu["output"]
    assert np.all((relu_ratios > 1e-2) & (relu_ratios < 1e2)), relu_ratios


def test_the_cli_shows_it_in_grad_norms(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {}
    for name, (activation, init) in {"sigmoid": ("sigmoid", "default"), "relu": ("relu", "he")}.items():
        path = tmp_path / f"{name}.json"
        path.write_text(deep_config(activation, init).to_json())
        procs[name] = subprocess.Popen([sys.executable, "-m", "engine", "train", str(path), "--steps", "1",
                                        "--every", "1", "--device", "cpu"], cwd=ROOT, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    norms = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        snapshot = json.loads(out.splitlines()[0])
        assert snapshot["step"] == 1
        norms[name] = snapshot["grad_norms"]
    assert norms["sigmoid"]["hidden1"] / norms["sigmoid"]["output"] < 1e-10
    ratio = norms["relu"]["hidden1"] / norms["relu"]["output"]
    assert 1e-2 < ratio < 1e2
