"""Checkpoints of the energy lab's three trainers: everything a run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused. Every one holds

    format            1: the layout of this list
    task              "boltzmann", "rbm" or "dbn": which trainer it is for
    config            the config as JSON text (hot changes included: learning rate, k, ...)
    state_dict        the model's weights and biases
    step, diverged    progress, and whether the run stopped on a non-finite weight
    history           the curves so far (a list of plain dicts, one per snapshot)
    generator         the state of the generator of every sample (Gibbs sweeps, CD chains), and
    device            the device type it draws on ("cpu", "cuda", "mps")

and, by task:

    boltzmann   velocity_w, velocity_b (momentum), chains (the persistent free-running chains)
    rbm         cd (see below), dream_generator, dreams and dream_probabilities (the shown chain, or
                None), dream_steps
    dbn         batch_generator (fine-tuning's batch order), cd (the last RBM pretrained, or None),
                finetune (the two networks being fine-tuned, or None), results (accuracy per count)

    cd          layer (dbn only), order, position, epoch, order_generator, velocity (weight, visible
                and hidden biases' momentum), persistent (persistent CD's chains, or None)
    finetune    index (in config.labelled), nets and optimisers ({"pretrained": ..., "random": ...}:
                the networks' weights and Adam's moments), order, position

The data, the digits' split and the random images follow from the config and are built again. With
all of it, step(n), save, load, step(m) gives the weights and curves of step(n + m) bit for bit on the
CPU (tests/test_energy_restore.py). A generator's state only fits a generator of the same device type:
moved between a GPU and the CPU, a run goes on with the sample stream a new trainer would draw. Each
piece is checked before it is used, so that a damaged or hand-made file fails here with a ValueError
that names what is wrong. The trainers import this module, not the other way round: the functions take
the trainer (or its class) as an argument.
"""
from __future__ import annotations

import io
import math

import torch

from ..core.checkpoint import (first_line, generator_state, load_optimizer_state, load_weights, read_checkpoint, to_cpu,
                               whole_number)
from .config import BoltzmannConfig, DBNConfig, RBMConfig

FORMAT = 1
WHAT = "an energy-model checkpoint"
DAMAGED = "energy checkpoint is damaged: "
CONFIG_CLASSES = {"boltzmann": BoltzmannConfig, "rbm": RBMConfig, "dbn": DBNConfig}
COMMON_KEYS = ("task", "config", "state_dict", "step", "diverged", "history", "generator", "device")
TASK_KEYS = {
    "boltzmann": ("velocity_w", "velocity_b", "chains"),
    "rbm": ("cd", "dream_generator", "dreams", "dream_probabilities", "dream_steps"),
    "dbn": ("batch_generator", "cd", "finetune", "results"),
}
CD_KEYS = ("order", "position", "epoch", "order_generator", "velocity", "persistent")
FINETUNE_KEYS = ("index", "nets", "optimisers", "order", "position")
PHASES = ("pretrain", "finetune", "done")


# ---------- writing ----------
def _cd_state(cd) -> dict:
    return {"order": cd._order.cpu(), "position": cd._position, "epoch": cd.epoch,
            "order_generator": cd._order_generator.get_state(), "velocity": [v.cpu() for v in cd._velocity],
            "persistent": None if cd._persistent is None else cd._persistent.cpu()}


def _task_state(trainer) -> dict:
    task = trainer.config.task
    if task == "boltzmann":
        return {"velocity_w": trainer._velocity_w.cpu(), "velocity_b": trainer._velocity_b.cpu(),
                "chains": trainer.chains.cpu()}
    if task == "rbm":
        return {"cd": _cd_state(trainer.cd), "dream_generator": trainer._dream_generator.get_state(),
                "dreams": None if trainer.dreams is None else trainer.dreams.cpu(),
                "dream_probabilities": None if trainer.dreams is None else trainer._dream_probabilities.cpu(),
                "dream_steps": trainer.dream_steps}
    cd, f = trainer._cd, trainer._finetune
    layer = None if cd is None else next(i for i, rbm in enumerate(trainer.model.rbms) if rbm is cd.rbm)
    return {"batch_generator": trainer._batch_generator.get_state(),
            "cd": None if cd is None else {"layer": layer, **_cd_state(cd)},
            "finetune": None if f is None else {
                "index": f["index"], "order": f["order"].cpu(), "position": f["position"],
                "nets": {name: to_cpu(net.state_dict()) for name, net in f["nets"].items()},
                "optimisers": {name: to_cpu(opt.state_dict()) for name, opt in f["optimisers"].items()}},
            "results": {count: dict(accuracies) for count, accuracies in trainer.results.items()}}


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "task": trainer.config.task,
        "config": trainer.config.to_json(indent=None),
        "state_dict": to_cpu(trainer.model.state_dict()),
        "step": trainer.step_count,
        "diverged": trainer.diverged,
        "history": [dict(point) for point in trainer.history],
        "generator": trainer._generator.get_state(),
        "device": trainer._generator.device.type,
        **_task_state(trainer),
    }, buf)
    return buf.getvalue()


