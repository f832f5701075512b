"""The Vanishing gradients page's take-home row: notebook and script of the inspected network (with
every layer's gradient, tested in test_notebook_export.py), ⬇ Save of the whole comparison, and
Load, which brings a saved comparison back (widgets, address and steps) or refuses a bad file in
one line, leaving the networks on screen as they were."""
from pathlib import Path

import nbformat
from streamlit.testing.v1 import AppTest

from app_pages.vanishing.state import MAIN_LABEL, VanishingLab, make_config
from engine import Trainer
from engine.mlp.notebook import export_notebook

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "vanishing" / "page.py")
LABELS = ["⬇ Download as notebook", "⬇ Download as script", "⬇ Save"]


def open_small() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in {"vg_depth": 4, "vg_width": 8, "vg_compare": []}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def saved_lab(steps: int) -> tuple[bytes, VanishingLab]:
    """A comparison the page could have saved: 3 tanh layers of 16 with He init, and a preset beside it."""
    config = make_config(3, 16, "tanh", "he", False, "none", "adam", 0.01, 0.0, "xor", 7)
    lab = VanishingLab.build([(MAIN_LABEL, config)], "cpu")
    lab.step(steps)
    return lab.checkpoint_bytes(), lab


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="vanishing_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_row_offers_notebook_script_save_and_load():
    at = open_small()
    labels = [b.proto.label for b in at.get("download_button")]
    assert all(label in labels for label in LABELS)
    assert at.file_uploader(key="vanishing_upload") is not None


def test_load_brings_a_saved_comparison_back_with_its_settings():
    at = open_small()
    data, lab = saved_lab(12)
    upload(at, "mine.pt", data)
    loaded = at.session_state.vg_lab
    assert [r.trainer.step_count for r in loaded.runs] == [r.trainer.step_count for r in lab.runs]
    assert loaded.runs[0].trainer.config == lab.runs[0].trainer.config
    assert (at.session_state.vg_depth, at.session_state.vg_width, at.session_state.vg_activation,
            at.session_state.vg_init, at.session_state.global_seed) == (3, 16, "tanh", "he", 7)
    assert any("Loaded mine" in s.value and "step" in s.value for s in at.success)
    assert at.query_params.get("activation") == "tanh" and at.query_params.get("train.seed") == "7"
    # The loaded weights are the saved ones: one more step on each equals one more step on the original.
    expected = lab.runs[0].trainer.step(1).train_loss
    assert abs(loaded.runs[0].trainer.step(1).train_loss - expected) < 1e-6


def test_a_damaged_file_or_a_playground_checkpoint_is_one_line_and_nothing_changes():
    at = open_small()
    before = at.session_state.vg_lab
    steps = [r.trainer.step_count for r in before.runs]
    for name, data in [("broken.pt", b"not a checkpoint at all"),
                       ("playground.pt", Trainer(make_config(2, 4, "relu", "he", False, "none", "sgd", 0.1, 0.0,
                                                             "circle", 0), "cpu").checkpoint_bytes())]:
        upload(at, name, data)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(f"Could not load {name.replace('.', chr(92) + '.')}")
        assert "unchanged" in errors[0]
        assert at.session_state.vg_lab is before
        assert [r.trainer.step_count for r in before.runs] == steps


def test_the_notebook_offered_is_the_inspected_network_with_its_gradients():
    at = open_small()
    assert "Your network" in " ".join(c.value for c in at.caption)
    lab = at.session_state.vg_lab
    text = export_notebook(lab.runs[0].trainer.config, steps=1000, gradients=True)
    nb = nbformat.reads(text, as_version=4)
    assert [c.get("id") for c in nb.cells][-2:] == ["gradients-text", "gradients"]
