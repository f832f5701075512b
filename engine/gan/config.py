"""GANConfig: the 2-D GAN task's validated settings (target, both networks, the game's rules)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.config import JSONConfigMixin, _check, _check_range, _is_number, flat_config_from_dict
from ..core.registries import ACTIVATIONS, OPTIMIZERS

TARGETS = ("ring", "line", "mixture", "moons", "spiral", "gaussian", "drawn")
LOSS_VARIANTS = ("minimax", "nonsaturating", "least_squares")
NOISE_TYPES = ("gaussian", "uniform")
DOMAIN = 2.0            # targets live in [-2, 2]²; the views show this square
MAX_POINTS = 500         # drawn targets


@dataclass
class GANConfig(JSONConfigMixin):
    task: str = "gan"              # always "gan"
    target: str = "ring"           # ring, line, mixture (k gaussians on a circle), moons, spiral, gaussian, drawn
    n_modes: int = 8               # mixture: number of gaussians, 2..16
    spread: float = 0.05           # std of the gaussian noise around the target's shape, 0..0.5
    points: list[list[float]] = field(default_factory=list)  # drawn: [[x, y], ...] in [-2, 2]², 3..500 points
    noise_dim: int = 2             # dimension of z, 1..32
    noise_type: str = "gaussian"   # gaussian N(0, 1) or uniform U(-1, 1), per dimension
    g_layers: int = 2              # generator hidden layers, 1..6
    g_width: int = 32              # generator hidden width, 2..256
    g_activation: str = "relu"     # any name of engine.core.registries.ACTIVATIONS
    g_optimizer: str = "adam"      # sgd, momentum, nesterov, adam (betas 0.5, 0.999), rmsprop, adagrad
    g_lr: float = 0.002            # 1e-6..1
    d_layers: int = 2              # discriminator hidden layers, 1..6
    d_width: int = 32              # discriminator hidden width, 2..256
    d_activation: str = "relu"
    d_optimizer: str = "adam"
    d_lr: float = 0.002            # 1e-6..1
    d_steps: int = 1               # k: discriminator updates per generator update, 1..10
    loss: str = "nonsaturating"    # minimax, nonsaturating, least_squares
    batch_size: int = 128          # real and generated samples per update, 2..1024
    seed: int = 0                  # 0..2**31-1: weights, real batches, noise
    max_steps: int = 0             # training stops at this many steps; 0 = never (0..10,000,000)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(self.task == "gan", "task", f"a GANConfig is for task 'gan', got {self.task!r}")
        _check(self.target in TARGETS, "target", f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        _check_range(self.n_modes, "n_modes", 2, 16, "number of mixture modes", integer=True)
        _check_range(self.spread, "spread", 0, 0.5, "spread")
        _check(isinstance(self.points, list) and len(self.points) <= MAX_POINTS, "points",
               f"at most {MAX_POINTS} drawn points; clear some")
        for i, p in enumerate(self.points):
            _check(isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_number(v) and math.isfinite(v) for v in p),
                   f"points[{i}]", f"each point is [x, y] with finite numbers, got {p!r}")
            _check(all(abs(v) <= DOMAIN for v in p), f"points[{i}]", f"each coordinate must lie in -2..2, got {p!r}")
        if self.target == "drawn":
            _check(len(self.points) >= 3, "points",
                   f"draw at least 3 points (click the plane), have {len(self.points)}")
        _check_range(self.noise_dim, "noise_dim", 1, 32, "noise dimension", integer=True)
        _check(self.noise_type in NOISE_TYPES, "noise_type",
               f"choose {' or '.join(NOISE_TYPES)}, got {self.noise_type!r}")
        for net in ("g", "d"):
            _check_range(getattr(self, f"{net}_layers"), f"{net}_layers", 1, 6, "number of hidden layers", integer=True)
            _check_range(getattr(self, f"{net}_width"), f"{net}_width", 2, 256, "hidden layer width", integer=True)
            act, opt = getattr(self, f"{net}_activation"), getattr(self, f"{net}_optimizer")
            _check(act in ACTIVATIONS, f"{net}_activation",
                   f"unknown activation {act!r}; choose from {', '.join(ACTIVATIONS)}")
            _check(opt in OPTIMIZERS, f"{net}_optimizer",
                   f"unknown optimizer {opt!r}; choose from {', '.join(OPTIMIZERS)}")
            _check_range(getattr(self, f"{net}_lr"), f"{net}_lr", 1e-6, 1.0, "learning rate")
        _check_range(self.d_steps, "d_steps", 1, 10, "discriminator steps per generator step", integer=True)
        _check(self.loss in LOSS_VARIANTS, "loss",
               f"unknown loss {self.loss!r}; choose from {', '.join(LOSS_VARIANTS)}")
        _check_range(self.batch_size, "batch_size", 2, 1024, "batch size", integer=True)
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "max_steps", 0, 10_000_000, "step limit", integer=True)

    @classmethod
    def from_dict(cls, d: dict) -> "GANConfig":
        return flat_config_from_dict(cls, d, "the GAN config")

    def replace(self, **changes) -> "GANConfig":
        return GANConfig.from_dict({**self.to_dict(), **changes})


# Everything else (learning rates, k, loss variant, batch size, step limit) is applied to a
# running game at once: the game goes on with the new rule.
STRUCTURAL = ("target", "n_modes", "spread", "points", "noise_dim", "noise_type", "g_layers", "g_width",
              "g_activation", "g_optimizer", "d_layers", "d_width", "d_activation", "d_optimizer", "seed")


def structural_changes(old: GANConfig, new: GANConfig) -> list[str]:
    return [name for name in STRUCTURAL if getattr(old, name) != getattr(new, name)]
