"""ELMTrainer: an extreme learning machine on the Playground's 2-D data sets.

The hidden layer is random and stays so: h = g(A x + c), A and c drawn once from a seeded generator
(x divided by 6, so the plane [-6, 6]² becomes [-1, 1]²). Only the read-out is trained, and in one
solve: the ridge regression of one-hot targets on h (engine/reservoirs/ridge.py); the class is the
largest output. A step fits the next width of the sweep (the first w units of the same random
layer), so step(n) fills in the train and test accuracy against the width, where too few units
underfit and, with a small λ, as many units as training points overfit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..core.device import pick_device
from ..mlp.config import DOMAIN, DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from ..mlp.data import Dataset2D, grid_points, make_dataset
from ..mlp.trainer import Trainer
from . import checkpoint
from .config import ELMConfig
from .ridge import fit_ridge, reservoir_dtype

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "sin": torch.sin}


class ELM(nn.Module):
    """The extreme learning machine as a module: fixed random input weights (buffers), a ridge
    read-out (buffers too: it is solved, not trained by gradients). x (N, 2) -> class scores (N, K)."""

    def __init__(self, input_weights: torch.Tensor, input_bias: torch.Tensor, activation: str, n_classes: int):
        super().__init__()
        self.activation = activation
        self.register_buffer("input_weights", input_weights)      # (H, 2)
        self.register_buffer("input_bias", input_bias)            # (H,)
        width = input_weights.shape[0]
        self.register_buffer("readout", torch.zeros(n_classes, width, dtype=input_weights.dtype))  # (K, H)
        self.register_buffer("readout_bias", torch.zeros(n_classes, dtype=input_weights.dtype))   # (K,)

    def hidden(self, x: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """(N, 2) points -> (N, width) hidden activations, the first `width` units (all by default)."""
        a, c = self.input_weights[:width], self.input_bias[:width]
        return ACTIVATIONS[self.activation]((x.to(a.dtype) / DOMAIN) @ a.T + c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x) @ self.readout.T + self.readout_bias


@dataclass
class ELMSnapshot:
    step: int                      # widths of the sweep fitted so far
    hidden: int                    # the ELM's own width (the one drawn on the plane)
    train_accuracy: float
    test_accuracy: float
    readout_norm: float            # ‖W‖ of the read-out: it grows where the fit interpolates noise
    sweep_widths: list[int] = field(default_factory=list)       # the widths fitted so far
    sweep_train_accuracy: list[float] = field(default_factory=list)
    sweep_test_accuracy: list[float] = field(default_factory=list)
    diverged: bool = False         # never: a ridge solve has nothing to diverge
    finished: bool = False         # every width of the sweep fitted

    def to_json_dict(self) -> dict:
        return asdict(self)


def twin_config(config: ELMConfig, hidden: list[int] | None = None) -> ExperimentConfig:
    """The Playground's config for an MLP trained by backprop on the very points of this ELM (same data
    set, noise, split and seed): the ELM's twin."""
    d = config.data
    return ExperimentConfig(
        task="classify2d",
        data=DataConfig(name=d.name, n_samples=d.n_samples, noise=d.noise, test_fraction=d.test_fraction,
                        n_classes=3),
        model=ModelConfig(hidden=list(hidden or [8, 8]), activation="tanh"),
        train=TrainConfig(loss="ce" if d.name == "blobs" else "bce", optimizer="adam", lr=0.03, batch_size=10,
                          seed=config.train.seed))


