"""BoltzmannTrainer: a fully connected Boltzmann machine learning a tiny pattern set by its two phases.

Each update compares two sets of correlations. In the positive (clamped) phase the visible units are
held at the data patterns and the hidden units are sampled by Gibbs sweeps; in the negative (free)
phase persistent chains run with nothing clamped. Then, for every pair of units,

    ΔW_ij = lr · (⟨s_i s_j⟩_clamped − ⟨s_i s_j⟩_free − weight_decay · W_ij),   Δb_i = lr · (⟨s_i⟩_clamped − ⟨s_i⟩_free)

with momentum: the gradient of the mean log-likelihood of the data, estimated by sampling. The machine
is small enough (at most 20 units) that the snapshot computes what sampling only estimates, exactly:
log Z, every visible vector's probability and KL(data ‖ model), by enumerating every state.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..core.device import pick_device
from . import checkpoint, exact
from .config import BoltzmannConfig, structural_changes
from .data import pattern_set
from .models import BoltzmannMachine, sample_bernoulli

SHOWN_CHAINS = 16   # the free chains' visible states a snapshot carries (the samples beside the data)


def log_odds(p: np.ndarray, low: float = 0.01) -> np.ndarray:
    """log(p / (1 − p)) with p clipped to [low, 1 − low]: the visible biases that alone give the data's
    per-unit rates (the practical guide's advice), finite for a unit that is always on or off."""
    p = np.clip(p, low, 1 - low)
    return np.log(p / (1 - p))


@dataclass
class BoltzmannSnapshot:
    step: int
    kl: float                      # KL(data ‖ model) in nats, exact
    log_likelihood: float          # mean log p(v) of the data patterns, exact (= −kl − the data's entropy)
    data_mass: float               # Σ over the data's patterns of p_model(v): 1 when the model puts all mass there
    free_energy_data: float        # mean F(v) = −log Σ_h e^{−E(v,h)} of the data patterns
    free_energy_other: float       # mean F(v) of the visible vectors that are not data patterns
    energy: float                  # mean E(s) of the free chains' current states
    log_z: float                   # log of the partition function
    lr: float
    diverged: bool = False         # a weight became NaN/inf; the last finite weights were kept
    finished: bool = False         # max_steps reached
    # arrays for the page (left out of to_json_dict): plain NumPy, on the CPU
    weights: np.ndarray = field(default=None, repr=False)            # (n, n) symmetric, visible units first
    biases: np.ndarray = field(default=None, repr=False)             # (n,)
    visible_probabilities: np.ndarray = field(default=None, repr=False)  # (2^V,) p_model(v), counting order
    data_probabilities: np.ndarray = field(default=None, repr=False)     # (2^V,) p_data(v)
    samples: np.ndarray = field(default=None, repr=False)            # (SHOWN_CHAINS, V) free chains' visible states

    ARRAYS = ("weights", "biases", "visible_probabilities", "data_probabilities", "samples")

    def to_json_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in self.ARRAYS}


