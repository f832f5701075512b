"""The Convolutions page's live runs, free of Streamlit: CNNRun (the training tab: a time-boxed tick, an
evaluation at most every EVAL_SECONDS, the views cached by step) and PairRun (a CNN and an MLP trained
step for step)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine import ConfigError
from engine.cnn import inspection
from engine.cnn.config import HOT_FIELDS, CNNConfig, preset
from engine.cnn.trainer import CNNSnapshot, CNNTrainer, WorstTest

TICK_SECONDS = 0.2           # the live view asks for 5 frames a second when its frames fit in that
PAIR_TICK_SECONDS = 0.5      # the CNN-vs-MLP view: two networks trained and measured per frame
MIN_TRAIN_SECONDS = 0.03     # a frame that evaluates trains at least this long, or not at all
MAX_TRAIN_SECONDS = 0.12
FRAME_SHARE = 0.75           # of its interval a frame trains and draws: its last step runs past the deadline
EVAL_SECONDS = 1.0           # while playing, loss and accuracy over every digit are measured at most this often
WORST_SHOWN = 8              # the test digits it gets most wrong, shown under the confusion matrix


@dataclass
class MistakeViews:
    """What one pass over the test digits shows of the network's mistakes, at the step it was made."""
    step: int
    confusion: np.ndarray   # (10, 10) counts: row = the true digit, column = the predicted one
    worst: WorstTest        # the WORST_SHOWN test digits whose true digit gets the lowest probability


@dataclass
class DigitViews:
    """One test digit through the network at one step: what "Inside the network" shows."""
    step: int
    index: int                          # the digit's position in the test set; -1: the drawn digit
    image: np.ndarray                   # (64,) its pixels in [0, 1]
    saliency: np.ndarray                # (8, 8) |∂score/∂pixel| of the predicted class
    probabilities: np.ndarray           # (10,)
    maps: list[tuple[str, np.ndarray]]  # every stage's (C, H, W) feature maps ([] for the mlp)
    filters: np.ndarray                 # (C_out, 1, k, k) first layer's kernels (mlp: (H, 1, 8, 8))


