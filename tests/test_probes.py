"""Instrumentation against hand computations: gradient norms, activation statistics, the plane."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.mlp.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from engine.mlp.models import build_model
from engine.mlp.probes import activation_statistics, gradient_norms_by_layer, plane_outputs, record_activations
from engine.mlp.trainer import Trainer

NP_ACT = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "linear": lambda z: z,
}


def _config(hidden=(5, 4), activation=("tanh", "relu"), features=("x1", "x2"), **kw):
    data = {"name": "spiral", "n_samples": 100, "features": list(features)}
    data.update(kw.pop("data", {}))
    return ExperimentConfig(data=DataConfig(**data),
                            model=ModelConfig(hidden=list(hidden), activation=list(activation), **kw.pop("model", {})),
                            train=TrainConfig(**kw.pop("train", {})))


def _numpy_forward(model, x):
    """The MLP by hand in NumPy (no norm, no residual, eval mode): hidden activations and scores."""
    h, layers = x.astype(np.float64), []
    for block in model.blocks:
        w, b = block.linear.weight.detach().double().numpy(), block.linear.bias.detach().double().numpy()
        h = NP_ACT[block.activation_name](h @ w.T + b)
        layers.append(h)
    w, b = model.output.weight.detach().double().numpy(), model.output.bias.detach().double().numpy()
    return layers, h @ w.T + b


def _no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_gradient_norms_by_layer_by_hand():
    torch.manual_seed(0)
    model = build_model(_config(hidden=(3, 4, 2), activation=("tanh", "sigmoid", "elu")))
    x = torch.randn(9, 2)
    assert gradient_norms_by_layer(model).tolist() == [0.0] * 4  # no backward yet
    model(x).pow(2).sum().backward()
    grads = [layer.weight.grad.numpy().astype(np.float64) for _, layer in model.named_linears()]
    expected = [np.sqrt((g ** 2).sum()) for g in grads]
    np.testing.assert_allclose(gradient_norms_by_layer(model).numpy(), expected, rtol=1e-6)
    assert all(e > 0 for e in expected)


def test_snapshot_grad_norms_are_those_of_the_last_step():
    config = _config(hidden=(6, 5, 4), activation=("tanh", "tanh", "tanh"), train={"batch_size": 8})
    t = Trainer(config, "cpu", fast=False)  # the autograd path draws batches through _next_batch (the fused path's probes: test_fast_mlp.py)
    t.step(4)
    state = copy.deepcopy(t.model.state_dict())
    used = []
    next_batch = t._next_batch
    t._next_batch = lambda: used.append(next_batch()) or used[-1]  # record the batch of the last step
    snap = t.step(1)
    assert len(used) == 1 and len(used[0]) == 8
    assert list(snap.grad_norms) == ["hidden1", "hidden2", "hidden3", "output"]

    # redo that step by hand on a copy: same weights, same batch, the loss written out
    model = build_model(config)
    model.load_state_dict(state)
    x, y = t.x_train[used[0]], t.y_train[used[0]].float()
    s = model(x)[:, 0]
    p = torch.sigmoid(s)
    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    loss.backward()
    by_hand = [float(layer.weight.grad.norm()) for _, layer in model.named_linears()]
    np.testing.assert_allclose(list(snap.grad_norms.values()), by_hand, rtol=1e-5)
    # and the norms at step 5 differ from a fresh backward at the updated weights
    assert not np.allclose(list(t.step(1).grad_norms.values()), by_hand)


@pytest.mark.parametrize("activation", [("tanh", "relu"), ("sigmoid", "linear")])
def test_activation_statistics_by_hand(activation):
    config = _config(activation=activation, model={"dropout": 0.5})
    torch.manual_seed(1)
    model = build_model(config)
    x = torch.randn(64, 2) * 4  # wide inputs so that some units saturate
    model.train()
    stats = activation_statistics(model, x)
    assert model.training  # the mode is restored
    assert _no_hooks(model)
    layers, _ = _numpy_forward(model, x.numpy())  # dropout is off in eval mode: none here either
    assert list(stats) == ["hidden1", "hidden2"]
    for (name, got), h, act in zip(stats.items(), layers, activation):
        assert got["mean"] == pytest.approx(h.mean(), rel=1e-5, abs=1e-6)
        assert got["std"] == pytest.approx(h.std(), rel=1e-5, abs=1e-6)  # population std
        if act == "tanh":
            saturated = np.mean(np.abs(h) >= 0.97)
        elif act == "sigmoid":
            saturated = np.mean((h <= 0.03) | (h >= 0.97))
        elif act == "relu":
            saturated = np.mean(h <= 0)
        else:
            saturated = 0.0
        assert got["saturated"] == pytest.approx(saturated, abs=1e-6), name
    assert any(s["saturated"] > 0 for s in stats.values())  # the check above is not vacuous


def test_hooks_are_removed_even_after_an_error():
    model = build_model(_config())
    with pytest.raises(RuntimeError):
        with record_activations(model) as captured:
            model(torch.zeros(3, 2))
            assert len(captured["hidden1"]) == 1 and captured["hidden1"][0].shape == (3, 5)
            raise RuntimeError("boom")
    assert _no_hooks(model)
    t = Trainer(_config(), "cpu")
    t.step(3, plane_resolution=5, neurons=True)
    assert _no_hooks(t.model)


def test_plane_outputs_two_classes_by_hand():
    features = ["x1", "x2", "x1_sq", "sin_x2"]
    config = _config(hidden=(4, 3), activation=("tanh", "sigmoid"), features=features)
    model = build_model(config)
    res = 7
    out = plane_outputs(model, features, 2, "cpu", resolution=res, neurons=True)
    assert out["output"].shape == (res, res)
    assert out["inputs"].shape == (len(features), res, res)
    assert [a.shape for a in out["neurons"]] == [(4, res, res), (3, res, res)]
    assert _no_hooks(model)
    axis = np.linspace(-6, 6, res)
    for r, c in [(0, 0), (0, res - 1), (res - 1, 0), (3, 5), (6, 2)]:
        x1, x2 = axis[c], axis[r]  # row r is x2, column c is x1, row 0 at x2 = -6
        feats = np.array([[x1, x2, x1 * x1, np.sin(x2)]])
        np.testing.assert_allclose(out["inputs"][:, r, c], feats[0], rtol=1e-5, atol=1e-6)
        layers, score = _numpy_forward(model, feats)
        assert out["output"][r, c] == pytest.approx(1 / (1 + np.exp(-score[0, 0])), rel=1e-5)
        for got, h in zip(out["neurons"], layers):
            np.testing.assert_allclose(got[:, r, c], h[0], rtol=1e-5, atol=1e-6)


def test_plane_outputs_multiclass_and_regression():
    res = 6
    axis = np.linspace(-6, 6, res)
    blobs = _config(activation=("tanh", "tanh"), data={"name": "blobs", "n_classes": 4}, train={"loss": "ce"})
    model = build_model(blobs)
    out = plane_outputs(model, ["x1", "x2"], 4, "cpu", resolution=res)
    assert set(out) == {"output"}
    _, scores = _numpy_forward(model, np.array([[axis[c], axis[r]] for r in range(res) for c in range(res)]))
    np.testing.assert_array_equal(out["output"], scores.argmax(1).reshape(res, res))

    reg = ExperimentConfig(task="regress2d", data=DataConfig(name="plane", n_samples=50),
                           model=ModelConfig(hidden=[3], activation="tanh"), train=TrainConfig(loss="mse"))
    model = build_model(reg)
    out = plane_outputs(model, ["x1", "x2"], 0, "cpu", resolution=res)
    _, scores = _numpy_forward(model, np.array([[axis[c], axis[r]] for r in range(res) for c in range(res)]))
    np.testing.assert_allclose(out["output"], scores[:, 0].reshape(res, res), rtol=1e-5, atol=1e-6)


def test_probes_do_not_change_training():
    # reading the plane and the statistics between chunks leaves the run as it was
    config = _config(model={"dropout": 0.3})
    a, b = Trainer(config, "cpu"), Trainer(config, "cpu")
    for _ in range(3):
        a.step(4, plane_resolution=9, neurons=True)
        b.step(4)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
