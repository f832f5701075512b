"""A character Markov chain (task "markov"): the n-gram baseline of the sequence models.

An order-n chain predicts the next character from the n before it alone,

    p(c | s) = (N(s, c) + k) / (N(s) + k·V),

where N(s, c) counts how often context s was followed by c in the training text, N(s) = Σ_c N(s, c),
V is the vocabulary size and k the add-k smoothing that keeps every probability above zero (an
unseen context gives 1/V to every character). "Training" is counting: each step reads the next
chunk of the training text and adds its n-grams, so the held-out bits per character fall as more
text is read, until the counts are complete after one pass.

It is scored exactly as the CharLMTrainer scores its networks: the same text, the same held-out
blocks, the same fixed windows and, in each window, the same positions, each predicted from the
characters of its own window only. A network at window position t has read t characters; the
chain uses min(n, t) of them, so the first n - 1 positions of a window use the order-t tables
(counted alongside). Its bits per character is then -mean log₂ p over the very positions behind
the networks' val_loss / ln 2.

Counts live on the trainer's device as sorted int64 keys (context id · V + next id) with their
counts; a context id holds the most recent character in its lowest digit (base V), so the
order-(j-1) context of an order-j one is its id modulo V^(j-1).

    trainer = MarkovTrainer(MarkovConfig(order=3), "cpu")
    snap = trainer.step(20)                    # 20 chunks read; snap.test_bits_per_char
    trainer.sample("The ", 100, temperature=0.8)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..core.config import ConfigError
from ..core.device import pick_device
from .markov_config import MAX_ORDER, MarkovConfig
from .models import Corpus, split_blocks
from .trainer import VAL_WINDOWS, corpus_text

__all__ = ["MarkovConfig", "MarkovSnapshot", "MarkovTrainer", "MAX_ORDER", "fixed_windows"]


def fixed_windows(source: torch.Tensor, context: int) -> torch.Tensor:
    """(W, T + 1) the fixed windows a CharLMTrainer measures its validation loss on (VAL_WINDOWS of
    them, evenly spread over `source`); built the same way, so both score the same positions."""
    starts = torch.linspace(0, len(source) - context - 1, min(VAL_WINDOWS, len(source) - context)).long()
    window = starts[:, None] + torch.arange(context + 1)
    return source[window.to(source.device)]


@dataclass
class MarkovSnapshot:
    step: int
    order: int
    smoothing: float
    train_chars_seen: int        # characters of the training text counted so far
    train_chars: int             # characters of the training text
    test_bits_per_char: float    # -mean log₂ p on the held-out windows (the neural models' positions)
    train_bits_per_char: float   # the same on windows of the training text: far below the test when memorised
    contexts: int                # distinct contexts of the full order seen (the chain's states)
    table_entries: int           # distinct (context, next character) counts stored for the full order
    vocab_size: int
    finished: bool = False       # the training text is read (or max_steps reached)
    diverged: bool = False       # counting cannot diverge; kept for the trainers' common contract

    def to_json_dict(self) -> dict:
        return asdict(self)


class _CountTable:
    """Sorted distinct int64 keys and their counts, on one device; merged chunk by chunk."""

    def __init__(self, device: torch.device):
        self.keys = torch.zeros(0, dtype=torch.long, device=device)
        self.counts = torch.zeros(0, dtype=torch.long, device=device)

    def add(self, keys: torch.Tensor) -> None:
        merged, inverse = torch.unique(torch.cat([self.keys, keys]), sorted=True, return_inverse=True)
        counts = torch.zeros(len(merged), dtype=torch.long, device=merged.device)
        counts.scatter_add_(0, inverse, torch.cat([self.counts, torch.ones_like(keys)]))
        self.keys, self.counts = merged, counts

    def lookup(self, keys: torch.Tensor) -> torch.Tensor:
        """The count of every key (0 for a key never added), same shape as `keys`."""
        if len(self.keys) == 0:
            return torch.zeros_like(keys)
        at = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        return torch.where(self.keys[at] == keys, self.counts[at], torch.zeros_like(keys))


class MarkovTrainer:
    def __init__(self, config: MarkovConfig, device: str | torch.device = "auto", corpus: Corpus | None = None):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.corpus = corpus if corpus is not None else Corpus.from_text(corpus_text(config))
        data = torch.tensor(self.corpus.encode(self.corpus.text)[0], dtype=torch.long)
        T = config.context
        train, val = split_blocks(data, config.val_fraction, T)
        if len(train) < T + 2:
            raise ConfigError("context", f"the text has {len(train)} usable characters; the context "
                                         f"({T}) must be at most {len(train) - 2}")
        self.train_data = train.to(self.device)
        self.val_data = val.to(self.device) if val is not None else None
        self.val_windows = fixed_windows(self.val_data if self.val_data is not None else self.train_data, T)
        self.train_windows = fixed_windows(self.train_data, T)
        self.vocab_size = len(self.corpus.chars)
        # Probabilities in float64 (a held-out score compared to 12 digits); Apple's MPS has no float64.
        self.float_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        # (context, next) counts and context totals of every order 1..n: order j scores window position j
        self.pairs = [_CountTable(self.device) for _ in range(config.order)]
        self.contexts = [_CountTable(self.device) for _ in range(config.order)]
        self.train_chars_seen = 0
        self.step_count = 0
        self.history: list[dict] = []  # one entry per snapshot: step, characters read, test and train bits

    # ---- counting ----
    @property
    def diverged(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        return (self.train_chars_seen >= len(self.train_data)
                or 0 < self.config.max_steps <= self.step_count)

    def _context_ids(self, text: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        """For each order j = 1..n, the id of the j characters before each position (positions >= n - 1
        need not hold: an id reaching before the text's start is garbage and must be masked by the caller)."""
        V, ids, ctx = self.vocab_size, [], torch.zeros_like(positions)
        for j in range(1, self.config.order + 1):
            ctx = ctx + text[(positions - j).clamp(min=0)] * V ** (j - 1)
            ids.append(ctx)
        return ids

    def _read(self, n_chars: int) -> None:
        lo = self.train_chars_seen
        hi = min(len(self.train_data), lo + n_chars)
        positions = torch.arange(max(lo, 1), hi, device=self.device)  # the characters predicted
        if len(positions):
            following = self.train_data[positions]
            for j, ctx in enumerate(self._context_ids(self.train_data, positions), start=1):
                keep = positions >= j  # a full j-character context exists
                self.pairs[j - 1].add(ctx[keep] * self.vocab_size + following[keep])
                self.contexts[j - 1].add(ctx[keep])
        self.train_chars_seen = hi

    def step(self, n: int = 1) -> MarkovSnapshot:
        """Count n more chunks of the training text (chunk_chars characters each), then a snapshot."""
        for _ in range(max(0, n)):
            if self.finished:
                break
            self._read(self.config.chunk_chars)
            self.step_count += 1
        return self.snapshot()

    def read_to(self, chars: int) -> list[MarkovSnapshot]:
        """Count chunk by chunk until exactly `chars` characters of the training text are read (or all
        of it), with a snapshot after each chunk: the points of the curve against characters read."""
        out = []
        while self.train_chars_seen < min(chars, len(self.train_data)) and not self.finished:
            self._read(min(self.config.chunk_chars, chars - self.train_chars_seen))  # the last one may be short
            self.step_count += 1
            out.append(self.snapshot())
        return out

    # ---- scoring ----
    def window_log2_probs(self, windows: torch.Tensor, order: int | None = None) -> torch.Tensor:
        """(W, T) log₂ p of each window's characters 1..T, each from at most `order` (default: the
        chain's) characters before it inside its window."""
        n = self.config.order if order is None else order
        if not 1 <= n <= self.config.order:
            raise ValueError(f"order must be 1..{self.config.order} (the tables counted), got {n}")
        W, T1 = windows.shape
        V, k = self.vocab_size, self.config.smoothing
        flat = windows.reshape(-1)
        t = torch.arange(1, T1, device=windows.device)                    # positions inside a window
        positions = (torch.arange(W, device=windows.device)[:, None] * T1 + t).reshape(-1)  # (W·T,) in `flat`
        ids = self._context_ids(flat, positions)
        used = torch.clamp(t, max=n).repeat(W)                            # the order each position uses
        pair_counts = torch.zeros_like(positions)
        ctx_counts = torch.zeros_like(positions)
        following = flat[positions]
        for j in range(1, n + 1):
            here = used == j
            pair_counts = torch.where(here, self.pairs[j - 1].lookup(ids[j - 1] * V + following), pair_counts)
            ctx_counts = torch.where(here, self.contexts[j - 1].lookup(ids[j - 1]), ctx_counts)
        p = (pair_counts.to(self.float_dtype) + k) / (ctx_counts.to(self.float_dtype) + k * V)
        return torch.log2(p).reshape(W, T1 - 1)

    def bits_per_char(self, order: int | None = None) -> tuple[float, float]:
        """(test, train) -mean log₂ p on the held-out and the training windows."""
        return (float(-self.window_log2_probs(self.val_windows, order).mean()),
                float(-self.window_log2_probs(self.train_windows, order).mean()))

    def snapshot(self) -> MarkovSnapshot:
        test, train = self.bits_per_char()
        full = self.config.order - 1
        snap = MarkovSnapshot(self.step_count, self.config.order, self.config.smoothing, self.train_chars_seen,
                              len(self.train_data), test, train, len(self.contexts[full].keys),
                              len(self.pairs[full].keys), self.vocab_size, self.finished)
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append({"step": snap.step, "train_chars_seen": snap.train_chars_seen,
                                 "test_bits_per_char": test, "train_bits_per_char": train})
        return snap

    def ngram_counts(self, order: int | None = None) -> dict[tuple[str, str], int]:
        """{(context, next character): count} of one order (default: the chain's), as text."""
        n = self.config.order if order is None else order
        V, chars = self.vocab_size, self.corpus.chars
        out = {}
        for key, count in zip(self.pairs[n - 1].keys.tolist(), self.pairs[n - 1].counts.tolist()):
            ctx, nxt = divmod(key, V)
            context = "".join(chars[(ctx // V ** i) % V] for i in reversed(range(n)))  # most recent last
            out[(context, chars[nxt])] = count
        return out

    # ---- the chain's probabilities ----
    def next_char_probabilities(self, context: str) -> np.ndarray:
        """(V,) p(next | the last min(n, len) known characters of `context`); sums to 1."""
        ids = self.corpus.encode(context)[0][-self.config.order:]
        return self._next_probabilities(ids).cpu().numpy()

    def _next_probabilities(self, ids: list[int]) -> torch.Tensor:
        V, k = self.vocab_size, self.config.smoothing
        if not ids:
            return torch.full((V,), 1.0 / V, dtype=self.float_dtype, device=self.device)
        ctx = sum(c * V ** i for i, c in enumerate(reversed(ids)))  # the most recent character lowest
        keys = ctx * V + torch.arange(V, device=self.device)
        counts = self.pairs[len(ids) - 1].lookup(keys).to(self.float_dtype)
        return (counts + k) / (counts.sum() + k * V)

    def transition_matrix(self, top: int = 20) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The order-1 chain among the `top` most frequent characters of the text read so far:
        their characters, (top, top) p(column | row) and (top,) how often each was read. A row does
        not sum to 1 when rarer characters follow too (they are left out of the columns)."""
        V, k = self.vocab_size, self.config.smoothing
        counts = torch.zeros(V * V, dtype=torch.long, device=self.device)
        counts[self.pairs[0].keys] = self.pairs[0].counts
        counts = counts.reshape(V, V).cpu().numpy()  # (previous, next)
        freq = counts.sum(axis=0)
        order = np.argsort(-freq, kind="stable")[:min(top, V)]
        probs = (counts + k) / (counts.sum(axis=1, keepdims=True) + k * V)
        return [self.corpus.chars[i] for i in order], probs[np.ix_(order, order)], freq[order]

    def sample(self, prompt: str = "", length: int = 200, temperature: float = 1.0,
               seed: int | None = None) -> tuple[str, list[str]]:
        """`length` characters drawn after `prompt`, and the prompt's characters not in the vocabulary
        (left out). Temperature 0 always takes the most likely character (the lowest id on a tie);
        higher draws from p^(1/temperature), renormalised. The same seed gives the same text."""
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        ids, unknown = self.corpus.encode(prompt)
        if not ids:
            ids = [int(self.train_data[0])]
        gen = torch.Generator().manual_seed(self.config.seed + 7 if seed is None else seed)
        out = []
        for _ in range(length):
            p = self._next_probabilities((ids + out)[-self.config.order:]).cpu()
            if temperature < 1e-6:  # below this p^(1/T) is the argmax anyway, and 1/T may overflow
                nxt = int(torch.argmax(p))
            else:
                logits = torch.log(p) / temperature
                nxt = int(torch.multinomial(torch.softmax(logits - logits.max(), 0), 1, generator=gen))
            out.append(nxt)
        return self.corpus.decode(out), unknown

    def summary(self) -> dict:
        """What the chain is, for a written description: its order, states and table size."""
        V, n = self.vocab_size, self.config.order
        return {"order": n, "vocab_size": V, "possible_contexts": V ** n, "contexts_seen": len(self.contexts[-1].keys),
                "table_entries": len(self.pairs[-1].keys), "dense_table_size": V ** n * V,
                "stored_counts": sum(len(t.keys) for t in self.pairs + self.contexts),
                "smoothing": self.config.smoothing}
