"""Checkpoints of an AutoencoderTrainer: everything a run needs to go on exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format            1: the autoencoder checkpoint's layout (this list)
    config            the AutoencoderConfig as JSON text (hot changes included: learning rate, β, ...)
    state_dict        the model's weights and buffers
    optimizer         the optimiser's state_dict (momentum buffers, Adam's moments and step, Adagrad's sums)
    step, epoch       progress counters
    order, position   this epoch's shuffled order of the training images and how far it is used
    batch_generator   the state of the CPU generator that shuffles the next epochs (a ByteTensor)
    noise_generator   the state of the generator of the VAE's ε and the denoising corruption, and
    noise_device      the device type it draws on ("cpu", "cuda", "mps")
    grad_norms        the 5 gradient norms of the last step, for the next snapshot
    diverged          the run stopped on a non-finite loss and waits for a new learning rate
    history           the curves so far (a list of plain dicts, one per snapshot)

With all of it, step(30), save, load, step(30) gives the losses and weights of step(60) bit
for bit on the CPU (tests/test_autoencoder_checkpoint.py). The noise generator's state only
fits a generator of the same device type: a checkpoint moved between a GPU and the CPU goes on
with the noise stream a new trainer would draw (the streams differ between devices anyway).

Each piece is checked before it is used, so that a damaged or hand-made file fails here with a
ValueError that names what is wrong, never later inside a training step or with another
exception type. The functions take the trainer (or its class) as an argument and never import
it: engine/autoencoders/trainer.py imports this module, not the other way round.
"""
from __future__ import annotations

import io

import torch

from ..core.checkpoint import first_line, generator_state, safe_load, to_cpu, whole_number
from .config import AutoencoderConfig

FORMAT = 1
N_GRAD_NORMS = 5   # encoder, encoder-from-recon, encoder-from-penalty, code-from-recon, decoder


def checkpoint_bytes(trainer) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": trainer.config.to_json(),
        "state_dict": to_cpu(trainer.model.state_dict()),
        "optimizer": to_cpu(trainer.optimizer.state_dict()),
        "step": trainer.step_count,
        "epoch": trainer.epoch,
        "order": trainer._order.cpu(),
        "position": trainer._position,
        "batch_generator": trainer._batch_gen.get_state(),
        "noise_generator": trainer._noise_gen.get_state(),
        "noise_device": trainer._noise_gen.device.type,
        "grad_norms": trainer._grad_norms.cpu(),
        "diverged": trainer.diverged,
        "history": [dict(point) for point in trainer.history],
    }, buf)
    return buf.getvalue()


def _read(data) -> dict:
    """The checkpoint's dict, read with the safe loader alone."""
    blob = safe_load(data, "an autoencoder checkpoint")
    if not isinstance(blob, dict):
        raise ValueError(f"not an autoencoder checkpoint: it holds a {type(blob).__name__}, not a dict")
    if blob.get("format") != FORMAT:
        raise ValueError(f"not an autoencoder checkpoint: its format is {blob.get('format')!r}, this app reads "
                         f"format {FORMAT}")
    missing = [k for k in ("config", "state_dict", "optimizer", "step", "epoch", "order", "position",
                           "batch_generator", "noise_generator", "noise_device", "grad_norms", "diverged", "history")
               if k not in blob]
    if missing:
        raise ValueError(f"autoencoder checkpoint is damaged: it lacks {', '.join(repr(k) for k in missing)}")
    return blob


def from_checkpoint(cls, data: bytes, device):
    blob = _read(data)
    if not isinstance(blob["config"], str):
        raise ValueError("autoencoder checkpoint is damaged: its config is not JSON text")
    try:
        config = AutoencoderConfig.from_json(blob["config"])
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"autoencoder checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: a missing GPU is no fault of the file
    try:
        _load_weights(trainer, blob["state_dict"])
        _load_training_state(trainer, blob)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"autoencoder checkpoint is damaged ({type(e).__name__}: {first_line(e)})") from None
    return trainer


