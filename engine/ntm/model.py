"""The neural Turing machine (an LSTM controller with one read head and one write head on an N × M
memory) and the plain LSTM it is compared with. Both map a copy-task input (B, T, bits + 1) to output
logits (B, T, bits) (a sigmoid makes them probabilities); only the last steps are scored (engine/ntm/copy_task.py).

The addressing is written as small functions (content_weights, interpolate, shift, sharpen, read,
write) so that each one can be checked against a hand computation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SHIFT_RANGE = 1          # the heads may move by −1, 0 or +1 slots a step: all the copy task needs
N_SHIFTS = 2 * SHIFT_RANGE + 1
EPS = 1e-8


# ---------- addressing ----------
def content_weights(memory: torch.Tensor, key: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """w_c[i] = softmax_i(β · cos(k, M_i)). memory (B, N, M), key (B, M), beta (B, 1) -> (B, N)."""
    # Written out rather than F.cosine_similarity: one batched product is about twice as fast on the CPU,
    # and this runs twice a step.
    dot = torch.bmm(memory, key.unsqueeze(2)).squeeze(2)                          # (B, N)
    similarity = dot / (memory.norm(dim=-1) * key.norm(dim=-1, keepdim=True) + EPS)
    return torch.softmax(beta * similarity, dim=-1)


def interpolate(w_content: torch.Tensor, w_previous: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """w_g = g · w_c + (1 − g) · w_{t−1}: g = 1 looks up by content, g = 0 stays where the head was."""
    return gate * w_content + (1.0 - gate) * w_previous


def shift(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Circular convolution w̃[i] = Σ_j w[j] · s[(i − j) mod N] over the offsets −R..R.
    w (B, N), s (B, 2R + 1) with s[:, R + k] the weight of moving by k slots -> (B, N)."""
    n, radius = w.shape[1], (s.shape[1] - 1) // 2
    offsets = torch.arange(-radius, radius + 1, device=w.device)                   # (S,)
    source = (torch.arange(n, device=w.device).unsqueeze(1) - offsets) % n        # (N, S): slot i reads i − k
    return (w[:, source] * s.unsqueeze(1)).sum(dim=-1)                             # (B, N, S) -> (B, N)


