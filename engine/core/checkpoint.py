"""What every lab's checkpoint shares: tensors moved to the CPU for saving, and the one safe
way to read a file back, torch.load(weights_only=True), with messages a user can act on.

PyTorch's own message for a refused file advises switching the protection off; it is never
passed on. What the safe unpickler itself found (the error's __context__) says whether the file
names code or objects other than tensors and plain data ("refused as unsafe"), or is simply not a
file torch.save wrote.
"""
from __future__ import annotations

import io
import json
import pickle
import pickletools
import re

import torch

SHOWN_CHARACTERS = 200  # of a message quoted from a library


def to_cpu(value):
    """The same nested structure with every tensor copied to the CPU (a checkpoint saved on a
    GPU loads on a machine without one)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return value


def first_line(e: BaseException | str) -> str:
    text = str(e).strip().splitlines()
    return text[0][:SHOWN_CHARACTERS] if text else type(e).__name__


def safe_load(data, what: str):
    """The object a checkpoint file holds, read with the safe loader alone; a ValueError that
    starts "not <what>" for anything else (`what`: "a Neural Playground checkpoint", ...)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"not {what}: expected the file's bytes, got {type(data).__name__}")
    if not len(data):
        raise ValueError(f"not {what}: the file is empty")
    try:
        return torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = str(e.__context__ or "")
        named = re.search(r"GLOBAL ([\w.]{1,100})", found)
        code = _names_code(bytes(data))
        if named or "global" in found.lower() or code:
            name = named.group(1) if named else code if isinstance(code, str) else ""
            also = f" (it names {name})" if name else ""
            raise ValueError(f"not {what}: the file was refused as unsafe, because it holds code or objects other "
                             f"than tensors and plain data{also}, and this app loads nothing else") from None
        raise ValueError(f"not {what}: the bytes are not a file written by torch.save "
                         f"({first_line(found) if found else 'unreadable'})") from None
    except Exception as e:  # noqa: BLE001 - a truncated zip, an odd stream: any failure means "not a checkpoint"
        raise ValueError(f"not {what} ({type(e).__name__}: {first_line(e)})") from None


_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"}


def _names_code(data: bytes) -> str | bool:
    """Whether a plain pickle (not a torch.save zip) would call or build objects: read opcode by
    opcode with pickletools, which runs nothing. The module.name it imports, or True, or False."""
    try:
        ops = list(pickletools.genops(data))
    except Exception:  # noqa: BLE001 - not a pickle stream at all
        return False
    for op, arg, _ in ops:
        if op.name == "GLOBAL" and isinstance(arg, str):  # protocol 0-2: the name is the argument
            return arg.replace(" ", ".")[:100]
    return any(op.name in _CODE_OPCODES for op, _, _ in ops)


def read_checkpoint(data, what: str, fmt: int, keys: tuple[str, ...], damaged: str) -> dict:
    """A lab's checkpoint dict, read with safe_load alone: a dict of format `fmt` holding every key of
    `keys`; ValueError otherwise (`what`: "a cnn checkpoint"; `damaged`: "cnn checkpoint is damaged: ")."""
    blob = safe_load(data, what)
    if not isinstance(blob, dict):
        raise ValueError(f"not {what}: it holds a {type(blob).__name__}, not a dict")
    if blob.get("format") != fmt:
        raise ValueError(f"not {what}: its format is {blob.get('format')!r:.40}, this app reads format {fmt}")
    missing = [k for k in keys if k not in blob]
    if missing:
        raise ValueError(f"{damaged}it lacks {', '.join(repr(k) for k in missing)}")
    return blob


def whole_number(value, name: str, damaged: str = "") -> int:
    """A counter read from a checkpoint: an int >= 0 (not a bool); ValueError naming it otherwise.
    `damaged` starts the message ("autoencoder checkpoint is damaged: ")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{damaged}{name} must be a whole number >= 0, got {value!r:.60}")
    return value


def generator_state(value, name: str, damaged: str = "") -> torch.Tensor:
    """A torch.Generator's state read from a checkpoint: a 1-D ByteTensor; ValueError otherwise."""
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        raise ValueError(f"{damaged}{name} must be a generator state (a 1-D ByteTensor)")
    return value


# ---------- weights and optimiser states, checked before they are loaded ----------
# Any lab's network and optimiser: the sequence, sentiment and cnn checkpoints read theirs with these.

