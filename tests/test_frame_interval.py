"""The pace of a live view (app_pages/common/frame_interval.py), shared by every page that trains
live: the frame interval grows when frames take longer, arrive late, are cut short or share the
server with other runs, and each frame's training gets what the interval leaves."""
import copy
import math
import pickle
import time

import pytest

from app_pages.common.frame_interval import (MAX_TICK_SECONDS, MIN_TRAIN_SECONDS, WARMUP_FRAMES, FramePacer, LiveRuns,
                                             rounded_interval)

TICK = 0.2


def pacer(**fields) -> FramePacer:
    """A pacer with its own server (LiveRuns), so that other tests' runs do not count."""
    return FramePacer(tick=TICK, runs=LiveRuns(), **fields)


def frame(pace: FramePacer, t: float) -> None:
    """A frame that starts at t and is drawn to its end, as a page's live view does."""
    pace.frame_started(t)
    pace.frame_drawn(frame_seconds=0.08, train_seconds=0.02)


def test_rounded_interval_stays_in_range_in_steps_of_a_twentieth():
    assert rounded_interval(0.01, 0.2, 3.0) == 0.2
    assert rounded_interval(0.61, 0.2, 3.0) == 0.65
    assert rounded_interval(99, 0.2, 3.0) == 3.0


def test_training_budget_shrinks_when_drawing_is_slow():
    pace = pacer()
    fast = pace.training_budget()
    for _ in range(10):
        pace.frame_drawn(frame_seconds=0.3, train_seconds=0.05)
    assert 0 < pace.training_budget() < fast
    assert pace.training_budget() == MIN_TRAIN_SECONDS


def test_a_page_caps_its_frames_training_and_sets_its_share():
    pace = FramePacer(tick=1.5, share=0.75, max_train=0.5, draw_seconds=0.3)
    assert pace.training_budget() == 0.5          # 0.75 * 1.5 - 0.3 would be 0.825
    pace.max_train = math.inf
    assert pace.training_budget() == pytest.approx(0.75 * 1.5 - 0.3)


def test_live_runs_counts_the_runs_training_now_and_forgets_stale_ones():
    live = LiveRuns()
    assert live.ticked(1, now=100.0) == 1
    assert live.ticked(2, now=100.2) == 2
    assert live.ticked(1, now=100.5) == 2          # the same run again is not counted twice
    assert live.ticked(3, now=101.4) == 2          # run 2 last ticked 1.2 s ago: no longer training
    live.stopped(3)
    assert live.ticked(1, now=101.5) == 1


def test_a_run_with_slow_frames_still_counts_as_training():
    live = LiveRuns()
    live.ticked(1, now=100.0, interval=2.0)          # a frame every 2 s
    assert live.ticked(2, now=103.0) == 2            # 3 s later: within two of its intervals
    assert live.ticked(2, now=104.5) == 1            # 4.5 s: gone


def test_every_live_view_of_the_server_counts_and_a_paused_one_leaves():
    live = LiveRuns()
    views = [FramePacer(tick=TICK, runs=live) for _ in range(3)]   # e.g. a Playground, a GAN, a Sequence lab
    for view in views:
        view.frame_started()
    views[0].frame_started()
    assert views[0].live_runs == 3
    views[2].stop()
    views[0].frame_started()
    assert views[0].live_runs == 2


def test_many_sessions_playing_share_the_training_time_of_a_frame():
    pace = pacer(draw_seconds=0.05)
    assert pace.training_budget() == pytest.approx(0.8 * TICK - 0.05)
    # Twenty runs on one core: the interval grows until each has its drawing's CPU time and as long again
    # of training.
    pace.draw_cpu, pace.live_runs = 0.05, 20
    pace.interval = pace.frame_interval()
    assert pace.interval == pytest.approx(20 * (0.05 + 0.05) / 0.8)
    assert pace.training_budget() == pytest.approx(0.05)
    assert 20 * (pace.draw_seconds + pace.training_budget()) == pytest.approx(0.8 * pace.interval)  # the core, shared
    pace.live_runs = 1
    assert pace.frame_interval() == TICK             # alone again: the page's own pace
    pace.interval, pace.draw_seconds = TICK, 10.0    # drawing slower than a frame: the floor, shared too
    assert pace.training_budget() == MIN_TRAIN_SECONDS
    pace.live_runs = 4
    assert pace.training_budget() == pytest.approx(MIN_TRAIN_SECONDS / 4)


