"""The Markov chain baseline of the Sequence models page, free of Streamlit: its widgets and address
parameters, and the object that keeps a chain in step with the networks.

The chain reads the networks' text and is scored on their held-out positions (MarkovConfig.for_charlm).
It counts in step with them: after s training steps each network has been fed s × batch × context
characters, and the chain has counted as many characters of the training text (at most all of it, one
pass). Its held-out bits per character is drawn on the networks' loss chart at the same step: what a
network must beat, having read as much text as the counts."""
from __future__ import annotations

import math

from app_pages.common.address import Param, flag, one_of
from engine.sequence.markov import MAX_ORDER, MarkovConfig, MarkovTrainer
from engine.sequence.trainer import CharLMTrainer

ORDERS = list(range(1, MAX_ORDER + 1))
SMOOTHINGS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
VIEWS = {"inside": "Look inside the networks", "markov": "Markov chain baseline"}  # address text -> tab label
SWEEP_ORDERS = ORDERS              # the orders compared on the whole training text
MAX_CURVE_POINTS = 100             # the count is read in at most this many chunks, one point each
MIN_CHUNK = 1024


def markov_widgets() -> dict:
    return {"sq_markov_on": True, "sq_markov_order": 3, "sq_markov_k": 0.01, "sq_markov_temperature": 0.5,
            "sq_view": VIEWS["inside"]}


MARKOV_PARAMS: list[Param] = [
    flag("markov", "sq_markov_on"), one_of("markov.order", "sq_markov_order", ORDERS, int),
    one_of("markov.k", "sq_markov_k", SMOOTHINGS, float), one_of("tab", "sq_view", VIEWS)]


def markov_label(order: int) -> str:
    return f"Markov chain (order {order})"


class MarkovBaseline:
    """A MarkovTrainer for the networks' text, kept in step with their training."""

    def __init__(self, charlm: CharLMTrainer, order: int, smoothing: float):
        c = charlm.config
        self.key = self.key_for(charlm, order, smoothing)
        self.chars_per_step = c.batch_size * c.context  # what each network is fed per step
        train_chars = len(charlm.train_data)
        chunk = max(MIN_CHUNK, math.ceil(train_chars / MAX_CURVE_POINTS))
        config = MarkovConfig.for_charlm(c, order, smoothing, chunk_chars=chunk)
        # The networks' corpus: the same characters, the same vocabulary, nothing read twice.
        self.trainer = MarkovTrainer(config, charlm.device, corpus=charlm.corpus)
        self.trainer.snapshot()  # the first point: nothing counted, every character alike
        self._sample_key: tuple | None = None
        self.sample_text = ""
        self._sweep: dict | None = None

    @staticmethod
    def key_for(charlm: CharLMTrainer, order: int, smoothing: float) -> tuple:
        c = charlm.config
        return (c.corpus, c.text, c.corpus_chars, c.context, c.val_fraction, c.batch_size, c.seed,
                order, smoothing)

    @property
    def label(self) -> str:
        return markov_label(self.trainer.config.order)

    def sync(self, step: int) -> None:
        """Count exactly what the networks have read after `step` steps (all the text at most)."""
        self.trainer.read_to(step * self.chars_per_step)

    def ahead_of(self, step: int) -> bool:
        """Whether the chain has counted more than the networks have read after `step` steps."""
        return self.trainer.train_chars_seen > step * self.chars_per_step

    def curve(self, step: int) -> tuple[list[float], list[float]]:
        """(networks' steps, held-out bits per character): one point per chunk counted, at the step
        when the networks had read as much; once the text is read, flat to `step`."""
        xs = [h["train_chars_seen"] / self.chars_per_step for h in self.trainer.history]
        ys = [h["test_bits_per_char"] for h in self.trainer.history]
        if self.trainer.finished and step > xs[-1]:
            xs.append(float(step))
            ys.append(ys[-1])
        return xs, ys

    def sample(self, prompt: str, temperature: float, length: int) -> str:
        """The chain's text after `prompt`, drawn again only when the counts or the settings change."""
        key = (self.trainer.train_chars_seen, prompt, float(temperature), int(length))
        if key != self._sample_key:
            self.sample_text = self.trainer.sample(prompt, length, temperature)[0]
            self._sample_key = key
        return self.sample_text

    def order_sweep(self) -> dict:
        """{"orders", "test", "train"}: bits per character of each order once the whole training text
        is counted, with this smoothing (one order-5 count: the lower orders' tables come with it)."""
        if self._sweep is None:
            c = self.trainer.config
            whole = MarkovConfig.from_dict({**c.to_dict(), "order": max(SWEEP_ORDERS), "chunk_chars": 1_000_000})
            full = MarkovTrainer(whole, self.trainer.device, corpus=self.trainer.corpus)
            full.step(len(full.train_data))
            bits = [full.bits_per_char(n) for n in SWEEP_ORDERS]
            self._sweep = {"orders": list(SWEEP_ORDERS), "test": [b[0] for b in bits], "train": [b[1] for b in bits]}
        return self._sweep


def baseline_for(state, charlm: CharLMTrainer) -> MarkovBaseline | None:
    """The page's chain for these networks and widgets, built anew when either changed (a rebuild,
    a restore, another order): counting is cheap. None while the baseline is switched off."""
    if not state.get("sq_markov_on", True):
        return None
    order, smoothing = int(state["sq_markov_order"]), float(state["sq_markov_k"])
    baseline = state.get("sq_markov")
    if (baseline is None or baseline.key != MarkovBaseline.key_for(charlm, order, smoothing)
            or baseline.ahead_of(charlm.step_count)):  # new networks (Reset) start from nothing read
        baseline = state["sq_markov"] = MarkovBaseline(charlm, order, smoothing)
    baseline.sync(charlm.step_count)
    return baseline
