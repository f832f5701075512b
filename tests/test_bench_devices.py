"""bench/devices.py: the CPU/GPU benchmark runs both workloads, measures something, and
computes the GPU/CPU ratio from the two medians it compares. Tiny step and repeat counts:
this checks the plumbing, not the speed."""
from __future__ import annotations

import json
import math

import pytest
import torch

from bench.devices import (NO_CUDA_LINE, WORKLOADS, autoencoder_config, check_measured, gpu_cpu_ratio, main, run_all,
                           summarize, table, transformer_config)
from engine.autoencoders.config import AutoencoderConfig
from engine.sequence.config import default_models

CPU = torch.device("cpu")


def _spread(stats: dict) -> None:
    assert set(stats) == {"min", "median", "max"} and stats["min"] <= stats["median"] <= stats["max"]
    for key, value in stats.items():
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)


@pytest.fixture(scope="module")
def cpu_results() -> dict:
    return run_all([CPU], repeats=2, steps=2, warmup_steps=1)


def test_workloads_are_the_app_defaults():
    c = transformer_config()
    transformer = next(m for m in default_models() if m.arch == "transformer")
    assert c.corpus == "guides" and c.models == [transformer] and c.labels() == ["Transformer"]
    assert autoencoder_config() == AutoencoderConfig()


def test_cpu_run_measures_every_workload(cpu_results):
    assert set(cpu_results) == set(WORKLOADS)
    for r in cpu_results.values():
        assert r["steps_per_repeat"] == 2 and set(r["steps_per_s"]) == {"cpu"}
        _spread(r["steps_per_s"]["cpu"])
        assert r["gpu_cpu_ratio"] is None  # one device: nothing to compare
    check_measured(cpu_results)
    rows = table(cpu_results)
    assert len(rows) == 2 * len(WORKLOADS) and all(len(row) == 3 for row in rows)
    assert [ratio for _, _, ratio in rows if ratio] == ["1.00"] * len(WORKLOADS)


def test_ratio_is_the_quotient_of_the_two_medians(cpu_results):
    cpu = cpu_results["charlm_transformer"]["steps_per_s"]["cpu"]
    cuda = {"min": 3 * cpu["min"], "median": 3.7 * cpu["median"], "max": 4 * cpu["max"]}
    r = summarize(2, {"cpu": cpu, "cuda": cuda})
    assert r["gpu_cpu_ratio"] == cuda["median"] / cpu["median"]
    assert gpu_cpu_ratio({"cuda": cuda}) is None and gpu_cpu_ratio({"cpu": cpu}) is None
    rows = table({"charlm_transformer": r})
    assert [row[0].strip() for row in rows[1:]] == ["cpu (baseline)", "cuda"]
    assert rows[1][2] == "1.00" and rows[2][2] == f"{cuda['median'] / cpu['median']:.2f}"
    check_measured({"charlm_transformer": r})
    r["steps_per_s"]["cuda"]["median"] = float("nan")
    with pytest.raises(RuntimeError, match="measured nothing"):
        check_measured({"charlm_transformer": r})


def test_main_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "devices.json"
    assert main(["--repeats", "1", "--steps", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())  # valid JSON, written with allow_nan=False
    assert f"cpu ({torch.get_num_threads()} thread" in printed.splitlines()[0]
    assert "char-level Transformer" in printed and "digits autoencoder" in printed
    assert set(saved) == {"meta", *WORKLOADS}
    assert saved["meta"]["cpu_threads"] == torch.get_num_threads() and saved["meta"]["steps"] == 1
    assert saved["meta"]["workloads"]["charlm_transformer"] == transformer_config().to_dict()
    for name in WORKLOADS:
        _spread(saved[name]["steps_per_s"]["cpu"])
    if torch.cuda.is_available():
        assert all(saved[name]["gpu_cpu_ratio"] > 0 for name in WORKLOADS) and NO_CUDA_LINE not in printed
    else:
        assert all(saved[name]["gpu_cpu_ratio"] is None for name in WORKLOADS)
        assert printed.count(NO_CUDA_LINE) == 1


def test_main_refuses_empty_runs():
    with pytest.raises(SystemExit):
        main(["--steps", "0"])
    with pytest.raises(SystemExit):
        main(["--repeats", "0"])
