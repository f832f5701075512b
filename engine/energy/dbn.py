"""DBNTrainer: a deep belief net pretrained greedily, layer by layer, then fine-tuned as a digit classifier.

Greedy pretraining (Hinton, Osindero and Teh 2006): the first RBM learns the binarised pixels by CD-k;
its hidden probabilities are then the data of the second RBM, and so on up. No label is used. Each RBM
becomes a sigmoid layer of a feed-forward network, a softmax head is put on top, and backprop fine-tunes
the whole network on the labelled digits.

The question it answers: do the features learned from unlabelled digits help when labels are few? For
each count of labelled digits (50, 100, 500, all by default; balanced, the same number of each digit)
two networks of the same shape are fine-tuned step for step on the same batches: one started from the
pretrained RBMs, one from a random initialisation. Their test accuracies fill in a learning curve.

One step is one update: a CD update of the layer being pretrained, or one Adam update of both networks.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.device import pick_device
from ..core.digits import N_CLASSES
from . import checkpoint
from .config import LABELLED_ALL, DBNConfig, structural_changes
from .data import binary_digits
from .models import DeepBeliefNet
from .rbm import ContrastiveDivergence, initial_visible_bias


@dataclass(frozen=True)
class Stage:
    phase: str       # "pretrain" or "finetune"
    index: int       # the layer (0-based) or the position in config.labelled
    start: int       # the run's step at which it begins
    steps: int


def plan(config: DBNConfig) -> list[Stage]:
    """The run's stages in order: pretrain each layer, then fine-tune for each labelled count."""
    stages, start = [], 0
    for i in range(len(config.hidden)):
        stages.append(Stage("pretrain", i, start, config.pretrain_steps))
        start += config.pretrain_steps
    for i in range(len(config.labelled)):
        stages.append(Stage("finetune", i, start, config.finetune_steps))
        start += config.finetune_steps
    return stages