# ---------- reading, each piece checked ----------
def from_checkpoint(cls, data, device):
    """A trainer of class `cls` (task cls.TASK) rebuilt from checkpoint_bytes()."""
    blob = read_checkpoint(data, WHAT, FORMAT, COMMON_KEYS, DAMAGED)
    task = cls.TASK
    if blob["task"] != task:
        raise ValueError(f"not a checkpoint of task {task!r}: it holds one of task {str(blob['task'])[:40]!r}")
    missing = [k for k in TASK_KEYS[task] if k not in blob]
    if missing:
        raise ValueError(f"{DAMAGED}it lacks {', '.join(repr(k) for k in missing)}")
    if not isinstance(blob["config"], str):
        raise ValueError(f"{DAMAGED}its config is not JSON text")
    try:
        config = CONFIG_CLASSES[task].from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"{task} checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: a missing GPU is no fault of the file
    try:
        diverged = _flag(blob["diverged"], "diverged")
        # A diverged deep belief net keeps its last weights, NaN included; the other two keep the last finite ones.
        load_weights(trainer.model, blob["state_dict"], f"the {task} model", finite=not diverged)
        {"boltzmann": _load_boltzmann, "rbm": _load_rbm, "dbn": _load_dbn}[task](trainer, blob, not diverged)
        history = _history(blob["history"], trainer.HISTORY_KEYS + (("pretraining_layer",) if task == "dbn" else ()))
        _set_generator(trainer._generator, blob["generator"], "generator", _same_device(blob, trainer._generator))
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"{DAMAGED}{type(e).__name__}: {first_line(e)}") from None
    trainer.step_count = whole_number(blob["step"], "step", DAMAGED)
    trainer.diverged, trainer.history = diverged, history
    return trainer


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{DAMAGED}{name} must be true or false")
    return value


def _same_device(blob: dict, generator: torch.Generator) -> bool:
    if not isinstance(blob["device"], str):
        raise ValueError(f"{DAMAGED}device must be a device type")
    return blob["device"] == generator.device.type


def _set_generator(generator: torch.Generator, state, name: str, same_device: bool = True) -> None:
    """The saved state into `generator`; saved on another kind of device, only checked (see the docstring)."""
    state = generator_state(state, name, DAMAGED)
    if not same_device:
        return
    try:
        generator.set_state(state)
    except (RuntimeError, TypeError) as e:  # a state of the wrong size or kind
        raise ValueError(f"{DAMAGED}{name} is not a state of this generator ({first_line(e)})") from None


def _tensor(value, name: str, shape: tuple, finite: bool = True) -> torch.Tensor:
    """A float32 tensor of `shape` (None in it: any size there, at least 1) from the file."""
    if (not isinstance(value, torch.Tensor) or value.layout != torch.strided or value.dtype != torch.float32
            or value.dim() != len(shape) or any(s is not None and n != s or n < 1 for n, s in zip(value.shape, shape))):
        wanted = " × ".join("any" if s is None else str(s) for s in shape)
        raise ValueError(f"{DAMAGED}{name} must be a float32 tensor of {wanted} numbers")
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{DAMAGED}{name} holds NaN or infinity")
    return value


def _order(value, position, n: int, name: str) -> tuple[torch.Tensor, int]:
    """A batch order (a permutation of n) and how far it is used (0..n)."""
    if (not isinstance(value, torch.Tensor) or value.dtype != torch.int64 or value.shape != (n,)
            or not torch.equal(value.sort().values, torch.arange(n))):
        raise ValueError(f"{DAMAGED}{name} order must be a permutation of {n:,}")
    position = whole_number(position, f"{name} position", DAMAGED)
    if position > n:
        raise ValueError(f"{DAMAGED}{name} position must be at most {n:,}, got {position}")
    return value.clone(), position


def _dict(value, keys: tuple, name: str) -> dict:
    if not isinstance(value, dict) or any(k not in value for k in keys):
        raise ValueError(f"{DAMAGED}{name} must be a dict with the keys {', '.join(keys)}")
    return value


def _history(value, keys: tuple) -> list[dict]:
    """The curves: points with exactly `keys`, each a number (NaN and infinity too: a curve not started yet, a
    free energy that overflowed) or, for the deep belief net's phase, one of PHASES."""
    def fits(name, v):
        if name == "phase":
            return v in PHASES
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and set(p) == set(keys) and all(fits(k, v) for k, v in p.items()) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with the keys {', '.join(sorted(keys))}")
    return [dict(p) for p in value]


