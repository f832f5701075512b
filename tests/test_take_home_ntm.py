"""Neural Turing machine page, take it home: the exported notebook runs alone (engine not importable) and
prints, report by report, both models' loss and bit error as the page's trainer reports them for the same
config and seed; the script does the same; the page offers the four controls and loads a saved run.

The oracle is the engine's NTMTrainer; the export shares no code with it at run time. The NTM steps in
Python, one memory operation at a time, so the configs are small and the reports every 5 steps.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.saved_runs import session_store
from app_pages.ntm.state import SAVE_NAME
from engine.energy import RBMConfig, RBMTrainer
from engine.export import export
from engine.ntm.config import NTMConfig
from engine.ntm.take_home import pieces
from engine.ntm.trainer import NTMTrainer
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html)

STEPS = 100
SMALL = NTMConfig.build(bits=3, min_length=1, max_length=3, controller=8, memory_slots=8, memory_width=4,
                        batch_size=4, seed=1)
KEYS = {"loss", "bit_error", "lstm_loss", "lstm_bit_error"}


def _snapshots(config, steps: int, every: int) -> dict[int, dict]:
    """step -> the trainer's snapshot every `every` steps, on one thread as the kernel runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = NTMTrainer(config, "cpu")
        snaps = {0: trainer.snapshot().to_json_dict()}
        while trainer.step_count < steps:
            s = trainer.step(min(every, steps - trainer.step_count))
            snaps[s.step] = s.to_json_dict()
        return snaps
    finally:
        torch.set_num_threads(before)


def test_notebook_reproduces_both_models_curves(kernel_root, tmp_path):
    nb = run_notebook(export(SMALL, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(0, STEPS + 1, 5))
    assert_curve_matches(lines, _snapshots(SMALL, STEPS, 5), min_reports=21)
    assert KEYS <= set(lines[-1])
    html = shown_html(nb)
    assert html.count("Plotly.newPlot") == 2 and re.findall(r'<script[^>]*src="([^"]+)"', html) == []
    sources = "".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'show(fig, "ntm_curves")' in sources and 'show(fig, "ntm_heads")' in sources
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS
    assert export(SMALL, "ipynb", STEPS) == export(SMALL, "ipynb", STEPS)  # the same config gives the same file


def test_script_with_sgd_and_no_clipping_matches_the_trainer(tmp_path):
    config = SMALL.replace(optimizer="momentum", lr=0.05, clip=0.0, min_length=2, max_length=2, seed=4)
    lines = run_script(export(config, "py", 20), tmp_path)
    assert [line["step"] for line in lines] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                                19, 20]
    assert_curve_matches(lines, _snapshots(config, 20, 1), min_reports=21)
    assert (tmp_path / "ntm_heads.html").exists()


def test_exporter_refuses_bad_steps_and_other_configs():
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            pieces(NTMConfig(), steps)
    with pytest.raises(ValueError, match="NTMConfig, got RBMConfig"):
        pieces(RBMConfig(), 10)


# ---------- the page: the row, Save and Load ----------
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "ntm" / "page.py")


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="ntm_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_offers_the_row_and_loads_saved_machines():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["np_session_key"] = "n" * 32  # a browser of its own in the session store
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"⬇ Download as notebook", "⬇ Download as script", "⬇ Save"} <= set(buttons)
    assert buttons["⬇ Save"].proto.disabled  # nothing trained yet

    config = NTMConfig.build(bits=3, min_length=1, max_length=4, controller=8, memory_slots=8, memory_width=4,
                             batch_size=8, lr=0.01, seed=6)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = NTMTrainer(config, "cpu")
        trainer.step(3)
    finally:
        torch.set_num_threads(before)
    _upload(at, "mine.pt", trainer.checkpoint_bytes())
    run = at.session_state.nt_run
    assert run.trainer.step_count == 3 and run.trainer.config == config
    assert at.session_state.nt_bits == 3 and at.session_state.nt_lengths == (1, 4) and at.session_state.global_seed == 6
    assert any(s.value.startswith("Loaded mine") and "step 3, seed 6" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Step"] == "3" and not at.error
    assert not {b.proto.label: b for b in at.get("download_button")}["⬇ Save"].proto.disabled
    assert session_store().get("n" * 32, SAVE_NAME) is not None  # a reload brings it back

    other_lab = RBMTrainer(RBMConfig(hidden=4), "cpu").checkpoint_bytes()
    for name, data in [("bad.pt", b"\x80\x02junk"), ("rbm.pt", other_lab)]:
        _upload(at, name, data)
        assert len(at.error) == 1 and "Could not load" in at.error[0].value and "unchanged" in at.error[0].value
        assert at.session_state.nt_run.trainer.step_count == 3
    assert "another lab" in at.error[0].value  # the RBM's checkpoint is named for what it is
