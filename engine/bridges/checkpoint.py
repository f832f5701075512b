"""Checkpoints of a SOMTrainer: everything a map needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format       1: the self-organising map's layout (this list)
    config       the SOMConfig as a plain dict
    weights      the prototypes, (rows·cols, d) float32
    generator    the state of the generator that draws the next points (a ByteTensor)
    step         points presented so far
    diverged     the prototypes became NaN and the map stopped
    history      the curves so far (a list of plain dicts, one per record)
    points       None: the points are made again from the config (som_data is deterministic, and
                 the 2-D sets and the digits are small to make, large to store); or (x, labels)
                 for a map trained on points given by hand, which no config can make again

With all of it, step(300), save, load, step(300) gives the prototypes of step(600) bit for bit
(tests/test_bridges_engine.py). Each piece is checked before it is used: a damaged or hand-made
file fails here with a ValueError that names what is wrong. The functions take the trainer's
class as an argument and never import it: som.py imports this module, not the other way round.
"""
from __future__ import annotations

import io

import torch

from ..core.checkpoint import first_line, generator_state, read_checkpoint, whole_number

FORMAT = 1
WHAT = "a self-organising map checkpoint"
DAMAGED = "self-organising map checkpoint is damaged: "
KEYS = ("config", "weights", "generator", "step", "diverged", "history", "points")
HISTORY_KEYS = {"step", "lr", "radius", "quantisation_error", "topographic_error"}


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": trainer.config.to_dict(),
        "weights": trainer.weights.detach().cpu().clone(),
        "generator": trainer.generator.get_state(),
        "step": trainer.step_count,
        "diverged": trainer.diverged,
        "history": [dict(point) for point in trainer.history],
        "points": ((torch.from_numpy(trainer.x_np.copy()), torch.from_numpy(trainer.labels.copy()))
                   if trainer.points_given else None),
    }, buf)
    return buf.getvalue()


def _read(data) -> dict:
    return read_checkpoint(data, WHAT, FORMAT, KEYS, DAMAGED)


def _points(value):
    """The hand-given points of a checkpoint: (x (N, d) float32, labels (N,) int64) as NumPy, or None."""
    if value is None:
        return None
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, torch.Tensor) for v in value)):
        raise ValueError(f"{DAMAGED}points must be None or (points, labels)")
    x, labels = value
    if x.dtype != torch.float32 or x.dim() != 2 or len(x) < 2 or not torch.isfinite(x).all():
        raise ValueError(f"{DAMAGED}points must be (N, d) finite float32 numbers")
    if labels.dtype != torch.int64 or labels.shape != (len(x),):
        raise ValueError(f"{DAMAGED}labels must be {len(x)} whole numbers")
    return x.numpy().copy(), labels.numpy().copy()


def _check_history(history) -> None:
    if not isinstance(history, list) or not history or not all(
            isinstance(p, dict) and set(p) == HISTORY_KEYS and isinstance(p["step"], int)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p.values())
            for p in history):
        raise ValueError(f"{DAMAGED}history must be a list of records with the keys {', '.join(sorted(HISTORY_KEYS))}")


def from_checkpoint(cls, config_cls, data, device="cpu"):
    """A trainer of class `cls` that goes on where the checkpoint's trainer stopped."""
    blob = _read(data)
    if not isinstance(blob["config"], dict):
        raise ValueError(f"{DAMAGED}config must be a dict of settings")
    try:
        config = config_cls.from_dict(blob["config"])
    except (TypeError, ValueError) as e:  # a ConfigError is a ValueError and names the field
        raise ValueError(f"{DAMAGED}its config is not valid ({first_line(e)})") from None
    trainer = cls(config, device, data=_points(blob["points"]))
    weights = blob["weights"]
    shape = tuple(trainer.weights.shape)
    if not isinstance(weights, torch.Tensor) or weights.dtype != torch.float32 or tuple(weights.shape) != shape:
        raise ValueError(f"{DAMAGED}weights must be a float32 tensor of shape {shape}, as its config says")
    diverged = blob["diverged"]
    if not isinstance(diverged, bool):
        raise ValueError(f"{DAMAGED}diverged must be true or false")
    # A map stops rather than keep prototypes that are not finite: such weights come from a hand-made file.
    if not diverged and not torch.isfinite(weights).all():
        raise ValueError(f"{DAMAGED}its prototypes are not all finite numbers (NaN or infinity)")
    _check_history(blob["history"])
    step = whole_number(blob["step"], "step", DAMAGED)
    try:
        trainer.generator.set_state(generator_state(blob["generator"], "generator", DAMAGED))
    except RuntimeError as e:
        raise ValueError(f"{DAMAGED}generator: {first_line(e)}") from None
    trainer.weights = weights.clone()
    trainer.step_count, trainer.diverged = step, diverged
    trainer.history = [dict(p) for p in blob["history"]]
    return trainer
