"""The fused MLP path's probes, once per block over all its steps: every layer's weight-
gradient norm and every hidden layer's activation mean, std and saturated fraction.

Every layer of every step is reduced at once: the flat gradients of a block are one
(k, n_params) tensor and each step's hidden layers sit side by side in one slot, so a
product with a small 0/1 matrix sums each layer's part. Those matrices grow with width
times depth; past PRODUCT_FLOATS a network is reduced layer by layer instead.
"""
from __future__ import annotations

import torch

from ..core.registries import SATURATION_BOUNDS

PRODUCT_FLOATS = 1 << 20  # floats (4 MB): the largest 0/1 matrix the all-at-once reductions use


class BlockProbes:
    """Mixed into FastMLP: reads its widths, activations, flat-vector layout and device."""

    def _weight_selector(self, scale: float = 1.0) -> torch.Tensor:
        """(n_params, layers): scale**2 where a flat entry is layer l's weight (not its bias),
        else 0; a product with squared gradients sums each layer's, `scale` times larger."""
        if getattr(self, "_selector", (None,))[0] != scale:
            sel = torch.zeros(self.n_params, len(self._shapes), device=self.device)
            for l, (o, (a, c)) in enumerate(zip(self._offsets, self._shapes)):
                sel[o:o + (a - 1) * c, l] = scale * scale
            self._selector = (scale, sel)
        return self._selector[1]

    def grad_norms(self, grads: torch.Tensor | None = None, scale: float | None = None) -> torch.Tensor:
        """Weight-gradient L2 norm of each layer (biases left out, as the probe does):
        (layers,) for the last step, or (k, layers) for a (k, n_params) block of gradients
        held `scale` times too small (plain SGD keeps the loss's 1/B out of them).
        One product with a 0/1 selector sums the squares of every layer of every step at once."""
        g = self.last_grad[None] if grads is None else grads
        scale = self._last_grad_scale if scale is None else scale
        if self.n_params * len(self._shapes) <= PRODUCT_FLOATS:
            norms = torch.mm(g * g, self._weight_selector(scale)).sqrt_()
        else:  # a large network: one norm per layer, its steps at once
            norms = torch.stack([torch.linalg.vector_norm(g[:, o:o + (a - 1) * c], dim=1)
                                 for o, (a, c) in zip(self._offsets, self._shapes)], dim=1).mul_(scale)
        return norms[0] if grads is None else norms

    def _hidden_starts(self) -> list[int]:
        """Where each hidden layer's (w + 1) columns start in a step's hidden slot, and the end."""
        starts = [0]
        for w in self.widths[1:-1]:
            starts.append(starts[-1] + w + 1)
        return starts

    def _layer_means(self, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The matrices _activation_stats multiplies by, over a step's hidden columns
        (sum(w + 1) of them, bias inputs included), or None for a network too large for them:
        gather (3 * columns, 3 * layers): from the batch sums of a step's three probe rows
        (v, v >= hi, v <= lo), column 3l is layer l's mean (1 / (b * w) on its units, 0 on
        its bias input), column 3l + 2 its saturated fraction (both flags), 3l + 1 zero
        (the std goes there); average (columns, layers): layer l's mean of batch sums;
        spread (layers, columns): 1 on layer l's units, to subtract its mean from each."""
        starts = self._hidden_starts()
        columns, n_layers = starts[-1], len(starts) - 1
        if 16 * columns * n_layers > PRODUCT_FLOATS:
            return None  # _activation_stats goes layer by layer
        average = torch.zeros(columns, n_layers, device=self.device)
        spread = torch.zeros(n_layers, columns, device=self.device)
        for l, (a, z) in enumerate(zip(starts, starts[1:])):
            average[a:z - 1, l] = 1.0 / (b * (z - 1 - a))
            spread[l, a:z - 1] = 1.0
        gather = torch.zeros(3, columns, n_layers, 3, device=self.device)
        gather[0, :, :, 0] = average
        gather[1, :, :, 2] = gather[2, :, :, 2] = average
        return gather.view(3 * columns, 3 * n_layers), average, spread

    def _saturation_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden columns,) lo and hi: a unit is saturated when v <= lo or v >= hi, as
        probes.activation_summary counts it (NaN never compares true: no bound)."""
        if getattr(self, "_bounds", None) is None:
            nan = float("nan")
            lo, hi = [], []
            for w, name in zip(self.widths[1:-1], self.activations):
                bounds = SATURATION_BOUNDS.get(name)
                a, z = (nan, nan) if bounds is None else (0.0, nan) if name == "relu" else bounds
                lo += [a] * w + [nan]
                hi += [z] * w + [nan]
            self._bounds = (torch.tensor(lo, device=self.device), torch.tensor(hi, device=self.device))
        return self._bounds

    def _activation_stats(self, bufs: dict) -> torch.Tensor:
        """(k, hidden layers, 3): mean, std (population) and saturated fraction of each step's
        batch activations, every layer of every step at once: the batch sums of each step's
        hidden slot and its two flag slots (v >= hi, v <= lo), then one product gives each
        layer's mean and saturated fraction; the std is taken about those means (two
        passes, as torch.std computes it)."""
        h, rows = bufs["hidden_all"], bufs["probe_rows"]
        if bufs["layer_means"] is None:
            return self._activation_stats_by_layer(h)
        gather, average, spread = bufs["layer_means"]
        (k, b, columns), lo, hi = h.shape, *self._saturation_bounds()
        torch.ge(h, hi, out=bufs["high"])
        torch.le(h, lo, out=bufs["low"])
        sums = rows[:, :, :b * columns].view(k, 3, b, columns).sum(2)
        stats = torch.mm(sums.view(k, 3 * columns), gather)          # (k, 3 layers): mean, 0, saturated
        centred = h - torch.mm(stats[:, 0::3], spread)[:, None, :]
        torch.sqrt(torch.mm(centred.mul_(centred).sum(1), average), out=stats[:, 1::3])
        return stats.view(k, -1, 3)

    def _activation_stats_by_layer(self, h: torch.Tensor) -> torch.Tensor:
        """_activation_stats for a large network: each layer's statistics on their own."""
        lo, hi = self._saturation_bounds()
        starts = self._hidden_starts()
        stats = []
        for a, z in zip(starts, starts[1:]):
            v = h[:, :, a:z - 1]
            std, mean = torch.std_mean(v, dim=(1, 2), correction=0)
            saturated = (v <= lo[a:z - 1]).logical_or_(v >= hi[a:z - 1]).sum((1, 2), dtype=v.dtype).div_(v[0].numel())
            stats.append(torch.stack([mean, std, saturated], dim=-1))
        return torch.stack(stats, dim=1)
