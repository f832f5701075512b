"""The reservoirs' data: two time series to predict one step ahead (a quasi-periodic sum of sines and
the chaotic Mackey–Glass series, integrated from its delay equation) and the 8×8 digits fed row by row,
as analog rows for the echo state network and as spike trains for the liquid state machine.

Shapes: a series is (T,) float64; digit rows are (N, 8, 8) (digit, row = time, column = input);
spike trains are (N, T, 8) with T = 8 rows × steps per row."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..core.digits import IMAGE_SIDE

# Mackey–Glass: dx/dt = β x(t−τ) / (1 + x(t−τ)^n) − γ x(t), chaotic for τ = 17 (Mackey & Glass 1977).
MG_BETA, MG_GAMMA, MG_N, MG_TAU = 0.2, 0.1, 10, 17.0
MG_DT = 0.1            # integration step (time units); the series is sampled once per time unit
MG_HISTORY = 1.2       # x(t) for t ≤ 0, the usual constant history
MG_TRANSIENT = 300     # time units dropped at the start, before the attractor is reached


def mackey_glass_rate(x: float, x_delayed: float) -> float:
    """dx/dt of the Mackey–Glass equation at x(t) = x and x(t − τ) = x_delayed."""
    return MG_BETA * x_delayed / (1.0 + x_delayed ** MG_N) - MG_GAMMA * x


def mackey_glass(length: int, tau: float = MG_TAU, dt: float = MG_DT, transient: int = MG_TRANSIENT) -> np.ndarray:
    """(length,) samples, one per time unit, of the Mackey–Glass series integrated with the classical
    fourth-order Runge–Kutta method on a grid of step dt. The delayed value a stage needs half a step
    off the grid is the mean of its two grid neighbours (linear interpolation), the usual treatment of
    a delay equation's history. The first `transient` time units are dropped."""
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    per_unit = round(1.0 / dt)
    lag = round(tau / dt)                      # the delay in grid steps (17 / 0.1 = 170)
    steps = (length + transient) * per_unit
    x = np.empty(steps + 1)
    x[0] = MG_HISTORY

    def delayed(i: int) -> float:              # x at grid step i − lag (the constant history before 0)
        j = i - lag
        return x[j] if j >= 0 else MG_HISTORY

    for i in range(steps):
        d0, d1 = delayed(i), delayed(i + 1)
        half = 0.5 * (d0 + d1)
        xi = x[i]
        k1 = mackey_glass_rate(xi, d0)
        k2 = mackey_glass_rate(xi + 0.5 * dt * k1, half)
        k3 = mackey_glass_rate(xi + 0.5 * dt * k2, half)
        k4 = mackey_glass_rate(xi + dt * k3, d1)
        x[i + 1] = xi + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x[transient * per_unit::per_unit][:length].copy()


def sine_series(length: int, phase: float = 0.0) -> np.ndarray:
    """(length,) samples of sin(0.2 t) + 0.5 sin(0.311 t + phase): two incommensurate periods, so the
    wave never repeats exactly and a read-out must track both."""
    t = np.arange(length, dtype=np.float64)
    return np.sin(0.2 * t) + 0.5 * np.sin(0.311 * t + phase)


SERIES = {"mackey_glass": mackey_glass, "sine": sine_series}


def series(name: str, length: int) -> np.ndarray:
    """The named series, `length` samples."""
    if name not in SERIES:
        raise ValueError(f"unknown series {name!r}; choose from {', '.join(SERIES)}")
    return SERIES[name](length)


def digit_rows(images: np.ndarray) -> np.ndarray:
    """(N, 64) digits -> (N, 8, 8): row r is what the network sees at time r (8 inputs, one per column)."""
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"digits must have shape (N, 64), got {images.shape}")
    return images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def spike_trains(images: np.ndarray, steps_per_row: int, encoding: str, max_rate: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 64) digits in [0, 1] -> (N, 8·steps_per_row, 8) spikes (float 0/1, on the CPU), one input
    neuron per column, the rows one after another, each held for steps_per_row time steps.

    poisson: in each step input neuron j fires with probability max_rate · pixel (max_rate in spikes
    per step, at most 1), a Bernoulli draw from `generator`. threshold: a pixel of 0.5 or more fires in
    every step of its row, a darker-than-half one never (deterministic)."""
    rows = torch.from_numpy(digit_rows(np.asarray(images, dtype=np.float32)).copy())   # (N, 8, 8)
    held = rows.repeat_interleave(steps_per_row, dim=1)                                 # (N, 8·s, 8)
    if encoding == "threshold":
        return (held >= 0.5).float()
    if encoding == "poisson":
        p = (held * float(max_rate)).clamp(0.0, 1.0)
        return torch.bernoulli(p, generator=generator)
    raise ValueError(f"unknown encoding {encoding!r}; choose poisson or threshold")


def nrmse(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error over the truth's standard deviation: 0 is perfect, 1 is as good as
    predicting the mean. NaN for an empty or constant truth."""
    prediction, truth = np.asarray(prediction, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if truth.size == 0 or prediction.shape != truth.shape:
        return math.nan
    spread = float(truth.std())
    return float(np.sqrt(np.mean((prediction - truth) ** 2)) / spread) if spread > 0 else math.nan
