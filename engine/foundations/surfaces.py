"""Two-parameter loss surfaces and the paths optimisers take on them.

A surface is a function of two parameters θ = (a, b): a classic test function
(Rosenbrock's banana valley, a saddle) or a real loss — logistic regression's BCE on the
current 2-D data, over (w, b) of the points projected on one axis, or over (w1, w2) with
the bias fixed at 0. Paths come from the real torch.optim optimisers (engine.core.registries),
so what the contour plot shows is what training does. Pure PyTorch + NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.losses import data_loss
from ..core.registries import make_optimizer
from ..mlp.data import make_dataset
from .neuron import logistic_regression_config

PATH_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
ESCAPE_FACTOR = 4.0  # a path farther than this many plot widths from the window has diverged


@dataclass
class Surface:
    """loss(theta (..., 2), batch=None) -> (...,) loss; batch: indices of the points of a
    mini-batch (data surfaces only; None = all points)."""
    name: str
    title: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    axis_labels: tuple[str, str]
    loss: object
    minimum: tuple[float, float] | None = None  # where the minimum is, when it is known in closed form
    n_points: int = 0                           # data points behind a data surface (0: a formula)
    default_lr: float = 0.01                    # a learning rate at which SGD converges in ~100 steps
    note: str = ""
    extras: dict = field(default_factory=dict)

    def grid(self, resolution: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs (r,), ys (r,), loss (r, r)) with loss[i, j] at (xs[j], ys[i])."""
        xs = np.linspace(*self.x_range, resolution)
        ys = np.linspace(*self.y_range, resolution)
        gx, gy = np.meshgrid(xs, ys)
        theta = torch.from_numpy(np.stack([gx, gy], axis=-1))
        with torch.no_grad():
            return xs, ys, self.loss(theta).numpy()

    def gradient(self, point) -> np.ndarray:
        theta = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(self.loss(theta), theta)
        return g.numpy()


