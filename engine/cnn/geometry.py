"""The geometry of the convolutional network, worked out before any tensor exists: every stage's
map size (to validate a config with messages that give the sizes), and which input pixels a cell
of a stage's map sees (its receptive field).

One convolution or pooling window, per axis, on an n-cell map:

    out = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1

(kernel k, padding p, stride s, dilation d). Output cell i reads the input cells
i·s − p + d·t for t = 0..k−1; those below 0 or above n − 1 are padding (zeros), which no input
pixel reaches. Walking that back stage by stage, keeping only real cells at each map, gives the
exact set of input rows (and columns) a cell depends on; the receptive field is its bounding box.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.config import ConfigError
from ..core.digits import IMAGE_SIDE

POOL_SIZE = 2   # every pooling stage is a 2×2 window with stride 2


@dataclass(frozen=True)
class Stage:
    """One stage of the network's feature extractor and the window it reads the previous map through.
    Batch norm and the activation work cell by cell (a 1×1 window); a global pooling stage's window
    is the whole map."""
    name: str          # conv1, norm1, act1, pool1, ..., global_max (the number is the conv layer's)
    kind: str          # conv, norm, act, pool, global_pool
    channels: int      # of its output map
    size: int          # side of its (square) output map
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    @property
    def span(self) -> int:
        """How many input cells the window covers from its first tap to its last: d(k−1) + 1."""
        return self.dilation * (self.kernel - 1) + 1


def conv_output_size(n: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """⌊(n + 2p − d(k−1) − 1)/s⌋ + 1: the side of the map a window makes of an n × n one (≤ 0: it does not fit)."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _side(n: int) -> str:
    return f"{n}×{n}"


def _kernel_words(kernel: int, dilation: int) -> str:
    span = dilation * (kernel - 1) + 1
    return f"a {_side(kernel)} kernel" + (f" (dilation {dilation}: spans {_side(span)})" if dilation > 1 else "")


def plan_stages(channels: list[int], kernel: int, padding: int, stride: int, dilation: int, pool: str,
                pool_every: int, batch_norm: bool, head: str, side: int = IMAGE_SIDE) -> list[Stage]:
    """The stages from the side × side input to the head, with their sizes. A 2×2 pooling (pool "max" or
    "avg") follows every pool_every-th conv layer, skipped where the map is smaller than 2×2; head
    "global_max" / "global_avg" ends with one pooling over the whole map. Raises ConfigError naming
    model.kernel or model.padding, with the sizes, when a layer does not fit."""
    stages: list[Stage] = []
    n = side
    for layer, width in enumerate(channels, start=1):
        if padding > dilation * (kernel - 1):
            raise ConfigError("model.padding", f"padding {padding} is more than {_kernel_words(kernel, dilation)} can "
                                                f"use (at most {dilation * (kernel - 1)}): the border cells of conv "
                                                f"layer {layer} would see nothing but the zeros added around its "
                                                f"{_side(n)} input; use less padding or a larger kernel")
        out = conv_output_size(n, kernel, padding, stride, dilation)
        if out < 1:
            padded = f" ({_side(n + 2 * padding)} padded)" if padding else ""
            raise ConfigError("model.kernel", f"{_kernel_words(kernel, dilation)} does not fit the {_side(n)} map"
                                              f"{padded} entering conv layer {layer}; use a smaller kernel or "
                                              "dilation, more padding, fewer layers, a smaller stride or less pooling")
        n = out
        stages.append(Stage(f"conv{layer}", "conv", width, n, kernel, stride, padding, dilation))
        if batch_norm:
            stages.append(Stage(f"norm{layer}", "norm", width, n))
        stages.append(Stage(f"act{layer}", "act", width, n))
        if pool != "none" and layer % pool_every == 0 and n >= POOL_SIZE:
            n = conv_output_size(n, POOL_SIZE, stride=POOL_SIZE)
            stages.append(Stage(f"pool{layer}", "pool", width, n, POOL_SIZE, POOL_SIZE))
    if head in ("global_max", "global_avg"):
        stages.append(Stage(head, "global_pool", channels[-1], 1, kernel=n))
    return stages


def head_features(stages: list[Stage]) -> int:
    """How many numbers the head reads: the last map flattened (C·H·W)."""
    last = stages[-1]
    return last.channels * last.size * last.size


def _support(stages: list[Stage], index: int, position: int, side: int) -> np.ndarray:
    """(side,) bool: the input rows (or columns) on which cell `position` of stage `index`'s map depends."""
    reach = np.zeros(stages[index].size, dtype=bool)
    reach[position] = True
    for i in range(index, -1, -1):
        stage = stages[i]
        n_in = stages[i - 1].size if i else side
        cells = np.flatnonzero(reach)
        taps = stage.dilation * np.arange(stage.kernel)
        seen = (cells[:, None] * stage.stride - stage.padding + taps[None, :]).ravel()
        reach = np.zeros(n_in, dtype=bool)
        reach[seen[(seen >= 0) & (seen < n_in)]] = True   # padding cells depend on no input pixel
    return reach


def receptive_field(stages: list[Stage], index: int, y: int, x: int, side: int = IMAGE_SIDE
                    ) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the box of input pixels, image[y0:y1, x0:x1], that cell (y, x) of stage
    `index`'s map depends on, clipped to the image. With dilation the box has holes (the cells
    between the taps); (0, 0, 0, 0) for a cell that sees only padding."""
    if not 0 <= index < len(stages):
        raise ValueError(f"stage index must be 0..{len(stages) - 1}, got {index}")
    n = stages[index].size
    if not (0 <= y < n and 0 <= x < n):
        raise ValueError(f"cell ({y}, {x}) is outside {stages[index].name}'s {_side(n)} map; "
                         f"use 0 <= y, x < {n}")
    rows, cols = np.flatnonzero(_support(stages, index, y, side)), np.flatnonzero(_support(stages, index, x, side))
    if not len(rows) or not len(cols):
        return (0, 0, 0, 0)
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
