"""The pace of a live view, shared by every page that trains live.

The browser asks for a live view's frames on a fixed timer (`st.fragment(run_every=...)`), and
a request that arrives while a frame is still being drawn interrupts it. On a busy server (a
class training at once: every session of a server draws under one interpreter lock) frames
that take longer than their interval are cut short one after another: the view freezes while
training goes on, and a click waits behind frames that are never drawn. So each live view
keeps a FramePacer that measures its frames and asks for them less often when they take longer,
when they arrive late, when they are cut short, or when many runs of the server train at once;
and that gives each frame's training only what the interval leaves after the drawing, shared
with the other runs training now."""
from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

MAX_TICK_SECONDS = 3.0   # on a server too busy for a page's own pace, frames come less often, up to this
WARMUP_FRAMES = 3        # frames after Play whose gaps do not count as the browser's pace (frame_started)
MIN_TRAIN_SECONDS = 0.02  # training gets what drawing leaves of a frame, but never less than this


def rounded_interval(wanted: float, tick: float, most: float) -> float:
    """`wanted` seconds kept within [tick, most], rounded up to steps of 0.05 s."""
    return math.ceil(min(most, max(tick, wanted)) * 20 - 1e-9) / 20


def interval_is_stale(wanted: float, interval: float, tick: float) -> bool:
    """The frames now want so much more (or less) time than `interval` that the live view
    should be drawn again with `wanted`."""
    return wanted > 1.25 * interval or (interval > tick and wanted < 0.75 * interval)


class LiveRuns:
    """Which live views of this server are training now (every session's, on every page), so
    that each frame's training share can shrink when many people press Play at once: a class of
    twenty then shares the server's CPU evenly, and each one's Pause is still answered within a frame."""

    STALE_SECONDS = 1.0  # a run that has not ticked for this long (or two of its frame intervals) no longer counts

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, float]] = {}  # run -> (last tick, its frame interval)
        self._lock = threading.Lock()

    def ticked(self, run_id: int, now: float | None = None, interval: float = 0.2) -> int:
        """Note that `run_id` trains now, a frame every `interval` seconds; returns how many
        runs are training (itself included)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._last[run_id] = (now, interval)
            for key in [k for k, (t, every) in self._last.items() if now - t > max(self.STALE_SECONDS, 2 * every)]:
                del self._last[key]
            return len(self._last)

    def stopped(self, run_id: int) -> None:
        with self._lock:
            self._last.pop(run_id, None)


LIVE_RUNS = LiveRuns()


@dataclass
class Frame:
    """One frame being drawn: when it started, and when its training ended (trained())."""
    start: float
    cpu_start: float
    train_seconds: float = 0.0
    train_cpu: float = 0.0

    def trained(self) -> None:
        """The frame's training is done; what follows is drawing."""
        self.train_seconds = time.perf_counter() - self.start
        self.train_cpu = time.thread_time() - self.cpu_start


