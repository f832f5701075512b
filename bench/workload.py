"""The benchmark workload: the Playground's opening setup, and a plain PyTorch loop on it.

The config mirrors the Playground's default preset (TensorFlow Playground's opening
screen): circle, 500 points, half held out, inputs x1 and x2, hidden [4, 2] tanh,
binary cross-entropy, SGD at 0.03, batches of 10.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.mlp.config import ExperimentConfig
from engine.mlp.data import make_dataset, make_features

PLAYGROUND_DEFAULT = {
    "data": {"name": "circle", "n_samples": 500, "noise": 0.0, "test_fraction": 0.5, "features": ["x1", "x2"]},
    "model": {"hidden": [4, 2], "activation": "tanh"},
    "train": {"loss": "bce", "optimizer": "sgd", "lr": 0.03, "batch_size": 10, "seed": 0},
}


# The P1 workload: TensorFlow Playground's own defaults (spiral, 250 training
# points, 2-4-2-1 tanh, batch 10, lr 0.03, squared error).
TFP_WORKLOAD = {
    "data": {"name": "spiral", "n_samples": 500, "noise": 0.0, "test_fraction": 0.5, "features": ["x1", "x2"]},
    "model": {"hidden": [4, 2], "activation": "tanh"},
    "train": {"loss": "mse", "optimizer": "sgd", "lr": 0.03, "batch_size": 10, "seed": 0},
}


def playground_config() -> ExperimentConfig:
    return ExperimentConfig.from_dict(PLAYGROUND_DEFAULT)


def tfp_config() -> ExperimentConfig:
    return ExperimentConfig.from_dict(TFP_WORKLOAD)


def describe(config: ExperimentConfig) -> str:
    d, m, t = config.data, config.model, config.train
    n_train = d.n_samples - round(d.n_samples * d.test_fraction)
    return (f"{d.name}, {d.n_samples} points ({n_train} train), {' '.join(d.features)}, hidden {m.hidden} "
            f"{m.activation}, {t.loss}, {t.optimizer} lr {t.lr:g}, batch {t.batch_size}")


class PlainLoop:
    """What a person would write by hand for the same job: nn.Sequential, torch.optim.SGD,
    BCEWithLogitsLoss (or, for loss "mse", MSELoss on the sigmoid), a fresh shuffle each
    epoch, one step per batch. No probes, no divergence checks, no snapshots: the floor the
    Trainer's overhead is measured against."""

    def __init__(self, config: ExperimentConfig, device: torch.device):
        ds = make_dataset(config)  # the very points the Trainer trains on
        self.device = device
        self.x = torch.from_numpy(make_features(ds.train_xy, config.data.features)).to(device)
        self.y = torch.from_numpy(ds.train_y).float().to(device)
        widths = [len(config.data.features)] + list(config.model.hidden)
        layers: list[nn.Module] = []
        torch.manual_seed(config.train.seed)
        for d_in, d_out in zip(widths, widths[1:]):
            layers += [nn.Linear(d_in, d_out), nn.Tanh()]
        self.model = nn.Sequential(*layers, nn.Linear(widths[-1], 1)).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.train.lr)
        if config.train.loss == "mse":
            mse = nn.MSELoss()
            self.loss_fn = lambda scores, y: mse(torch.sigmoid(scores), y)
        else:
            self.loss_fn = nn.BCEWithLogitsLoss()
        self.batch_size = config.train.batch_size
        self.generator = torch.Generator().manual_seed(config.train.seed + 2)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def run_epochs(self, epochs: int) -> float:
        """Train `epochs` full passes; returns the last batch loss (read once, at the end)."""
        n = len(self.x)
        for _ in range(epochs):
            order = torch.randperm(n, generator=self.generator).to(self.device)
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                loss = self.loss_fn(self.model(self.x[idx]).squeeze(-1), self.y[idx])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
        return float(loss.detach())
