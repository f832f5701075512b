"""CharLMConfig: the character-level language-model task's validated settings (text, shared training, models list)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..core.config import JSONConfigMixin, _check, _check_range, check_known_keys
from ..core.registries import OPTIMIZERS
from .models import ARCHITECTURES, POSITIONS

CORPORA = ("guides", "readme", "tweets", "text")
MIN_TEXT, MAX_TEXT = 20, 200_000      # characters of a pasted text
MAX_MODELS = 6
ARCH_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "transformer": "Transformer"}


@dataclass
class CharModelConfig:
    arch: str = "lstm"            # rnn (tanh), lstm, gru, transformer
    hidden: int = 64              # 8..512: hidden state width (Transformer: model width); embeddings have it too
    layers: int = 1               # 1..6 stacked recurrent layers / Transformer blocks
    heads: int = 2                # 1..8 attention heads (Transformer only); must divide `hidden`
    positions: str = "learned"    # learned or sinusoidal position embeddings (Transformer only)
    dropout: float = 0.0          # 0..0.5, on embeddings, between layers and before the read-out
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.01              # 1e-5..1; changes on a running trainer without a reset
    label: str = ""               # name on the charts (<= 40 characters); "" = the architecture's name

    def validate(self, where: str) -> None:
        _check(self.arch in ARCHITECTURES, f"{where}.arch",
               f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHITECTURES)}")
        _check_range(self.hidden, f"{where}.hidden", 8, 512, "hidden size", integer=True)
        _check_range(self.layers, f"{where}.layers", 1, 6, "number of layers", integer=True)
        _check_range(self.heads, f"{where}.heads", 1, 8, "number of heads", integer=True)
        if self.arch == "transformer":
            _check(self.hidden % self.heads == 0, f"{where}.heads",
                   f"the hidden size {self.hidden} must be a multiple of the number of heads {self.heads}; "
                   "change either")
        _check(self.positions in POSITIONS, f"{where}.positions",
               f"unknown position embedding {self.positions!r}; choose from {', '.join(POSITIONS)}")
        _check_range(self.dropout, f"{where}.dropout", 0, 0.5, "dropout")
        _check(self.optimizer in OPTIMIZERS, f"{where}.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, f"{where}.lr", 1e-5, 1.0, "learning rate")
        _check(isinstance(self.label, str) and len(self.label) <= 40, f"{where}.label",
               "must be a name of at most 40 characters")


def default_models() -> list[CharModelConfig]:
    return [CharModelConfig("rnn"), CharModelConfig("lstm"), CharModelConfig("gru"),
            CharModelConfig("transformer", hidden=64, layers=2, heads=4, lr=0.005)]


@dataclass
class CharLMConfig(JSONConfigMixin):
    task: str = "charlm"
    corpus: str = "guides"        # guides (this app's page guides), readme (its README), tweets (the sentiment
                                  # corpus' texts), text (pasted)
    text: str = ""                # the pasted text, 20..200,000 characters (corpus "text" only)
    corpus_chars: int = 100_000   # 1,000..4,000,000: a built-in corpus is cut to this many characters
    context: int = 32             # 4..256 characters per training window (also the Transformer's span)
    batch_size: int = 32          # 1..512 windows per step, the same for every model
    val_fraction: float = 0.1     # 0..0.5: share held out for the validation loss (every k-th block of the text)
    clip_grad_norm: float = 1.0   # 0..100: rescale each model's gradient to at most this norm; 0 = off
    seed: int = 0                 # seeds the initial weights, the batch order and dropout
    max_steps: int = 0            # stop after this many steps; 0 = no limit
    models: list[CharModelConfig] = field(default_factory=default_models)  # 1..6 models trained together

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(self.task == "charlm", "task", f"this config is for task 'charlm', got {self.task!r}")
        _check(self.corpus in CORPORA, "corpus", f"unknown corpus {self.corpus!r}; choose from {', '.join(CORPORA)}")
        _check(isinstance(self.text, str), "text", "must be a string")
        if self.corpus == "text":
            _check(MIN_TEXT <= len(self.text) <= MAX_TEXT, "text",
                   f"paste {MIN_TEXT:,} to {MAX_TEXT:,} characters, got {len(self.text):,}")
        _check_range(self.corpus_chars, "corpus_chars", 1000, 4_000_000, "corpus length", integer=True)
        _check_range(self.context, "context", 4, 256, "context length", integer=True)
        if self.corpus == "text":
            _check(self.context <= len(self.text) - 2, "context",
                   f"the text has {len(self.text)} characters, so the context can be at most {len(self.text) - 2}; "
                   "shorten the context or paste more text")
        _check_range(self.batch_size, "batch_size", 1, 512, "batch size", integer=True)
        _check_range(self.val_fraction, "val_fraction", 0, 0.5, "validation fraction")
        _check_range(self.clip_grad_norm, "clip_grad_norm", 0, 100, "gradient clipping norm (0 = off)")
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "max_steps", 0, 10_000_000, "step limit", integer=True)
        _check(isinstance(self.models, list) and 1 <= len(self.models) <= MAX_MODELS, "models",
               f"give 1 to {MAX_MODELS} models")
        for i, m in enumerate(self.models):
            _check(isinstance(m, CharModelConfig), f"models[{i}]", "must be a model object")
            m.validate(f"models[{i}]")

    def labels(self) -> list[str]:
        """One distinct name per model: its label, or the architecture's name (numbered if repeated)."""
        names = [m.label or ARCH_NAMES[m.arch] for m in self.models]
        out = []
        for i, name in enumerate(names):
            n = names[:i].count(name)
            out.append(name if n == 0 and names.count(name) == 1 else f"{name} {n + 1}")
        return out

    # ---- plain-data round trips (to_dict, to_json, from_json: JSONConfigMixin) ----
    @classmethod
    def from_dict(cls, d: dict) -> "CharLMConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        names = {f.name for f in fields(cls)}
        for k in d:
            _check(k in names, k, f"unknown key; charlm keys are {', '.join(sorted(names))}")
        d = dict(d)
        if "models" in d:
            raw = d["models"]
            _check(isinstance(raw, list), "models", "must be a list of model objects")
            models = []
            for i, m in enumerate(raw):
                _check(isinstance(m, dict), f"models[{i}]", "must be an object such as {\"arch\": \"lstm\"}")
                check_known_keys(m, CharModelConfig, f"models[{i}]", "model")
                models.append(CharModelConfig(**m))
            d["models"] = models
        return cls(**d)


HOT_MODEL_FIELDS = {"lr", "label"}
HOT_FIELDS = {"clip_grad_norm", "max_steps"}


def structural_changes(old: CharLMConfig, new: CharLMConfig) -> list[str]:
    """Names of the fields that differ and need new models (everything but the learning
    rates, labels, clipping and the step limit)."""
    a, b = old.to_dict(), new.to_dict()
    changed = [k for k in a if k != "models" and a[k] != b[k] and k not in HOT_FIELDS]
    if len(a["models"]) != len(b["models"]):
        return changed + ["models"]
    for i, (ma, mb) in enumerate(zip(a["models"], b["models"])):
        changed += [f"models[{i}].{k}" for k in ma if ma[k] != mb[k] and k not in HOT_MODEL_FIELDS]
    return changed
