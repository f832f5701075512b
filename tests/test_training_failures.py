"""Training never takes a page down: on every live page a step that raises (out of memory on a
large config, an error deep in a library) pauses the run with one line, keeps the state of the
last finished step, and the next frame still draws. Plain Python, no Streamlit."""
from __future__ import annotations

import pytest
import torch

from app_pages.autoencoders.state import AutoencoderRun
from app_pages.bridges.state import SOMRun, default_widgets, som_config_from_widgets
from app_pages.common.failures import training_failure
from app_pages.gan.state import LiveRun
from app_pages.playground.state import PlaygroundRun
from app_pages.sentiment.state import SentimentLab
from app_pages.sequence.state import SequenceLab
from app_pages.vanishing.state import VanishingLab, preset_config
from engine import ExperimentConfig, Trainer
from engine.autoencoders.config import AutoencoderConfig
from engine.gan.config import GANConfig
from engine.gan.trainer import GANTrainer
from engine.sentiment.config import SentimentConfig
from engine.sequence.config import CharLMConfig, CharModelConfig


def _fail(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def _trainers(lab):
    if isinstance(lab, VanishingLab):
        return [r.trainer for r in lab.runs]
    return [lab.trainer]


def _labs():
    return {
        "playground": lambda: PlaygroundRun(Trainer(ExperimentConfig(), "cpu")),
        "vanishing": lambda: VanishingLab.build([("Your network", preset_config("ReLU + He ×20", "circle", 0))], "cpu"),
        "gan": lambda: LiveRun(GANTrainer(GANConfig(g_width=8, d_width=8, batch_size=16), "cpu")),
        "sequence": lambda: SequenceLab.build(CharLMConfig(corpus="text", text="abcabd " * 20, context=8, batch_size=8,
                                                           models=[CharModelConfig("gru", hidden=16, layers=1)]),
                                              "cpu"),
        "autoencoders": lambda: AutoencoderRun.build(AutoencoderConfig.build(hidden=16), "cpu"),
        "sentiment": lambda: SentimentLab.build(SentimentConfig.from_dict({"data": {"max_rows": 1000},
                                                                           "train": {"epochs": 50}})),
        "bridges": lambda: SOMRun.build(som_config_from_widgets(default_widgets(), 0), points_per_frame=0),
    }


@pytest.mark.parametrize("name", list(_labs()))
def test_a_step_that_raises_pauses_the_page_with_one_line(monkeypatch, name):
    lab = _labs()[name]()
    lab.play()
    lab.tick(budget_s=0.02)
    steps = [t.step_count for t in _trainers(lab)]
    for t in _trainers(lab):
        for method in ("train_for", "step", "run_epochs", "step_d_only", "step_g_only"):
            if hasattr(t, method):
                monkeypatch.setattr(t, method, _fail)
    lab.tick(budget_s=0.02)
    assert not lab.playing
    assert lab.message.startswith("Training stopped because a step failed: it ran out of memory")
    assert [t.step_count for t in _trainers(lab)] == steps  # the last finished step is kept
    lab.message = ""
    lab.step_epoch() if name == "playground" else lab.step(1) if name == "autoencoders" else lab.step()
    # the Step button says the same
    assert "ran out of memory" in lab.message and not lab.playing


def test_the_line_names_any_other_error_in_one_line():
    line = training_failure(ValueError("shapes (3,4) and (5,6) not aligned\nsecond line"))
    assert line.startswith("Training stopped because a step failed: ValueError: shapes (3,4) and (5,6) not aligned.")
    assert "\n" not in line and "second line" not in line
