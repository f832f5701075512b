"""The copy task: a sequence of random bit vectors, a delimiter, then the same vectors asked back.

Inputs have bits + 1 channels, the last one the delimiter. For a sequence of length T the network
sees T + 1 + T steps: the T vectors (delimiter channel 0), one step with only the delimiter on,
then T blank steps during which it must output the T vectors in order. Only those last T steps are
scored. Every batch comes from a torch.Generator the caller owns, on the CPU (the same bits on
every device), and is moved to the device afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CopyBatch:
    inputs: torch.Tensor    # (B, 2T + 1, bits + 1): the vectors, the delimiter, then blanks
    targets: torch.Tensor   # (B, T, bits): what the last T steps must output
    length: int             # T

    @property
    def steps(self) -> int:
        return 2 * self.length + 1

    def to(self, device: torch.device) -> "CopyBatch":
        return CopyBatch(self.inputs.to(device), self.targets.to(device), self.length)


def copy_batch(batch_size: int, length: int, bits: int, generator: torch.Generator) -> CopyBatch:
    """batch_size sequences of `length` random bit vectors (each bit 0 or 1 with probability 1/2)."""
    if length < 1 or bits < 1 or batch_size < 1:
        raise ValueError(f"length, bits and batch_size must be at least 1, got {length}, {bits}, {batch_size}")
    seq = torch.randint(0, 2, (batch_size, length, bits), generator=generator).float()   # (B, T, bits)
    inputs = torch.zeros(batch_size, 2 * length + 1, bits + 1)
    inputs[:, :length, :bits] = seq
    inputs[:, length, bits] = 1.0                                                         # the delimiter
    return CopyBatch(inputs, seq, length)


def random_length(low: int, high: int, generator: torch.Generator) -> int:
    """A length drawn uniformly from low..high (both included)."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def bit_error(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The share of bits wrong after thresholding the output probabilities at 0.5."""
    return float(((outputs > 0.5).float() != targets).float().mean())