def test_frames_come_less_often_when_drawing_them_takes_longer():
    """Twenty sessions drawing on two cores: each frame takes seconds of wall time. The live
    view then asks for frames less often (up to MAX_TICK_SECONDS) rather than having each
    one interrupted by the next request, and goes back to its tick when drawing is quick."""
    pace = pacer(draw_seconds=0.06)                  # one session on an idle machine
    assert pace.run_every(True) == TICK and not pace.interval_is_stale()
    assert pace.run_every(False) is None
    pace.draw_seconds = 1.0                          # a crowded server: a second of wall time, 0.05 s of it drawing
    wanted = pace.frame_interval()
    assert wanted == pytest.approx(math.ceil((1.0 + 0.05) / 0.8 * 20) / 20)
    assert pace.interval_is_stale()
    assert pace.run_every(True) == wanted and pace.interval == wanted  # the page drew the live view again with it
    assert not pace.interval_is_stale()
    assert pace.training_budget() == pytest.approx(0.8 * wanted - 1.0)  # the longer frame trains longer
    pace.draw_seconds = 30.0
    assert pace.frame_interval() == MAX_TICK_SECONDS
    pace.draw_seconds = 0.06                         # the class paused: back to the page's pace
    assert pace.interval_is_stale() and pace.frame_interval() == TICK


def test_a_heavy_view_keeps_room_to_train_as_long_as_it_draws():
    """A view that takes half a second of CPU to draw (an idle server, a big figure) gets frames long
    enough to train as long again, rather than the least training after each long drawing."""
    pace = pacer(draw_seconds=0.5, draw_cpu=0.5)
    pace.run_every(True)
    assert pace.interval == pytest.approx((0.5 + 0.5) / 0.8)
    assert pace.training_budget() == pytest.approx(0.5)
    capped = pacer(draw_seconds=0.5, draw_cpu=0.5, max_train=0.15)   # a page that trains at most 0.15 s a frame
    capped.run_every(True)
    assert capped.interval == pytest.approx(math.ceil((0.5 + 0.15) / 0.8 * 20) / 20)
    assert capped.training_budget() == 0.15


def test_a_page_that_knows_its_frames_need_longer_asks_for_that():
    pace = pacer(draw_seconds=0.06, at_least=0.9)    # e.g. a frame that also evaluates the test set
    assert pace.frame_interval() == 0.9


def test_frames_that_arrive_late_slow_the_live_view_down_and_it_recovers():
    """A browser that cannot keep up (a weak laptop, or twenty sessions on two cores) asks for
    its frames late: the interval rises to what the frames need, eases back once they keep
    time, and a new Play starts at the page's pace again."""
    pace = pacer(draw_seconds=0.06)
    pace.restart()
    t = 100.0
    for gap in (1.4, 1.2, 0.2):              # the first frames after Play are late (the page is still loading):
        t += gap                             # not counted
        frame(pace, t)
    assert pace.frame_interval() == TICK and pace.browser_floor == 0
    for _ in range(20):                      # on time, with a little jitter: nothing changes
        frame(pace, t)
        t += 0.23
    assert pace.frame_interval() == TICK and pace.browser_floor == 0
    frame(pace, t + 0.6)                     # one hiccup is not a trend
    t += 0.6
    assert pace.frame_interval() == TICK
    for _ in range(10):                      # frames every 2 s although 0.2 s was asked
        t += 2.0
        frame(pace, t)
    slow = pace.frame_interval()
    assert 1.0 < slow <= 2.0 and pace.interval_is_stale()
    pace.interval = slow                     # the page draws the live view again with it
    for _ in range(40):                      # now the frames keep time: it eases back
        t += slow
        frame(pace, t)
    assert pace.frame_interval() < 0.6 * slow
    pace.stop()
    pace.restart()
    assert pace.frame_interval() == TICK


def test_frames_cut_short_by_the_next_request_back_off_until_they_are_drawn():
    """Many sessions on one core: each frame takes longer than the interval, the browser's timer asks
    for the next one first, and Streamlit interrupts the running frame, so frame_drawn never runs and
    the frame gaps look on time. Frames that start without the last one drawn raise the interval
    (x1.5 each, up to MAX_TICK_SECONDS), and the page draws the live view again with it."""
    pace = pacer(draw_seconds=0.06)
    pace.restart()
    t = 100.0
    for _ in range(WARMUP_FRAMES + 1):
        t += TICK
        frame(pace, t)
    assert pace.interrupted == 0 and not pace.interval_is_stale()
    t += TICK
    pace.frame_started(t)                    # this frame is interrupted: the next starts before it is drawn
    t += TICK
    pace.frame_started(t)
    assert pace.interrupted == 1 and pace.interval_is_stale()
    intervals = [pace.interval]
    for _ in range(12):                      # every frame cut short: the page redraws with each new interval
        intervals.append(pace.run_every(True))
        t += pace.interval
        pace.frame_started(t)
    assert intervals == sorted(intervals) and intervals[-1] == MAX_TICK_SECONDS
    assert all(b >= 1.4 * a for a, b in zip(intervals, intervals[1:]) if b < MAX_TICK_SECONDS)
    pace.frame_drawn(frame_seconds=0.5, train_seconds=0.1)  # a frame reaches its end again
    assert pace.interrupted == 0
    for _ in range(60):                      # and frames keep time: it eases back
        t += pace.interval
        frame(pace, t)
        if pace.interval_is_stale():
            pace.run_every(True)
    assert pace.interval < 1.0


