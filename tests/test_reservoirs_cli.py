"""The elm, esn and lsm tasks through the command line: `defaults --task` prints a config that loads
back, `validate` names a bad field with exit code 2, and `train` writes strict JSON lines with the
contract's keys (one run as a user starts it, `python -m engine` in a subprocess; the others in process)
that match the library's own snapshots."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.__main__ import main as cli_main
from engine.reservoirs import ELMConfig, ESNConfig, ESNTrainer, LSMConfig
from engine.tasks import config_class

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "elm": {"task": "elm", "model": {"hidden": 20}, "data": {"n_samples": 60}, "train": {"sweep": [2, 10, 40]}},
    "esn": {"task": "esn", "model": {"size": 40}, "data": {"train_length": 300, "test_length": 100},
            "train": {"samples_per_step": 150}},
    "lsm": {"task": "lsm", "model": {"size": 30}, "data": {"steps_per_row": 2}, "train": {"samples_per_step": 700}},
}
KEY = {"elm": "test_accuracy", "esn": "test_nrmse", "lsm": "test_accuracy"}


def _strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("task, cls", [("elm", ELMConfig), ("esn", ESNConfig), ("lsm", LSMConfig)])
def test_defaults_print_the_default_config(task, cls, capsys):
    assert cli_main(["defaults", "--task", task]) == 0
    assert config_class(task) is cls and cls.from_dict(json.loads(capsys.readouterr().out)) == cls()


def test_validate_names_the_bad_field(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"task": "esn", "model": {"spectral_radius": 7}}))
    assert cli_main(["validate", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err == "invalid config: model.spectral_radius: spectral radius must be 0..3, got 7\n"


@pytest.mark.parametrize("task", ["elm", "lsm"])
def test_train_in_process_writes_snapshots_until_finished(task, tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps(SMALL[task]))
    assert cli_main(["train", str(tmp_path / "c.json"), "--steps", "10", "--every", "1", "--device", "cpu"]) == 0
    *snaps, done = [_strict_json(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["step"] for s in snaps] == list(range(1, len(snaps) + 1)) and snaps[-1]["finished"]
    assert len(snaps) == {"elm": 3, "lsm": 3}[task] and done["done"] is True and done["steps"] == len(snaps)
    assert all(0 <= s[KEY[task]] <= 1 for s in snaps)


def test_train_as_a_user_runs_it_matches_the_library(tmp_path):
    (tmp_path / "esn.json").write_text(json.dumps(SMALL["esn"]))
    proc = subprocess.run([sys.executable, "-m", "engine", "train", str(tmp_path / "esn.json"), "--steps", "3",
                           "--every", "1", "--device", "cpu"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    *snaps, done = [_strict_json(line) for line in proc.stdout.splitlines()]
    assert [s["step"] for s in snaps] == [1, 2, 3] and done["device"] == "cpu"
    assert all(s["test_nrmse"] > 0 and s["test_accuracy"] is None for s in snaps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = ESNTrainer(ESNConfig.from_dict(SMALL["esn"]), "cpu")
        ours = [trainer.step(1).to_json_dict() for _ in snaps]
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(ours, snaps):
        assert a.keys() == b.keys() and a["step"] == b["step"]
        assert a["test_nrmse"] == pytest.approx(b["test_nrmse"], rel=1e-9)
