"""Checkpoints of the reservoir trainers: everything a run needs to go on exactly where it stopped.

The random weights are not in a checkpoint: they are drawn again from the config's seed by the same
generators, the same numbers. What it holds is what the run has learnt and how far it has come, a dict
of tensors and plain data written with torch.save, read with torch.load(weights_only=True) alone
(engine/core/checkpoint.py), so a file that would run code is refused:

    format, task      1, and "elm", "esn" or "lsm": a checkpoint of another task is refused by name
    config            the config as JSON text (a hot change of λ included)
    step              widths fitted (ELM), chunks of training data driven (ESN, LSM)
    diverged, history the stop flag and the curves so far (plain dicts, one per snapshot)
  ELM
    sweep             [width, train accuracy, test accuracy] of each width fitted
    twin              the MLP trained beside it (engine/mlp's checkpoint bytes), or None
  ESN
    next_sample       the next training sample to drive
    readout_sums      the ridge read-out's running sums n, sum_h, sum_y, hh, yh (ridge.RidgeAccumulator)
    state             a series: the reservoir's state after the last input driven (1, N); digits: None
  LSM
    next_sample       the next training digit
    counts            the spike counts of the digits seen (n, N·bins), whole numbers as uint8 (or int16)
    spike_generator   the state of the generator of the Poisson spikes (a ByteTensor)
    twin              the echo state network on the same digits (its own checkpoint bytes), or None

Two choices keep the files small. The liquid's read-out sums are (N·bins)² numbers, 11.5 MB for the
default liquid, but every one is a sum of whole numbers (spike counts times counts or one-hot targets),
which float64 holds exactly: they are added up again from the counts (1.7 MB once every digit is seen),
the very same numbers. The echo state network's training states are needed only for its train score:
they are driven again on loading, chunk by chunk as step() drove them (a fraction of a second on the
page's sizes), so its file is the sums, 0.3 MB by default, not 3.2 MB of states.

With all of it, step(n), save, load, step(m) gives the snapshots, read-outs and history of the run that
did not stop, bit for bit on the CPU (tests/test_reservoirs_restore.py). Each piece is checked before it
is used: a damaged or hand-made file fails with a ValueError that names what is wrong. The trainers'
modules import this one, not the other way round: the functions take the classes as arguments.
"""
from __future__ import annotations

import io

import torch

from ..core.checkpoint import first_line, generator_state, read_checkpoint, to_cpu, whole_number
from .config import ELMConfig, ESNConfig, LSMConfig

FORMAT = 1
COMMON = ("task", "config", "step", "diverged", "history")
KEYS = {"elm": (*COMMON, "sweep", "twin"),
        "esn": (*COMMON, "next_sample", "readout_sums", "state"),
        "lsm": (*COMMON, "next_sample", "counts", "spike_generator", "twin")}
CONFIGS = {"elm": ELMConfig, "esn": ESNConfig, "lsm": LSMConfig}
HISTORY_KEYS = {"elm": {"step", "train_accuracy", "test_accuracy"},
                "esn": {"step", "samples_seen", "train_nrmse", "test_nrmse", "free_run_nrmse", "train_accuracy",
                        "test_accuracy"},
                "lsm": {"step", "samples_seen", "train_accuracy", "test_accuracy"}}
SUMS = ("sum_h", "sum_y", "hh", "yh")


def _damaged(task: str) -> str:
    return f"{task} checkpoint is damaged: "


def _save(trainer, task: str, **parts) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "task": task, "config": trainer.config.to_json(indent=None),
                "step": trainer.step_count, "diverged": trainer.diverged,
                "history": [dict(point) for point in trainer.history], **to_cpu(parts)}, buf)
    return buf.getvalue()


def elm_checkpoint_bytes(trainer) -> bytes:
    return _save(trainer, "elm", sweep=[[w, a, b] for w, a, b in trainer.sweep],
                 twin=trainer.twin.checkpoint_bytes() if trainer.twin is not None else None)


def esn_checkpoint_bytes(trainer) -> bytes:
    a = trainer.accumulator
    return _save(trainer, "esn", next_sample=trainer._next_sample,
                 readout_sums={"n": a.n, **{name: getattr(a, name) for name in SUMS}},
                 state=None if trainer.digits else trainer.state)


