"""A GAN on 2-D distributions: min_G max_D E[log D(x)] + E[log(1 - D(G(z)))].

One training step is `d_steps` updates of the discriminator D (gradient ascent on its
objective, written as descent on its loss) and then one update of the generator G. The
trainer is resumable: step(n) returns a GANSnapshot of plain data, and step(5) then step(5)
equals step(10), because every random draw (real batches, noise) comes from a generator
the trainer owns. frame() gives what a live view draws: D's probability over the plane,
real and generated samples from fixed draws (so points move smoothly), the generator's
gradient on each generated sample, and a grid of noise values mapped through G.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.device import pick_device
from ..core.registries import make_activation, make_optimizer
from . import checkpoint
from .config import DOMAIN, LOSS_VARIANTS, MAX_POINTS, NOISE_TYPES, STRUCTURAL, TARGETS, GANConfig, structural_changes

RING_RADIUS = 1.2       # ring and mixture modes lie on this circle
GAUSS_MEAN = (0.8, 0.6)  # the single gaussian's centre (its std: 0.3 along x, 0.2 along y, plus spread)
EVAL_SAMPLES = 300       # fixed real points and noise draws: the distance, the views, the mode count
MMD_SIGMAS = (0.1, 0.3, 1.0)  # RBF bandwidths (in plane units) summed in the MMD kernel


# ---------- target distributions ----------
def mixture_centres(n_modes: int) -> np.ndarray:
    """(k, 2) the mixture's mode centres, evenly on the ring."""
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)


def sample_target(config: GANConfig, n: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 2) float32 CPU samples of the config's target, drawn from `gen` only."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    noise = torch.randn(n, 2, generator=gen, dtype=torch.float64) * config.spread
    name = config.target
    if name == "ring":
        a = 2 * math.pi * u
        xy = RING_RADIUS * torch.stack([torch.cos(a), torch.sin(a)], 1)
    elif name == "line":
        xy = torch.stack([-1.2 + 2.4 * u, -0.8 + 1.6 * u], 1)
    elif name == "mixture":
        k = torch.clamp((u * config.n_modes).long(), max=config.n_modes - 1)
        xy = torch.from_numpy(mixture_centres(config.n_modes))[k]
    elif name == "moons":
        upper = u < 0.5
        t = math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
        x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
        y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
        xy = torch.stack([(x - 0.5) * 1.2, (y - 0.25) * 1.2], 1)
    elif name == "spiral":
        r = 0.15 + 1.55 * u
        a = 3.5 * math.pi * u
        xy = torch.stack([r * torch.cos(a), r * torch.sin(a)], 1)
    elif name == "gaussian":
        xy = torch.tensor(GAUSS_MEAN, dtype=torch.float64) + \
            torch.randn(n, 2, generator=gen, dtype=torch.float64) * torch.tensor([0.3, 0.2], dtype=torch.float64)
    else:  # drawn: the user's points, each drawn equally often, with the spread around them
        pts = torch.tensor(config.points, dtype=torch.float64)
        xy = pts[torch.clamp((u * len(pts)).long(), max=len(pts) - 1)]
    return (xy + noise).float()


def sample_noise(config: GANConfig, n: int, gen: torch.Generator) -> torch.Tensor:
    """(n, noise_dim) float32 CPU noise."""
    if config.noise_type == "uniform":
        return torch.rand(n, config.noise_dim, generator=gen) * 2 - 1
    return torch.randn(n, config.noise_dim, generator=gen)


