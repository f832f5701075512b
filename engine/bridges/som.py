"""A self-organising map (Kohonen, 1982): a grid of prototypes in the data space, trained
online. Each step draws one point, finds its best-matching unit (BMU, the nearest prototype)
and pulls every prototype towards the point by lr(t) · h(t), where h is a Gaussian of the
*grid* distance to the BMU with radius sigma(t). Both lr and sigma decay exponentially from
their start to their end value over `steps`, then stay there: early on the whole map moves
together and unfolds over the data, at the end each unit moves alone, as k-means would.

Shapes: data (N, d); prototypes (rows, cols, d); grid coordinates (rows·cols, 2).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..core.config import ConfigError, _check, _check_range
from . import checkpoint

SOM_DATASETS = ("moons", "circle", "gauss", "blobs", "spiral", "xor", "digits")


@dataclass
class SOMConfig:
    data: str = "moons"        # a 2-D set of engine/mlp/data.py, or "digits" (8×8 images, 64-D)
    n_samples: int = 500       # 2-D sets: points generated (50..5000); digits use all 1,797 images
    noise: float = 0.1         # 2-D sets: 0..0.5
    rows: int = 8              # map height in units, 2..20
    cols: int = 8              # map width in units, 2..20
    steps: int = 4000          # length of the decay schedule in presentations (100..200000)
    lr_start: float = 0.5      # learning rate at step 0, 0.001..1
    lr_end: float = 0.01       # learning rate from `steps` on, 0.0001..lr_start
    radius_start: float = 0.0  # neighbourhood radius (grid units) at step 0; 0 = half the larger side
    radius_end: float = 0.5    # radius from `steps` on, 0.1..radius_start
    seed: int = 0              # data, initial prototypes and the order of presentations

    def __post_init__(self) -> None:
        _check(self.data in SOM_DATASETS, "data", f"unknown data set {self.data!r}; choose one of {', '.join(SOM_DATASETS)}")
        _check_range(self.n_samples, "n_samples", 50, 5000, "number of points", integer=True)
        _check_range(self.noise, "noise", 0, 0.5, "noise")
        _check_range(self.rows, "rows", 2, 20, "map height", integer=True)
        _check_range(self.cols, "cols", 2, 20, "map width", integer=True)
        _check_range(self.steps, "steps", 100, 200_000, "schedule length", integer=True)
        _check_range(self.lr_start, "lr_start", 0.001, 1.0, "start learning rate")
        _check_range(self.lr_end, "lr_end", 0.0001, self.lr_start, "end learning rate (at most the start rate)")
        _check_range(self.radius_start, "radius_start", 0.0, 20.0, "start radius (0 = automatic)")
        _check_range(self.radius_end, "radius_end", 0.1, max(0.1, self.initial_radius), "end radius (at most the start radius)")
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)

    @property
    def initial_radius(self) -> float:
        return self.radius_start if self.radius_start > 0 else max(self.rows, self.cols) / 2

    @classmethod
    def from_dict(cls, d: dict) -> "SOMConfig":
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known - {"task"}
        if extra:
            raise ConfigError(sorted(extra)[0], f"unknown field; the SOM config has {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)


def som_data(config: SOMConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) float32 points and (N,) labels (class, or digit) the map is trained on."""
    if config.data == "digits":
        from sklearn.datasets import load_digits  # ships with scikit-learn: no download
        bunch = load_digits()
        return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    from ..mlp.data import GENERATORS
    rng = np.random.default_rng(config.seed)
    xy, y = GENERATORS[config.data](config.n_samples, config.noise, rng)
    return xy.astype(np.float32), y.astype(np.int64)


def decay(start: float, end: float, t: int, total: int) -> float:
    """start · (end/start)^(t/total), held at `end` after `total` steps."""
    return start * (end / start) ** (min(t, total) / total)


