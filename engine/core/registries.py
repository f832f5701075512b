"""Registries: every callable a config names is looked up here by its name.

Configs store names ("tanh", "adam"), never objects, so they stay plain JSON.
"""
from __future__ import annotations

import torch
from torch import nn


class Registry(dict):
    """A name -> object table whose `in` answers False (instead of raising TypeError) for a
    value that cannot be a name, such as a list from a malformed config: validation then
    reports the field rather than crashing."""

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and super().__contains__(key)


# Activation modules. None of them is in-place: forward hooks read their outputs.
ACTIVATIONS: dict[str, type[nn.Module] | object] = Registry({
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "linear": nn.Identity,
})

# Output range of each activation where it saturates (derivative close to 0);
# used by the "fraction saturated" probe. None: the activation never saturates.
SATURATION_BOUNDS: dict[str, tuple[float, float] | None] = {
    "tanh": (-0.97, 0.97),       # |tanh'| < 0.06
    "sigmoid": (0.03, 0.97),     # sigmoid' < 0.03
    "relu": (0.0, float("inf")),  # dead: exactly zero output
    "leaky_relu": None,
    "elu": (-0.95, float("inf")),
    "gelu": None,
    "softplus": None,
    "linear": None,
}

LOSSES = ("mse", "bce", "ce", "hinge")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")
INITS = ("default", "xavier", "he", "normal", "orthogonal")
NORMS = ("none", "batch", "layer")
TASKS = ("classify2d", "regress2d")


def make_activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def make_norm(name: str, width: int) -> nn.Module:
    if name == "batch":
        return nn.BatchNorm1d(width)
    if name == "layer":
        return nn.LayerNorm(width)
    return nn.Identity()


def init_linear(layer: nn.Linear, scheme: str, activation: str) -> None:
    """Re-initialise a linear layer's weight in place; biases start at zero
    except under "default", which keeps PyTorch's own initialisation."""
    if scheme == "default":
        return
    gain_name = activation if activation in ("tanh", "relu", "leaky_relu", "sigmoid") else "linear"
    with torch.no_grad():
        if scheme == "xavier":
            nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(gain_name))
        elif scheme == "he":
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu" if gain_name != "leaky_relu" else "leaky_relu")
        elif scheme == "normal":
            nn.init.normal_(layer.weight, mean=0.0, std=1.0)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain(gain_name))
        layer.bias.zero_()


def make_optimizer(name: str, params, lr: float, momentum: float) -> torch.optim.Optimizer:
    """'momentum' and 'nesterov' use the config's momentum, or 0.9 when it is 0."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum or 0.9, nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    raise KeyError(name)