def _load_cd(cd, blob, name: str, finite: bool) -> None:
    """A ContrastiveDivergence's batch order, momentum and persistent chains (engine/energy/rbm.py)."""
    blob = _dict(blob, CD_KEYS, name)
    order, position = _order(blob["order"], blob["position"], len(cd.data), name)
    epoch = whole_number(blob["epoch"], f"{name} epoch", DAMAGED)
    velocity = blob["velocity"]
    params = (cd.rbm.weight, cd.rbm.visible_bias, cd.rbm.hidden_bias)
    if not isinstance(velocity, list) or len(velocity) != len(params):
        raise ValueError(f"{DAMAGED}{name} velocity must be 3 tensors: the weights', the visible and hidden biases'")
    velocity = [_tensor(v, f"{name} velocity", tuple(p.shape), finite) for v, p in zip(velocity, params)]
    chains = blob["persistent"]
    if chains is not None:
        chains = _tensor(chains, f"{name} persistent chains", (None, cd.rbm.n_visible))
    _set_generator(cd._order_generator, blob["order_generator"], f"{name} order_generator")
    with torch.no_grad():
        for target, saved in zip(cd._velocity, velocity):
            target.copy_(saved)
    cd._order, cd._position, cd.epoch = order, position, epoch
    cd._persistent = None if chains is None else chains.to(cd.data.device)


def _load_boltzmann(trainer, blob: dict, finite: bool) -> None:
    m, c = trainer.model, trainer.config
    velocity_w = _tensor(blob["velocity_w"], "velocity_w", tuple(m.weight.shape), finite)
    velocity_b = _tensor(blob["velocity_b"], "velocity_b", tuple(m.bias.shape), finite)
    chains = _tensor(blob["chains"], "chains", (c.chains, m.n_units))
    with torch.no_grad():
        trainer._velocity_w.copy_(velocity_w)
        trainer._velocity_b.copy_(velocity_b)
    trainer.chains = chains.to(trainer.device).clone()


def _load_rbm(trainer, blob: dict, finite: bool) -> None:
    _load_cd(trainer.cd, blob["cd"], "cd", finite)
    dreams, probabilities = blob["dreams"], blob["dream_probabilities"]
    steps = whole_number(blob["dream_steps"], "dream_steps", DAMAGED)
    if (dreams is None) != (probabilities is None):
        raise ValueError(f"{DAMAGED}dreams and dream_probabilities must both be there, or neither")
    if dreams is not None:
        dreams = _tensor(dreams, "dreams", (None, 64)).to(trainer.device)
        probabilities = _tensor(probabilities, "dream_probabilities", tuple(dreams.shape)).to(trainer.device)
    _set_generator(trainer._dream_generator, blob["dream_generator"], "dream_generator",
                   _same_device(blob, trainer._dream_generator))
    trainer.dreams, trainer._dream_probabilities, trainer.dream_steps = dreams, probabilities, steps


def _load_dbn(trainer, blob: dict, finite: bool) -> None:
    results = blob["results"]
    if not isinstance(results, dict) or not all(
            isinstance(count, str) and isinstance(acc, dict) and set(acc) == {"pretrained", "random"}
            and all(isinstance(v, float) and (math.isnan(v) or 0 <= v <= 1) for v in acc.values())
            for count, acc in results.items()):
        raise ValueError(f"{DAMAGED}results must map each labelled count to its two accuracies")
    if blob["cd"] is not None:
        layer = blob["cd"].get("layer") if isinstance(blob["cd"], dict) else None
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(trainer.model.rbms):
            raise ValueError(f"{DAMAGED}cd layer must be one of the {len(trainer.model.rbms)} RBMs")
        _load_cd(trainer._cd_for(layer), blob["cd"], "cd", finite)
    if blob["finetune"] is not None:
        f = _dict(blob["finetune"], FINETUNE_KEYS, "finetune")
        index = f["index"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(trainer.config.labelled):
            raise ValueError(f"{DAMAGED}finetune index must name one of the {len(trainer.config.labelled)} counts")
        trainer._start_finetune(index)  # draws an order from the batch generator: its saved state is set after
        own = trainer._finetune
        own["order"], own["position"] = _order(f["order"], f["position"], len(own["idx"]), "finetune")
        nets = _dict(f["nets"], ("pretrained", "random"), "finetune nets")
        optimisers = _dict(f["optimisers"], ("pretrained", "random"), "finetune optimisers")
        for name in ("pretrained", "random"):
            load_weights(own["nets"][name], nets[name], f"the {name} network", finite=finite)
            load_optimizer_state(own["optimisers"][name], optimisers[name], trainer.config.finetune_lr, DAMAGED,
                                 finite=finite)
    _set_generator(trainer._batch_generator, blob["batch_generator"], "batch_generator")
    trainer.results = {count: dict(acc) for count, acc in results.items()}
