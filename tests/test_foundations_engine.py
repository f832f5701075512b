"""The Foundations engine against independent oracles: closed-form derivatives and losses,
Rosenbrock's known minimum and gradient, SGD steps computed by hand, and finite differences
for the backprop inspector."""
import math

import numpy as np
import pytest
import torch

from engine.core.registries import ACTIVATIONS
from engine.foundations.backprop import inspect_weight, inspector_batch, inspector_config, inspector_network
from engine.foundations.neuron import (SATURATION_SLOPE, activation_curve, activation_curves, loss_vs_margin,
                                       neuron_output, prediction_losses, regularised_objective, saturated_ranges,
                                       three_class_losses, zero_one_loss)
from engine.foundations.surfaces import (logistic_surface, make_surface, optimizer_path, optimizer_paths, rosenbrock,
                                         saddle)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------- activations ----------------
def test_autograd_derivatives_match_closed_forms():
    s = activation_curve("sigmoid")
    np.testing.assert_allclose(s.value, sigmoid(s.x), atol=1e-12)
    np.testing.assert_allclose(s.derivative, s.value * (1 - s.value), atol=1e-12)   # σ' = σ(1 − σ)
    t = activation_curve("tanh")
    np.testing.assert_allclose(t.derivative, 1 - np.tanh(t.x) ** 2, atol=1e-12)     # tanh' = 1 − tanh²
    r = activation_curve("relu", n=400)  # an even n keeps x = 0, where relu' is a convention, off the grid
    np.testing.assert_array_equal(r.derivative, (r.x > 0).astype(float))            # relu' = step
    sp = activation_curve("softplus")
    np.testing.assert_allclose(sp.derivative, sigmoid(sp.x), atol=1e-9)             # softplus' = σ


def test_sigmoid_slope_peaks_at_a_quarter_and_saturation_ranges_are_where_the_slope_is_small():
    s = activation_curve("sigmoid", n=481)
    assert s.derivative.max() == pytest.approx(0.25, abs=1e-12)
    # σ'(x) = 0.1 where σ = (1 ± √0.6)/2, i.e. |x| = log((1 + √0.6)/(1 − √0.6)) ≈ 2.063
    edge = math.log((1 + math.sqrt(0.6)) / (1 - math.sqrt(0.6)))
    (lo1, hi1), (lo2, hi2) = s.saturated
    assert lo1 == -6 and hi2 == 6
    assert hi1 == pytest.approx(-edge, abs=0.03) and lo2 == pytest.approx(edge, abs=0.03)
    assert activation_curve("linear").saturated == []
    assert saturated_ranges(np.arange(5.0), np.array([0.0, 1, 0, 0, 1])) == [(0.0, 0.0), (2.0, 3.0)]
    for curve in activation_curves():
        inside = np.zeros_like(curve.x, dtype=bool)
        for lo, hi in curve.saturated:
            inside |= (curve.x >= lo) & (curve.x <= hi)
        np.testing.assert_array_equal(inside, np.abs(curve.derivative) < SATURATION_SLOPE)
    assert [c.name for c in activation_curves()] == list(ACTIVATIONS)


# ---------------- losses ----------------
def test_margin_losses_match_their_formulas():
    m = np.linspace(-4, 4, 33)
    np.testing.assert_allclose(loss_vs_margin(m, "bce"), np.log1p(np.exp(-m)), atol=1e-12)
    np.testing.assert_allclose(loss_vs_margin(m, "hinge"), np.maximum(0, 1 - m), atol=1e-12)
    np.testing.assert_allclose(loss_vs_margin(m, "mse"), (sigmoid(m) - 1) ** 2, atol=1e-12)
    np.testing.assert_array_equal(zero_one_loss(np.array([-1.0, 0.0, 0.5])), [1, 1, 0])


def test_l2_gives_cross_entropy_a_finite_minimum():
    w = np.linspace(-1, 30, 3101)
    without = regularised_objective(w, "bce", 0.0)
    assert np.argmin(without) == len(w) - 1          # keeps falling: the optimum is at infinity
    with_l2 = regularised_objective(w, "bce", 0.1)
    w_star = w[np.argmin(with_l2)]
    # d/dw [log(1 + e^-w) + λ/2 w²] = −σ(−w) + λw = 0
    assert -sigmoid(-w_star) + 0.1 * w_star == pytest.approx(0, abs=2e-3)


