"""The Sequence models page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values -> CharLMConfig, and the run-state object the page keeps between reruns (the
trainer, Play/Pause, samples refreshed as training goes, gradient-through-time curves)."""
from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import Param, list_of, number, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from app_pages.common.session_store import MAX_SESSION_BYTES
from app_pages.sequence.markov_state import MARKOV_PARAMS, markov_widgets
from engine import ConfigError
from engine.core.registries import OPTIMIZERS
from engine.sequence.models import RECURRENT
from engine.sequence.trainer import (HOT_FIELDS, HOT_MODEL_FIELDS, MAX_TEXT, MIN_TEXT, CharLMConfig, CharLMTrainer,
                                     CharModelConfig, structural_changes)

ARCHS = ["rnn", "lstm", "gru", "transformer"]
ARCH_LABELS = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU", "transformer": "Transformer"}
CORPUS_LABELS = {"guides": "This app's guides", "readme": "This app's README", "tweets": "Tweets (sentiment corpus)",
                 "text": "Paste your own text"}
HIDDEN_SIZES = [16, 32, 48, 64, 96, 128, 192, 256]
LEARNING_RATES = [0.0003, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0]
CONTEXTS = [8, 16, 24, 32, 48, 64, 96, 128]
BATCH_SIZES = [8, 16, 32, 64, 128]
CLIP_NORMS = [0.0, 0.25, 1.0, 5.0]
MAX_LAYERS = 4
MAX_DROPOUT, DROPOUT_STEP = 0.5, 0.05
HEADS = [1, 2, 4, 8]
POSITIONS = ["learned", "sinusoidal"]
TICK_SECONDS = 1.5           # the live view redraws every 1.5 s (or less often on a busy server)
TRAIN_SHARE = 0.75           # of a frame's interval, training and drawing: most of it goes to training
FIRST_DRAW_SECONDS = 0.3     # drawing a frame (four charts, samples) before the first one is measured
SAMPLE_REFRESH_STEPS = 25    # a model's sample is redrawn once it has trained this many more steps,
SAMPLE_REFRESH_SECONDS = 4.0  # or after this long if it trained at all (slow machines see samples change too)
GTT_REFRESH_SECONDS = 2.0
PROBE_LIMIT = 120            # characters of a typed string shown in the hidden-state view
DEFAULT_PROMPT = "The "
DEFAULT_PROBE = 'Press "Play" and see (x + y) * 2 at https://example.com'
SAVE_NAME = "sequence"        # this page's entry in the session store (app_pages/common/saved_runs.py)
EXAMPLE_TEXT = ("the cat sat on the mat. the dog sat on the log. the cat saw the dog. "
                "the dog saw the cat. a cat and a dog sat on a mat and a log. ") * 3


def default_widgets() -> dict:
    base = CharLMConfig()
    w = {"sq_models": list(ARCHS), "sq_corpus": "guides", "sq_text": EXAMPLE_TEXT, "sq_context": base.context,
         "sq_batch": base.batch_size, "sq_clip": base.clip_grad_norm, "sq_prompt": DEFAULT_PROMPT,
         "sq_temperature": 0.8, "sq_topk": 0, "sq_length": 160, "sq_probe": DEFAULT_PROBE}
    for m in base.models:
        w.update(model_widgets(m))
    return {**w, **markov_widgets()}


def model_widgets(m: CharModelConfig) -> dict:
    """The widget values of one model's tab."""
    a = m.arch
    w = {f"sq_{a}_hidden": m.hidden, f"sq_{a}_layers": m.layers, f"sq_{a}_dropout": m.dropout,
         f"sq_{a}_optimizer": m.optimizer, f"sq_{a}_lr": m.lr}
    if a == "transformer":
        w.update({"sq_transformer_heads": m.heads, "sq_transformer_positions": m.positions})
    return w


def config_from_widgets(state, seed: int) -> CharLMConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    models = []
    for a in [a for a in ARCHS if a in state["sq_models"]]:  # always in the same order
        extra = ({"heads": state["sq_transformer_heads"], "positions": state["sq_transformer_positions"]}
                 if a == "transformer" else {})
        models.append(CharModelConfig(a, hidden=int(state[f"sq_{a}_hidden"]), layers=int(state[f"sq_{a}_layers"]),
                                      dropout=float(state[f"sq_{a}_dropout"]),
                                      optimizer=state[f"sq_{a}_optimizer"], lr=float(state[f"sq_{a}_lr"]), **extra))
    corpus = state["sq_corpus"]
    return CharLMConfig.from_dict({
        "corpus": corpus, "text": state["sq_text"] if corpus == "text" else "",
        "context": int(state["sq_context"]), "batch_size": int(state["sq_batch"]),
        "clip_grad_norm": float(state["sq_clip"]), "seed": int(seed), "models": [vars(m) for m in models]})


