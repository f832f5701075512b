"""Take the Sequence models home: the charlm notebook trains the page's models side by side, alone
in a kernel of the project's Python, and prints what CharLMTrainer's snapshots report (the oracle:
the notebook shares no code with it at run time) and the text each model writes; the Markov chain's
notebook and script print what MarkovTrainer's snapshots report and the chain's text; the
exporters refuse what they cannot export.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.sequence.state import config_from_widgets, default_widgets
from engine.export import export
from engine.sequence.config import CharLMConfig, CharModelConfig
from engine.sequence.markov import MarkovConfig, MarkovTrainer
from engine.sequence.take_home import charlm_pieces, markov_pieces, text_literal
from engine.sequence.trainer import CharLMTrainer
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, cell, imported_modules, printed_lines,
                                   run_notebook, run_script, shown_html)

STEPS = 100
# Two architectures, dropout on both (its random draws must match too), a pasted-size text.
CHARLM = CharLMConfig(corpus="readme", corpus_chars=3000, context=16, batch_size=8, seed=4, models=[
    CharModelConfig("lstm", hidden=16, dropout=0.1),
    CharModelConfig("transformer", hidden=16, layers=1, heads=2, dropout=0.1, lr=0.005)])
# Small chunks: the training text is read in about 70 steps, so the run ends by itself before STEPS.
MARKOV = MarkovConfig(corpus="readme", corpus_chars=5000, chunk_chars=64, order=3, context=16, seed=2)


def charlm_snapshot(snap) -> dict:
    """A CharLMSnapshot as the notebook reports it: each model's numbers as a list, in the models' order."""
    d = snap.to_json_dict()
    return {**d, **{key: [m[key] for m in d["models"]] for key in ("train_loss", "val_loss", "bits_per_char")}}


def printed_text(nb, cell_id: str) -> str:
    return "".join(o["text"] for o in cell(nb, cell_id).outputs if o.output_type == "stream")


def check_plot(nb) -> None:
    html = shown_html(nb)
    assert "Plotly.newPlot" in html and "bits per character" in html
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == []  # plotly.js inside: draws offline
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_the_charlm_notebook_trains_the_page_models_side_by_side(kernel_root, tmp_path, one_thread):
    nb = run_notebook(export(CHARLM, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    assert {"train_loss", "val_loss", "bits_per_char"} <= set(lines[0])
    trainer = CharLMTrainer(CHARLM, "cpu")
    snapshots = {s.step: charlm_snapshot(s) for s in (trainer.step(1) for _ in range(STEPS))}
    assert_curve_matches(lines, snapshots, min_reports=STEPS)
    # What each model writes: the page's sample (its prompt, temperature and seed) after the same training.
    written = printed_text(nb, "plot")
    for i, label in enumerate(CHARLM.labels()):
        text, _ = trainer.sample(i, "The ", 160, 0.8, 0)
        assert f"--- {label} writes:\nThe {text}\n" in written
    check_plot(nb)


def test_the_markov_notebook_counts_as_the_trainer_and_stops_when_the_text_is_read(kernel_root, tmp_path):
    nb = run_notebook(export(MARKOV, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    trainer = MarkovTrainer(MARKOV, "cpu")
    snapshots = {}
    while not trainer.finished:
        snap = trainer.step(1)
        snapshots[snap.step] = snap.to_json_dict()
    assert [line["step"] for line in lines] == sorted(snapshots) and len(lines) < STEPS
    assert lines[-1]["finished"] and {"test_bits_per_char", "train_bits_per_char"} <= set(lines[0])
    assert_curve_matches(lines, snapshots, min_reports=50)
    assert f"The chain writes:\nThe {trainer.sample('The ', 160, 0.5)[0]}" in printed_text(nb, "plot")
    check_plot(nb)


def test_the_markov_script_prints_the_same_numbers(tmp_path):
    config = MarkovConfig.from_dict({**MARKOV.to_dict(), "order": 2, "smoothing": 0.1})
    lines = run_script(export(config, "py", 30), tmp_path)
    trainer = MarkovTrainer(config, "cpu")
    snapshots = {s.step: s.to_json_dict() for s in (trainer.step(1) for _ in range(30))}
    assert [line["step"] for line in lines] == list(range(1, 31))
    assert_curve_matches(lines, snapshots, min_reports=30)
    assert (tmp_path / "markov_bits.html").exists()


def test_the_text_goes_inside_as_python_literals_that_read_back_exactly():
    text = "A line with 'quotes' and \"more\"\n\ttabs, é and \\ backslashes\n" + "x" * 250 + "\nend"
    namespace = {}
    exec(text_literal(text), namespace)
    assert namespace["TEXT"] == text
    assert max(len(line) for line in text_literal(text).splitlines()) <= 110


def test_the_exports_report_about_a_hundred_times_and_keep_the_step_limit():
    assert "EVERY = 10 " in export(MARKOV, "py", 1000) and "STEPS = 25\n" in export(
        MarkovConfig.from_dict({**MARKOV.to_dict(), "max_steps": 25}), "py", 1000)
    assert "STEPS = 300\n" in export(CharLMConfig.from_dict({**CHARLM.to_dict(), "max_steps": 300}), "py", 5000)
    assert export(CHARLM, "ipynb", 50) == export(CHARLM, "ipynb", 50)  # the same config gives the same file


@pytest.mark.parametrize("steps", [0, -1, 1.5, "10", False])
def test_bad_steps_are_refused_by_name(steps):
    for make, config in ((charlm_pieces, CHARLM), (markov_pieces, MARKOV)):
        with pytest.raises(ValueError, match="steps"):
            make(config, steps)


def test_a_config_of_another_task_is_refused_by_name():
    with pytest.raises(ValueError, match="CharLMConfig.*MarkovConfig"):
        charlm_pieces(MARKOV, 10)
    with pytest.raises(ValueError, match="MarkovConfig.*CharLMConfig"):
        markov_pieces(CHARLM, 10)


# ---- the page's row (and the Markov tab's downloads) ----
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "sequence" / "page.py")
LABELS = ["⬇ Download as notebook", "⬇ Download as script", "⬇ Save"]


def open_page(**widgets) -> AppTest:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as app.py sets it
    try:
        at = AppTest.from_file(PAGE, default_timeout=90)
        for key, value in {"sq_models": ["lstm"], "sq_context": 16, **widgets}.items():
            at.session_state[key] = value
        at.run()
    finally:
        torch.set_num_threads(before)
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="sequence_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def saved_models(steps: int) -> tuple[bytes, CharLMTrainer]:
    """Models the page could have saved: a GRU and a Transformer on the README, seed 5."""
    widgets = {**default_widgets(), "sq_models": ["gru", "transformer"], "sq_corpus": "readme", "sq_context": 16,
               "sq_gru_hidden": 32, "sq_transformer_hidden": 32, "sq_batch": 16}
    trainer = CharLMTrainer(config_from_widgets(widgets, 5), "cpu")
    trainer.step(steps)
    return trainer.checkpoint_bytes(), trainer


def test_the_page_offers_the_row_and_the_markov_tab_its_notebook_and_script():
    at = open_page()
    labels = [b.proto.label for b in at.get("download_button")]
    assert all(label in labels for label in LABELS)
    assert at.file_uploader(key="sequence_upload") is not None
    at.session_state["sq_view"] = "Markov chain baseline"  # the Markov tab open
    at.run()
    keys = {b.key for b in at.get("download_button")}
    assert {"sq_markov_dl_notebook", "sq_markov_dl_script"} <= keys, keys


def test_load_brings_saved_models_back_with_their_settings():
    at = open_page()
    data, saved = saved_models(4)
    upload(at, "mine.pt", data)
    loaded = at.session_state.sq_lab.trainer
    assert loaded.step_count == 4 and loaded.config == saved.config
    assert (at.session_state.sq_models, at.session_state.sq_corpus, at.session_state.sq_gru_hidden,
            at.session_state.global_seed) == (["gru", "transformer"], "readme", 32, 5)
    assert any("Loaded mine" in s.value and "step 4" in s.value and "seed 5" in s.value for s in at.success)
    assert at.query_params.get("corpus") in ("readme", ["readme"]) and at.query_params.get("models") in ("gru,transformer", ["gru,transformer"])
    assert at.metric[0].value == "4"  # the step on screen is the loaded models'
    assert loaded.step(1).to_json_dict() == saved.step(1).to_json_dict()


def test_a_damaged_file_or_another_labs_checkpoint_is_one_line_and_the_models_stay():
    from engine.gan.trainer import GANConfig, GANTrainer
    at = open_page()
    at.button(key="sq_step").click().run()
    before = at.session_state.sq_lab
    for name, data in [("broken.pt", b"\x00garbage"), ("gan.pt", GANTrainer(GANConfig(), "cpu").checkpoint_bytes())]:
        upload(at, name, data)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(f"Could not load {name.replace('.', chr(92) + '.')}")
        assert "unchanged" in errors[0]
        assert at.session_state.sq_lab is before and before.trainer.step_count == 10
    assert "another lab" in errors[0] and "gan" in errors[0]  # what the file is, named
