"""Autograd through the MLP and every loss against central finite differences (float64),
and the loss values and weight penalties against hand computations in NumPy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.losses import data_loss, output_value, predictions, weight_penalty
from engine.mlp.models import MLP


def _model(n_out, activations=("tanh", "tanh"), hidden=(5, 4), seed=0, **kw):
    torch.manual_seed(seed)
    return MLP(3, list(hidden), list(activations), n_out, **kw).double()


def _batch(n_classes, n=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64) * 2
    if n_classes == 0:
        y = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    else:
        y = torch.arange(n) % n_classes  # every class present
    return x, y


def _objective(model, x, y, loss, n_classes, l1=0.0, l2=0.0):
    return data_loss(model(x), y, loss, n_classes) + weight_penalty(model, l1, l2)


def _finite_difference_grads(model, fn, eps=1e-6):
    """Central differences of fn() with respect to every parameter, one coordinate at a time."""
    grads = []
    with torch.no_grad():
        for p in model.parameters():
            g = torch.zeros_like(p)
            flat, gflat = p.view(-1), g.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + eps
                up = float(fn())
                flat[i] = old - eps
                down = float(fn())
                flat[i] = old
                gflat[i] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


def _check_autograd_matches_fd(model, fn):
    model.zero_grad()
    fn().backward()
    auto = [p.grad.clone() for p in model.parameters()]
    numeric = _finite_difference_grads(model, fn)
    assert any(a.abs().max() > 1e-4 for a in auto)  # a real gradient, not all zero
    for a, n in zip(auto, numeric):
        torch.testing.assert_close(a, n, rtol=1e-5, atol=1e-7)


CASES = [(loss, 2) for loss in ("mse", "bce", "ce", "hinge")] + \
        [(loss, 3) for loss in ("mse", "bce", "ce", "hinge")] + [("mse", 0)]


@pytest.mark.parametrize("loss, n_classes", CASES)
def test_autograd_matches_finite_differences(loss, n_classes):
    model = _model(n_classes if n_classes > 2 else 1)
    x, y = _batch(n_classes)
    _check_autograd_matches_fd(model, lambda: _objective(model, x, y, loss, n_classes))


@pytest.mark.parametrize("kw", [
    {"activations": ("sigmoid", "gelu"), "norm": "layer", "residual": True, "hidden": (3, 3)},
    {"activations": ("softplus", "elu"), "norm": "batch"},
    {"activations": ("tanh", "linear"), "init": "xavier"},
])
def test_autograd_matches_finite_differences_for_variants_and_penalties(kw):
    model = _model(1, **kw)
    model.train()  # batch norm on batch statistics: still a smooth function of the weights
    x, y = _batch(2)
    _check_autograd_matches_fd(model, lambda: _objective(model, x, y, "bce", 2, l1=0.01, l2=0.1))


def test_gradcheck_losses_with_respect_to_scores():
    g = torch.Generator().manual_seed(5)
    for loss, k in CASES:
        width = k if k > 2 else 1
        scores = torch.randn(6, width, generator=g, dtype=torch.float64, requires_grad=True)
        _, y = _batch(k, n=6)
        assert torch.autograd.gradcheck(lambda s: data_loss(s, y, loss, k), (scores,), eps=1e-6, atol=1e-6)


# ---- loss values against hand computations ----

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_binary_loss_values_by_hand():
    s = np.array([2.0, -1.0, 0.3, -0.2, 0.0, 4.0])
    y = np.array([1, 0, 0, 1, 1, 0])
    st, yt = torch.tensor(s)[:, None], torch.tensor(y)
    p = _sigmoid(s)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    hinge = np.mean(np.maximum(0, 1 - s * np.where(y == 1, 1, -1)))
    mse = np.mean((p - y) ** 2)
    assert float(data_loss(st, yt, "bce", 2)) == pytest.approx(bce, rel=1e-12)
    assert float(data_loss(st, yt, "ce", 2)) == pytest.approx(bce, rel=1e-12)  # softmax of 2 = sigmoid
    assert float(data_loss(st, yt, "hinge", 2)) == pytest.approx(hinge, rel=1e-12)
    assert float(data_loss(st, yt, "mse", 2)) == pytest.approx(mse, rel=1e-12)
    np.testing.assert_array_equal(predictions(st, 2).numpy(), (s > 0).astype(int))
    np.testing.assert_allclose(output_value(st, 2).numpy(), p)


def test_multiclass_loss_values_by_hand():
    s = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 1.0, 1.5], [0.0, 0.0, 4.0]])
    y = np.array([0, 2, 1, 0])
    st, yt = torch.tensor(s), torch.tensor(y)
    n, k = s.shape
    p = _softmax(s)
    onehot = np.eye(k)[y]
    ce = -np.mean(np.log(p[np.arange(n), y]))
    q = _sigmoid(s)
    bce = -np.mean(onehot * np.log(q) + (1 - onehot) * np.log(1 - q))
    mse = np.mean((p - onehot) ** 2)
    # multi-class hinge (Weston-Watkins, as multi_margin_loss): mean over the batch of
    # (1/k) * sum over wrong classes j of max(0, 1 - s_y + s_j)
    margins = np.maximum(0, 1 - s[np.arange(n), y][:, None] + s)
    margins[np.arange(n), y] = 0
    hinge = np.mean(margins.sum(1) / k)
    assert float(data_loss(st, yt, "ce", 3)) == pytest.approx(ce, rel=1e-12)
    assert float(data_loss(st, yt, "bce", 3)) == pytest.approx(bce, rel=1e-12)
    assert float(data_loss(st, yt, "mse", 3)) == pytest.approx(mse, rel=1e-12)
    assert float(data_loss(st, yt, "hinge", 3)) == pytest.approx(hinge, rel=1e-12)
    np.testing.assert_array_equal(predictions(st, 3).numpy(), s.argmax(1))


def test_regression_loss_by_hand():
    s = np.array([0.5, -0.25, 1.0])
    y = np.array([0.0, -0.5, 0.75])
    got = float(data_loss(torch.tensor(s)[:, None], torch.tensor(y), "mse", 0))
    assert got == pytest.approx(np.mean((s - y) ** 2), rel=1e-12)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        data_loss(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), "huber", 2)


def test_weight_penalty_by_hand():
    model = _model(3, init="normal")
    weights = [layer.weight.detach().numpy() for _, layer in model.named_linears()]
    l1, l2 = 0.03, 0.2
    expected = l1 * sum(np.abs(w).sum() for w in weights) + l2 / 2 * sum((w ** 2).sum() for w in weights)
    assert weight_penalty(model, l1, l2).item() == pytest.approx(expected, rel=1e-12)
    with torch.no_grad():  # biases are free: changing them leaves the penalty alone
        for _, layer in model.named_linears():
            layer.bias.fill_(5.0)
    assert weight_penalty(model, l1, l2).item() == pytest.approx(expected, rel=1e-12)
    assert weight_penalty(model, l1, 0).item() == pytest.approx(l1 * sum(np.abs(w).sum() for w in weights), rel=1e-12)
    assert weight_penalty(model, 0, 0) == 0.0
