"""Loss functions on raw model scores, and the weight penalties.

Shapes: scores (B, 1) for regression and two classes, (B, k) for k > 2 classes;
targets (B,) class indices (int64) or real values (float32).
For two classes "ce" is the same function as "bce" (a softmax over two logits equals
a sigmoid of their difference), so both train the single score.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def data_loss(scores: torch.Tensor, y: torch.Tensor, loss: str, n_classes: int) -> torch.Tensor:
    if n_classes == 0:  # regression
        return F.mse_loss(scores[:, 0], y)
    if n_classes == 2:
        s = scores[:, 0]
        yf = y.to(s.dtype)
        if loss in ("bce", "ce"):
            return F.binary_cross_entropy_with_logits(s, yf)
        if loss == "mse":
            return F.mse_loss(torch.sigmoid(s), yf)
        if loss == "hinge":
            return torch.clamp(1 - (2 * yf - 1) * s, min=0).mean()
    else:
        if loss == "ce":
            return F.cross_entropy(scores, y)
        onehot = F.one_hot(y, n_classes).to(scores.dtype)
        if loss == "bce":
            return F.binary_cross_entropy_with_logits(scores, onehot)
        if loss == "mse":
            return F.mse_loss(torch.softmax(scores, dim=1), onehot)
        if loss == "hinge":
            return F.multi_margin_loss(scores, y)
    raise ValueError(f"unknown loss {loss!r}")


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor | float:
    """l1 * sum|w| + l2/2 * sum w² over the weights of the linear layers (biases are free)."""
    if l1 == 0 and l2 == 0:
        return 0.0
    total = 0.0
    for _, layer in model.named_linears():
        w = layer.weight
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + 0.5 * l2 * (w * w).sum()
    return total


def predictions(scores: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Predicted class indices (B,), or the regression value (B,)."""
    if n_classes == 0:
        return scores[:, 0]
    if n_classes == 2:
        return (scores[:, 0] > 0).long()
    return scores.argmax(dim=1)


def output_value(scores: torch.Tensor, n_classes: int) -> torch.Tensor:
    """What the boundary plot colours: P(class 1) for two classes, the winning class for
    k classes, the value itself for regression. (B,)"""
    if n_classes == 0:
        return scores[:, 0]
    if n_classes == 2:
        return torch.sigmoid(scores[:, 0])
    return scores.argmax(dim=1).to(scores.dtype)
