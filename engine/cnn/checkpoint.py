"""Checkpoints of a CNNTrainer: everything a run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format            1: the layout of this list
    config            the CNNConfig as JSON text (hot changes included: learning rate, dropout, ...)
    state_dict        the network's weights and buffers (batch norm's running averages)
    optimizer         the optimiser's state_dict (momentum buffers, Adam's moments and step, ...)
    step, epoch       progress counters
    order, position   this epoch's shuffled order of the training images and how far it is used
    batch_generator   the state of the CPU generator that shuffles the next epochs (a ByteTensor)
    dropout_generator the state of the generator of the dropout masks, and
    dropout_device    the device type it draws on ("cpu", "cuda", "mps")
    grad_norms        each weight layer's gradient norm at the last step, for the next snapshot
    diverged          the run stopped on a non-finite loss and waits for a new learning rate
    history           the curves so far (a list of plain dicts, one per snapshot)

With all of it, step(n), save, load, step(m) gives the losses and weights of step(n + m) bit for
bit on the CPU (tests/test_cnn_engine.py). A dropout generator's state only fits a generator of
the same device type: moved between a GPU and the CPU, a run goes on with the dropout stream a
new trainer would draw. Each piece is checked before it is used, so that a damaged or hand-made
file fails here with a ValueError that names what is wrong. engine/cnn/trainer.py imports this
module, not the other way round: the functions take the trainer (or its class) as an argument.
"""
from __future__ import annotations

import io

import torch

from ..core.checkpoint import (first_line, generator_state, load_optimizer_state, load_weights, read_checkpoint, to_cpu,
                               whole_number)
from .config import CNNConfig

FORMAT = 1
WHAT = "a cnn checkpoint"
DAMAGED = "cnn checkpoint is damaged: "
KEYS = ("config", "state_dict", "optimizer", "step", "epoch", "order", "position", "batch_generator",
        "dropout_generator", "dropout_device", "grad_norms", "diverged", "history")


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": trainer.config.to_json(indent=None),
        "state_dict": to_cpu(trainer.model.state_dict()),
        "optimizer": to_cpu(trainer.optimizer.state_dict()),
        "step": trainer.step_count,
        "epoch": trainer.epoch,
        "order": trainer._order.cpu(),
        "position": trainer._position,
        "batch_generator": trainer._batch_gen.get_state(),
        "dropout_generator": trainer._dropout_gen.get_state(),
        "dropout_device": trainer._dropout_gen.device.type,
        "grad_norms": trainer._grad_norms.cpu(),
        "diverged": trainer.diverged,
        "history": [dict(point) for point in trainer.history],
    }, buf)
    return buf.getvalue()


def _read(data) -> dict:
    return read_checkpoint(data, WHAT, FORMAT, KEYS, DAMAGED)


def from_checkpoint(cls, data, device):
    blob = _read(data)
    if not isinstance(blob["config"], str):
        raise ValueError(f"{DAMAGED}its config is not JSON text")
    try:
        config = CNNConfig.from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"cnn checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: a missing GPU is no fault of the file
    try:
        load_weights(trainer.model, blob["state_dict"], "the network")
        _load_training_state(trainer, blob)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"{DAMAGED}{type(e).__name__}: {first_line(e)}") from None
    return trainer


def _number(value) -> bool:
    """A curve's value: a number, infinity included (a loss can overflow while the weights stay finite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _history(value, keys: frozenset) -> list[dict]:
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and set(p) == keys and all(_number(v) for v in p.values()) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with the keys {', '.join(sorted(keys))}, "
                         "each a number")
    return [dict(p) for p in value]


def _set_generator(generator: torch.Generator, state, name: str) -> None:
    try:
        generator.set_state(generator_state(state, name, DAMAGED))
    except (RuntimeError, TypeError) as e:  # a state of the wrong size or kind
        raise ValueError(f"{DAMAGED}{name} is not a state of this generator ({first_line(e)})") from None


def _load_training_state(trainer, blob: dict) -> None:
    """Everything past the weights, each piece checked before any is applied."""
    n = trainer.n_train
    step, epoch = whole_number(blob["step"], "step", DAMAGED), whole_number(blob["epoch"], "epoch", DAMAGED)
    position = whole_number(blob["position"], "position", DAMAGED)
    order = blob["order"]
    if (not isinstance(order, torch.Tensor) or order.dtype != torch.int64 or order.shape != (n,)
            or not torch.equal(order.sort().values, torch.arange(n))):
        raise ValueError(f"{DAMAGED}order must be a permutation of the {n:,} training images")
    if position >= n:
        raise ValueError(f"{DAMAGED}position must be below {n:,}, got {position}")
    norms, layers = blob["grad_norms"], len(trainer.layer_names)
    if (not isinstance(norms, torch.Tensor) or not norms.is_floating_point() or norms.shape != (layers,)
            or not bool(torch.isfinite(norms).all())):
        raise ValueError(f"{DAMAGED}grad_norms must be {layers} finite numbers, one per weight layer")
    if not isinstance(blob["diverged"], bool):
        raise ValueError(f"{DAMAGED}diverged must be true or false")
    if not isinstance(blob["dropout_device"], str):
        raise ValueError(f"{DAMAGED}dropout_device must be a device type")
    history = _history(blob["history"], trainer.HISTORY_KEYS)
    load_optimizer_state(trainer.optimizer, blob["optimizer"], trainer.config.train.lr, DAMAGED)
    trainer._set_optimizer_settings()  # weight decay too, from the config
    _set_generator(trainer._batch_gen, blob["batch_generator"], "batch_generator")
    if blob["dropout_device"] == trainer._dropout_gen.device.type:
        _set_generator(trainer._dropout_gen, blob["dropout_generator"], "dropout_generator")
    else:  # saved on another kind of device: go on with a new trainer's dropout stream (see the docstring)
        generator_state(blob["dropout_generator"], "dropout_generator", DAMAGED)
    trainer.step_count, trainer.epoch = step, epoch
    trainer._order, trainer._position = order.clone(), position
    trainer._grad_norms = norms.float().clone()
    trainer.diverged = blob["diverged"]
    trainer.history = history
