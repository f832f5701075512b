"""The Sentiment lab's live view on the shared pacer (app_pages/common/frame_interval.py): Play and
Pause start and stop it, and each tick trains what it leaves of the frame."""
import pytest

from app_pages.common.frame_interval import LiveRuns
from app_pages.sentiment.state import FRAME_TRAIN_SECONDS, SentimentLab
from engine.sentiment.trainer import SentimentConfig


def test_the_labs_pacer_starts_and_stops_with_play_and_sets_each_ticks_training():
    lab = SentimentLab.build(SentimentConfig.from_dict({"data": {"max_rows": 1000}, "train": {"epochs": 20}}))
    lab.pace.runs = runs = LiveRuns()  # its own registry: the server-wide one is shared with other tests
    assert lab.pace.run_every(False) is None  # paused: the live view asks for no frames
    budgets = []
    train_for = lab.trainer.train_for
    lab.trainer.train_for = lambda budget: budgets.append(budget) or train_for(0.01)
    lab.play()
    lab.pace.frame_started()
    assert runs.ticked(0) == 2  # the lab and the asking run
    lab.pace.draw_seconds = 0.05  # a quick drawing: the frame's training is capped
    assert lab.pace.run_every(True) == 0.5
    lab.tick()
    lab.pace.draw_seconds = 0.3  # a slow drawing leaves less of the frame to train
    lab.pace.run_every(True)
    lab.tick()
    assert budgets == pytest.approx([FRAME_TRAIN_SECONDS, 0.1])  # 80 % of 0.5 s, less the drawing
    lab.tick(budget_s=0.02)  # a budget given wins
    assert budgets[-1] == 0.02 and lab.trainer.step_count > 0 and lab.playing
    lab.pause()
    assert runs.ticked(0) == 1  # paused: no longer a share of the server
    lab.play()
    assert lab.pace._frames_since_play == 0  # Play measures the browser's pace afresh
    lab.pace.frame_started()
    lab.trainer.train_for = lambda budget: 1 / 0
    lab.tick()
    assert not lab.playing and "ZeroDivisionError" in lab.message
    assert runs.ticked(0) == 1  # stopped by itself: the pacer left the server's count too
