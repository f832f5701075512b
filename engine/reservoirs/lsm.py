"""LSMTrainer: a liquid state machine, a fixed random network of leaky integrate-and-fire neurons
(the "liquid") with a linear read-out, on the digits fed row by row as spike trains.

Each neuron's membrane potential v (rest 0) leaks towards its drive with time constant τ:

    τ dv/dt = −v + I(t)    ⇒    v(t + Δt) = v(t) e^{−Δt/τ} + (1 − e^{−Δt/τ}) I        (I constant over Δt)

which is the exact solution over one step, so a constant drive I gives v(t) = I + (v₀ − I) e^{−t/τ} and,
when I > θ, a first spike at t* = τ ln((I − v₀)/(I − θ)). On reaching the threshold θ the neuron
spikes, v is set to the reset potential and held there for the refractory period. Spikes arrive as
jumps: an input spike on a connection of weight w adds w to v at once (delta synapses); recurrent
weights are sparse, positive from the excitatory neurons and negative from the inhibitory ones (Dale's
law: a neuron's outgoing weights share its sign).

A digit is 8 rows of 8 pixels; the 8 input neurons (one per column) fire while each row is held for
steps_per_row steps. The read-out sees every neuron's spike count in each of readout_bins windows of
the presentation and is fitted by ridge regression on one-hot targets. A step drives samples_per_step
more training digits through the liquid (all at once, as a batch) and refits.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..core.device import pick_device
from ..core.digits import N_CLASSES, load_digits_split
from . import checkpoint
from .config import ESNConfig, LSMConfig
from .data import spike_trains
from .esn import ESNTrainer
from .ridge import RidgeAccumulator, reservoir_dtype


def lif_step(v: torch.Tensor, refractory: torch.Tensor, current: torch.Tensor | float, jump: torch.Tensor | float,
             decay: float, threshold: float, reset: float, refractory_steps: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One time step of leaky integrate-and-fire neurons: (v, refractory steps left, spikes) after it.

    v (B, N) potentials; `current` the drive I held over the step; `jump` the synaptic jumps arriving;
    decay = e^{−Δt/τ}. A neuron in its refractory period stays at `reset`."""
    resting = refractory > 0
    integrated = v * decay + (1.0 - decay) * current + jump
    v = torch.where(resting, torch.full_like(v, reset), integrated)
    spikes = v >= threshold
    v = torch.where(spikes, torch.full_like(v, reset), v)
    refractory = torch.where(spikes, torch.full_like(refractory, refractory_steps), (refractory - 1).clamp(min=0))
    return v, refractory, spikes.to(v.dtype)


