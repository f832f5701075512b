"""A radial-basis-function network (Broomhead & Lowe, 1988): one layer of Gaussian units
with learnable centres c_k and widths sigma_k, then a linear read-out.

    phi_k(x) = exp(-|x - c_k|² / (2 sigma_k²)),   score(x) = W phi(x) + b

An RBF-kernel SVM computes sum_i alpha_i y_i exp(-gamma |x - x_i|²) + b: the same form with
the support vectors as centres, one shared width (sigma² = 1 / (2 gamma)), and weights found by
a convex solver. The network picks fewer centres itself, moves them and sizes them by
gradient descent.

Shapes: x (B, d) -> phi (B, K) -> scores (B, n_out); centres (K, d); widths (K,).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.config import _check_range


def seeded_init(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default init for a linear layer, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn
    from `generator` so the run depends on the config's seed and nothing else."""
    bound = 1 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
        layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator) * 2 - 1) * bound)


class RBFNetwork(nn.Module):
    def __init__(self, n_inputs: int, n_centres: int, n_outputs: int, centres: torch.Tensor | None = None,
                 width: float = 1.0):
        super().__init__()
        init = centres if centres is not None else torch.zeros(n_centres, n_inputs)
        if init.shape != (n_centres, n_inputs):
            raise ValueError(f"centres must have shape ({n_centres}, {n_inputs}), got {tuple(init.shape)}")
        self.centres = nn.Parameter(init.clone().float())                         # (K, d)
        # The log of the width is learnt, so the width stays positive whatever the step.
        self.log_widths = nn.Parameter(torch.full((n_centres,), math.log(width)))  # (K,)
        self.readout = nn.Linear(n_centres, n_outputs)

    @property
    def widths(self) -> torch.Tensor:
        return self.log_widths.exp()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, K) activations of the Gaussian units."""
        d2 = ((x[:, None, :] - self.centres[None, :, :]) ** 2).sum(-1)  # (B, K)
        return torch.exp(-d2 / (2 * self.widths[None, :] ** 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))  # (B, n_out)


@dataclass
class RBFConfig:
    n_centres: int = 12        # Gaussian units, 1..200
    width: float = 1.5         # initial width sigma of every unit, 0.05..10 (data units)
    lr: float = 0.05           # Adam learning rate, 0.0001..1
    l2: float = 0.001          # penalty l2/2 · |W|² on the read-out weights, 0..1
    seed: int = 0              # which training points become the first centres

    def __post_init__(self) -> None:
        _check_range(self.n_centres, "n_centres", 1, 200, "number of Gaussian units", integer=True)
        _check_range(self.width, "width", 0.05, 10.0, "initial width")
        _check_range(self.lr, "lr", 0.0001, 1.0, "learning rate")
        _check_range(self.l2, "l2", 0.0, 1.0, "L2 penalty")
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RBFSnapshot:
    step: int
    train_loss: float
    train_accuracy: float
    centres: np.ndarray   # (K, d)
    widths: np.ndarray    # (K,)
    diverged: bool = False
    finished: bool = False

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["centres"], d["widths"] = self.centres.tolist(), self.widths.tolist()
        return d


class RBFTrainer:
    """Full-batch Adam on cross-entropy (one logit for two classes), resumable and seeded."""

    def __init__(self, config: RBFConfig, x: np.ndarray, y: np.ndarray, n_classes: int):
        self.config, self.n_classes = config, n_classes
        self.x = torch.as_tensor(x, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.long)
        g = torch.Generator().manual_seed(config.seed)
        k = min(config.n_centres, len(self.x))
        pick = torch.randperm(len(self.x), generator=g)[:k]
        centres = self.x[pick] if k == config.n_centres else torch.cat(
            [self.x[pick], self.x[pick[:1]].repeat(config.n_centres - k, 1)])
        self.model = RBFNetwork(self.x.shape[1], config.n_centres, 1 if n_classes == 2 else n_classes,
                                centres, config.width)
        seeded_init(self.model.readout, g)
        self.initial_centres = self.model.centres.detach().numpy().copy()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []

    def loss(self) -> torch.Tensor:
        scores = self.model(self.x)
        data = (F.binary_cross_entropy_with_logits(scores[:, 0], self.y.float()) if self.n_classes == 2
                else F.cross_entropy(scores, self.y))
        return data + 0.5 * self.config.l2 * (self.model.readout.weight ** 2).sum()

    def step(self, n: int = 1) -> RBFSnapshot:
        for _ in range(int(n)):
            good = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.optimizer.zero_grad()
            loss = self.loss()
            if not torch.isfinite(loss):
                self.model.load_state_dict(good)
                self.diverged = True
                break
            loss.backward()
            self.optimizer.step()
            self.step_count += 1
            self.history.append({"step": self.step_count, "loss": loss.item()})
        return self.snapshot()

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, n_classes) class probabilities."""
        s = self.model(torch.as_tensor(x, dtype=torch.float32))
        if self.n_classes == 2:
            p1 = torch.sigmoid(s[:, 0])
            return torch.stack([1 - p1, p1], 1).numpy()
        return torch.softmax(s, 1).numpy()

    def snapshot(self) -> RBFSnapshot:
        with torch.no_grad():
            loss = float(self.loss())
        acc = float((self.predict_proba(self.x.numpy()).argmax(1) == self.y.numpy()).mean())
        return RBFSnapshot(step=self.step_count, train_loss=loss, train_accuracy=acc,
                           centres=self.model.centres.detach().numpy().copy(),
                           widths=self.model.widths.detach().numpy().copy(), diverged=self.diverged)
