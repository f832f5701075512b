"""The ntm task through the command line: `python -m engine train` in a subprocess, as a user runs it,
and `defaults --task ntm` and `validate` through the CLI's entry point in this process; the same
JSON-lines contract as the other tasks, and the same numbers as the library."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from engine.__main__ import main as cli_main
from engine.ntm import NTMConfig, NTMTrainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"task": "ntm", "data": {"bits": 3, "max_length": 3}, "model": {"controller": 8, "memory_slots": 6,
                                                                       "memory_width": 4},
         "train": {"batch_size": 4, "max_steps": 4}}
SNAPSHOT_KEYS = {"step", "loss", "bit_error", "lstm_loss", "lstm_bit_error", "lr", "diverged", "finished"}


def _strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def test_defaults_print_the_default_config(capsys):
    assert cli_main(["defaults", "--task", "ntm"]) == 0
    assert NTMConfig.from_dict(json.loads(capsys.readouterr().out)) == NTMConfig()


def test_validate_fills_in_defaults_and_an_invalid_config_exits_2_naming_the_field(tmp_path, capsys):
    (tmp_path / "small.json").write_text(json.dumps(SMALL))
    assert cli_main(["validate", str(tmp_path / "small.json")]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is True and answer["config"] == NTMConfig.from_dict(SMALL).to_dict()
    (tmp_path / "bad.json").write_text(json.dumps({"task": "ntm", "data": {"max_length": 40}}))
    assert cli_main(["validate", str(tmp_path / "bad.json")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "invalid config: data.max_length: longest sequence must be 1..32, got 40\n"


def test_train_writes_json_lines_that_match_the_library_and_stops_when_finished(tmp_path):
    (tmp_path / "small.json").write_text(json.dumps(SMALL))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "engine", "train", str(tmp_path / "small.json"), "--steps", "10",
                           "--every", "3", "--device", "cpu"], cwd=ROOT, env=env, text=True, capture_output=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    *snaps, done = [_strict_json(line) for line in proc.stdout.splitlines()]
    assert [(s["step"], s["finished"]) for s in snaps] == [(3, False), (4, True)]
    for s in snaps:
        assert set(s) == SNAPSHOT_KEYS and 0 <= s["bit_error"] <= 1 and 0 <= s["lstm_bit_error"] <= 1
        assert math.isfinite(s["loss"]) and math.isfinite(s["lstm_loss"]) and not s["diverged"]
    assert done["done"] is True and done["steps"] == 4 and done["device"] == "cpu" and done["diverged"] is False
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as the CLI runs: the same numbers, bit for bit
    try:
        trainer = NTMTrainer(NTMConfig.from_dict(SMALL), "cpu")
        assert [trainer.step(3).to_json_dict() for _ in snaps] == snaps
    finally:
        torch.set_num_threads(threads)
