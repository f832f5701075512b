"""Character-level language models, the vocabulary and text split they read, and their probes.

Four architectures predict the next character from the ones before it:

- "rnn", "lstm", "gru": torch.nn's recurrent layers over a character embedding, one
  linear read-out per position. Information about character t reaches position T only
  through T - t multiplications by the recurrent Jacobian, which is what makes it fade.
- "transformer": a small decoder-only Transformer written out as nanoGPT does (pre-norm
  blocks, causal self-attention by hand so its weights can be returned, a GELU MLP),
  with learned or sinusoidal positions. Every position looks at every earlier one directly.

Shapes: B batch, T characters, V vocabulary, H hidden width (= embedding width),
L layers, h heads. Attention comes out as (L, B, h, T, T); hidden states as (B, T, H).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = ("rnn", "lstm", "gru", "transformer")
RECURRENT = ("rnn", "lstm", "gru")
POSITIONS = ("learned", "sinusoidal")
MAX_VOCAB = 256            # distinct characters kept; rarer ones become REPLACEMENT
REPLACEMENT = "\ufffd"     # "�"


class RecurrentLM(nn.Module):
    """Embedding -> stacked RNN (tanh) / LSTM / GRU -> linear read-out."""

    def __init__(self, arch: str, vocab_size: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.arch = arch
        self.embed = nn.Embedding(vocab_size, hidden)
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[arch]
        extra = {"nonlinearity": "tanh"} if arch == "rnn" else {}
        # torch applies the dropout argument between stacked layers only; self.drop adds it on the output.
        self.rnn = cls(hidden, hidden, num_layers=layers, batch_first=True,
                       dropout=dropout if layers > 1 else 0.0, **extra)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def embed_tokens(self, idx: torch.Tensor) -> torch.Tensor:
        return self.embed(idx)  # (B, T) -> (B, T, H)

    def forward_embedded(self, x: torch.Tensor, state=None, return_states: bool = False):
        """x (B, T, H) embedded characters -> logits (B, T, V), the final recurrent state,
        and (if asked) the last layer's hidden state at every position (B, T, H)."""
        out, state = self.rnn(self.drop(x), state)   # out (B, T, H)
        logits = self.head(self.drop(out))           # (B, T, V)
        return logits, state, (out if return_states else None)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.embed_tokens(idx))[0]


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, context: int, dropout: float):
        super().__init__()
        assert width % heads == 0, "the width must be a multiple of the number of heads"
        self.heads = heads
        self.c_attn = nn.Linear(width, 3 * width)  # query, key and value of every head at once
        self.c_proj = nn.Linear(width, width)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        # mask[t, s] = 1 where position t may look at position s (s <= t)
        self.register_buffer("mask", torch.tril(torch.ones(context, context)).view(1, 1, context, context),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)                   # each (B, T, C)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, h, T, C/h)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, h, T, C/h)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, h, T, C/h)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, h, T, T)
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))  # no look at the future
        att = F.softmax(att, dim=-1)                                # each row sums to 1 over s <= t
        weights = att
        y = self.attn_dropout(att) @ v                              # (B, h, T, C/h)
        y = y.transpose(1, 2).contiguous().view(B, T, C)            # heads side by side again
        return self.resid_dropout(self.c_proj(y)), weights


