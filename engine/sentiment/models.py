"""Networks of the sentiment task: a text encoder (sparse bag of words / TF-IDF, averaged
learned embeddings, a small Transformer encoder, a convolutional network over the words
(engine/sentiment/textcnn.py), or fixed MiniLM vectors) followed by a feed-forward classifier,
and the frozen MiniLM sentence vectors.

Every model takes a batch dict and returns (B, classes) logits:
  sparse:   {"indices": (nnz,), "offsets": (B,), "weights": (nnz,)}  -- CSR rows of the features
  sequence: {"ids": (B, T)} with PAD = 0
  dense:    {"x": (B, 384)}
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.registries import make_activation
from .config import SEQUENCE_REPRESENTATIONS
from .data import PAD, SparseRows
from .textcnn import TextCNNEncoder, textcnn_head

MINILM_DIM = 384


class SparseLinear(nn.Module):
    """x @ W.T + b for sparse rows x, via EmbeddingBag(mode="sum") with per-sample weights:
    the same product as nn.Linear on the dense rows, without building them."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(n_in, n_out, mode="sum")
        bound = 1 / np.sqrt(n_in)  # nn.Linear's default initialisation
        nn.init.uniform_(self.bag.weight, -bound, bound)
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.bag(indices, offsets, per_sample_weights=weights) + self.bias  # (B, n_out)


