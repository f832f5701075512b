"""Export as PyTorch: the exported script, run on its own in a subprocess, must print the
loss curve that Trainer computes for the same config, steps and seed.

The oracle is the engine's Trainer; the script shares no code with it at run time (it
runs from a temporary folder where `engine` cannot be imported).
"""
import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import ExperimentConfig, Trainer, build_model, make_dataset, make_features
from engine.core.registries import ACTIVATIONS, INITS, make_activation
from engine.mlp.data import FEATURE_FUNCTIONS, GENERATORS
from engine.mlp.export import ACTIVATION_CODE, FEATURE_CODE, export_script

REPO_ROOT = Path(__file__).resolve().parent.parent

STEPS, EVERY = 200, 50
KEYS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")

_rng = np.random.default_rng(7)
_CUSTOM_POINTS = [[round(float(a), 3), round(float(b), 3), int(c)] for a, b, c in
                  zip(_rng.uniform(-5, 5, 60), _rng.uniform(-5, 5, 60), _rng.integers(0, 3, 60))]

CONFIGS = {
    "default_spiral_tanh_bce_sgd": {},
    "circle_squares_relu_adam_l2_he": {
        "data": {"name": "circle", "noise": 0.1, "features": ["x1", "x2", "x1_sq", "x2_sq"], "n_samples": 300},
        "model": {"activation": "relu", "init": "he"},
        "train": {"optimizer": "adam", "l2": 0.001, "lr": 0.01, "seed": 3}},
    "blobs3_ce_dropout_layernorm_residual": {
        "data": {"name": "blobs", "n_classes": 3, "noise": 0.2, "n_samples": 300},
        "model": {"hidden": [8, 8, 8], "dropout": 0.2, "norm": "layer", "residual": True},
        "train": {"loss": "ce", "seed": 5, "clip_grad_norm": 0.5}},
    "regress_plane_mse_momentum": {
        "task": "regress2d",
        "data": {"name": "plane", "noise": 0.2, "n_samples": 200},
        "model": {"hidden": [6, 6], "activation": ["elu", "softplus"]},
        "train": {"loss": "mse", "optimizer": "momentum", "lr": 0.01}},
    "custom_points_3class_mse_xavier_l1_rmsprop": {
        "data": {"name": "custom", "points": _CUSTOM_POINTS, "test_fraction": 0.25, "features": ["x1", "x2", "x1_x2"]},
        "model": {"hidden": [5], "activation": "sigmoid", "init": "xavier"},
        "train": {"loss": "mse", "optimizer": "rmsprop", "lr": 0.003, "l1": 0.0005, "batch_size": 8}},
    "batchnorm_xor_hinge_bs7": {
        "data": {"name": "xor", "noise": 0.1, "n_samples": 128},  # 64 train points: 9 x 7 leaves 1
        "model": {"hidden": [6, 6], "norm": "batch", "activation": "gelu"},
        "train": {"loss": "hinge", "batch_size": 7, "optimizer": "nesterov", "lr": 0.01}},
    "moons_no_test_set_epoch_limit_orthogonal_adagrad": {
        "data": {"name": "moons", "test_fraction": 0.0, "n_samples": 100, "features": ["sin_x1", "sin_x2", "x1", "x2"]},
        "model": {"hidden": [4, 4, 3], "activation": ["leaky_relu", "linear", "tanh"], "init": "orthogonal",
                  "residual": True},
        "train": {"optimizer": "adagrad", "max_epochs": 12, "l1": 0.001, "l2": 0.01}},
}


def _config(overrides: dict) -> ExperimentConfig:
    return ExperimentConfig().replace(**overrides)


# Runs exported scripts the way a user would (`python script.py --every K`), one after
# the other in one fresh interpreter: importing torch and its optimisers costs ~2 s of CPU
# per process, which would dominate this file. Each script seeds everything it draws.
# The interpreter starts in a temporary folder with no PYTHONPATH, where `engine` cannot
# be imported, and checks that it cannot.
_DRIVER = """
import contextlib, importlib.util, io, json, runpy, sys, traceback
assert importlib.util.find_spec("engine") is None, "engine is importable: the scripts would not prove they stand alone"
every, results = sys.argv[1], {}
for path in sys.argv[2:]:
    sys.argv, out = [path, "--every", every], io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        results[path] = [json.loads(line) for line in out.getvalue().splitlines()]
    except BaseException:  # one broken script fails its own test only
        results[path] = traceback.format_exc()
print(json.dumps(results))
"""


