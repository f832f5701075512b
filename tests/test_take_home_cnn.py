"""Take it home, Convolutions ("Train a CNN"): the exported notebook runs on its own (engine not
importable) and prints the curve CNNTrainer computes for the same config and seed, the moved-digit
accuracy included; the script does the same; the page offers the four controls, and Load puts a
saved run on screen or says in one line why not.

The oracle is the engine's trainer; the export shares no code with it at run time.
"""
from __future__ import annotations

import sys

import nbformat
import pytest

from engine.autoencoders.config import AutoencoderConfig
from engine.cnn.config import CNNConfig
from engine.cnn.take_home import pieces
from engine.cnn.trainer import CNNTrainer
from engine.export import export
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html)

STEPS = 100  # reports every step
KEYS = {"train_loss", "test_loss", "train_accuracy", "test_accuracy", "shifted_test_accuracy", "epoch"}


def trainer_snapshots(config: CNNConfig, steps: int) -> dict[int, dict]:
    trainer = CNNTrainer(config, "cpu")
    snapshots = {}
    while trainer.step_count < steps:
        snap = trainer.step(1).to_json_dict()
        snapshots[snap["step"]] = snap
    return snapshots


def test_notebook_runs_alone_and_reproduces_the_trainer(kernel_root, tmp_path, one_thread):
    # The default network's plan (batch norm, a global max head), narrower; pooling, a dense head and
    # dropout (masks from the run's own generator) on top, so every part of ConvNet trains.
    config = CNNConfig.build(channels=[4, 8], padding=1, pool="max", dense=16, dropout=0.2, batch_size=32,
                             test_fraction=0.05, seed=4)  # a small test set: 100 reports stay cheap
    nb = run_notebook(export(config, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    assert KEYS <= set(lines[0])
    assert_curve_matches(lines, trainer_snapshots(config, STEPS))

    html = shown_html(nb)
    assert "Plotly.newPlot" in html and "moved 1 pixel" in html
    assert "conv1's filters" in html and "test confusion matrix" in html
    assert "<script src=" not in html.replace(" ", "")
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_script_of_the_dense_network_prints_the_trainer_numbers(tmp_path, one_thread):
    """The MLP the page compares with: batch norm and dropout in its hidden layers, weight decay,
    and batches that cross an epoch's end (filled from the next shuffle)."""
    config = CNNConfig.build(kind="mlp", mlp_hidden=[24, 12], batch_norm=True, dropout=0.1, weight_decay=0.01,
                             optimizer="nesterov", lr=0.05, batch_size=500, seed=2)
    lines = run_script(export(config, "py", 12), tmp_path)
    assert {line["epoch"] for line in lines} == {0, 1, 2, 3, 4}
    assert_curve_matches(lines, trainer_snapshots(config, 12), min_reports=12)
    assert all((tmp_path / f"cnn_{name}.html").exists() for name in ("curves", "filters", "confusion"))


def test_export_is_a_valid_notebook_that_explains_each_step_and_is_the_same_every_time():
    config = CNNConfig()
    text = export(config, "ipynb", 1000)
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert headings[0] == "# A CNN on 8×8 digits"
    assert [h for h in headings if h.startswith("## ")] == [
        "## 1. The data: 8×8 digits", "## 2. The network", "## 3. The loss and the optimiser",
        "## 4. The training loop", "## 5. Train", "## 6. What the plots show"]
    assert '"channels": [8, 16, 32]' in nb.cells[0].source  # the config, for the command line
    # The default config stops at step 300, so the export does too; the stages carry their map sizes.
    assert "STEPS = 300  # optimisation steps  # the config stops at step 300" in text
    assert "Stage(name='global_max', kind='global_pool', channels=32, size=1" in text
    assert "8×8 → 10×10 → 12×12 → 14×14 → 1×1" in text
    assert "engine" not in imported_modules(nb)
    assert export(config, "ipynb", 1000) == text


@pytest.mark.parametrize("steps", [0, -1, 1.5, False, None])
def test_bad_steps_are_refused_by_name(steps):
    with pytest.raises(ValueError, match="steps"):
        pieces(CNNConfig(), steps)


def test_another_labs_config_is_refused_by_name():
    with pytest.raises(ValueError, match="CNNConfig.*AutoencoderConfig"):
        pieces(AutoencoderConfig(), 10)


# ---------- the page: the four controls, and Load ----------
def _upload(at, name: str, data: bytes):
    at.file_uploader(key="cnn_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_train_tab_offers_the_row_and_load_brings_a_saved_run_back(one_thread):
    from app_pages.cnn.state import KIND_LABELS
    from engine.autoencoders.trainer import AutoencoderTrainer
    from engine.cnn.config import preset
    from tests.test_cnn_page import metrics, open_page

    key = "c" * 32
    at = open_page(key, tab="train", preset="all_conv")  # a light network to start from
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"⬇ Download as notebook", "⬇ Download as script", "⬇ Save"} <= set(buttons)
    assert buttons["⬇ Save"].proto.disabled  # nothing trained yet

    config = preset("lenet", seed=5)
    saved = CNNTrainer(config, "cpu")
    saved.step(12)
    _upload(at, "lenet.pt", saved.checkpoint_bytes())
    loaded = at.session_state.cv_run.trainer
    assert loaded.step_count == 12 and loaded.config == config and at.session_state.global_seed == 5
    assert metrics(at)["Step"] == "12" and at.session_state.cv_kind == "cnn" in KIND_LABELS
    assert any("the CNN at step 12, seed 5" in s.value for s in at.success)
    assert at.query_params.get("train.seed") in ("5", ["5"])  # the address now describes the loaded run
    assert open_page(key).session_state.cv_run.trainer.step_count == 12  # a reload of this browser keeps it

    autoencoder = AutoencoderTrainer(AutoencoderConfig.build(hidden=8), "cpu")
    autoencoder.step(1)
    for name, data, says in (("broken.pt", b"\x00" * 64, "not a cnn checkpoint"),
                             ("ae.pt", autoencoder.checkpoint_bytes(),
                              "another lab's checkpoint (task 'autoencoder'), not a CNN's")):
        _upload(at, name, data)
        shown = at.error[0].value.replace("\\", "") if len(at.error) == 1 else ""  # one line, Markdown-escaped
        assert says in shown and "Your current run is unchanged" in shown, shown
        assert at.session_state.cv_run.trainer is loaded and metrics(at)["Step"] == "12"


def test_cli_writes_the_script(tmp_path):
    from engine.__main__ import main
    config = CNNConfig.build(kind="mlp", mlp_hidden=[16])
    (tmp_path / "config.json").write_text(config.to_json())
    out = tmp_path / "cnn.py"
    assert main(["export", str(tmp_path / "config.json"), "--format", "py", "--steps", "20", "--out", str(out)]) == 0
    assert out.read_text() == export(config, "py", 20)