class TransformerTextEncoder(nn.Module):
    """Token + learned position embeddings, a few encoder layers (pre-norm), then the mean
    over the real (non-pad) tokens: (B, T) ids -> (B, d)."""

    def __init__(self, n_ids: int, d: int, layers: int, heads: int, max_tokens: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(n_ids, d, padding_idx=PAD)
        self.position = nn.Embedding(max_tokens, d)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward_embedded(self, tok: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == PAD                                                 # (B, T)
        pos = self.position(torch.arange(ids.shape[1], device=ids.device))  # (T, d)
        h = self.norm(self.encoder(tok + pos, src_key_padding_mask=pad))  # (B, T, d)
        keep = (~pad).unsqueeze(-1).float()
        return (h * keep).sum(1) / keep.sum(1).clamp(min=1)               # (B, d)


class SentimentNet(nn.Module):
    def __init__(self, representation: str, n_features: int, n_classes: int, hidden: list[int], activation: str,
                 dropout: float, embed_dim: int = 64, layers: int = 1, heads: int = 2, max_tokens: int = 40,
                 ngram_widths: tuple[int, ...] = (2, 3, 4), filters_per_width: int = 32):
        super().__init__()
        self.representation = representation
        widths = list(hidden) + [n_classes]
        if representation == "textcnn":  # no hidden layers: each filter's push on the logits stays exact
            self.encoder = TextCNNEncoder(n_features + 2, embed_dim, list(ngram_widths), filters_per_width)
            self.head = textcnn_head(self.encoder.out_features, n_classes, dropout)
            return
        if representation in ("bow", "tfidf"):
            # The first layer reads the sparse features directly.
            self.first = SparseLinear(n_features, widths[0])
            d_in, rest = widths[0], widths[1:]
            first_is_hidden = bool(hidden)
        else:
            if representation == "embedding_bag":
                self.embed = nn.Embedding(n_features + 2, embed_dim, padding_idx=PAD)
                d_in = embed_dim
            elif representation == "transformer":
                self.encoder = TransformerTextEncoder(n_features + 2, embed_dim, layers, heads, max_tokens, dropout)
                d_in = embed_dim
            else:
                d_in = n_features
            rest, first_is_hidden = widths, False
        head: list[nn.Module] = []
        if first_is_hidden:
            head += [make_activation(activation), nn.Dropout(dropout)]
        for i, w in enumerate(rest):
            head.append(nn.Linear(d_in, w))
            if i < len(rest) - 1:
                head += [make_activation(activation), nn.Dropout(dropout)]
            d_in = w
        self.head = nn.Sequential(*head)

    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T, d): the learned input vectors (the 'input' of gradient x input)."""
        table = self.embed if self.representation == "embedding_bag" else self.encoder.embed
        return table(ids)

    def from_embeddings(self, tok: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits from token vectors (B, T, d) of the sequence `ids` (B, T)."""
        if self.representation == "embedding_bag":
            keep = (ids != PAD).unsqueeze(-1).float()
            pooled = (tok * keep).sum(1) / keep.sum(1).clamp(min=1)  # the mean of the bag, (B, d)
        else:
            pooled = self.encoder.forward_embedded(tok, ids)  # a mean (transformer) or max-pooled filters (textcnn)
        return self.head(pooled)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.representation in ("bow", "tfidf"):
            return self.head(self.first(batch["indices"], batch["offsets"], batch["weights"]))
        if self.representation in SEQUENCE_REPRESENTATIONS:
            ids = batch["ids"]
            return self.from_embeddings(self.token_embeddings(ids), ids)
        return self.head(batch["x"])


def sparse_batch(rows: SparseRows, device: torch.device) -> dict[str, torch.Tensor]:
    return {"indices": torch.from_numpy(rows.indices).to(device),
            "offsets": torch.from_numpy(rows.indptr[:-1]).to(device),
            "weights": torch.from_numpy(rows.values).to(device)}


def make_batch(features, idx: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    """The model input for rows `idx` of the prepared features."""
    if isinstance(features, SparseRows):
        return sparse_batch(features.rows(idx), device)
    if features.dtype == np.int64:
        ids = features[idx]
        width = max(1, int((ids != PAD).sum(1).max())) if len(ids) else 1  # drop all-pad columns: faster
        return {"ids": torch.from_numpy(np.ascontiguousarray(ids[:, :width])).to(device)}
    return {"x": torch.from_numpy(features[idx]).to(device)}


# ---------------- frozen MiniLM sentence vectors ----------------

@torch.no_grad()
def minilm_vectors(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(N, 384) float32: MiniLM's last hidden states averaged over the real tokens (the
    attention mask), the sentence vector all-MiniLM-L6-v2 was trained to produce."""
    import os

    from ..core.pretrained import load_minilm
    tokenizer, model = load_minilm()
    out = []
    threads = torch.get_num_threads()
    # The app runs its small models on one thread; a 6-layer encoder over batches of 64 texts
    # is large enough to gain from every core, so it gets them for this loop.
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=64, return_tensors="pt")
            h = model(**enc).last_hidden_state                        # (B, T, 384)
            mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)    # (B, T, 1)
            out.append(((h * mask).sum(1) / mask.sum(1).clamp(min=1)).float().numpy())
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(out) if out else np.zeros((0, MINILM_DIM), np.float32)


@lru_cache(maxsize=4)
def _cached_minilm(texts: tuple[str, ...]) -> np.ndarray:
    vectors = minilm_vectors(list(texts))
    vectors.setflags(write=False)
    return vectors


def cached_minilm_vectors(texts: list[str]) -> np.ndarray:
    """minilm_vectors, remembered for this process (the same sample is asked for again on
    every rebuild of the model)."""
    return _cached_minilm(tuple(texts))


# ---------------- losses and scores ----------------

def loss_of(logits: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    if name == "ce":
        return F.cross_entropy(logits, y)
    if name == "hinge":
        return F.multi_margin_loss(logits, y)
    # squared error between the predicted probabilities and the one-hot target (Brier score)
    return ((F.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).float()) ** 2).sum(1).mean()


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict:
    """Confusion matrix (rows: true class, columns: predicted) and per-class precision,
    recall and F1 as plain lists."""
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    return {"accuracy": float(tp.sum() / max(1, cm.sum())), "confusion": cm.tolist(), "precision": precision.tolist(),
            "recall": recall.tolist(), "f1": f1.tolist(), "support": actual.tolist()}


def target_score(logits: torch.Tensor, target: int) -> torch.Tensor:
    """z_target minus the mean of the other logits (for two classes, z_target - z_other):
    linear in the logits, so a linear model's attributions add up to it exactly."""
    k = logits.shape[-1]
    others = (logits.sum(-1) - logits[..., target]) / max(1, k - 1)
    return logits[..., target] - others


# ---------------- which words pushed the decision ----------------

OCCLUSION_MAX_TOKENS = 200      # occlusion removes each of the first this-many words in turn
OCCLUSION_MAX_TOKENS_MINILM = 60  # each variant is a MiniLM forward pass


def explain_text(trainer, text: str, method: str = "gradient", target: int | None = None) -> dict:
    """Per-token contributions to target_score (z_target minus the mean other logit).

    method "gradient": gradient x input. For bag of words / TF-IDF the inputs are the feature
    values (a word occurring twice shares its feature's part equally); for the embedding
    models, the dot product of each token's vector with the gradient. For a linear model on
    bag of words / TF-IDF the parts add up exactly to score(text) - score(empty text).
    method "occlusion": score(text) - score(text without that token).

    Returns tokens [(token, start, end)], scores (None for a token the model never reads),
    probabilities, target, score, empty_score (the bias part), method, read (tokens read)."""
    from .data import tokenize_with_spans
    spans = tokenize_with_spans(text)
    tokens = [t for t, _, _ in spans]
    model, rep = trainer.model, trainer.config.model.representation
    if method == "gradient" and rep == "minilm":
        method = "occlusion"  # the MiniLM vectors are fixed inputs: no gradient reaches the words
    model.eval()
    try:
        with torch.no_grad():
            probs = F.softmax(model(trainer.encode([tokens], [text])).float(), dim=1)[0].cpu().numpy()
            target = int(probs.argmax()) if target is None else int(target)
            empty = float(target_score(model(trainer.encode([[]], [""]))[0], target))
        if method == "gradient":
            scores, score = _gradient_x_input(trainer, tokens, target)
        else:
            scores, score = _occlusion(trainer, text, spans, target)
    finally:
        model.train()
    return {"tokens": spans, "scores": scores, "probabilities": probs.tolist(), "target": target, "score": score,
            "empty_score": empty, "method": method, "read": sum(s is not None for s in scores)}


def _gradient_x_input(trainer, tokens: list[str], target: int) -> tuple[list[float | None], float]:
    model, rep = trainer.model, trainer.config.model.representation
    batch = trainer.encode([tokens])
    if rep in ("bow", "tfidf"):
        weights = batch["weights"].clone().requires_grad_(True)
        score = target_score(model({**batch, "weights": weights})[0], target)
        (grad,) = torch.autograd.grad(score, weights)
        per_feature = dict(zip(batch["indices"].tolist(), (grad * weights).detach().cpu().tolist()))
        index = trainer.data.index
        occurrences = {}
        for t in tokens:
            if t in index:
                occurrences[index[t]] = occurrences.get(index[t], 0) + 1
        scores = [per_feature.get(index[t], 0.0) / occurrences[index[t]] if t in index else 0.0 for t in tokens]
        return scores, float(score.detach())
    ids = batch["ids"]
    tok = model.token_embeddings(ids).detach().requires_grad_(True)   # (1, T, d)
    score = target_score(model.from_embeddings(tok, ids)[0], target)
    (grad,) = torch.autograd.grad(score, tok)
    per_position = (grad * tok).sum(-1)[0].detach().cpu().tolist()    # (T,)
    read = min(len(tokens), trainer.config.model.max_tokens)
    return [per_position[i] if i < read else None for i in range(len(tokens))], float(score.detach())


@torch.no_grad()
def _occlusion(trainer, text: str, spans, target: int) -> tuple[list[float | None], float]:
    rep = trainer.config.model.representation
    tokens = [t for t, _, _ in spans]
    limit = OCCLUSION_MAX_TOKENS_MINILM if rep == "minilm" else OCCLUSION_MAX_TOKENS
    if rep in SEQUENCE_REPRESENTATIONS:
        limit = min(limit, trainer.config.model.max_tokens)
    n = min(len(tokens), limit)
    variants = [tokens] + [tokens[:i] + tokens[i + 1:] for i in range(n)]
    texts = [text] + [text[:a] + text[b:] for _, a, b in spans[:n]]
    scores = target_score(trainer.model(trainer.encode(variants, texts)), target).float().cpu().numpy()
    full = float(scores[0])
    return [full - float(s) for s in scores[1:]] + [None] * (len(tokens) - n), full
