"""The resumable Trainer: determinism, resumption, hot changes, divergence, snapshots (its
checkpoints: test_checkpoint.py)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.mlp.config import DataConfig, ExperimentConfig, TrainConfig
from engine.mlp.trainer import Snapshot, Trainer
from trainer_helpers import CUSTOM, EXPLODING, SMALL, _losses, _same_weights, _weights


def test_same_config_same_history():
    a, b = Trainer(SMALL, "cpu"), Trainer(SMALL, "cpu")
    torch.manual_seed(123)  # global RNG state must not matter
    la = _losses(a, 4, 7)
    torch.manual_seed(456)
    torch.rand(100)
    lb = _losses(b, 4, 7)
    assert la == lb
    assert len(set(la)) == 4  # training really moved
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert _same_weights(_weights(a), _weights(b))


@pytest.mark.parametrize("model", [
    {},
    {"dropout": 0.3},
    {"dropout": 0.2, "norm": "batch", "residual": True, "hidden": [6, 6, 6]},
])
def test_step_chunks_add_up(model):
    config = SMALL.replace(model=model, train={"batch_size": 7, "optimizer": "adam", "lr": 0.01})
    one, two = Trainer(config, "cpu"), Trainer(config, "cpu")
    s10 = one.step(10)
    two.step(5)
    torch.rand(10)  # other code drawing random numbers between chunks changes nothing
    s5 = two.step(5)
    assert _same_weights(_weights(one), _weights(two))
    assert s10.step == s5.step == 10
    assert s10.train_loss == s5.train_loss and s10.grad_norms == s5.grad_norms
    # and they keep agreeing, across an epoch boundary (100 train points, batch 7)
    assert one.step(13).train_loss == two.step(13).train_loss
    assert one.epoch == two.epoch == 1


def test_dropout_is_active_in_training():
    # with dropout, the same weights give different training-mode outputs: the rng is really used
    t = Trainer(SMALL.replace(model={"dropout": 0.5}), "cpu")
    t.model.train()
    x = t.x_train[:20]
    assert not torch.equal(t.model(x), t.model(x))


def test_different_seed_different_run():
    a = Trainer(SMALL, "cpu")
    b = Trainer(SMALL.replace(train={"seed": 1}), "cpu")
    assert not _same_weights(_weights(a), _weights(b))
    assert _losses(a, 2, 10) != _losses(b, 2, 10)


def test_gauss_is_learned():
    t = Trainer(ExperimentConfig(data=DataConfig(name="gauss")), "cpu")
    first = t.snapshot()
    for _ in range(5):
        snap = t.run_epochs(1)
    assert snap.test_accuracy > 0.9 and snap.train_accuracy > 0.9
    assert snap.train_loss < first.train_loss
    assert snap.epoch == 5 and snap.step == 5 * 25  # 250 train points, batch 10


def test_apply_hot_change_keeps_progress():
    t = Trainer(SMALL, "cpu")
    t.step(12)
    before = _weights(t)
    changed = t.apply(SMALL.replace(train={"lr": 0.2, "momentum": 0.5, "l2": 0.01, "batch_size": 5}))
    assert changed == []
    assert all(g["lr"] == 0.2 and g["momentum"] == 0.5 for g in t.optimizer.param_groups)
    assert t.step_count == 12 and _same_weights(before, _weights(t))
    assert t.config.train.lr == 0.2
    snap = t.step(2)
    assert snap.lr == 0.2 and snap.step == 14
    # batch size 5 took effect: 12 batches of 10 and 2 of 5 are 1.3 passes over 100 points
    assert t.history[-1]["epoch_exact"] == pytest.approx(1.3)


def test_apply_hot_lr_changes_the_update():
    # plain SGD: the update of one step is -lr * grad, so doubling lr doubles the update
    config = SMALL.replace(train={"lr": 0.05})
    a, b = Trainer(config, "cpu"), Trainer(config, "cpu")
    a.step(3), b.step(3)
    b.apply(config.replace(train={"lr": 0.1}))
    w0 = _weights(a)
    a.step(1), b.step(1)
    for p0, pa, pb in zip(w0, _weights(a), _weights(b)):
        torch.testing.assert_close(pb - p0, 2 * (pa - p0), rtol=1e-4, atol=1e-7)


def test_apply_structural_change_applies_nothing():
    t = Trainer(SMALL, "cpu")
    t.step(4)
    before = _weights(t)
    changed = t.apply(SMALL.replace(model={"hidden": [6, 3]}, train={"lr": 0.5}))
    assert changed == ["model.hidden"]
    assert t.config == SMALL
    assert all(g["lr"] == SMALL.train.lr for g in t.optimizer.param_groups)
    assert t.step_count == 4 and _same_weights(before, _weights(t))


@pytest.mark.parametrize("config, first_steps", [
    (SMALL, 0),
    (SMALL, 3),
    (SMALL.replace(train={"batch_size": 7}), 5),
    # batch norm, 4 training points, batch 3: the epoch ends after one batch (no 1-point batch)
    (SMALL.replace(data={"name": "custom", "points": CUSTOM}, model={"norm": "batch"}, train={"batch_size": 3}), 0),
])
def test_run_epochs_advances_exactly_one(config, first_steps):
    t = Trainer(config, "cpu")
    t.step(first_steps)
    for k in range(3):
        start = t.epoch
        snap = t.run_epochs(1)
        assert snap.epoch == t.epoch == start + 1
    assert t.run_epochs(2).epoch == t.epoch == start + 3


def test_max_epochs_stops_training():
    t = Trainer(SMALL.replace(train={"max_epochs": 2, "batch_size": 8}), "cpu")
    snap = t.step(10_000)
    assert snap.finished and snap.epoch == 2
    assert snap.step == 2 * math.ceil(100 / 8)
    before = _weights(t)
    assert t.step(5).step == snap.step and _same_weights(before, _weights(t))
    # raising the limit (a hot change) lets it go on
    assert t.apply(t.config.replace(train={"max_epochs": 3})) == []
    assert t.step(10_000).epoch == 3


def test_divergence_restores_the_last_finite_weights():
    t = Trainer(EXPLODING.replace(train={"lr": 1e-3}), "cpu")
    t.step(5)
    good = _weights(t)
    good_loss = t.snapshot().train_loss
    t.apply(EXPLODING)  # lr 10
    snap = t.step(50)
    assert snap.diverged
    assert all(torch.isfinite(p).all() for p in _weights(t))
    assert _same_weights(good, _weights(t))
    assert snap.step == 5 and snap.train_loss == good_loss
    json.dumps(snap.to_json_dict(), allow_nan=False)  # strict JSON: no NaN / Infinity
    # nothing more happens until the learning rate changes
    assert t.step(10).step == 5 and _same_weights(good, _weights(t))
    t.apply(EXPLODING.replace(train={"lr": 1e-3}))
    assert not t.diverged
    after = t.step(3)
    assert after.step == 8 and not after.diverged and math.isfinite(after.train_loss)


def test_divergence_is_caught_in_small_chunks():
    # Each batch loss can stay finite while the weights blow up so far that the loss over the
    # training set overflows: a snapshot must never show a non-finite loss without 'diverged'.
    t = Trainer(EXPLODING, "cpu")
    seen_diverged = False
    for _ in range(10):
        w = _weights(t)
        snap = t.step(1)
        if snap.diverged:
            seen_diverged = True
            assert _same_weights(w, _weights(t))
        assert snap.diverged or math.isfinite(snap.train_loss), snap
        assert all(torch.isfinite(p).all() for p in _weights(t))
    assert seen_diverged


def _assert_plain(value, path="snapshot"):
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), path
            _assert_plain(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _assert_plain(v, f"{path}[{i}]")
    else:
        assert value is None or type(value) in (bool, int, float, str), f"{path} is {type(value)}"


@pytest.mark.parametrize("config", [
    SMALL,
    SMALL.replace(data={"name": "blobs", "n_classes": 4}, train={"loss": "ce"}),
    ExperimentConfig(task="regress2d", data=DataConfig(name="multigauss", n_samples=100, test_fraction=0.0),
                     train=TrainConfig(loss="mse")),
])
def test_snapshot_is_plain_data(config):
    t = Trainer(config, "cpu")
    snap = t.step(3, plane_resolution=8, neurons=True)
    d = snap.to_json_dict()
    _assert_plain(d)
    assert "plane" not in d
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["step"] == 3 and back["grad_norms"] == snap.grad_norms
    assert list(d["grad_norms"]) == ["hidden1", "hidden2", "output"]
    assert all(v > 0 for v in d["grad_norms"].values())
    if config.task == "regress2d":
        assert d["train_accuracy"] is None and d["test_loss"] is None  # no test set
    else:
        assert 0 <= d["train_accuracy"] <= 1 and 0 <= d["test_accuracy"] <= 1
    # the plane arrays are NumPy, detached, on the CPU
    assert isinstance(snap.plane["output"], np.ndarray) and snap.plane["output"].shape == (8, 8)
    assert all(isinstance(a, np.ndarray) for a in snap.plane["neurons"])
    assert isinstance(snap, Snapshot)


def test_rmsprop_momentum_turned_on_mid_run_keeps_training():
    config = ExperimentConfig.from_dict({"data": {"n_samples": 100}, "model": {"hidden": [4]},
                                         "train": {"optimizer": "rmsprop", "momentum": 0.0}})
    trainer = Trainer(config, "cpu")
    trainer.step(5)
    assert trainer.apply(config.replace(train={"momentum": 0.5})) == []
    snap = trainer.step(5)  # used to fail: RMSprop had no momentum buffer for the new momentum
    assert snap.step == 10 and math.isfinite(snap.train_loss)
