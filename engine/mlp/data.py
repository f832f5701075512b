"""The 2-D data sets, after TensorFlow Playground's dataset.ts, in NumPy.

Each generator takes (n, noise, rng) and returns points (n, 2) in [-6, 6]² and labels (n,):
class indices 0..k-1 for classification, real targets in [-1, 1] for regression.
The functions are self-contained (NumPy only) so the exporter can copy their source
into a standalone script.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ExperimentConfig


def make_circle(n, noise, rng):
    radius = 5.0
    half = n // 2
    r = np.concatenate([rng.uniform(0, radius * 0.5, half), rng.uniform(radius * 0.7, radius, n - half)])
    angle = rng.uniform(0, 2 * np.pi, n)
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    xy_noisy = xy + rng.uniform(-radius, radius, (n, 2)) * noise
    # The label comes from the noisy position, as in the original: noise blurs the border.
    labels = (np.hypot(xy_noisy[:, 0], xy_noisy[:, 1]) < radius * 0.5).astype(np.int64)
    return xy_noisy, labels


def make_xor(n, noise, rng):
    padding = 0.3
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, padding, -padding)
    xy_noisy = xy + rng.uniform(-5, 5, (n, 2)) * noise
    labels = (xy_noisy[:, 0] * xy_noisy[:, 1] >= 0).astype(np.int64)
    return xy_noisy, labels


def make_gauss(n, noise, rng):
    variance = 0.5 + (4.0 - 0.5) * noise / 0.5
    half = n // 2
    centers = np.array([[2.0, 2.0], [-2.0, -2.0]])
    labels = np.concatenate([np.ones(half, np.int64), np.zeros(n - half, np.int64)])
    xy = centers[1 - labels] + rng.normal(0, np.sqrt(variance), (n, 2))
    return xy, labels


def make_spiral(n, noise, rng):
    half = n // 2
    parts, labels = [], []
    for label, (count, delta) in enumerate(((half, np.pi), (n - half, 0.0))):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * np.pi + delta
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (count, 2)) * noise
        parts.append(xy)
        labels.append(np.full(count, label, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


def make_moons(n, noise, rng):
    half = n // 2
    t_out, t_in = rng.uniform(0, np.pi, half), rng.uniform(0, np.pi, n - half)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    xy = (np.concatenate([outer, inner]) - [0.5, 0.25]) * 3.2
    xy += rng.normal(0, 1, (n, 2)) * noise * 2
    labels = np.concatenate([np.zeros(half, np.int64), np.ones(n - half, np.int64)])
    return xy, labels


def make_blobs(n, noise, rng, n_classes=3):
    angles = 2 * np.pi * np.arange(n_classes) / n_classes + np.pi / 2
    centers = 3.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = np.arange(n) % n_classes
    xy = centers[labels] + rng.normal(0, 0.8 + 4 * noise, (n, 2))
    return xy, labels.astype(np.int64)


def make_plane(n, noise, rng):
    xy = rng.uniform(-6, 6, (n, 2))
    noisy = xy + rng.uniform(-6, 6, (n, 2)) * noise
    target = np.clip((noisy[:, 0] + noisy[:, 1]) / 10, -1, 1)
    return xy, target


def make_multigauss(n, noise, rng):
    # Six bumps of sign +-1; the target is the strongest bump at each point.
    centers = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])
    xy = rng.uniform(-6, 6, (n, 2))
    noisy = xy + rng.uniform(-6, 6, (n, 2)) * noise
    d2 = ((noisy[:, None, :] - centers[None, :, :2]) ** 2).sum(-1)
    bumps = centers[None, :, 2] * np.exp(-d2 / 2)
    target = bumps[np.arange(n), np.abs(bumps).argmax(1)]
    return xy, target


GENERATORS = {
    "circle": make_circle, "xor": make_xor, "gauss": make_gauss, "spiral": make_spiral,
    "moons": make_moons, "blobs": make_blobs, "plane": make_plane, "multigauss": make_multigauss,
}

FEATURE_FUNCTIONS = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}
FEATURE_LABELS = {"x1": "x₁", "x2": "x₂", "x1_sq": "x₁²", "x2_sq": "x₂²", "x1_x2": "x₁x₂",
                  "sin_x1": "sin x₁", "sin_x2": "sin x₂"}


def make_features(xy: np.ndarray, features: list[str]) -> np.ndarray:
    """(n, 2) points -> (n, len(features)) network inputs, float32."""
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {xy.shape}")
    x1, x2 = xy[:, 0], xy[:, 1]
    return np.stack([FEATURE_FUNCTIONS[f](x1, x2) for f in features], axis=1).astype(np.float32)


@dataclass
class Dataset2D:
    """Points and labels split into train and test. Labels are int64 classes or float32 targets."""
    train_xy: np.ndarray
    train_y: np.ndarray
    test_xy: np.ndarray
    test_y: np.ndarray
    n_classes: int  # 0 for regression


def make_points(config: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """All points and labels of the config's data set, before the split."""
    d = config.data
    if d.name == "custom":
        pts = np.asarray(d.points, dtype=np.float64)
        xy, y = pts[:, :2], pts[:, 2]
        return xy, (y.astype(np.int64) if config.task == "classify2d" else y)
    rng = np.random.default_rng(config.train.seed)
    if d.name == "blobs":
        return make_blobs(d.n_samples, d.noise, rng, d.n_classes)
    return GENERATORS[d.name](d.n_samples, d.noise, rng)


def make_dataset(config: ExperimentConfig) -> Dataset2D:
    """Generate and split the data set a config names. Same config and seed, same data."""
    xy, y = make_points(config)
    rng = np.random.default_rng(config.train.seed + 1)
    order = rng.permutation(len(xy))
    n_test = int(round(len(xy) * config.data.test_fraction))
    if config.data.test_fraction > 0:
        n_test = min(max(n_test, 1), len(xy) - 1)
    test, train = order[:n_test], order[n_test:]
    y = y.astype(np.int64) if config.task == "classify2d" else y.astype(np.float32)
    return Dataset2D(xy[train].astype(np.float32), y[train], xy[test].astype(np.float32), y[test], config.n_classes)


def grid_points(resolution: int = 50, domain: float = 6.0) -> np.ndarray:
    """(resolution², 2) points covering [-domain, domain]², row by row from the bottom (x2 = -domain)."""
    axis = np.linspace(-domain, domain, resolution, dtype=np.float32)
    x1, x2 = np.meshgrid(axis, axis)
    return np.stack([x1.ravel(), x2.ravel()], axis=1)