class ELMTrainer:
    def __init__(self, config: ELMConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.dtype = reservoir_dtype(self.device)
        self.dataset: Dataset2D = make_dataset(twin_config(config))
        self.n_classes = max(2, self.dataset.n_classes)
        ds = self.dataset
        self.x_train = torch.from_numpy(ds.train_xy).to(self.device, self.dtype)    # (N, 2)
        self.x_test = torch.from_numpy(ds.test_xy).to(self.device, self.dtype)      # (M, 2)
        self.y_train = torch.from_numpy(ds.train_y).to(self.device)                  # (N,)
        self.y_test = torch.from_numpy(ds.test_y).to(self.device)                    # (M,)
        m, t = config.model, config.train
        # One random layer as wide as the widest use, so that every width is a prefix of the same units.
        units = max(m.hidden, *t.sweep)
        gen = torch.Generator().manual_seed(t.seed + 11)
        weights = torch.randn(units, 2, generator=gen, dtype=torch.float64) * m.input_scale
        bias = (torch.rand(units, generator=gen, dtype=torch.float64) * 2 - 1) * m.input_scale
        self.model = ELM(weights.to(self.device, self.dtype), bias.to(self.device, self.dtype), m.activation,
                         self.n_classes)
        self.model.readout, self.model.readout_bias = self._fit(m.hidden)
        self.model.readout = self._padded(self.model.readout)
        self.step_count = 0
        self.diverged = False
        self.sweep: list[tuple[int, float, float]] = []    # (width, train accuracy, test accuracy)
        self.history: list[dict] = []
        # The MLP trained by backprop on the very same points (twin_config), where one is trained beside
        # the ELM: it is not stepped here, but its checkpoint travels in this one.
        self.twin: Trainer | None = None

    @property
    def finished(self) -> bool:
        return self.step_count >= len(self.config.train.sweep)

    def _targets(self) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.y_train, self.n_classes).to(self.dtype)   # (N, K)

    def features(self, x: torch.Tensor, width: int) -> torch.Tensor:
        return self.model.hidden(x, width)

    def _fit(self, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        return fit_ridge(self.features(self.x_train, width), self._targets(), self.config.model.ridge)

    def _padded(self, readout: torch.Tensor) -> torch.Tensor:
        """The read-out of the first `hidden` units, zero for the units beyond (the module reads them all)."""
        full = torch.zeros(self.n_classes, self.model.input_weights.shape[0], dtype=self.dtype, device=self.device)
        full[:, :readout.shape[1]] = readout
        return full

    def _accuracy(self, x, y, width: int, readout, bias) -> float:
        scores = self.features(x, width) @ readout.T + bias
        return float((scores.argmax(1) == y).double().mean()) if len(y) else math.nan

    def step(self, n: int = 1) -> ELMSnapshot:
        """Fit the next n widths of the sweep (fewer at its end) and return a snapshot."""
        for _ in range(max(0, int(n))):
            if self.finished:
                break
            width = self.config.train.sweep[self.step_count]
            w, b = self._fit(width)
            self.sweep.append((width, self._accuracy(self.x_train, self.y_train, width, w, b),
                               self._accuracy(self.x_test, self.y_test, width, w, b)))
            self.step_count += 1
        return self.snapshot()

    # ---- checkpoints (engine/reservoirs/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config, the sweep so far, the history and the twin's own checkpoint, if any: loadable with
        torch.load(weights_only=True). The random layer and the read-out are drawn and solved again from
        the config, the same numbers, so that stepping on gives what the run would have given."""
        return checkpoint.elm_checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "ELMTrainer":
        """Rebuild a trainer (and its twin) from checkpoint_bytes(); ValueError naming what is wrong."""
        return checkpoint.elm_from_checkpoint(cls, data, device, Trainer, twin_config)

    def snapshot(self) -> ELMSnapshot:
        with torch.no_grad():
            train_acc = float((self.model(self.x_train).argmax(1) == self.y_train).double().mean())
            test_acc = float((self.model(self.x_test).argmax(1) == self.y_test).double().mean()) \
                if len(self.y_test) else math.nan
        widths, train, test = (list(v) for v in zip(*self.sweep)) if self.sweep else ([], [], [])
        snap = ELMSnapshot(step=self.step_count, hidden=self.config.model.hidden, train_accuracy=train_acc,
                           test_accuracy=test_acc, readout_norm=float(self.model.readout.norm()),
                           sweep_widths=widths, sweep_train_accuracy=train, sweep_test_accuracy=test,
                           finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({"step": snap.step, "train_accuracy": train_acc, "test_accuracy": test_acc})
        return snap

    def plane(self, resolution: int = 60) -> np.ndarray:
        """(resolution, resolution) over [-6, 6]² (row 0 at x2 = -6): P(class 1) as the softmax of the
        read-out's scores for two classes, the winning class for more (the Playground's convention)."""
        xy = torch.from_numpy(grid_points(resolution)).to(self.device, self.dtype)
        with torch.no_grad():
            scores = self.model(xy)
        out = torch.softmax(scores, 1)[:, 1] if self.n_classes == 2 else scores.argmax(1).to(self.dtype)
        return out.float().cpu().numpy().reshape(resolution, resolution)

    def hidden_features(self, x: np.ndarray | None = None, width: int | None = None) -> np.ndarray:
        """(N, width) hidden activations of points (N, 2) (the training points by default)."""
        points = self.x_train if x is None else torch.as_tensor(np.asarray(x), dtype=self.dtype, device=self.device)
        with torch.no_grad():
            return self.features(points, width or self.config.model.hidden).cpu().numpy()

    def unit_maps(self, count: int = 8, resolution: int = 40) -> np.ndarray:
        """(count, resolution, resolution): what the first `count` random hidden units compute over the plane."""
        xy = torch.from_numpy(grid_points(resolution)).to(self.device, self.dtype)
        with torch.no_grad():
            h = self.features(xy, min(count, self.config.model.hidden))
        return h.T.float().cpu().numpy().reshape(-1, resolution, resolution)