@dataclass
class FramePacer:
    """The frame interval and training budget of one live view.

    A page keeps one per run and draws its live view as

        @st.fragment(run_every=pace.run_every(run.playing))
        def live_view():
            with pace.frame(run.playing) as frame:
                if pace.cut_short():
                    st.rerun()               # frames were interrupted: the view anew, with a longer interval
                run.tick(pace.training_budget())
                frame.trained()
                ... draw ...
            if run.playing and pace.interval_is_stale():
                st.rerun()                   # the view anew with an interval that fits its frames
    """
    tick: float = 0.2             # the page's own interval, asked for whenever frames fit in it
    share: float = 0.8            # of an interval, what one frame's training and drawing take together
    max_train: float = math.inf   # a page whose steps are long caps a frame's training
    most: float = MAX_TICK_SECONDS
    at_least: float = 0.0         # an interval the page knows its frames need (a frame that also evaluates)
    draw_seconds: float = 0.1     # how long drawing a frame took, training excluded (running mean)
    draw_cpu: float = 0.05        # the CPU time of that drawing (without the time spent waiting for other sessions)
    train_cpu_share: float = 1.0  # of a frame's training time, the share this run had the CPU (the rest: other runs)
    interval: float = 0.0         # the interval the live view was drawn with (tick until then)
    frame_gap: float = 0.0        # seconds from one frame's start to the next (smoothed), while playing
    browser_floor: float = 0.0    # an interval the frames showed they need: they came far later than asked
    interrupted: int = 0          # frames in a row cut short by the next frame's request before they were drawn
    live_runs: int = 1            # runs of this server training at the last frame, this one included
    runs: LiveRuns = field(default=LIVE_RUNS, repr=False, compare=False)
    _drawn: bool = field(default=True, repr=False)  # the frame started last reached frame_drawn
    _frame_start: float | None = field(default=None, repr=False)
    _frames_since_play: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.interval = self.interval or self.tick
        self.frame_gap = self.frame_gap or self.tick

    def __getstate__(self) -> dict:
        # Saved with a run (copy.deepcopy, pickling): the server-wide registry stays shared, never copied.
        return {k: v for k, v in self.__dict__.items() if k != "runs"}

    def __setstate__(self, values: dict) -> None:
        self.__dict__.update(values)
        self.runs = LIVE_RUNS

    def run_every(self, playing: bool) -> float | None:
        """The live view's `run_every`: None while paused, else the interval its frames need now."""
        if not playing:
            return None
        self.interval = self.frame_interval()
        return self.interval

    def restart(self) -> None:
        """Play was pressed: the browser's pace is measured afresh."""
        self.frame_gap, self.browser_floor, self._frame_start = self.tick, 0.0, None
        self._frames_since_play, self.interrupted, self._drawn = 0, 0, True

    def stop(self) -> None:
        """Paused: this view no longer takes a share of the server."""
        self.runs.stopped(id(self))
        self._frame_start = None

    @contextmanager
    def frame(self, playing: bool):
        """Measure one frame of the live view (see the class). A frame cut short (an exception,
        st.rerun) is not measured: the next frame_started notices it."""
        now = time.perf_counter()
        current = Frame(now, time.thread_time())
        if playing:
            self.frame_started(now)
        yield current
        end, cpu = time.perf_counter(), time.thread_time()
        self.frame_drawn(end - current.start, current.train_seconds or 0.0,
                         draw_cpu=cpu - current.cpu_start - current.train_cpu, train_cpu=current.train_cpu)

    def frame_started(self, now: float | None = None) -> None:
        """Note when a frame of a playing view starts. Frames that come far later than the
        interval asked for mean that the browser (or the server) cannot keep up: a weak
        laptop, or many sessions on one machine. The interval then rises to what the frames
        showed they need, and eases back while they keep time."""
        now = time.perf_counter() if now is None else now
        self.live_runs = self.runs.ticked(id(self), interval=self.interval)
        self._frames_since_play += 1
        # The first gaps after Play are not the browser's pace: they include the rerun that
        # turned Play into Pause and, on a page just opened, the browser still loading (plotly.js
        # takes about a second to start on a slow machine).
        if self._frame_start is not None and self._frames_since_play > WARMUP_FRAMES:
            self.frame_gap = 0.8 * self.frame_gap + 0.2 * (now - self._frame_start)
            if self.frame_gap > 2 * self.interval:
                self.browser_floor = max(self.browser_floor, self.frame_gap)
            else:
                self.browser_floor *= 0.95
            if not self._drawn:
                # The last frame never reached its end: the browser's timer asked for this one first,
                # and Streamlit interrupts a running frame for the next. Its length is unknown, only
                # that it exceeded the interval, and frame_drawn never measured it: without backing off
                # here, every frame would be cut short and the view would freeze (many sessions on a core).
                self.interrupted += 1
                self.browser_floor = max(self.browser_floor, min(self.most, 1.5 * self.interval))
        self._frame_start, self._drawn = now, False

    def frame_drawn(self, frame_seconds: float, train_seconds: float, draw_cpu: float | None = None,
                    train_cpu: float | None = None) -> None:
        """Tell the pacer how long the last frame took in all, how much of it was training, and the
        CPU time its drawing and its training took (wall time counts the waits for other sessions'
        threads too)."""
        self.draw_seconds = 0.5 * self.draw_seconds + 0.5 * max(0.0, frame_seconds - train_seconds)
        if draw_cpu is not None:
            self.draw_cpu = 0.5 * self.draw_cpu + 0.5 * max(0.0, draw_cpu)
        if train_cpu is not None and train_seconds >= MIN_TRAIN_SECONDS / 4:
            measured = min(1.0, max(0.5, train_cpu / train_seconds))  # at most twice the CPU share: room for clicks
            self.train_cpu_share = 0.7 * self.train_cpu_share + 0.3 * measured
        self._drawn, self.interrupted = True, 0

    def training_budget(self) -> float:
        """Seconds of training that fit in one frame next to the drawing. A frame must end
        well inside its interval: the browser asks for the next one on a fixed timer. With
        several runs training on this server at once, they share one core (a server process
        draws under one interpreter lock): each gets its share of the interval, less its own
        drawing (frame_interval makes the share big enough)."""
        own_room = self.share * self.interval - self.draw_seconds
        if self.live_runs <= 1:
            budget = max(MIN_TRAIN_SECONDS, own_room)
        else:
            # The share is CPU time, the budget wall time: while this run trains, the others' threads
            # run too (the interpreter lock is let go inside PyTorch), and it has the CPU only part of
            # that time. Without this the core stood partly idle. Never past the frame's own room.
            cpu_share = self.share * self.interval / self.live_runs - self.draw_cpu
            budget = max(MIN_TRAIN_SECONDS / self.live_runs,
                         min(cpu_share / self.train_cpu_share, max(cpu_share, own_room)))
        return min(self.max_train, budget)

    def frame_interval(self) -> float:
        """Seconds between frames: the page's tick, or more when drawing a frame takes longer
        (a heavy view, or twenty sessions drawing on two cores), frames arrive late or are cut
        short (frame_started), or many runs share the server: frames then come less often instead
        of interrupting each other, which would freeze every view while training went on. A
        longer frame keeps room to train as long as it draws (by the drawing's CPU time, up to
        max_train): a heavy view trains at half speed rather than crawl at the least training."""
        train = min(self.max_train, max(MIN_TRAIN_SECONDS, self.draw_cpu))
        if self.live_runs <= 1:
            wanted = (self.draw_seconds + train) / self.share
        else:
            # Every run of the server draws on the same core: each frame needs its drawing and its
            # training, and all of them must fit in the share of the interval. A faster timer would
            # leave no time to train, and frames would interrupt each other. (The frame's wall time
            # counts the waits for the other runs: it only has to hold the least training.)
            wanted = max((self.draw_seconds + MIN_TRAIN_SECONDS) / self.share,
                         self.live_runs * (self.draw_cpu + train) / self.share)
        wanted = max(wanted, self.browser_floor, self.at_least)
        return rounded_interval(wanted, self.tick, self.most)

    def interval_is_stale(self) -> bool:
        """The live view should be drawn again with frame_interval()."""
        return interval_is_stale(self.frame_interval(), self.interval, self.tick)

    def cut_short(self) -> bool:
        """Frames are being interrupted before they are drawn, and a longer interval is due: draw
        the live view anew now rather than start another frame that would be cut short too. When
        True, this frame is given up on purpose: it does not count as interrupted (else every
        rerun would back off again, up to the slowest interval)."""
        if self.interrupted > 0 and self.interval_is_stale():
            self._drawn, self._frame_start = True, None
            return True
        return False
