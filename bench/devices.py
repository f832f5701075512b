"""python -m bench.devices [--repeats N] [--steps N] [--json PATH]: training speed on CPU and GPU.

Two workloads, each the app's own default setup:
  charlm_transformer  engine/sequence/trainer.py CharLMTrainer, one model: the Sequence page's default
                      Transformer (default_models()), corpus "guides", every other field default;
  digits_autoencoder  engine/autoencoders/trainer.py AutoencoderTrainer with AutoencoderConfig() (the
                      scikit-learn digits, deep autoencoder, 2-D code).
For each workload and each device present ("cpu" always, "cuda" when torch sees one), a fresh
trainer is built on that device, warmed up with a few untimed steps, then `trainer.step(steps)`
is timed `repeats` times (bench.timing.seconds_stats: the devices take turns, CUDA is
synchronised before and after each call). One call is what a page does per frame: `steps`
optimisation steps and a snapshot. Reported: training steps per second, median (min..max),
per device, and the GPU/CPU ratio of the two medians when both ran.

CPU runs keep torch's default thread count (unlike `python -m bench`, which runs the
Playground's tiny networks on one thread): the Transformer's matrix products are the kind
that threads help, and the header says how many there were.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from engine.autoencoders.config import AutoencoderConfig
from engine.autoencoders.trainer import AutoencoderTrainer
from engine.sequence.config import ARCH_NAMES, CharLMConfig, default_models
from engine.sequence.trainer import CharLMTrainer

from .timing import seconds_stats

WARMUP_STEPS = 10       # untimed steps on each fresh trainer: kernels, allocator and optimizer state set up
DEFAULT_STEPS = 100     # optimisation steps per timed trainer.step call
DEFAULT_REPEATS = 7
NO_CUDA_LINE = "no CUDA device here: GPU/CPU ratio not measured"


def transformer_config() -> CharLMConfig:
    """The Sequence page's defaults with its Transformer as the only model."""
    transformer = next(m for m in default_models() if m.arch == "transformer")
    return CharLMConfig(corpus="guides", models=[transformer])


def autoencoder_config() -> AutoencoderConfig:
    return AutoencoderConfig()


def _describe_transformer(c: CharLMConfig) -> str:
    m = c.models[0]
    return (f"{ARCH_NAMES[m.arch]} {m.layers} blocks x {m.hidden} wide, {m.heads} heads, {m.positions} positions, "
            f"{m.optimizer} lr {m.lr:g}; corpus {c.corpus!r}, context {c.context}, batch {c.batch_size}")


def _describe_autoencoder(c: AutoencoderConfig) -> str:
    m, t = c.model, c.train
    return (f"{m.kind} autoencoder, {m.depth} x {m.hidden} {m.activation}, code {m.latent_dim}; "
            f"digits, {t.loss} loss, {t.optimizer} lr {t.lr:g}, batch {t.batch_size}")


# name -> (title, config factory, trainer class, one-line description)
WORKLOADS: dict[str, tuple[str, Callable, type, Callable]] = {
    "charlm_transformer": ("char-level Transformer (Sequence page)", transformer_config, CharLMTrainer,
                           _describe_transformer),
    "digits_autoencoder": ("digits autoencoder (Autoencoders page)", autoencoder_config, AutoencoderTrainer,
                           _describe_autoencoder),
}


def available_devices() -> list[torch.device]:
    """CPU always, then CUDA when PyTorch sees a GPU."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    return devices


def describe_devices(devices: list[torch.device]) -> str:
    """'cpu (2 threads)' or 'cpu (16 threads), cuda (NVIDIA H100 80GB HBM3)'."""
    parts = []
    for d in devices:
        if d.type == "cpu":
            n = torch.get_num_threads()
            parts.append(f"cpu ({n} thread{'s' if n != 1 else ''})")
        elif d.type == "cuda":
            parts.append(f"cuda ({torch.cuda.get_device_name(d)})")
        else:
            parts.append(d.type)
    return ", ".join(parts)


def _per_second(stats: dict[str, float], steps: int) -> dict[str, float]:
    """Seconds (min, median, max) of one call -> steps per second (the fastest call gives the max)."""
    return {"min": steps / stats["max"], "median": steps / stats["median"], "max": steps / stats["min"]}


def gpu_cpu_ratio(steps_per_s: dict[str, dict[str, float]]) -> float | None:
    """Median steps/s on CUDA over median steps/s on CPU; None unless both were measured."""
    if "cuda" not in steps_per_s or "cpu" not in steps_per_s:
        return None
    return steps_per_s["cuda"]["median"] / steps_per_s["cpu"]["median"]


def summarize(steps: int, steps_per_s: dict[str, dict[str, float]]) -> dict:
    """One workload's result from its per-device steps/s (min, median, max)."""
    return {"steps_per_repeat": steps, "steps_per_s": steps_per_s, "gpu_cpu_ratio": gpu_cpu_ratio(steps_per_s)}