# ---------- losses ----------
def gan_losses(d_real: torch.Tensor, d_fake: torch.Tensor, variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(D loss, G loss) from D's raw outputs on real and generated samples, each (N,).

    minimax:        D: -E[log D(x)] - E[log(1 - D(G(z)))]   G: E[log(1 - D(G(z)))]
    nonsaturating:  D: the same                             G: -E[log D(G(z))]
    least_squares:  D: ½E[(D(x) - 1)²] + ½E[D(G(z))²]        G: ½E[(D(G(z)) - 1)²]
    For the first two D(x) = sigmoid(output); log-sigmoid is computed as -softplus(-a), which
    stays finite where D is certain. Least squares (Mao et al., 2017) uses the output as is.
    """
    if variant == "least_squares":
        d_loss = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()
        return d_loss, 0.5 * ((d_fake - 1) ** 2).mean()
    d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    if variant == "minimax":
        return d_loss, -F.softplus(d_fake).mean()   # log(1 - sigmoid(a)) = -softplus(a)
    return d_loss, F.softplus(-d_fake).mean()       # -log sigmoid(a) = softplus(-a)


def d_probability(output: torch.Tensor, variant: str) -> torch.Tensor:
    """What D says about a point, in [0, 1]: sigmoid of its output, or the least-squares
    output clipped to [0, 1] (1 = real, 0 = generated in both)."""
    return output.clamp(0, 1) if variant == "least_squares" else torch.sigmoid(output)


def rbf_kernel_mean(x: torch.Tensor, y: torch.Tensor, sigmas=MMD_SIGMAS) -> float:
    """Mean of k(a, b) = Σ_σ exp(-|a - b|² / (2σ²)) over all pairs a in x (n, d), b in y (m, d)."""
    d2 = torch.cdist(x.float(), y.float()).pow(2)
    return float(sum(torch.exp(-d2 / (2 * s * s)).mean() for s in sigmas))


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, sigmas=MMD_SIGMAS, xx_mean: float | None = None) -> float:
    """The (biased) squared maximum mean discrepancy between samples x (n, d) and y (m, d)
    under the kernel of rbf_kernel_mean: 0 when the samples coincide. xx_mean: the x-x term,
    when the caller has it already (the real points of a trainer never change)."""
    xx = rbf_kernel_mean(x, x, sigmas) if xx_mean is None else xx_mean
    value = xx + rbf_kernel_mean(y, y, sigmas) - 2 * rbf_kernel_mean(x, y, sigmas)
    return max(0.0, value)


def _ema(average: float, value: float, weight: float = 0.1) -> float:
    return value if math.isnan(average) else (1 - weight) * average + weight * value


def mlp(n_in: int, width: int, layers: int, activation: str, n_out: int) -> nn.Sequential:
    parts, size = [], n_in
    for _ in range(layers):
        parts += [nn.Linear(size, width), make_activation(activation)]
        size = width
    return nn.Sequential(*parts, nn.Linear(size, n_out))


def make_gan_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """As engine.core.registries, but Adam with beta1 = 0.5 (Radford et al., 2016): with the
    default 0.9 the momentum carries each player past the other's move and the game oscillates."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    return make_optimizer(name, params, lr, 0.0)


@dataclass
class GANSnapshot:
    step: int                   # training steps so far (k D updates + 1 G update each; a D-only or G-only
                                #   step counts 1)
    d_updates: int
    g_updates: int
    d_loss: float               # moving average over D's updates, weight 0.1 on the newest (NaN before the first)
    g_loss: float
    d_real: float               # mean D probability on the fixed real points (1 = "real")
    d_fake: float               # mean D probability on the fixed generated points
    mmd: float                  # squared MMD between the fixed real points and G of the fixed noise
    fake_mean: list[float]      # mean of the generated points
    modes_covered: int | None   # mixture: modes holding at least 1/(4k) of the generated points
    diverged: bool = False      # a loss or weight became NaN/inf; the last finite state was kept
    finished: bool = False      # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


@dataclass
class GANFrame:
    """What the live view draws, plain NumPy."""
    heatmap: np.ndarray         # (res, res) D's probability; row 0 at y = -2, column 0 at x = -2
    real: np.ndarray            # (N, 2) fixed real points
    fake: np.ndarray            # (N, 2) G of the fixed noise
    arrows: np.ndarray          # (N, 2) -∂(G loss)/∂x at each generated point: where G is pushed to move it
    manifold: np.ndarray        # (g, g, 2) G over a grid of noise (g, 1, 2) when the noise is 1-D


class GANTrainer:
    CHECKPOINT_KIND = "gan"                               # engine/gan/checkpoint.py
    COUNTERS = ("step_count", "d_updates", "g_updates")   # saved and restored with the game
    GRID_SHAPE: tuple = ()                                # no sample grids on the plane

    def __init__(self, config: GANConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.G = mlp(config.noise_dim, config.g_width, config.g_layers, config.g_activation, 2).to(self.device)
            self.D = mlp(2, config.d_width, config.d_layers, config.d_activation, 1).to(self.device)
        self.opt_g = make_gan_optimizer(config.g_optimizer, self.G.parameters(), config.g_lr)
        self.opt_d = make_gan_optimizer(config.d_optimizer, self.D.parameters(), config.d_lr)
        eval_gen = torch.Generator().manual_seed(config.seed + 1)
        self.eval_real = sample_target(config, EVAL_SAMPLES, eval_gen).to(self.device)
        self.eval_z = sample_noise(config, EVAL_SAMPLES, eval_gen).to(self.device)
        self._real_kernel_mean = rbf_kernel_mean(self.eval_real, self.eval_real)
        self._gen = torch.Generator().manual_seed(config.seed + 2)  # training batches and noise
        self.step_count = self.d_updates = self.g_updates = 0
        self.diverged = False
        self.history: list[dict] = []
        # Moving averages of each player's loss over its updates (weight 0.1 on the newest): smooth
        # enough to read, and the same however the steps are split into chunks.
        self._ema = [float("nan"), float("nan")]

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    # ---- training ----
    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.config.batch_size
        return (sample_target(self.config, n, self._gen).to(self.device),
                sample_noise(self.config, n, self._gen).to(self.device))

    def _update_d(self) -> bool:
        real, z = self._batch()
        with torch.no_grad():
            fake = self.G(z)
        d_loss, _ = gan_losses(self.D(real).squeeze(1), self.D(fake).squeeze(1), self.config.loss)
        if not torch.isfinite(d_loss):
            return False
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.d_updates += 1
        self._ema[0] = _ema(self._ema[0], d_loss.item())
        return True

    def _update_g(self) -> bool:
        z = sample_noise(self.config, self.config.batch_size, self._gen).to(self.device)
        d_fake = self.D(self.G(z)).squeeze(1)
        # The G loss depends only on D's output on generated points; gan_losses' D term is unused here.
        _, g_loss = gan_losses(d_fake.detach(), d_fake, self.config.loss)
        if not torch.isfinite(g_loss):
            return False
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()  # D's parameters received gradients too; they are zeroed before D's next update
        self.g_updates += 1
        self._ema[1] = _ema(self._ema[1], g_loss.item())
        return True

    def _train(self, n: int, what: str, deadline: float | None = None) -> None:
        """n steps of `what`: "both" (k D updates, then one G update), "d" or "g"; fewer if
        `deadline` (a time.perf_counter() value) passes first."""
        if self.diverged or n <= 0:
            return
        good = copy.deepcopy((self.G.state_dict(), self.D.state_dict(), self.opt_g.state_dict(),
                              self.opt_d.state_dict(), self._gen.get_state(), self.step_count, self.d_updates,
                              self.g_updates, list(self._ema)))
        ok = True
        for done in range(n):
            if what == "both" and self.finished:
                break
            ok = True
            if what in ("both", "d"):
                ok = all(self._update_d() for _ in range(self.config.d_steps if what == "both" else 1))
            if ok and what in ("both", "g"):
                ok = self._update_g()
            if not ok or (done % 50 == 49 and not self._weights_finite()):
                break
            self.step_count += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if not ok or not self._weights_finite():
            self._restore(good)
            self.diverged = True

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in [*self.G.parameters(), *self.D.parameters()])

    def _restore(self, good) -> None:
        g, d, og, od, gen, self.step_count, self.d_updates, self.g_updates, self._ema = good
        self.G.load_state_dict(g)
        self.D.load_state_dict(d)
        self.opt_g.load_state_dict(og)
        self.opt_d.load_state_dict(od)
        self._gen.set_state(gen)

    def step(self, n: int = 1) -> GANSnapshot:
        """n training steps (fewer if max_steps comes first), then a snapshot."""
        self._train(n, "both")
        return self.snapshot()

    def train_for(self, seconds: float, max_steps: int = 1_000_000) -> GANSnapshot:
        """Train for about `seconds` (a time-boxed chunk for live pages), then one snapshot."""
        self._train(max_steps, "both", time.perf_counter() + seconds)
        return self.snapshot()

    def step_d_only(self, n: int = 1) -> GANSnapshot:
        """n discriminator updates with G frozen: D learns to tell the current fakes apart."""
        self._train(n, "d")
        return self.snapshot()

    def step_g_only(self, n: int = 1) -> GANSnapshot:
        """n generator updates with D frozen: G chases D's current opinion."""
        self._train(n, "g")
        return self.snapshot()

    # ---- reading ----
    @torch.no_grad()
    def snapshot(self) -> GANSnapshot:
        fake = self.G(self.eval_z)
        variant = self.config.loss
        snap = GANSnapshot(
            step=self.step_count, d_updates=self.d_updates, g_updates=self.g_updates,
            d_loss=self._ema[0], g_loss=self._ema[1],
            d_real=float(d_probability(self.D(self.eval_real), variant).mean()),
            d_fake=float(d_probability(self.D(fake), variant).mean()),
            mmd=mmd_rbf(self.eval_real, fake, xx_mean=self._real_kernel_mean),
            fake_mean=[float(v) for v in fake.mean(0).cpu()],
            modes_covered=self.modes_covered(fake) if self.config.target == "mixture" else None,
            diverged=self.diverged, finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({k: getattr(snap, k) for k in ("step", "d_loss", "g_loss", "d_real", "d_fake", "mmd")})
        return snap

    def modes_covered(self, fake: torch.Tensor) -> int:
        """Mixture modes with at least a quarter of their fair share of the generated points
        within 3 spreads (at least 0.15) of the centre."""
        centres = torch.from_numpy(mixture_centres(self.config.n_modes)).float().to(fake.device)
        dist = torch.cdist(fake, centres)
        near = dist.min(1).values <= max(3 * self.config.spread, 0.15)
        counts = torch.bincount(dist.argmin(1)[near], minlength=self.config.n_modes)
        return int((counts >= len(fake) / (4 * self.config.n_modes)).sum())

    def frame(self, resolution: int = 48, manifold_size: int = 15) -> GANFrame:
        """The live view's arrays: D over a res × res grid of the plane, the fixed samples,
        the generator's gradient at each generated point, G over a grid of noise."""
        axis = torch.linspace(-DOMAIN, DOMAIN, resolution, device=self.device)
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        with torch.no_grad():
            plane = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
            heat = d_probability(self.D(plane), self.config.loss).reshape(resolution, resolution)
            fake = self.G(self.eval_z)
        arrows = self.generator_gradient(fake)
        return GANFrame(heatmap=heat.cpu().numpy(), real=self.eval_real.cpu().numpy(), fake=fake.cpu().numpy(),
                        arrows=arrows, manifold=self.manifold(manifold_size))

    def generator_gradient(self, fake: torch.Tensor) -> np.ndarray:
        """(N, 2) -∂ℓ/∂x for each generated point x, with ℓ the per-point G loss under the
        current variant: the direction the generator's update pushes that point."""
        x = fake.detach().clone().requires_grad_(True)
        out = self.D(x).squeeze(1)
        _, g_loss = gan_losses(out.detach(), out, self.config.loss)
        (grad,) = torch.autograd.grad(g_loss * len(x), x)  # × N: per point, not the batch mean's 1/N
        return (-grad).cpu().numpy()

    @torch.no_grad()
    def manifold(self, size: int = 15) -> np.ndarray:
        """G over a grid of noise on its first two dimensions (the others at 0): (size, size, 2),
        or (size, 1, 2) for 1-D noise. The grid covers ±2 std (gaussian) or ±1 (uniform)."""
        lim = 1.0 if self.config.noise_type == "uniform" else 2.0
        axis = torch.linspace(-lim, lim, size)
        cols = size if self.config.noise_dim > 1 else 1
        z = torch.zeros(size, cols, self.config.noise_dim)
        z[..., 0] = axis[:, None]
        if cols > 1:
            z[..., 1] = axis[None, :]
        return self.G(z.reshape(-1, self.config.noise_dim).to(self.device)).reshape(size, cols, 2).cpu().numpy()

    # ---- live changes ----
    def apply(self, new_config: GANConfig) -> list[str]:
        """Take a changed config: learning rates, k, loss variant, batch size and step limit
        apply at once and keep the game's progress; returns the structural fields that differ
        (nothing is applied then: they need a new trainer)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        old, self.config = self.config, new_config
        for opt, lr in ((self.opt_g, new_config.g_lr), (self.opt_d, new_config.d_lr)):
            for group in opt.param_groups:
                group["lr"] = lr
        if (old.g_lr, old.d_lr, old.loss) != (new_config.g_lr, new_config.d_lr, new_config.loss):
            self.diverged = False  # a new learning rate or loss is the usual cure; let the user try it
        return []

    # ---- checkpoints ----
    def checkpoint_bytes(self) -> bytes:
        """Config, both networks and optimisers, the batch generator, the counters and the curves,
        loadable with torch.load(weights_only=True); training on from it repeats the uninterrupted
        run (engine/gan/checkpoint.py)."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "GANTrainer":
        """The game checkpoint_bytes() saved; ValueError naming what is wrong for anything else."""
        return checkpoint.from_checkpoint(cls, GANConfig, data, device)