def lsm_checkpoint_bytes(trainer) -> bytes:
    counts = torch.cat(trainer.train_features) if trainer.train_features else \
        torch.zeros(0, trainer.test_features.shape[1])
    small = counts.numel() == 0 or float(counts.max()) <= 255   # a window of at most 255 steps: a byte each
    return _save(trainer, "lsm", next_sample=trainer._next_sample,
                 counts=counts.round().to(torch.uint8 if small else torch.int16),
                 spike_generator=trainer._spike_gen.get_state(),
                 twin=trainer.twin.checkpoint_bytes() if trainer.twin is not None else None)


# ---------- reading ----------
def _open(task: str, cls, data, device):
    """The checked dict and a new trainer of its config (the random weights drawn again)."""
    blob = read_checkpoint(data, f"an {task} checkpoint", FORMAT, COMMON, _damaged(task))
    if blob["task"] != task:
        raise ValueError(f"not an {task} checkpoint: it is one of the {blob['task']!r:.20} task")
    missing = [k for k in KEYS[task] if k not in blob]
    if missing:
        raise ValueError(f"{_damaged(task)}it lacks {', '.join(repr(k) for k in missing)}")
    if not isinstance(blob["config"], str):
        raise ValueError(f"{_damaged(task)}its config is not JSON text")
    try:
        config = CONFIGS[task].from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"{task} checkpoint has an invalid config: {first_line(e)}") from None
    return blob, cls(config, device)  # outside any net: a missing GPU is no fault of the file


def _load(task: str, trainer, blob: dict, load) -> None:
    """Apply `load(trainer, blob)` and the common parts; anything a check did not foresee is damage too."""
    damaged = _damaged(task)
    try:
        step = whole_number(blob["step"], "step", damaged)
        if not isinstance(blob["diverged"], bool):
            raise ValueError(f"{damaged}diverged must be true or false")
        history = _history(blob["history"], HISTORY_KEYS[task], damaged)
        load(trainer, blob, step)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{damaged}{type(e).__name__}: {first_line(e)}") from None
    trainer.step_count, trainer.diverged, trainer.history = step, blob["diverged"], history


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _history(value, keys: set, damaged: str) -> list[dict]:
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and set(p) == keys and all(v is None or _number(v) for v in p.values())
            for p in value):
        raise ValueError(f"{damaged}history must be a list of points with the keys {', '.join(sorted(keys))}, "
                         "each a number or empty")
    return [dict(p) for p in value]


def _next_sample(trainer, blob: dict, step: int, damaged: str) -> int:
    """The next sample, which must be where `step` chunks end: every chunk but the last is full."""
    done = whole_number(blob["next_sample"], "next_sample", damaged)
    if done != min(step * trainer.config.train.samples_per_step, trainer.n_train):
        raise ValueError(f"{damaged}next_sample {done} is not where {step} chunks of "
                         f"{trainer.config.train.samples_per_step} end")
    return done


def _tensor(value, shape: tuple, name: str, damaged: str, floating: bool = True) -> torch.Tensor:
    """A dense tensor of this shape holding finite real numbers (floating) or whole numbers (not)."""
    fits = isinstance(value, torch.Tensor) and value.layout == torch.strided and tuple(value.shape) == shape
    if fits and floating:
        fits = value.is_floating_point() and bool(torch.isfinite(value).all())
    elif fits:
        fits = not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool
    if not fits:
        what = "finite real numbers" if floating else "whole numbers"
        raise ValueError(f"{damaged}{name} must be a tensor {shape} of {what}")
    return value


def _twin(task: str, value, twin_cls, device, fits) -> object | None:
    """The twin trainer from its own checkpoint bytes (None: none was saved); `fits(twin)` says whether it
    trained on the same points."""
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ValueError(f"{_damaged(task)}twin must be a checkpoint's bytes or empty")
    try:
        twin = twin_cls.from_checkpoint(value, device)
    except ValueError as e:
        raise ValueError(f"{_damaged(task)}its twin: {first_line(e)}") from None
    if not fits(twin):
        raise ValueError(f"{_damaged(task)}its twin trained on other data than this run")
    return twin


