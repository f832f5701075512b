"""A convolutional network over word vectors (Kim, 2014, "Convolutional Neural Networks for
Sentence Classification"), and which n-grams of a sentence made it decide.

Each word id becomes a learned vector x_t (d numbers). A filter f of width w reads w consecutive
vectors at once, an n-gram, and slides over the sentence:

    c[f, i] = b[f] + sum_{j < w} W[f, :, j] . x[i + j]        one response per window i
    h[f]    = ReLU(max_i c[f, i])                             max-over-time pooling
    z       = V dropout(h) + a                                one linear layer to the classes

Several widths run side by side (2, 3 and 4 words by default), each with its own filters, and
their pooled values are concatenated. Max-over-time pooling keeps each filter's strongest
response anywhere in the sentence: the pooled vector has the same size for any length, and each
of its numbers comes from one window, the n-gram that won it. As z is linear in h, filter f adds
exactly V[c, f] h[f] to the logit of class c; top_ngrams reports these parts, and they add up
(with the bias a) to the logits. Hidden layers between h and z would make that an estimate,
which is why this model has none (Kim's has none either).

Windows: a sentence of n words has n - w + 1 windows of width w; one shorter than w is padded
with PAD vectors (zeros) to a single window. Windows further into a batch's padding are masked
out, so a sentence's answer does not depend on the batch it is read in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .data import PAD, sequence_ids, tokenize_with_spans

EMPTY_TEXT = ("No words in this text: type a sentence, and the n-grams that gave each filter its largest "
              "response appear here.")


class TextCNNEncoder(nn.Module):
    """(B, T) word ids -> (B, filters x widths) pooled filter responses, width by width."""

    def __init__(self, n_ids: int, d: int, widths: list[int], filters: int):
        super().__init__()
        self.embed = nn.Embedding(n_ids, d, padding_idx=PAD)
        self.widths = tuple(int(w) for w in widths)
        self.filters = int(filters)
        self.convs = nn.ModuleList(nn.Conv1d(d, self.filters, w) for w in self.widths)
        self.out_features = self.filters * len(self.widths)

    def window_responses(self, tok: torch.Tensor, ids: torch.Tensor) -> list[torch.Tensor]:
        """Per width w: c (B, filters, windows), -inf at the windows a sentence does not have."""
        lengths = (ids != PAD).sum(1)                                    # (B,)
        x = tok.transpose(1, 2)                                          # (B, d, T)
        if x.shape[2] < max(self.widths):                                # a batch of short texts: pad to one window
            x = F.pad(x, (0, max(self.widths) - x.shape[2]))
        out = []
        for w, conv in zip(self.widths, self.convs):
            c = conv(x)                                                  # (B, filters, T - w + 1)
            last = (lengths - w).clamp(min=0)                            # a short sentence keeps its first window
            missing = torch.arange(c.shape[2], device=c.device)[None, :] > last[:, None]  # (B, windows)
            out.append(c.masked_fill(missing[:, None, :], float("-inf")))
        return out

    def forward_embedded(self, tok: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        # ReLU(max c) = max ReLU(c): ReLU is monotone, and taking it after the max is cheaper
        return torch.cat([F.relu(c.max(2).values) for c in self.window_responses(tok, ids)], 1)  # (B, F·widths)


def textcnn_head(n_features: int, n_classes: int, dropout: float) -> nn.Sequential:
    """Dropout on the pooled vector, then one linear layer to the classes (Kim's classifier)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_features, n_classes))


@torch.no_grad()
def top_ngrams(net, index: dict[str, int], sentence: str, k: int = 5, target: int | None = None,
               max_tokens: int = 128) -> dict:
    """Which n-gram of `sentence` gave each filter its maximum, and how much that filter pushed.

    `net` is a SentimentNet with representation "textcnn", `index` the training vocabulary (word
    -> column; its id is column + 2), `max_tokens` the words the model reads. The push of a filter
    is its part of score = z_target - mean of the other logits, (V[target, f] - mean of the other
    classes' V[c, f]) h[f], and per_class holds V[c, f] h[f]; the pushes and `bias` add up to `score`.
    `target` None explains the predicted class.

    Returns plain data: message ("" or why there is nothing to show), tokens and spans (those
    read), total (tokens in the text), probabilities, target, score, bias, filters (every filter,
    strongest push first) and top (the k strongest of each width, strongest first). A row: width,
    filter, start and end (token positions; end - start + padding = width), padding, tokens, text
    (the characters of the sentence it covers), activation h[f], push, per_class."""
    spans = tokenize_with_spans(sentence)
    encoder, linear = net.encoder, net.head[-1]
    result = {"message": "", "tokens": [], "spans": [], "total": len(spans), "probabilities": [],
              "target": None if target is None else int(target), "score": 0.0, "bias": 0.0, "filters": [], "top": []}
    if not spans:
        result["message"] = EMPTY_TEXT
        return result
    spans = spans[:max_tokens]
    ids = torch.from_numpy(sequence_ids([[t for t, _, _ in spans]], index, max_tokens)[:, :len(spans)])
    ids = ids.to(linear.weight.device)
    was_training = net.training
    net.eval()
    try:
        responses = encoder.window_responses(encoder.embed(ids), ids)
    finally:
        net.train(was_training)
    pooled = [c[0].max(1) for c in responses]                   # per width: values and winning windows, (filters,)
    h = torch.cat([F.relu(p.values) for p in pooled]).double()  # (F·widths,)
    weight, bias = linear.weight.double(), linear.bias.double()  # in double, so the parts add up to 1e-12
    logits = weight @ h + bias                                  # (classes,)
    probs = torch.softmax(logits, 0)
    t = int(probs.argmax()) if target is None else int(target)
    push = (_toward(weight, t) * h).cpu().tolist()              # each filter's part of the score
    per_class = (weight * h).T.cpu().tolist()                   # (F·widths, classes)
    rows = []
    for g, (w, p) in enumerate(zip(encoder.widths, pooled)):
        for f, start in enumerate(p.indices.tolist()):
            j = g * encoder.filters + f
            end = min(start + w, len(spans))
            a, b = spans[start][1], spans[end - 1][2]
            rows.append({"width": w, "filter": f, "start": start, "end": end, "padding": start + w - end,
                         "tokens": [s[0] for s in spans[start:end]], "text": sentence[a:b],
                         "unknown": [s[0] not in index for s in spans[start:end]],
                         "activation": float(h[j]), "push": push[j], "per_class": per_class[j]})
    rows.sort(key=lambda r: -abs(r["push"]))
    top = [r for w in encoder.widths for r in [r for r in rows if r["width"] == w][:k]]
    result.update(tokens=[s[0] for s in spans], spans=[(a, b) for _, a, b in spans], probabilities=probs.tolist(),
                  target=t, score=float(_toward(logits[:, None], t)[0]), bias=float(_toward(bias[:, None], t)[0]),
                  filters=rows, top=sorted(top, key=lambda r: -abs(r["push"])))
    return result


def _toward(weights: torch.Tensor, target: int) -> torch.Tensor:
    """(classes, n) -> (n,): row `target` minus the mean of the other rows (target_score's weights)."""
    k = weights.shape[0]
    others = (weights.sum(0) - weights[target]) / max(1, k - 1)
    return weights[target] - others