def widgets_from_config(config: CharLMConfig) -> dict:
    """The widget values that describe `config` (its models' settings; the others' tabs stay)."""
    w = {"sq_models": [m.arch for m in config.models], "sq_corpus": config.corpus, "sq_context": config.context,
         "sq_batch": config.batch_size, "sq_clip": config.clip_grad_norm}
    if config.corpus == "text":
        w["sq_text"] = config.text
    for m in config.models:
        w.update(model_widgets(m))
    return w


# The page's address holds its setup under short names (see app_pages/common/address.py), each
# model's settings as "lstm.hidden": only what differs from the defaults. A pasted text goes in
# only while it is short: a longer one would make an address too long to share.
MAX_ADDRESS_TEXT = 500


def _parse_text(text: str) -> str:
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise ValueError(f"a text of {MIN_TEXT:,} to {MAX_TEXT:,} characters")
    return text


URL_PARAMS = [
    list_of("models", "sq_models", ARCHS, noun="model"), one_of("corpus", "sq_corpus", list(CORPUS_LABELS)),
    Param("text", "sq_text", _parse_text, str, strip=False), one_of("context", "sq_context", CONTEXTS, int),
    one_of("batch", "sq_batch", BATCH_SIZES, int), one_of("clip", "sq_clip", CLIP_NORMS, float),
    *[p for a in ARCHS for p in (
        one_of(f"{a}.hidden", f"sq_{a}_hidden", HIDDEN_SIZES, int), whole_number(f"{a}.layers", f"sq_{a}_layers", 1,
                                                                                  MAX_LAYERS),
        number(f"{a}.dropout", f"sq_{a}_dropout", 0.0, MAX_DROPOUT, DROPOUT_STEP),
        one_of(f"{a}.optimizer", f"sq_{a}_optimizer", list(OPTIMIZERS)),
        one_of(f"{a}.lr", f"sq_{a}_lr", LEARNING_RATES, float))],
    one_of("transformer.heads", "sq_transformer_heads", HEADS, int),
    one_of("transformer.positions", "sq_transformer_positions", POSITIONS), *MARKOV_PARAMS]