def load_weights(model: torch.nn.Module, state, label: str, finite: bool = True) -> None:
    """`state` into `model` once it has the model's names, shapes and dtypes (and, unless `finite`
    is False, only finite numbers)."""
    own = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise ValueError(f"checkpoint weights of {label} do not fit its config (other parameter names)")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            raise ValueError(f"checkpoint weight {name} of {label} is not a dense tensor")
        if value.shape != own[name].shape or value.dtype != own[name].dtype:
            raise ValueError(f"checkpoint weights of {label} do not fit its config: {name} is "
                             f"{tuple(value.shape)} {value.dtype}, the model's {tuple(own[name].shape)} "
                             f"{own[name].dtype}")
        # A trainer keeps weights that are not finite only in a model it stopped for diverging:
        # anywhere else such a file was made by hand or damaged, and nothing could be drawn from it.
        if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"checkpoint weights of {label} are not all finite numbers (NaN or infinity in {name})")
    model.load_state_dict(state)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state, lr: float, damaged: str,
                         finite: bool = True) -> None:
    """The saved moments and counters into `optimizer`. Its hyperparameters are the config's (a hot
    change of learning rate is in the config), so the saved param_groups only have to name the
    same parameters; each parameter's state must hold what this optimiser keeps, before its first
    step or after it, with the parameter's shape (and, unless `finite` is False, finite numbers:
    the moments of a model that diverged may have overflowed)."""
    own_groups = optimizer.state_dict()["param_groups"]
    if (not isinstance(state, dict) or not isinstance(state.get("state"), dict)
            or not isinstance(state.get("param_groups"), list) or len(state["param_groups"]) != len(own_groups)
            or any(not isinstance(g, dict) or g.get("params") != own["params"]
                   for g, own in zip(state["param_groups"], own_groups))):
        raise ValueError(f"{damaged}an optimizer state is not that of this model's optimiser")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    saved = state["state"]
    if not all(type(i) is int and 0 <= i < len(params) and isinstance(v, dict) for i, v in saved.items()):
        raise ValueError(f"{damaged}an optimizer state names no parameter of its model")
    for index, (before, after) in enumerate(_state_keys(optimizer)):
        param_state = saved.get(index, {})
        if set(param_state) not in (before, after):
            raise ValueError(f"{damaged}an optimizer state is not that of {type(optimizer).__name__} (a parameter's "
                             f"holds {', '.join(sorted(map(str, param_state))) or 'nothing'})")
        for key, value in param_state.items():
            if (not isinstance(value, torch.Tensor) or value.layout != torch.strided or value.is_complex()
                    or value.dtype == torch.bool or (finite and not bool(torch.isfinite(value).all()))):
                raise ValueError(f"{damaged}optimizer state {key!r} is not a tensor of "
                                 f"{'finite ' if finite else ''}real numbers")
            scalar_step = key == "step" and value.numel() == 1 and 0 <= float(value) < 2**53
            if not scalar_step and (value.shape != params[index].shape or not value.is_floating_point()):
                raise ValueError(f"{damaged}optimizer state {key!r} is {tuple(value.shape)}, its parameter "
                                 f"{tuple(params[index].shape)}")
    optimizer.load_state_dict({"state": saved, "param_groups": own_groups})  # to the parameters' device
    for group in optimizer.param_groups:
        group["lr"] = lr


def _state_keys(optimizer: torch.optim.Optimizer) -> list[tuple[set, set]]:
    """The keys of each parameter's state before any step and after one, read off a copy of the
    optimiser on zero copies of the parameters (Adam's state is empty until its first step,
    Adagrad's holds its sums from the start)."""
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


def checkpoint_task(data) -> str | None:
    """The task (or kind) a checkpoint of this app says it holds ("cnn", "gan", ...), read with the
    safe loader; None when the bytes are not a checkpoint or name nothing. A page's Load names it
    when it refuses another lab's file, where the lab's own loader would only say what is missing."""
    try:
        blob = safe_load(data, "a checkpoint")
    except ValueError:
        return None
    if not isinstance(blob, dict):
        return None
    config = blob.get("config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = None
    task = blob.get("task") or (config.get("task") if isinstance(config, dict) else None) or blob.get("kind")
    return task[:40] if isinstance(task, str) and task else None
