"""Take it home, Autoencoders: the exported notebook runs on its own (engine not importable) and
prints the curve AutoencoderTrainer computes for the same config and seed; the script does the same;
the page offers the four controls, and Load puts a saved run on screen or says in one line why not.

The oracle is the engine's trainer; the export shares no code with it at run time.
"""
from __future__ import annotations

import sys

import nbformat
import pytest
import torch

from engine.autoencoders.config import AutoencoderConfig
from engine.autoencoders.take_home import pieces
from engine.autoencoders.trainer import AutoencoderTrainer
from engine.cnn.config import CNNConfig
from engine.core import registries
from engine.core.take_home import ACTIVATION_TABLE
from engine.export import export
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html)

STEPS = 100  # reports every step
CONFIGS = {
    # The page's default kind with a 2-number code (the code plane is drawn too), smaller.
    "deep_2d": {"kind": "deep", "hidden": 32, "latent_dim": 2, "batch_size": 32, "seed": 3},
    # A VAE: a sampled code (ε from its own generator), β·KL backpropagated after the reconstruction.
    "vae_bce": {"kind": "vae", "hidden": 32, "latent_dim": 3, "loss": "bce", "beta": 0.5, "batch_size": 32,
                "seed": 1},
}


def trainer_snapshots(config: AutoencoderConfig, steps: int, every: int = 1) -> dict[int, dict]:
    trainer = AutoencoderTrainer(config, "cpu")
    snapshots = {}
    while trainer.step_count < steps:
        snap = trainer.step(every).to_json_dict()
        snapshots[snap["step"]] = snap
    return snapshots


