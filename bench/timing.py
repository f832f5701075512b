"""Timing helpers: warm up, repeat, take the median; alternate rivals so that a change
in the machine's load during the run hits both alike."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a timer stops when the work is done, not queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def median_seconds(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                   warmup: int = 1) -> dict[str, float]:
    """Median wall time of each function over `repeats` runs, after `warmup` untimed runs
    of each. The functions take turns (a, b, a, b, ...) rather than running in blocks."""
    return {name: s["median"] for name, s in seconds_stats(fns, device, repeats, warmup).items()}


def seconds_stats(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                  warmup: int = 1) -> dict[str, dict[str, float]]:
    """min, median and max wall time of each function, timed as median_seconds times them."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn, device))
    return {name: {"min": min(ts), "median": statistics.median(ts), "max": max(ts)} for name, ts in times.items()}