def elm_from_checkpoint(cls, data, device, twin_cls, twin_config):
    """twin_config(elm_config) is the MLP twin's config (elm.py's, handed in: elm.py imports this module)."""
    blob, trainer = _open("elm", cls, data, device)
    expected = twin_config(trainer.config)

    def load(trainer, blob, step):
        damaged, widths = _damaged("elm"), trainer.config.train.sweep
        sweep = blob["sweep"]
        if not isinstance(sweep, list) or len(sweep) != step or step > len(widths) or not all(
                isinstance(p, (list, tuple)) and len(p) == 3 and p[0] == widths[i] and not isinstance(p[0], bool)
                and _number(p[1]) and _number(p[2]) for i, p in enumerate(sweep)):
            raise ValueError(f"{damaged}sweep must hold [width, train accuracy, test accuracy] for the first "
                             f"{step} widths of the config's sweep")
        trainer.twin = _twin("elm", blob["twin"], twin_cls, trainer.device,
                             lambda t: t.config.data == expected.data and t.config.train.seed == trainer.config.seed)
        trainer.sweep = [(int(w), float(a), float(b)) for w, a, b in sweep]

    _load("elm", trainer, blob, load)
    return trainer


def esn_from_checkpoint(cls, data, device):
    blob, trainer = _open("esn", cls, data, device)

    def load(trainer, blob, step):
        damaged, acc = _damaged("esn"), trainer.accumulator
        done = _next_sample(trainer, blob, step, damaged)
        sums = blob["readout_sums"]
        if not isinstance(sums, dict) or set(sums) != {"n", *SUMS}:
            raise ValueError(f"{damaged}readout_sums must hold n, {', '.join(SUMS)}")
        n = whole_number(sums["n"], "readout_sums n", damaged)
        values = {name: _tensor(sums[name], tuple(getattr(acc, name).shape), f"readout_sums {name}", damaged)
                  for name in SUMS}
        size = trainer.config.model.size
        if trainer.digits:
            if blob["state"] is not None:
                raise ValueError(f"{damaged}state must be empty for the digits")
        else:
            state = _tensor(blob["state"], (1, size), "state", damaged)
        if trainer.drive_again(done) != n:
            raise ValueError(f"{damaged}its read-out sums are over {n:,} samples, its counters say "
                             f"{sum(len(s) for s in trainer.train_states):,}")
        acc.n = n
        for name, value in values.items():
            setattr(acc, name, value.to(trainer.device, trainer.dtype).clone())
        if not trainer.digits:
            trainer.state = state.to(trainer.device, trainer.dtype).clone()
        trainer._next_sample = done
        trainer._refit()

    _load("esn", trainer, blob, load)
    return trainer


def lsm_from_checkpoint(cls, data, device, twin_cls):
    blob, trainer = _open("lsm", cls, data, device)
    config = trainer.config

    def load(trainer, blob, step):
        damaged = _damaged("lsm")
        done = _next_sample(trainer, blob, step, damaged)
        counts = _tensor(blob["counts"], (done, trainer.test_features.shape[1]), "counts", damaged, floating=False)
        if done and int(counts.min()) < 0:
            raise ValueError(f"{damaged}counts must be whole numbers >= 0")
        spikes = generator_state(blob["spike_generator"], "spike_generator", damaged)
        trainer.twin = _twin("lsm", blob["twin"], twin_cls, trainer.device,
                             lambda t: t.digits and t.config.train.seed == config.train.seed
                             and t.config.data.test_fraction == config.data.test_fraction)
        try:
            trainer._spike_gen.set_state(spikes)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"{damaged}spike_generator is not a state of this generator ({first_line(e)})") from None
        trainer.train_features = []
        for lo, hi in trainer.chunk_bounds(done):   # the sums added up in the same order as step() added them
            trainer._add(lo, hi, counts[lo:hi].to(trainer.device, trainer.dtype))
        trainer._next_sample = done
        trainer._refit()

    _load("lsm", trainer, blob, load)
    return trainer


__all__ = ["elm_checkpoint_bytes", "esn_checkpoint_bytes", "lsm_checkpoint_bytes", "elm_from_checkpoint",
           "esn_from_checkpoint", "lsm_from_checkpoint"]
