"""python -m bench [--json PATH] [--repeats N] [--device cpu]: run the benchmarks, print a table.

CPU ops run on one thread, as in the app and the CLI (engine.core.device.use_one_cpu_thread).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

from engine.core.device import DEVICE_CHOICES, describe_device, pick_device, use_one_cpu_thread

from .cases import FRAME_SECONDS, autosave_cost, frame_budget, probe_cost, trainer_vs_plain
from .cnn import cnn_time_to_accuracy, cnn_trainer_vs_plain
from .targets import p1_single_network, p2_many_variants, p4_probe_cost
from .workload import describe, playground_config, tfp_config


def run_all(device: torch.device, repeats: int) -> dict:
    p1 = p1_single_network(device, repeats)
    p2 = p2_many_variants(device, repeats)
    p4 = p4_probe_cost(device, repeats)
    a = trainer_vs_plain(device, repeats)
    b = probe_cost(device, repeats)
    c = frame_budget(device, repeats, FRAME_SECONDS)
    d = autosave_cost(device, repeats, FRAME_SECONDS)
    c1 = cnn_trainer_vs_plain(device, repeats)
    c2 = cnn_time_to_accuracy(device, runs=min(repeats, 3))
    return {"p1_single_network": p1, "p2_many_variants": p2, "p4_probe_cost": p4,
            "trainer_vs_plain": a, "probe_cost": b, "frame_budget": c, "autosave_cost": d,
            "cnn_trainer_vs_plain": c1, "cnn_time_to_accuracy": c2}


def _mmm(stats: dict, fmt: str, unit: str) -> str:
    """'median unit (min..max)'."""
    return f"{stats['median']:{fmt}} {unit} ({stats['min']:{fmt}}..{stats['max']:{fmt}})"


def target_rows(results: dict) -> list[tuple[str, str, str]]:
    p1, p2, p4 = results["p1_single_network"], results["p2_many_variants"], results["p4_probe_cost"]
    return [
        ("P1 one network, TF Playground defaults (target >= 6x)", "median (min..max)", ""),
        ("    plain PyTorch loop (baseline)", _mmm(p1["plain_epochs_per_s"], ".1f", "epochs/s"), "1.00"),
        ("    fused path (engine/mlp/fast_mlp.py)", _mmm(p1["fast_epochs_per_s"], ".1f", "epochs/s"), f"{p1['ratio']:.2f}"),
        (f"    Trainer.step({p1['epochs_per_repeat']} epochs), fused path", _mmm(p1["trainer_epochs_per_s"], ".1f", "epochs/s"),
         f"{p1['trainer_ratio']:.2f}"),
        ("    first use of the fused path: step(25)", f"{p1['first_call_s']:.3f} s", "(limit 2 s)"),
        (f"    max |weight difference| after {p1['epochs_compared']} epochs", f"{p1['max_weight_difference']:.1e}",
         "fused vs plain"),
        (f"P2 {p2['variants']} variants at once (target >= {p2['variants']}x)", "", ""),
        ("    plain loop, per step (baseline)", _mmm(p2["plain_us_per_step"], ".1f", "us"), "1.00"),
        ("    batched (engine/mlp/batched_mlp.py), per network-step", _mmm(p2["batched_us_per_network_step"], ".2f", "us"),
         f"{p2['ratio']:.1f}"),
        ("P4 per-step probes on the fused path (target <= +10 %)", "", ""),
        ("    no probes (baseline)", _mmm(p4["bare_steps_per_s"], ".0f", "steps/s"), "1.00"),
        ("    grad norms + activation stats every step", _mmm(p4["probed_steps_per_s"], ".0f", "steps/s"),
         f"{p4['overhead_percent']:+.1f}% time"),
        ("    Trainer, record_grad_norms off (baseline)", _mmm(p4["trainer_record_off_steps_per_s"], ".0f", "steps/s"), "1.00"),
        ("    Trainer, record_grad_norms on", _mmm(p4["trainer_record_on_steps_per_s"], ".0f", "steps/s"),
         f"{p4['trainer_overhead_percent']:+.1f}% time"),
    ] + cnn_rows(results)


def cnn_rows(results: dict) -> list[tuple[str, str, str]]:
    c1, c2 = results["cnn_trainer_vs_plain"], results["cnn_time_to_accuracy"]
    return [
        (f"C1 the cnn task's default network (target <= {c1['target_time_ratio']:g}x time)", "", ""),
        ("    plain PyTorch loop (baseline)", f"{c1['plain_steps_per_s']:.1f} steps/s", "1.00"),
        (f"    CNNTrainer.step({c1['steps_per_repeat']}), snapshot included", f"{c1['trainer_steps_per_s']:.1f} steps/s",
         f"{c1['time_ratio']:.2f}x time"),
        ("    one snapshot (training, test and moved test images)", f"{c1['snapshot_ms']:.0f} ms", ""),
        (f"    max |weight difference| after {c1['steps_compared']} steps", f"{c1['max_weight_difference']:.1e}",
         "trainer vs plain"),
        (f"C2 the default cnn config to {100 * c2['target_accuracy']:g} % test accuracy", "", ""),
        (f"    steps (a snapshot every {c2['chunk_steps']})", f"{c2['steps']}",
         "reached" if c2["reached"] else f"not reached ({100 * c2['test_accuracy']:.1f} %)"),
        ("    training time, and with the snapshots", f"{c2['training_seconds']:.1f} s, {c2['wall_seconds']:.1f} s", ""),
    ]


def table(results: dict) -> list[tuple[str, str, str]]:
    """(what, measured, ratio to the baseline) rows of the printed table."""
    a, b, c, d = (results["trainer_vs_plain"], results["probe_cost"], results["frame_budget"],
                  results["autosave_cost"])
    return [
        ("(a) trainer vs plain loop", "", ""),
        ("    plain PyTorch loop (baseline)", f"{a['plain_epochs_per_s']:.1f} epochs/s", "1.00"),
        (f"    Trainer.step({a['epochs_per_repeat']} epochs)", f"{a['trainer_epochs_per_s']:.1f} epochs/s",
         f"{a['ratio']:.2f}"),
        ("(b) probe cost", "", ""),
        ("    Trainer, last-step grad-norm read stubbed (baseline)", f"{b['steps_per_s_unprobed']:.0f} steps/s", "1.00"),
        ("    Trainer, last-step grad-norm read on", f"{b['steps_per_s_probed']:.0f} steps/s",
         f"{b['ratio']:.2f} ({b['overhead_percent']:+.1f}% time)"),
        ("    snapshot(plane_resolution=50)", f"{b['snapshot_ms']:.2f} ms", f"= {b['snapshot_in_steps']:.1f} steps"),
        ("    plane_outputs(resolution=24, neurons=True)", f"{b['plane_outputs_ms']:.2f} ms",
         f"= {b['plane_outputs_in_steps']:.1f} steps"),
        (f"(c) frame budget: train_for({c['train_seconds']:g}) + snapshot", "", ""),
        (f"    plain loop in {c['train_seconds']:g} s (baseline)", f"{c['plain_epochs_in_frame']:.2f} epochs", "1.00"),
        ("    one Playground frame", f"{c['epochs_per_frame']:.2f} epochs", f"{c['ratio']:.2f}"),
        ("    steps per frame", f"{c['steps_per_frame']:.0f}", ""),
        ("    frame wall time, snapshot included", f"{c['frame_ms']:.0f} ms", ""),
        (f"(d) autosave every {d['autosave_seconds']:g} s (target <= 5 % of the live epochs/s)", "", ""),
        ("    live frames, no saving (baseline)", f"{d['epochs_per_s']:.0f} epochs/s", "1.00"),
        ("    live frames with autosave", f"{d['epochs_per_s_with_autosave']:.0f} epochs/s",
         f"{d['ratio']:.3f} ({d['overhead_percent']:+.2f}% time)"),
        (f"    one save: checkpoint + SQLite put ({d['checkpoint_bytes'] / 1024:.0f} KB)", f"{d['save_ms']:.1f} ms", ""),
    ]


def _check_measured(results: dict) -> None:
    """Every number finite, every speed and time above zero. (An overhead can come out
    below zero: with noise the probed run is sometimes the faster.)"""
    for case, values in results.items():
        for key, value in _flat(values):
            signed = key.endswith("overhead_percent") or key == "max_weight_difference"
            if isinstance(value, bool):
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and (signed or value > 0)):
                raise RuntimeError(f"{case}.{key} is {value!r}: a benchmark measured nothing")


def _flat(values: dict, prefix: str = ""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement; the median is kept")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="cpu",
                        help="cpu (default, as the Playground's tiny networks run best) or auto/cuda/mps")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    use_one_cpu_thread()
    device = pick_device(args.device)
    config = playground_config()
    start = time.perf_counter()
    results = run_all(device, args.repeats)
    _check_measured(results)
    header = (f"Neural Playground benchmarks: {describe_device(device)}, torch {torch.__version__}, "
              f"Python {platform.python_version()}, median of {args.repeats}")
    print(header)
    print(f"workloads: P1, P2, P4: {describe(tfp_config())}")
    print(f"           (a)-(c): {describe(config)}")
    print("           C1, C2: the cnn task's default config (python -m engine defaults --task cnn)")
    rows = target_rows(results) + table(results)
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"{'':{w0}}  {'measured':>{w1}}  ratio to baseline")
    for what, measured, ratio in rows:
        print(f"{what:{w0}}  {measured:>{w1}}  {ratio}".rstrip())
    seconds = time.perf_counter() - start
    print(f"({seconds:.1f} s)")
    if args.json:
        meta = {"device": describe_device(device), "torch": torch.__version__, "python": platform.python_version(),
                "repeats": args.repeats, "workload": config.to_dict(), "seconds": seconds}
        Path(args.json).write_text(json.dumps({"meta": meta, **results}, indent=2, allow_nan=False) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
