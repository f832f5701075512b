"""The command line, run as a user runs it: `python -m engine ...` in subprocesses.

Every run starts at once in one module fixture (each one spends most of its time
importing torch), and each test then reads the result of its own run."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.mlp.config import ExperimentConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "data" / "example_config.json"
SNAPSHOT_KEYS = {"step", "epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "lr", "grad_norms",
                 "activation_stats"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    config = tmp / "config.json"
    config.write_text(EXAMPLE.read_text())
    bad = json.loads(EXAMPLE.read_text())
    bad["model"]["hidden"] = [8, 0]
    (tmp / "bad.json").write_text(json.dumps(bad))
    (tmp / "broken.json").write_text("{oops")
    train = ["train", config, "--steps", 50, "--every", 10, "--device", "cpu"]
    commands = {
        "train": (train, None),
        "out": (train + ["--out", tmp / "run.jsonl"], None),
        "stdin": (["train", "-", "--steps", 7, "--every", 5, "--device", "cpu"], EXAMPLE.read_text()),
        "invalid": (["train", tmp / "bad.json", "--device", "cpu"], None),
        "broken": (["validate", tmp / "broken.json"], None),
        "help": (["--help"], None),
        "validate": (["validate", EXAMPLE], None),
        "defaults": (["defaults"], None),
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {name: subprocess.Popen([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, env=env, text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, (args, _) in commands.items()}
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(commands[name][1], timeout=300)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    results["out_file"] = tmp / "run.jsonl"
    return results


def _strict_json(line):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def _check_train_lines(lines):
    records = [_strict_json(line) for line in lines]
    *snaps, done = records
    assert [s["step"] for s in snaps] == [10, 20, 30, 40, 50]
    for s in snaps:
        assert SNAPSHOT_KEYS <= set(s)
        assert "plane" not in s
        assert list(s["grad_norms"]) == ["hidden1", "hidden2", "output"]
        assert all(isinstance(v, float) and v > 0 for v in s["grad_norms"].values())
        assert list(s["activation_stats"]) == ["hidden1", "hidden2"]
        for stats in s["activation_stats"].values():
            assert set(stats) == {"mean", "std", "saturated"}
        assert s["lr"] == 0.03
        assert math.isfinite(s["train_loss"]) and math.isfinite(s["test_loss"])
        assert 0 <= s["train_accuracy"] <= 1 and 0 <= s["test_accuracy"] <= 1
    # 250 training points in batches of 10: an epoch is 25 steps
    assert [s["epoch"] for s in snaps] == [0, 0, 1, 1, 2]
    assert done["done"] is True and done["steps"] == 50 and done["device"] == "cpu"
    assert isinstance(done["seconds"], float) and done["seconds"] >= 0
    return snaps


def test_example_config_is_the_readme_example():
    config = ExperimentConfig.from_json(EXAMPLE.read_text())
    assert config.data.name == "spiral" and config.model.hidden == [8, 8] and config.train.lr == 0.03


def test_train_writes_json_lines(runs):
    proc = runs["train"]
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 6 and all(lines)
    _check_train_lines(lines)


def test_train_matches_the_library(runs):
    # the CLI is a thin shell: its numbers are those of a Trainer on the same config
    from engine.mlp.trainer import Trainer
    t = Trainer(ExperimentConfig.from_json(EXAMPLE.read_text()), "cpu")
    for line in runs["train"].stdout.splitlines()[:-1]:
        s, mine = json.loads(line), t.step(10)
        assert s["train_loss"] == mine.train_loss and s["grad_norms"] == mine.grad_norms


def test_train_out_file(runs):
    proc = runs["out"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    text = runs["out_file"].read_text()
    _check_train_lines(text.splitlines())

    def without_time(text):
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in text.splitlines()]
    assert without_time(text) == without_time(runs["train"].stdout)  # the same lines


def test_train_reads_stdin_and_stops_at_uneven_steps(runs):
    proc = runs["stdin"]
    assert proc.returncode == 0, proc.stderr
    records = [_strict_json(line) for line in proc.stdout.splitlines()]
    assert [r.get("step") for r in records[:-1]] == [5, 7]
    assert records[-1]["steps"] == 7


def test_invalid_config_exits_2_naming_the_field(runs):
    proc = runs["invalid"]
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert "model.hidden[1]" in lines[0] and "1..512" in lines[0]


def test_unparsable_config_exits_2(runs):
    proc = runs["broken"]
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "not valid JSON" in proc.stderr


def test_help_lists_the_commands(runs):
    proc = runs["help"]
    assert proc.returncode == 0
    for command in ("train", "validate", "defaults", "export"):
        assert command in proc.stdout


def test_validate_fills_in_defaults(runs):
    proc = runs["validate"]
    assert proc.returncode == 0, proc.stderr
    result = _strict_json(proc.stdout)
    assert result["valid"] is True
    assert ExperimentConfig.from_dict(result["config"]) == ExperimentConfig.from_json(EXAMPLE.read_text())
    assert result["config"]["train"]["max_epochs"] == 0 and result["config"]["data"]["n_classes"] == 3


def test_defaults_prints_the_default_config(runs):
    proc = runs["defaults"]
    assert proc.returncode == 0, proc.stderr
    assert ExperimentConfig.from_json(proc.stdout) == ExperimentConfig()


# ---- strict JSON: a non-finite number is written as null ----

def test_non_finite_numbers_become_null():
    from engine.__main__ import json_line
    from engine.mlp.trainer import Snapshot
    inf, nan = float("inf"), float("nan")
    snap = Snapshot(step=3, epoch=0, train_loss=nan, test_loss=inf, train_accuracy=0.5, test_accuracy=None, lr=0.03,
                    grad_norms={"hidden1": inf, "output": 0.25}, weight_norms={"hidden1": -inf, "output": 2.0},
                    activation_stats={"hidden1": {"mean": nan, "std": 1.0, "saturated": 0.0}})
    assert "Infinity" in json.dumps(snap.to_json_dict())  # what plain json.dumps would have written
    line = json_line(snap.to_json_dict())
    assert line.endswith("\n") and "\n" not in line[:-1]
    back = _strict_json(line)
    assert back["train_loss"] is None and back["test_loss"] is None and back["test_accuracy"] is None
    assert back["grad_norms"] == {"hidden1": None, "output": 0.25}
    assert back["weight_norms"] == {"hidden1": None, "output": 2.0}
    assert back["activation_stats"]["hidden1"] == {"mean": None, "std": 1.0, "saturated": 0.0}
    assert back["step"] == 3 and back["diverged"] is False  # ints and booleans pass untouched
    assert _strict_json(json_line({"nested": [[inf, 1.5], (nan,)]})) == {"nested": [[None, 1.5], [None]]}


def test_train_writes_strict_json_when_a_probe_reads_inf(tmp_path, monkeypatch):
    # the real train command, in-process, with the gradient-norm probe reading inf and NaN
    import engine.mlp.trainer
    from engine.__main__ import main
    monkeypatch.setattr(engine.mlp.trainer, "gradient_norms_by_layer",
                        lambda model: torch.tensor([float("inf"), float("nan"), 0.5]))
    out = tmp_path / "run.jsonl"
    threads = torch.get_num_threads()
    try:
        assert main(["train", str(EXAMPLE), "--steps", "20", "--every", "10", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # the CLI runs on one thread; give the test process its threads back
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    records = [_strict_json(line) for line in lines]  # every line, the done line included
    for snap in records[:-1]:
        assert snap["grad_norms"] == {"hidden1": None, "hidden2": None, "output": 0.5}
        assert math.isfinite(snap["train_loss"])
    assert records[-1]["done"] is True and records[-1]["steps"] == 20
