"""Many variants at once (engine/mlp/batched_mlp.py): each variant equals a separate Trainer on
its own config (autograd + torch.optim), padding changes nothing, bad mixes are refused."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import ExperimentConfig, Trainer, make_dataset
from engine.mlp.batched_mlp import BatchedMLP, check_variants, train_spread

BASE = ExperimentConfig.from_dict({"data": {"name": "spiral", "n_samples": 200}, "model": {"hidden": [6, 4]},
                                   "train": {"batch_size": 7}})


def _separate(config: ExperimentConfig, dataset, steps: int) -> Trainer:
    t = Trainer(config, "cpu", dataset=dataset, fast=False)
    t.step(steps)
    return t


@pytest.mark.parametrize("task, data, loss, activation, optimizer", [
    ("classify2d", {"name": "spiral", "n_samples": 200}, "bce", "tanh", "sgd"),
    ("classify2d", {"name": "circle", "n_samples": 200}, "mse", "sigmoid", "nesterov"),
    ("classify2d", {"name": "blobs", "n_classes": 3, "n_samples": 200}, "ce", "relu", "momentum"),
    ("regress2d", {"name": "plane", "n_samples": 200}, "mse", "gelu", "adam"),
])
def test_each_variant_equals_its_own_trainer(task, data, loss, activation, optimizer):
    base = BASE.replace(task=task, data=data, model={"activation": activation},
                        train={"loss": loss, "optimizer": optimizer})
    variants = [base.replace(train={"seed": seed, "lr": lr}, model={"hidden": hidden})
                for seed, lr, hidden in [(0, 0.03, [6, 4]), (1, 0.1, [3, 4]), (2, 0.01, [6, 2]), (3, 0.03, [1, 1])]]
    dataset = make_dataset(base)
    batched = BatchedMLP(variants, dataset)
    assert batched.widths == [2, 6, 4, 3 if data["name"] == "blobs" else 1]
    batched.step(20)
    batched.step(23)  # 43 steps of 7 over 100 points: two epoch ends, each with a batch of 2
    losses = batched.evaluate()
    # Adam divides by the root of the squared gradient: where a gradient is near zero, a
    # rounding difference can move a weight by up to a few lr * 1e-3 (1.3e-3 * lr measured on
    # one CPU whose matrix kernels add in another order).
    for v, config in enumerate(variants):
        atol = 3e-3 * config.train.lr if optimizer == "adam" else 2e-6
        t = _separate(config, dataset, 43)
        for (w, b), (_, lin) in zip(batched.weights(v), t.model.named_linears()):
            torch.testing.assert_close(w, lin.weight.detach(), rtol=1e-5, atol=atol)
            torch.testing.assert_close(b, lin.bias.detach(), rtol=1e-5, atol=atol)
        rel = 1e-4 if optimizer == "adam" else 1e-5
        assert math.isclose(losses[v], t.snapshot().train_loss, rel_tol=rel, abs_tol=1e-6)
    assert batched.step_count == 43 and batched.epoch == 2  # 15 steps per epoch


def test_variants_really_differ_and_padding_stays_zero():
    variants = [BASE.replace(train={"seed": s}, model={"hidden": [6, 4] if s else [2, 2]}) for s in range(3)]
    batched = BatchedMLP(variants)
    batched.step(30)
    losses = batched.evaluate()
    assert len(set(np.round(losses, 6))) == 3
    first = batched.layers[0][0]  # variant 0 has 2 of the 6 first-layer units
    assert torch.count_nonzero(first[:, 2:]) == 0
    assert torch.count_nonzero(batched.layers[1][0, 2:6]) == 0 and torch.count_nonzero(batched.layers[1][0, :, 2:]) == 0


@pytest.mark.parametrize("change, field", [
    ({"model": {"activation": "relu"}}, "model.activation"),
    ({"train": {"batch_size": 5}}, "train.batch_size"),
    ({"data": {"noise": 0.1}}, "data.noise"),
    ({"model": {"hidden": [4]}}, "model.hidden"),
])
def test_refuses_variants_that_differ_in_more_than_seed_lr_width(change, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        check_variants([BASE, BASE.replace(**change)])


def test_refuses_what_has_no_fused_path():
    with pytest.raises(ValueError, match="dropout"):
        check_variants([BASE.replace(model={"dropout": 0.2})])


def test_spread_of_seeds_matches_separate_trainers_and_a_divergent_lr_is_nan():
    result = train_spread(BASE, seeds=[0, 5, 9], epochs=2, points=4)
    assert result.labels == ["seed 0", "seed 5", "seed 9"] and result.varied == "seed"
    assert result.train_loss.shape == result.test_loss.shape == (3, 5)
    assert result.steps == [0, 8, 15, 22, 30] and result.epochs[-1] == 2  # 15 steps of 7 per epoch of 100
    dataset = make_dataset(BASE)
    for v, seed in enumerate([0, 5, 9]):
        snap = _separate(BASE.replace(train={"seed": seed}), dataset, 30).snapshot()
        assert math.isclose(result.train_loss[v, -1], snap.train_loss, rel_tol=1e-5)
        assert math.isclose(result.test_loss[v, -1], snap.test_loss, rel_tol=1e-5)

    regression = ExperimentConfig.from_dict({"task": "regress2d", "data": {"name": "plane", "n_samples": 200},
                                             "model": {"hidden": [8, 8], "activation": "relu", "init": "normal"},
                                             "train": {"loss": "mse"}})
    sweep = train_spread(regression, lrs=[0.003, 10.0], epochs=2, points=4)
    assert np.isfinite(sweep.train_loss[0]).all()
    assert np.isnan(sweep.train_loss[1, -1])  # lr 10 blows up; the other variant does not notice
    assert sweep.labels == ["lr 0.003", "lr 10"]
