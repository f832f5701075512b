"""Self-attention of the pretrained encoder all-MiniLM-L6-v2, and the mechanism by hand.

What the model does, read back as plain data (NumPy arrays, never tensors):
- `run_encoder`: tokens as the tokenizer splits them, the model's own attention weights
  shaped (layers, heads, T, T), the hidden states entering every layer and the output of
  every layer's self-attention (captured by hooks that are removed afterwards).
- `head_by_hand` / `all_heads_by_hand`: the same attention recomputed step by step from the
  model's weights in float64 NumPy: X -> Q = X W_Q + b_Q, K, V -> scores Q Kᵀ -> / √d ->
  softmax (masked keys get no weight) -> A V. Tests check it against output_attentions.
- Position: the sinusoidal encoding of Vaswani et al. (2017), the model's learned position
  embeddings, and the cosine similarity of two positions as a function of their distance.
- Sentences: mean-pooled, unit-length sentence embeddings (what all-MiniLM-L6-v2 is trained
  to produce) and their cosine-similarity matrix.
- A toy self-attention on a few hand-set query/key vectors, to see softmax sharpen with scale.

Shapes are checked where attention enters or leaves (`check_attentions`), as bertviz does.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..core.pretrained import MAX_TOKENS, MODEL_NAME


class TextError(ValueError):
    """Text the encoder cannot read (empty, or longer than its 512 positions)."""


# ---------------------------------------------------------------- plain data at the boundary

def check_attentions(attentions, n_tokens: int | None = None) -> np.ndarray:
    """Attention as plain data: a float32 array (layers, heads, T, T).

    Accepts that array, or what a transformers model returns with output_attentions=True
    (one (1, heads, T, T) tensor per layer, batch of one). Anything else is refused with a
    message that says how to fix the call."""
    if isinstance(attentions, (list, tuple)):
        layers = []
        for i, layer in enumerate(attentions):
            a = layer.detach().float().cpu().numpy() if isinstance(layer, torch.Tensor) else np.asarray(layer)
            if a.ndim == 4:
                if a.shape[0] != 1:
                    raise ValueError(f"layer {i} holds a batch of {a.shape[0]} sentences; pass one sentence's "
                                     f"attention (index the batch first: [a[b] for a in attentions])")
                a = a[0]
            if a.ndim != 3:
                raise ValueError(f"layer {i} must be (heads, T, T) or (1, heads, T, T), got shape {a.shape}")
            layers.append(a)
        if not layers:
            raise ValueError("no layers: pass the model's output_attentions (one array per layer)")
        if len({a.shape for a in layers}) != 1:
            raise ValueError(f"every layer must have the same (heads, T, T) shape, got {[a.shape for a in layers]}")
        attentions = np.stack(layers)
    a = np.asarray(attentions.detach().cpu().numpy() if isinstance(attentions, torch.Tensor) else attentions,
                   dtype=np.float32)
    if a.ndim != 4 or a.shape[2] != a.shape[3]:
        raise ValueError(f"attentions must be (layers, heads, T, T) with T queries and T keys, got {a.shape}")
    if n_tokens is not None and a.shape[2] != n_tokens:
        raise ValueError(f"attentions cover {a.shape[2]} tokens but {n_tokens} tokens were given; "
                         "pass the tokens of the same sentence")
    if not np.all(np.isfinite(a)):
        raise ValueError("attentions contain NaN or infinity")
    return a


@dataclass
class EncoderRun:
    """One sentence (or pair) through the encoder. T tokens, d = 384, L = 6 layers."""
    model: str
    tokens: list[str]              # T word pieces, [CLS] ... [SEP] (... [SEP])
    token_type_ids: np.ndarray     # (T,) 0 for the first sentence, 1 for the second
    attention_mask: np.ndarray     # (T,) 1 for every token read (no padding here)
    attentions: np.ndarray         # (L, heads, T, T) float32, rows sum to 1
    hidden_states: np.ndarray      # (L + 1, T, d): [0] the embeddings after LayerNorm, [l] the input of layer l
    contexts: np.ndarray           # (L, T, d): each layer's self-attention output A·V, heads side by side
    n_text_tokens: int             # tokens the whole text has, before any truncation
    truncated: bool                # True when the text was cut to MAX_TOKENS

    def to_json_dict(self, decimals: int = 6) -> dict:
        return {"model": self.model, "tokens": list(self.tokens),
                "attentions": np.round(self.attentions.astype(np.float64), decimals).tolist()}


def encode(tokenizer, text: str, text_pair: str | None = None, truncate: bool = False) -> tuple[dict, int]:
    """(the tokenizer's tensors for a batch of one, the number of tokens of the whole text).

    Empty text is refused. Over MAX_TOKENS tokens the text is refused, or cut when truncate."""
    if not isinstance(text, str) or not text.strip():
        raise TextError("the text is empty: type a sentence")
    pair = text_pair if text_pair and text_pair.strip() else None
    n = len(tokenizer(text, pair, truncation=False, verbose=False)["input_ids"])
    if n > MAX_TOKENS and not truncate:
        raise TextError(f"the text has {n} tokens; the model reads at most {MAX_TOKENS} "
                        "(its position embeddings end there): shorten it")
    enc = tokenizer(text, pair, truncation=n > MAX_TOKENS, max_length=MAX_TOKENS, return_tensors="pt")
    return dict(enc), n


@contextmanager
def capture_self_attention_outputs(model):
    """Collects each layer's self-attention output (B, T, d) while the block runs; the hooks
    are removed on leaving, so the shared model is left as it was."""
    outputs: list[torch.Tensor] = []
    handles = [layer.attention.self.register_forward_hook(lambda _m, _i, out: outputs.append(out[0].detach()))
               for layer in model.encoder.layer]
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def run_encoder(tokenizer, model, text: str, text_pair: str | None = None, truncate: bool = False) -> EncoderRun:
    enc, n = encode(tokenizer, text, text_pair, truncate)
    with capture_self_attention_outputs(model) as contexts:
        out = model(**enc, output_attentions=True, output_hidden_states=True)
    ids = enc["input_ids"][0].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    types = enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))[0].numpy()
    return EncoderRun(model=MODEL_NAME, tokens=tokens, token_type_ids=types.astype(np.int64),
                      attention_mask=enc["attention_mask"][0].numpy().astype(np.int64),
                      attentions=check_attentions(out.attentions, len(tokens)),
                      hidden_states=torch.stack(out.hidden_states)[:, 0].float().numpy(),
                      contexts=torch.stack(contexts)[:, 0].float().numpy(),
                      n_text_tokens=n, truncated=n > MAX_TOKENS)


# ---------------------------------------------------------------- attention by hand

def n_heads(model) -> int:
    return model.config.num_attention_heads


def projection(model, layer: int, which: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) of a layer's query/key/value projection in float64, W shaped (d_in, d_out) so
    that Q = X W + b (nn.Linear stores the transpose)."""
    if not 0 <= layer < model.config.num_hidden_layers:
        raise ValueError(f"layer must be 0..{model.config.num_hidden_layers - 1}, got {layer}")
    linear = getattr(model.encoder.layer[layer].attention.self, which)
    return linear.weight.detach().cpu().double().T, linear.bias.detach().cpu().double()


def softmax(scores, axis: int = -1):
    """exp(s - max) / sum(exp(s - max)) along a row, for NumPy arrays and tensors alike.
    Subtracting the row's max keeps exp from overflowing and does not change the result;
    -inf scores (masked keys) get exactly zero weight."""
    if isinstance(scores, torch.Tensor):
        top = scores.amax(dim=axis, keepdim=True)
        e = torch.exp(scores - torch.where(torch.isfinite(top), top, torch.zeros_like(top)))
        return e / e.sum(dim=axis, keepdim=True)
    top = np.max(scores, axis=axis, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    return e / np.sum(e, axis=axis, keepdims=True)


@dataclass
class HeadSteps:
    """Every intermediate of one head as float64 NumPy, T tokens, d_head = 32 (384 / 12 heads)."""
    layer: int
    head: int
    d_head: int
    X: np.ndarray        # (T, d) the layer's input hidden states
    Q: np.ndarray        # (T, d_head) X W_Q + b_Q, this head's columns
    K: np.ndarray        # (T, d_head)
    V: np.ndarray        # (T, d_head)
    scores: np.ndarray   # (T, T) Q Kᵀ
    scaled: np.ndarray   # (T, T) Q Kᵀ / √d_head, masked keys at -inf
    weights: np.ndarray  # (T, T) softmax of each row: the attention matrix A
    output: np.ndarray   # (T, d_head) A V


def _layer_input(model, hidden_states, layer: int) -> torch.Tensor:
    hs = torch.as_tensor(np.asarray(hidden_states), dtype=torch.float64)
    X = hs[layer] if hs.ndim == 3 else hs
    if X.ndim != 2 or X.shape[1] != model.config.hidden_size:
        raise ValueError(f"hidden states must be (T, {model.config.hidden_size}) or (layers + 1, T, "
                         f"{model.config.hidden_size}), got {tuple(hs.shape)}")
    return X


def _mask_keys(scaled: torch.Tensor, attention_mask) -> torch.Tensor:
    if attention_mask is None:
        return scaled
    keep = torch.as_tensor(np.asarray(attention_mask)) > 0     # (T,) over the keys
    return scaled.masked_fill(~keep, float("-inf"))


# The arithmetic is float64 torch rather than NumPy: the app runs torch on one thread, while
# NumPy's OpenBLAS starts threads of its own that, on a busy 2-core machine, made these tiny
# products 40x slower (measured: 16 ms instead of 0.4 ms for (T, 384) @ (384, 384)).
@torch.no_grad()
def head_by_hand(model, hidden_states: np.ndarray, layer: int, head: int,
                 attention_mask: np.ndarray | None = None) -> HeadSteps:
    """One head of one layer, step by step, from the model's weights. hidden_states is the
    layer's input (T, d) or all of them (L + 1, T, d); attention_mask (T,) of 0/1 marks
    padding keys with 0."""
    H = n_heads(model)
    if not 0 <= head < H:
        raise ValueError(f"head must be 0..{H - 1}, got {head}")
    X = _layer_input(model, hidden_states, layer)
    d_head = model.config.hidden_size // H
    cols = slice(head * d_head, (head + 1) * d_head)
    Q, K, V = ((X @ W[:, cols] + b[cols]) for W, b in (projection(model, layer, w) for w in ("query", "key", "value")))
    scores = Q @ K.T
    scaled = _mask_keys(scores / math.sqrt(d_head), attention_mask)
    weights = softmax(scaled)
    return HeadSteps(layer, head, d_head, *(t.numpy() for t in (X, Q, K, V, scores, scaled, weights, weights @ V)))


@torch.no_grad()
def all_heads_by_hand(model, hidden_states: np.ndarray, attention_mask: np.ndarray | None = None) -> np.ndarray:
    """(layers, heads, T, T): every head of every layer by hand, a layer's heads at once."""
    L, H = model.config.num_hidden_layers, n_heads(model)
    hs = np.asarray(hidden_states)
    if hs.ndim != 3 or hs.shape[0] != L + 1:
        raise ValueError(f"hidden_states must be (layers + 1, T, d) = ({L + 1}, T, d), got {hs.shape}")
    T, d = hs.shape[1:]
    d_head = d // H
    out = []
    for layer in range(L):
        X = _layer_input(model, hs, layer)
        q, k = ((X @ W + b).reshape(T, H, d_head).transpose(0, 1)                  # (H, T, d_head)
                for W, b in (projection(model, layer, w) for w in ("query", "key")))
        out.append(softmax(_mask_keys(q @ k.transpose(1, 2) / math.sqrt(d_head), attention_mask)))  # (H, T, T)
    return torch.stack(out).numpy()


# ---------------------------------------------------------------- position

def sinusoidal_encoding(n_positions: int, d_model: int) -> np.ndarray:
    """(n_positions, d_model): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    if n_positions < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need n_positions >= 1 and an even d_model >= 2, got {n_positions}, {d_model}")
    pos = np.arange(n_positions)[:, None]
    freq = np.power(10000.0, -np.arange(0, d_model, 2) / d_model)[None, :]
    pe = np.empty((n_positions, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq)
    return pe


def learned_position_embeddings(model, n_positions: int = MAX_TOKENS) -> np.ndarray:
    """(n_positions, d): the rows of the model's position-embedding table (added to the
    word embedding of the token at that position, before the embedding LayerNorm)."""
    table = model.embeddings.position_embeddings.weight
    if not 1 <= n_positions <= table.shape[0]:
        raise ValueError(f"n_positions must be 1..{table.shape[0]}, got {n_positions}")
    return table[:n_positions].detach().cpu().double().numpy()


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """(N, N) cosine similarity of the rows of an (N, d) array."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"vectors must be (N, d), got {v.shape}")
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


def similarity_by_distance(vectors: np.ndarray) -> np.ndarray:
    """(N,): mean cosine similarity of positions i and i + k, for k = 0..N-1."""
    s = cosine_matrix(vectors)
    return np.array([np.diagonal(s, k).mean() for k in range(len(s))])


# ---------------------------------------------------------------- sentences

MAX_SENTENCES = 20


@torch.no_grad()
def sentence_embeddings(tokenizer, model, sentences: list[str]) -> tuple[np.ndarray, list[bool]]:
    """((N, d) unit vectors: the mean of each sentence's last hidden states over its real
    tokens, as sentence-transformers pools all-MiniLM-L6-v2; which sentences were cut to
    MAX_TOKENS tokens)."""
    sentences = [s for s in sentences if s.strip()]
    if not sentences:
        raise TextError("no sentences: type one per line")
    if len(sentences) > MAX_SENTENCES:
        raise TextError(f"{len(sentences)} sentences; compare at most {MAX_SENTENCES} at a time")
    cut = [len(tokenizer(s, truncation=False, verbose=False)["input_ids"]) > MAX_TOKENS for s in sentences]
    enc = tokenizer(sentences, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = model(**enc).last_hidden_state                         # (N, T, d)
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)     # (N, T, 1): padding left out of the mean
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(mean, dim=1).double().numpy(), cut


# ---------------------------------------------------------------- a toy you can edit

def toy_attention(q: np.ndarray, k: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(scores Q Kᵀ, weights softmax(scale · Q Kᵀ)) for hand-set (n, d) queries and keys.
    A larger scale sharpens every row towards its largest score; scale 0 spreads it evenly."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"queries (n, d) and keys (m, d) need the same d, got {q.shape} and {k.shape}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(k)) and math.isfinite(scale)):
        raise ValueError("every query and key component, and the scale, must be a finite number")
    scores = q @ k.T
    return scores, softmax(scale * scores)


def weights_against_scale(q_row: np.ndarray, k: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(len(scales), m): one query's softmax weights over the m keys at each scale."""
    scores = np.asarray(k, dtype=np.float64) @ np.asarray(q_row, dtype=np.float64)
    return softmax(np.asarray(scales, dtype=np.float64)[:, None] * scores[None, :])


def entropy_bits(weights: np.ndarray) -> np.ndarray:
    """Entropy of each row in bits: log2(m) when spread evenly over m keys, 0 on one key."""
    w = np.asarray(weights, dtype=np.float64)
    return -np.sum(np.where(w > 0, w * np.log2(np.where(w > 0, w, 1.0)), 0.0), axis=-1)
