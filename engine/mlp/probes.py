"""Instrumentation in one place: gradient norms, activation statistics, weight norms,
and the model's output and each neuron's output over the input plane.

Gradient norms are read after backward() and before optimizer.step(). Activation
statistics come from forward hooks that a context manager registers and removes.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from ..core.losses import output_value
from ..core.registries import SATURATION_BOUNDS
from .data import grid_points, make_features


def gradient_norms_by_layer(model) -> torch.Tensor:
    """L2 norm of each linear layer's weight gradient, input layer first, output last.
    Returned as one tensor (layers,) so the caller decides when to copy to the CPU."""
    norms = [layer.weight.grad.norm() if layer.weight.grad is not None else torch.zeros(())
             for _, layer in model.named_linears()]
    return torch.stack(norms)


def weight_norms_by_layer(model) -> dict[str, float]:
    return {name: float(layer.weight.detach().norm()) for name, layer in model.named_linears()}


@contextmanager
def record_activations(model):
    """Collect each hidden block's activation output during the forward passes inside
    the `with`; yields a dict name -> list of tensors (B, width). Hooks are removed on exit."""
    captured: dict[str, list[torch.Tensor]] = {}
    handles = []
    for i, block in enumerate(model.blocks):
        name = f"hidden{i + 1}"
        captured[name] = []
        handles.append(block.act.register_forward_hook(
            lambda _m, _inp, out, name=name: captured[name].append(out.detach())))
    try:
        yield captured
    finally:
        for h in handles:
            h.remove()


def activation_summary(values: torch.Tensor, activation: str) -> dict[str, float]:
    """mean, std and fraction of saturated units of one layer's activations (B, width)."""
    bounds = SATURATION_BOUNDS.get(activation)
    if bounds is None:
        saturated = 0.0
    elif activation == "relu":
        saturated = float((values <= 0).float().mean())
    else:
        lo, hi = bounds
        saturated = float(((values <= lo) | (values >= hi)).float().mean())
    return {"mean": float(values.mean()), "std": float(values.std(unbiased=False)), "saturated": saturated}


@torch.no_grad()
def activation_statistics(model, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """Per hidden layer statistics on inputs x (B, n_inputs), model in eval mode."""
    was_training = model.training
    model.eval()
    try:
        with record_activations(model) as captured:
            model(x)
    finally:
        model.train(was_training)
    return {name: activation_summary(vals[0], block.activation_name)
            for (name, vals), block in zip(captured.items(), model.blocks)}


@torch.no_grad()
def plane_outputs(model, features: list[str], n_classes: int, device, resolution: int = 50,
                  neurons: bool = False) -> dict[str, np.ndarray | list]:
    """The model over a grid of the input plane [-6, 6]².

    Returns {"output": (res, res)} (P(class 1), winning class, or regression value; row 0
    at x2 = -6) and, with neurons=True, "inputs": (n_features, res, res) and "neurons":
    one (width, res, res) array per hidden layer, each neuron's activation."""
    xy = grid_points(resolution)
    x = torch.from_numpy(make_features(xy, features)).to(device)
    was_training = model.training
    model.eval()
    try:
        with record_activations(model) as captured:
            scores = model(x)
    finally:
        model.train(was_training)
    out = {"output": output_value(scores, n_classes).float().cpu().numpy().reshape(resolution, resolution)}
    if neurons:
        out["inputs"] = x.T.cpu().numpy().reshape(-1, resolution, resolution)
        out["neurons"] = [vals[0].T.float().cpu().numpy().reshape(-1, resolution, resolution)
                          for vals in captured.values()]
    return out
