"""RBMTrainer: a binary restricted Boltzmann machine learning the binarised 8×8 digits by contrastive divergence.

The log-likelihood's gradient is ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model. The first term is exact (the hidden units
are independent given v); the second would need samples from the model's equilibrium. CD-k starts a
Gibbs chain at the data and stops after k rounds of v → h → v (Hinton 2002); persistent CD (Tieleman
2008) keeps one set of chains running from update to update instead, so they wander further from the
data. The update, with momentum and weight decay, is

    ΔW = lr · (v₀ p(h|v₀)ᵀ − v_k p(h|v_k)ᵀ) / B − lr · weight_decay · W,   Δb = lr · mean(v₀ − v_k),
    Δc = lr · mean(p(h|v₀) − p(h|v_k)).

Watched: the reconstruction error of the test digits (a rough guide, not the objective) and the
free-energy gap, the mean F of random binary images minus that of test digits: a model that gives the
digits high probability gives them low free energy.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..core.device import pick_device
from . import checkpoint
from .boltzmann import log_odds
from .config import RBMConfig, structural_changes
from .data import binary_digits, random_binary_images
from .models import RBM

RANDOM_IMAGES = 200       # random binary images, the far side of the free-energy gap
SHOWN_DIGITS = 10         # test digits shown with their reconstructions


class ContrastiveDivergence:
    """CD-k or persistent CD for one RBM on a fixed training set: momentum, weight decay, a seeded batch
    order. Shared by RBMTrainer and the deep belief net's greedy pretraining (engine/energy/dbn.py)."""

    def __init__(self, rbm: RBM, data: torch.Tensor, config, generator: torch.Generator, seed: int):
        self.rbm, self.data, self.config, self.generator = rbm, data, config, generator
        self._order_generator = torch.Generator().manual_seed(seed)
        self._order = torch.randperm(len(data), generator=self._order_generator)
        self._position = 0
        self.epoch = 0
        self._velocity = [torch.zeros_like(p) for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias)]
        self._persistent: torch.Tensor | None = None   # (B, V) the persistent chains' visible states

    def _batch(self) -> torch.Tensor:
        bs = min(self.config.batch_size, len(self.data))
        if self._position + bs > len(self.data):
            self._order = torch.randperm(len(self.data), generator=self._order_generator)
            self._position = 0
            self.epoch += 1
        idx = self._order[self._position:self._position + bs]
        self._position += bs
        return self.data[idx.to(self.data.device)]

    def step(self) -> None:
        c, rbm = self.config, self.rbm
        v0 = self._batch()                                        # (B, V)
        h0 = rbm.hidden_probability(v0)                           # (B, H)
        if c.persistent:
            if self._persistent is None or len(self._persistent) != len(v0):
                self._persistent = v0.clone()
            start = self._persistent
        else:
            start = v0
        vk, vk_probability = rbm.gibbs(start, c.k, self.generator)
        if c.persistent:
            self._persistent = vk
        # The negative statistics use the last visible probabilities (less noise than the samples, as the
        # practical guide advises); the chain carries on from the samples.
        hk = rbm.hidden_probability(vk_probability)
        b = len(v0)
        grads = ((v0.T @ h0 - vk_probability.T @ hk) / b - c.weight_decay * rbm.weight,
                 (v0 - vk_probability).mean(dim=0), (h0 - hk).mean(dim=0))
        with torch.no_grad():
            for param, velocity, grad in zip((rbm.weight, rbm.visible_bias, rbm.hidden_bias), self._velocity, grads):
                velocity.mul_(c.momentum).add_(c.lr * grad)
                param.add_(velocity)

    def state(self) -> list[torch.Tensor]:
        """What a step changes, copied: restored if the step made a weight non-finite."""
        chains = [self._persistent.clone()] if self._persistent is not None else []
        return [p.detach().clone() for p in (self.rbm.weight, self.rbm.visible_bias, self.rbm.hidden_bias)] + \
            [v.clone() for v in self._velocity] + chains

    def restore(self, saved: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for target, good in zip([self.rbm.weight, self.rbm.visible_bias, self.rbm.hidden_bias, *self._velocity],
                                    saved):
                target.copy_(good)
        self._persistent = saved[6] if len(saved) > 6 else None

    def finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in (self.rbm.weight, self.rbm.visible_bias,
                                                            self.rbm.hidden_bias))


def initial_visible_bias(data: np.ndarray) -> torch.Tensor:
    """log(p_i / (1 − p_i)) of each pixel's rate in the training data (the practical guide's start)."""
    return torch.from_numpy(log_odds(data.mean(axis=0))).float()


@dataclass
class RBMSnapshot:
    step: int
    epoch: int                     # completed passes over the training digits
    recon_error: float             # mean squared error per pixel of the test digits' one-step reconstructions
    free_energy_test: float        # mean F(v) of the test digits
    free_energy_train: float       # mean F(v) of as many training digits (a gap from test: overfitting)
    free_energy_random: float      # mean F(v) of RANDOM_IMAGES random binary images (each pixel on at 0.5)
    free_energy_gap: float         # free_energy_random − free_energy_test: > 0 once digits are the likelier
    lr: float
    diverged: bool = False
    finished: bool = False

    def to_json_dict(self) -> dict:
        return asdict(self)