def sharpen(w: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """w[i]^γ / Σ_j w[j]^γ with γ ≥ 1: undoes the blur a fractional shift leaves."""
    w = (w + EPS) ** gamma
    return w / w.sum(dim=-1, keepdim=True)


def read(memory: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """r = Σ_i w[i] M_i. memory (B, N, M), w (B, N) -> (B, M)."""
    return torch.bmm(w.unsqueeze(1), memory).squeeze(1)


def write(memory: torch.Tensor, w: torch.Tensor, erase: torch.Tensor, add: torch.Tensor) -> torch.Tensor:
    """M_i ← M_i ∘ (1 − w[i] e) + w[i] a. memory (B, N, M), w (B, N), erase and add (B, M) -> (B, N, M)."""
    w = w.unsqueeze(-1)                                                            # (B, N, 1)
    return memory * (1.0 - w * erase.unsqueeze(1)) + w * add.unsqueeze(1)


def address(memory, w_previous, key, beta, gate, s, gamma) -> torch.Tensor:
    """Content, then location: the NTM's four addressing stages in order."""
    return sharpen(shift(interpolate(content_weights(memory, key, beta), w_previous, gate), s), gamma)


# ---------- the heads' parameters ----------
def head_parameters(raw: torch.Tensor, width: int) -> dict[str, torch.Tensor]:
    """The controller's numbers for one head, (B, width + 6 [+ 2 width]), squashed into range: key k,
    strength β > 0, gate g in (0, 1), shift weights s (a softmax over −1, 0, +1), sharpening γ ≥ 1,
    and for a write head erase e in (0, 1) and add a in (−1, 1)."""
    k, beta, g, s, gamma, rest = torch.split(raw, [width, 1, 1, N_SHIFTS, 1, raw.shape[1] - width - 6], dim=1)
    out = {"key": torch.tanh(k), "beta": F.softplus(beta), "gate": torch.sigmoid(g), "shift": torch.softmax(s, 1),
           "gamma": 1.0 + F.softplus(gamma)}
    if rest.shape[1]:
        erase, add = torch.split(rest, [width, width], dim=1)
        out.update(erase=torch.sigmoid(erase), add=torch.tanh(add))
    return out


@dataclass
class NTMTrace:
    """What one pass through the NTM shows, for the first sequence of a batch (NumPy, on the CPU)."""
    read_weights: np.ndarray    # (T, N): where the read head looked at each step
    write_weights: np.ndarray   # (T, N): where the write head wrote
    memory: np.ndarray          # (T, N, M): the memory after each step


class NTM(nn.Module):
    """x (B, T, bits + 1) -> logits (B, T, bits). Each step the LSTM controller reads the input
    and the last read vector, the write head writes, the read head reads, and the output layer sees
    the controller's state and the new read vector."""

    def __init__(self, bits: int, controller: int, slots: int, width: int, generator: torch.Generator):
        super().__init__()
        self.bits, self.slots, self.width = bits, slots, width
        self.controller = nn.LSTMCell(bits + 1 + width, controller)
        # Both heads' numbers from one layer (one product a step instead of two): the first width + 6
        # are the read head's k, β, g, s (3), γ, the rest the write head's, then its e and a.
        self.heads = nn.Linear(controller, 4 * width + 12)
        self.output = nn.Linear(controller + width, bits)
        for p in self.parameters():  # the same weights on every device: drawn from the run's generator
            bound = 1.0 / controller ** 0.5
            with torch.no_grad():
                p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
        # Memory starts as small fixed random numbers rather than zeros: cosine similarity needs a
        # direction, and equal rows would give every slot the same content weight.
        limit = 1.0 / (slots + width) ** 0.5
        self.register_buffer("memory_init", torch.rand(slots, width, generator=generator) * 2 * limit - limit)
        # Both heads start on slot 0, so "go back to where writing began" is one place the read head knows.
        start = torch.zeros(slots)
        start[0] = 1.0
        self.register_buffer("weights_init", start)

    def forward(self, x: torch.Tensor, trace: bool = False):
        batch, steps, _ = x.shape
        memory = self.memory_init.expand(batch, -1, -1)                            # (B, N, M)
        w_read = w_write = self.weights_init.expand(batch, -1)                     # (B, N)
        r = x.new_zeros(batch, self.width)                                         # (B, M)
        h = c = x.new_zeros(batch, self.controller.hidden_size)                   # (B, C)
        outputs, reads, writes, memories = [], [], [], []
        for t in range(steps):
            h, c = self.controller(torch.cat([x[:, t], r], dim=1), (h, c))
            read_raw, write_raw = self.heads(h).split([self.width + 6, 3 * self.width + 6], dim=1)
            wp = head_parameters(write_raw, self.width)
            w_write = address(memory, w_write, wp["key"], wp["beta"], wp["gate"], wp["shift"], wp["gamma"])
            memory = write(memory, w_write, wp["erase"], wp["add"])
            rp = head_parameters(read_raw, self.width)
            w_read = address(memory, w_read, rp["key"], rp["beta"], rp["gate"], rp["shift"], rp["gamma"])
            r = read(memory, w_read)
            outputs.append(self.output(torch.cat([h, r], dim=1)))                  # (B, bits)
            if trace:
                reads.append(w_read[0])
                writes.append(w_write[0])
                memories.append(memory[0])
        y = torch.stack(outputs, dim=1)                                            # (B, T, bits)
        if not trace:
            return y
        return y, NTMTrace(*(torch.stack(parts).detach().cpu().numpy() for parts in (reads, writes, memories)))


class LSTMBaseline(nn.Module):
    """x (B, T, bits + 1) -> logits (B, T, bits): one LSTM layer and a linear read-out. All it
    remembers must fit in its hidden state."""

    def __init__(self, bits: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.lstm = nn.LSTM(bits + 1, hidden, batch_first=True)
        self.output = nn.Linear(hidden, bits)
        bound = 1.0 / hidden ** 0.5
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)                                                        # (B, T, H)
        return self.output(h)


def ntm_parameter_count(bits: int, controller: int, width: int) -> int:
    lstm = 4 * controller * (bits + 1 + width + controller + 2)
    return lstm + (controller + 1) * (4 * width + 12) + (controller + width + 1) * bits


def lstm_parameter_count(bits: int, hidden: int) -> int:
    return 4 * hidden * (bits + 1 + hidden + 2) + (hidden + 1) * bits


def matched_lstm_hidden(bits: int, controller: int, width: int) -> int:
    """The LSTM hidden size whose parameter count is closest to the NTM's (the memory is not a parameter)."""
    target = ntm_parameter_count(bits, controller, width)
    return min(range(1, 1025), key=lambda h: abs(lstm_parameter_count(bits, h) - target))
