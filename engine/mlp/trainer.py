"""The resumable Trainer: step(n) advances n optimisation steps and returns a Snapshot
of plain data (floats, lists, NumPy arrays on the CPU), never tensors.

Two trainers with the same config give the same losses, and step(5) then step(5)
equals step(10): the batch order and dropout draw from generators the trainer owns.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..core.device import pick_device
from ..core.losses import data_loss, predictions, weight_penalty
from ..core.registries import make_optimizer
from . import checkpoint
from .config import ExperimentConfig, structural_changes
from .data import Dataset2D, make_dataset, make_features
from .fast_mlp import FastMLP, fast_path_unsupported
from .models import build_model
from .probes import activation_statistics, gradient_norms_by_layer, plane_outputs, weight_norms_by_layer


# A typed weight is kept within this: past it, tanh and sigmoid saturate at any input and a step diverges.
MAX_TYPED_WEIGHT = 1000.0


@dataclass
class Snapshot:
    step: int                       # optimisation steps so far
    epoch: int                      # completed passes over the training set
    train_loss: float               # data loss (no penalty) over the whole training set
    test_loss: float | None         # over the test set; None without a test set
    train_accuracy: float | None    # classification only
    test_accuracy: float | None
    lr: float
    grad_norms: dict[str, float]    # layer -> L2 norm of its weight gradient at the last step, input to output
    activation_stats: dict[str, dict[str, float]]  # hidden layer -> mean, std, saturated (fraction)
    weight_norms: dict[str, float]
    diverged: bool = False          # the loss became NaN/inf; weights were restored to the last finite ones
    finished: bool = False          # the epoch limit is reached
    plane: dict | None = field(default=None, repr=False)  # plane_outputs(), on request

    def to_json_dict(self) -> dict:
        """The CLI's JSON line: everything but the (large) plane arrays."""
        d = asdict(self)
        d.pop("plane")
        return d


