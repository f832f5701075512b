"""The Neural Turing machine page's live run, free of Streamlit: NTMRun keeps the trainer, trains a
time-boxed chunk each frame, evaluates at most every EVAL_SECONDS and tries longer sequences at most
every LONGER_SECONDS while playing (at once when paused), and caches the example by step."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine import ConfigError
from engine.ntm.config import HOT_FIELDS, NTMConfig
from engine.ntm.trainer import CopyExample, LengthTest, NTMSnapshot, NTMTrainer

TICK_SECONDS = 0.25          # the live view asks for 4 frames a second
MAX_TRAIN_SECONDS = 0.15     # a frame's training, at most: a frame of both models must still be drawn in time
FRAME_SHARE = 0.75           # of its interval a frame trains and draws: its last step runs past the deadline
EVAL_SECONDS = 1.0           # loss and bit error over the evaluation sequences at most this often while playing
LONGER_SECONDS = 4.0         # "try longer" (sequences up to 3 × the longest trained) at most this often


@dataclass
class NTMRun:
    trainer: NTMTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, share=FRAME_SHARE,
                                                                max_train=MAX_TRAIN_SECONDS), repr=False)
    _snap: NTMSnapshot | None = field(default=None, repr=False)
    _eval_time: float = field(default=-math.inf, repr=False)
    _example: CopyExample | None = field(default=None, repr=False)
    _longer: LengthTest | None = field(default=None, repr=False)
    _longer_time: float = field(default=-math.inf, repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: NTMConfig, device="cpu", playing: bool = False) -> "NTMRun":
        return cls(NTMTrainer(config, device), playing=playing)

    def snapshot(self, now: float | None = None) -> NTMSnapshot:
        """The trainer's snapshot, measured at most every EVAL_SECONDS while playing, at once otherwise."""
        now = time.perf_counter() if now is None else now
        stale = self._snap is None or self._snap.step != self.trainer.step_count
        if self._snap is None or (stale and (not self.playing or now - self._eval_time >= EVAL_SECONDS)):
            self._snap, self._eval_time = self.trainer.snapshot(), now
        return self._snap

    def example(self, length: int | None) -> CopyExample:
        """The example sequence of `length` (None: the longest trained) through both models, as they are now."""
        wanted = self.trainer.config.data.max_length if not length else int(length)
        old = self._example
        if old is None or old.step != self.trainer.step_count or old.target.shape[0] != wanted:
            self._example = self.trainer.example(wanted)
        return self._example

    def longer(self, now: float | None = None) -> LengthTest:
        """Both models on sequences up to 3 × the longest trained: measured again once the step moved, at
        most every LONGER_SECONDS while playing."""
        now = time.perf_counter() if now is None else now
        old = self._longer
        if old is None or (old.step != self.trainer.step_count
                           and (not self.playing or now - self._longer_time >= LONGER_SECONDS)):
            self._longer, self._longer_time = self.trainer.try_longer(), now
        return self._longer

    def tick(self, budget_s: float | None = None) -> NTMSnapshot:
        """One frame: if playing, train a time-boxed chunk; then the (possibly cached) snapshot."""
        trainer = self.trainer
        if not self.playing:
            self._last = None
            return self.snapshot()
        budget = self.pace.training_budget() if budget_s is None else budget_s
        if not train_guarded(self, lambda: trainer.advance(budget)):
            self.pace.stop()
            return self.snapshot()
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (trainer.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, trainer.step_count)
        self._stop_if_needed()
        return self.snapshot(now)

    def step(self, n: int) -> NTMSnapshot:
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._stop_if_needed()
        else:
            self.pace.stop()
        return self.snapshot()

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def autosave(self, save, now: float | None = None) -> bool:
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def apply(self, config: NTMConfig) -> list[str]:
        changed = self.trainer.apply(config)
        if not changed:
            if not self.trainer.diverged and self.message.startswith("The loss became"):
                self.message = ""
            self._snap = None  # a new step limit or learning rate shows at once
        return changed

    def apply_hot(self, config: NTMConfig) -> None:
        """Only the hot settings of `config` reach the running trainer (the page asks before a structural
        change replaces it)."""
        wanted, running = config.flat(), self.trainer.config
        names = [name.split(".", 1)[1] for name in HOT_FIELDS]
        try:
            hot = running.replace(**{name: wanted[name] for name in names})
        except ConfigError:
            return
        if hot != running:
            self.apply(hot)

    def _stop_if_needed(self) -> None:
        t = self.trainer
        if t.diverged or t.finished:
            self.pace.stop()
        if t.diverged:
            self.playing = False
            self.message = (f"The loss became NaN or infinite at learning rate {t.config.train.lr:g}: training "
                            "paused and the last finite weights were kept. Lower the learning rate and press Play.")
        elif t.finished:
            self.playing = False
            self.message = f"Reached the step limit ({t.config.train.max_steps:,}). Raise “Stop after” to train on."
