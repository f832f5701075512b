"""What the Vanishing gradients page reads out of its networks, free of Streamlit: the activations'
quantiles per layer, the gradient ratio of the first hidden layer to the last, numbers a reader takes
in at a glance, and the sentences that say what the gradients do."""
from __future__ import annotations

import math

import numpy as np
import torch

from engine import Trainer
from engine.mlp.probes import activation_summary, record_activations

EXPLODING = 1e3              # a weight-gradient norm above this is called exploding
ACTIVATION_POINTS = 200      # training points the activation distributions are read on


@torch.no_grad()
def activation_quantiles(trainer: Trainer, n_points: int = ACTIVATION_POINTS) -> dict[str, np.ndarray]:
    """Per hidden layer: the 1/25/50/75/99 % quantiles of its activations over the first
    n_points training points, (layers, 5), and the saturated fraction, (layers,)."""
    model = trainer.model
    was_training = model.training
    model.eval()
    try:
        with record_activations(model) as captured:
            model(trainer.x_train[:n_points])
    finally:
        model.train(was_training)
    quantiles, saturated = [], []
    q = torch.tensor([0.01, 0.25, 0.5, 0.75, 0.99])
    for (name, values), block in zip(captured.items(), model.blocks):
        v = values[0].float().cpu()
        quantiles.append(torch.quantile(v.flatten(), q).numpy())
        saturated.append(activation_summary(v, block.activation_name)["saturated"])
    n = len(model.blocks)
    return {"quantiles": np.array(quantiles).reshape(n, 5), "saturated": np.array(saturated, dtype=float)}


def layer_ratio(norms: np.ndarray) -> float:
    """Gradient norm of hidden layer 1 over that of the last hidden layer (norms: (layers,),
    the output layer last); NaN when there is no such pair, either is not finite, or the last
    one is 0 (0 when layer 1 gets no gradient at all). Computed on Python floats after those
    checks, so that inf/inf, 0/0 or a float32 overflow raise no NumPy warning."""
    if len(norms) < 3:
        return float("nan")
    first, last = float(norms[0]), float(norms[-2])
    if not (math.isfinite(first) and math.isfinite(last) and first >= 0 and last > 0):
        return float("nan")
    return first / last


def sci(x: float) -> str:
    """3e-17, 0.25, 7.2e+04: a number a reader takes in at a glance."""
    if not math.isfinite(x):
        return "∞" if x > 0 else "NaN"
    if x == 0:
        return "0"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.0e}"


WHY_SMALL = {
    "sigmoid": "Each sigmoid passes back at most 0.25 of the gradient, and the factors multiply layer after layer.",
    "tanh": "tanh passes back at most 1, and less wherever it saturates; the factors multiply layer after layer.",
}


def explain(label: str, names: list[str], norms: np.ndarray, clip: float = 0.0, activation: str = "") -> list[str]:
    """Sentences with the numbers on screen: how much gradient the first hidden layer gets
    compared with the last one, and whether the gradients vanish, explode or stay healthy."""
    if len(names) < 3 or not len(norms) or not np.all(np.isfinite(norms)) or not np.any(norms):
        return [f"**{label}**: no gradients to compare yet — press Step or Play."]
    first, last_hidden, out = float(norms[0]), float(norms[-2]), float(norms[-1])
    depth = len(names) - 1
    ratio = first / last_hidden if last_hidden > 0 else float("inf")
    lines = [f"**{label}**: layer 1 receives **{sci(ratio)}** of the gradient of layer {depth} "
             f"({sci(first)} against {sci(last_hidden)}; the output layer gets {sci(out)})."]
    biggest = float(np.max(norms))
    if biggest > EXPLODING:
        lines.append(f"The gradients **explode**: the largest is {sci(biggest)}. "
                     + (f"Clipping rescales the step to a total norm of {clip:g}." if clip > 0 else
                        "Turn on gradient clipping, add LayerNorm, or lower the learning rate."))
    elif ratio < 1e-4:
        lines.append(f"That is **{-math.log10(max(ratio, 1e-300)):.0f} orders of magnitude**: the first layers "
                     "barely learn. " + WHY_SMALL.get(activation, "The backward factors of the layers multiply "
                                                                  "to much less than 1."))
    elif ratio < 1e-2:
        lines.append("The gradient shrinks on the way down: the early layers learn much more slowly.")
    else:
        lines.append("The gradient reaches the first layer in good health: every layer learns.")
    return lines