class Block(nn.Module):
    """Pre-norm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, width: int, heads: int, context: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, context, dropout)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, weights = self.attn(self.ln_1(x))  # (B, T, C), (B, h, T, T)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, weights


def sinusoidal_positions(context: int, width: int) -> torch.Tensor:
    """(context, width) sin/cos table of Vaswani et al. (2017): no parameters, any length."""
    pos = torch.arange(context, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(context, width)
    table[:, 0::2] = torch.sin(pos * rate)
    table[:, 1::2] = torch.cos(pos * rate)[:, : width // 2]
    return table


class TransformerLM(nn.Module):
    """Decoder-only Transformer in the manner of nanoGPT's GPT, at toy size."""

    def __init__(self, vocab_size: int, width: int, layers: int, heads: int, context: int, dropout: float,
                 positions: str = "learned"):
        super().__init__()
        self.arch = "transformer"
        self.context = context
        self.positions = positions
        self.embed = nn.Embedding(vocab_size, width)
        if positions == "learned":
            self.pos = nn.Embedding(context, width)
        else:
            self.register_buffer("pos_table", sinusoidal_positions(context, width), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(width, heads, context, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)

    def embed_tokens(self, idx: torch.Tensor) -> torch.Tensor:
        return self.embed(idx)  # (B, T) -> (B, T, C)

    def position_table(self, T: int) -> torch.Tensor:
        if self.positions == "learned":
            return self.pos(torch.arange(T, device=self.pos.weight.device))  # (T, C)
        return self.pos_table[:T]                                            # (T, C)

    def forward_embedded(self, x: torch.Tensor, return_attention: bool = False):
        """x (B, T, C) character embeddings -> logits (B, T, V) and, if asked, the
        attention weights of every layer (L, B, h, T, T)."""
        T = x.shape[1]
        if T > self.context:
            raise ValueError(f"the Transformer reads at most {self.context} characters, got {T}; crop the input")
        x = self.drop(x + self.position_table(T))  # (B, T, C)
        weights = []
        for block in self.blocks:
            x, w = block(x)
            weights.append(w)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        return logits, (torch.stack(weights) if return_attention else None)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.embed_tokens(idx))[0]


def build_char_model(arch: str, vocab_size: int, hidden: int, layers: int, dropout: float, context: int,
                     heads: int = 2, positions: str = "learned") -> nn.Module:
    if arch in RECURRENT:
        return RecurrentLM(arch, vocab_size, hidden, layers, dropout)
    if arch == "transformer":
        return TransformerLM(vocab_size, hidden, layers, heads, context, dropout, positions)
    raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")


# ---------------- text and vocabulary ----------------

