"""The backprop inspector: for one weight of a small network on one mini-batch, the factors
of the chain rule, each computed by autograd, their product, the gradient autograd gets
for the whole loss, and a central finite-difference estimate beside them.

The network has one hidden layer (2 -> H -> 1, engine's MLP, float64) and a sigmoid
output with the mean BCE, so every weight reaches the loss along exactly one path per
point and the chain rule is a single product per point, summed over the batch.
Pure PyTorch + NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.losses import data_loss
from ..mlp.config import ExperimentConfig
from ..mlp.data import make_dataset, make_features
from ..mlp.models import MLP, build_model

FD_EPSILON = 1e-6  # central differences in float64: error ~ ε² · f''' + rounding ~1e-10 / ε


def inspector_config(activation: str = "tanh", hidden_width: int = 3, data_name: str = "xor",
                     seed: int = 0) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "data": {"name": data_name, "n_samples": 200, "noise": 0.1},
        "model": {"hidden": [hidden_width], "activation": activation},
        "train": {"loss": "bce", "seed": seed}})


def inspector_network(config: ExperimentConfig) -> MLP:
    return build_model(config).double()


def inspector_batch(config: ExperimentConfig, batch_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `batch_size` training points: x (B, 2) float64, labels (B,) int64."""
    ds = make_dataset(config)
    x = torch.from_numpy(make_features(ds.train_xy[:batch_size], config.data.features)).double()
    return x, torch.from_numpy(ds.train_y[:batch_size])


@dataclass
class BackpropReport:
    weight_name: str             # e.g. "W₁[2, 0]"
    weight_value: float
    factor_names: list[str]      # the chain, from the loss back to the weight
    factors: np.ndarray          # (B, k): each factor at each point of the batch
    per_point: np.ndarray        # (B,) product of the factors: this point's share of ∂L/∂w
    chain_rule: float            # Σ per_point
    autograd: float              # ∂L/∂w from L.backward()
    finite_difference: float     # (L(w + ε) - L(w - ε)) / 2ε
    loss: float
    forward: dict[str, np.ndarray]  # values along the path at each point: inputs, z, h, ŷ, y


def _mean_bce(y_hat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Written out through ŷ (not with logits) so that ∂L/∂ŷ is a node autograd can report.
    y = labels.to(y_hat.dtype)
    return -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()


def _per_point_grad(outputs: torch.Tensor, parameter: torch.Tensor, row: int, col: int) -> np.ndarray:
    """∂outputs[n] / ∂parameter[row, col] for each point n, by autograd (one backward per point)."""
    return np.array([float(torch.autograd.grad(o, parameter, retain_graph=True)[0][row, col]) for o in outputs])


def inspect_weight(model: MLP, x: torch.Tensor, labels: torch.Tensor, layer: str, row: int, col: int,
                   epsilon: float = FD_EPSILON) -> BackpropReport:
    """layer "hidden": W₁[row, col], from input col to hidden neuron row;
    layer "output": W₂[0, col], from hidden neuron col to the output (row must be 0)."""
    if len(model.blocks) != 1 or model.output.out_features != 1:
        raise ValueError("the inspector takes a 2 -> H -> 1 network (one hidden layer, one output); "
                         "build it with inspector_network(inspector_config(...))")
    block = model.blocks[0]
    w_hidden, w_out = block.linear.weight, model.output.weight  # (H, 2), (1, H)
    weight = w_hidden if layer == "hidden" else w_out if layer == "output" else None
    if weight is None:
        raise ValueError(f"layer must be 'hidden' or 'output', got {layer!r}")
    if not (0 <= row < weight.shape[0] and 0 <= col < weight.shape[1]):
        raise ValueError(f"{layer} weight index must be within {tuple(weight.shape)}, got ({row}, {col})")

    z1 = block.linear(x)            # (B, H) pre-activations
    h = block.act(z1)               # (B, H)
    z2 = model.output(h)[:, 0]      # (B,) the score (logit)
    y_hat = torch.sigmoid(z2)       # (B,) P(class 1)
    loss = _mean_bce(y_hat, labels)

    def grad(outputs, inputs):
        return torch.autograd.grad(outputs, inputs, retain_graph=True)[0]

    dl_dyhat = grad(loss, y_hat)                   # (B,) includes the 1/B of the mean
    dyhat_dz2 = grad(y_hat.sum(), z2)              # (B,) elementwise: σ'(z₂)
    if layer == "output":
        names = ["∂L/∂ŷ", "∂ŷ/∂z₂", f"∂z₂/∂W₂[0,{col}]"]
        factors = [dl_dyhat, dyhat_dz2, _per_point_grad(z2, w_out, 0, col)]
        weight_name = f"W₂[0, {col}] (hidden {col} → output)"
    else:
        names = ["∂L/∂ŷ", "∂ŷ/∂z₂", f"∂z₂/∂h[{row}]", f"∂h[{row}]/∂z₁[{row}]", f"∂z₁[{row}]/∂W₁[{row},{col}]"]
        factors = [dl_dyhat, dyhat_dz2, grad(z2.sum(), h)[:, row], grad(h.sum(), z1)[:, row],
                   _per_point_grad(z1[:, row], w_hidden, row, col)]
        weight_name = f"W₁[{row}, {col}] (input x{'₁₂'[col]} → hidden {row})"
    table = np.stack([np.asarray(f.detach().numpy() if torch.is_tensor(f) else f, dtype=np.float64) for f in factors],
                     axis=1)
    per_point = table.prod(axis=1)
    autograd_value = float(grad(loss, weight)[row, col])

    # The loss as the Trainer computes it, from the logits: the same number as _mean_bce.
    def engine_loss() -> float:
        with torch.no_grad():
            return float(data_loss(model(x), labels, "bce", 2))

    with torch.no_grad():
        original = float(weight[row, col])
        weight[row, col] = original + epsilon
        loss_plus = engine_loss()
        weight[row, col] = original - epsilon
        loss_minus = engine_loss()
        weight[row, col] = original
    forward = {"x₁": x[:, 0].numpy(), "x₂": x[:, 1].numpy(),
               f"z₁[{row if layer == 'hidden' else col}]": z1[:, row if layer == "hidden" else col].detach().numpy(),
               f"h[{row if layer == 'hidden' else col}]": h[:, row if layer == "hidden" else col].detach().numpy(),
               "z₂": z2.detach().numpy(), "ŷ": y_hat.detach().numpy(), "y": labels.numpy().astype(np.float64)}
    return BackpropReport(weight_name, original, names, table, per_point, float(per_point.sum()), autograd_value,
                          (loss_plus - loss_minus) / (2 * epsilon), loss.item(), forward)
