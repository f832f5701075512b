"""The Foundations page's computations: one neuron, activations and their derivatives,
loss functions against the margin, and the configs of its small trainings.

Every derivative comes from autograd and every loss from engine/core/losses.py, so what the
page shows is what the Trainer computes; the tests check them against closed forms.
Pure PyTorch + NumPy: no UI import.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.losses import data_loss
from ..core.registries import ACTIVATIONS, make_activation
from ..mlp.config import ExperimentConfig
from ..mlp.data import grid_points

SATURATION_SLOPE = 0.1     # |f'(x)| below this counts as saturated: a layer passes back < 10 % of its gradient
SIGMOID_MAX_SLOPE = 0.25   # sigmoid'(0) = s(0)(1 - s(0)) = 1/4, the largest slope the sigmoid has
MARGIN_LOSSES = ("mse", "bce", "hinge")


# ---------------- activations ----------------
@dataclass
class ActivationCurve:
    name: str
    x: np.ndarray                                # (n,) inputs
    value: np.ndarray                            # (n,) f(x)
    derivative: np.ndarray                       # (n,) f'(x), from autograd
    saturated: list[tuple[float, float]]         # x intervals where |f'(x)| < SATURATION_SLOPE


def saturated_ranges(x: np.ndarray, derivative: np.ndarray, threshold: float = SATURATION_SLOPE) -> list[tuple[float, float]]:
    """The x intervals (first, last grid point) where |derivative| < threshold."""
    below = np.abs(derivative) < threshold
    ranges, start = [], None
    for i, flag in enumerate(below):
        if flag and start is None:
            start = i
        if start is not None and (not flag or i == len(below) - 1):
            end = i if flag else i - 1
            ranges.append((float(x[start]), float(x[end])))
            start = None
    return ranges


def activation_curve(name: str, x_min: float = -6.0, x_max: float = 6.0, n: int = 481) -> ActivationCurve:
    """f and f' of a registered activation on an even grid. The derivative is autograd's:
    each output depends only on its own input, so the gradient of sum(f(x)) is f'(x)."""
    if name not in ACTIVATIONS:
        raise KeyError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    x = torch.linspace(x_min, x_max, n, dtype=torch.float64, requires_grad=True)
    y = make_activation(name)(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    xs, ds = x.detach().numpy(), dy.numpy()
    return ActivationCurve(name, xs, y.detach().numpy(), ds, saturated_ranges(xs, ds))


def activation_curves(names=None, **kw) -> list[ActivationCurve]:
    return [activation_curve(name, **kw) for name in (names or list(ACTIVATIONS))]


# ---------------- losses ----------------
def loss_vs_margin(margins: np.ndarray, loss: str) -> np.ndarray:
    """Loss of one point of class 1 whose score (logit) is the margin m = y·s, y ∈ {-1, +1},
    from engine.core.losses.data_loss, the function the Trainer minimises. (n,) -> (n,).

    A point of class 0 with score -m has the same loss, so one curve tells it all."""
    scores = torch.as_tensor(np.asarray(margins, dtype=np.float64)).reshape(-1, 1, 1)  # (n, B=1, 1)
    label = torch.ones(1, dtype=torch.long)
    # data_loss averages over the batch; a batch of one gives each point's own loss.
    return np.array([float(data_loss(s, label, loss, 2)) for s in scores])


def zero_one_loss(margins: np.ndarray) -> np.ndarray:
    """What accuracy counts: 1 for a wrong side of the boundary, 0 otherwise."""
    return (np.asarray(margins) <= 0).astype(np.float64)


def regularised_objective(weights: np.ndarray, loss: str, l2: float) -> np.ndarray:
    """One point x = 1 of class 1 and a neuron s = w·x: the objective L(w) + l2/2·w², as
    weight_penalty adds it. Without L2, BCE keeps falling as w grows; L2 gives it a minimum."""
    w = np.asarray(weights, dtype=np.float64)
    return loss_vs_margin(w, loss) + 0.5 * l2 * w * w


def three_class_losses(p_true: np.ndarray) -> dict[str, np.ndarray]:
    """A 3-class prediction giving p to the true class and (1 - p)/2 to each other one:
    cross-entropy (engine's "ce" on the log-probabilities as logits) and the Gini impurity
    1 - Σ p_k², against p. (n,) -> {"ce": (n,), "gini": (n,)}."""
    p = np.clip(np.asarray(p_true, dtype=np.float64), 1e-6, 1 - 1e-6)
    probs = np.stack([p, (1 - p) / 2, (1 - p) / 2], axis=1)
    logits = torch.log(torch.as_tensor(probs))  # softmax(log p) = p
    label = torch.zeros(1, dtype=torch.long)
    ce = np.array([float(data_loss(row[None], label, "ce", 3)) for row in logits])
    return {"ce": ce, "gini": 1 - (probs ** 2).sum(axis=1)}


def prediction_losses(logits: list[float], true_class: int) -> dict:
    """Softmax probabilities, cross-entropy and Gini impurity of one k-class prediction."""
    scores = torch.tensor([logits], dtype=torch.float64)
    probs = torch.softmax(scores, dim=1)[0].numpy()
    ce = float(data_loss(scores, torch.tensor([true_class]), "ce", len(logits)))
    return {"probs": probs, "ce": ce, "gini": float(1 - (probs ** 2).sum())}


# ---------------- one neuron ----------------
def neuron_output(w1: float, w2: float, bias: float, activation: str, resolution: int = 60,
                  domain: float = 6.0) -> np.ndarray:
    """activation(w1·x1 + w2·x2 + b) over [-domain, domain]²; (res, res), row 0 at x2 = -domain."""
    layer = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[w1, w2]]))
        layer.bias.fill_(bias)
        out = make_activation(activation)(layer(torch.from_numpy(grid_points(resolution, domain)).double()))
    return out.numpy().reshape(resolution, resolution)


def logistic_regression_config(data_name: str = "gauss", noise: float = 0.2, lr: float = 0.1,
                               optimizer: str = "sgd", seed: int = 0, n_samples: int = 300) -> ExperimentConfig:
    """Logistic regression as the engine trains it: no hidden layer (one neuron on x1, x2)
    and the "bce" loss, whose sigmoid turns the neuron's score into P(class 1)."""
    return ExperimentConfig.from_dict({
        "data": {"name": data_name, "n_samples": n_samples, "noise": noise, "test_fraction": 0.3},
        "model": {"hidden": [], "activation": "linear"},  # the activation of a hidden layer; there is none
        "train": {"loss": "bce", "optimizer": optimizer, "lr": lr, "batch_size": 10, "seed": seed}})


def loss_comparison_config(loss: str, data_name: str = "gauss", noise: float = 0.3, hidden: list[int] | None = None,
                           seed: int = 0) -> ExperimentConfig:
    """The same data and network, trained with one of the three losses (Adam, so that the
    losses' different gradient scales do not need three learning rates)."""
    return ExperimentConfig.from_dict({
        "data": {"name": data_name, "n_samples": 300, "noise": noise, "test_fraction": 0.3},
        "model": {"hidden": list(hidden or []), "activation": "tanh"},
        "train": {"loss": loss, "optimizer": "adam", "lr": 0.03, "batch_size": 10, "seed": seed}})
