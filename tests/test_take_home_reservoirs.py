"""Reservoirs page, take it home: each exported notebook (ELM, ESN, LSM) runs alone (engine not
importable) and prints, step by step, the numbers the page's trainer reports for the same config and
seed; the ESN's script on the digits does the same.

The oracle is the engine's own trainers; the exports share no code with them at run time.
"""
import re
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.reservoirs import state as rs
from engine.export import export
from engine.mlp.trainer import Trainer
from engine.reservoirs.config import ELMConfig, ESNConfig, LSMConfig
from engine.reservoirs.elm import ELMTrainer, twin_config
from engine.reservoirs.esn import ESNTrainer
from engine.reservoirs.lsm import LSMTrainer
from engine.reservoirs.take_home import elm_pieces, esn_pieces, lsm_pieces
from engine.sentiment.config import SentimentConfig
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html, trainer_snapshots)

STEPS = 100  # at most: each run below ends sooner (its sweep or its training data runs out)
CASES = {
    # Three classes, a sweep of 13 widths past the 100 training points: the read-out interpolates.
    "elm": (ELMTrainer, ELMConfig().replace(data={"name": "blobs", "n_samples": 200}, model={"hidden": 30},
                                            train={"seed": 4, "sweep": [1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 80, 100,
                                                                        150]}),
            {"sweep_widths", "sweep_train_accuracy", "sweep_test_accuracy"}, "elm_sweep"),
    # Mackey-Glass: 21 chunks of 50 steps, the first one partly washout.
    "esn": (ESNTrainer, ESNConfig().replace(data={"train_length": 1000, "washout": 70, "test_length": 200,
                                                  "free_run": 100},
                                            model={"size": 50}, train={"samples_per_step": 50, "seed": 2}),
            {"samples_seen", "train_nrmse", "test_nrmse", "free_run_nrmse"}, "esn_prediction"),
    # Poisson spikes: the test digits' draws first, then each chunk's, from one generator.
    "lsm": (LSMTrainer, LSMConfig().replace(data={"steps_per_row": 3}, model={"size": 60},
                                            train={"samples_per_step": 60, "seed": 1}),
            {"samples_seen", "train_accuracy", "test_accuracy", "rate_hz"}, "lsm_raster"),
}
NOTEBOOK_STEPS = {"elm": STEPS, "esn": STEPS, "lsm": 12}  # the liquid is the slow one: 720 of its digits


@pytest.mark.parametrize("task", list(CASES))
def test_notebook_reproduces_the_trainers_steps(task, kernel_root, tmp_path):
    trainer_cls, config, keys, plot = CASES[task]
    steps = NOTEBOOK_STEPS[task]
    nb = run_notebook(export(config, "ipynb", steps), tmp_path, kernel_root)
    lines = printed_lines(nb)
    snaps = trainer_snapshots(trainer_cls, config, steps)
    assert_curve_matches(lines, snaps, min_reports=10)
    last = max(snaps)
    assert lines[-1]["step"] == last and keys <= set(lines[-1])  # every step reported, the main numbers in it
    html = shown_html(nb)
    assert "Plotly.newPlot" in html and re.findall(r'<script[^>]*src="([^"]+)"', html) == []
    assert f"{plot}" in "".join(c.source for c in nb.cells if c.cell_type == "code")
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_script_of_the_esn_on_digits_matches_the_trainer(tmp_path):
    config = ESNConfig().replace(data={"signal": "digits", "test_fraction": 0.3}, model={"size": 40},
                                 train={"samples_per_step": 100, "seed": 3})
    lines = run_script(export(config, "py", 13), tmp_path)
    assert_curve_matches(lines, trainer_snapshots(ESNTrainer, config, 13), min_reports=13)
    assert {"train_accuracy", "test_accuracy", "test_nrmse"} <= set(lines[-1]) and lines[-1]["test_accuracy"] > 0.5


@pytest.mark.parametrize("pieces, config", [(elm_pieces, ELMConfig()), (esn_pieces, ESNConfig()),
                                            (lsm_pieces, LSMConfig())])
def test_exporters_refuse_bad_steps_and_other_configs(pieces, config):
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            pieces(config, steps)
    with pytest.raises(ValueError, match="Config, got SentimentConfig"):
        pieces(SentimentConfig(), 10)


# ---------- the page: the row, Save, Load ----------
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "reservoirs" / "page.py")


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="esn_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_esn_tab_offers_the_row_and_loads_a_saved_run_but_not_a_damaged_or_foreign_file():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tab"] = "esn"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"⬇ Download as notebook", "⬇ Download as script", "⬇ Save"} <= set(buttons)
    assert buttons["⬇ Save"].proto.disabled  # nothing trained to save yet

    # A run saved in another session: spectral radius 1.1, seed 4, three chunks of 100 steps.
    widgets = {**rs.default_widgets(), "rs_esn_radius": 1.1, "rs_esn_size": 50}
    trainer = ESNTrainer(rs.esn_config(widgets, 4), "cpu")
    trainer.step(3)
    _upload(at, "saved.pt", trainer.checkpoint_bytes())
    assert any("echo state network after 200 training steps, seed 4" in s.value for s in at.success), \
        [s.value for s in at.success] + [e.value for e in at.error]
    run = at.session_state.rs_esn_run
    assert run.esn.step_count == 3 and run.config == trainer.config and at.session_state.global_seed == 4
    assert at.select_slider(key="rs_esn_radius").value == 1.1 and at.select_slider(key="rs_esn_size").value == 50
    assert not {b.proto.label: b for b in at.get("download_button")}["⬇ Save"].proto.disabled

    # A damaged file, another tab's run, another lab's: one line each, the loaded run stays on screen.
    twin = Trainer(twin_config(ELMConfig()), "cpu")
    for name, data, says in [("broken.pt", b"\x00" * 64, "not an esn checkpoint"),
                             ("lsm.pt", LSMTrainer(LSMConfig().replace(model={"size": 10}), "cpu").checkpoint_bytes(),
                              "of the liquid state machine tab"),
                             ("mlp.pt", twin.checkpoint_bytes(), "another lab (the 'classify2d' task)")]:
        _upload(at, name, data)
        errors = [e.value.replace("\\", "") for e in at.error]  # Markdown-escaped on the page
        assert [e for e in errors if "Could not load" in e and says in e and "unchanged" in e], errors
        assert at.session_state.rs_esn_run is run and run.esn.step_count == 3


@pytest.mark.parametrize("tab", ["elm", "lsm"])
def test_the_other_tabs_offer_the_row_too(tab):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {b.key for b in at.get("download_button")}
    assert {f"{tab}_dl_notebook", f"{tab}_dl_script", f"{tab}_dl_checkpoint"} <= keys
    assert at.file_uploader(key=f"{tab}_upload") is not None
