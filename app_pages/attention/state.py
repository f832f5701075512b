"""The Attention explorer's logic, free of Streamlit: defaults, the last encoder run kept per
session (so moving a slider does not run the model again), the view of one head or the mean
of a layer's heads with [CLS]/[SEP] optionally left out, sentences and the toy's table."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.attention.self_attention import MAX_SENTENCES, EncoderRun, run_encoder

DEFAULT_TEXT = "The animal didn't cross the street because it was too tired to walk any further that night."
DEFAULT_SENTENCES = "\n".join([
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar.",
    "The stock market fell sharply this morning.",
    "Shares dropped at the opening bell.",
    "A cat is sleeping on the sofa.",
])
SPECIAL_TOKENS = ("[CLS]", "[SEP]")
MEAN = "mean"   # the head selector's value for "mean of the layer's heads"

# Toy self-attention: 2-D queries and keys set by hand. "sat" asks for a noun and finds "cat"
# and "mat"; "cat" asks for a verb and finds "sat"; "the" asks for nothing in particular.
TOY_DEFAULT = [
    {"token": "the", "q1": 0.3, "q2": 0.3, "k1": 0.2, "k2": 0.1},
    {"token": "cat", "q1": 0.1, "q2": 1.0, "k1": 1.0, "k2": 0.2},
    {"token": "sat", "q1": 1.0, "q2": 0.0, "k1": 0.1, "k2": 1.0},
    {"token": "on", "q1": 0.2, "q2": 0.2, "k1": 0.0, "k2": 0.3},
    {"token": "mat", "q1": 0.1, "q2": 0.8, "k1": 0.8, "k2": 0.3},
]


@dataclass
class EncoderCache:
    """The last encoder run of this session, keyed by the text it was run on."""
    key: tuple | None = None
    run: EncoderRun | None = None
    seconds: float = 0.0

    def get(self, tokenizer, model, text: str, pair: str) -> EncoderRun:
        """The run for (text, pair); the model runs only when they changed. Over 512 tokens
        the text is cut to 512 (run.truncated says so); empty text raises TextError."""
        import time
        key = (text, pair)
        if key != self.key or self.run is None:
            start = time.perf_counter()
            self.run = run_encoder(tokenizer, model, text, pair or None, truncate=True)
            self.key, self.seconds = key, time.perf_counter() - start
        return self.run


def head_view(run: EncoderRun, layer: int, head, hide_special: bool) -> tuple[np.ndarray, list[str], list[int]]:
    """(weights (T', T'), tokens, their positions in the sentence) of one head, or of the
    mean of the layer's heads (head == MEAN). With hide_special, [CLS] and [SEP] are left
    out and each row is renormalised to sum to 1, so the rest of the pattern is visible."""
    a = run.attentions[layer]
    weights = a.mean(axis=0) if head == MEAN else a[int(head)]
    keep = [i for i, t in enumerate(run.tokens) if not (hide_special and t in SPECIAL_TOKENS)]
    if not keep:   # only special tokens: nothing left to hide them from
        keep = list(range(len(run.tokens)))
    w = weights[np.ix_(keep, keep)].astype(np.float64)
    if len(keep) < len(run.tokens):
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return w, [run.tokens[i] for i in keep], keep


def default_from_token(tokens: list[str]) -> int:
    """The token the line view starts from: 'it' when the sentence has one (the classic
    coreference example), else the first word after [CLS]."""
    for i, t in enumerate(tokens):
        if t == "it":
            return i
    return 1 if len(tokens) > 1 else 0


def parse_sentences(text: str) -> tuple[list[str], str | None]:
    """One sentence per non-empty line, at most MAX_SENTENCES; (sentences, a warning or None)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_SENTENCES:
        return lines[:MAX_SENTENCES], f"Only the first {MAX_SENTENCES} of your {len(lines)} sentences are compared."
    return lines, None


def toy_arrays(rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tokens, Q (n, 2), K (n, 2)) from the toy table; rows with a blank or non-numeric cell
    are refused with ValueError naming the row."""
    tokens, q, k = [], [], []
    for i, row in enumerate(rows):
        if all(row.get(c) in (None, "") for c in ("token", "q1", "q2", "k1", "k2")):
            continue   # a row just added and not filled in yet
        try:
            values = [float(row[c]) for c in ("q1", "q2", "k1", "k2")]
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"row {i + 1} needs four numbers q1, q2, k1, k2") from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"row {i + 1}: every number must be finite")
        tokens.append(str(row.get("token") or f"token {i + 1}"))
        q.append(values[:2])
        k.append(values[2:])
    if len(tokens) < 2:
        raise ValueError("the toy needs at least two tokens")
    return tokens, np.array(q), np.array(k)


@dataclass
class SentenceCache:
    """The last sentence embeddings of this session, keyed by the sentences."""
    key: tuple = ()
    embeddings: np.ndarray | None = None
    cut: list[bool] = field(default_factory=list)

    def get(self, tokenizer, model, sentences: list[str]):
        from engine.attention.self_attention import sentence_embeddings
        if tuple(sentences) != self.key or self.embeddings is None:
            self.embeddings, self.cut = sentence_embeddings(tokenizer, model, sentences)
            self.key = tuple(sentences)
        return self.embeddings, self.cut
