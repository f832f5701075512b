"""The networks of the Vanishing gradients page saved together, as one checkpoint, so that a
reload or a server restart brings the whole comparison back. Free of Streamlit.

A checkpoint is a dict of tensors and plain data written with torch.save, read back with
torch.load(weights_only=True) alone (engine/core/checkpoint.py):

    format   1: this layout
    runs     one entry per network, the page's own first, then the presets compared:
             label     the name the page shows ("Your network", or a preset's name)
             trainer   that network's Trainer checkpoint (engine/mlp/checkpoint.py), as bytes:
                       config, weights, optimiser, batch order, generators, loss curve
             steps     (S,) int64: the steps the heatmap has a column for (thinned when long)
             norms     (S, layers) float32: each layer's weight-gradient norm at those steps

Each network's checkpoint is read with Trainer.from_checkpoint, which checks every piece; the
heatmap's rows are checked here. Anything wrong is a ValueError that says which network and what.
The module never imports the page's state: state.py assembles the lab from what `read` returns.
"""
from __future__ import annotations

import io

import numpy as np
import torch

from engine import Trainer
from engine.core.checkpoint import safe_load

FORMAT = 1
WHAT = "a Vanishing gradients checkpoint"
MAX_RUNS = 8  # the page compares at most 5 networks; more is a file this page did not write


def checkpoint_bytes(runs) -> bytes:
    """The checkpoint of `runs` (LabRun: label, trainer, steps, norms)."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "runs": [
        {"label": run.label, "trainer": run.trainer.checkpoint_bytes(),
         "steps": torch.from_numpy(np.ascontiguousarray(run.steps, dtype=np.int64)),
         "norms": torch.from_numpy(np.ascontiguousarray(run.norms, dtype=np.float32))} for run in runs]}, buf)
    return buf.getvalue()


def read(data, device) -> list[tuple[str, Trainer, np.ndarray, np.ndarray]]:
    """(label, trainer, steps, norms) of each network the checkpoint holds, in the page's order."""
    blob = safe_load(data, WHAT)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"not {WHAT}: expected a dict of format {FORMAT}")
    runs = blob.get("runs")
    if not isinstance(runs, list) or not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"{WHAT} is damaged: runs must be a list of 1 to {MAX_RUNS} networks")
    return [_read_run(i, run, device) for i, run in enumerate(runs)]


def _read_run(i: int, run, device) -> tuple[str, Trainer, np.ndarray, np.ndarray]:
    damaged = f"{WHAT} is damaged: network {i + 1}"
    if not isinstance(run, dict) or set(run) != {"label", "trainer", "steps", "norms"}:
        raise ValueError(f"{damaged} must have a label, a trainer, steps and norms")
    label = run["label"]
    if not isinstance(label, str) or not 0 < len(label) <= 100:
        raise ValueError(f"{damaged}: its label must be a short text")
    try:
        trainer = Trainer.from_checkpoint(run["trainer"], device)
    except ValueError as e:  # a ConfigError is a ValueError too
        raise ValueError(f"{damaged} ({label}): {e}") from None
    steps, norms = run["steps"], run["norms"]
    layers = len(trainer.model.named_linears())
    if not isinstance(steps, torch.Tensor) or steps.dtype != torch.int64 or steps.dim() != 1:
        raise ValueError(f"{damaged} ({label}): steps must be a list of whole numbers")
    if not isinstance(norms, torch.Tensor) or norms.dtype != torch.float32 or norms.shape != (len(steps), layers):
        raise ValueError(f"{damaged} ({label}): norms must be {len(steps)} rows of {layers} layers")
    if len(steps) and (steps[0] < 1 or steps[-1] > trainer.step_count or not bool((steps[1:] > steps[:-1]).all())):
        raise ValueError(f"{damaged} ({label}): steps must rise from 1 to at most its {trainer.step_count} steps")
    return label, trainer, steps.numpy().copy(), norms.numpy().copy()
