"""The 8×8 handwritten digits that ship with scikit-learn (1,797 images, UCI ML repository),
read offline from the installed package and split into train and test sets, stratified:
each digit is held out in the same share.

Pixels are scaled from 0..16 to [0, 1]; each image is one row of 64 values, row-major
(reshape(-1, 8, 8) gives the picture, top row first).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

IMAGE_SIDE = 8
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
N_CLASSES = 10


def _digits_file() -> Path | None:
    """scikit-learn's own copy of the data (datasets/data/digits.csv.gz), found without
    importing scikit-learn, which takes seconds on a slow machine."""
    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    path = _digits_file()
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)  # (1797, 65): 64 pixels, then the digit
        pixels, target = table[:, :-1], table[:, -1]
    else:  # a layout we do not know: the public loader reads the same file
        from sklearn.datasets import load_digits
        bunch = load_digits()
        pixels, target = bunch.data, bunch.target
    x = (pixels / 16.0).astype(np.float32)  # (1797, 64) in [0, 1]
    y = target.astype(np.int64)             # (1797,) digits 0..9
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_digits_split(seed: int = 0, test_fraction: float = 0.2
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train (N, 64) float32, y_train (N,) int64, x_test (M, 64) float32, y_test (M,) int64).

    The split is stratified (every digit in the same share on both sides) and fixed by
    `seed`: the same seed gives the same images in the same order. test_fraction in
    [0.05, 0.5]. The arrays returned are fresh copies the caller may change."""
    if not 0.05 <= test_fraction <= 0.5:
        raise ValueError(f"test_fraction must be 0.05..0.5, got {test_fraction!r}")
    if not (isinstance(seed, (int, np.integer)) and 0 <= seed < 2**32):
        raise ValueError(f"seed must be a whole number 0..2**32-1, got {seed!r}")
    x, y = _all_digits()
    rng = np.random.default_rng(int(seed))
    train_idx, test_idx = [], []
    for digit in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(y == digit))
        n_test = int(round(len(members) * test_fraction))
        test_idx.append(members[:n_test])
        train_idx.append(members[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))  # classes interleaved, in a seeded order
    test_idx = rng.permutation(np.concatenate(test_idx))
    return x[train_idx].copy(), y[train_idx].copy(), x[test_idx].copy(), y[test_idx].copy()
