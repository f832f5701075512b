"""python -m bench [--json PATH] [--repeats N] [--device cpu]: run the benchmarks, print a table.

CPU ops run on one thread, as in the app and the CLI (engine.device.use_one_cpu_thread).
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

from engine.device import DEVICE_CHOICES, describe_device, pick_device, use_one_cpu_thread

from .cases import FRAME_SECONDS, frame_budget, probe_cost, trainer_vs_plain
from .workload import describe, playground_config


def run_all(device: torch.device, repeats: int) -> dict:
    a = trainer_vs_plain(device, repeats)
    b = probe_cost(device, repeats)
    c = frame_budget(device, repeats, FRAME_SECONDS)
    return {"trainer_vs_plain": a, "probe_cost": b, "frame_budget": c}


def table(results: dict) -> list[tuple[str, str, str]]:
    """(what, measured, ratio to the baseline) rows of the printed table."""
    a, b, c = results["trainer_vs_plain"], results["probe_cost"], results["frame_budget"]
    return [
        ("(a) trainer vs plain loop", "", ""),
        ("    plain PyTorch loop (baseline)", f"{a['plain_epochs_per_s']:.1f} epochs/s", "1.00"),
        (f"    Trainer.step({a['epochs_per_repeat']} epochs)", f"{a['trainer_epochs_per_s']:.1f} epochs/s",
         f"{a['ratio']:.2f}"),
        ("(b) probe cost", "", ""),
        ("    Trainer, grad-norm probe off (baseline)", f"{b['steps_per_s_unprobed']:.0f} steps/s", "1.00"),
        ("    Trainer, grad-norm probe on", f"{b['steps_per_s_probed']:.0f} steps/s",
         f"{b['ratio']:.2f} ({b['overhead_percent']:+.1f}% time)"),
        ("    snapshot(plane_resolution=50)", f"{b['snapshot_ms']:.2f} ms", f"= {b['snapshot_in_steps']:.1f} steps"),
        ("    plane_outputs(resolution=24, neurons=True)", f"{b['plane_outputs_ms']:.2f} ms",
         f"= {b['plane_outputs_in_steps']:.1f} steps"),
        (f"(c) frame budget: train_for({c['train_seconds']:g}) + snapshot", "", ""),
        (f"    plain loop in {c['train_seconds']:g} s (baseline)", f"{c['plain_epochs_in_frame']:.2f} epochs", "1.00"),
        ("    one Playground frame", f"{c['epochs_per_frame']:.2f} epochs", f"{c['ratio']:.2f}"),
        ("    steps per frame", f"{c['steps_per_frame']:.0f}", ""),
        ("    frame wall time, snapshot included", f"{c['frame_ms']:.0f} ms", ""),
    ]


def _check_measured(results: dict) -> None:
    """Every number finite, every speed and time above zero. (An overhead can come out
    below zero: with noise the probed run is sometimes the faster.)"""
    for case, values in results.items():
        for key, value in values.items():
            signed = key == "overhead_percent"
            if not (isinstance(value, (int, float)) and math.isfinite(value) and (signed or value > 0)):
                raise RuntimeError(f"{case}.{key} is {value!r}: a benchmark measured nothing")


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
    print(f"workload: {describe(config)}")
    rows = table(results)
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