def balanced_subset(y: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` labelled digits, the same number of each class (count // 10; the first ones in the
    split's seeded order, so a larger count holds the smaller ones); LABELLED_ALL or more than there are:
    every index."""
    if count == LABELLED_ALL or count >= len(y):
        return np.arange(len(y))
    per_class = count // N_CLASSES
    chosen = np.concatenate([np.flatnonzero(y == digit)[:per_class] for digit in range(N_CLASSES)])
    return np.sort(chosen)


@dataclass
class DBNSnapshot:
    step: int
    phase: str                     # "pretrain", "finetune" or "done"
    layer: int                     # the RBM being pretrained, 1-based (0 once pretraining is over)
    labelled: int                  # labelled digits of the count being fine-tuned (0 while pretraining)
    recon_error: float             # the current (last) RBM's reconstruction error on the test digits' codes
    test_accuracy: float           # the pretrained network's, at this count (NaN before fine-tuning)
    test_accuracy_random: float    # the same network from random initialisation, at this count
    layer_recon_errors: list[float]  # every RBM's reconstruction error now (NaN: not started)
    results: dict[str, dict[str, float]]  # labelled count -> {"pretrained": accuracy, "random": accuracy}, done ones
    lr: float
    diverged: bool = False
    finished: bool = False

    def to_json_dict(self) -> dict:
        return asdict(self)


class DBNTrainer:
    TASK = "dbn"
    HISTORY_KEYS = ("step", "phase", "layer", "labelled", "recon_error", "test_accuracy", "test_accuracy_random")

    def __init__(self, config: DBNConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        x_train, self.y_train, x_test, self.y_test = binary_digits(config.seed, config.test_fraction)
        self.x_train_np, self.x_test_np = x_train, x_test
        self.x_train = torch.from_numpy(x_train).to(self.device)
        self.x_test = torch.from_numpy(x_test).to(self.device)
        self.y_train_t = torch.from_numpy(self.y_train).to(self.device)
        self.y_test_t = torch.from_numpy(self.y_test).to(self.device)
        self.model = DeepBeliefNet([64, *config.hidden], seed=config.seed).to(self.device)
        with torch.no_grad():
            self.model.rbms[0].visible_bias.copy_(initial_visible_bias(x_train).to(self.device))
        self.stages = plan(config)
        self._generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self._batch_generator = torch.Generator().manual_seed(config.seed + 2)
        self._cd: ContrastiveDivergence | None = None
        self._finetune: dict | None = None      # the networks being fine-tuned, their optimisers and data
        self.results: dict[str, dict[str, float]] = {}
        self.step_count = 0
        self.diverged = False
        self.history: list[dict] = []
        self.seconds_training = 0.0

    # ---- where the run is ----
    @property
    def total_steps(self) -> int:
        return self.config.total_steps

    @property
    def finished(self) -> bool:
        return self.step_count >= self.total_steps or 0 < self.config.max_steps <= self.step_count

    def stage(self) -> Stage | None:
        """The stage the next step belongs to (None when every stage is done)."""
        for s in self.stages:
            if self.step_count < s.start + s.steps:
                return s
        return None

    def labelled_count(self, index: int) -> int:
        return len(balanced_subset(self.y_train, self.config.labelled[index]))

    # ---- pretraining ----
    def _codes(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        with torch.no_grad():
            return self.model.up_to(x, layer)

    def _cd_for(self, layer: int) -> ContrastiveDivergence:
        """The CD of RBM `layer`, started on the first step of its stage (the layers below it are trained
        then, and stay as they are: its data, their codes, are computed once)."""
        if self._cd is None or self._cd.rbm is not self.model.rbms[layer]:
            self._cd = ContrastiveDivergence(self.model.rbms[layer], self._codes(self.x_train, layer), self.config,
                                             self._generator, self.config.seed + 10 + layer)
        return self._cd

    def _pretrain_step(self, layer: int) -> None:
        self._cd_for(layer).step()

    def layer_recon_error(self, layer: int) -> float:
        """Mean squared reconstruction error of RBM `layer` on the test digits passed up to its input."""
        with torch.no_grad():
            v = self._codes(self.x_test, layer)
            return float(((self.model.rbms[layer].reconstruct(v) - v) ** 2).mean())

    # ---- fine-tuning ----
    def _start_finetune(self, index: int) -> None:
        chosen = torch.from_numpy(balanced_subset(self.y_train, self.config.labelled[index])).to(self.device)
        nets = {name: self.model.classifier(N_CLASSES, pretrained=(name == "pretrained"),
                                            seed=self.config.seed + 100 + index)
                for name in ("pretrained", "random")}
        optimisers = {name: torch.optim.Adam(net.parameters(), lr=self.config.finetune_lr) for name, net in nets.items()}
        self._finetune = {"index": index, "idx": chosen, "nets": nets, "optimisers": optimisers, "position": 0,
                          "order": torch.randperm(len(chosen), generator=self._batch_generator)}

    def _finetune_step(self, index: int) -> None:
        if self._finetune is None or self._finetune["index"] != index:
            self._start_finetune(index)
        f = self._finetune
        n, bs = len(f["idx"]), min(self.config.batch_size, len(f["idx"]))
        if f["position"] + bs > n:
            f["order"], f["position"] = torch.randperm(n, generator=self._batch_generator), 0
        batch = f["idx"][f["order"][f["position"]:f["position"] + bs].to(self.device)]
        f["position"] += bs
        for name, net in f["nets"].items():    # both on the same batch
            loss = F.cross_entropy(net(self.x_train[batch]), self.y_train_t[batch])
            f["optimisers"][name].zero_grad(set_to_none=True)
            loss.backward()
            f["optimisers"][name].step()

    def _accuracies(self) -> dict[str, float]:
        if self._finetune is None:
            return {"pretrained": math.nan, "random": math.nan}
        with torch.no_grad():
            return {name: float((net(self.x_test).argmax(dim=1) == self.y_test_t).float().mean())
                    for name, net in self._finetune["nets"].items()}

    def _finish_stage_if_done(self, stage: Stage) -> None:
        if self.step_count == stage.start + stage.steps and stage.phase == "finetune":
            self.results[str(self.labelled_count(stage.index))] = self._accuracies()

    # ---- training ----
    def _finite(self) -> bool:
        nets = self._finetune["nets"].values() if self._finetune else []
        return all(bool(torch.isfinite(p).all()) for m in (self.model, *nets) for p in m.parameters())

    def _train(self, max_steps: int | None, deadline: float | None) -> int:
        if self.diverged or self.finished or (max_steps is not None and max_steps <= 0):
            return 0
        start, before = time.perf_counter(), self.step_count
        while (max_steps is None or self.step_count - before < max_steps) and not self.finished:
            stage = self.stage()
            if stage.phase == "pretrain":
                self._pretrain_step(stage.index)
            else:
                self._finetune_step(stage.index)
            self.step_count += 1
            self._finish_stage_if_done(stage)
            if not self._finite():
                # A diverged run stops where it is: its numbers are shown up to the last finite step.
                self.diverged = True
                break
            if deadline is not None and time.perf_counter() >= deadline:
                break
        self.seconds_training += time.perf_counter() - start
        return self.step_count - before

    def step(self, n: int = 1) -> DBNSnapshot:
        self._train(n, None)
        return self.snapshot()

    def advance(self, seconds: float, max_steps: int | None = None) -> int:
        return self._train(max_steps, time.perf_counter() + seconds)

    def apply(self, new_config: DBNConfig) -> list[str]:
        """Hot settings (pretraining rate, momentum, weight decay, k, persistent, batch size, step limit) apply
        at once; returns the fields that need a new run instead."""
        changed = structural_changes(self.config, new_config)
        if not changed:
            self.config = new_config
            if self._cd is not None:
                self._cd.config = new_config
        return changed

    # ---- checkpoints (engine/energy/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), the RBMs' weights, the pretraining CD's momentum, order and chains, the two
        networks being fine-tuned with Adam's moments, the results per count, the generators' states, the
        step and the history, loadable with torch.load(weights_only=True). Loading it and training on gives
        the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "DBNTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a file that
        would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    def snapshot(self) -> DBNSnapshot:
        stage = self.stage()
        if stage is None or self.finished:
            phase = "done"
        else:
            phase = stage.phase
        pretraining = stage is not None and stage.phase == "pretrain"
        started = [i for i in range(len(self.config.hidden))
                   if self.step_count > self.stages[i].start or (pretraining and stage.index == i)]
        errors = [self.layer_recon_error(i) if i in started else math.nan for i in range(len(self.config.hidden))]
        current = stage.index if pretraining else len(self.config.hidden) - 1
        finetuning = self._finetune is not None and not pretraining
        accuracies = self._accuracies() if finetuning else {"pretrained": math.nan, "random": math.nan}
        labelled = 0 if pretraining or stage is None and self._finetune is None else \
            self.labelled_count(stage.index if stage is not None else self._finetune["index"])
        snap = DBNSnapshot(step=self.step_count, phase=phase, layer=current + 1 if pretraining else 0,
                           labelled=labelled, recon_error=errors[current], test_accuracy=accuracies["pretrained"],
                           test_accuracy_random=accuracies["random"], layer_recon_errors=errors,
                           results={k: dict(v) for k, v in self.results.items()}, lr=self.config.lr,
                           diverged=self.diverged, finished=self.finished)
        point = {k: getattr(snap, k) for k in self.HISTORY_KEYS}
        point["pretraining_layer"] = current + 1 if pretraining else 0
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap
