"""The benchmarks run, measure something, and compute each ratio from the two values it
compares. Tiny repeat counts: this checks the plumbing, not the speed."""
from __future__ import annotations

import json
import math

import pytest
import torch

import engine.mlp.trainer
from bench.__main__ import main, table, target_rows
from bench.cases import autosave_cost, frame_budget, gradient_norms_disabled, probe_cost, trainer_vs_plain
from bench.cnn import cnn_time_to_accuracy, cnn_trainer_vs_plain
from bench.targets import p1_single_network, p2_many_variants, p4_probe_cost
from bench.timing import median_seconds, seconds_stats
from bench.workload import PlainLoop, playground_config
from engine.mlp.trainer import Trainer

CPU = torch.device("cpu")


def _positive_finite(values: dict) -> None:
    for key, value in values.items():
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)


def test_workload_is_the_playground_default_and_the_plain_loop_learns():
    config = playground_config()
    assert (config.data.name, config.data.n_samples, config.data.test_fraction, config.data.features) == \
        ("circle", 500, 0.5, ["x1", "x2"])
    assert (config.model.hidden, config.model.activation) == ([4, 2], "tanh")
    assert (config.train.loss, config.train.optimizer, config.train.lr, config.train.batch_size) == ("bce", "sgd", 0.03, 10)
    plain, trainer = PlainLoop(config, CPU), Trainer(config, "cpu")
    assert torch.equal(plain.x, trainer.x_train)  # the same data
    assert plain.steps_per_epoch == 25

    def train_loss():
        with torch.no_grad():
            return float(plain.loss_fn(plain.model(plain.x).squeeze(-1), plain.y))
    before = train_loss()
    plain.run_epochs(30)
    assert train_loss() < 0.8 * before  # it is a real training loop, not an empty one


def test_trainer_vs_plain():
    r = trainer_vs_plain(CPU, repeats=1, epochs=1)
    _positive_finite(r)
    assert r["ratio"] == r["trainer_epochs_per_s"] / r["plain_epochs_per_s"]


def test_probe_cost():
    r = probe_cost(CPU, repeats=1, steps=20, read_repeats=1)
    _positive_finite({k: v for k, v in r.items() if k != "overhead_percent"})
    assert math.isfinite(r["overhead_percent"])
    assert r["ratio"] == r["steps_per_s_probed"] / r["steps_per_s_unprobed"]
    assert r["snapshot_in_steps"] == r["snapshot_ms"] / r["ms_per_step"]


def test_gradient_norm_stub_is_used_and_removed():
    original = engine.mlp.trainer.gradient_norms_by_layer
    t = Trainer(playground_config(), "cpu")
    with gradient_norms_disabled(3):
        assert set(t.step(3).grad_norms.values()) == {0.0}
    assert engine.mlp.trainer.gradient_norms_by_layer is original
    assert all(v > 0 for v in t.step(1).grad_norms.values())


def test_frame_budget():
    r = frame_budget(CPU, repeats=1, seconds=0.02, plain_epochs=1)
    _positive_finite(r)
    assert r["ratio"] == r["epochs_per_frame"] / r["plain_epochs_in_frame"]
    assert r["frame_ms"] >= 20  # train_for keeps training until its time is up


def _spread(stats: dict) -> None:
    assert set(stats) == {"min", "median", "max"} and stats["min"] <= stats["median"] <= stats["max"]
    _positive_finite(stats)


def test_p1_single_network():
    r = p1_single_network(CPU, repeats=1, epochs=1)
    for key in ("plain_epochs_per_s", "fast_epochs_per_s", "trainer_epochs_per_s"):
        _spread(r[key])
    assert r["ratio"] == r["fast_epochs_per_s"]["median"] / r["plain_epochs_per_s"]["median"]
    assert r["trainer_uses_fast_path"] is True
    assert r["max_weight_difference"] < 1e-5 and r["epochs_compared"] == 2  # warm-up + 1 timed epoch, same batches
    assert r["first_call_s"] > 0


def test_p2_many_variants():
    r = p2_many_variants(CPU, repeats=1, n_variants=4, epochs=1)
    _spread(r["plain_us_per_step"])
    _spread(r["batched_us_per_network_step"])
    assert r["ratio"] == r["plain_us_per_step"]["median"] / r["batched_us_per_network_step"]["median"]