@dataclass
class Corpus:
    text: str                  # the training text, rare characters replaced
    chars: list[str]           # the vocabulary: chars[i] is character id i
    replaced: int = 0          # characters of the original text replaced by REPLACEMENT

    @classmethod
    def from_text(cls, raw: str, max_vocab: int = MAX_VOCAB) -> "Corpus":
        counts = Counter(raw)
        if len(counts) <= max_vocab:
            return cls(raw, sorted(counts))
        keep = {c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_vocab - 1]}
        text = "".join(c if c in keep else REPLACEMENT for c in raw)
        return cls(text, sorted(keep | {REPLACEMENT}), sum(n for c, n in counts.items() if c not in keep))

    def __post_init__(self) -> None:
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, s: str) -> tuple[list[int], list[str]]:
        """Ids of the characters of s that are in the vocabulary, and the distinct ones that
        are not (left out), in order of appearance."""
        ids, unknown = [], []
        for c in s:
            if c in self.index:
                ids.append(self.index[c])
            elif c not in unknown:
                unknown.append(c)
        return ids, unknown

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def split_blocks(data: torch.Tensor, val_fraction: float, context: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training and held-out characters. The text is cut into blocks of max(256, 4 x context)
    characters and every k-th block (k = 1 / val_fraction) is held out, so the held-out text
    comes from all over the corpus rather than only its end (a README ends in tables). Too
    short a text keeps everything for training (None)."""
    block = max(256, 4 * context)
    n_blocks = len(data) // block
    if val_fraction <= 0 or n_blocks < 4:
        return data, None
    k = max(2, round(1 / val_fraction))
    held = [b for b in range(n_blocks) if b % k == k // 2]
    if not held:
        return data, None
    mask = torch.zeros(len(data), dtype=torch.bool)
    for b in held:
        mask[b * block:(b + 1) * block] = True
    return data[~mask], data[mask]


# ---------------- probes ----------------

def gradient_through_time(model: nn.Module, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(T,) mean over the batch of ‖∂loss_T / ∂x_t‖: how much the loss at the LAST position
    depends on the character embedding x_t fed in at each position t (t = T-1 is the last).

    idx, targets (B, T). Dropout is off (eval mode) so the curve is a property of the weights."""
    if idx.ndim != 2 or idx.shape != targets.shape:
        raise ValueError(f"idx and targets must both be (batch, time), got {tuple(idx.shape)} and "
                         f"{tuple(targets.shape)}")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = model.embed_tokens(idx).detach().requires_grad_(True)  # (B, T, H)
            logits = model.forward_embedded(x)[0]                     # (B, T, V)
            # sum over the batch: each sequence's loss depends only on its own inputs
            loss = F.cross_entropy(logits[:, -1, :], targets[:, -1], reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)                     # (B, T, H)
    finally:
        model.train(was_training)
    return grad.norm(dim=2).mean(dim=0).detach()                       # (T,)


@torch.no_grad()
def attention_weights(model: TransformerLM, idx: torch.Tensor) -> torch.Tensor:
    """(L, h, T, T) attention of a Transformer on one sequence idx (1, T); row t, column s
    is how much position t reads from position s (zero above the diagonal: the mask)."""
    if idx.ndim != 2 or idx.shape[0] != 1:
        raise ValueError(f"pass one sequence shaped (1, T), got {tuple(idx.shape)}")
    was_training = model.training
    model.eval()
    try:
        _, weights = model.forward_embedded(model.embed_tokens(idx), return_attention=True)  # (L, 1, h, T, T)
    finally:
        model.train(was_training)
    return weights[:, 0]


@torch.no_grad()
def hidden_states(model: RecurrentLM, idx: torch.Tensor) -> torch.Tensor:
    """(T, H) the last recurrent layer's hidden state h_t after reading each character of idx (1, T)."""
    if idx.ndim != 2 or idx.shape[0] != 1:
        raise ValueError(f"pass one sequence shaped (1, T), got {tuple(idx.shape)}")
    was_training = model.training
    model.eval()
    try:
        _, _, states = model.forward_embedded(model.embed_tokens(idx), return_states=True)  # (1, T, H)
    finally:
        model.train(was_training)
    return states[0]


def pick_next(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> int:
    """One character id from logits (V,): argmax at temperature 0, else a draw from
    softmax(logits / temperature) restricted to the top_k most likely (0 = all)."""
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits.float() / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.no_grad()
def generate(model: nn.Module, prompt: list[int], length: int, temperature: float = 1.0, top_k: int = 0,
             generator: torch.Generator | None = None, context: int = 64) -> list[int]:
    """`length` new character ids after `prompt` (at least one id). Recurrent models carry
    their state forward one character at a time; the Transformer rereads the last `context`
    characters for each new one (it has no positions beyond them)."""
    if not prompt:
        raise ValueError("the prompt needs at least one character")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[int] = []
    try:
        if isinstance(model, RecurrentLM):
            # the state is built from the last `context` prompt characters, as in training
            ids = torch.tensor([prompt[-context:]], device=device)
            logits, state, _ = model.forward_embedded(model.embed_tokens(ids))
            for _ in range(length):
                nxt = pick_next(logits[0, -1], temperature, top_k, generator)
                out.append(nxt)
                ids = torch.tensor([[nxt]], device=device)
                logits, state, _ = model.forward_embedded(model.embed_tokens(ids), state)
        else:
            seq = list(prompt)
            for _ in range(length):
                ids = torch.tensor([seq[-context:]], device=device)
                nxt = pick_next(model(ids)[0, -1], temperature, top_k, generator)
                out.append(nxt)
                seq.append(nxt)
    finally:
        model.train(was_training)
    return out