class RBMTrainer:
    TASK = "rbm"
    HISTORY_KEYS = ("step", "epoch", "recon_error", "free_energy_test", "free_energy_train", "free_energy_random",
                    "free_energy_gap")

    def __init__(self, config: RBMConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        x_train, self.y_train, x_test, self.y_test = binary_digits(config.seed, config.test_fraction)
        self.x_train_np, self.x_test_np = x_train, x_test
        self.x_train = torch.from_numpy(x_train).to(self.device)              # (N, 64)
        self.x_test = torch.from_numpy(x_test).to(self.device)                # (M, 64)
        self.random_images = torch.from_numpy(random_binary_images(RANDOM_IMAGES, 64, config.seed + 7)).to(self.device)
        self.model = RBM(64, config.hidden, seed=config.seed).to(self.device)
        with torch.no_grad():
            self.model.visible_bias.copy_(initial_visible_bias(x_train).to(self.device))
        self._generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self._dream_generator = torch.Generator(device=self.device).manual_seed(config.seed + 2)
        self.cd = ContrastiveDivergence(self.model, self.x_train, config, self._generator, config.seed + 3)
        self.dreams: torch.Tensor | None = None   # (n, 64) the free-running chain the page shows
        self._dream_probabilities: torch.Tensor | None = None
        self.dream_steps = 0
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []
        self.seconds_training = 0.0

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    @property
    def epoch(self) -> int:
        return self.cd.epoch

    def _train(self, max_steps: int | None, deadline: float | None) -> int:
        if self.diverged or self.finished or (max_steps is not None and max_steps <= 0):
            return 0
        start, before = time.perf_counter(), self.step_count
        saved = self.cd.state()
        while (max_steps is None or self.step_count - before < max_steps) and not self.finished:
            self.cd.step()
            self.step_count += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if not self.cd.finite():
            self.cd.restore(saved)
            self.step_count = before
            self.diverged = True
        self.seconds_training += time.perf_counter() - start
        return self.step_count - before

    def step(self, n: int = 1) -> RBMSnapshot:
        self._train(n, None)
        return self.snapshot()

    def advance(self, seconds: float, max_steps: int | None = None) -> int:
        return self._train(max_steps, time.perf_counter() + seconds)

    def apply(self, new_config: RBMConfig) -> list[str]:
        """Hot settings (learning rate, momentum, weight decay, k, persistent, batch size, step limit) apply at
        once; returns the fields that need a new trainer instead."""
        changed = structural_changes(self.config, new_config)
        if not changed:
            if new_config.lr != self.config.lr:
                self.diverged = False
            self.config = self.cd.config = new_config
        return changed

    # ---- checkpoints (engine/energy/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), weights, momentum, batch order, persistent CD's chains, the generators' states,
        the shown dream chain, the step and the history, loadable with torch.load(weights_only=True). Loading
        it and training on gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "RBMTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a file that
        would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    @torch.no_grad()
    def snapshot(self) -> RBMSnapshot:
        m = self.model
        n = len(self.x_test)
        f_test = float(m.free_energy(self.x_test).mean())
        f_train = float(m.free_energy(self.x_train[:n]).mean())
        f_random = float(m.free_energy(self.random_images).mean())
        recon = float(((m.reconstruct(self.x_test) - self.x_test) ** 2).mean())
        snap = RBMSnapshot(step=self.step_count, epoch=self.epoch, recon_error=recon, free_energy_test=f_test,
                           free_energy_train=f_train, free_energy_random=f_random, free_energy_gap=f_random - f_test,
                           lr=self.config.lr, diverged=self.diverged, finished=self.finished)
        point = {k: getattr(snap, k) for k in self.HISTORY_KEYS}
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap

    # ---- what the page shows ----
    def filters(self) -> np.ndarray:
        """(H, 8, 8) each hidden unit's 64 weights laid out as the picture they multiply."""
        return self.model.weight.detach().T.reshape(-1, 8, 8).cpu().numpy().copy()

    @torch.no_grad()
    def reconstructions(self, count: int = SHOWN_DIGITS) -> tuple[np.ndarray, np.ndarray]:
        """(the first `count` test digits (n, 64), their one-step reconstructions p(v'|p(h|v)) (n, 64))."""
        v = self.x_test[:count]
        return v.cpu().numpy().copy(), self.model.reconstruct(v).cpu().numpy()

    @torch.no_grad()
    def dream(self, gibbs_steps: int, count: int = SHOWN_DIGITS) -> np.ndarray:
        """Run the shown free chain `gibbs_steps` more rounds (started from random binary images; 0: none, the
        last ones again) and return its visible probabilities (count, 64): what the model imagines. Its own
        generator: watching does not change the training."""
        if self.dreams is None or len(self.dreams) != count:
            self.dreams = torch.from_numpy(random_binary_images(count, 64, self.config.seed + 11)).to(self.device)
            self._dream_probabilities = self.dreams
            self.dream_steps = 0
        if gibbs_steps > 0:
            self.dreams, self._dream_probabilities = self.model.gibbs(self.dreams, gibbs_steps, self._dream_generator)
            self.dream_steps += gibbs_steps
        return self._dream_probabilities.cpu().numpy()

    @torch.no_grad()
    def free_energies(self) -> tuple[np.ndarray, np.ndarray]:
        """(F of every test digit (M,), F of the random binary images (RANDOM_IMAGES,)) for a histogram."""
        return (self.model.free_energy(self.x_test).cpu().numpy(),
                self.model.free_energy(self.random_images).cpu().numpy())

