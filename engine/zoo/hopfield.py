"""A Hopfield network (Hopfield, 1982): n binary units s_i = ±1, symmetric weights with a zero
diagonal, and the energy E(s) = -½ sᵀ W s. Updating one unit at a time to the sign of its
input never raises the energy, so the state rolls down to a minimum; the weights are set so
that the stored patterns are minima, and a corrupted pattern is drawn back to the nearest one.

Two storage rules: Hebb's, W = (1/n) Σ_p x_p x_pᵀ (fine for nearly orthogonal patterns, about
0.14·n of them), and the projection (pseudo-inverse) rule, W = X⁺ X, which makes every stored
pattern a fixed point even when the patterns are correlated, as digits are.

Shapes: patterns (p, n) of ±1; a state (n,).
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.config import ConfigError

RULES = ("projection", "hebbian")


def digit_patterns(digits=(0, 1, 2, 3, 4, 7)) -> np.ndarray:
    """(len(digits), 64) ±1 patterns: the mean 8×8 image of each digit in scikit-learn's set,
    +1 where it is brighter than its own mean."""
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download
    bunch = load_digits()
    out = []
    for d in digits:
        if not 0 <= int(d) <= 9:
            raise ConfigError("digits", f"digits are 0..9, got {d!r}")
        mean = bunch.data[bunch.target == int(d)].mean(0)
        out.append(np.where(mean > mean.mean(), 1.0, -1.0))
    return np.array(out)


def weights(patterns: np.ndarray, rule: str = "projection") -> np.ndarray:
    """(n, n) symmetric weights with a zero diagonal that store the (p, n) ±1 patterns."""
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or not np.all(np.abs(x) == 1):
        raise ValueError(f"patterns must be a (p, n) array of ±1, got shape {x.shape}")
    if rule == "hebbian":
        w = x.T @ x / x.shape[1]
    elif rule == "projection":
        w = np.linalg.pinv(x) @ x
    else:
        raise ConfigError("rule", f"choose one of {', '.join(RULES)}, got {rule!r}")
    np.fill_diagonal(w, 0.0)
    return (w + w.T) / 2


def energy(w: np.ndarray, state: np.ndarray) -> float:
    return float(-0.5 * state @ w @ state)


def corrupt(pattern: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """The pattern with round(fraction · n) units, chosen at random, flipped."""
    if not 0 <= fraction <= 1:
        raise ConfigError("noise", f"the share of flipped pixels must be 0..1, got {fraction!r}")
    g = torch.Generator().manual_seed(seed)
    n = len(pattern)
    flip = torch.randperm(n, generator=g)[: int(round(fraction * n))].numpy()
    out = np.array(pattern, dtype=np.float64)
    out[flip] *= -1
    return out


def recall(w: np.ndarray, state: np.ndarray, seed: int = 0, max_sweeps: int = 20) -> dict:
    """Asynchronous updates, every unit once per sweep in a random order, until a sweep changes
    nothing. Returns {"states": [(n,) after each sweep, the start first], "energies": [...],
    "converged": bool}."""
    g = torch.Generator().manual_seed(seed)
    s = np.array(state, dtype=np.float64)
    states, energies = [s.copy()], [energy(w, s)]
    for _ in range(max_sweeps):
        changed = False
        for i in torch.randperm(len(s), generator=g).tolist():
            h = w[i] @ s
            new = 1.0 if h > 0 else -1.0 if h < 0 else s[i]  # a zero input keeps the unit as it is
            if new != s[i]:
                s[i], changed = new, True
        states.append(s.copy())
        energies.append(energy(w, s))
        if not changed:
            return {"states": states, "energies": energies, "converged": True}
    return {"states": states, "energies": energies, "converged": False}


def nearest_pattern(patterns: np.ndarray, state: np.ndarray) -> tuple[int, float]:
    """(index, overlap in [-1, 1]) of the stored pattern closest to the state."""
    overlaps = patterns @ state / patterns.shape[1]
    k = int(np.argmax(overlaps))
    return k, float(overlaps[k])