class BoltzmannTrainer:
    TASK = "boltzmann"
    HISTORY_KEYS = ("step", "kl", "log_likelihood", "data_mass", "free_energy_data", "free_energy_other", "energy")

    def __init__(self, config: BoltzmannConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.patterns_np = pattern_set(config.data)                            # (m, V) 0/1
        self.patterns = torch.from_numpy(self.patterns_np).to(self.device)
        self.p_data = exact.data_distribution(self.patterns_np)                # (2^V,)
        self.model = BoltzmannMachine(config.n_visible, config.hidden, seed=config.seed).to(self.device)
        with torch.no_grad():
            self.model.bias[:config.n_visible] = torch.from_numpy(
                log_odds(self.patterns_np.mean(axis=0))).to(self.device, torch.float32)
        self._velocity_w = torch.zeros_like(self.model.weight)
        self._velocity_b = torch.zeros_like(self.model.bias)
        self._generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        n = self.model.n_units
        self.chains = sample_bernoulli(torch.full((config.chains, n), 0.5, device=self.device), self._generator)
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []
        self.seconds_training = 0.0

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    def _clamped_states(self) -> torch.Tensor:
        """(R, n): the data patterns, repeated to about as many rows as there are chains, hidden units sampled
        given them by Gibbs sweeps (from random: each update's hidden states are drawn afresh)."""
        repeats = max(1, math.ceil(self.config.chains / len(self.patterns)))
        visible = self.patterns.repeat(repeats, 1)
        hidden = sample_bernoulli(torch.full((len(visible), self.config.hidden), 0.5, device=self.device),
                                  self._generator)
        states = torch.cat([visible, hidden], dim=1)
        hidden_units = range(self.config.n_visible, self.model.n_units)
        for _ in range(self.config.gibbs_sweeps if self.config.hidden else 0):
            self.model.gibbs_sweep(states, hidden_units, self._generator)
        return states

    def _one_step(self) -> None:
        c, m = self.config, self.model
        positive = self._clamped_states()
        for _ in range(c.gibbs_sweeps):
            m.gibbs_sweep(self.chains, range(m.n_units), self._generator)
        negative = self.chains
        grad_w = positive.T @ positive / len(positive) - negative.T @ negative / len(negative)
        grad_w.fill_diagonal_(0.0)   # no unit is linked to itself
        grad_b = positive.mean(dim=0) - negative.mean(dim=0)
        with torch.no_grad():
            self._velocity_w.mul_(c.momentum).add_(c.lr * (grad_w - c.weight_decay * m.weight))
            self._velocity_b.mul_(c.momentum).add_(c.lr * grad_b)
            m.weight.add_(self._velocity_w)
            m.bias.add_(self._velocity_b)
        self.step_count += 1

    def _finite(self) -> bool:
        return bool(torch.isfinite(self.model.weight).all() and torch.isfinite(self.model.bias).all())

    def _train(self, max_steps: int | None, deadline: float | None) -> int:
        if self.diverged or self.finished or (max_steps is not None and max_steps <= 0):
            return 0
        start = time.perf_counter()
        saved = [t.clone() for t in (self.model.weight, self.model.bias, self._velocity_w, self._velocity_b,
                                     self.chains)]
        before = self.step_count
        while (max_steps is None or self.step_count - before < max_steps) and not self.finished:
            self._one_step()
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if not self._finite():
            with torch.no_grad():
                for target, good in zip((self.model.weight, self.model.bias, self._velocity_w, self._velocity_b,
                                         self.chains), saved):
                    target.copy_(good)
            self.step_count = before
            self.diverged = True
        self.seconds_training += time.perf_counter() - start
        return self.step_count - before

    def step(self, n: int = 1) -> BoltzmannSnapshot:
        """Advance n updates (fewer at max_steps) and return a snapshot."""
        self._train(n, None)
        return self.snapshot()

    def advance(self, seconds: float, max_steps: int | None = None) -> int:
        """Train for about `seconds` (at most max_steps updates); returns the updates made."""
        return self._train(max_steps, time.perf_counter() + seconds)

    def apply(self, new_config: BoltzmannConfig) -> list[str]:
        """Take a changed config: learning rate, momentum, weight decay, sweeps and the step limit apply at
        once; returns the fields that need a new trainer instead (nothing is applied then)."""
        changed = structural_changes(self.config, new_config)
        if not changed:
            if new_config.lr != self.config.lr:
                self.diverged = False
            self.config = new_config
        return changed

    # ---- checkpoints (engine/energy/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), weights, momentum, the persistent free chains, the sampling generator's state,
        the step and the history, loadable with torch.load(weights_only=True). Loading it and training on
        gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "BoltzmannTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a file that
        would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    def snapshot(self) -> BoltzmannSnapshot:
        log_p = exact.bm_visible_log_marginal(self.model)                    # (2^V,)
        log_z = exact.bm_log_partition(self.model)
        free = -(log_p + log_z)                                               # F(v) = −log p(v) − log Z
        seen = self.p_data > 0
        with torch.no_grad():
            chain_energy = float(self.model.energy(self.chains).mean())
        snap = BoltzmannSnapshot(
            step=self.step_count, kl=exact.kl_divergence(self.p_data, log_p),
            log_likelihood=float(np.sum(self.p_data[seen] * log_p[seen])),
            data_mass=float(np.exp(log_p[seen]).sum()),
            free_energy_data=float(free[seen].mean()),
            free_energy_other=float(free[~seen].mean()) if (~seen).any() else math.nan,
            energy=chain_energy, log_z=log_z, lr=self.config.lr, diverged=self.diverged, finished=self.finished,
            weights=self.model.weight.detach().cpu().numpy().copy(), biases=self.model.bias.detach().cpu().numpy().copy(),
            visible_probabilities=np.exp(log_p), data_probabilities=self.p_data.copy(),
            samples=self.chains[:SHOWN_CHAINS, :self.config.n_visible].cpu().numpy().copy())
        point = {k: getattr(snap, k) for k in self.HISTORY_KEYS}
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap
