"""Exact answers by enumeration, for machines small enough to list every state.

A Boltzmann machine of n units has 2^n joint states; with n ≤ 20 (a million states) every sum can be
done outright: log Z = logsumexp_s(−E(s)), p(v) = Σ_h e^{−E(v,h)} / Z, and KL(data ‖ model) =
Σ_v p_data(v) log(p_data(v) / p_model(v)). An RBM's hidden units can be summed in closed form (the
free energy), so only its 2^V visible vectors are listed.

Sums are done in float64 on the CPU: the page and the tests compare numbers near 1e-6, and Apple's
MPS has no float64. The parameters are copied over, the model is not touched.
"""
from __future__ import annotations

import numpy as np
import torch

from .models import RBM, BoltzmannMachine

MAX_ENUMERATED_UNITS = 20


def all_binary_states(n: int) -> torch.Tensor:
    """(2^n, n) float64: every 0/1 vector of length n, in counting order (the first unit is the highest bit)."""
    if not 0 <= n <= MAX_ENUMERATED_UNITS:
        raise ValueError(f"enumerating {n} units ({2 ** n:,} states) is too many; at most {MAX_ENUMERATED_UNITS}")
    codes = torch.arange(2 ** n, dtype=torch.int64)
    shifts = torch.arange(n - 1, -1, -1, dtype=torch.int64)
    return ((codes[:, None] >> shifts) & 1).to(torch.float64)


def state_index(v: np.ndarray) -> np.ndarray:
    """The row of all_binary_states(n) that each 0/1 vector of v (..., n) is."""
    v = np.asarray(v).astype(np.int64)
    weights = 2 ** np.arange(v.shape[-1] - 1, -1, -1, dtype=np.int64)
    return v @ weights


def data_distribution(patterns: np.ndarray) -> np.ndarray:
    """(2^n,) p_data(v): the share of the rows of `patterns` (m, n) that are v."""
    n = patterns.shape[1]
    counts = np.bincount(state_index(patterns), minlength=2 ** n).astype(np.float64)
    return counts / counts.sum()


def _bm_parameters(model: BoltzmannMachine) -> tuple[torch.Tensor, torch.Tensor]:
    return model.weight.detach().to("cpu", torch.float64), model.bias.detach().to("cpu", torch.float64)


def bm_log_joint(model: BoltzmannMachine) -> torch.Tensor:
    """(2^V, 2^H) float64 −E(v, h) for every visible vector (rows) and hidden vector (columns), unnormalised."""
    W, b = _bm_parameters(model)
    nv = model.n_visible
    V, H = all_binary_states(nv), all_binary_states(model.n_hidden)
    Wvv, Wvh, Whh = W[:nv, :nv], W[:nv, nv:], W[nv:, nv:]
    visible_term = 0.5 * ((V @ Wvv) * V).sum(1) + V @ b[:nv]          # (2^V,)
    hidden_term = 0.5 * ((H @ Whh) * H).sum(1) + H @ b[nv:]           # (2^H,)
    return visible_term[:, None] + hidden_term[None, :] + V @ Wvh @ H.T


def bm_log_partition(model: BoltzmannMachine) -> float:
    """log Z = log Σ_s e^{−E(s)} over all 2^n states."""
    return float(torch.logsumexp(bm_log_joint(model).reshape(-1), dim=0))


def bm_visible_log_marginal(model: BoltzmannMachine) -> np.ndarray:
    """(2^V,) log p(v) for every visible vector, in all_binary_states order (the hidden units summed out)."""
    log_joint = bm_log_joint(model)
    log_unnormalised = torch.logsumexp(log_joint, dim=1)               # −F(v), (2^V,)
    return (log_unnormalised - torch.logsumexp(log_unnormalised, dim=0)).numpy()


def bm_joint_distribution(model: BoltzmannMachine) -> np.ndarray:
    """(2^n,) p(s) of every joint state, in all_binary_states(n) order (visible units first)."""
    log_joint = bm_log_joint(model).reshape(-1)
    return torch.softmax(log_joint, dim=0).numpy()


def kl_divergence(p_data: np.ndarray, log_p_model: np.ndarray) -> float:
    """KL(data ‖ model) = Σ_v p_data(v) (log p_data(v) − log p_model(v)), over the v that the data holds."""
    seen = p_data > 0
    return float(np.sum(p_data[seen] * (np.log(p_data[seen]) - log_p_model[seen])))


def rbm_free_energies_all(model: RBM) -> torch.Tensor:
    """(2^V,) float64 F(v) of every visible vector."""
    W = model.weight.detach().to("cpu", torch.float64)
    b = model.visible_bias.detach().to("cpu", torch.float64)
    c = model.hidden_bias.detach().to("cpu", torch.float64)
    V = all_binary_states(model.n_visible)
    return -(V @ b) - torch.nn.functional.softplus(V @ W + c).sum(1)


def rbm_log_partition(model: RBM) -> float:
    """log Z = log Σ_v e^{−F(v)} over all 2^V visible vectors."""
    return float(torch.logsumexp(-rbm_free_energies_all(model), dim=0))


def rbm_mean_log_likelihood(model: RBM, v: np.ndarray) -> float:
    """Mean log p(v) over the rows of v (m, V) of 0/1: −F(v) − log Z, exactly."""
    free = rbm_free_energies_all(model).numpy()
    return float(np.mean(-free[state_index(v)]) - rbm_log_partition(model))
