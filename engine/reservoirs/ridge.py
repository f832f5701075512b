"""The trained part of every reservoir model: a linear read-out fitted by ridge regression.

With the features of N samples as the columns of H (F × N) and the targets as the columns of Y
(K × N), the read-out W (K × F) minimising ‖Y − W H‖² + λ‖W‖² is

    W = Y Hᵀ (H Hᵀ + λ I)⁻¹.

The intercept is not penalised: features and targets are centred first and b = ȳ − W h̄, as
scikit-learn's Ridge(fit_intercept=True) does. H Hᵀ and Y Hᵀ are sums over samples, so a read-out can
be refitted as more data arrives from running sums (RidgeAccumulator) without keeping the states.
Everything runs on the features' device, in their dtype (float64 where the device has it).
"""
from __future__ import annotations

import torch


def solve_ridge(gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> torch.Tensor:
    """W (K, F) from gram = H Hᵀ (F, F), centred, and cross = Y Hᵀ (K, F): W = cross (gram + λI)⁻¹.
    Solved through the symmetric system (gram + λI) Wᵀ = crossᵀ, never by forming the inverse."""
    f = gram.shape[0]
    a = gram + ridge * torch.eye(f, dtype=gram.dtype, device=gram.device)
    try:
        return torch.linalg.solve(a, cross.T).T
    except RuntimeError:   # singular (λ = 0 on rank-deficient features): the least-squares answer
        return torch.linalg.lstsq(a, cross.T).solution.T


class RidgeAccumulator:
    """Running sums of a ridge read-out's data: n, Σh, Σy, Σh hᵀ, Σy hᵀ. fit() gives (W, b) on everything
    added so far, the same as fitting all of it at once."""

    def __init__(self, n_features: int, n_targets: int, dtype: torch.dtype, device: torch.device):
        self.n = 0
        self.sum_h = torch.zeros(n_features, dtype=dtype, device=device)
        self.sum_y = torch.zeros(n_targets, dtype=dtype, device=device)
        self.hh = torch.zeros(n_features, n_features, dtype=dtype, device=device)
        self.yh = torch.zeros(n_targets, n_features, dtype=dtype, device=device)

    def add(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """features (N, F), targets (N, K): N more samples (rows)."""
        h, y = features.to(self.hh.dtype), targets.to(self.hh.dtype)
        self.n += h.shape[0]
        self.sum_h += h.sum(0)
        self.sum_y += y.sum(0)
        self.hh += h.T @ h
        self.yh += y.T @ h

    def fit(self, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(W (K, F), b (K,)) so that the read-out is y = W h + b."""
        if self.n == 0:
            return torch.zeros_like(self.yh), torch.zeros_like(self.sum_y)
        mean_h, mean_y = self.sum_h / self.n, self.sum_y / self.n
        gram = self.hh - self.n * torch.outer(mean_h, mean_h)      # Σ (h − h̄)(h − h̄)ᵀ
        cross = self.yh - self.n * torch.outer(mean_y, mean_h)     # Σ (y − ȳ)(h − h̄)ᵀ
        weights = solve_ridge(gram, cross, ridge)
        return weights, mean_y - weights @ mean_h


def fit_ridge(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(W (K, F), b (K,)) for features (N, F) and targets (N, K) at once. With more features than samples
    the dual form W = Y (HᵀH + λI)⁻¹ Hᵀ (N × N) is the same answer at a smaller cost."""
    h = features
    mean_h, mean_y = h.mean(0), targets.mean(0)
    hc, yc = h - mean_h, targets - mean_y
    n, f = hc.shape
    if f > n:
        k = hc @ hc.T + ridge * torch.eye(n, dtype=h.dtype, device=h.device)   # (N, N)
        try:
            alpha = torch.linalg.solve(k, yc)                                    # (N, K)
        except RuntimeError:
            alpha = torch.linalg.lstsq(k, yc).solution
        weights = (hc.T @ alpha).T
    else:
        weights = solve_ridge(hc.T @ hc, yc.T @ hc, ridge)
    return weights, mean_y - weights @ mean_h


def reservoir_dtype(device: torch.device) -> torch.dtype:
    """float64 for the reservoirs and their read-outs (a ridge solve with λ = 1e-8 needs it), but on
    Apple's MPS, which has no float64."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64
