"""The 2-D data sets, the train/test split, the input features and the plane grid."""
from __future__ import annotations

import numpy as np
import pytest

from engine.mlp.config import DataConfig, ExperimentConfig, TrainConfig
from engine.mlp.data import grid_points, make_dataset, make_features, make_points

CLASSIFY = ["circle", "xor", "gauss", "spiral", "moons"]
REGRESS = ["plane", "multigauss"]
CUSTOM_POINTS = [[-3, -3, 0], [-2, -3, 0], [-3, -2, 0], [-2.5, -2, 0], [3, 3, 1], [2, 3, 1], [3, 2, 1], [2.5, 2, 1],
                 [0.5, -4, 1], [-0.5, 4, 0]]


def _config(name, seed=0, noise=0.0, n=400, n_classes=3, test_fraction=0.5, points=None):
    task = "regress2d" if name in REGRESS else "classify2d"
    return ExperimentConfig(task=task, data=DataConfig(name=name, n_samples=n, noise=noise, n_classes=n_classes,
                                                       test_fraction=test_fraction, points=points or []),
                            train=TrainConfig(loss="mse" if task == "regress2d" else "bce", seed=seed))


def _all_configs():
    yield from (_config(n) for n in CLASSIFY + REGRESS)
    yield from (_config("blobs", n_classes=k) for k in (3, 4, 5))
    yield _config("custom", points=CUSTOM_POINTS)


@pytest.mark.parametrize("config", list(_all_configs()), ids=lambda c: f"{c.data.name}{c.data.n_classes}")
def test_points_shapes_dtypes_labels(config):
    xy, y = make_points(config)
    n = len(config.data.points) if config.data.name == "custom" else config.data.n_samples
    assert xy.shape == (n, 2) and y.shape == (n,)
    assert np.isfinite(xy).all()
    if config.task == "classify2d":
        assert y.dtype == np.int64
        k = config.n_classes
        # every class is present, nothing outside 0..k-1
        assert set(np.unique(y).tolist()) == set(range(k))
    else:
        assert np.issubdtype(y.dtype, np.floating)
        assert np.isfinite(y).all() and y.min() >= -1 and y.max() <= 1
        assert y.std() > 0.1  # a real target, not a constant
    if config.data.name == "blobs":
        # Gaussian blobs (std 0.8 around radius 3.5) have tails past the domain's edge
        assert np.mean(np.abs(xy) <= 6.0) > 0.99 and np.abs(xy).max() < 7.5
    else:
        assert np.abs(xy).max() <= 6.5

    ds = make_dataset(config)
    assert ds.train_xy.dtype == np.float32 and ds.test_xy.dtype == np.float32
    assert ds.train_xy.shape[1] == 2 and ds.test_xy.shape[1] == 2
    assert len(ds.train_xy) + len(ds.test_xy) == n
    assert ds.train_y.dtype == (np.int64 if config.task == "classify2d" else np.float32)
    assert ds.n_classes == config.n_classes
    # the split is a permutation of the generated points: nothing lost, nothing duplicated
    together = np.concatenate([ds.train_xy, ds.test_xy])
    assert np.array_equal(np.sort(together, axis=0), np.sort(xy.astype(np.float32), axis=0))


def test_class_balance_and_geometry():
    # independent checks of what each set is, not just its shape
    xy, y = make_points(_config("circle"))
    r = np.hypot(xy[:, 0], xy[:, 1])
    assert (r[y == 1] < 2.5).all() and (r[y == 0] >= 3.5).all()
    xy, y = make_points(_config("xor"))
    assert np.array_equal(y, (xy[:, 0] * xy[:, 1] >= 0).astype(np.int64))
    assert (np.abs(xy) >= 0.3).all()  # the padding keeps points off the axes
    xy, y = make_points(_config("gauss"))
    assert np.allclose(xy[y == 1].mean(0), [2, 2], atol=0.3) and np.allclose(xy[y == 0].mean(0), [-2, -2], atol=0.3)
    xy, y = make_points(_config("plane"))
    assert np.allclose(y, np.clip((xy[:, 0] + xy[:, 1]) / 10, -1, 1))
    xy, y = make_points(_config("spiral"))
    assert (y == 0).sum() == (y == 1).sum() == 200


@pytest.mark.parametrize("name", CLASSIFY + REGRESS + ["blobs", "custom"])
def test_same_seed_same_data_different_seed_different(name):
    points = CUSTOM_POINTS if name == "custom" else None
    a = make_dataset(_config(name, seed=3, noise=0.2, points=points))
    b = make_dataset(_config(name, seed=3, noise=0.2, points=points))
    c = make_dataset(_config(name, seed=4, noise=0.2, points=points))
    for field in ("train_xy", "train_y", "test_xy", "test_y"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.train_xy, c.train_xy)


@pytest.mark.parametrize("name", ["circle", "gauss", "moons", "blobs", "plane", "multigauss"])
def test_seed_changes_generated_points(name):
    # these sets draw their points at random even at noise 0
    assert not np.array_equal(make_points(_config(name, seed=0))[0], make_points(_config(name, seed=1))[0])


def test_noise_moves_points():
    clean, _ = make_points(_config("spiral", noise=0.0))
    noisy, _ = make_points(_config("spiral", noise=0.3))
    assert not np.allclose(clean, noisy)
    assert np.abs(clean - noisy).max() <= 0.3 + 1e-12  # uniform(-1, 1) * noise


@pytest.mark.parametrize("n, fraction, n_test", [(400, 0.5, 200), (400, 0.25, 100), (101, 0.3, 30),
                                                 (10, 0.9, 9), (400, 0.0, 0), (20, 0.01, 1)])
def test_split_follows_test_fraction(n, fraction, n_test):
    ds = make_dataset(_config("moons", n=n, test_fraction=fraction))
    assert len(ds.test_xy) == len(ds.test_y) == n_test
    assert len(ds.train_xy) == len(ds.train_y) == n - n_test


def test_make_features_by_hand():
    xy = np.array([[0.5, -2.0], [3.0, 1.5], [-6.0, 6.0]])
    names = ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]
    out = make_features(xy, names)
    assert out.shape == (3, 7) and out.dtype == np.float32
    for row, (x1, x2) in enumerate(xy):
        expected = [x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.sin(x1), np.sin(x2)]
        np.testing.assert_allclose(out[row], expected, rtol=1e-6, atol=1e-6)
    # the order follows the list given
    np.testing.assert_array_equal(make_features(xy, ["sin_x2", "x1"]), out[:, [6, 0]])


@pytest.mark.parametrize("shape", [(5, 3), (5,), (5, 1), (2, 5, 2)])
def test_make_features_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError) as info:
        make_features(np.zeros(shape), ["x1"])
    assert "(n, 2)" in str(info.value) and str(shape) in str(info.value)


def test_grid_points():
    g = grid_points(5)
    assert g.shape == (25, 2) and g.dtype == np.float32
    np.testing.assert_array_equal(g[0], [-6, -6])
    np.testing.assert_array_equal(g[4], [6, -6])  # row 0 is x2 = -6, x1 runs along it
    np.testing.assert_array_equal(g[20], [-6, 6])
    np.testing.assert_array_equal(g[24], [6, 6])
    np.testing.assert_allclose(g[:5, 0], [-6, -3, 0, 3, 6])
    np.testing.assert_allclose(g[::5, 1], [-6, -3, 0, 3, 6])
    assert grid_points(3, domain=2.0).max() == 2.0
    assert len(np.unique(grid_points(50), axis=0)) == 2500