def text_in_address(values) -> bool:
    """Whether the address holds the pasted text: only for the pasted-text corpus, and a short text."""
    return values.get("sq_corpus") == "text" and len(values.get("sq_text", "")) <= MAX_ADDRESS_TEXT


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    defaults = default_widgets()
    current = {p.key: values[p.key] for p in URL_PARAMS if p.key in values}
    if not text_in_address(current):
        current["sq_text"] = defaults["sq_text"]  # left out
    return address.widgets_to_query(URL_PARAMS, current, defaults, seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used."""
    return address.widgets_from_query(URL_PARAMS, query)


def restored_widgets(config: CharLMConfig, query: dict) -> dict | None:
    """The widget values that show restored models, or None where they must not be restored: the
    address (`query`, name -> text) describes another setup (a shared link wins over the saved
    run), or the widgets cannot show the models. An empty address, or the one the page wrote for
    this very setup (a reload), restores; what the address holds beyond the models (the tabs of
    models not trained) is kept. A pasted text too long for the address is the saved one."""
    values = {**default_widgets(), **widgets_from_query(query)[0], **widgets_from_config(config)}
    own = widgets_to_query(values, config.seed)
    if config_from_widgets(values, config.seed) != config or widgets_from_query(own)[1]:
        return None  # settings that no widget offers (only a file not written by this page has them)
    return values if not query or dict(query) == own else None


def hot_config(running: CharLMConfig, wanted: CharLMConfig) -> CharLMConfig:
    """`running` with the hot settings of `wanted`: clipping, the step limit, and each model's
    learning rate and label (matched by architecture, one model per architecture on this page)."""
    d = running.to_dict()
    w = wanted.to_dict()
    d.update({k: w[k] for k in HOT_FIELDS})
    by_arch = {m["arch"]: m for m in w["models"]}
    for m in d["models"]:
        if m["arch"] in by_arch:
            m.update({k: by_arch[m["arch"]][k] for k in HOT_MODEL_FIELDS})
    return CharLMConfig.from_dict(d)


def describe_chars(chars: list[str], limit: int = 12) -> str:
    """Characters named in words, safe for Markdown: 'U+05E9 HEBREW LETTER SHIN, …'."""
    names = [f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')}" for c in chars[:limit]]
    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    return ", ".join(names) + more


def text_limits_message(text: str) -> str | None:
    """Why a pasted text is refused, or None when its length is within the limits."""
    n = len(text)
    if n < MIN_TEXT:
        return f"The pasted text has {n:,} characters; paste at least {MIN_TEXT:,}."
    if n > MAX_TEXT:
        return (f"The pasted text has {n:,} characters, more than the {MAX_TEXT:,} allowed. Paste a shorter part: "
                "a few tens of thousands of characters is plenty for these small models.")
    return None


@dataclass
class SequenceLab:
    """What the page keeps between reruns."""
    trainer: CharLMTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    pace: FramePacer = field(default_factory=lambda: FramePacer(
        tick=TICK_SECONDS, share=TRAIN_SHARE, draw_seconds=FIRST_DRAW_SECONDS), repr=False)
    samples: dict[int, tuple[int, str]] = field(default_factory=dict)  # model -> (step drawn at, text)
    _sample_time: float = 0.0
    prompt_unknown: list[str] = field(default_factory=list)
    sampling: tuple = (DEFAULT_PROMPT, 0.8, 0, 160)  # prompt, temperature, top-k, length
    gtt: list[np.ndarray] = field(default_factory=list)
    gtt_step: int = -1
    _gtt_time: float = 0.0
    _next_sample: int = 0
    _reported: tuple = ()
    _last: tuple[float, int] | None = field(default=None, repr=False)
    save_note: str = ""           # why the run is not saved, when it is too large to keep
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: CharLMConfig, device="cpu", sampling: tuple | None = None) -> "SequenceLab":
        return cls.of(CharLMTrainer(config, device), sampling)

    @classmethod
    def of(cls, trainer: CharLMTrainer, sampling: tuple | None = None) -> "SequenceLab":
        """A lab around a trainer, new or restored, with its samples and gradient curves drawn."""
        lab = cls(trainer)
        if sampling:
            lab.sampling = sampling
        if not trainer.history:
            trainer.snapshot()  # the first point of the curves (a restored trainer has its own)
        lab.refresh_all()
        return lab

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the models' checkpoint when one is due (common/autosave.py); True if it saved.
        Models too large for a session's room in the store are not written at all: the store
        would refuse them, after the work of writing them every few seconds."""
        size = self.trainer.approximate_checkpoint_bytes()
        if size > MAX_SESSION_BYTES:
            self.save_note = (f"These models are too large to keep for a reload (about {size / 2**20:,.0f} MB; a "
                              f"browser's saved runs may take {MAX_SESSION_BYTES / 2**20:,.0f} MB): they are not "
                              "saved. Smaller or fewer models are.")
            return False
        self.save_note = ""
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    @property
    def labels(self) -> list[str]:
        return self.trainer.labels

    @property
    def archs(self) -> list[str]:
        return [m.arch for m in self.trainer.config.models]

    # ---- training ----
    def tick(self, budget_s: float | None = None, trained: Callable[[], object] | None = None) -> float:
        """One frame: if playing, train a time-boxed chunk (its budget from the pacer unless given),
        call trained() (the frame's drawing starts there: the samples and curves below are part
        of it), then refresh one model's sample (round robin) and the gradient curves now and
        then. Returns the seconds trained."""
        if not self.playing:
            self._last = None
            return 0.0
        start = time.perf_counter()
        t = self.trainer
        budget = self.pace.training_budget() if budget_s is None else budget_s
        ok = train_guarded(self, lambda: t.train_for(budget))
        seconds = time.perf_counter() - start
        if trained is not None:
            trained()
        if not ok:
            self.pace.stop()  # paused by the failure: no longer a share of the server
            return seconds
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (t.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, t.step_count)
        self._check_stopped()
        self.refresh_one_sample()
        if now - self._gtt_time > GTT_REFRESH_SECONDS:
            self.refresh_gtt()
        return seconds

    def _check_stopped(self) -> None:
        t = self.trainer
        bad = [label for label, d in zip(t.labels, t.model_diverged) if d]
        if bad:
            self.message = (f"{', '.join(bad)}: the loss became NaN or infinite, so that model stopped and keeps its "
                            "last finite weights (the others go on when you press Play). Lower its learning rate "
                            "or turn gradient clipping on.")
            if self.playing and self._reported != tuple(bad):
                self.playing = False  # pause so the message is read; Play goes on with the others
            self._reported = tuple(bad)
        if t.diverged:
            self.playing = False
        if t.finished:
            self.playing = False
            self.message = f"The step limit ({t.config.max_steps:,}) is reached."
        if not self.playing:
            self.pace.stop()

    def step(self, n: int = 1) -> None:
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._check_stopped()
            self.refresh_all()

    def play(self) -> None:
        self.playing = not self.trainer.diverged and not self.trainer.finished
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    @property
    def has_trained(self) -> bool:
        return self.trainer.step_count >= 1

    def changes(self, config: CharLMConfig) -> list[str]:
        """The settings that differ from the running models' and need new ones."""
        return structural_changes(self.trainer.config, config)

    def apply_hot(self, config: CharLMConfig) -> None:
        """Only the hot settings of `config` reach the running models; their structure stays
        (the page asks before a structural change replaces them)."""
        try:
            hot = hot_config(self.trainer.config, config)
        except ConfigError:
            return
        if hot != self.trainer.config:
            self.trainer.apply(hot)

    def apply(self, config: CharLMConfig) -> bool:
        """Hot changes (learning rates, clipping) keep the progress; False when the change needs new models."""
        if self.trainer.apply(config):
            return False
        return True

    # ---- views ----
    def set_sampling(self, prompt: str, temperature: float, top_k: int, length: int) -> None:
        new = (prompt, float(temperature), int(top_k), int(length))
        if new != self.sampling:
            self.sampling = new
            self.refresh_samples()

    def _sample(self, i: int) -> None:
        prompt, temperature, top_k, length = self.sampling
        text, unknown = self.trainer.sample(i, prompt, length, temperature, top_k)
        self.samples[i] = (self.trainer.step_count, text)
        self.prompt_unknown = unknown
        self._sample_time = time.perf_counter()

    def refresh_samples(self) -> None:
        for i in range(len(self.trainer.models)):
            self._sample(i)

    def refresh_one_sample(self) -> None:
        """Redraw the next model's sample (round robin) once it is SAMPLE_REFRESH_STEPS behind,
        or behind at all and no sample was drawn for SAMPLE_REFRESH_SECONDS: one model per
        frame, so a frame's cost stays bounded however many models train."""
        n = len(self.trainer.models)
        i = self._next_sample % n
        behind = self.trainer.step_count - self.samples.get(i, (-10**9, ""))[0]
        if behind >= SAMPLE_REFRESH_STEPS or (behind > 0 and
                                              time.perf_counter() - self._sample_time >= SAMPLE_REFRESH_SECONDS):
            self._sample(i)
            self._next_sample += 1

    def refresh_gtt(self) -> None:
        self.gtt = [self.trainer.gradient_through_time(i) for i in range(len(self.trainer.models))]
        self.gtt_step = self.trainer.step_count
        self._gtt_time = time.perf_counter()

    def refresh_all(self) -> None:
        self.refresh_samples()
        self.refresh_gtt()

    # ---- numbers for the page ----
    def recurrent_indices(self) -> list[int]:
        return [i for i, a in enumerate(self.archs) if a in RECURRENT]

    def transformer_indices(self) -> list[int]:
        return [i for i, a in enumerate(self.archs) if a == "transformer"]

    def forgetting_summary(self) -> list[str]:
        """One sentence per model: how much of the gradient reaches the first character of the
        window compared with the last one."""
        out = []
        for label, curve in zip(self.labels, self.gtt):
            if len(curve) < 2 or not np.all(np.isfinite(curve)) or curve[-1] <= 0:
                continue
            ratio = float(curve[0] / curve[-1])
            words = ("barely reaches it" if ratio < 1e-3 else "fades on the way" if ratio < 0.1
                     else "reaches it in good health")
            out.append(f"**{label}**: the character {len(curve) - 1} places back gets {_sci(ratio)} of the "
                       f"gradient of the last one — the signal {words}.")
        return out


def _sci(x: float) -> str:
    if not math.isfinite(x):
        return "∞"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.0e}"
