"""What the trainers' tests share (test_trainer.py, test_checkpoint.py; _weights also the
autoencoder tests): small configs and ways to read a run's weights and losses."""
from __future__ import annotations

import torch

from engine.mlp.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

SMALL = ExperimentConfig(data=DataConfig(name="spiral", n_samples=200), model=ModelConfig(hidden=[6, 6]))
# Regression with std-1 weights, ReLU and a learning rate of 10 blows up within a few steps.
EXPLODING = ExperimentConfig(task="regress2d", data=DataConfig(name="plane", n_samples=200),
                             model=ModelConfig(hidden=[8, 8], activation="relu", init="normal"),
                             train=TrainConfig(loss="mse", lr=10.0))
CUSTOM = [[-3, -3, 0], [-2, -3, 0], [-3, -2, 0], [-2, -2, 0], [3, 3, 1], [2, 3, 1], [3, 2, 1], [2, 2, 1]]


def _weights(trainer):
    return [p.detach().clone() for p in trainer.model.parameters()]


def _same_weights(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def _losses(trainer, chunks, n):
    return [trainer.step(n).train_loss for _ in range(chunks)]