def quantisation_error(x: np.ndarray, prototypes: np.ndarray) -> float:
    """Mean Euclidean distance from each point (N, d) to its nearest prototype (K, d)."""
    d = ((x[:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
    return float(np.sqrt(d.min(1)).mean())


@dataclass
class SOMSnapshot:
    step: int
    lr: float
    radius: float
    quantisation_error: float   # mean distance from a point to its BMU, in data units
    topographic_error: float    # share of points whose two nearest units are not grid neighbours
    prototypes: np.ndarray = field(repr=False)  # (rows, cols, d)
    diverged: bool = False
    finished: bool = False      # the schedule is over (training may go on at the end values)

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["prototypes"] = self.prototypes.tolist()
        return d


class SOMTrainer:
    """Online Kohonen training, resumable: step(5) then step(5) equals step(10)."""

    def __init__(self, config: SOMConfig, device: str | torch.device = "cpu",
                 data: tuple[np.ndarray, np.ndarray] | None = None):
        self.config = config
        self.device = torch.device("cpu")  # one point per step: a GPU would only add latency
        self.points_given = data is not None  # no config can make them again: a checkpoint holds them
        self.x_np, self.labels = data if data is not None else som_data(config)
        self.x = torch.from_numpy(self.x_np)
        self.generator = torch.Generator().manual_seed(config.seed)
        r, c = config.rows, config.cols
        rr, cc = torch.meshgrid(torch.arange(r), torch.arange(c), indexing="ij")
        self.grid = torch.stack([rr.ravel(), cc.ravel()], 1).float()  # (K, 2) unit positions on the map
        # A small random patch around the data's mean: the map starts crumpled and unfolds.
        mean, std = self.x.mean(0), self.x.std(0)
        self.weights = mean + 0.05 * std * torch.randn(r * c, self.x.shape[1], generator=self.generator)  # (K, d)
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []
        self.history.append(self._record())

    def schedule(self, t: int | None = None) -> tuple[float, float]:
        """(learning rate, radius) at step t (default: now)."""
        t = self.step_count if t is None else t
        c = self.config
        return (decay(c.lr_start, c.lr_end, t, c.steps), decay(c.initial_radius, c.radius_end, t, c.steps))

    def neighbourhood(self, bmu: int, radius: float) -> torch.Tensor:
        """(K,) exp(-|g_k - g_bmu|² / (2 radius²)) over the grid: 1 at the BMU."""
        d2 = ((self.grid - self.grid[bmu]) ** 2).sum(1)
        return torch.exp(-d2 / (2 * radius * radius))

    @property
    def finished(self) -> bool:
        return self.step_count >= self.config.steps

    def _one_step(self) -> None:
        i = int(torch.randint(len(self.x), (1,), generator=self.generator))
        point = self.x[i]
        bmu = int(((self.weights - point) ** 2).sum(1).argmin())
        lr, radius = self.schedule()
        h = self.neighbourhood(bmu, radius)
        self.weights += (lr * h)[:, None] * (point - self.weights)
        self.step_count += 1

    def step(self, n: int = 1) -> SOMSnapshot:
        for _ in range(int(n)):
            if self.diverged:
                break
            self._one_step()
        if not torch.isfinite(self.weights).all():  # cannot happen with lr <= 1, but never show NaN
            self.diverged = True
        self.history.append(self._record())
        return self.snapshot()

    def train_for(self, seconds: float, max_steps: int = 1_000_000) -> SOMSnapshot:
        deadline = time.perf_counter() + seconds
        done = 0
        while done < max_steps and time.perf_counter() < deadline and not self.diverged:
            chunk = min(50, max_steps - done)
            for _ in range(chunk):
                self._one_step()
            done += chunk
        self.history.append(self._record())
        return self.snapshot()

    def prototypes(self) -> np.ndarray:
        return self.weights.numpy().reshape(self.config.rows, self.config.cols, -1).copy()

    def bmu(self, x: np.ndarray) -> np.ndarray:
        """(N,) index (row·cols + col) of each point's best-matching unit."""
        w = self.weights.numpy()
        return ((x[:, None, :] - w[None]) ** 2).sum(-1).argmin(1)

    def topographic_error(self) -> float:
        w = self.weights.numpy()
        d = ((self.x_np[:, None, :] - w[None]) ** 2).sum(-1)
        two = np.argsort(d, axis=1)[:, :2]
        g = self.grid.numpy()
        gap = np.abs(g[two[:, 0]] - g[two[:, 1]]).max(1)  # 8-neighbourhood: both offsets at most 1
        return float((gap > 1).mean())

    def _record(self) -> dict:
        lr, radius = self.schedule()
        return {"step": self.step_count, "lr": lr, "radius": radius,
                "quantisation_error": quantisation_error(self.x_np, self.weights.numpy()),
                "topographic_error": self.topographic_error()}

    # ---- checkpoints (engine/bridges/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config, prototypes, the generator's state, the step and the curves, loadable with
        torch.load(weights_only=True). Loading it and training on gives the prototypes the map
        would have had without the pause."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "cpu") -> "SOMTrainer":
        """Rebuild a map from checkpoint_bytes(). Only tensors and plain data are unpickled
        (weights_only=True): a file that would run code is refused, and so is one whose contents
        do not fit its config (ValueError naming what is wrong)."""
        return checkpoint.from_checkpoint(cls, SOMConfig, data, device)

    def snapshot(self) -> SOMSnapshot:
        h = self.history[-1]
        return SOMSnapshot(step=self.step_count, lr=h["lr"], radius=h["radius"],
                           quantisation_error=h["quantisation_error"], topographic_error=h["topographic_error"],
                           prototypes=self.prototypes(), diverged=self.diverged, finished=self.finished)


def kmeans_counterpart(x: np.ndarray, k: int, seed: int = 0) -> dict:
    """scikit-learn's k-means with as many centres as the map has units."""
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    return {"centres": km.cluster_centers_.astype(np.float32), "labels": km.labels_,
            "quantisation_error": quantisation_error(x, km.cluster_centers_), "model": km}


def radius_at(config: SOMConfig, t: int) -> float:
    """The radius the schedule prescribes at step t (for a reader, and for the tests)."""
    return decay(config.initial_radius, config.radius_end, t, config.steps)


__all__ = ["SOMConfig", "SOMTrainer", "SOMSnapshot", "som_data", "quantisation_error", "kmeans_counterpart",
           "decay", "radius_at", "SOM_DATASETS"]
