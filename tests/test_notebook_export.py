"""Download as notebook: the exported notebook is valid nbformat, runs top to bottom in a
Jupyter kernel of the project's Python (where `engine` cannot be imported), and prints the loss
curve that Trainer computes for the same config and seed; the CLI writes it, the page offers it.

The oracle is the engine's Trainer; the notebook shares no code with it at run time.
"""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from streamlit.testing.v1 import AppTest

from engine import ExperimentConfig, Trainer
from engine.mlp.export import export_script
from engine.mlp.notebook import export_notebook
from tests.notebook_kernel import cell, imported_modules, printed_lines, run_notebook

REPO_ROOT = Path(__file__).resolve().parent.parent
STEPS = 100  # export_notebook reports every max(1, STEPS // 100) steps: here every step
KEYS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")

CONFIGS = {
    "circle_classify_adam_l2": {
        "data": {"name": "circle", "noise": 0.1, "n_samples": 160, "features": ["x1", "x2", "x1_sq", "x2_sq"]},
        "model": {"hidden": [6, 4], "activation": "relu"},
        "train": {"optimizer": "adam", "lr": 0.01, "l2": 0.001, "seed": 2}},
    "plane_regress_dropout_momentum": {
        "task": "regress2d",
        "data": {"name": "plane", "noise": 0.1, "n_samples": 120},
        "model": {"hidden": [5], "activation": "tanh", "dropout": 0.1},
        "train": {"loss": "mse", "optimizer": "momentum", "lr": 0.01, "seed": 1}},
}


def _config(overrides: dict) -> ExperimentConfig:
    return ExperimentConfig().replace(**overrides)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_notebook_runs_and_reproduces_trainer_loss_curve(name, kernel_root, tmp_path, one_thread):
    config = _config(CONFIGS[name])
    nb = run_notebook(export_notebook(config, steps=STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)

    trainer = Trainer(config, "cpu")
    expected = [trainer.step(1) for _ in range(STEPS)]
    assert not trainer.diverged
    assert [line["step"] for line in lines] == [s.step for s in expected] == list(range(1, STEPS + 1))
    for line, snap in zip(lines, expected):
        assert line["epoch"] == snap.epoch
        for key in KEYS:
            assert _close(line[key], getattr(snap, key)), (name, snap.step, key, line[key], getattr(snap, key))

    # The last cell drew the loss curves, with plotly.js inside the output: no network needed to see them.
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell(nb, "curve").outputs)
    assert "Train loss" in html and "Plotly.newPlot" in html and "* plotly.js v" in html
    assert 'import "http' not in html  # the "notebook_connected" renderer would import plotly.js from a CDN
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == []  # nothing loaded from an address (no MathJax link)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", list(CONFIGS) + ["custom_points_3class"])
def test_notebook_is_valid_and_imports_only_torch_numpy_plotly_ipython_and_stdlib(name):
    overrides = CONFIGS.get(name) or {
        "data": {"name": "custom", "test_fraction": 0.25,
                 "points": [[i / 10 - 2, (i * 7 % 40) / 10 - 2, i % 3] for i in range(40)]},
        "train": {"loss": "ce"}}
    text = export_notebook(_config(overrides), steps=50)
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.language == "python"
    modules = imported_modules(nb)
    assert "engine" not in modules
    # IPython: the kernel any notebook runs in; it shows the figure's HTML.
    assert modules - set(sys.stdlib_module_names) <= {"numpy", "torch", "plotly", "IPython"}
    # A markdown cell explains each step before its code.
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("#")]
    for step in ("The data set", "The split", "The features", "The network", "The loss and the optimiser",
                 "The training loop", "Train", "What the curve shows"):
        assert any(h.lstrip("#").strip().lstrip("0123456789. ") == step for h in headings), (step, headings)
    assert [c.cell_type for c in nb.cells[-2:]] == ["code", "code"]
    assert "history = train(" in nb.cells[-2].source and "fig.to_html(" in nb.cells[-1].source
    assert export_notebook(_config(overrides), steps=50) == text  # the same config gives the same file


def test_export_notebook_rejects_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        export_notebook(ExperimentConfig(), steps=0)


def test_cli_export_writes_the_notebook(tmp_path):
    config = _config({"data": {"name": "gauss"}})
    config_path, out_path = tmp_path / "config.json", tmp_path / "exported.ipynb"
    config_path.write_text(config.to_json())
    out = subprocess.run([sys.executable, "-m", "engine", "export", str(config_path), "--format", "ipynb",
                          "--steps", "20", "--out", str(out_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out_path.read_text() == export_notebook(config, steps=20)
    nbformat.validate(nbformat.reads(out_path.read_text(), as_version=4))


def test_playground_offers_the_notebook_beside_the_script():
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "playground" / "page.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "⬇ Download as notebook" in labels
    assert labels.index("⬇ Download as notebook") == labels.index("⬇ Export as PyTorch") + 1


def test_vanishing_notebook_records_every_layers_gradient_as_the_trainer_does(kernel_root, tmp_path, one_thread):
    """The Vanishing gradients page's notebook: a deep sigmoid stack; each report also holds every
    layer's weight-gradient norm, equal to the Trainer's grad_norms at that step, and the heatmap is drawn."""
    config = _config({"data": {"name": "circle", "n_samples": 120},
                      "model": {"hidden": [8] * 6, "activation": "sigmoid"},
                      "train": {"optimizer": "sgd", "lr": 0.03, "batch_size": 10, "clip_grad_norm": 1.0, "seed": 3}})
    nb = run_notebook(export_notebook(config, steps=STEPS, gradients=True), tmp_path, kernel_root)
    lines = printed_lines(nb)
    trainer = Trainer(config, "cpu")
    expected = [trainer.step(1) for _ in range(STEPS)]
    assert len(lines) == STEPS
    for line, snap in zip(lines, expected):
        assert _close(line["train_loss"], snap.train_loss)
        assert list(line["grad_norms"]) == list(snap.grad_norms) == [f"hidden{i}" for i in range(1, 7)] + ["output"]
        for name, value in snap.grad_norms.items():
            assert _close(line["grad_norms"][name], value), (snap.step, name, line["grad_norms"][name], value)
    # The sigmoid stack's gradient vanishes with depth: the first layer gets far less than the output layer.
    assert lines[-1]["grad_norms"]["hidden1"] < lines[-1]["grad_norms"]["output"] / 10
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell(nb, "gradients").outputs)
    assert '"type":"heatmap"' in html and '"hidden1"' in html and "Plotly.newPlot" in html


def test_vanishing_script_prints_the_gradients_too(tmp_path):
    config = _config({"model": {"hidden": [4, 4], "activation": "tanh"}, "train": {"seed": 1}})
    text = export_script(config, steps=5, gradients=True)
    out = subprocess.run([sys.executable, "-", "--every", "1"], input=text, capture_output=True, text=True,
                         cwd=tmp_path, timeout=60, env={"PYTHONPATH": "", "OMP_NUM_THREADS": "1",
                                                        "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    trainer = Trainer(config, "cpu")
    for line in lines:
        snap = trainer.step(1)
        assert line["step"] == snap.step and set(line["grad_norms"]) == set(snap.grad_norms)
        assert all(_close(line["grad_norms"][k], v) for k, v in snap.grad_norms.items())
