"""The cnn task through the command line: `python -m engine train` in subprocesses, as a user runs it,
both started at once (each spends most of its time importing torch), and `defaults --task cnn` and
`validate` through the CLI's entry point in this process; the same JSON-lines contract as the other tasks."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.__main__ import main as cli_main
from engine.cnn import CNNConfig, CNNTrainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"task": "cnn", "model": {"channels": [4, 8], "padding": 1, "pool": "max", "head": "flatten", "dense": 16},
         "train": {"lr": 0.01, "max_steps": 0}}
SNAPSHOT_KEYS = {"step", "epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
                 "shifted_test_accuracy", "grad_norms", "lr", "diverged", "finished"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cnn_cli")
    (tmp / "small.json").write_text(json.dumps(SMALL))
    (tmp / "finishing.json").write_text(json.dumps({**SMALL, "train": {"max_steps": 4}}))
    commands = {
        "train": ["train", tmp / "small.json", "--steps", 6, "--every", 3, "--device", "cpu"],
        "finishing": ["train", tmp / "finishing.json", "--steps", 10, "--every", 3, "--device", "cpu"],
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {name: subprocess.Popen([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, args in commands.items()}
    return {name: (proc, *proc.communicate(timeout=300)) for name, proc in procs.items()}


def _strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def test_defaults_print_the_default_config(capsys):
    assert cli_main(["defaults", "--task", "cnn"]) == 0
    assert CNNConfig.from_dict(json.loads(capsys.readouterr().out)) == CNNConfig()


def test_validate_fills_in_defaults_and_an_invalid_config_exits_2_naming_field_and_sizes(tmp_path, capsys):
    (tmp_path / "small.json").write_text(json.dumps(SMALL))
    assert cli_main(["validate", str(tmp_path / "small.json")]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is True and answer["config"] == CNNConfig.from_dict(SMALL).to_dict()
    bad = {"task": "cnn", "model": {"channels": [4, 4, 4], "kernel": 5, "dilation": 2, "padding": 1, "pool": "max"}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert cli_main(["validate", str(tmp_path / "bad.json")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("invalid config: model.kernel: a 5×5 kernel (dilation 2: spans 9×9) does not fit the "
                          "1×1 map (3×3 padded) entering conv layer 2")


def test_train_writes_json_lines_that_match_the_library(runs):
    proc, out, err = runs["train"]
    assert proc.returncode == 0, err
    *snaps, done = [_strict_json(line) for line in out.splitlines()]
    assert [s["step"] for s in snaps] == [3, 6]
    for s in snaps:
        assert set(s) == SNAPSHOT_KEYS and list(s["grad_norms"]) == ["conv1", "conv2", "dense", "output"]
        assert all(math.isfinite(s[k]) for k in ("train_loss", "test_loss"))
        assert 0 <= s["shifted_test_accuracy"] <= 1 and not s["diverged"] and not s["finished"]
    assert done["done"] is True and done["steps"] == 6 and done["device"] == "cpu" and done["diverged"] is False
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as the CLI runs: the same numbers, bit for bit
    try:
        trainer = CNNTrainer(CNNConfig.from_dict(SMALL), "cpu")
        assert [trainer.step(3).to_json_dict() for _ in snaps] == snaps
    finally:
        torch.set_num_threads(threads)


def test_train_stops_when_the_config_says_finished(runs):
    proc, out, err = runs["finishing"]
    assert proc.returncode == 0, err
    *snaps, done = [_strict_json(line) for line in out.splitlines()]
    assert [(s["step"], s["finished"]) for s in snaps] == [(3, False), (4, True)] and done["steps"] == 4