@dataclass
class CNNRun:
    """What the Train tab keeps between reruns: the trainer, whether it plays, the last evaluation and
    what the views show, the speed, the pace of its live view, and the cell of a feature map the user clicked."""
    trainer: CNNTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    clicked: tuple[int, int, int] | None = None   # (stage index, row, column)
    eval_seconds: float = 0.15   # one evaluation (running mean): a frame that makes one trains that much less
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, share=FRAME_SHARE,
                                                                max_train=MAX_TRAIN_SECONDS), repr=False)
    _snap: CNNSnapshot | None = field(default=None, repr=False)
    _mistakes: MistakeViews | None = field(default=None, repr=False)
    _mistakes_due: bool = field(default=False, repr=False)  # a snapshot taken while playing awaits them
    _digit: DigitViews | None = field(default=None, repr=False)
    _eval_time: float = field(default=-math.inf, repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: CNNConfig, device="cpu", playing: bool = False) -> "CNNRun":
        return cls(CNNTrainer(config, device), playing=playing)

    def frame_budget(self, evaluating: bool = False) -> float:
        """Seconds of training in a frame: what the pace gives it beside the drawing. A frame that evaluates
        trains that much less, or not at all when too little is left (the evaluation takes the frame)."""
        budget = self.pace.training_budget()
        if evaluating:
            budget -= self.eval_seconds
            return budget if budget >= MIN_TRAIN_SECONDS else 0.0
        return budget

    def plan_frames(self) -> None:
        """A frame that evaluates draws and evaluates: its interval must hold both, else the browser's next
        request would cut it short every EVAL_SECONDS (training is what gives way, frame_budget)."""
        self.pace.at_least = self.pace.draw_seconds + self.eval_seconds

    def snapshot(self, now: float | None = None) -> CNNSnapshot:
        """The trainer's snapshot — an evaluation over every digit, the costliest part of a frame —
        taken at most every EVAL_SECONDS while playing, and at once when paused or stopped (or when
        there is none)."""
        now = time.perf_counter() if now is None else now
        stale = self._snap is None or self._snap.step != self.trainer.step_count
        if self._snap is None or (stale and (not self.playing or now - self._eval_time >= EVAL_SECONDS)):
            start = time.perf_counter()
            self._snap, self._eval_time = self.trainer.snapshot(), now
            self._mistakes_due = True
            self.eval_seconds = 0.5 * self.eval_seconds + 0.5 * (time.perf_counter() - start)
        return self._snap

    def mistake_views(self) -> MistakeViews:
        """The confusion matrix and the worst test digits of the network the last snapshot measured (one more
        pass over the test digits). Paused, measured at once; playing, at the start of the next frame before
        it trains (tick), so that the frame which evaluates stays short and still shows the last ones."""
        if self._mistakes is None or (self._mistakes_due and not self.playing):
            self._measure_mistakes()
        return self._mistakes

    def _measure_mistakes(self) -> None:
        t = self.trainer
        probs = t.test_predictions()                                       # (M, 10)
        self._mistakes = MistakeViews(t.step_count, inspection.confusion_matrix(t.y_test, probs.argmax(axis=1)),
                                      inspection.worst(probs, t.y_test, WORST_SHOWN))
        self._mistakes_due = self._snap is not None and self._snap.step != t.step_count

    def digit_views(self, index: int, drawn: np.ndarray | None = None) -> DigitViews:
        """Test digit `index` — or the `drawn` digit (64,), index -1 — through the network as it is now
        (measured again once it has trained, or for another digit)."""
        t, old = self.trainer, self._digit
        image = t.x_test_np[index] if drawn is None else np.asarray(drawn, dtype=np.float32).reshape(64)
        index = index if drawn is None else -1
        if old is None or old.index != index or old.step != t.step_count or not np.array_equal(old.image, image):
            self._digit = DigitViews(t.step_count, index, image, t.saliency(image), t.predict_proba(image[None])[0],
                                     t.feature_maps(image), t.first_layer_filters())
        return self._digit

    def tick(self, budget_s: float | None = None) -> CNNSnapshot:
        """One frame: if playing, train a time-boxed chunk and, at most every EVAL_SECONDS, evaluate (in a
        frame planned for it, which trains less or not at all); then the (possibly cached) snapshot."""
        trainer = self.trainer
        self.plan_frames()  # paused too: the interval Play starts with already holds an evaluating frame
        if not self.playing:
            self._last = None
            return self.snapshot()
        start = time.perf_counter()
        if self._mistakes_due and self._snap is not None and self._snap.step == trainer.step_count:
            self._measure_mistakes()  # the network is still the one the last snapshot measured
        evaluating = self._snap is None or (self._snap.step != trainer.step_count
                                            and start - self._eval_time >= EVAL_SECONDS)
        if budget_s is None:
            budget_s = self.frame_budget(evaluating)
            if budget_s > 0:  # less the mistakes just measured, down to MIN_TRAIN_SECONDS or the pace's smaller share
                budget_s = max(min(budget_s, MIN_TRAIN_SECONDS), budget_s - (time.perf_counter() - start))
        if budget_s > 0:
            if not train_guarded(self, lambda: trainer.advance(budget_s)):
                self.pace.stop()  # paused by the failure: no longer a share of the server
                return self.snapshot()
            now = time.perf_counter()
            if self._last is not None and now > self._last[0]:  # over the frames since the last that trained
                self.steps_per_second = (trainer.step_count - self._last[1]) / (now - self._last[0])
            self._last = (now, trainer.step_count)
            self._stop_if_needed()
        if evaluating or not self.playing:
            return self.snapshot(now=start)
        return self._snap  # measured again in a later frame

    def step(self, n: int) -> CNNSnapshot:
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._stop_if_needed()
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

    def apply(self, config: CNNConfig) -> list[str]:
        changed = self.trainer.apply(config)
        if not changed and not self.trainer.diverged and self.message.startswith("The loss became"):
            self.message = ""
        if not changed:
            self._snap = None  # a new step limit or learning rate shows at once (snapshot() measures again)
        return changed

    def apply_hot(self, config: CNNConfig) -> None:
        """Only the hot settings of `config` reach the running trainer (the page asks before a
        structural change replaces it)."""
        wanted, running = config.flat(), self.trainer.config
        try:
            hot = running.replace(**{name.split(".", 1)[1]: wanted[name.split(".", 1)[1]] for name in HOT_FIELDS})
        except ConfigError:
            return
        if hot != running:
            self.apply(hot)

    def click(self, stage: int, row: int, col: int) -> None:
        self.clicked = (int(stage), int(row), int(col))

    def _stop_if_needed(self) -> None:
        t = self.trainer
        if t.diverged:
            self.playing = False
            self.message = (f"The loss became NaN or infinite at learning rate {t.config.train.lr:g}: training "
                            "paused and the last finite weights were kept. Lower the learning rate and press Play.")
        elif t.finished:
            self.playing = False
            self.message = f"Reached the step limit ({t.config.train.max_steps:,}). Raise “Stop after” to train on."
        if not self.playing:
            self.pace.stop()  # stopped by itself: no longer a share of the server


