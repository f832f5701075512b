"""The data of the energy models: tiny binary pattern sets generated in code, and the binarised digits.

Bars and stripes (MacKay; Hinton and Sejnowski's classic test of a Boltzmann machine): on an r×c
grid every row is all on or all off (stripes), or every column is (bars); the blank and the full
grid are both, and are counted once, so there are 2^r + 2^c − 2 patterns (14 on 3×3, 18 on 2×4).

The shifter ensemble (Hinton and Sejnowski 1986): a ring of n random bits V1, a copy V2 shifted one
place left, not at all, or one place right (around the ring), and three label units saying which
shift it was. No single pair of units tells the shift: the machine must find higher-order hidden
features. Each of the 2^n · 3 (V1, shift) pairs is one pattern, so a V1 whose shifts coincide (all
off, all on) appears with every label.

Each set is the empirical distribution of its rows: uniform over the rows, a repeated row counted
as often as it appears (engine/energy/exact.py turns it into p_data(v)).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..core.digits import load_digits_split

# name -> (label for people, number of visible units)
PATTERN_SETS = {
    "bars3x3": ("Bars and stripes 3×3", 9),
    "bars2x4": ("Bars and stripes 2×4", 8),
    "shifter3": ("Shifter, 3 bits (3 + 3 + 3 labels)", 9),
    "shifter4": ("Shifter, 4 bits (4 + 4 + 3 labels)", 11),
}
BINARY_THRESHOLD = 0.5   # a digit's pixel is on when at least half the brightest ink (16 of scikit-learn's 0..16 → 8)


def bars_and_stripes(rows: int, cols: int) -> np.ndarray:
    """(2^rows + 2^cols − 2, rows·cols) float32 patterns of 0/1, row-major, without repeats."""
    patterns = []
    for on in itertools.product((0.0, 1.0), repeat=rows):        # stripes: each row all on or all off
        patterns.append(np.repeat(np.array(on), cols))
    for on in itertools.product((0.0, 1.0), repeat=cols):        # bars: each column all on or all off
        grid = np.tile(np.array(on), rows)
        if 0 < grid.sum() < rows * cols:                            # blank and full are stripes already
            patterns.append(grid)
    return np.array(patterns, dtype=np.float32)


def shifter(bits: int) -> np.ndarray:
    """(3 · 2^bits, 2·bits + 3) float32: V1, V2 = V1 rolled by −1, 0 or +1, then the one-hot shift label."""
    patterns = []
    for v1 in itertools.product((0.0, 1.0), repeat=bits):
        for label, shift in enumerate((-1, 0, 1)):
            one_hot = np.eye(3)[label]
            patterns.append(np.concatenate([v1, np.roll(v1, shift), one_hot]))
    return np.array(patterns, dtype=np.float32)


def pattern_set(name: str) -> np.ndarray:
    """The rows of a set of PATTERN_SETS, (m, n_visible) float32 of 0/1."""
    if name == "bars3x3":
        return bars_and_stripes(3, 3)
    if name == "bars2x4":
        return bars_and_stripes(2, 4)
    if name == "shifter3":
        return shifter(3)
    if name == "shifter4":
        return shifter(4)
    raise ValueError(f"unknown pattern set {name!r}; choose from {', '.join(PATTERN_SETS)}")


def pattern_shape(name: str) -> tuple[int, int]:
    """How a set's visible units are laid out as a picture: the grid, or the shifter's rows V1, V2, label."""
    return {"bars3x3": (3, 3), "bars2x4": (2, 4), "shifter3": (3, 3), "shifter4": (3, 4)}[name]


def as_picture(name: str, visible: np.ndarray) -> np.ndarray:
    """(..., rows, cols) pictures of visible vectors (..., n_visible); the shifter's label row is padded
    with NaN (drawn as blank) where it is shorter than the others."""
    visible = np.asarray(visible, dtype=np.float64)
    rows, cols = pattern_shape(name)
    if name.startswith("bars"):
        return visible.reshape(*visible.shape[:-1], rows, cols)
    bits = (visible.shape[-1] - 3) // 2
    padded = np.full((*visible.shape[:-1], rows * cols), np.nan)
    padded[..., :2 * bits] = visible[..., :2 * bits]
    padded[..., 2 * cols:2 * cols + 3] = visible[..., 2 * bits:]
    return padded.reshape(*visible.shape[:-1], rows, cols)


def binary_digits(seed: int, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits split as engine/core/digits.py splits them, each pixel 1 where its ink is at
    least BINARY_THRESHOLD of the brightest and 0 elsewhere: (x_train, y_train, x_test, y_test),
    x float32 (N, 64) of 0/1. A binary RBM models binary pixels; grey ones would be read as probabilities."""
    x_train, y_train, x_test, y_test = load_digits_split(seed, test_fraction)
    return ((x_train >= BINARY_THRESHOLD).astype(np.float32), y_train,
            (x_test >= BINARY_THRESHOLD).astype(np.float32), y_test)


def random_binary_images(n: int, n_pixels: int, seed: int, on_share: float = 0.5) -> np.ndarray:
    """(n, n_pixels) float32 random binary images, each pixel on with probability on_share: the
    "not a digit" side of the free-energy gap."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, n_pixels)) < on_share).astype(np.float32)