def test_three_class_cross_entropy_and_gini_by_formula():
    p = np.array([0.1, 1 / 3, 0.6, 0.99])
    out = three_class_losses(p)
    np.testing.assert_allclose(out["ce"], -np.log(p), atol=1e-9)
    np.testing.assert_allclose(out["gini"], 1 - p ** 2 - 2 * ((1 - p) / 2) ** 2, atol=1e-12)
    assert out["gini"][1] == pytest.approx(2 / 3)    # the uniform prediction is the most mixed
    pred = prediction_losses([2.0, 1.0, 0.0], true_class=1)
    e = np.exp([2.0, 1.0, 0.0])
    np.testing.assert_allclose(pred["probs"], e / e.sum())
    assert pred["ce"] == pytest.approx(-math.log(e[1] / e.sum()))
    assert pred["gini"] == pytest.approx(1 - ((e / e.sum()) ** 2).sum())


def test_neuron_output_is_the_activation_of_the_weighted_sum():
    grid = neuron_output(1.5, -0.5, 0.25, "sigmoid", resolution=7)
    axis = np.linspace(-6, 6, 7)
    x1, x2 = np.meshgrid(axis, axis)   # row 0 at x2 = -6
    np.testing.assert_allclose(grid, sigmoid(1.5 * x1 - 0.5 * x2 + 0.25), atol=1e-6)