class LiquidStateMachine(nn.Module):
    """The liquid state machine as a module: input and recurrent weights and the read-out are buffers.
    forward(spikes (B, T, 8)) -> class scores (B, 10)."""

    def __init__(self, input_weights: torch.Tensor, weights: torch.Tensor, model_config, bins: int):
        super().__init__()
        m = model_config
        self.decay = math.exp(-m.dt_ms / m.tau_ms)
        self.threshold, self.reset = float(m.threshold), float(m.reset)
        self.refractory_steps = int(round(m.refractory_ms / m.dt_ms))
        self.bins = int(bins)
        self.register_buffer("input_weights", input_weights)   # (N, 8): column j = input neuron j
        self.register_buffer("weights", weights)               # (N, N): column j = presynaptic neuron j
        n = weights.shape[0]
        self.register_buffer("readout", torch.zeros(N_CLASSES, n * self.bins, dtype=weights.dtype))  # (10, N·bins)
        self.register_buffer("readout_bias", torch.zeros(N_CLASSES, dtype=weights.dtype))

    def run(self, spikes_in: torch.Tensor, record: bool = False):
        """Drive the liquid with input spikes (B, T, 8): (counts (B, bins, N), and with record=True the
        liquid's spikes (B, T, N) and potentials (B, T, N))."""
        b, steps, _ = spikes_in.shape
        n = self.weights.shape[0]
        kw = dict(dtype=self.weights.dtype, device=self.weights.device)
        v, refractory, s = torch.zeros(b, n, **kw), torch.zeros(b, n, **kw), torch.zeros(b, n, **kw)
        counts = torch.zeros(b, self.bins, n, **kw)
        spikes_in = spikes_in.to(**kw)
        raster = torch.zeros(b, steps, n, **kw) if record else None
        potentials = torch.zeros(b, steps, n, **kw) if record else None
        for t in range(steps):
            jump = spikes_in[:, t] @ self.input_weights.T + s @ self.weights.T   # (B, N)
            v, refractory, s = lif_step(v, refractory, 0.0, jump, self.decay, self.threshold, self.reset,
                                        self.refractory_steps)
            counts[:, t * self.bins // steps] += s
            if record:
                raster[:, t], potentials[:, t] = s, v
        return (counts, raster, potentials) if record else counts

    def forward(self, spikes_in: torch.Tensor) -> torch.Tensor:
        return self.run(spikes_in).flatten(1) @ self.readout.T + self.readout_bias


def liquid_weights(m, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(input weights (N, 8), recurrent weights (N, N), excitatory count) as float64 on the CPU: the first
    round(excitatory · N) neurons excite, the rest inhibit; no neuron connects to itself."""
    n = m.size
    excitatory = int(round(m.excitatory * n))
    present = torch.rand(n, n, generator=generator, dtype=torch.float64) < m.density
    present.fill_diagonal_(False)
    sign = torch.where(torch.arange(n) < excitatory, m.excitatory_weight, -m.inhibitory_weight).to(torch.float64)
    weights = present * torch.rand(n, n, generator=generator, dtype=torch.float64) * sign[None, :]
    inputs = (torch.rand(n, 8, generator=generator, dtype=torch.float64) < m.input_density) \
        * torch.rand(n, 8, generator=generator, dtype=torch.float64) * m.input_weight
    return inputs, weights, excitatory


def twin_config(config: LSMConfig) -> ESNConfig:
    """The echo state network on the liquid's task: the same digits' rows, as analog inputs, the same split
    and seed, as many digits a step."""
    t = config.train
    return ESNConfig.from_dict({"data": {"signal": "digits", "test_fraction": config.data.test_fraction},
                                "train": {"seed": t.seed, "samples_per_step": t.samples_per_step}})


@dataclass
class LSMSnapshot:
    step: int                      # chunks of training digits driven through so far
    samples_seen: int              # training digits the read-out is fitted on
    train_accuracy: float | None
    test_accuracy: float | None
    rate_hz: float                 # mean firing rate of the liquid's neurons over the test digits
    diverged: bool = False         # the read-out's outputs stopped being finite
    finished: bool = False         # every training digit used

    def to_json_dict(self) -> dict:
        return asdict(self)


class LSMTrainer:
    def __init__(self, config: LSMConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.dtype = reservoir_dtype(self.device)
        d, m, t = config.data, config.model, config.train
        x_train, self.y_train, self.x_test, self.y_test = load_digits_split(t.seed, d.test_fraction)
        self.x_train = x_train
        gen = torch.Generator().manual_seed(t.seed + 31)
        inputs, weights, self.n_excitatory = liquid_weights(m, gen)
        self.model = LiquidStateMachine(inputs.to(self.device, self.dtype), weights.to(self.device, self.dtype), m,
                                        m.readout_bins)
        # The spikes are drawn on the CPU from the run's own generator, so a run is the same on every device.
        self._spike_gen = torch.Generator().manual_seed(t.seed + 32)
        self.test_spikes = self.encode(self.x_test)                    # (M, T, 8)
        self.steps = self.test_spikes.shape[1]
        with torch.no_grad():
            counts = self.model.run(self.test_spikes)
        self.rate_hz = float(counts.sum((1,)).mean()) / (self.steps * m.dt_ms / 1000.0)
        self.test_features = counts.flatten(1)                          # (M, N·bins)
        self.accumulator = RidgeAccumulator(self.test_features.shape[1], N_CLASSES, self.dtype, self.device)
        self.train_features: list[torch.Tensor] = []
        self.step_count = 0
        self._next_sample = 0
        self.diverged = False
        self.history: list[dict] = []
        # An echo state network on the very same digits' rows (twin_config), trained beside the liquid
        # where it is compared with it: it is not stepped here, but its checkpoint travels in this one.
        self.twin: ESNTrainer | None = None

    def encode(self, images: np.ndarray) -> torch.Tensor:
        d = self.config.data
        return spike_trains(images, d.steps_per_row, d.encoding, d.max_rate, self._spike_gen).to(self.device)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def samples_seen(self) -> int:
        return self.accumulator.n

    @property
    def finished(self) -> bool:
        return self._next_sample >= self.n_train

    def _counts(self, lo: int, hi: int) -> torch.Tensor:
        """Training digits lo..hi-1 through the liquid: their spike counts (n, N·bins), drawing their spikes."""
        with torch.no_grad():
            return self.model.run(self.encode(self.x_train[lo:hi])).flatten(1)

    def _add(self, lo: int, hi: int, features: torch.Tensor) -> None:
        targets = torch.nn.functional.one_hot(torch.from_numpy(self.y_train[lo:hi]), N_CLASSES)
        self.accumulator.add(features, targets.to(self.device, self.dtype))
        self.train_features.append(features)

    def chunk_bounds(self, upto: int) -> list[tuple[int, int]]:
        """The (lo, hi) of the chunks step() drives, from the first digit up to `upto`."""
        n = self.config.train.samples_per_step
        return [(lo, min(lo + n, upto)) for lo in range(0, upto, n)]

    def step(self, n: int = 1) -> LSMSnapshot:
        """Drive the next n chunks of training digits through the liquid, refit the read-out, snapshot."""
        for _ in range(max(0, int(n))):
            if self.finished:
                break
            lo = self._next_sample
            hi = min(lo + self.config.train.samples_per_step, self.n_train)
            self._add(lo, hi, self._counts(lo, hi))
            self._next_sample = hi
            self.step_count += 1
        self._refit()
        return self.snapshot()

    def _refit(self) -> None:
        self.model.readout, self.model.readout_bias = self.accumulator.fit(self.config.model.ridge)

    def set_ridge(self, ridge: float) -> None:
        """A new λ for the read-out, refitted at once on every digit seen: a hot change, no training lost."""
        self.config = self.config.replace(model={"ridge": ridge})
        self._refit()
        if self.history and self.history[-1]["step"] == self.step_count:
            self.history.pop()   # this step's point is measured again, with the new λ
        self.snapshot()

    # ---- checkpoints (engine/reservoirs/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config, counters, the spike counts of the digits seen (the read-out's sums are added up again
        from them, exactly), the spike generator's state, the history and the twin, if any: loadable with
        torch.load(weights_only=True); loading it and stepping on gives what the run would have given."""
        return checkpoint.lsm_checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "LSMTrainer":
        """Rebuild a trainer (and its twin) from checkpoint_bytes(); ValueError naming what is wrong."""
        return checkpoint.lsm_from_checkpoint(cls, data, device, ESNTrainer)

    def _scores(self, features: torch.Tensor) -> np.ndarray:
        return (features @ self.model.readout.T + self.model.readout_bias).cpu().numpy()

    def snapshot(self) -> LSMSnapshot:
        fitted = self.accumulator.n > 0
        test_scores = self._scores(self.test_features)
        train_acc = test_acc = None
        if fitted:
            seen = self.y_train[:self._next_sample]
            train_acc = float((self._scores(torch.cat(self.train_features)).argmax(1) == seen).mean())
            test_acc = float((test_scores.argmax(1) == self.y_test).mean())
        self.diverged = bool(fitted and not np.isfinite(test_scores).all())
        snap = LSMSnapshot(step=self.step_count, samples_seen=self.accumulator.n, train_accuracy=train_acc,
                           test_accuracy=test_acc, rate_hz=self.rate_hz, diverged=self.diverged,
                           finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({"step": snap.step, "samples_seen": snap.samples_seen,
                                 "train_accuracy": train_acc, "test_accuracy": test_acc})
        return snap

    def raster(self, index: int = 0) -> dict[str, np.ndarray]:
        """Test digit `index` through the liquid: "input" (T, 8) input spikes, "spikes" (T, N) the
        liquid's, "potential" (T, N) membrane potentials, "image" (8, 8), "label", "dt_ms"."""
        if not 0 <= index < len(self.y_test):
            raise ValueError(f"index must be 0..{len(self.y_test) - 1}, got {index}")
        spikes_in = self.test_spikes[index:index + 1]
        with torch.no_grad():
            _, raster, potentials = self.model.run(spikes_in, record=True)
        return {"input": spikes_in[0].float().cpu().numpy(), "spikes": raster[0].float().cpu().numpy(),
                "potential": potentials[0].float().cpu().numpy(), "image": self.x_test[index].reshape(8, 8),
                "label": int(self.y_test[index]), "dt_ms": self.config.model.dt_ms}

    def predict(self, index: int) -> np.ndarray:
        """(10,) the read-out's scores for test digit `index`."""
        return self._scores(self.test_features[index:index + 1])[0]
