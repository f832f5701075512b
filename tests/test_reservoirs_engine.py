"""The reservoirs' engine against independent computations: the ridge read-out against scikit-learn's
Ridge, the reservoir's spectral radius against numpy.linalg.eigvals, the reservoir update against a plain
NumPy loop of its equation, the echo-state property, Mackey–Glass against a fine Euler integration of the
delay equation, the LIF neuron against its closed-form membrane solution and spike time, Dale's law in
the liquid's weights, the Poisson encoding's rates, and the tasks' measured accuracies and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from engine.reservoirs import ELMConfig, ELMTrainer, ESNConfig, ESNTrainer, LSMConfig, LSMTrainer
from engine.reservoirs.data import mackey_glass, mackey_glass_rate, spike_trains
from engine.reservoirs.lsm import lif_step
from engine.reservoirs.ridge import RidgeAccumulator, fit_ridge


@pytest.fixture(autouse=True)
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sklearn_readout(features: np.ndarray, targets: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    model = Ridge(alpha=ridge, fit_intercept=True, solver="cholesky").fit(features, targets)
    return model.coef_, model.intercept_


# ---------- the read-out ----------
@pytest.mark.parametrize("hidden", [50, 600])   # fewer units than training points (primal), more (dual)
def test_the_elm_readout_is_scikit_learns_ridge_on_the_same_random_features(hidden):
    config = ELMConfig.from_dict({"model": {"hidden": hidden, "ridge": 1e-3}, "data": {"n_samples": 300}})
    trainer = ELMTrainer(config, "cpu")
    features = trainer.hidden_features()                                   # (150, hidden)
    targets = np.eye(trainer.n_classes)[trainer.dataset.train_y]
    coef, intercept = sklearn_readout(features, targets, 1e-3)
    np.testing.assert_allclose(trainer.model.readout[:, :hidden].numpy(), coef, atol=1e-6, rtol=0)
    np.testing.assert_allclose(trainer.model.readout_bias.numpy(), intercept, atol=1e-6, rtol=0)
    # The module predicts what the read-out says, and holds no trainable parameter.
    assert not list(trainer.model.parameters())
    scores = features @ coef.T + intercept
    assert trainer.snapshot().train_accuracy == pytest.approx(float((scores.argmax(1) == trainer.dataset.train_y).mean()))


def test_running_sums_in_chunks_give_the_read_out_of_all_the_data_at_once():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(500, 30, generator=gen, dtype=torch.float64) + 2.0
    y = torch.randn(500, 3, generator=gen, dtype=torch.float64)
    acc = RidgeAccumulator(30, 3, torch.float64, torch.device("cpu"))
    for lo in range(0, 500, 70):
        acc.add(h[lo:lo + 70], y[lo:lo + 70])
    w, b = acc.fit(0.5)
    coef, intercept = sklearn_readout(h.numpy(), y.numpy(), 0.5)
    np.testing.assert_allclose(w.numpy(), coef, atol=1e-9)
    np.testing.assert_allclose(b.numpy(), intercept, atol=1e-9)
    w2, b2 = fit_ridge(h, y, 0.5)
    np.testing.assert_allclose(w2.numpy(), coef, atol=1e-9)


def test_the_elm_sweep_underfits_then_overfits_and_ridge_brings_it_back():
    trainer = ELMTrainer(ELMConfig(), "cpu")
    snap = trainer.step(100)
    assert snap.finished and snap.step == len(ELMConfig().train.sweep) and snap.sweep_widths == ELMConfig().train.sweep
    test = dict(zip(snap.sweep_widths, snap.sweep_test_accuracy))
    train = dict(zip(snap.sweep_widths, snap.sweep_train_accuracy))
    assert test[2] < 0.7 and test[100] > 0.95               # too few units underfit; enough fit
    assert train[1000] >= 0.99 and test[1000] < test[100] - 0.1   # 1,000 units on 200 points fit the noise
    regularised = ELMTrainer(ELMConfig.from_dict({"model": {"ridge": 1e-3}}), "cpu").step(100)
    assert regularised.sweep_test_accuracy[-1] > test[1000] + 0.1


# ---------- the echo state network ----------
@pytest.mark.parametrize("radius", [0.9, 1.5])
def test_the_reservoir_has_the_spectral_radius_asked_for(radius):
    trainer = ESNTrainer(ESNConfig.from_dict({"model": {"spectral_radius": radius, "size": 120}}), "cpu")
    eigenvalues = np.linalg.eigvals(trainer.model.weights.numpy())
    assert np.abs(eigenvalues).max() == pytest.approx(radius, abs=1e-6)
    assert np.mean(trainer.model.weights.numpy() != 0) == pytest.approx(0.1, abs=0.02)


def test_the_reservoir_update_is_the_leaky_tanh_equation():
    trainer = ESNTrainer(ESNConfig.from_dict({"model": {"size": 30}}), "cpu")
    m = trainer.model
    w_in, w, a = m.input_weights.numpy(), m.weights.numpy(), m.leak_rate
    u = trainer.series[:50]
    x, expected = np.zeros(30), []
    for value in u:
        x = (1 - a) * x + a * np.tanh(w_in[:, 0] + w_in[:, 1] * value + w @ x)
        expected.append(x)
    states = m.drive(torch.from_numpy(u)[:, None, None])[:, 0].numpy()
    np.testing.assert_allclose(states, np.array(expected), atol=1e-12)


def test_the_default_esn_predicts_mackey_glass_one_step_ahead_and_refits_as_data_arrives():
    trainer = ESNTrainer(ESNConfig(), "cpu")
    first = trainer.step(1)
    while not trainer.finished:
        snap = trainer.step(1)
    assert snap.samples_seen == 2000 and first.samples_seen == 150   # the washout's 100 states are dropped
    assert snap.test_nrmse < 0.05 and snap.test_nrmse < first.test_nrmse
    assert snap.free_run_nrmse < 0.5
    # The read-out on the kept states is scikit-learn's Ridge on them.
    states = torch.cat(trainer.train_states).numpy()
    coef, intercept = sklearn_readout(states, torch.cat(trainer.train_targets).numpy(), 1e-6)
    prediction = trainer.test_states.numpy() @ coef.T + intercept
    nrmse = np.sqrt(np.mean((prediction.ravel() - trainer.test_truth) ** 2)) / trainer.test_truth.std()
    assert snap.test_nrmse == pytest.approx(nrmse, rel=1e-4)


def test_the_echo_state_property_holds_below_radius_one_and_fails_well_above():
    distances = ESNTrainer(ESNConfig(), "cpu").echo_state_distances(1000)
    assert distances[0] > 1 and distances[-1] < 1e-6
    wild = ESNTrainer(ESNConfig.from_dict({"model": {"spectral_radius": 3.0, "leak_rate": 1.0}}), "cpu")
    assert wild.echo_state_distances(1000)[-100:].min() > 1.0


def test_mackey_glass_matches_a_fine_euler_integration_of_the_delay_equation():
    series = mackey_glass(40, transient=0)                       # x(0..39), one sample per time unit
    h, lag = 0.001, 17_000
    x = np.empty(40_001)
    x[0] = 1.2
    for i in range(40_000):
        delayed = x[i - lag] if i >= lag else 1.2
        x[i + 1] = x[i] + h * (0.2 * delayed / (1 + delayed ** 10) - 0.1 * x[i])
    np.testing.assert_allclose(series, x[:-1:1000], atol=2e-3)
    assert mackey_glass_rate(1.0, 1.0) == pytest.approx(0.2 / 2 - 0.1)


# ---------- the liquid ----------
def test_a_lif_neuron_follows_the_closed_form_below_threshold_and_spikes_when_predicted():
    tau, dt, theta = 20.0, 1.0, 1.0
    decay = math.exp(-dt / tau)
    v, refractory = torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    for k in range(1, 101):                                       # I = 0.8 < θ: v(t) = I (1 − e^{−t/τ})
        v, refractory, s = lif_step(v, refractory, 0.8, 0.0, decay, theta, 0.0, 2)
        assert float(v) == pytest.approx(0.8 * (1 - math.exp(-k * dt / tau)), abs=1e-12) and not s.any()
    current = 1.5                                                 # above θ: first spike at t* = τ ln(I/(I − θ))
    first = math.ceil(tau * math.log(current / (current - theta)) / dt)
    v, refractory, spikes = torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64), []
    for k in range(1, 60):
        v, refractory, s = lif_step(v, refractory, current, 0.0, decay, theta, 0.0, 2)
        if s.any():
            spikes.append(k)
    assert first == 22 and spikes[:2] == [first, first + 2 + first]   # reset, held 2 steps, then the same climb


def test_the_liquid_keeps_dales_law_and_poisson_spikes_come_at_the_pixel_rate():
    trainer = LSMTrainer(LSMConfig.from_dict({"model": {"size": 50}, "train": {"samples_per_step": 10}}), "cpu")
    w = trainer.model.weights.numpy()
    assert (w[:, :trainer.n_excitatory] >= 0).all() and (w[:, trainer.n_excitatory:] <= 0).all()
    assert trainer.n_excitatory == 40 and (np.diag(w) == 0).all()
    images = np.full((200, 64), 0.25, dtype=np.float32)
    spikes = spike_trains(images, 10, "poisson", 0.8, torch.Generator().manual_seed(0))
    assert spikes.shape == (200, 80, 8) and float(spikes.mean()) == pytest.approx(0.2, abs=0.01)
    assert float(spike_trains(images, 10, "threshold", 1.0).sum()) == 0


def test_the_lsm_reads_the_digit_rows_far_above_chance_and_the_esn_beside_it():
    lsm = LSMTrainer(LSMConfig.from_dict({"data": {"encoding": "threshold"}, "train": {"samples_per_step": 2000}}),
                     "cpu")
    snap = lsm.step(1)
    assert snap.finished and snap.test_accuracy > 0.8 and 20 < snap.rate_hz < 500   # chance is 10 %
    raster = lsm.raster(0)
    assert raster["spikes"].shape == (80, 300) and raster["input"].shape == (80, 8) and raster["spikes"].any()
    scores = lsm.model(lsm.test_spikes[:5]).numpy()                 # the module gives the read-out's scores
    np.testing.assert_allclose(scores, np.stack([lsm.predict(i) for i in range(5)]), atol=1e-9)
    esn = ESNTrainer(ESNConfig.from_dict({"data": {"signal": "digits"}, "train": {"samples_per_step": 2000}}), "cpu")
    assert esn.step(1).test_accuracy > 0.9