class Trainer:
    def __init__(self, config: ExperimentConfig, device: str | torch.device = "auto",
                 dataset: Dataset2D | None = None, fast: bool = True):
        self.config = config
        # Plain MLPs train on engine/mlp/fast_mlp.py's fused path when the config allows it
        # (fast_path_unsupported says why not); fast=False keeps every step on autograd.
        self.use_fast_path = fast
        self._fast: FastMLP | None = None
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.dataset = dataset if dataset is not None else make_dataset(config)
        self.n_classes = self.dataset.n_classes
        self.model = build_model(config).to(self.device)
        self.optimizer = make_optimizer(config.train.optimizer, self.model.parameters(), config.train.lr,
                                        config.train.momentum)
        self._to_tensors()
        # Generators owned by the trainer, so that other code drawing random numbers
        # between two calls cannot change this run.
        self._batch_gen = torch.Generator().manual_seed(config.train.seed + 2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.train.seed + 3)
            self._dropout_rng = torch.get_rng_state()
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.step_count = 0
        self.epoch = 0
        self.diverged = False
        self._last_grad_norms = torch.zeros(len(self.model.named_linears()))
        self.history: list[dict] = []
        self.seconds_training = 0.0
        # Opt-in per-step record of the per-layer gradient norms (the Vanishing gradients page
        # draws a layer x step heatmap from it). Off by default: it costs one stack per step.
        # grad_norm_history holds one (chunk_steps, layers) CPU array per training chunk,
        # copied once per chunk so a GPU run does not synchronise every step.
        self.record_grad_norms = False
        self.grad_norm_history: list[np.ndarray] = []
        self._chunk_norms: list[torch.Tensor] = []

    # ---- data ----
    def _to_tensors(self) -> None:
        ds, feats = self.dataset, self.config.data.features
        self.x_train = torch.from_numpy(make_features(ds.train_xy, feats)).to(self.device)
        self.y_train = torch.from_numpy(ds.train_y).to(self.device)
        self.x_test = torch.from_numpy(make_features(ds.test_xy, feats)).to(self.device) if len(ds.test_xy) else None
        self.y_test = torch.from_numpy(ds.test_y).to(self.device) if len(ds.test_xy) else None

    @property
    def n_train(self) -> int:
        return len(self.dataset.train_xy)

    @property
    def finished(self) -> bool:
        return 0 < self.config.train.max_epochs <= self.epoch

    def _next_batch(self) -> torch.Tensor:
        """Indices of the next batch. An epoch ends when the shuffled order is used up
        (with batch norm, also when a single point would be left: batch statistics need two)."""
        bs = min(self.config.train.batch_size, self.n_train)
        idx = self._order[self._position:self._position + bs]
        self._position += len(idx)
        left = self.n_train - self._position
        if left <= 0 or (self.config.model.norm == "batch" and left < 2):
            self._start_epoch()
        return idx.to(self.device)

    def _start_epoch(self) -> None:
        """The next epoch: a fresh shuffle of the training set, from its start."""
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.epoch += 1

    # ---- training ----
    def _one_step(self) -> bool:
        """One optimisation step; False if the loss was not finite (nothing applied)."""
        cfg = self.config.train
        idx = self._next_batch()
        scores = self.model(self.x_train[idx])
        loss = data_loss(scores, self.y_train[idx], cfg.loss, self.n_classes) + weight_penalty(self.model, cfg.l1, cfg.l2)
        if not torch.isfinite(loss):
            return False
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._last_grad_norms = gradient_norms_by_layer(self.model)  # after backward, before the update
        if cfg.clip_grad_norm > 0:  # after the norms are read: the probe shows what backward produced
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
        if self.record_grad_norms:
            self._chunk_norms.append(self._last_grad_norms)
        self.optimizer.step()
        self.step_count += 1
        return True

    def _train(self, max_steps: int, deadline: float | None, until_epoch: int | None = None) -> None:
        if self.diverged or self.finished or max_steps <= 0:
            return
        start = time.perf_counter()
        good_state = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        good_counters = (self.step_count, self.epoch, self._position, self._order.clone(), self._batch_gen.get_state(),
                         self._last_grad_norms.clone())
        self.model.train()
        if self.fast_path:
            self._train_fast(max_steps, deadline, until_epoch, good_state, good_counters)
        else:
            self._train_autograd(max_steps, deadline, until_epoch, good_state, good_counters)
        if self._chunk_norms:
            # A restored (diverged) chunk keeps no rows: its steps were undone.
            if not self.diverged:
                n_layers = len(self.model.named_linears())
                rows = [n.reshape(-1, n_layers) for n in self._chunk_norms]
                self.grad_norm_history.append(torch.cat(rows).cpu().numpy())
            self._chunk_norms = []
        self.seconds_training += time.perf_counter() - start

    @property
    def fast_path(self) -> bool:
        """Whether the next steps run on the fused path (engine/mlp/fast_mlp.py)."""
        return self.use_fast_path and fast_path_unsupported(self.config) is None

    def _train_fast(self, max_steps: int, deadline: float | None, until_epoch: int | None,
                    good_state, good_counters) -> None:
        """The same steps as _train_autograd, in blocks of up to fast_mlp.BLOCK_STEPS steps
        (across an epoch's end when every batch is full), then the loss check, probes and deadline.
        A non-finite batch loss anywhere in the chunk restores the chunk's start, as there."""
        if self._fast is None or self._fast.device != self.device:
            self._fast = FastMLP.from_config(self.config, self.device)
            self._fast.bind(self.x_train, self.y_train)
        fast, linears = self._fast, [layer for _, layer in self.model.named_linears()]
        fast.pull(linears, self.optimizer)
        done, ran = 0, False
        bs = min(self.config.train.batch_size, self.n_train)
        last_epoch = min(e for e in (until_epoch, self.config.train.max_epochs or None, math.inf) if e is not None)
        while done < max_steps and self.epoch < last_epoch:
            left = self.n_train - self._position
            if left < bs:  # the short last batch of an epoch: a step of its own
                k, b = 1, left
            elif self.n_train % bs:  # epochs end in a short batch: the block stops at the epoch's end
                k, b = min(left // bs, max_steps - done, fast.block_steps(bs)), bs
            else:  # every batch full: the block may run on into the next epochs, to last_epoch
                steps_to_last = (last_epoch - self.epoch) * (self.n_train // bs) - self._position // bs
                k, b = int(min(max_steps - done, fast.block_steps(bs), steps_to_last)), bs
            # The state moves on before the block runs: a diverged block restores the chunk's start anyway.
            idx = self._take(k * b).to(self.device)
            result = fast.train_block(idx, k, b, record=self.record_grad_norms, activations=False)
            ran = True
            if not bool(torch.isfinite(result.losses).all()):
                self.diverged = True
                break
            if result.grad_norms is not None:
                self._chunk_norms.append(result.grad_norms)
            self.step_count += k
            done += k
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if not ran:
            return
        fast.push(linears, self.optimizer)
        if not self.diverged:
            self._last_grad_norms = gradient_norms_by_layer(self.model)  # from the .grad push() wrote
        if self.diverged or not self._finite_now():
            self._restore(good_state, good_counters)
            self.diverged = True

    def _take(self, n: int) -> torch.Tensor:
        """The next n indices of the shuffled order, on into new epochs (each one a fresh
        shuffle, as _next_batch draws it): the epoch counter and position move with them."""
        parts = []
        while n > 0:
            part = self._order[self._position:self._position + n]
            parts.append(part)
            n -= len(part)
            self._position += len(part)
            if self._position >= self.n_train:
                self._start_epoch()
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _train_autograd(self, max_steps: int, deadline: float | None, until_epoch: int | None,
                        good_state, good_counters) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._dropout_rng)
            done = 0
            while done < max_steps and not self.finished and (until_epoch is None or self.epoch < until_epoch):
                if not self._one_step() or not self._weights_finite_every(done):
                    self._restore(good_state, good_counters)
                    self.diverged = True
                    break
                done += 1
                if deadline is not None and time.perf_counter() >= deadline:
                    break
            # Each batch loss can stay finite while the updates blow the weights up so far
            # that the loss over the whole training set overflows: that is divergence too,
            # and the next chunk must not start from those weights.
            if done and not self.diverged and not self._finite_now():
                self._restore(good_state, good_counters)
                self.diverged = True
            self._dropout_rng = torch.get_rng_state()

    def _finite_now(self) -> bool:
        """Weights and the loss over the training set are finite."""
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            return False
        train_loss, _ = self.evaluate(self.x_train, self.y_train)
        return math.isfinite(train_loss)

    def _weights_finite_every(self, done: int, every: int = 50) -> bool:
        if done % every:
            return True
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def _restore(self, good_state, good_counters) -> None:
        self.model.load_state_dict(good_state[0])
        self.optimizer.load_state_dict(good_state[1])
        self.step_count, self.epoch, self._position, self._order, gen_state, grad_norms = good_counters
        self._batch_gen.set_state(gen_state)
        self._last_grad_norms = grad_norms  # the norms of the last step kept, not of a discarded one

    def step(self, n: int = 1, plane_resolution: int = 0, neurons: bool = False) -> Snapshot:
        """Advance n optimisation steps (fewer if the epoch limit comes first) and return a Snapshot."""
        self._train(n, None)
        return self.snapshot(plane_resolution, neurons)

    def run_epochs(self, k: int = 1, **kw) -> Snapshot:
        """Train to the end of the current epoch, then k - 1 more."""
        target = self.epoch + k
        while self.epoch < target and not self.diverged and not self.finished:
            bs = min(self.config.train.batch_size, self.n_train)
            # until_epoch: with batch norm an epoch can end a batch early (no single-point
            # batch), so the step count alone could run into the next epoch.
            self._train(math.ceil((self.n_train - self._position) / bs), None, until_epoch=target)
        return self.snapshot(**kw)

    def train_for(self, seconds: float, max_steps: int = 1_000_000, **kw) -> Snapshot:
        """Train for about `seconds` (a time-boxed chunk for live pages), then snapshot."""
        self._train(max_steps, time.perf_counter() + seconds)
        return self.snapshot(**kw)

    def grad_norm_steps(self) -> np.ndarray:
        """(steps recorded, layers) per-layer weight-gradient norms, one row per step, input
        layer first; empty (0, layers) when record_grad_norms was off."""
        n = len(self.model.named_linears())
        if not self.grad_norm_history:
            return np.zeros((0, n), dtype=np.float32)
        if len(self.grad_norm_history) > 1:  # merge the chunks once, so later reads are cheap
            self.grad_norm_history = [np.concatenate(self.grad_norm_history)]
        return self.grad_norm_history[0]

    # ---- reading ----
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor | None, y: torch.Tensor | None) -> tuple[float | None, float | None]:
        if x is None:
            return None, None
        was_training = self.model.training
        self.model.eval()
        scores = self.model(x)
        self.model.train(was_training)
        loss = float(data_loss(scores, y, self.config.train.loss, self.n_classes))
        if self.n_classes == 0:
            return loss, None
        return loss, float((predictions(scores, self.n_classes) == y).float().mean())

    def snapshot(self, plane_resolution: int = 0, neurons: bool = False) -> Snapshot:
        train_loss, train_acc = self.evaluate(self.x_train, self.y_train)
        test_loss, test_acc = self.evaluate(self.x_test, self.y_test)
        names = [name for name, _ in self.model.named_linears()]
        snap = Snapshot(
            step=self.step_count, epoch=self.epoch, train_loss=train_loss, test_loss=test_loss,
            train_accuracy=train_acc, test_accuracy=test_acc, lr=self.config.train.lr,
            grad_norms=dict(zip(names, self._last_grad_norms.cpu().tolist())),
            activation_stats=activation_statistics(self.model, self.x_train),
            weight_norms=weight_norms_by_layer(self.model), diverged=self.diverged, finished=self.finished,
        )
        if plane_resolution:
            snap.plane = plane_outputs(self.model, self.config.data.features, self.n_classes, self.device,
                                       plane_resolution, neurons)
        point = {"step": snap.step, "epoch": snap.epoch, "epoch_exact": self.epoch + self._position / self.n_train,
                 "train_loss": train_loss, "test_loss": test_loss,
                 "train_accuracy": train_acc, "test_accuracy": test_acc}
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap

    # ---- live changes ----
    def apply(self, new_config: ExperimentConfig) -> list[str]:
        """Take a changed config. Hot fields (learning rate, momentum, penalties, batch size,
        epoch limit) apply to this trainer at once and keep its progress; returns the
        structural fields that differ, which need a new Trainer (nothing is applied then)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        old = self.config.train
        self.config = new_config
        new = new_config.train
        for group in self.optimizer.param_groups:
            group["lr"] = new.lr
            if "momentum" in group and new.momentum != old.momentum:
                group["momentum"] = new.momentum or (0.9 if new.optimizer in ("momentum", "nesterov") else 0.0)
                # RMSprop keeps a momentum buffer only if it started with momentum; one turned
                # on mid-run starts from zero (what a fresh buffer would hold).
                for p in group["params"]:
                    st = self.optimizer.state.get(p)
                    if st and "square_avg" in st and "momentum_buffer" not in st:
                        st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if new.lr != old.lr:
            self.diverged = False  # a new learning rate is the usual cure; let the user try it
        return []

    def set_parameter(self, layer: int, row: int, column: int | None, value: float) -> float:
        """Write one weight of linear layer `layer` (0: the one fed by the inputs), from its input
        `column` to its neuron `row`, or that neuron's bias when column is None; training goes on
        from it, the optimiser's running averages kept (TensorFlow Playground's typed weight).
        Returns the value it replaced. Raises ValueError naming what is out of range."""
        linears = [linear for _, linear in self.model.named_linears()]
        if not 0 <= layer < len(linears):
            raise ValueError(f"layer must be 0..{len(linears) - 1}, got {layer}")
        weight = linears[layer].weight
        if not 0 <= row < weight.shape[0]:
            raise ValueError(f"neuron must be 0..{weight.shape[0] - 1} in that layer, got {row}")
        if column is not None and not 0 <= column < weight.shape[1]:
            raise ValueError(f"input must be 0..{weight.shape[1] - 1} for that layer, got {column}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                or abs(value) > MAX_TYPED_WEIGHT:
            raise ValueError(f"a weight must be a number from -{MAX_TYPED_WEIGHT:g} to {MAX_TYPED_WEIGHT:g}, "
                             f"got {value!r}")
        target = linears[layer].bias if column is None else weight
        at = (row,) if column is None else (row, column)
        with torch.no_grad():
            old = float(target[at])
            target[at] = float(value)
        # Nothing else holds a copy to refresh: the fused path pulls the weights from the model at every chunk.
        return old

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(weight (out, in), bias (out,)) of each linear layer, input to output, as NumPy."""
        return [(layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy())
                for _, layer in self.model.named_linears()]

    # ---- checkpoints (engine/mlp/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), weights, optimiser state, batch order and position, generator
        states and history, loadable with torch.load(weights_only=True). Loading it and
        training on gives the losses the run would have had without the pause."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "Trainer":
        """Rebuild a trainer from checkpoint_bytes() (or an older weights-only checkpoint).
        Only tensors and plain data are unpickled (weights_only=True): a file that would run
        code is refused, and so is one whose contents do not fit its config (ValueError)."""
        return checkpoint.from_checkpoint(cls, data, device)
