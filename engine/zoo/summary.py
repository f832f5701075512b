"""The module summariser of the architecture map: for each layer of a PyTorch module, in the order
it runs, its type, output shape (from forward hooks on one example input) and parameter count."""
from __future__ import annotations

import torch
from torch import nn


def shape_of(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (tuple, list)):
        parts = [shape_of(v) for v in value if isinstance(v, (torch.Tensor, tuple, list))]
        return "[" + ", ".join(parts) + "]" if parts else "—"
    first = getattr(value, "last_hidden_state", None)  # transformers' model outputs
    return shape_of(first) if first is not None else "—"


def summarise(module: nn.Module, example_input=None, forward=None) -> dict:
    """Layers in the order they run: {"rows": [{name, type, depth, output_shape, params}], "total_params",
    "trainable_params"}. With example_input (a tensor or a tuple of forward's arguments) each row has its
    output shape, from forward hooks registered here and removed before returning; without it, the rows
    list the modules that hold parameters and the shapes read "—". Parameters are counted once, at the
    first call of the module that owns them (recurse=False), so the rows add up to the total.
    `forward` (default: the module itself) is what runs on the example, for models used through
    methods such as encode/decode."""
    rows: list[dict] = []
    counted: set[int] = set()

    def own_params(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters(recurse=False))

    def row(name: str, m: nn.Module, shape: str, at: int | None = None) -> None:
        first = id(m) not in counted
        counted.add(id(m))
        rows.insert(len(rows) if at is None else at, {"name": name or "(model)", "type": type(m).__name__, "depth": name.count(".") + (1 if name else 0),
                     "output_shape": shape, "params": own_params(m) if first else 0})

    if example_input is None:
        for name, m in module.named_modules():
            if own_params(m) or not list(m.children()):
                row(name, m, "—")
    else:
        handles = []
        for name, m in module.named_modules():
            is_leaf = not list(m.children())
            if name and (is_leaf or own_params(m)):
                handles.append(m.register_forward_hook(
                    lambda mod, _inp, out, name=name: row(name, mod, shape_of(out))))
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = (forward or module)(*args)
        finally:
            for h in handles:
                h.remove()
            module.train(was_training)
        if own_params(module):  # parameters on the model itself (an RBF network's centres)
            row("", module, shape_of(out), at=0)
        for name, m in module.named_modules():  # modules the forward pass never reached
            if id(m) not in counted and own_params(m):
                row(name, m, "not called")
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"rows": rows, "total_params": total, "trainable_params": trainable}