def rosenbrock_loss(theta: torch.Tensor, batch=None, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    x, y = theta[..., 0], theta[..., 1]
    return (a - x) ** 2 + b * (y - x * x) ** 2


def saddle_loss(theta: torch.Tensor, batch=None) -> torch.Tensor:
    # x² - y² is flat-topped at (0, 0): the gradient there is zero though it is no minimum.
    # The quartic term keeps it bounded below so that paths escape to two valleys, not to -∞.
    x, y = theta[..., 0], theta[..., 1]
    return x * x - y * y + 0.25 * y ** 4


def rosenbrock() -> Surface:
    return Surface("rosenbrock", "Rosenbrock's valley", (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), ("x", "y"),
                   rosenbrock_loss, minimum=(1.0, 1.0), default_lr=0.001,
                   note="(1 - x)² + 100·(y - x²)²: a curved, narrow valley with its minimum at (1, 1)")


def saddle() -> Surface:
    return Surface("saddle", "Saddle", (-2.0, 2.0), (-2.5, 2.5), (-1.8, 0.01), ("x", "y"),
                   saddle_loss, minimum=(0.0, float(np.sqrt(2))), default_lr=0.03,
                   note="x² - y² + y⁴/4: a saddle at (0, 0) between two valleys at y = ±√2")


def logistic_surface(data_name: str = "gauss", noise: float = 0.5, seed: int = 0, slice_: str = "w_b") -> Surface:
    """Logistic regression's mean BCE on the training points of a 2-D data set.

    slice_ "w_b": the points projected on the direction between the two class means
    (unit length), one weight w and the bias b — the whole model, no slice.
    slice_ "w1_w2": both input weights, with the bias held at 0 (a slice of the 3-D loss)."""
    ds = make_dataset(logistic_regression_config(data_name, noise=noise, seed=seed))
    xy = torch.from_numpy(ds.train_xy).double() / 6.0  # inputs in [-1, 1]: weights of order 1..10 matter
    labels = torch.from_numpy(ds.train_y)
    if slice_ == "w_b":
        direction = xy[labels == 1].mean(0) - xy[labels == 0].mean(0)
        direction = direction / direction.norm().clamp_min(1e-12)
        projected = xy @ direction  # (n,)

        def scores(theta, idx):
            return theta[..., 0, None] * projected[idx] + theta[..., 1, None]  # (..., m)
        labels_axes, x_range, y_range, start = ("w", "b"), (-6.0, 14.0), (-8.0, 8.0), (-4.0, 6.0)
    elif slice_ == "w1_w2":
        def scores(theta, idx):
            return theta[..., 0, None] * xy[idx, 0] + theta[..., 1, None] * xy[idx, 1]
        labels_axes, x_range, y_range, start = ("w₁", "w₂"), (-10.0, 10.0), (-10.0, 10.0), (-8.0, -6.0)
    else:
        raise ValueError(f"slice_ must be 'w_b' or 'w1_w2', got {slice_!r}")

    def loss(theta: torch.Tensor, batch=None) -> torch.Tensor:
        idx = torch.arange(len(labels)) if batch is None else batch
        s = scores(theta, idx)
        target = labels[idx].to(s.dtype).expand_as(s)
        # The same BCE the Trainer uses (data_loss), one value per θ on the grid.
        return torch.nn.functional.binary_cross_entropy_with_logits(s, target, reduction="none").mean(-1)

    # The same number through engine.core.losses for one θ, which the tests compare against.
    def engine_loss(theta) -> float:
        t = torch.as_tensor(theta, dtype=torch.float64)
        s = scores(t, torch.arange(len(labels)))
        return float(data_loss(s[:, None], labels, "bce", 2))

    minimum = _convex_minimum(loss, start)
    title = "Logistic regression (w, b)" if slice_ == "w_b" else "Logistic regression (w₁, w₂), b = 0"
    return Surface(f"logistic_{slice_}", title, x_range, y_range, start, labels_axes, loss, minimum=minimum, n_points=len(labels), default_lr=1.0,
                   note=f"mean BCE on the {len(labels)} training points of '{data_name}' (coordinates / 6)",
                   extras={"engine_loss": engine_loss})


def _convex_minimum(loss, start) -> tuple[float, float]:
    """The minimum of a convex loss (logistic regression's is), by L-BFGS. With noisy data
    it is finite; on separable data it lies at infinity and this returns a far point."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-10)

    def closure():
        opt.zero_grad()
        value = loss(theta)
        value.backward()
        return value
    opt.step(closure)
    found = theta.detach()
    return float(found[0]), float(found[1])


def make_surface(name: str, data_name: str = "gauss", noise: float = 0.5, seed: int = 0) -> Surface:
    if name == "rosenbrock":
        return rosenbrock()
    if name == "saddle":
        return saddle()
    if name in ("logistic_w_b", "logistic_w1_w2"):
        return logistic_surface(data_name, noise, seed, name.removeprefix("logistic_"))
    raise ValueError(f"unknown surface {name!r}; choose rosenbrock, saddle, logistic_w_b or logistic_w1_w2")


@dataclass
class OptimizerPath:
    optimizer: str
    points: np.ndarray   # (steps + 1, 2) θ from the start on; ends early if the path diverged
    losses: np.ndarray   # (steps + 1,) the full loss at each point
    diverged: bool


def optimizer_path(surface: Surface, optimizer: str, lr: float, steps: int = 100,
                   start: tuple[float, float] | None = None, batch_size: int = 0, seed: int = 0) -> OptimizerPath:
    """Run a real torch.optim optimiser on the surface from `start`.

    batch_size > 0 on a data surface: each step follows the gradient of a random mini-batch
    (drawn from a seeded generator), which makes the path noisy; 0 = all points."""
    theta = torch.tensor(start or surface.start, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(optimizer, [theta], lr, momentum=0.0)  # "momentum" uses 0.9
    gen = torch.Generator().manual_seed(seed)
    width = max(surface.x_range[1] - surface.x_range[0], surface.y_range[1] - surface.y_range[0])
    center = np.array([sum(surface.x_range) / 2, sum(surface.y_range) / 2])
    points, losses, diverged = [theta.detach().numpy().copy()], [float(surface.loss(theta.detach()))], False
    for _ in range(steps):
        batch = None
        if batch_size and surface.n_points and batch_size < surface.n_points:
            batch = torch.randperm(surface.n_points, generator=gen)[:batch_size]
        opt.zero_grad()
        surface.loss(theta, batch).backward()
        opt.step()
        point = theta.detach().numpy().copy()
        full = float(surface.loss(theta.detach()))
        if not (np.isfinite(point).all() and np.isfinite(full)) or np.abs(point - center).max() > ESCAPE_FACTOR * width:
            diverged = True
            break
        points.append(point)
        losses.append(full)
    return OptimizerPath(optimizer, np.array(points), np.array(losses), diverged)


def optimizer_paths(surface: Surface, lr: float, steps: int = 100, optimizers=PATH_OPTIMIZERS,
                    batch_size: int = 0, seed: int = 0) -> list[OptimizerPath]:
    """One path per optimiser, all from the surface's start with the same learning rate and
    the same mini-batches (the same seed), so the paths differ only by the update rule."""
    return [optimizer_path(surface, name, lr, steps, batch_size=batch_size, seed=seed) for name in optimizers]
