"""CNNTrainer: trains a CNNConfig's network on the 8×8 digits, one resumable run.

step(n) advances n optimisation steps (Adam or another optimiser on the mean cross-entropy of a
batch) and returns a CNNSnapshot of plain data; train_for(seconds) trains a time-boxed chunk for
the live page. A chunk whose loss or weights stop being finite is undone: the last finite weights
stay and the run says `diverged` until a new learning rate is applied. The inspection methods
(engine/cnn/inspection.py) read the network in eval mode and never draw from the run's generators.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from ..core.device import pick_device
from ..core.digits import IMAGE_SIDE, load_digits_split
from ..core.registries import make_optimizer
from . import checkpoint, geometry, inspection
from .config import CNNConfig, structural_changes
from .inspection import WorstTest
from .models import build_network, dropout_layers

__all__ = ["CNNConfig", "CNNSnapshot", "CNNTrainer", "WorstTest"]

# The training loss and accuracy of a snapshot are read on the first 512 training images (the split
# is shuffled, the digits interleaved) rather than all ~1,437: a snapshot evaluates the test set and
# its four moved copies too, and reading every training image made it cost about 17 training steps.
TRAIN_EVAL_IMAGES = 512


@dataclass
class CNNSnapshot:
    step: int                      # optimisation steps so far
    epoch: int                     # completed passes over the training images
    train_loss: float              # mean cross-entropy over TRAIN_EVAL_IMAGES fixed training images (eval mode)
    test_loss: float               # the same over every test image
    train_accuracy: float          # share of those training images classified right
    test_accuracy: float
    # Accuracy on the test digits moved by one pixel, with blank paper coming in at the far edge: the
    # mean over the four moves up, down, left and right (4 × the test set). Nothing is trained on them.
    shifted_test_accuracy: float
    grad_norms: dict[str, float]   # layer (conv1, ..., dense, output; hidden1, ...) -> ‖∂loss/∂weight‖ at the last step
    lr: float
    diverged: bool = False         # a loss or weight became NaN/inf; the last finite weights were kept
    finished: bool = False         # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


class CNNTrainer:
    # What each point of `history` holds: the snapshot's numbers, and the epoch with its fraction.
    HISTORY_KEYS = frozenset({f.name for f in fields(CNNSnapshot)} - {"grad_norms", "lr", "diverged", "finished"}
                             | {"epoch_exact"})

    def __init__(self, config: CNNConfig, device: str | torch.device = "auto"):
        self.config = config
        t = config.train
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        x_train, y_train, x_test, y_test = load_digits_split(t.seed, t.test_fraction)
        self.x_train_np, self.y_train, self.x_test_np, self.y_test = x_train, y_train, x_test, y_test
        self.x_train = inspection.as_images(x_train, self.device)          # (N, 1, 8, 8)
        self.x_test = inspection.as_images(x_test, self.device)            # (M, 1, 8, 8)
        self.y_train_t = torch.from_numpy(y_train).to(self.device)         # (N,)
        self.y_test_t = torch.from_numpy(y_test).to(self.device)           # (M,)
        self.model = build_network(config.model, t.seed).to(self.device)
        self.optimizer = make_optimizer(t.optimizer, self.model.parameters(), t.lr, 0.0)
        self._set_optimizer_settings()
        # Generators owned by the trainer: nothing else drawing random numbers changes this run.
        self._batch_gen = torch.Generator().manual_seed(t.seed + 2)
        self._dropout_gen = torch.Generator(device=self.device).manual_seed(t.seed + 3)
        for layer in dropout_layers(self.model):
            layer.generator = self._dropout_gen
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.step_count = 0
        self.epoch = 0
        self.diverged = False
        self.layer_names = [name for name, _ in self.model.weight_layers()]
        self._grad_norms = torch.zeros(len(self.layer_names))
        self._shifted: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.history: list[dict] = []
        self.seconds_training = 0.0

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def finished(self) -> bool:
        return 0 < self.config.train.max_steps <= self.step_count

    @property
    def stages(self) -> list[geometry.Stage]:
        """The conv network's stages with their channels and map sizes ([] for the mlp)."""
        return list(self.model.stages)

    def _set_optimizer_settings(self) -> None:
        t = self.config.train
        for group in self.optimizer.param_groups:
            group["lr"] = t.lr
            group["weight_decay"] = t.weight_decay

    def _next_batch(self) -> torch.Tensor:
        """The next batch_size positions of the shuffled order; a batch that reaches the end of an epoch
        is filled from the next epoch's order, so every batch is full (batch norm needs 2 or more)."""
        bs = min(self.config.train.batch_size, self.n_train)
        idx = self._order[self._position:self._position + bs]
        self._position += len(idx)
        if self._position >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._batch_gen)
            self._position = bs - len(idx)
            self.epoch += 1
            idx = torch.cat([idx, self._order[:self._position]])
        return idx.to(self.device)

    # ---- training ----
    def _one_step(self) -> bool:
        """One optimisation step; False if the loss was not finite (nothing applied)."""
        idx = self._next_batch()
        loss = F.cross_entropy(self.model(self.x_train[idx]), self.y_train_t[idx])   # (B, 10) scores -> mean
        if not torch.isfinite(loss):
            return False
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        return True

    def _all_finite(self) -> bool:
        return all(bool(torch.isfinite(v).all()) for v in self.model.state_dict().values() if v.is_floating_point())

    def _train(self, max_steps: int | None, deadline: float | None) -> None:
        if self.diverged or self.finished or (max_steps is not None and max_steps <= 0):
            return
        start = time.perf_counter()
        good = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        counters = (self.step_count, self.epoch, self._position, self._order.clone(), self._batch_gen.get_state(),
                    self._dropout_gen.get_state(), self._grad_norms.clone())
        self.model.train()
        done = 0
        while (max_steps is None or done < max_steps) and not self.finished:
            if not self._one_step():
                self._restore(good, counters)
                break
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if done and not self.diverged:
            if self._all_finite():
                self._grad_norms = self._read_grad_norms()
            else:
                self._restore(good, counters)
        self.seconds_training += time.perf_counter() - start

    def _read_grad_norms(self) -> torch.Tensor:
        """Each weight layer's gradient norm from the last step (the gradients stay until the next one)."""
        with torch.no_grad():
            return torch.stack([layer.weight.grad.norm() if layer.weight.grad is not None
                                else torch.zeros((), device=self.device)
                                for _, layer in self.model.weight_layers()]).cpu()

    def _restore(self, good, counters) -> None:
        self.model.load_state_dict(good[0])
        self.optimizer.load_state_dict(good[1])
        self.step_count, self.epoch, self._position, self._order, batch_state, dropout_state, norms = counters
        self._batch_gen.set_state(batch_state)
        self._dropout_gen.set_state(dropout_state)
        self._grad_norms = norms
        self.diverged = True

    def step(self, n: int = 1) -> CNNSnapshot:
        """Advance n optimisation steps (fewer at max_steps) and return a snapshot."""
        self._train(n, None)
        return self.snapshot()

    def train_for(self, seconds: float, max_steps: int | None = None) -> CNNSnapshot:
        """Train for about `seconds` (a time-boxed chunk for the live page; at most max_steps steps), then snapshot."""
        self.advance(seconds, max_steps)
        return self.snapshot()

    def advance(self, seconds: float, max_steps: int | None = None) -> int:
        """train_for without the snapshot, which costs about 10 training steps (it evaluates the test
        set and its four moved copies): a live page can train every frame and evaluate less often.
        Returns the steps taken (0 once diverged or finished); the history grows only with snapshots."""
        before = self.step_count
        self._train(max_steps, time.perf_counter() + seconds)
        return self.step_count - before

    def apply(self, new_config: CNNConfig) -> list[str]:
        """Take a changed config. Hot fields (learning rate, weight decay, dropout rate, batch size,
        step limit) apply at once and keep the progress; returns the structural fields that differ,
        which need a new trainer (nothing is applied then)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        if new_config.train.lr != self.config.train.lr:
            self.diverged = False  # a new learning rate is the usual cure; let the user try it
        self.config = new_config
        self._set_optimizer_settings()
        for layer in dropout_layers(self.model):
            layer.p = float(new_config.model.dropout)
        return []

    # ---- checkpoints (engine/cnn/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), weights and batch-norm averages, optimiser state, batch order and position,
        the batch and dropout generators' states, the last gradient norms and the history, loadable with
        torch.load(weights_only=True). Loading it and training on gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "CNNTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a file
        that would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    # ---- reading ----
    def _shifted_test(self, pixels: int) -> tuple[torch.Tensor, torch.Tensor]:
        if pixels not in self._shifted:
            self._shifted[pixels] = (inspection.shifted_copies(self.x_test, pixels), self.y_test_t.repeat(4))
        return self._shifted[pixels]

    def shifted_accuracy(self, pixels: int = 1) -> float:
        """Test accuracy on the test digits moved `pixels` (0..7) up, down, left and right, blank paper
        coming in: the mean over the four moves (each the whole test set). 0 is the plain test accuracy."""
        if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)) or not 0 <= pixels < IMAGE_SIDE:
            raise ValueError(f"pixels must be a whole number 0..{IMAGE_SIDE - 1}, got {pixels!r}")
        if pixels == 0:
            return inspection.loss_and_accuracy(self.model, self.x_test, self.y_test_t)[1]
        return inspection.loss_and_accuracy(self.model, *self._shifted_test(int(pixels)))[1]

    def snapshot(self) -> CNNSnapshot:
        n = TRAIN_EVAL_IMAGES
        train_loss, train_acc = inspection.loss_and_accuracy(self.model, self.x_train[:n], self.y_train_t[:n])
        test_loss, test_acc = inspection.loss_and_accuracy(self.model, self.x_test, self.y_test_t)
        snap = CNNSnapshot(
            step=self.step_count, epoch=self.epoch, train_loss=train_loss, test_loss=test_loss,
            train_accuracy=train_acc, test_accuracy=test_acc, shifted_test_accuracy=self.shifted_accuracy(1),
            grad_norms=dict(zip(self.layer_names, self._grad_norms.tolist())), lr=self.config.train.lr,
            diverged=self.diverged, finished=self.finished)
        point = {k: v for k, v in asdict(snap).items() if k in self.HISTORY_KEYS}
        point["epoch_exact"] = self.epoch + self._position / self.n_train
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap

    def param_count(self) -> int:
        """Numbers the network trains (weights, biases, batch norm's scale and shift)."""
        return sum(p.numel() for p in self.model.parameters())

    def predict_proba(self, images) -> np.ndarray:
        """(N, 10) class probabilities of images (N, 64) or (N, 8, 8) with pixels in [0, 1]."""
        x = inspection.as_images(images, self.device)
        return torch.softmax(inspection.logits_of(self.model, x), dim=1).cpu().numpy()

    def feature_maps(self, image) -> list[tuple[str, np.ndarray]]:
        """(stage name, (C, H, W) map) of every conv, batch norm, activation and pooling stage for one
        image (64,) or (8, 8); names and sizes as `stages` lists them; [] for the mlp."""
        return inspection.feature_maps(self.model, inspection.as_image(image, self.device))

    def first_layer_filters(self) -> np.ndarray:
        """(C_out, C_in=1, k, k) kernels of conv1; for the mlp, (H, 1, 8, 8): each first hidden unit's
        weights laid out as the picture they multiply."""
        return self.model.first_layer_filters().detach().cpu().numpy().copy()

    def test_predictions(self) -> np.ndarray:
        """(M, 10) class probabilities of the test images."""
        return self.predict_proba(self.x_test_np)

    def confusion_matrix(self) -> np.ndarray:
        """(10, 10) test counts: row = the true digit, column = the predicted one."""
        return inspection.confusion_matrix(self.y_test, self.test_predictions().argmax(axis=1))

    def worst_test(self, k: int = 10) -> WorstTest:
        """The k test images whose true digit gets the lowest probability: (index into the test set,
        true digit, predicted digit, probability of the true digit), lowest first."""
        return inspection.worst(self.test_predictions(), self.y_test, k)

    def saliency(self, image, cls: int | None = None) -> np.ndarray:
        """(8, 8) |∂score/∂pixel| for one image: how much each pixel moves class `cls`'s score
        (the logit; None: the predicted class)."""
        return inspection.saliency(self.model, inspection.as_image(image, self.device), cls)

    def receptive_field(self, stage: str | int, y: int, x: int) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1): the input pixels image[y0:y1, x0:x1] that cell (y, x) of a stage's map
        (its name, as in feature_maps, or its index in `stages`) depends on, clipped to the 8×8 image."""
        names = [s.name for s in self.stages]
        if isinstance(stage, str):
            if stage not in names:
                raise ValueError(f"unknown stage {stage!r}; this network's stages are {', '.join(names) or 'none'}")
            stage = names.index(stage)
        return geometry.receptive_field(self.stages, stage, y, x)
