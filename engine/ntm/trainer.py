"""NTMTrainer: the neural Turing machine and an LSTM of as many parameters, trained side by side on the
same copy-task batches, step for step, with what the page shows of them (an example through both, the
NTM's memory and heads over time, bit errors on longer sequences)."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.device import pick_device
from ..core.registries import make_optimizer
from . import checkpoint
from .config import NTMConfig, structural_changes
from .copy_task import CopyBatch, copy_batch, random_length
from .model import NTM, LSTMBaseline, matched_lstm_hidden

__all__ = ["CopyExample", "LengthTest", "NTMSnapshot", "NTMTrainer"]

EVAL_PER_LENGTH = 16     # sequences of each training length in the fixed evaluation set
LONGER_PER_LENGTH = 16   # sequences of each length in "try longer"
MODELS = ("ntm", "lstm")


@dataclass
class NTMSnapshot:
    step: int                 # optimisation steps so far (each step updates both models on the same batch)
    loss: float               # the NTM's mean cross-entropy per output bit on the fixed evaluation sequences
    bit_error: float          # the NTM's share of wrong output bits there (thresholded at 0.5)
    lstm_loss: float          # the same for the LSTM
    lstm_bit_error: float
    lr: float
    diverged: bool = False    # a loss became NaN/inf; the last finite weights were kept
    finished: bool = False    # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


@dataclass
class CopyExample:
    """One sequence through both models (NumPy, on the CPU): what the bit images show."""
    step: int
    inputs: np.ndarray         # (2T + 1, bits + 1) what both models read, the delimiter last
    target: np.ndarray         # (T, bits) what they must write back
    ntm_output: np.ndarray     # (T, bits) the NTM's output probabilities in the answer steps
    lstm_output: np.ndarray    # (T, bits)
    read_weights: np.ndarray   # (2T + 1, N) the NTM's read weighting at each step
    write_weights: np.ndarray  # (2T + 1, N)
    memory: np.ndarray         # (2T + 1, N, M) the memory after each step


@dataclass
class LengthTest:
    """Bit errors of both models at sequence lengths, some past the training range."""
    step: int
    lengths: list[int]
    ntm_bit_error: list[float]
    lstm_bit_error: list[float]


def _loss_and_error(logits: torch.Tensor, batch: CopyBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and the number of wrong bits in the answer steps (the last T)."""
    answer = logits[:, batch.length + 1:]                                          # (B, T, bits)
    loss = F.binary_cross_entropy_with_logits(answer, batch.targets)
    wrong = ((answer > 0).float() != batch.targets).sum()                          # logit > 0 ⇔ p > 0.5
    return loss, wrong