def _load_weights(trainer, state) -> None:
    own = trainer.model.state_dict()
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ValueError("autoencoder checkpoint is damaged: state_dict must map names to tensors")
    if set(state) != set(own):
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        raise ValueError("checkpoint weights do not fit its config"
                         + (f": missing {', '.join(missing[:4])}" if missing else "")
                         + (f"; unexpected {', '.join(extra[:4])}" if extra else ""))
    for name, value in state.items():
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            raise ValueError(f"checkpoint weight {name} is not a dense tensor")
        if value.shape != own[name].shape or value.dtype != own[name].dtype:
            raise ValueError(f"checkpoint weights do not fit its config: {name} is {tuple(value.shape)} "
                             f"{value.dtype}, the model's {tuple(own[name].shape)} {own[name].dtype}")
        # A trainer never keeps weights that are not finite (a diverging step is undone), so such a
        # file was made by hand or damaged: nothing could be drawn or trained from it.
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"checkpoint weights are not all finite numbers (NaN or infinity in {name})")
    trainer.model.load_state_dict(state)


DAMAGED = "autoencoder checkpoint is damaged: "


def _count(value, name: str) -> int:
    return whole_number(value, name, DAMAGED)


def _byte_tensor(value, name: str) -> torch.Tensor:
    return generator_state(value, name, DAMAGED)


def _set_generator(generator: torch.Generator, state, name: str) -> None:
    try:
        generator.set_state(_byte_tensor(state, name))
    except (RuntimeError, TypeError) as e:  # a state of the wrong size or kind
        raise ValueError(f"autoencoder checkpoint is damaged: {name} is not a state of this generator "
                         f"({first_line(e)})") from None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _history(value, keys: frozenset) -> list[dict]:
    def point_ok(p) -> bool:
        return isinstance(p, dict) and set(p) == keys and all(
            v is None or _number(v) or (isinstance(v, list) and all(_number(a) for a in v)) for v in p.values())
    if not isinstance(value, list) or not all(point_ok(p) for p in value):
        raise ValueError(f"autoencoder checkpoint is damaged: history must be a list of points with the keys "
                         f"{', '.join(sorted(keys))}, each a number, a list of numbers or None")
    return [{k: list(v) if isinstance(v, list) else v for k, v in p.items()} for p in value]


def _load_training_state(trainer, blob: dict) -> None:
    """Everything past the weights, each piece checked before any is applied."""
    n = trainer.n_train
    step, epoch = _count(blob["step"], "step"), _count(blob["epoch"], "epoch")
    position = _count(blob["position"], "position")
    order = blob["order"]
    if (not isinstance(order, torch.Tensor) or order.dtype != torch.int64 or order.shape != (n,)
            or not torch.equal(order.sort().values, torch.arange(n))):
        raise ValueError(f"autoencoder checkpoint is damaged: order must be a permutation of the {n} training images")
    if position >= n:
        raise ValueError(f"autoencoder checkpoint is damaged: position must be below {n}, got {position}")
    norms = blob["grad_norms"]
    if (not isinstance(norms, torch.Tensor) or not norms.is_floating_point() or norms.shape != (N_GRAD_NORMS,)
            or not bool(torch.isfinite(norms).all())):
        raise ValueError(f"autoencoder checkpoint is damaged: grad_norms must be {N_GRAD_NORMS} finite numbers")
    if not isinstance(blob["diverged"], bool):
        raise ValueError("autoencoder checkpoint is damaged: diverged must be true or false")
    history = _history(blob["history"], trainer.HISTORY_KEYS)
    if not isinstance(blob["noise_device"], str):
        raise ValueError("autoencoder checkpoint is damaged: noise_device must be a device type")
    _load_optimizer_state(trainer, blob["optimizer"])
    _set_generator(trainer._batch_gen, blob["batch_generator"], "batch_generator")
    if blob["noise_device"] == trainer._noise_gen.device.type:
        _set_generator(trainer._noise_gen, blob["noise_generator"], "noise_generator")
    else:  # saved on another kind of device: go on with a new trainer's noise stream (see the docstring)
        _byte_tensor(blob["noise_generator"], "noise_generator")
    trainer.step_count, trainer.epoch = step, epoch
    trainer._order, trainer._position = order.clone(), position
    trainer._grad_norms = norms.float().clone()
    trainer.diverged = blob["diverged"]
    trainer.history = history


