"""A small GAN on scikit-learn's 8 × 8 handwritten digits (1,797 images, pixels 0..16 scaled
to 0..1): the same game as on the plane, in 64 dimensions. G and D are MLPs or a DCGAN, as the
config's `architecture` says (dcgan.py). The generator ends in a sigmoid, so its pixels lie in
0..1 as the data's do. A fixed set of noise vectors is mapped through G at every snapshot, so a
grid of samples shows the same "pens" improving over time.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..core.config import _check, _check_range, flat_config_from_dict
from ..core.device import pick_device
from . import checkpoint
from .dcgan import ARCHITECTURES, digit_networks
from .trainer import LOSS_VARIANTS, _ema, d_probability, gan_losses, make_gan_optimizer, mmd_rbf, rbf_kernel_mean

GRID_SAMPLES = 36        # the fixed-noise samples shown (a 6 × 6 grid)
EVAL_SAMPLES = 300       # real images and noise vectors the distance is measured on
MMD_SIGMAS = (1.0, 2.0, 4.0)  # pixel-space bandwidths: two digits differ by about 2..4 in L2
TIMELINE_FIRST = 50      # grids are kept at steps 0, 50, 100, 200, 400, ... (doubling)
STRUCTURAL = ("architecture", "noise_dim", "hidden", "seed")  # a change needs a new trainer


@dataclass
class DigitsGANConfig:
    noise_dim: int = 16            # 2..64
    architecture: str = "mlp"      # mlp (two hidden layers each) or dcgan (transposed convolutions, a CNN)
    hidden: int = 128              # 16..512; mlp: the hidden layers' width; dcgan: w in dcgan.py (G's 2 × 2 map
                                   #   has w/2 channels, its 4 × 4 map w/4; D's convolutions w/4 and w/2)
    lr: float = 0.002              # Adam (beta1 0.5), both players, 1e-5..0.1
    d_steps: int = 1               # discriminator updates per generator update, 1..10
    loss: str = "nonsaturating"    # minimax, nonsaturating, least_squares
    batch_size: int = 64           # 8..512
    seed: int = 0                  # 0..2**31-1
    max_steps: int = 0             # 0 = never stop

    def __post_init__(self) -> None:
        _check_range(self.noise_dim, "noise_dim", 2, 64, "noise dimension", integer=True)
        _check(self.architecture in ARCHITECTURES, "architecture",
               f"unknown architecture {self.architecture!r}; choose from {', '.join(ARCHITECTURES)}")
        _check_range(self.hidden, "hidden", 16, 512, "hidden width", integer=True)
        _check_range(self.lr, "lr", 1e-5, 0.1, "learning rate")
        _check_range(self.d_steps, "d_steps", 1, 10, "discriminator steps per generator step", integer=True)
        _check(self.loss in LOSS_VARIANTS, "loss",
               f"unknown loss {self.loss!r}; choose from {', '.join(LOSS_VARIANTS)}")
        _check_range(self.batch_size, "batch_size", 8, 512, "batch size", integer=True)
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "max_steps", 0, 10_000_000, "step limit", integer=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "DigitsGANConfig":
        return flat_config_from_dict(cls, d, "the digits GAN config")


def load_digit_pixels() -> np.ndarray:
    """(1797, 64) float32 pixels in 0..1 (scikit-learn's values 0..16, divided by 16)."""
    from sklearn.datasets import load_digits
    return (load_digits().data / 16.0).astype(np.float32)


@dataclass
class DigitsSnapshot:
    step: int
    d_loss: float                  # moving average over the steps, weight 0.1 on the newest
    g_loss: float
    d_real: float                  # mean D probability on the fixed real images
    d_fake: float                  # and on the fixed-noise samples
    mmd: float                     # squared MMD, real against generated, in pixel space
    diverged: bool = False
    finished: bool = False
    samples: np.ndarray | None = field(default=None, repr=False)  # (GRID_SAMPLES, 8, 8) in 0..1

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d.pop("samples")
        return d


class DigitsGANTrainer:
    CHECKPOINT_KIND = "digits"      # engine/gan/checkpoint.py
    COUNTERS = ("step_count",)      # saved and restored with the game
    GRID_SHAPE = (GRID_SAMPLES, 8, 8)  # the timeline's sample grids

    def __init__(self, config: DigitsGANConfig, device: str | torch.device = "auto",
                 pixels: np.ndarray | None = None):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        data = load_digit_pixels() if pixels is None else pixels
        if data.ndim != 2 or data.shape[1] != 64:
            raise ValueError(f"pixels must be (n, 64) rows of 8 × 8 images, got shape {data.shape}")
        self.data = torch.from_numpy(data).to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            G, D = digit_networks(config.architecture, config.noise_dim, config.hidden)
        self.G, self.D = G.to(self.device), D.to(self.device)  # G: (N, noise_dim) -> (N, 64); D: (N, 64) -> (N,)
        self.opt_g = make_gan_optimizer("adam", self.G.parameters(), config.lr)
        self.opt_d = make_gan_optimizer("adam", self.D.parameters(), config.lr)
        eval_gen = torch.Generator().manual_seed(config.seed + 1)
        self.eval_real = self.data[torch.randperm(len(self.data), generator=eval_gen)[:EVAL_SAMPLES].to(self.device)]
        self.eval_z = torch.randn(EVAL_SAMPLES, config.noise_dim, generator=eval_gen).to(self.device)
        self._real_kernel_mean = rbf_kernel_mean(self.eval_real, self.eval_real, MMD_SIGMAS)
        self._gen = torch.Generator().manual_seed(config.seed + 2)
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []
        self.timeline: list[tuple[int, np.ndarray]] = []  # (step, (GRID_SAMPLES, 8, 8)) at doubling steps
        self._ema = [float("nan"), float("nan")]  # moving averages of the D and G losses over steps

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    def _one_step(self) -> bool:
        cfg, n = self.config, self.config.batch_size
        for _ in range(cfg.d_steps):
            real = self.data[torch.randint(len(self.data), (n,), generator=self._gen).to(self.device)]
            z = torch.randn(n, cfg.noise_dim, generator=self._gen).to(self.device)
            with torch.no_grad():
                fake = self.G(z)
            d_loss, _ = gan_losses(self.D(real), self.D(fake), cfg.loss)
            if not torch.isfinite(d_loss):
                return False
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        d_fake = self.D(self.G(torch.randn(n, cfg.noise_dim, generator=self._gen).to(self.device)))
        _, g_loss = gan_losses(d_fake.detach(), d_fake, cfg.loss)
        if not torch.isfinite(g_loss):
            return False
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._ema = [_ema(self._ema[0], d_loss.item()), _ema(self._ema[1], g_loss.item())]
        self.step_count += 1
        return True

    def _train(self, n: int, deadline: float | None = None) -> None:
        """n steps (fewer if `deadline`, a time.perf_counter() value, passes first); a
        non-finite loss or weight restores the state before them and stops."""
        if self.diverged or n <= 0:
            return
        good = copy.deepcopy((self.G.state_dict(), self.D.state_dict(), self.opt_g.state_dict(),
                              self.opt_d.state_dict(), self._gen.get_state(), self.step_count, list(self._ema)))
        ok = True
        for _ in range(n):
            if self.finished:
                break
            ok = self._one_step()
            if not ok or (deadline is not None and time.perf_counter() >= deadline):
                break
        if not ok or not self._finite():
            g, d, og, od, gen, self.step_count, self._ema = good
            self.G.load_state_dict(g)
            self.D.load_state_dict(d)
            self.opt_g.load_state_dict(og)
            self.opt_d.load_state_dict(od)
            self._gen.set_state(gen)
            self.diverged = True

    def step(self, n: int = 1, samples: bool = False) -> DigitsSnapshot:
        """n steps (k D updates and one G update each), then a snapshot; samples=True adds the grid."""
        self._train(n)
        return self.snapshot(samples)

    def train_for(self, seconds: float, max_steps: int = 1_000_000, samples: bool = False) -> DigitsSnapshot:
        """Train for about `seconds` (a time-boxed chunk for live pages), then one snapshot."""
        self._train(max_steps, time.perf_counter() + seconds)
        return self.snapshot(samples)

    def _finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in [*self.G.parameters(), *self.D.parameters()])

    @torch.no_grad()
    def snapshot(self, samples: bool = False) -> DigitsSnapshot:
        fake = self.G(self.eval_z)
        variant = self.config.loss
        snap = DigitsSnapshot(
            step=self.step_count, d_loss=self._ema[0], g_loss=self._ema[1],
            d_real=float(d_probability(self.D(self.eval_real), variant).mean()),
            d_fake=float(d_probability(self.D(fake), variant).mean()),
            mmd=mmd_rbf(self.eval_real, fake, MMD_SIGMAS, self._real_kernel_mean), diverged=self.diverged,
            finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({k: getattr(snap, k) for k in ("step", "d_loss", "g_loss", "d_real", "d_fake", "mmd")})
        grid = fake[:GRID_SAMPLES].reshape(-1, 8, 8).cpu().numpy()  # the same as sample_grid()
        due = max(TIMELINE_FIRST, 2 * self.timeline[-1][0]) if self.timeline else 0
        if self.step_count >= due and (not self.timeline or self.timeline[-1][0] != self.step_count):
            self.timeline.append((self.step_count, grid))
        if samples:
            snap.samples = grid
        return snap

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        """(GRID_SAMPLES, 8, 8) G of the first fixed noise vectors, pixels in 0..1. All the fixed noise
        goes through G, as in snapshot(): a DCGAN's batch norm normalises over the batch it is given."""
        return self.G(self.eval_z)[:GRID_SAMPLES].reshape(-1, 8, 8).cpu().numpy()

    def parameter_counts(self) -> tuple[int, int]:
        """(G's, D's) number of trainable parameters."""
        return tuple(sum(p.numel() for p in net.parameters()) for net in (self.G, self.D))

    def apply(self, new_config: DigitsGANConfig) -> list[str]:
        """Learning rate, k, loss variant, batch size and step limit apply at once; returns the
        structural fields that differ (architecture, noise dimension, width, seed: they need a new trainer)."""
        changed = [k for k in STRUCTURAL if getattr(self.config, k) != getattr(new_config, k)]
        if changed:
            return changed
        if (new_config.lr, new_config.loss) != (self.config.lr, self.config.loss):
            self.diverged = False
        self.config = new_config
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = new_config.lr
        return []

    def checkpoint_bytes(self) -> bytes:
        """Config, both networks and optimisers, the batch generator, the step, the curves and the
        timeline, loadable with torch.load(weights_only=True); training on from it repeats the
        uninterrupted run (engine/gan/checkpoint.py)."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "DigitsGANTrainer":
        """The game checkpoint_bytes() saved; ValueError naming what is wrong for anything else."""
        return checkpoint.from_checkpoint(cls, DigitsGANConfig, data, device)

    def nearest_real(self, images: np.ndarray) -> np.ndarray:
        """For each (8, 8) image, the closest training image in L2: a sample equal to its
        neighbour is memorised, one that is merely digit-like is generated."""
        flat = torch.from_numpy(images.reshape(len(images), 64)).to(self.device)
        idx = torch.cdist(flat, self.data).argmin(1)
        return self.data[idx].reshape(-1, 8, 8).cpu().numpy()
