"""The Foundations page's logic, free of Streamlit so it is unit-tested as plain Python:
which trainings its buttons run and what they hand to the figures."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import Trainer
from engine.foundations.neuron import MARGIN_LOSSES, logistic_regression_config, loss_comparison_config

TRAIN_EPOCHS = 20          # one press of Train: enough for a neuron on 210 points to find the boundary
LIVE_EPOCHS_PER_FRAME = 2  # while playing: a neuron's epoch on 210 points takes a few milliseconds
COMPARE_EPOCHS = 40
LINEAR_SETS = {"gauss": "Two gaussians", "moons": "Moons", "circle": "Circle (no line separates it)",
               "xor": "XOR (no line separates it)"}
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
SURFACE_LABELS = {"logistic_w_b": "Logistic regression: loss over (w, b)",
                  "logistic_w1_w2": "Logistic regression: loss over (w₁, w₂), b = 0",
                  "rosenbrock": "Rosenbrock's valley", "saddle": "Saddle point"}
SURFACE_LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def latex_factor(name: str) -> str:
    """A factor name such as ∂z₁[0]/∂W₁[0,1] as a LaTeX fraction, for st.latex."""
    top, bottom = (part.removeprefix("∂") for part in name.split("/"))
    def tex(s):
        return s.replace("ŷ", r"\hat y").replace("₁", "_1").replace("₂", "_2")
    return rf"\frac{{\partial {tex(top)}}}{{\partial {tex(bottom)}}}"


def neuron_weights(trainer: Trainer) -> tuple[float, float, float]:
    """(w1, w2, b) of a trainer without hidden layers: the single neuron logistic regression is."""
    weights = trainer.weights()
    if len(weights) != 1 or weights[0][0].shape != (1, 2):
        raise ValueError("expected a network with no hidden layer on the inputs x1, x2")
    w, b = weights[0]
    return float(w[0, 0]), float(w[0, 1]), float(b[0])


def new_logistic_trainer(data_name: str, noise: float, lr: float, seed: int, device="cpu") -> Trainer:
    return Trainer(logistic_regression_config(data_name, noise=noise, lr=lr, seed=seed), device)


def train_epochs(trainer: Trainer, epochs: int = TRAIN_EPOCHS, resolution: int = 50):
    """Train `epochs` more epochs and return the snapshot with the output over the plane.
    One epoch at a time, so that the loss curve gets a point per epoch."""
    for _ in range(epochs - 1):
        if trainer.run_epochs(1).diverged:
            break
    return trainer.run_epochs(1, plane_resolution=resolution)


@dataclass
class LossComparison:
    """One trainer per loss on the same data and network, trained side by side."""
    trainers: dict[str, Trainer]
    snapshots: dict


def compare_losses(data_name: str, noise: float, hidden: list[int], seed: int, epochs: int = COMPARE_EPOCHS,
                   device="cpu", resolution: int = 40) -> LossComparison:
    trainers = {loss: Trainer(loss_comparison_config(loss, data_name, noise, hidden, seed), device)
                for loss in MARGIN_LOSSES}
    snapshots = {loss: train_epochs(t, epochs, resolution) for loss, t in trainers.items()}
    return LossComparison(trainers, snapshots)


def nearest_option(value: float, options: list[float]) -> float:
    """The option closest to value on a log scale (a select_slider only takes its own options)."""
    return min(options, key=lambda o: abs(np.log(o) - np.log(value)))