def measure(name: str, devices: list[torch.device], repeats: int, steps: int,
            warmup_steps: int = WARMUP_STEPS) -> dict[str, dict[str, float]]:
    """Steps per second (min, median, max) of `trainer.step(steps)` for one workload on each device."""
    _, make_config, trainer_cls, _ = WORKLOADS[name]
    trainers = {}
    for device in devices:
        trainer = trainer_cls(make_config(), device)
        if warmup_steps:
            trainer.step(warmup_steps)
        trainers[device.type] = trainer
    # The devices take turns; time_once synchronises the GPU (a no-op for the CPU-only case).
    sync = devices[-1]
    fns = {key: (lambda t=trainer: t.step(steps)) for key, trainer in trainers.items()}
    stats = seconds_stats(fns, sync, repeats, warmup=0)
    for key, trainer in trainers.items():
        if trainer.step_count != warmup_steps + repeats * steps:
            raise RuntimeError(f"{name} on {key} ran {trainer.step_count} steps, expected "
                               f"{warmup_steps + repeats * steps} (stopped early: diverged or a step limit)")
    return {key: _per_second(s, steps) for key, s in stats.items()}


def run_all(devices: list[torch.device], repeats: int, steps: int, warmup_steps: int = WARMUP_STEPS) -> dict:
    return {name: summarize(steps, measure(name, devices, repeats, steps, warmup_steps)) for name in WORKLOADS}


def check_measured(results: dict) -> None:
    """Every speed finite and above zero, every ratio either None or finite and above zero."""
    for name, r in results.items():
        for device, stats in r["steps_per_s"].items():
            for key, value in stats.items():
                if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                    raise RuntimeError(f"{name}.{device}.{key} is {value!r}: a benchmark measured nothing")
        ratio = r["gpu_cpu_ratio"]
        if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
            raise RuntimeError(f"{name}.gpu_cpu_ratio is {ratio!r}: a benchmark measured nothing")


def _mmm(stats: dict, fmt: str, unit: str) -> str:
    return f"{stats['median']:{fmt}} {unit} ({stats['min']:{fmt}}..{stats['max']:{fmt}})"


def table(results: dict) -> list[tuple[str, str, str]]:
    """(what, measured, ratio) rows: per workload a title, one row per device, CPU the baseline."""
    rows = []
    for name, r in results.items():
        rows.append((f"{WORKLOADS[name][0]}: trainer.step({r['steps_per_repeat']})", "median (min..max)", ""))
        for device, stats in r["steps_per_s"].items():
            if device == "cpu":
                ratio = "1.00"
            elif device == "cuda" and r["gpu_cpu_ratio"] is not None:
                ratio = f"{r['gpu_cpu_ratio']:.2f}"
            else:
                ratio = ""
            rows.append((f"    {device}" + (" (baseline)" if device == "cpu" else ""),
                         _mmm(stats, ".1f", "steps/s"), ratio))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.devices", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help="timed trainer.step calls per device; the median is kept")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="optimisation steps per timed call")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    devices = available_devices()
    start = time.perf_counter()
    results = run_all(devices, args.repeats, args.steps)
    check_measured(results)
    seconds = time.perf_counter() - start
    print(f"Neural Playground, CPU vs GPU: {describe_devices(devices)}, torch {torch.__version__}, "
          f"Python {platform.python_version()}, median of {args.repeats}, {WARMUP_STEPS} warm-up steps")
    for name, (_, make_config, _, describe) in WORKLOADS.items():
        print(f"{name}: {describe(make_config())}")
    rows = table(results)
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"{'':{w0}}  {'measured':>{w1}}  ratio to CPU")
    for what, measured, ratio in rows:
        print(f"{what:{w0}}  {measured:>{w1}}  {ratio}".rstrip())
    if all(r["gpu_cpu_ratio"] is None for r in results.values()):
        print(NO_CUDA_LINE)
    print(f"({seconds:.1f} s)")
    if args.json:
        meta = {"devices": [d.type for d in devices], "device_names": describe_devices(devices),
                "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
                "python": platform.python_version(), "repeats": args.repeats, "steps": args.steps,
                "warmup_steps": WARMUP_STEPS, "seconds": seconds,
                "workloads": {name: make_config().to_dict() for name, (_, make_config, _, _) in WORKLOADS.items()}}
        Path(args.json).write_text(json.dumps({"meta": meta, **results}, indent=2, allow_nan=False) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