def _start_scripts(paths, cwd, every: int) -> subprocess.Popen:
    # One thread, as in the trainer below: CPU reductions (batch norm, layer norm) split
    # their sums by thread count, so the engine itself differs in the last bits between
    # 1 and 2 threads.
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", _DRIVER, str(every), *map(str, paths)], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def script_lines(tmp_path_factory):
    """name -> the JSON lines its exported script printed. The scripts run in the
    background while the tests train their Trainers."""
    folder = tmp_path_factory.mktemp("exported")
    paths = {}
    for name, overrides in CONFIGS.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(export_script(_config(overrides), steps=STEPS))
    proc = _start_scripts(paths.values(), folder, EVERY)
    results = {}

    def lines(name: str) -> list[dict]:
        if not results:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr
            results.update(json.loads(stdout))
        result = results[str(paths[name])]
        assert isinstance(result, list), f"the exported script failed:\n{result}"
        return result

    yield lines
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_script_reproduces_trainer_loss_curve(name, script_lines, one_thread):
    config = _config(CONFIGS[name])
    trainer = Trainer(config, "cpu")
    expected = []
    for _ in range(STEPS // EVERY):
        snap = trainer.step(EVERY)
        if not expected or expected[-1].step != snap.step:
            expected.append(snap)  # after the epoch limit, step() returns the same step again
    assert not trainer.diverged
    lines = script_lines(name)
    assert [line["step"] for line in lines] == [s.step for s in expected]
    for line, snap in zip(lines, expected):
        assert line["epoch"] == snap.epoch
        for key in KEYS:
            assert _close(line[key], getattr(snap, key)), (name, snap.step, key, line[key], getattr(snap, key))


def test_script_runs_on_its_own(tmp_path):
    """One script the plain way, in its own process: the default --steps is the exported one."""
    script = tmp_path / "exported.py"
    script.write_text(export_script(_config({"data": {"n_samples": 60}}), steps=20))
    out = subprocess.run([sys.executable, str(script), "--every", "10"], cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["step"] for line in out.stdout.splitlines()] == [10, 20]


def _imported_modules(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in the exported script"
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", list(CONFIGS))
def test_script_imports_only_torch_numpy_and_stdlib(name):
    text = export_script(_config(CONFIGS[name]))
    assert "import engine" not in text and "from engine" not in text
    assert _imported_modules(text) <= {"argparse", "json", "math", "numpy", "torch"}
    if CONFIGS[name].get("data", {}).get("name") == "custom":
        assert "POINTS = np.asarray(" in text
    else:  # only the generator the config uses is written out
        used = CONFIGS[name].get("data", {}).get("name", "spiral")
        assert [g for g in GENERATORS if f"def make_{g}(" in text] == [used]


def _exec_script(config: ExperimentConfig) -> dict:
    namespace = {"__name__": "exported"}
    exec(compile(export_script(config), "exported.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("data_name", list(GENERATORS))
def test_data_matches_make_dataset_for_every_generator(data_name):
    task = "regress2d" if data_name in ("plane", "multigauss") else "classify2d"
    config = _config({"task": task, "train": {"seed": 11, "loss": "mse" if task == "regress2d" else "bce"},
                      "data": {"name": data_name, "noise": 0.3, "n_samples": 101, "test_fraction": 0.3,
                               "features": list(FEATURE_FUNCTIONS)}})
    x_train, y_train, x_test, y_test = _exec_script(config)["make_data"]()
    ds = make_dataset(config)
    np.testing.assert_array_equal(x_train.numpy(), make_features(ds.train_xy, config.data.features))
    np.testing.assert_array_equal(x_test.numpy(), make_features(ds.test_xy, config.data.features))
    np.testing.assert_array_equal(y_train.numpy(), ds.train_y)
    np.testing.assert_array_equal(y_test.numpy(), ds.test_y)
    assert y_train.dtype == torch.from_numpy(ds.train_y).dtype


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_model_matches_build_model(init, norm):
    acts = list(ACTIVATIONS)
    config = _config({"model": {"hidden": [5] * len(acts), "activation": acts, "init": init, "norm": norm,
                                "residual": True}, "train": {"seed": 4}})
    net_class = _exec_script(config)["Net"]
    torch.manual_seed(config.train.seed)
    net, reference = net_class(), build_model(config)
    ours = [p.detach() for p in net.parameters()]
    theirs = [p.detach() for p in reference.parameters()]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    x = torch.randn(9, 2)
    torch.testing.assert_close(net.eval()(x), reference.eval()(x), rtol=0, atol=0)


def test_code_tables_cover_the_registries():
    assert set(ACTIVATION_CODE) == set(ACTIVATIONS)
    assert set(FEATURE_CODE) == set(FEATURE_FUNCTIONS)
    x = torch.linspace(-4, 4, 101)
    F = torch.nn.functional
    for name, code in ACTIVATION_CODE.items():
        torch.testing.assert_close(eval(code.format("x")), make_activation(name)(x), rtol=0, atol=0)


def test_export_rejects_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        export_script(ExperimentConfig(), steps=0)


def test_cli_export_writes_the_script(tmp_path):
    config = _config({"data": {"name": "gauss"}})
    config_path, script = tmp_path / "config.json", tmp_path / "exported.py"
    config_path.write_text(config.to_json())
    out = subprocess.run([sys.executable, "-m", "engine", "export", str(config_path), "--steps", "20",
                          "--out", str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The scripts themselves are run above; here the CLI must hand over export_script's text.
    assert script.read_text() == export_script(config, steps=20)
    assert "STEPS = 20" in script.read_text()