@pytest.mark.parametrize("name", list(CONFIGS))
def test_notebook_runs_alone_and_reproduces_the_trainer(name, kernel_root, tmp_path, one_thread):
    config = AutoencoderConfig.build(**CONFIGS[name])
    text = export(config, "ipynb", STEPS)
    nb = run_notebook(text, tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    must = {"train_loss", "test_loss", "train_objective", "test_objective", "test_squared_error", "pca_test_error"}
    assert must | ({"train_kl", "test_kl"} if config.model.kind == "vae" else set()) <= set(lines[0])
    assert_curve_matches(lines, trainer_snapshots(config, STEPS))

    html = shown_html(nb)
    assert "Plotly.newPlot" in html and "PCA, same k" in html and "reconstruction" in html
    assert ("the test digits' codes" in html) == (config.model.latent_dim == 2)
    assert "<script src=" not in html.replace(" ", "")
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_script_of_a_denoising_run_prints_the_trainer_numbers(tmp_path, one_thread):
    """Denoising: fresh input noise every step, and the page's fixed noisy test copy (SEED + 4)."""
    config = AutoencoderConfig.build(kind="denoising", noise="masking", noise_level=0.4, hidden=24, latent_dim=4,
                                     optimizer="nesterov", lr=0.05, batch_size=40, seed=5)
    lines = run_script(export(config, "py", 30), tmp_path)
    assert {"test_denoise_error", "test_noisy_input_error"} <= set(lines[0])
    assert_curve_matches(lines, trainer_snapshots(config, 30))
    assert (tmp_path / "autoencoder_loss.html").exists() and (tmp_path / "autoencoder_reconstructions.html").exists()


def test_export_is_a_valid_notebook_that_explains_each_step_and_is_the_same_every_time():
    config = AutoencoderConfig.build(kind="linear", latent_dim=3)
    text = export(config, "ipynb", 40)
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert headings[0] == "# Autoencoder on 8×8 digits"
    assert [h for h in headings if h.startswith("## ")] == [
        "## 1. The data: 8×8 digits", "## 2. The model", "## 3. The loss and the optimiser",
        "## 4. The training loop", "## 5. Train", "## 6. What the plots show"]
    assert '"kind": "linear"' in nb.cells[0].source  # the config, for the command line
    assert "principal_angles_deg" in text and "engine" not in imported_modules(nb)
    assert export(config, "ipynb", 40) == text


def test_step_limit_caps_the_steps_as_the_trainer_stops():
    config = AutoencoderConfig.build(max_steps=30)
    assert "STEPS = 30  # optimisation steps  # the config stops at step 30" in export(config, "py", 1000)


def test_activation_table_is_the_registry():
    namespace: dict = {"nn": torch.nn}
    exec("\n".join(ACTIVATION_TABLE), namespace)
    assert namespace["ACTIVATIONS"].keys() == registries.ACTIVATIONS.keys()
    for name, make in namespace["ACTIVATIONS"].items():
        assert repr(make()) == repr(registries.make_activation(name)), name


@pytest.mark.parametrize("steps", [0, -3, 2.5, True, "100"])
def test_bad_steps_are_refused_by_name(steps):
    with pytest.raises(ValueError, match="steps"):
        pieces(AutoencoderConfig(), steps)


def test_another_labs_config_is_refused_by_name():
    with pytest.raises(ValueError, match="AutoencoderConfig.*CNNConfig"):
        pieces(CNNConfig(), 10)


# ---------- the page: the four controls, and Load ----------
def _upload(at, name: str, data: bytes):
    at.file_uploader(key="autoencoder_upload").upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_offers_the_row_and_load_brings_a_saved_run_back(one_thread):
    from streamlit.testing.v1 import AppTest

    from app_pages.autoencoders.state import preset_config
    from engine.cnn.trainer import CNNTrainer
    from tests.test_autoencoders_page import PAGE

    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = "7" * 32
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"⬇ Download as notebook", "⬇ Download as script", "⬇ Save"} <= set(buttons)
    assert buttons["⬇ Save"].proto.disabled  # nothing trained yet
    assert at.file_uploader(key="autoencoder_upload") is not None

    config = preset_config("β-VAE (β = 4)", seed=7)
    saved = AutoencoderTrainer(config, "cpu")
    saved.step(23)
    _upload(at, "vae.pt", saved.checkpoint_bytes())
    loaded = at.session_state.ae_run.trainer
    assert loaded.step_count == 23 and loaded.config == config
    assert at.selectbox(key="ae_model").value == "vae" and at.session_state.global_seed == 7
    assert {m.label: m.value for m in at.metric}["Step"] == "23"
    assert any("the vae autoencoder at step 23, seed 7" in s.value for s in at.success)
    assert not at.get("download_button")[[b.proto.label for b in at.get("download_button")].index("⬇ Save")
                                         ].proto.disabled

    assert at.query_params.get("train.seed") in ("7", ["7"])  # the address now describes the loaded run
    reload = AppTest.from_file(PAGE, default_timeout=90)
    reload.session_state["np_session_key"] = "7" * 32  # the same browser: the loaded run was saved for it
    reload.run()
    assert reload.session_state.ae_run.trainer.step_count == 23

    cnn = CNNTrainer(CNNConfig.build(channels=[2], max_steps=0), "cpu")
    cnn.step(1)
    for name, data, says in (("broken.pt", b"not a checkpoint at all", "not an autoencoder checkpoint"),
                             ("cnn.pt", cnn.checkpoint_bytes(), "another lab's checkpoint (task 'cnn'), not an autoencoder's")):
        _upload(at, name, data)
        shown = at.error[0].value.replace("\\", "") if len(at.error) == 1 else ""  # one line, Markdown-escaped
        assert says in shown and "Your current run is unchanged" in shown
        assert at.session_state.ae_run.trainer is loaded and at.selectbox(key="ae_model").value == "vae"


def test_cli_writes_the_notebook(tmp_path):
    from engine.__main__ import main
    config = AutoencoderConfig.build(kind="sparse", latent_dim=8)
    (tmp_path / "config.json").write_text(config.to_json())
    out = tmp_path / "autoencoder.ipynb"
    assert main(["export", str(tmp_path / "config.json"), "--format", "ipynb", "--steps", "20", "--out", str(out)]) == 0
    assert out.read_text() == export(config, "ipynb", 20)
