"""ESNTrainer: an echo state network, a fixed random recurrent reservoir with a ridge read-out.

    x(t) = (1 − a) x(t−1) + a tanh(W_in [1; u(t)] + W x(t−1)),    y(t) = W_out x(t) + b

W is sparse and random, scaled so that its spectral radius (largest |eigenvalue|) is what was asked;
below 1 (with tanh) the reservoir has the echo-state property in practice: its state comes to depend
on the input's recent past only, whatever state it started in. On a series the read-out predicts the
next value (one step ahead); run free, its output becomes the next input. On the digits a row is one
input (8 values) and the read-out classifies the state after the last row.

A step drives the reservoir over the next samples_per_step samples of the training data (time steps,
or digits) and refits the read-out on everything seen so far from running sums, so the test error
falls as data arrives. The test states are driven once, at the start, after a washout of their own.
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
from .config import ESNConfig
from .data import digit_rows, nrmse, series
from .ridge import RidgeAccumulator, reservoir_dtype


def reservoir_weights(size: int, density: float, spectral_radius: float, generator: torch.Generator
                      ) -> tuple[torch.Tensor, float]:
    """(W (size, size) float64 on the CPU, the radius it has): uniform weights in [-1, 1] on a random
    `density` share of the connections, scaled to `spectral_radius`. A draw with no eigenvalue off 0
    (a tiny or very sparse reservoir) cannot be scaled: W is then zero, radius 0."""
    w = (torch.rand(size, size, generator=generator, dtype=torch.float64) * 2 - 1)
    w = w * (torch.rand(size, size, generator=generator, dtype=torch.float64) < density)
    radius = float(torch.linalg.eigvals(w).abs().max()) if size else 0.0
    if radius < 1e-12:
        return torch.zeros_like(w), 0.0
    return w * (spectral_radius / radius), float(spectral_radius)


class EchoStateNetwork(nn.Module):
    """The echo state network as a module: the reservoir's weights and the read-out are buffers (none
    is trained by gradients). forward(u (T, B, D)) -> (outputs (T, B, K), states (T, B, N))."""

    def __init__(self, input_weights: torch.Tensor, weights: torch.Tensor, leak_rate: float, n_outputs: int):
        super().__init__()
        self.leak_rate = float(leak_rate)
        self.register_buffer("input_weights", input_weights)   # (N, 1 + D): bias column first
        self.register_buffer("weights", weights)               # (N, N)
        n = weights.shape[0]
        self.register_buffer("readout", torch.zeros(n_outputs, n, dtype=weights.dtype))   # (K, N)
        self.register_buffer("readout_bias", torch.zeros(n_outputs, dtype=weights.dtype))  # (K,)

    def update(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One step: state x (B, N) and input u (B, D) -> the next state (B, N)."""
        drive = self.input_weights[:, 0] + u @ self.input_weights[:, 1:].T + x @ self.weights.T
        return (1 - self.leak_rate) * x + self.leak_rate * torch.tanh(drive)

    def drive(self, u: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """States (T, B, N) for inputs u (T, B, D) from state x (B, N) (zero by default)."""
        u = u.to(self.weights.dtype)
        if x is None:
            x = torch.zeros(u.shape[1], self.weights.shape[0], dtype=self.weights.dtype, device=self.weights.device)
        states = torch.empty(u.shape[0], *x.shape, dtype=x.dtype, device=x.device)
        for t in range(u.shape[0]):
            x = self.update(x, u[t])
            states[t] = x
        return states

    def read(self, states: torch.Tensor) -> torch.Tensor:
        return states @ self.readout.T + self.readout_bias

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.drive(u)
        return self.read(states), states


@dataclass
class ESNSnapshot:
    step: int                      # chunks of training data driven through so far
    samples_seen: int              # time steps (digits: digits) the read-out is fitted on
    train_nrmse: float | None      # the read-out's error on what it was fitted on (digits: one-hot outputs)
    test_nrmse: float | None       # one step ahead on the test stretch (digits: one-hot outputs)
    free_run_nrmse: float | None   # series: free-running over data.free_run steps; None for digits
    train_accuracy: float | None   # digits: share classified right; None for a series
    test_accuracy: float | None
    spectral_radius: float         # of the reservoir as built
    diverged: bool = False         # the read-out's outputs stopped being finite
    finished: bool = False         # every training sample used

    def to_json_dict(self) -> dict:
        return asdict(self)


class ESNTrainer:
    def __init__(self, config: ESNConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.dtype = reservoir_dtype(self.device)
        d, m, t = config.data, config.model, config.train
        self.digits = d.signal == "digits"
        inputs = 8 if self.digits else 1
        gen = torch.Generator().manual_seed(t.seed + 21)
        weights, self.spectral_radius = reservoir_weights(m.size, m.density, m.spectral_radius, gen)
        input_weights = (torch.rand(m.size, 1 + inputs, generator=gen, dtype=torch.float64) * 2 - 1) * m.input_scaling
        self.weights_cpu = weights                                      # (N, N) float64, for checks
        self.model = EchoStateNetwork(input_weights.to(self.device, self.dtype), weights.to(self.device, self.dtype),
                                      m.leak_rate, N_CLASSES if self.digits else 1)
        self._initial_gen = torch.Generator().manual_seed(t.seed + 22)
        self.step_count = 0
        self._next_sample = 0                                           # the next training sample to drive
        self.diverged = False
        self.history: list[dict] = []
        outputs = N_CLASSES if self.digits else 1
        self.accumulator = RidgeAccumulator(m.size, outputs, self.dtype, self.device)
        self.train_states: list[torch.Tensor] = []                      # (n, N) chunks, on the device
        self.train_targets: list[torch.Tensor] = []
        if self.digits:
            self._setup_digits()
        else:
            self._setup_series()

    # ---- data ----
    def _setup_series(self) -> None:
        d = self.config.data
        self.test_start = d.washout + d.train_length
        total = self.test_start + max(d.test_length, d.free_run) + 1
        self.series = series(d.signal, total)                           # (T,) float64
        s = torch.from_numpy(self.series).to(self.device, self.dtype)
        self.u_all = s[:, None, None]                                   # (T, 1, 1): time, batch, input
        self.n_train = d.washout + d.train_length                       # inputs driven (the washout's unused)
        self.state = torch.zeros(1, self.config.model.size, dtype=self.dtype, device=self.device)
        # The test stretch, after a washout of its own that starts from zero: independent of training.
        start = max(0, self.test_start - max(d.washout, 1))
        states = self.model.drive(self.u_all[start:self.test_start + d.test_length], None)[:, 0]
        self.test_states = states[self.test_start - start:]             # (test_length, N): after input s[test_start + k]
        self.test_truth = self.series[self.test_start + 1:self.test_start + 1 + d.test_length]

    def _setup_digits(self) -> None:
        d, t = self.config.data, self.config.train
        x_train, self.y_train, x_test, self.y_test = load_digits_split(t.seed, d.test_fraction)
        self.x_train_rows = torch.from_numpy(digit_rows(x_train)).to(self.device, self.dtype)   # (N, 8, 8)
        self.x_test_rows = torch.from_numpy(digit_rows(x_test)).to(self.device, self.dtype)
        self.n_train = len(self.y_train)
        self.test_states = self.digit_states(self.x_test_rows)                 # (M, N)
        self.test_truth = np.eye(N_CLASSES)[self.y_test]                        # (M, 10)

    def digit_states(self, rows: torch.Tensor) -> torch.Tensor:
        """The reservoir's state after the last row of each digit (N, 8, 8) -> (N, size), from zero."""
        return self.model.drive(rows.transpose(0, 1))[-1]

    @property
    def samples_seen(self) -> int:
        return self.accumulator.n

    @property
    def finished(self) -> bool:
        return self._next_sample >= self.n_train

    # ---- training ----
    def _chunk(self, lo: int, hi: int, state: torch.Tensor | None):
        """(states kept (n, N), their targets (n, K), the state after them) for training samples lo..hi-1,
        a series driven on from `state` (1, N); digits each from zero (state None)."""
        d = self.config.data
        if self.digits:
            states = self.digit_states(self.x_train_rows[lo:hi])
            targets = torch.nn.functional.one_hot(torch.from_numpy(self.y_train[lo:hi]), N_CLASSES)
        else:
            driven = self.model.drive(self.u_all[lo:hi], state)[:, 0]       # after inputs s[lo..hi-1]
            state = driven[-1:].clone()
            keep = max(0, d.washout - lo)                                    # the washout's states are not used
            states = driven[keep:]
            targets = torch.from_numpy(self.series[lo + keep + 1:hi + 1])[:, None]
        return states, targets.to(self.device, self.dtype), state

    def chunk_bounds(self, upto: int) -> list[tuple[int, int]]:
        """The (lo, hi) of the chunks step() drives, from the first sample up to `upto`."""
        n = self.config.train.samples_per_step
        return [(lo, min(lo + n, upto)) for lo in range(0, upto, n)]

    def _drive_chunk(self) -> None:
        lo, hi = self._next_sample, min(self._next_sample + self.config.train.samples_per_step, self.n_train)
        states, targets, end = self._chunk(lo, hi, None if self.digits else self.state)
        if not self.digits:
            self.state = end
        if len(states):
            self.accumulator.add(states, targets)
            self.train_states.append(states)
            self.train_targets.append(targets)
        self._next_sample = hi

    def drive_again(self, upto: int) -> int:
        """The kept training states of the samples before `upto`, driven again from the start chunk by
        chunk as step() drove them (the same numbers, bit for bit on one device), for the train score of a
        run loaded from a checkpoint; returns how many were kept. The read-out's sums are not touched."""
        state = None if self.digits else torch.zeros(1, self.config.model.size, dtype=self.dtype, device=self.device)
        self.train_states, self.train_targets = [], []
        for lo, hi in self.chunk_bounds(upto):
            states, targets, state = self._chunk(lo, hi, state)
            if len(states):
                self.train_states.append(states)
                self.train_targets.append(targets)
        return sum(len(s) for s in self.train_states)

    def step(self, n: int = 1) -> ESNSnapshot:
        """Drive the reservoir over the next n chunks of training data, refit the read-out, snapshot."""
        for _ in range(max(0, int(n))):
            if self.finished:
                break
            self._drive_chunk()
            self.step_count += 1
        self._refit()
        return self.snapshot()

    def _refit(self) -> None:
        weights, bias = self.accumulator.fit(self.config.model.ridge)
        self.model.readout, self.model.readout_bias = weights, bias

    def set_ridge(self, ridge: float) -> None:
        """A new λ for the read-out, refitted at once on everything seen (the running sums keep all it
        needs): a hot change, no training lost."""
        self.config = self.config.replace(model={"ridge": ridge})
        self._refit()
        if self.history and self.history[-1]["step"] == self.step_count:
            self.history.pop()   # this step's point is measured again, with the new λ
        self.snapshot()

    # ---- checkpoints (engine/reservoirs/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config, counters, the read-out's running sums, the series' reservoir state and the history,
        loadable with torch.load(weights_only=True): loading it and stepping on gives what the run would
        have given without the pause."""
        return checkpoint.esn_checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "ESNTrainer":
        """Rebuild a trainer from checkpoint_bytes(); ValueError naming what is wrong with a damaged file."""
        return checkpoint.esn_from_checkpoint(cls, data, device)

    # ---- reading ----
    def _outputs(self, states: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.model.read(states).cpu().numpy()

    def free_run(self, steps: int | None = None) -> np.ndarray:
        """(steps,) the network's own continuation from the first test state: each output is the next
        input. Compare with series[test_start + 1:]."""
        steps = self.config.data.free_run if steps is None else steps
        out = np.empty(steps)
        x = self.test_states[:1]
        with torch.no_grad():
            for k in range(steps):
                y = self.model.read(x)                                          # (1, 1)
                out[k] = float(y)
                if not math.isfinite(out[k]):
                    out[k:] = np.nan
                    break
                x = self.model.update(x, y)
        return out

    def snapshot(self) -> ESNSnapshot:
        seen = self.accumulator.n
        test_out = self._outputs(self.test_states)
        train_states = torch.cat(self.train_states) if self.train_states else None
        train_out = self._outputs(train_states) if train_states is not None else None
        train_truth = torch.cat(self.train_targets).cpu().numpy() if self.train_targets else None
        fitted = seen > 0
        if self.digits:
            test_nrmse = nrmse(test_out, self.test_truth) if fitted else None
            train_nrmse = nrmse(train_out, train_truth) if fitted else None
            test_acc = float((test_out.argmax(1) == self.y_test).mean()) if fitted else None
            train_acc = float((train_out.argmax(1) == train_truth.argmax(1)).mean()) if fitted else None
            free = None
        else:
            test_nrmse = nrmse(test_out[:, 0], self.test_truth) if fitted else None
            train_nrmse = nrmse(train_out[:, 0], train_truth[:, 0]) if fitted else None
            train_acc = test_acc = None
            d = self.config.data
            truth = self.series[self.test_start + 1:self.test_start + 1 + d.free_run]
            free = nrmse(self.free_run(), truth) if fitted else None
        self.diverged = bool(fitted and not np.isfinite(test_out).all())
        snap = ESNSnapshot(step=self.step_count, samples_seen=seen, train_nrmse=train_nrmse, test_nrmse=test_nrmse,
                           free_run_nrmse=free if free is None or math.isfinite(free) else None,
                           train_accuracy=train_acc, test_accuracy=test_acc, spectral_radius=self.spectral_radius,
                           diverged=self.diverged, finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({k: v for k, v in asdict(snap).items()
                                 if k in ("step", "samples_seen", "train_nrmse", "test_nrmse", "free_run_nrmse",
                                          "train_accuracy", "test_accuracy")})
        return snap

    def predictions(self) -> dict[str, np.ndarray]:
        """The test stretch of a series: "time" (steps), "truth", "one_step" (the read-out on the driven
        states) and "free_run" (its own continuation, the first data.free_run steps)."""
        if self.digits:
            raise ValueError("predictions are for a series; on the digits read test_accuracy")
        d = self.config.data
        return {"time": np.arange(self.test_start + 1, self.test_start + 1 + d.test_length),
                "truth": self.test_truth.copy(), "one_step": self._outputs(self.test_states)[:, 0],
                "free_run": self.free_run()}

    def state_sample(self, units: int = 20, steps: int = 200) -> np.ndarray:
        """(units, steps): the first `units` reservoir units over the first `steps` test steps (digits:
        over the first `steps` test digits' final states)."""
        return self.test_states[:steps, :units].T.float().cpu().numpy()

    def echo_state_distances(self, steps: int = 1000) -> np.ndarray:
        """(steps,) ‖x_a(t) − x_b(t)‖ for two copies of the reservoir, one started at 0 and one at a random
        state in [-1, 1]^N, driven by the same input (the series; digits: the training digits' rows one
        after another). Falling towards 0: the reservoir forgets where it started (the echo-state property)."""
        if self.digits:
            u = self.x_train_rows.reshape(-1, 8)[:steps, None, :]
        else:
            u = self.u_all[:steps]
        n = self.config.model.size
        start = (torch.rand(1, n, generator=self._initial_gen, dtype=torch.float64) * 2 - 1).to(self.device, self.dtype)
        self._initial_gen.manual_seed(self.config.train.seed + 22)       # the same random start every time
        with torch.no_grad():
            a = self.model.drive(u, torch.zeros_like(start))[:, 0]
            b = self.model.drive(u, start)[:, 0]
        return (a - b).norm(dim=1).cpu().numpy()
