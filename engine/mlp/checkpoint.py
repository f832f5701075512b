"""Checkpoints of a Trainer: everything a run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format            2 (absent in the first format, which had only the next four keys)
    config            the ExperimentConfig as JSON text
    state_dict        the model's weights and buffers (batch-norm running statistics)
    step, epoch       progress counters
    optimizer         the optimiser's state_dict (momentum buffers, Adam moments and step)
    order, position   this epoch's shuffled order of the training points and how far it is used
    batch_generator   the state of the generator that shuffles the next epochs (a ByteTensor)
    dropout_rng       the CPU RNG state dropout draws from (a ByteTensor)
    last_grad_norms   the gradient norms of the last step, for the next snapshot
    diverged          the run stopped on a non-finite loss and waits for a new learning rate
    history           the loss curve so far (list of plain dicts)

With all of it, step(30), save, load, step(30) gives the losses of step(60) bit for bit.
A first-format checkpoint still loads: weights and counters, a fresh optimiser and order.

The functions take the Trainer (or its class) as an argument and never import it:
engine/mlp/trainer.py imports this module, not the other way round.
"""
from __future__ import annotations

import io

import torch

from ..core.checkpoint import first_line, generator_state, safe_load, to_cpu, whole_number

from .config import ExperimentConfig

FORMAT = 2
HISTORY_KEYS = {"step", "epoch", "epoch_exact", "train_loss", "test_loss", "train_accuracy", "test_accuracy"}


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": trainer.config.to_json(),
        "state_dict": to_cpu(trainer.model.state_dict()),
        "step": trainer.step_count,
        "epoch": trainer.epoch,
        "optimizer": to_cpu(trainer.optimizer.state_dict()),
        "order": trainer._order.cpu(),
        "position": trainer._position,
        "batch_generator": trainer._batch_gen.get_state(),
        "dropout_rng": trainer._dropout_rng.clone(),
        "last_grad_norms": trainer._last_grad_norms.cpu(),
        "diverged": trainer.diverged,
        "history": [dict(point) for point in trainer.history],
    }, buf)
    return buf.getvalue()


def from_checkpoint(cls, data: bytes, device):
    blob = safe_load(data, "a Neural Playground checkpoint")
    if not isinstance(blob, dict) or not {"config", "state_dict"} <= set(blob):
        raise ValueError("not a Neural Playground checkpoint: expected the keys 'config' and 'state_dict'")
    trainer = cls(ExperimentConfig.from_json(blob["config"]), device)
    try:
        trainer.model.load_state_dict(blob["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"checkpoint weights do not fit its config: {first_line(e)}") from None
    # A Trainer never saves weights that are not finite (a diverging step is undone), so such a
    # file was made by hand or damaged: nothing could be drawn or trained from it.
    if not all(torch.isfinite(v).all() for v in trainer.model.state_dict().values() if v.is_floating_point()):
        raise ValueError("checkpoint weights are not all finite numbers (NaN or infinity)")
    try:
        trainer.step_count = whole_number(blob.get("step", 0), "step")
        trainer.epoch = whole_number(blob.get("epoch", 0), "epoch")
        if "optimizer" in blob:  # the first format stops here: fresh optimiser, order and history
            _restore_training_state(trainer, blob)
    except KeyError as e:
        raise ValueError(f"checkpoint training state is damaged: it lacks {e.args[0]!r}") from None
    except (TypeError, ValueError, RuntimeError, IndexError) as e:
        raise ValueError(f"checkpoint training state is damaged: {first_line(e)}") from None
    return trainer


def _restore_training_state(trainer, blob: dict) -> None:
    """Everything past the weights. Each piece is checked before it is used: a hand-made
    file must fail here with a message, not later inside a training step."""
    n = trainer.n_train
    order, position = blob["order"], whole_number(blob["position"], "position")
    if (not isinstance(order, torch.Tensor) or order.dtype != torch.int64 or order.shape != (n,)
            or not torch.equal(order.sort().values, torch.arange(n))):
        raise ValueError(f"order must be a permutation of the {n} training points")
    if position >= n:
        raise ValueError(f"position must be below {n}, got {position}")
    norms = blob["last_grad_norms"]
    n_layers = len(trainer.model.named_linears())
    if not isinstance(norms, torch.Tensor) or not norms.is_floating_point() or norms.shape != (n_layers,):
        raise ValueError(f"last_grad_norms must be {n_layers} floats")
    history = blob["history"]
    if not isinstance(history, list) or not all(
            isinstance(p, dict) and set(p) == HISTORY_KEYS
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in p.values())
            for p in history):
        raise ValueError(f"history must be a list of points with the keys {', '.join(sorted(HISTORY_KEYS))}")
    if not isinstance(blob["diverged"], bool):
        raise ValueError("diverged must be true or false")

    _load_optimizer_state(trainer, blob["optimizer"])
    trainer._batch_gen.set_state(generator_state(blob["batch_generator"], "batch_generator"))
    dropout_rng = generator_state(blob["dropout_rng"], "dropout_rng")
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(dropout_rng)  # refuses a state of the wrong size now, not at the next step
    trainer._dropout_rng = dropout_rng.clone()
    trainer._order, trainer._position = order.clone(), position
    trainer._last_grad_norms = norms.float().clone()
    trainer.diverged = blob["diverged"]
    trainer.history = [dict(p) for p in history]


def _load_optimizer_state(trainer, state: dict) -> None:
    optimizer = trainer.optimizer
    groups = state["param_groups"]
    if len(groups) != len(optimizer.param_groups) or any(
            set(saved) != set(own) for saved, own in zip(groups, optimizer.param_groups)):
        raise ValueError(f"the optimizer state is not that of {trainer.config.train.optimizer!r}")
    optimizer.load_state_dict(state)  # moves the state to the parameters' device
    for param, param_state in optimizer.state.items():
        for key, value in param_state.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                raise ValueError(f"optimizer state {key!r} has shape {tuple(value.shape)}, "
                                 f"its parameter {tuple(param.shape)}")
    for group in optimizer.param_groups:
        group["lr"] = trainer.config.train.lr  # the config is what the page shows; it wins
