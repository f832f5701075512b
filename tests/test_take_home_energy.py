"""Energy models page, take it home: each exported notebook (Boltzmann machine, RBM, deep belief net) runs
alone (engine not importable) and prints, report by report, the numbers the page's trainer reports for the
same config and seed; a script does the same; the page offers the four controls and loads a saved run.

The oracle is the engine's own trainers; the exports share no code with them at run time.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.saved_runs import session_store
from app_pages.energy.state import SAVE_NAMES
from engine.energy import BoltzmannConfig, BoltzmannTrainer, DBNConfig, DBNTrainer, RBMConfig, RBMTrainer
from engine.energy.take_home import boltzmann_pieces, dbn_pieces, rbm_pieces
from engine.export import export
from engine.ntm.config import NTMConfig
from engine.ntm.trainer import NTMTrainer
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html, trainer_snapshots)

STEPS = 100
CASES = {
    # bars and stripes 3×3 with 4 hidden units: 2^13 states listed at every step
    "boltzmann": (BoltzmannTrainer, BoltzmannConfig(seed=3),
                  {"kl", "log_likelihood", "data_mass", "free_energy_data", "free_energy_other", "log_z"},
                  ["boltzmann_kl", "boltzmann_weights"]),
    "rbm": (RBMTrainer, RBMConfig(hidden=32, seed=2),
            {"epoch", "recon_error", "free_energy_test", "free_energy_train", "free_energy_gap"},
            ["rbm_recon_error", "rbm_filters"]),
    # Every phase inside 100 steps: two layers pretrained (30 each), then two labelled counts fine-tuned (20 each).
    "dbn": (DBNTrainer, DBNConfig(hidden=[16, 8], pretrain_steps=30, labelled=[20, 50], finetune_steps=20, seed=1),
            {"phase", "layer", "labelled", "recon_error", "test_accuracy", "test_accuracy_random",
             "layer_recon_errors"},
            ["dbn_finetuning"]),
}


@pytest.mark.parametrize("task", list(CASES))
def test_notebook_reproduces_the_trainers_reports(task, kernel_root, tmp_path):
    trainer_cls, config, keys, plots = CASES[task]
    nb = run_notebook(export(config, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(STEPS + 1))   # every step of the first 100, and the start
    assert_curve_matches(lines, trainer_snapshots(trainer_cls, config, STEPS), min_reports=STEPS + 1)
    assert keys <= set(lines[-1])
    if task == "dbn":   # the run went through every phase
        assert [line["phase"] for line in lines[::25]] == ["pretrain", "pretrain", "pretrain", "finetune", "done"]
    html = shown_html(nb)
    assert html.count("Plotly.newPlot") == len(plots) and re.findall(r'<script[^>]*src="([^"]+)"', html) == []
    sources = "".join(c.source for c in nb.cells if c.cell_type == "code")
    assert all(f'show(fig, "{name}")' in sources for name in plots)
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS
    assert export(config, "ipynb", STEPS) == export(config, "ipynb", STEPS)  # the same config gives the same file


def test_script_of_the_rbm_with_persistent_cd_matches_the_trainer(tmp_path):
    config = RBMConfig(hidden=16, k=2, persistent=True, batch_size=50, seed=5)
    lines = run_script(export(config, "py", 40), tmp_path)
    assert [line["step"] for line in lines] == list(range(41))
    assert_curve_matches(lines, trainer_snapshots(RBMTrainer, config, 40), min_reports=41)
    assert (tmp_path / "rbm_filters.html").exists()


@pytest.mark.parametrize("pieces, config", [(boltzmann_pieces, BoltzmannConfig()), (rbm_pieces, RBMConfig()),
                                            (dbn_pieces, DBNConfig())])
def test_exporters_refuse_bad_steps_and_other_configs(pieces, config):
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            pieces(config, steps)
    with pytest.raises(ValueError, match="Config, got NTMConfig"):
        pieces(NTMConfig(), 10)


# ---------- the page: the row, Save and Load ----------
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "energy" / "page.py")
CONTROLS = ["⬇ Download as notebook", "⬇ Download as script", "⬇ Save"]


def _open_page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["np_session_key"] = "e" * 32  # a browser of its own in the session store
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=key).upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _trained(trainer_cls, config, steps: int) -> bytes:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = trainer_cls(config, "cpu")
        trainer.step(steps)
        return trainer.checkpoint_bytes()
    finally:
        torch.set_num_threads(before)


def test_the_page_offers_the_row_and_loads_a_saved_run_on_its_own_tab():
    at = _open_page(tab="rbm", **{"rbm.hidden": "16"})
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert all(label in buttons for label in CONTROLS) and buttons["⬇ Save"].proto.disabled  # nothing trained yet
    assert at.file_uploader(key="rbm_upload") is not None

    # an RBM of other settings and seed, 7 updates in: it becomes the tab's run, widgets and seed with it
    config = RBMConfig(hidden=36, k=3, batch_size=50, seed=4)
    _upload(at, "rbm_upload", "mine.pt", _trained(RBMTrainer, config, 7))
    run = at.session_state["en_rbm_run"]
    assert run.trainer.step_count == 7 and run.trainer.config == config
    assert at.session_state.en_rbm_hidden == 36 and at.session_state.en_rbm_k == 3 and at.session_state.global_seed == 4
    assert any(s.value.startswith("Loaded mine") and "the RBM at step 7, seed 4" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Step"] == "7" and not at.error
    assert not {b.proto.label: b for b in at.get("download_button")}["⬇ Save"].proto.disabled
    query = dict(at.query_params)  # the address is this run's, and a reload brings it back from the store
    assert query.get("rbm.hidden") in ("36", ["36"]) and query.get("train.seed") in ("4", ["4"])
    assert session_store().get("e" * 32, SAVE_NAMES["rbm"]) is not None

    # a Boltzmann machine loaded from the RBM tab opens on its own tab; the RBM stays
    _upload(at, "rbm_upload", "bm.pt", _trained(BoltzmannTrainer, BoltzmannConfig(data="bars2x4", hidden=3, seed=4),
                                                 5))
    assert at.session_state.en_tab == "① Boltzmann machine" and at.session_state.en_bm_data == "bars2x4"
    assert at.session_state["en_boltzmann_run"].trainer.step_count == 5
    assert at.session_state["en_rbm_run"].trainer.step_count == 7

    # a damaged file and another lab's checkpoint: one line each, the run on screen unchanged
    for name, data, said in [("bad.pt", b"not a checkpoint", "Could not load bad"),
                             ("ntm.pt", NTMTrainer(NTMConfig.build(bits=2, max_length=2, controller=8), "cpu")
                              .checkpoint_bytes(), "another lab")]:
        _upload(at, "boltzmann_upload", name, data)
        assert len(at.error) == 1 and said in at.error[0].value and "unchanged" in at.error[0].value
        assert at.session_state["en_boltzmann_run"].trainer.step_count == 5
