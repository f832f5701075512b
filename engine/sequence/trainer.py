"""Character-level language modelling (task "charlm"): several models trained at once.

One CharLMConfig holds the text, the shared training settings and a `models` list; the
CharLMTrainer trains every model in that list on exactly the same batches (same windows of
the text, same order), so their loss curves can be overlaid and compared step for step.
The context length and batch size are therefore shared; hidden size, layers, dropout,
optimiser and learning rate are set per model.

    from engine.sequence.trainer import CharLMConfig, CharLMTrainer
    trainer = CharLMTrainer(CharLMConfig(), "cpu")
    snap = trainer.step(200)          # plain data: losses, bits per character
    trainer.sample(0, "The ", 100)    # text from the first model
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.config import ConfigError
from ..core.device import pick_device
from ..core.registries import make_optimizer
from . import checkpoint
from .config import (ARCH_NAMES, CORPORA, HOT_FIELDS, HOT_MODEL_FIELDS, MAX_MODELS, MAX_TEXT, MIN_TEXT, CharLMConfig,
                     CharModelConfig, default_models, structural_changes)
from .models import (ARCHITECTURES, MAX_VOCAB, POSITIONS, RECURRENT, REPLACEMENT, Corpus, attention_weights,
                     build_char_model, generate, gradient_through_time, hidden_states, split_blocks)

VAL_WINDOWS = 32                      # fixed windows the validation loss is measured on
LN2 = math.log(2.0)


def corpus_text(config: CharLMConfig) -> str:
    """The raw text a config trains on."""
    if config.corpus == "text":
        return config.text
    from ..core.corpora import guides_text, readme_text, sentiment_rows
    if config.corpus == "guides":
        return guides_text()[: config.corpus_chars]
    if config.corpus == "readme":
        return readme_text()[: config.corpus_chars]
    parts, size = [], 0
    for row in sentiment_rows():  # tweets, one per line, until the length is reached
        parts.append(row.text.replace("\n", " "))
        size += len(parts[-1]) + 1
        if size >= config.corpus_chars:
            break
    return "\n".join(parts)[: config.corpus_chars]


@dataclass
class ModelSnapshot:
    label: str
    arch: str
    parameters: int
    train_loss: float | None    # mean batch loss (nats per character) of the steps since the last snapshot
    val_loss: float | None      # on the held-out windows (the training text when there is no held-out part)
    bits_per_char: float | None  # val_loss / ln 2
    diverged: bool


@dataclass
class CharLMSnapshot:
    step: int
    passes: float               # characters read / training characters (with overlapping windows)
    vocab_size: int
    models: list[ModelSnapshot]
    diverged: bool = False      # every model's loss became NaN/inf (each keeps its last finite weights)
    finished: bool = False      # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


class CharLMTrainer:
    def __init__(self, config: CharLMConfig, device: str | torch.device = "auto", corpus: Corpus | None = None):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.corpus = corpus if corpus is not None else Corpus.from_text(corpus_text(config))
        data = torch.tensor(self.corpus.encode(self.corpus.text)[0], dtype=torch.long)
        T = config.context
        self.train_data, self.val_data = split_blocks(data, config.val_fraction, T)
        self.train_data = self.train_data.to(self.device)
        self.val_data = self.val_data.to(self.device) if self.val_data is not None else None
        if len(self.train_data) < T + 2:
            raise ConfigError("context", f"the text has {len(self.train_data)} usable characters; the context "
                                         f"({T}) must be at most {len(self.train_data) - 2}")
        self.labels = config.labels()
        self.models, self.optimizers = [], []
        V = len(self.corpus.chars)
        for i, m in enumerate(config.models):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed * 1000 + 1 + i)  # each model its own reproducible init
                model = build_char_model(m.arch, V, m.hidden, m.layers, m.dropout, T, m.heads, m.positions)
            self.models.append(model.to(self.device))
            self.optimizers.append(make_optimizer(m.optimizer, model.parameters(), m.lr, 0.0))
        self._batch_gen = torch.Generator().manual_seed(config.seed + 2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 3)
            self._dropout_rng = torch.get_rng_state()
        source = self.val_data if self.val_data is not None else self.train_data
        starts = torch.linspace(0, len(source) - T - 1, min(VAL_WINDOWS, len(source) - T)).long()
        window = starts[:, None] + torch.arange(T + 1)
        self._val_windows = source[window.to(source.device)]  # (W, T + 1)
        self.step_count = 0
        self.model_diverged = [False] * len(self.models)
        self.loss_chunks: list[np.ndarray] = []  # (steps, models) batch losses; NaN where a model did not train
        self._since_snapshot: list[np.ndarray] = []
        self.history: list[dict] = []            # one entry per snapshot: step, train and val loss per model
        self.seconds_training = 0.0

    # ---- training ----
    @property
    def diverged(self) -> bool:
        return all(self.model_diverged)

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        T, B = self.config.context, self.config.batch_size
        starts = torch.randint(0, len(self.train_data) - T, (B,), generator=self._batch_gen)
        idx = (starts[:, None] + torch.arange(T + 1)).to(self.device)
        window = self.train_data[idx]              # (B, T + 1)
        return window[:, :-1], window[:, 1:]       # inputs and next characters, (B, T) each

    def _train(self, max_steps: int, deadline: float | None) -> None:
        if self.diverged or self.finished or max_steps <= 0:
            return
        if self.config.max_steps:
            max_steps = min(max_steps, self.config.max_steps - self.step_count)
        start = time.perf_counter()
        good = [copy.deepcopy((m.state_dict(), o.state_dict())) for m, o in zip(self.models, self.optimizers)]
        for m in self.models:
            m.train()
        rows = []
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._dropout_rng)
            for _ in range(max_steps):
                x, y = self._next_batch()
                row = [math.nan] * len(self.models)
                for i, (model, opt) in enumerate(zip(self.models, self.optimizers)):
                    if self.model_diverged[i]:
                        continue
                    logits = model(x)  # (B, T, V)
                    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
                    if not torch.isfinite(loss):
                        model.load_state_dict(good[i][0])  # the weights at the start of this chunk
                        opt.load_state_dict(good[i][1])
                        self.model_diverged[i] = True
                        continue
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if self.config.clip_grad_norm > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.clip_grad_norm)
                    opt.step()
                    row[i] = loss.item()
                rows.append(row)
                self.step_count += 1
                if self.diverged or (deadline is not None and time.perf_counter() >= deadline):
                    break
            self._dropout_rng = torch.get_rng_state()
        if rows:
            chunk = np.array(rows, dtype=np.float64)
            self.loss_chunks.append(chunk)
            self._since_snapshot.append(chunk)
        self.seconds_training += time.perf_counter() - start

    def step(self, n: int = 1) -> CharLMSnapshot:
        """n optimisation steps for every model (on the same n batches), then a snapshot."""
        self._train(n, None)
        return self.snapshot()

    def train_for(self, seconds: float, max_steps: int = 1_000_000) -> CharLMSnapshot:
        """Train for about `seconds` (a time-boxed chunk for the live page), then snapshot."""
        self._train(max_steps, time.perf_counter() + seconds)
        return self.snapshot()

    def loss_steps(self) -> np.ndarray:
        """(steps, models) the batch loss of every step, NaN where a model had stopped."""
        if not self.loss_chunks:
            return np.zeros((0, len(self.models)))
        if len(self.loss_chunks) > 1:
            self.loss_chunks = [np.concatenate(self.loss_chunks)]
        return self.loss_chunks[0]

    # ---- reading ----
    @torch.no_grad()
    def validation_losses(self) -> list[float]:
        x, y = self._val_windows[:, :-1], self._val_windows[:, 1:]
        out = []
        for model in self.models:
            was = model.training
            model.eval()
            logits = model(x)
            model.train(was)
            out.append(float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))))
        return out

    def snapshot(self) -> CharLMSnapshot:
        val = self.validation_losses()
        recent = np.concatenate(self._since_snapshot) if self._since_snapshot else np.zeros((0, len(self.models)))
        self._since_snapshot = []
        models = []
        for i, (label, m) in enumerate(zip(self.labels, self.models)):
            col = recent[:, i][np.isfinite(recent[:, i])] if len(recent) else np.zeros(0)
            v = val[i] if math.isfinite(val[i]) else None
            models.append(ModelSnapshot(label, self.config.models[i].arch, sum(p.numel() for p in m.parameters()),
                                        float(col.mean()) if len(col) else None, v,
                                        v / LN2 if v is not None else None, self.model_diverged[i]))
        snap = CharLMSnapshot(self.step_count, self.step_count * self.config.batch_size * self.config.context
                              / len(self.train_data), len(self.corpus.chars), models, self.diverged, self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({"step": snap.step, "train_loss": [m.train_loss for m in models],
                                 "val_loss": [m.val_loss for m in models]})
        return snap

    def apply(self, new: CharLMConfig) -> list[str]:
        """Take a changed config: learning rates, labels, clipping and the step limit apply at
        once and keep the progress; returns the structural fields that differ (nothing is
        applied then: those need a new trainer)."""
        changed = structural_changes(self.config, new)
        if changed:
            return changed
        self.config = new
        self.labels = new.labels()
        for m, opt in zip(new.models, self.optimizers):
            for group in opt.param_groups:
                group["lr"] = m.lr
        return []

    # ---- checkpoints (engine/sequence/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Every model's weights and optimiser state, the config (a pasted text included), the text
        read, the generators' states and the curves, in one file loadable with
        torch.load(weights_only=True). Loading it and training on gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "CharLMTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a
        file that would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    def approximate_checkpoint_bytes(self) -> int:
        """About the size of checkpoint_bytes(), found without writing it (a page skips saving a
        run too large to keep)."""
        return checkpoint.approximate_size(self)

    # ---- probes on the current weights ----
    def sample(self, model_index: int, prompt: str, length: int = 200, temperature: float = 1.0, top_k: int = 0,
               seed: int | None = None) -> tuple[str, list[str]]:
        """`length` characters generated after `prompt`, and the prompt's characters that are
        not in the vocabulary (left out). An empty prompt starts from the text's first character."""
        ids, unknown = self.corpus.encode(prompt)
        if not ids:
            ids = [int(self.train_data[0])]
        gen = torch.Generator().manual_seed(self.config.seed + 7 + model_index if seed is None else seed)
        out = generate(self.models[model_index], ids, length, temperature, top_k, gen, self.config.context)
        return self.corpus.decode(out), unknown

    def probe_windows(self, n: int = 8) -> torch.Tensor:
        """(n, T + 1) fixed windows of held-out text, the same for every model and every call."""
        return self._val_windows[:n]

    def gradient_through_time(self, model_index: int, n: int = 8) -> np.ndarray:
        """(T,) ‖∂loss at the last position / ∂ input embedding at position t‖ averaged over
        n fixed held-out windows; index T - 1 is the last position."""
        w = self.probe_windows(n)
        return gradient_through_time(self.models[model_index], w[:, :-1], w[:, 1:]).cpu().numpy()

    def _typed(self, text: str, limit: int) -> tuple[torch.Tensor, str, list[str]]:
        ids, unknown = self.corpus.encode(text)
        ids = ids[:limit]
        return torch.tensor([ids], dtype=torch.long, device=self.device), self.corpus.decode(ids), unknown

    def attention(self, model_index: int, text: str) -> tuple[np.ndarray, str, list[str]]:
        """(L, h, T, T) attention of a Transformer on the known characters of `text` (at most
        the context), the characters read, and those left out as unknown."""
        if self.config.models[model_index].arch != "transformer":
            raise ValueError(f"{self.labels[model_index]} is not a Transformer: it has no attention")
        idx, used, unknown = self._typed(text, self.config.context)
        if not used:
            return np.zeros((0, 0, 0, 0)), used, unknown
        return attention_weights(self.models[model_index], idx).cpu().numpy(), used, unknown

    def hidden_states(self, model_index: int, text: str, limit: int = 200) -> tuple[np.ndarray, str, list[str]]:
        """(T, H) the last recurrent layer's state after each known character of `text`."""
        if self.config.models[model_index].arch not in RECURRENT:
            raise ValueError(f"{self.labels[model_index]} is not recurrent: it has no hidden state to show")
        idx, used, unknown = self._typed(text, limit)
        if not used:
            return np.zeros((0, self.config.models[model_index].hidden)), used, unknown
        return hidden_states(self.models[model_index], idx).cpu().numpy(), used, unknown
