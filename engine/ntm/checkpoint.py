"""Checkpoints of an NTMTrainer: everything a run needs to go on exactly where it stopped.

A dict of tensors and plain data written with torch.save, read back with torch.load(weights_only=True)
alone, so a file that would run code is refused:

    format            1: the layout of this list
    config            the NTMConfig as JSON text (hot changes included)
    ntm, lstm         both models' weights and buffers (the NTM's starting memory)
    ntm_optimizer,    both optimisers' state_dicts
    lstm_optimizer
    step              optimisation steps so far
    batch_generator   the state of the CPU generator that draws every training batch (a ByteTensor)
    diverged          the run stopped on a non-finite loss and waits for a new learning rate
    seconds           seconds spent training
    history           the curves so far (a list of plain dicts, one per snapshot)

The evaluation, example and "try longer" sequences are drawn again from the seed. Each piece is checked
before it is used, so a damaged or hand-made file fails with a ValueError naming what is wrong.
"""
from __future__ import annotations

import io
import math

import torch

from ..core.checkpoint import (first_line, generator_state, load_optimizer_state, load_weights, read_checkpoint, to_cpu,
                               whole_number)
from .config import NTMConfig

FORMAT = 1
WHAT = "an ntm checkpoint"
DAMAGED = "ntm checkpoint is damaged: "
KEYS = ("config", "ntm", "lstm", "ntm_optimizer", "lstm_optimizer", "step", "batch_generator", "diverged", "seconds",
        "history")


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": trainer.config.to_json(indent=None),
        "ntm": to_cpu(trainer.ntm.state_dict()),
        "lstm": to_cpu(trainer.lstm.state_dict()),
        "ntm_optimizer": to_cpu(trainer.optimizers["ntm"].state_dict()),
        "lstm_optimizer": to_cpu(trainer.optimizers["lstm"].state_dict()),
        "step": trainer.step_count,
        "batch_generator": trainer._batch_gen.get_state(),
        "diverged": trainer.diverged,
        "seconds": float(trainer.seconds_training),
        "history": [dict(point) for point in trainer.history],
    }, buf)
    return buf.getvalue()


def _history(value, keys: frozenset) -> list[dict]:
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and set(p) == keys
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p.values()) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with the keys {', '.join(sorted(keys))}, "
                         "each a number")
    return [dict(p) for p in value]


def from_checkpoint(cls, data, device):
    blob = read_checkpoint(data, WHAT, FORMAT, KEYS, DAMAGED)
    if not isinstance(blob["config"], str):
        raise ValueError(f"{DAMAGED}its config is not JSON text")
    try:
        config = NTMConfig.from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"ntm checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: a missing GPU is no fault of the file
    try:
        _load(trainer, blob)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"{DAMAGED}{type(e).__name__}: {first_line(e)}") from None
    return trainer


def _load(trainer, blob: dict) -> None:
    """Everything, each piece checked before any is applied to the training state."""
    step = whole_number(blob["step"], "step", DAMAGED)
    if not isinstance(blob["diverged"], bool):
        raise ValueError(f"{DAMAGED}diverged must be true or false")
    seconds = blob["seconds"]
    if not isinstance(seconds, float) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{DAMAGED}seconds must be a number of seconds")
    state = generator_state(blob["batch_generator"], "batch_generator", DAMAGED)
    history = _history(blob["history"], trainer.HISTORY_KEYS)
    load_weights(trainer.ntm, blob["ntm"], "the NTM")
    load_weights(trainer.lstm, blob["lstm"], "the LSTM")
    for name in ("ntm", "lstm"):
        load_optimizer_state(trainer.optimizers[name], blob[f"{name}_optimizer"], trainer.config.train.lr, DAMAGED)
    try:
        trainer._batch_gen.set_state(state)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{DAMAGED}batch_generator is not a state of this generator ({first_line(e)})") from None
    trainer.step_count, trainer.diverged, trainer.seconds_training = step, blob["diverged"], seconds
    trainer.history = history
