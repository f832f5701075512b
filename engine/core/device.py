"""Device choice: CUDA, then Apple's MPS, then CPU, unless told otherwise."""
from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> torch.device:
    """Resolve "auto" to the best device present; refuse a named device that is missing."""
    if name not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible to PyTorch; use 'auto' or 'cpu'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but Apple's MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A short human description: 'cuda (NVIDIA H100)', 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n != 1 else ''})"
    return device.type


def use_one_cpu_thread() -> None:
    """Run CPU ops on one thread. The networks here are tiny: splitting a 10x8 matrix
    product over threads costs more in synchronisation than it saves (measured: 1,000
    steps of the default config took 2.3 s with 2 threads on a busy 2-core machine,
    0.43 s with 1). Called by the app and the CLI, not on import."""
    torch.set_num_threads(1)