class NTMTrainer:
    HISTORY_KEYS = frozenset({"step", "loss", "bit_error", "lstm_loss", "lstm_bit_error"})

    def __init__(self, config: NTMConfig, device: str | torch.device = "auto"):
        self.config = config
        d, m, t = config.data, config.model, config.train
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        # Weights from a CPU generator: the same initial models on every device.
        init = torch.Generator().manual_seed(t.seed)
        self.ntm = NTM(d.bits, m.controller, m.memory_slots, m.memory_width, init).to(self.device)
        self.lstm_hidden = m.lstm_hidden or matched_lstm_hidden(d.bits, m.controller, m.memory_width)
        self.lstm = LSTMBaseline(d.bits, self.lstm_hidden, init).to(self.device)
        self.optimizers = {name: make_optimizer(t.optimizer, model.parameters(), t.lr, 0.0)
                           for name, model in self.models.items()}
        self._batch_gen = torch.Generator().manual_seed(t.seed + 1)
        evaluation = torch.Generator().manual_seed(t.seed + 2)
        self._eval = [copy_batch(EVAL_PER_LENGTH, n, d.bits, evaluation).to(self.device)
                      for n in range(d.min_length, d.max_length + 1)]
        self._longer: dict[int, CopyBatch] = {}
        self._examples: dict[int, CopyBatch] = {}
        self.step_count = 0
        self.diverged = False
        self.seconds_training = 0.0
        self.history: list[dict] = []

    @property
    def models(self) -> dict[str, torch.nn.Module]:
        return {"ntm": self.ntm, "lstm": self.lstm}

    @property
    def finished(self) -> bool:
        return 0 < self.config.train.max_steps <= self.step_count

    def param_count(self, name: str = "ntm") -> int:
        """Numbers a model trains ("ntm" or "lstm"); the NTM's memory is not among them."""
        return sum(p.numel() for p in self.models[name].parameters())

    def _set_optimizer_settings(self) -> None:
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = self.config.train.lr

    # ---- training ----
    def _one_step(self) -> bool:
        """One step of both models on the same batch; False if a loss was not finite (nothing applied)."""
        d, t = self.config.data, self.config.train
        length = random_length(d.min_length, d.max_length, self._batch_gen)
        batch = copy_batch(t.batch_size, length, d.bits, self._batch_gen).to(self.device)
        losses = {name: _loss_and_error(model(batch.inputs), batch)[0] for name, model in self.models.items()}
        if not all(bool(torch.isfinite(loss)) for loss in losses.values()):
            return False
        for name, loss in losses.items():
            optimizer = self.optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if t.clip > 0:  # the NTM's sharpening can make one gradient huge; clipping keeps one step sane
                torch.nn.utils.clip_grad_norm_(self.models[name].parameters(), t.clip)
            optimizer.step()
        self.step_count += 1
        return True

    def _all_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for model in self.models.values() for p in model.parameters())

    def _state(self):
        return copy.deepcopy(({n: m.state_dict() for n, m in self.models.items()},
                              {n: o.state_dict() for n, o in self.optimizers.items()},
                              self.step_count, self._batch_gen.get_state()))

    def _restore(self, state) -> None:
        weights, optimizers, self.step_count, generator = state
        for name, model in self.models.items():
            model.load_state_dict(weights[name])
            self.optimizers[name].load_state_dict(optimizers[name])
        self._batch_gen.set_state(generator)
        self.diverged = True

    def _train(self, max_steps: int | None, deadline: float | None) -> None:
        if self.diverged or self.finished or (max_steps is not None and max_steps <= 0):
            return
        start = time.perf_counter()
        good = self._state()
        for model in self.models.values():
            model.train()
        done = 0
        while (max_steps is None or done < max_steps) and not self.finished:
            if not self._one_step():
                self._restore(good)
                break
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if done and not self.diverged and not self._all_finite():
            self._restore(good)
        self.seconds_training += time.perf_counter() - start

    def step(self, n: int = 1) -> NTMSnapshot:
        """Advance n optimisation steps of both models (fewer at max_steps) and return a snapshot."""
        self._train(n, None)
        return self.snapshot()

    def advance(self, seconds: float, max_steps: int | None = None) -> int:
        """Train for about `seconds` (a live page's time-boxed chunk; at most max_steps), no snapshot.
        Returns the steps taken (0 once diverged or finished)."""
        before = self.step_count
        self._train(max_steps, time.perf_counter() + seconds)
        return self.step_count - before

    def apply(self, new_config: NTMConfig) -> list[str]:
        """Take a changed config: hot fields (learning rate, clipping, batch size, step limit) apply at once
        and keep the progress; returns the structural fields that differ, which need a new trainer."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        if new_config.train.lr != self.config.train.lr:
            self.diverged = False  # a new learning rate is the usual cure; let the user try it
        self.config = new_config
        self._set_optimizer_settings()
        return []

    # ---- checkpoints (engine/ntm/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config, both models' weights, both optimisers' states, the batch generator's state, the step,
        the history: loading it and training on gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "NTMTrainer":
        """Rebuild a trainer from checkpoint_bytes(); a file that would run code, or whose contents do not
        fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    # ---- reading ----
    @torch.no_grad()
    def _errors(self, batches: list[CopyBatch]) -> dict[str, tuple[float, float]]:
        """model -> (mean loss over the batches, share of wrong bits over all their answer bits)."""
        out = {}
        for name, model in self.models.items():
            model.eval()
            losses, wrong, bits = [], 0.0, 0
            for batch in batches:
                loss, w = _loss_and_error(model(batch.inputs), batch)
                losses.append(float(loss))
                wrong, bits = wrong + float(w), bits + batch.targets.numel()
            out[name] = (float(np.mean(losses)), wrong / bits)
        return out

    def snapshot(self) -> NTMSnapshot:
        errors = self._errors(self._eval)
        snap = NTMSnapshot(step=self.step_count, loss=errors["ntm"][0], bit_error=errors["ntm"][1],
                           lstm_loss=errors["lstm"][0], lstm_bit_error=errors["lstm"][1], lr=self.config.train.lr,
                           diverged=self.diverged, finished=self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({k: v for k, v in asdict(snap).items() if k in self.HISTORY_KEYS})
        return snap

    def longer_lengths(self, times: int = 3, points: int = 12) -> list[int]:
        """About `points` lengths from 1 to `times` × the longest training length (each at least once)."""
        top = times * self.config.data.max_length
        return sorted({int(round(x)) for x in np.linspace(1, top, min(points, top))})

    def _fixed_batch(self, cache: dict, length: int, size: int, offset: int) -> CopyBatch:
        if length not in cache:  # its own generator per length: the same sequences whatever else was asked
            generator = torch.Generator().manual_seed(self.config.train.seed * 1009 + offset + length)
            cache[length] = copy_batch(size, length, self.config.data.bits, generator).to(self.device)
        return cache[length]

    def try_longer(self, lengths: list[int] | None = None) -> LengthTest:
        """Both models' bit errors on fixed sequences of each length (default: up to 3 × the longest trained)."""
        lengths = self.longer_lengths() if lengths is None else [int(n) for n in lengths]
        if not lengths or min(lengths) < 1 or max(lengths) > 256:
            raise ValueError(f"lengths must be 1..256, got {lengths!r:.80}")
        ntm, lstm = [], []
        for n in lengths:
            errors = self._errors([self._fixed_batch(self._longer, n, LONGER_PER_LENGTH, 100_000)])
            ntm.append(errors["ntm"][1])
            lstm.append(errors["lstm"][1])
        return LengthTest(self.step_count, lengths, ntm, lstm)

    @torch.no_grad()
    def example(self, length: int | None = None) -> CopyExample:
        """One fixed sequence (default: the longest training length) through both models, with the NTM's
        read and write weightings and its memory at every step."""
        length = self.config.data.max_length if length is None else int(length)
        if not 1 <= length <= 256:
            raise ValueError(f"length must be 1..256, got {length}")
        batch = self._fixed_batch(self._examples, length, 1, 200_000)
        self.ntm.eval()
        self.lstm.eval()
        ntm_logits, trace = self.ntm(batch.inputs, trace=True)
        lstm_logits = self.lstm(batch.inputs)
        answer = slice(length + 1, None)
        return CopyExample(
            step=self.step_count, inputs=batch.inputs[0].cpu().numpy(), target=batch.targets[0].cpu().numpy(),
            ntm_output=torch.sigmoid(ntm_logits[0, answer]).cpu().numpy(),
            lstm_output=torch.sigmoid(lstm_logits[0, answer]).cpu().numpy(),
            read_weights=trace.read_weights, write_weights=trace.write_weights, memory=trace.memory)