def test_a_frame_given_up_for_a_longer_interval_is_not_counted_as_cut_short():
    """cut_short() tells the page to draw the live view anew (a rerun ends the frame): that frame
    must not count as interrupted, or every rerun would back off again, up to the slowest interval."""
    pace = pacer(draw_seconds=0.06)
    pace.restart()
    t = 100.0
    for _ in range(WARMUP_FRAMES + 1):
        t += TICK
        frame(pace, t)
    pace.frame_started(t + TICK)             # cut short by the next request
    pace.frame_started(t + 2 * TICK)
    assert pace.cut_short()                  # the page reruns ...
    backed_off = pace.run_every(True)        # ... and draws the view with a longer interval
    assert backed_off == pytest.approx(rounded_interval(1.5 * TICK, TICK, MAX_TICK_SECONDS))
    pace.frame_started(t + 2 * TICK + 0.5)   # the first frame after the rerun
    assert not pace.cut_short() and pace.run_every(True) == backed_off


def test_the_frame_context_measures_drawing_apart_from_training():
    pace = pacer(draw_seconds=1.0, draw_cpu=1.0)
    with pace.frame(playing=True) as current:
        time.sleep(0.05)                     # training (waiting here)
        current.trained()
        sum(range(200_000))                  # drawing, on the CPU
    assert pace.live_runs == 1 and pace.interrupted == 0
    assert pace.draw_seconds < 0.6 and pace.draw_cpu < 0.6   # halfway from 1.0 to what was measured
    assert pace.draw_seconds >= 0.5 and pace.draw_cpu > 0.5


def test_a_frame_that_raises_is_not_measured_and_the_next_one_counts_it():
    pace = pacer(draw_seconds=0.06)
    pace.restart()
    pace._frames_since_play = WARMUP_FRAMES + 1        # past the frames after Play
    with pytest.raises(RuntimeError):
        with pace.frame(playing=True):
            raise RuntimeError("the next frame's request")   # as Streamlit stops a running frame
    assert pace.draw_seconds == 0.06
    with pace.frame(playing=True):
        assert pace.interrupted == 1 and pace.browser_floor >= 1.5 * TICK
    assert pace.interrupted == 0                        # this one was drawn to its end


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda p: pickle.loads(pickle.dumps(p))])
def test_a_copied_pacer_keeps_the_servers_count(duplicate):
    pace = FramePacer(tick=TICK, draw_seconds=0.3)
    twin = duplicate(pace)
    assert twin.draw_seconds == 0.3 and twin.runs is pace.runs


def test_runs_that_train_side_by_side_get_their_cpu_share_in_wall_time():
    """While one run trains, the others' threads run too (PyTorch lets go of the interpreter lock): a
    run that had the CPU half of its training time gets twice the wall time for its share, so the core
    does not stand idle; never more than twice (room for clicks), and never past its own frame."""
    pace = pacer(draw_seconds=0.05, draw_cpu=0.05)
    pace.live_runs, pace.interval = 4, 1.0
    alone_in_cpu = 0.8 * 1.0 / 4 - 0.05
    assert pace.training_budget() == pytest.approx(alone_in_cpu)
    for _ in range(30):                                  # frames that trained 0.1 s with 0.05 s of CPU
        pace.frame_drawn(frame_seconds=0.2, train_seconds=0.1, draw_cpu=0.05, train_cpu=0.05)
    assert pace.train_cpu_share == pytest.approx(0.5, abs=1e-3)
    assert pace.training_budget() == pytest.approx(2 * alone_in_cpu, rel=1e-3)
    for _ in range(30):                                  # a tenth of the CPU: still at most twice
        pace.frame_drawn(frame_seconds=0.2, train_seconds=0.1, draw_cpu=0.05, train_cpu=0.01)
    assert pace.training_budget() == pytest.approx(2 * alone_in_cpu, rel=1e-3)
    pace.draw_seconds = 0.7                              # a frame with little room of its own left
    assert pace.training_budget() == pytest.approx(max(alone_in_cpu, 0.8 - 0.7))
    pace.live_runs = 1                                   # alone: the frame's own room, as before
    assert pace.training_budget() == pytest.approx(0.8 - 0.7)