# ---------------- surfaces and optimiser paths ----------------
def test_rosenbrock_minimum_and_gradient_closed_form():
    surface = rosenbrock()
    assert surface.minimum == (1.0, 1.0)
    np.testing.assert_allclose(surface.gradient((1.0, 1.0)), [0, 0], atol=1e-12)
    x, y = -1.2, 0.7
    expected = [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
    np.testing.assert_allclose(surface.gradient((x, y)), expected, rtol=1e-12)
    xs, ys, z = surface.grid(81)
    i, j = np.unravel_index(np.argmin(z), z.shape)
    assert abs(xs[j] - 1) < 0.06 and abs(ys[i] - 1) < 0.06


def test_plain_sgd_path_is_w_minus_lr_times_gradient_by_hand():
    lr = 0.001
    path = optimizer_path(rosenbrock(), "sgd", lr, steps=3, start=(-1.5, 2.0))
    w = np.array([-1.5, 2.0])
    expected = [w.copy()]
    for _ in range(3):
        x, y = w
        grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        w = w - lr * grad
        expected.append(w.copy())
    np.testing.assert_allclose(path.points, np.array(expected), rtol=1e-12)
    assert not path.diverged


def test_a_large_learning_rate_diverges_and_the_path_stops():
    path = optimizer_path(rosenbrock(), "sgd", 0.01, steps=100)
    assert path.diverged and len(path.points) < 10 and np.isfinite(path.points).all()


def test_saddle_gradient_vanishes_at_the_saddle_and_paths_escape():
    surface = saddle()
    np.testing.assert_allclose(surface.gradient((0.0, 0.0)), [0, 0], atol=1e-12)
    for path in optimizer_paths(surface, 0.05, steps=300):
        assert path.losses[-1] < -0.9   # into a valley at y = ±√2, loss −1


def test_logistic_surface_is_the_engine_bce_and_its_minimum_has_zero_gradient():
    surface = logistic_surface("gauss", noise=0.5, seed=0, slice_="w_b")
    theta = (1.3, -0.4)
    assert float(surface.loss(torch.tensor(theta, dtype=torch.float64))) == pytest.approx(
        surface.extras["engine_loss"](theta), rel=1e-10)
    np.testing.assert_allclose(surface.gradient(surface.minimum), [0, 0], atol=1e-6)
    s2 = make_surface("logistic_w1_w2", "moons", seed=0)
    assert s2.axis_labels == ("w₁", "w₂") and s2.n_points > 0


def test_mini_batches_make_the_path_noisy_and_the_same_seed_repeats_it():
    surface = logistic_surface("gauss", noise=0.5, seed=0)
    full = optimizer_path(surface, "sgd", 1.0, steps=60)
    noisy = optimizer_path(surface, "sgd", 1.0, steps=60, batch_size=5, seed=3)
    again = optimizer_path(surface, "sgd", 1.0, steps=60, batch_size=5, seed=3)
    np.testing.assert_array_equal(noisy.points, again.points)
    roughness = lambda p: np.abs(np.diff(p.points, n=2, axis=0)).sum()  # how much the direction changes
    assert roughness(noisy) > 3 * roughness(full)


def test_paths_use_the_real_optimisers():
    surface = rosenbrock()
    start = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([start], lr=0.01)
    for _ in range(5):
        opt.zero_grad()
        surface.loss(start).backward()
        opt.step()
    path = optimizer_path(surface, "adam", 0.01, steps=5)
    np.testing.assert_allclose(path.points[-1], start.detach().numpy(), rtol=1e-12)


# ---------------- backprop inspector ----------------
def finite_difference(model, x, labels, weight, row, col, eps=1e-6):
    """An independent central difference of the mean BCE, written out here."""
    def loss():
        with torch.no_grad():
            p = torch.sigmoid(model(x)[:, 0])
            y = labels.double()
            return float(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean())
    with torch.no_grad():
        original = float(weight[row, col])
        weight[row, col] = original + eps
        plus = loss()
        weight[row, col] = original - eps
        minus = loss()
        weight[row, col] = original
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("layer,row,col", [("hidden", 0, 0), ("hidden", 2, 1), ("output", 0, 1)])
def test_chain_rule_equals_autograd_and_finite_differences(activation, layer, row, col):
    config = inspector_config(activation, hidden_width=3, seed=1)
    model = inspector_network(config)
    x, labels = inspector_batch(config, batch_size=8)
    report = inspect_weight(model, x, labels, layer, row, col)
    weight = model.blocks[0].linear.weight if layer == "hidden" else model.output.weight
    oracle = finite_difference(model, x, labels, weight, row, col)
    assert report.chain_rule == pytest.approx(report.autograd, rel=1e-10, abs=1e-14)
    assert report.autograd == pytest.approx(oracle, rel=1e-6, abs=1e-9)
    assert report.finite_difference == pytest.approx(oracle, rel=1e-6, abs=1e-9)
    assert report.factors.shape == (8, 5 if layer == "hidden" else 3)
    assert float(weight.detach()[row, col]) == report.weight_value   # the finite difference put the weight back


def test_chain_rule_factors_match_their_closed_forms():
    config = inspector_config("tanh", hidden_width=3, seed=0)
    model = inspector_network(config)
    x, labels = inspector_batch(config, batch_size=6)
    report = inspect_weight(model, x, labels, "hidden", 1, 0)
    with torch.no_grad():
        z1 = model.blocks[0].linear(x)
        p = torch.sigmoid(model(x)[:, 0]).numpy()
    y = labels.numpy()
    expected = np.stack([(-(y / p) + (1 - y) / (1 - p)) / len(y),       # ∂L/∂ŷ of the mean BCE
                         p * (1 - p),                                    # σ'
                         np.full(len(y), float(model.output.weight.detach()[0, 1])),  # ∂z₂/∂h = W₂
                         1 - np.tanh(z1[:, 1].numpy()) ** 2,             # tanh'
                         x[:, 0].numpy()], axis=1)                       # ∂z₁/∂W₁[1, 0] = x₁
    np.testing.assert_allclose(report.factors, expected, rtol=1e-9, atol=1e-12)


def test_inspector_rejects_a_bad_weight_index():
    config = inspector_config("tanh", hidden_width=2)
    model = inspector_network(config)
    x, labels = inspector_batch(config, 4)
    with pytest.raises(ValueError, match="within"):
        inspect_weight(model, x, labels, "hidden", 5, 0)
    with pytest.raises(ValueError, match="layer"):
        inspect_weight(model, x, labels, "middle", 0, 0)
