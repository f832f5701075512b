"""What the Convolutions page reads off a trained network, as NumPy: class probabilities, every
stage's feature maps, saliency, the test set moved by whole pixels, the confusion matrix.

Every function here runs the model in eval mode (batch norm uses its running averages, dropout is
off) and draws no random number, so looking never changes a run. Images come in as (N, 64) rows
or (N, 8, 8) pictures with pixels in [0, 1] (one image: (64,) or (8, 8)).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.digits import IMAGE_SIDE, N_CLASSES, N_PIXELS

# The four one-step moves of the shifted test: up, down, left, right, as (rows, columns).
SHIFT_DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))
EVAL_BATCH = 256   # images per forward pass when evaluating: on one CPU thread, 256 ran twice as fast as 1,024 (cache)


class WorstTest(NamedTuple):
    index: np.ndarray        # (k,) positions in the test set
    true: np.ndarray         # (k,) their digits
    predicted: np.ndarray    # (k,) what the network says
    confidence: np.ndarray   # (k,) the probability it gives the true digit, ascending


@contextmanager
def eval_mode(model: nn.Module):
    """The model in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def as_images(images, device: torch.device) -> torch.Tensor:
    """(N, 64) or (N, 8, 8) -> a float32 tensor (N, 1, 8, 8) on `device`."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] == N_PIXELS:
        x = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"images must be (N, {N_PIXELS}) rows or (N, {IMAGE_SIDE}, {IMAGE_SIDE}) pictures of "
                         f"pixels in [0, 1], got shape {x.shape}; for one image use image[None]")
    if not np.isfinite(x).all():
        raise ValueError("images must hold finite numbers (pixels in [0, 1]); got NaN or infinity")
    return torch.from_numpy(x).to(device).unsqueeze(1)


def as_image(image, device: torch.device) -> torch.Tensor:
    """One image, (64,) or (8, 8) -> (1, 1, 8, 8)."""
    x = np.asarray(image, dtype=np.float32)
    if x.shape not in ((N_PIXELS,), (IMAGE_SIDE, IMAGE_SIDE)):
        raise ValueError(f"an image must be ({N_PIXELS},) or ({IMAGE_SIDE}, {IMAGE_SIDE}), got shape {x.shape}; "
                         "for several, call once per image")
    return as_images(x.reshape(1, IMAGE_SIDE, IMAGE_SIDE), device)


def shift_images(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The pictures (..., 8, 8) moved dy rows down and dx columns right (negative: up, left); the rows
    and columns that come in are 0 (blank paper) and what moves past the edge is lost."""
    out = torch.zeros_like(x)
    n = x.shape[-1]
    if abs(dy) >= n or abs(dx) >= n:
        return out
    rows_to, rows_from = slice(max(dy, 0), n + min(dy, 0)), slice(max(-dy, 0), n + min(-dy, 0))
    cols_to, cols_from = slice(max(dx, 0), n + min(dx, 0)), slice(max(-dx, 0), n + min(-dx, 0))
    out[..., rows_to, cols_to] = x[..., rows_from, cols_from]
    return out


def shifted_copies(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """(4·N, 1, 8, 8): the images moved `pixels` up, then down, left, right (SHIFT_DIRECTIONS)."""
    return torch.cat([shift_images(x, pixels * dy, pixels * dx) for dy, dx in SHIFT_DIRECTIONS])


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, 10) class scores of (N, 1, 8, 8) images, in batches, in eval mode."""
    with eval_mode(model):
        return torch.cat([model(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])


def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, share classified right) of the images x (N, 1, 8, 8) with digits y (N,)."""
    logits = logits_of(model, x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(dim=1) == y).float().mean())


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> list[tuple[str, np.ndarray]]:
    """(stage name, (C, H, W) map) of every stage for one image x (1, 1, 8, 8); [] for the MLP."""
    record: list = []
    with eval_mode(model):
        model(x, record=record)
    return [(name, h[0].cpu().numpy()) for name, h in record]


def saliency(model: nn.Module, x: torch.Tensor, cls: int | None = None) -> np.ndarray:
    """(8, 8) |∂score/∂pixel| of one image x (1, 1, 8, 8): the class's score (logit) before the softmax;
    cls None takes the class the network predicts."""
    if cls is not None and not (isinstance(cls, (int, np.integer)) and 0 <= cls < N_CLASSES):
        raise ValueError(f"cls must be a digit 0..{N_CLASSES - 1} or None (the predicted one), got {cls!r}")
    x = x.clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        scores = model(x)[0]
        target = int(scores.argmax()) if cls is None else int(cls)
        (grad,) = torch.autograd.grad(scores[target], x)
    return grad[0, 0].abs().cpu().numpy()


def confusion_matrix(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(10, 10) counts: row = the true digit, column = the predicted one."""
    return np.bincount(true * N_CLASSES + predicted, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


def worst(probabilities: np.ndarray, true: np.ndarray, k: int) -> WorstTest:
    """The k images whose true digit gets the lowest probability, lowest first (ties: lower index first)."""
    confidence = probabilities[np.arange(len(true)), true]
    index = np.argsort(confidence, kind="stable")[:max(0, int(k))]
    return WorstTest(index, true[index], probabilities[index].argmax(axis=1), confidence[index])