def _load_optimizer_state(trainer, state) -> None:
    """The saved moments and counters; the hyperparameters (learning rate, betas, ...) are the
    config's, so the saved param_groups only have to name this model's parameters."""
    optimizer = trainer.optimizer
    name = trainer.config.train.optimizer
    if not isinstance(state, dict) or not isinstance(state.get("state"), dict) \
            or not isinstance(state.get("param_groups"), list):
        raise ValueError("autoencoder checkpoint is damaged: optimizer must hold 'state' and 'param_groups'")
    ids = _param_ids(optimizer)
    groups = state["param_groups"]
    if len(groups) != len(ids) or any(not isinstance(g, dict) or g.get("params") != own for g, own in zip(groups, ids)):
        raise ValueError(f"autoencoder checkpoint is damaged: the optimizer state is not that of {name!r} "
                         "for this model")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    saved = state["state"]
    if not all(isinstance(i, int) and 0 <= i < len(params) and isinstance(v, dict) for i, v in saved.items()):
        raise ValueError("autoencoder checkpoint is damaged: the optimizer state names no parameter of this model")
    for index, (before, after) in enumerate(_state_keys(optimizer)):
        param_state = saved.get(index, {})
        if set(param_state) not in (before, after):
            raise ValueError(f"autoencoder checkpoint is damaged: the optimizer state is not that of {name!r} "
                             f"(a parameter's holds {', '.join(sorted(map(str, param_state))) or 'nothing'})")
        for key, value in param_state.items():
            if not isinstance(value, torch.Tensor) or value.layout != torch.strided or value.is_complex() \
                    or value.dtype == torch.bool:
                raise ValueError(f"autoencoder checkpoint is damaged: optimizer state {key!r} is not a real tensor")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"autoencoder checkpoint is damaged: optimizer state {key!r} is not all finite")
            if key == "step":
                if value.numel() != 1 or float(value) < 0 or float(value) != int(float(value)):
                    raise ValueError("autoencoder checkpoint is damaged: optimizer state 'step' must be a whole "
                                     "number >= 0")
            elif value.shape != params[index].shape or not value.is_floating_point():
                raise ValueError(f"autoencoder checkpoint is damaged: optimizer state {key!r} is {tuple(value.shape)} "
                                 f"{value.dtype}, its parameter {tuple(params[index].shape)} {params[index].dtype}")
    own_groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state["state"], "param_groups": own_groups})  # to the parameters' device
    for group in optimizer.param_groups:
        group["lr"] = trainer.config.train.lr


def _state_keys(optimizer) -> list[tuple[set, set]]:
    """The keys of each parameter's state before any step and after one, read off a copy of the
    optimiser on zero copies of the parameters: Adam's state is empty until the first step,
    Adagrad's holds its sums from the start, and a state with some keys of either is damaged."""
    groups = [{**{k: v for k, v in g.items() if k != "params"},
               "params": [torch.zeros_like(p, device="cpu", requires_grad=True) for p in g["params"]]}
              for g in optimizer.param_groups]
    probe = type(optimizer)(groups, **optimizer.defaults)
    copies = [p for group in probe.param_groups for p in group["params"]]
    before = [set(probe.state.get(p, {})) for p in copies]
    for p in copies:
        p.grad = torch.zeros_like(p)
    probe.step()
    return list(zip(before, [set(probe.state.get(p, {})) for p in copies]))


def _param_ids(optimizer) -> list[list[int]]:
    """The parameter numbers of each group, as a state_dict writes them (0, 1, ... across groups)."""
    ids, start = [], 0
    for group in optimizer.param_groups:
        ids.append(list(range(start, start + len(group["params"]))))
        start += len(group["params"])
    return ids