def test_p4_probe_cost():
    r = p4_probe_cost(CPU, repeats=1, epochs=1)
    for key in ("bare_steps_per_s", "probed_steps_per_s", "trainer_record_off_steps_per_s",
                "trainer_record_on_steps_per_s"):
        _spread(r[key])
    assert math.isfinite(r["overhead_percent"]) and math.isfinite(r["trainer_overhead_percent"])


def test_seconds_stats_keep_every_run():
    calls = []
    t = seconds_stats({"a": lambda: calls.append(1)}, CPU, repeats=3, warmup=0)
    assert len(calls) == 3 and set(t) == {"a"}
    _spread(t["a"])


def test_median_of_interleaved_runs():
    calls = []
    t = median_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, CPU, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(t) == {"a", "b"}
    with pytest.raises(ValueError):
        median_seconds({"a": lambda: None}, CPU, repeats=0)


def test_main_prints_a_table_and_writes_json_only_when_asked(tmp_path, monkeypatch, capsys):
    import bench.__main__ as bench_main
    fake = {"p1_single_network": p1_single_network(CPU, repeats=1, epochs=1),
            "p2_many_variants": p2_many_variants(CPU, repeats=1, n_variants=2, epochs=1),
            "p4_probe_cost": p4_probe_cost(CPU, repeats=1, epochs=1),
            "trainer_vs_plain": trainer_vs_plain(CPU, repeats=1, epochs=1),
            "probe_cost": probe_cost(CPU, repeats=1, steps=10, read_repeats=1),
            "frame_budget": frame_budget(CPU, repeats=1, seconds=0.01, plain_epochs=1),
            "autosave_cost": autosave_cost(CPU, repeats=1, seconds=0.01),
            "cnn_trainer_vs_plain": cnn_trainer_vs_plain(CPU, repeats=1, steps=2),
            "cnn_time_to_accuracy": cnn_time_to_accuracy(CPU, target=0.15)}
    fake["probe_cost"]["overhead_percent"] = -3.0  # noise can make the probed run the faster one
    monkeypatch.setattr(bench_main, "run_all", lambda device, repeats: fake)
    monkeypatch.chdir(tmp_path)  # a default results file would land here
    threads = torch.get_num_threads()
    try:
        assert main(["--repeats", "1"]) == 0
        assert not list(tmp_path.iterdir())
        out = tmp_path / "results.json"
        assert main(["--repeats", "1", "--json", str(out)]) == 0
        saved = json.loads(out.read_text())
        fake["trainer_vs_plain"]["ratio"] = float("nan")
        with pytest.raises(RuntimeError, match="measured nothing"):
            main(["--repeats", "1"])
    finally:
        torch.set_num_threads(threads)  # main() runs on one thread, as the app; give pytest its threads back
    printed = capsys.readouterr().out
    assert "trainer vs plain loop" in printed and "probe cost" in printed and "frame budget" in printed
    assert "autosave every 5 s" in printed
    assert "P1 one network" in printed and "P2 2 variants" in printed and "P4 per-step probes" in printed
    assert "C1 the cnn task's default network" in printed and "C2 the default cnn config" in printed
    assert len(table(fake)) == 17 and len(target_rows(fake)) == 22
    assert saved["probe_cost"] == fake["probe_cost"]
    assert saved["meta"]["workload"] == playground_config().to_dict()


def test_autosave_cost():
    r = autosave_cost(CPU, repeats=2, seconds=0.02)
    _positive_finite(r)
    assert r["ratio"] == r["epochs_per_s_with_autosave"] / r["epochs_per_s"] < 1
    assert r["checkpoint_bytes"] > 1000  # a real checkpoint reached the store


def test_cnn_trainer_vs_plain_does_the_same_arithmetic():
    r = cnn_trainer_vs_plain(CPU, repeats=1, steps=3)
    _positive_finite({k: v for k, v in r.items() if k != "max_weight_difference"})
    assert r["time_ratio"] == r["plain_steps_per_s"] / r["trainer_steps_per_s"]
    assert r["max_weight_difference"] == 0.0 and r["steps_compared"] == 6  # same network, batches and updates


def test_cnn_time_to_accuracy_stops_at_the_target():
    r = cnn_time_to_accuracy(CPU, target=0.2)
    assert r["reached"] and r["test_accuracy"] >= 0.2 and r["steps"] % r["chunk_steps"] == 0 and r["steps"] > 0
    assert 0 < r["training_seconds"] < r["wall_seconds"]