@dataclass
class PairRun:
    """The CNN and the MLP of about as many parameters, trained side by side on the same split and
    seed, one time-boxed chunk each per frame; one pace for the view that shows both."""
    cnn: CNNTrainer
    mlp: CNNTrainer
    playing: bool = False
    message: str = ""
    shifts: dict | None = None   # network name -> accuracies at 0, 1, 2 pixels, measured at shift_step
    shift_step: tuple[int, int] = (-1, -1)
    # The budget is the CNN's: the MLP, several times faster, catches up to its step count after it (tick).
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=PAIR_TICK_SECONDS, max_train=MAX_TRAIN_SECONDS),
                             repr=False)
    _snaps: dict | None = field(default=None, repr=False)
    _eval_time: float = field(default=-math.inf, repr=False)

    @classmethod
    def build(cls, cnn_preset: str, seed: int, device="cpu") -> "PairRun":
        return cls(CNNTrainer(preset(cnn_preset, seed), device), CNNTrainer(preset("mlp", seed), device))

    @property
    def trainers(self) -> dict[str, CNNTrainer]:
        return {"CNN": self.cnn, "MLP": self.mlp}

    def tick(self, budget_s: float | None = None) -> None:
        if not self.playing:
            return
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        # The CNN trains for the frame's budget and the MLP (several times faster) catches up to the
        # same step: the two are compared after as many updates, not as many seconds.
        if not self.cnn.finished and not train_guarded(self, lambda: self.cnn.advance(budget_s)):
            self.pace.stop()  # paused by the failure: no longer a share of the server
            return
        behind = self.cnn.step_count - self.mlp.step_count
        if behind > 0 and not train_guarded(self, lambda: self.mlp.advance(10 * budget_s, max_steps=behind)):
            self.pace.stop()
            return
        if self.cnn.finished and self.mlp.finished:
            self.playing = False
            self.message = f"Both reached their {self.cnn.config.train.max_steps:,} steps."
            self.pace.stop()

    def step(self, n: int) -> None:
        for trainer in (self.cnn, self.mlp):
            if not train_guarded(self, lambda t=trainer: t.step(n)):
                return

    def play(self) -> None:
        self.playing = not (self.cnn.finished and self.mlp.finished)
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def snapshots(self, now: float | None = None) -> dict[str, CNNSnapshot]:
        """Both snapshots, measured at most every EVAL_SECONDS while playing (see CNNRun.snapshot)."""
        now = time.perf_counter() if now is None else now
        steps = (self.cnn.step_count, self.mlp.step_count)
        stale = self._snaps is None or tuple(s.step for s in self._snaps.values()) != steps
        if stale and (not self.playing or now - self._eval_time >= EVAL_SECONDS):
            self._snaps, self._eval_time = {name: t.snapshot() for name, t in self.trainers.items()}, now
        return self._snaps

    def shift_accuracies(self) -> dict[str, list[float]]:
        """Test accuracy of each network at shifts of 0, 1 and 2 pixels, measured with the snapshots."""
        snaps = self.snapshots()
        steps = tuple(s.step for s in snaps.values())
        if self.shifts is None or steps != self.shift_step:
            self.shifts = {name: [t.shifted_accuracy(p) for p in (0, 1, 2)] for name, t in self.trainers.items()}
            self.shift_step = steps
        return self.shifts


