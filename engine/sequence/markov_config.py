"""MarkovConfig: the settings of the character n-gram baseline (task "markov").

The text fields (corpus, text, corpus_chars) and the split fields (context, val_fraction) mean
what they mean in CharLMConfig: a Markov chain built from a CharLMConfig's values reads the
same training characters and is scored on the same held-out positions as those models.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.config import JSONConfigMixin, _check, _check_range, flat_config_from_dict
from .config import CORPORA, MAX_TEXT, MIN_TEXT, CharLMConfig

MAX_ORDER = 5               # 256 characters of vocabulary: a 5-character context is one of 256⁵ ≈ 10¹² states
MIN_SMOOTHING, MAX_SMOOTHING = 1e-4, 10.0


@dataclass
class MarkovConfig(JSONConfigMixin):
    task: str = "markov"
    corpus: str = "guides"        # guides, readme, tweets or text (pasted), as in the charlm task
    text: str = ""                # the pasted text, 20..200,000 characters (corpus "text" only)
    corpus_chars: int = 100_000   # 1,000..4,000,000: a built-in corpus is cut to this many characters
    context: int = 32             # 4..256: the neural models' window; it sets the held-out blocks and positions
    val_fraction: float = 0.1     # 0..0.5: share held out (every k-th block of the text), as the neural models
    order: int = 3                # 1..5 characters of context: p(c_t | c_{t-order} .. c_{t-1})
    smoothing: float = 0.01       # 0.0001..10: add-k, p = (N(context, c) + k) / (N(context) + k·V); 0.01 scores
                                  # best on the guides at order 3 (0.1 gives unseen characters too much)
    chunk_chars: int = 1024       # 1..1,000,000 training characters counted per step
    seed: int = 0                 # seeds the samples
    max_steps: int = 0            # stop after this many steps; 0 = when the training text is read

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(self.task == "markov", "task", f"this config is for task 'markov', got {self.task!r}")
        _check(isinstance(self.corpus, str) and self.corpus in CORPORA, "corpus",
               f"unknown corpus {self.corpus!r}; choose from {', '.join(CORPORA)}")
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
        _check_range(self.val_fraction, "val_fraction", 0, 0.5, "validation fraction")
        _check_range(self.order, "order", 1, MAX_ORDER, "order (characters of context)", integer=True)
        _check_range(self.smoothing, "smoothing", MIN_SMOOTHING, MAX_SMOOTHING, "add-k smoothing")
        _check_range(self.chunk_chars, "chunk_chars", 1, 1_000_000, "characters per step", integer=True)
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "max_steps", 0, 10_000_000, "step limit", integer=True)

    @classmethod
    def from_dict(cls, d: dict) -> "MarkovConfig":
        return flat_config_from_dict(cls, d, "the markov task")

    @classmethod
    def for_charlm(cls, config: CharLMConfig, order: int = 3, smoothing: float = 0.01,
                   chunk_chars: int = 1024) -> "MarkovConfig":
        """The Markov chain that reads the text of `config` and is scored on its held-out positions."""
        return cls(corpus=config.corpus, text=config.text, corpus_chars=config.corpus_chars, context=config.context,
                   val_fraction=config.val_fraction, order=order, smoothing=smoothing, chunk_chars=chunk_chars,
                   seed=config.seed)
