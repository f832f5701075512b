"""Checkpoints of both GAN trainers, the 2-D game and the digits: everything a game needs to go on
exactly where it stopped.

A checkpoint is a dict of tensors and plain data written with torch.save, so that
torch.load(weights_only=True) reads it and a file that would run code is refused:

    format        1: this layout
    kind          "gan" (GANTrainer, the 2-D game) or "digits" (DigitsGANTrainer)
    config        the config as JSON text (hot changes included: learning rates, k, loss, batch size)
    G, D          both networks' weights (for the digits an MLP's or a DCGAN's, as the config's architecture
                  says; a DCGAN's batch norm keeps no running averages, so there are no other buffers)
    opt_g, opt_d  both optimisers' state (Adam's moments and step, momentum buffers, ...)
    generator     the state of the CPU generator that draws the real batches and the noise
    counters      the trainer's counters (the 2-D game: steps, D updates, G updates; digits: steps)
    losses        the moving averages of the D and G losses (NaN before the first update)
    diverged      the game stopped on a non-finite loss and waits for a new learning rate or loss
    history       the curves so far (a list of plain dicts, one per snapshot)
    timeline      digits only: the steps of the kept sample grids and the grids, (n, 36, 8, 8)

The fixed evaluation points and noise are not saved: a trainer draws them from its seed. With all
of it, step(5), save, load, step(5) gives the snapshot, weights and curves of step(10) bit for bit
(tests/test_gan_engine.py). Each piece is checked before it is used, so that a damaged or hand-made
file fails here with a ValueError that names what is wrong, never later inside a training step.
The functions take the trainer (or its class) as an argument: trainer.py and digits.py import
this module, not the other way round.
"""
from __future__ import annotations

import io
import json
import math

import torch

from ..core.checkpoint import first_line, generator_state, safe_load, to_cpu, whole_number

FORMAT = 1
KEYS = ("format", "kind", "config", "G", "D", "opt_g", "opt_d", "generator", "counters", "losses", "diverged",
        "history")
HISTORY_KEYS = frozenset({"step", "d_loss", "g_loss", "d_real", "d_fake", "mmd"})
WHAT = "a GAN checkpoint of this app"


def checkpoint_bytes(trainer) -> bytes:
    """The trainer's checkpoint (the layout above); `trainer` names its kind and counters."""
    blob = {"format": FORMAT, "kind": trainer.CHECKPOINT_KIND, "config": trainer.config.to_json(),
            "G": to_cpu(trainer.G.state_dict()), "D": to_cpu(trainer.D.state_dict()),
            "opt_g": to_cpu(trainer.opt_g.state_dict()), "opt_d": to_cpu(trainer.opt_d.state_dict()),
            "generator": trainer._gen.get_state(), "counters": [getattr(trainer, c) for c in trainer.COUNTERS],
            "losses": [float(v) for v in trainer._ema], "diverged": bool(trainer.diverged),
            "history": [dict(point) for point in trainer.history]}
    if trainer.GRID_SHAPE:
        blob["timeline"] = {"steps": [step for step, _ in trainer.timeline],
                            "grids": torch.tensor([grid.tolist() for _, grid in trainer.timeline], dtype=torch.float32)
                            .reshape(-1, *trainer.GRID_SHAPE)}
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def from_checkpoint(cls, config_cls, data, device):
    """A `cls` trainer on `device` with the checkpoint's config and state; ValueError for anything
    that is not a checkpoint of this kind written by this app."""
    blob = safe_load(data, WHAT)
    if not isinstance(blob, dict):
        raise ValueError(f"not {WHAT}: it holds a {type(blob).__name__}, not a dict")
    if blob.get("format") != FORMAT or blob.get("kind") != cls.CHECKPOINT_KIND:
        raise ValueError(f"not {WHAT}: its format is {blob.get('format')!r:.40} of kind {blob.get('kind')!r:.40}, "
                         f"this game reads format {FORMAT} of kind {cls.CHECKPOINT_KIND!r}")
    missing = [k for k in KEYS + (("timeline",) if cls.GRID_SHAPE else ()) if k not in blob]
    if missing:
        raise ValueError(f"GAN checkpoint is damaged: it lacks {', '.join(repr(k) for k in missing)}")
    if not isinstance(blob["config"], str):
        raise ValueError("GAN checkpoint is damaged: its config is not JSON text")
    try:
        config = config_cls.from_dict(json.loads(blob["config"]))
    except Exception as e:  # noqa: BLE001 - ConfigError, or a JSON error: a config this engine cannot run
        raise ValueError(f"GAN checkpoint has an invalid config: {first_line(e)}") from None
    trainer = cls(config, device)  # outside the net below: a missing GPU is no fault of the file
    try:
        _load(trainer, blob)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - anything a check did not foresee is still a damaged file
        raise ValueError(f"GAN checkpoint is damaged ({type(e).__name__}: {first_line(e)})") from None
    return trainer


DAMAGED = "GAN checkpoint is damaged: "


