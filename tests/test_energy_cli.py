"""The energy lab's tasks through the command line: `python -m engine train` for boltzmann, rbm and dbn in
subprocesses started at once, as a user runs them, their JSON lines checked against the library run in
this process; `defaults` and `validate` through the CLI's entry point."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.__main__ import main as cli_main
from engine.energy import BoltzmannConfig, BoltzmannTrainer, DBNConfig, RBMConfig, RBMTrainer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "boltzmann": {"task": "boltzmann", "hidden": 2, "chains": 20},
    "rbm": {"task": "rbm", "hidden": 16},
    "dbn": {"task": "dbn", "hidden": [16], "pretrain_steps": 10, "labelled": [20, 0], "finetune_steps": 5},
}
STEPS = {"boltzmann": (6, 3), "rbm": (6, 3), "dbn": (30, 10)}   # --steps, --every


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("energy_cli")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {}
    for task, config in CONFIGS.items():
        (tmp / f"{task}.json").write_text(json.dumps(config))
        steps, every = STEPS[task]
        procs[task] = subprocess.Popen([sys.executable, "-m", "engine", "train", str(tmp / f"{task}.json"), "--steps",
                                        str(steps), "--every", str(every), "--device", "cpu"],
                                       cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return {task: (proc, *proc.communicate(timeout=300)) for task, proc in procs.items()}


def _strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def _lines(runs, task):
    proc, out, err = runs[task]
    assert proc.returncode == 0, err
    *snaps, done = [_strict_json(line) for line in out.splitlines()]
    assert done["done"] is True and done["device"] == "cpu" and done["diverged"] is False
    return snaps, done


@pytest.mark.parametrize("task, cls", [("boltzmann", BoltzmannConfig), ("rbm", RBMConfig), ("dbn", DBNConfig)])
def test_defaults_print_the_default_config(task, cls, capsys):
    assert cli_main(["defaults", "--task", task]) == 0
    assert cls.from_dict(json.loads(capsys.readouterr().out)) == cls()


def test_an_invalid_config_exits_2_naming_its_field(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"task": "boltzmann", "data": "shifter4", "hidden": 10}))
    assert cli_main(["validate", str(tmp_path / "bad.json")]) == 2
    assert capsys.readouterr().err.startswith("invalid config: hidden: 21 units in all is too many to enumerate")


def _library_run(trainer, snaps, every):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as the CLI runs: the same numbers, bit for bit
    try:
        return [trainer.step(every).to_json_dict() for _ in snaps]
    finally:
        torch.set_num_threads(threads)


def test_boltzmann_lines_carry_the_exact_kl_and_match_the_library(runs):
    snaps, done = _lines(runs, "boltzmann")
    assert [s["step"] for s in snaps] == [3, 6] and done["steps"] == 6
    assert all(s["kl"] > 0 for s in snaps)
    trainer = BoltzmannTrainer(BoltzmannConfig.from_dict(CONFIGS["boltzmann"]), "cpu")
    assert _library_run(trainer, snaps, 3) == snaps


def test_rbm_lines_carry_the_reconstruction_error_and_the_free_energy_gap(runs):
    snaps, _ = _lines(runs, "rbm")
    assert all({"step", "recon_error", "free_energy_gap", "epoch"} <= set(s) for s in snaps)
    trainer = RBMTrainer(RBMConfig.from_dict(CONFIGS["rbm"]), "cpu")
    assert _library_run(trainer, snaps, 3) == snaps


def test_dbn_lines_go_through_pretraining_to_the_test_accuracy_and_stop_when_done(runs):
    snaps, done = _lines(runs, "dbn")
    # 10 pretraining steps, then 5 fine-tuning steps for 20 labelled digits and 5 for all: done at step 20
    assert [(s["step"], s["phase"]) for s in snaps] == [(10, "finetune"), (20, "done")] and done["steps"] == 20
    assert snaps[0]["test_accuracy"] is None          # NaN before any fine-tuning is written as null
    last = snaps[-1]
    assert last["finished"] and 0 <= last["test_accuracy"] <= 1 and set(last["results"]) == {"20", str(last["labelled"])}
    assert last["test_accuracy"] == last["results"][str(last["labelled"])]["pretrained"]
