"""Checkpoints of a CharLMTrainer: every model of a side-by-side run in one file, with all the
run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format            1: the layout of this list
    config            the CharLMConfig as JSON text (hot changes included: learning rates, clipping)
    corpus            the text the models read (rare characters already replaced), its vocabulary and
                      how many characters were replaced
    models            one state_dict per model, in the config's order
    optimizers        one optimiser state_dict per model
    step              steps taken (every model takes each step, or stands still once it has diverged)
    batch_generator   the state of the CPU generator that draws the training windows (a ByteTensor)
    dropout_rng       the CPU RNG state dropout draws from (a ByteTensor)
    model_diverged    one flag per model: its loss became NaN or infinite and it stands still from then on
    losses            (steps, models) float32: every batch loss, NaN where a model stood still
    unreported        (k, models) float32: the batch losses no snapshot has averaged yet
    history           one point per snapshot: step, and train_loss and val_loss per model (numbers or None)
    seconds_training  time spent training so far

Why the text is in it. A pasted text is user data: it is in the config, at most 200,000
characters (MAX_TEXT, the page's own limit), and small beside the weights, so a run on a pasted
text comes back like one on a built-in text. A built-in text is stored as read, too: the guides
and the README change with the app, and after an update a new character would change the
vocabulary, which the saved embeddings would no longer fit, and a changed text would shift the
held-out windows. The losses are float32 because each one was the .item() of a float32 loss:
nothing is lost, and a long run's curve takes half the room.

With all of it, step(30), save, load, step(30) gives the losses and weights of step(60) bit for
bit on the CPU (tests/test_charlm_engine.py). On a GPU, dropout draws from the device's own
generator, which is neither forked nor saved, so a resumed run with dropout differs there.

Each piece is checked before it is used: a damaged or hand-made file fails here with a
ValueError that names what is wrong, never later inside a training step. The functions take
the trainer (or its class) as an argument: engine/sequence/trainer.py imports this module.
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
import torch

from ..core.checkpoint import (first_line, generator_state, load_optimizer_state, load_weights, read_checkpoint, to_cpu,
                               whole_number)
from ..core.config import ConfigError
from .config import MAX_TEXT, CharLMConfig
from .models import MAX_VOCAB, Corpus

FORMAT = 1
WHAT = "a Sequence models checkpoint"
DAMAGED = "Sequence models checkpoint is damaged: "
KEYS = ("config", "corpus", "models", "optimizers", "step", "batch_generator", "dropout_rng", "model_diverged",
        "losses", "unreported", "history", "seconds_training")


def checkpoint_bytes(trainer) -> bytes:
    corpus = trainer.corpus
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": json.dumps(trainer.config.to_dict(), ensure_ascii=False),  # a pasted text as written, not \u...
        "corpus": {"text": corpus.text, "chars": list(corpus.chars), "replaced": corpus.replaced},
        "models": [to_cpu(m.state_dict()) for m in trainer.models],
        "optimizers": [to_cpu(o.state_dict()) for o in trainer.optimizers],
        "step": trainer.step_count,
        "batch_generator": trainer._batch_gen.get_state(),
        "dropout_rng": trainer._dropout_rng.clone(),
        "model_diverged": list(trainer.model_diverged),
        "losses": torch.from_numpy(trainer.loss_steps().astype(np.float32)),
        "unreported": torch.from_numpy(_rows(trainer._since_snapshot, len(trainer.models)).astype(np.float32)),
        "history": [{"step": p["step"], "train_loss": list(p["train_loss"]), "val_loss": list(p["val_loss"])}
                    for p in trainer.history],
        "seconds_training": float(trainer.seconds_training),
    }, buf)
    return buf.getvalue()


def approximate_size(trainer) -> int:
    """About how many bytes checkpoint_bytes() writes, without writing it: the tensors and the text."""
    tensors = [t for m in trainer.models for t in m.state_dict().values()]
    tensors += [v for o in trainer.optimizers for s in o.state.values() for v in s.values()
                if isinstance(v, torch.Tensor)]
    return (sum(t.numel() * t.element_size() for t in tensors) + 4 * trainer.loss_steps().size
            + 2 * len(trainer.corpus.text) + len(trainer.config.text))


def _rows(chunks: list, n_models: int) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros((0, n_models))


def from_checkpoint(cls, data, device):
    blob = _read(data)
    config = _config(blob["config"])
    corpus = _corpus(blob["corpus"], config)
    try:
        trainer = cls(config, device, corpus=corpus)
    except ConfigError as e:  # the stored text is too short for the stored context
        raise ValueError(f"{DAMAGED}its text does not fit its config ({first_line(e)})") from None
    try:
        diverged = _diverged(blob["model_diverged"], len(trainer.models))
        _load_models(trainer, blob["models"], blob["optimizers"], diverged)
        _load_training_state(trainer, blob, diverged)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"{DAMAGED}{type(e).__name__}: {first_line(e)}") from None
    return trainer


def _read(data) -> dict:
    return read_checkpoint(data, WHAT, FORMAT, KEYS, DAMAGED)


def _config(text) -> CharLMConfig:
    if not isinstance(text, str):
        raise ValueError(f"{DAMAGED}its config is not JSON text")
    try:
        return CharLMConfig.from_json(text)
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"Sequence models checkpoint has an invalid config: {first_line(e)}") from None


def _corpus(value, config: CharLMConfig) -> Corpus:
    """The stored text and vocabulary, checked as Corpus.from_text would have made them."""
    if not isinstance(value, dict) or set(value) != {"text", "chars", "replaced"}:
        raise ValueError(f"{DAMAGED}corpus must hold text, chars and replaced")
    text, chars = value["text"], value["chars"]
    longest = MAX_TEXT if config.corpus == "text" else config.corpus_chars
    if not isinstance(text, str) or not 1 <= len(text) <= longest:
        raise ValueError(f"{DAMAGED}its text must be 1 to {longest:,} characters")
    if (not isinstance(chars, list) or not 1 <= len(chars) <= MAX_VOCAB
            or not all(isinstance(c, str) and len(c) == 1 for c in chars) or chars != sorted(set(chars))):
        raise ValueError(f"{DAMAGED}its vocabulary must be 1 to {MAX_VOCAB} distinct characters, sorted")
    if not set(text) <= set(chars):
        raise ValueError(f"{DAMAGED}its text has characters outside its vocabulary")
    return Corpus(text, chars, whole_number(value["replaced"], "corpus replaced", DAMAGED))


def _load_models(trainer, states, optimizer_states, diverged) -> None:
    n = len(trainer.models)
    if not isinstance(states, list) or not isinstance(optimizer_states, list) or not (
            len(states) == len(optimizer_states) == n):
        raise ValueError(f"{DAMAGED}models and optimizers must be lists of {n} (one per model of its config)")
    for label, model, state, stopped in zip(trainer.labels, trainer.models, states, diverged):
        # A model whose step made its weights infinite diverges at the next step and keeps them
        # (they were the last weights of a finished chunk): only such a model may hold them.
        load_weights(model, state, label, finite=not stopped)
    # Adam's squared-gradient average can overflow while the weights stay finite: the run went on
    # with it, and so does the restored one (at worst a model then diverges, as it would have).
    for model_config, optimizer, state in zip(trainer.config.models, trainer.optimizers, optimizer_states):
        load_optimizer_state(optimizer, state, model_config.lr, DAMAGED, finite=False)


def _diverged(value, n: int) -> list[bool]:
    if not isinstance(value, list) or len(value) != n or not all(isinstance(d, bool) for d in value):
        raise ValueError(f"{DAMAGED}model_diverged must be {n} flags, true or false")
    return list(value)


def _losses(value, name: str, rows: int | None, n_models: int) -> np.ndarray:
    if (not isinstance(value, torch.Tensor) or value.dtype != torch.float32 or value.dim() != 2
            or value.shape[1] != n_models or (rows is not None and value.shape[0] != rows)):
        shape = f"({rows if rows is not None else 'k'}, {n_models})"
        raise ValueError(f"{DAMAGED}{name} must be a {shape} float32 tensor")
    if bool(torch.isinf(value).any()):
        raise ValueError(f"{DAMAGED}{name} holds an infinite loss (a step that diverged keeps none)")
    return value.numpy().astype(np.float64)


def _history(value, n_models: int) -> list[dict]:
    def losses_ok(v) -> bool:
        return isinstance(v, list) and len(v) == n_models and all(
            x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)) for x in v)

    def point_ok(p) -> bool:
        return (isinstance(p, dict) and set(p) == {"step", "train_loss", "val_loss"} and type(p["step"]) is int
                and p["step"] >= 0 and losses_ok(p["train_loss"]) and losses_ok(p["val_loss"]))
    if not isinstance(value, list) or not all(point_ok(p) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with a step and {n_models} train and "
                         "validation losses each (finite numbers or None)")
    return [{"step": p["step"], "train_loss": list(p["train_loss"]), "val_loss": list(p["val_loss"])} for p in value]


def _load_training_state(trainer, blob: dict, diverged: list[bool]) -> None:
    """Everything past the weights, each piece checked before any is applied."""
    n = len(trainer.models)
    step = whole_number(blob["step"], "step", DAMAGED)
    losses = _losses(blob["losses"], "losses", step, n)
    unreported = _losses(blob["unreported"], "unreported", None, n)
    history = _history(blob["history"], n)
    seconds = blob["seconds_training"]
    if not isinstance(seconds, float) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{DAMAGED}seconds_training must be a number of seconds >= 0")
    batch_state = generator_state(blob["batch_generator"], "batch_generator", DAMAGED)
    dropout_rng = generator_state(blob["dropout_rng"], "dropout_rng", DAMAGED)
    try:
        probe = torch.Generator()
        probe.set_state(batch_state)
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(dropout_rng)  # refuses a state of the wrong size now, not at the next step
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{DAMAGED}a generator state does not fit ({first_line(e)})") from None
    trainer._batch_gen.set_state(batch_state)
    trainer._dropout_rng = dropout_rng.clone()
    trainer.step_count = step
    trainer.model_diverged = diverged
    trainer.loss_chunks = [losses] if step else []
    trainer._since_snapshot = [unreported] if len(unreported) else []
    trainer.history = history
    trainer.seconds_training = seconds