def _load(trainer, blob: dict) -> None:
    """Every piece checked first, then applied."""
    counters = blob["counters"]
    if not isinstance(counters, list) or len(counters) != len(trainer.COUNTERS):
        raise ValueError(f"{DAMAGED}counters must be a list of {len(trainer.COUNTERS)} whole numbers")
    counters = [whole_number(v, name, DAMAGED) for v, name in zip(counters, trainer.COUNTERS)]
    losses = blob["losses"]
    if not isinstance(losses, list) or len(losses) != 2 or not all(_number(v) for v in losses):
        raise ValueError(f"{DAMAGED}losses must be two numbers")
    if not isinstance(blob["diverged"], bool):
        raise ValueError(f"{DAMAGED}diverged must be true or false")
    history = _history(blob["history"])
    timeline = _timeline(blob["timeline"], trainer.GRID_SHAPE) if trainer.GRID_SHAPE else None
    state = generator_state(blob["generator"], "generator", DAMAGED)
    for name in ("G", "D"):
        _load_weights(getattr(trainer, name), blob[name], name)
    for name in ("opt_g", "opt_d"):
        _load_optimizer(getattr(trainer, name), blob[name], name)
    try:
        trainer._gen.set_state(state)
    except (RuntimeError, TypeError) as e:  # a state of the wrong size
        raise ValueError(f"{DAMAGED}generator is not a state of this generator ({first_line(e)})") from None
    for name, value in zip(trainer.COUNTERS, counters):
        setattr(trainer, name, value)
    trainer._ema = [float(v) for v in losses]
    trainer.diverged, trainer.history = blob["diverged"], history
    if timeline is not None:
        trainer.timeline = timeline


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _history(value) -> list[dict]:
    def point_ok(p) -> bool:
        return isinstance(p, dict) and set(p) == HISTORY_KEYS and all(_number(v) for v in p.values())
    if not isinstance(value, list) or not all(point_ok(p) for p in value):
        raise ValueError(f"{DAMAGED}history must be a list of points with the keys {', '.join(sorted(HISTORY_KEYS))}, "
                         "each a number")
    return [dict(p) for p in value]


def _timeline(value, shape: tuple) -> list:
    """[(step, (36, 8, 8) float32 array)] from {"steps": [...], "grids": (n, 36, 8, 8)}."""
    steps, grids = (value.get("steps"), value.get("grids")) if isinstance(value, dict) else (None, None)
    if (not isinstance(steps, list) or not isinstance(grids, torch.Tensor) or grids.dtype != torch.float32
            or tuple(grids.shape) != (len(steps), *shape) or not bool(torch.isfinite(grids).all())):
        raise ValueError(f"{DAMAGED}timeline must hold steps and as many finite sample grids of {shape}")
    steps = [whole_number(s, "a timeline step", DAMAGED) for s in steps]
    return [(step, grid.numpy().copy()) for step, grid in zip(steps, grids)]


def _load_weights(net: torch.nn.Module, state, name: str) -> None:
    own = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise ValueError(f"checkpoint weights of {name} do not fit its config")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            raise ValueError(f"checkpoint weight {name}.{key} is not a dense tensor")
        if value.shape != own[key].shape or value.dtype != own[key].dtype:
            raise ValueError(f"checkpoint weights do not fit its config: {name}.{key} is {tuple(value.shape)} "
                             f"{value.dtype}, the network's {tuple(own[key].shape)} {own[key].dtype}")
        # A trainer never keeps weights that are not finite (a diverging step is undone): such a
        # file was made by hand or damaged, and nothing could be drawn or trained from it.
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"checkpoint weights are not all finite numbers (NaN or infinity in {name}.{key})")
    net.load_state_dict(state)


def _load_optimizer(optimizer: torch.optim.Optimizer, state, name: str) -> None:
    """The saved moments and counters; the hyperparameters (learning rate, betas, ...) are the
    optimiser's own, built from the config, so the saved param_groups only have to name its parameters."""
    if not isinstance(state, dict) or not isinstance(state.get("state"), dict) \
            or not isinstance(state.get("param_groups"), list):
        raise ValueError(f"{DAMAGED}{name} must hold 'state' and 'param_groups'")
    own = optimizer.state_dict()["param_groups"]
    saved = state["param_groups"]
    if len(saved) != len(own) or any(not isinstance(g, dict) or g.get("params") != o["params"]
                                     for g, o in zip(saved, own)):
        raise ValueError(f"{DAMAGED}{name} is not the state of an optimiser of these networks")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not all(isinstance(i, int) and 0 <= i < len(params) and isinstance(v, dict) for i, v in state["state"].items()):
        raise ValueError(f"{DAMAGED}{name} names no parameter of these networks")
    for index, (before, after) in enumerate(_state_keys(optimizer)):
        param_state = state["state"].get(index, {})
        if set(param_state) not in (before, after):
            raise ValueError(f"{DAMAGED}{name} is not the state of a {type(optimizer).__name__} optimiser")
        for key, value in param_state.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() \
                    or not bool(torch.isfinite(value).all()):
                raise ValueError(f"{DAMAGED}{name} state {key!r:.40} is not a tensor of finite numbers")
            if key == "step":
                if value.numel() != 1 or float(value) < 0 or not math.isclose(float(value), round(float(value))):
                    raise ValueError(f"{DAMAGED}{name} state 'step' must be a whole number >= 0")
            elif value.shape != params[index].shape:
                raise ValueError(f"{DAMAGED}{name} state {key!r:.40} is {tuple(value.shape)}, its parameter "
                                 f"{tuple(params[index].shape)}")
    optimizer.load_state_dict({"state": state["state"], "param_groups": own})  # moved to the parameters' device


def _state_keys(optimizer: torch.optim.Optimizer) -> list[tuple[set, set]]:
    """The keys of each parameter's state before any step and after one, read off a copy of the
    optimiser on zero copies of the parameters: Adam's state is empty until the first step,
    Adagrad's holds its sums from the start, and a state with the keys of neither is damaged."""
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
