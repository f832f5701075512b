"""The energy lab's engine against independent computations: the enumerated distribution against the
module's own energy of every state, the Gibbs conditional against the ratio of two enumerated
probabilities (and a long Gibbs run against the whole enumerated distribution), the free energy against
brute-force marginalisation over the hidden states, the exact log-likelihood of a tiny RBM under CD, the
exact KL of the Boltzmann machine falling, and the deep belief net's greedy pretraining and fine-tuning."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.energy import exact
from engine.energy.boltzmann import BoltzmannTrainer
from engine.energy.config import BoltzmannConfig, DBNConfig, RBMConfig
from engine.energy.data import bars_and_stripes, binary_digits, pattern_set, shifter
from engine.energy.dbn import DBNTrainer, balanced_subset
from engine.energy.models import RBM, BoltzmannMachine, DeepBeliefNet
from engine.energy.rbm import ContrastiveDivergence, RBMTrainer


@pytest.fixture(autouse=True)
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_bm(n_visible: int, n_hidden: int, seed: int, scale: float = 1.0) -> BoltzmannMachine:
    """A machine with large random weights (the default N(0, 0.01²) would make every state nearly alike)."""
    model = BoltzmannMachine(n_visible, n_hidden, init_std=scale, seed=seed)
    with torch.no_grad():
        model.bias.copy_(torch.randn(n_visible + n_hidden, generator=torch.Generator().manual_seed(seed + 1)))
    return model


def random_rbm(n_visible: int, n_hidden: int, seed: int) -> RBM:
    model = RBM(n_visible, n_hidden, init_std=1.0, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        model.visible_bias.copy_(torch.randn(n_visible, generator=g))
        model.hidden_bias.copy_(torch.randn(n_hidden, generator=g))
    return model


# ---------- data ----------
def test_bars_and_stripes_and_the_shifter_are_what_they_say():
    patterns = bars_and_stripes(3, 3)
    assert len(patterns) == 2**3 + 2**3 - 2 and len(np.unique(patterns, axis=0)) == len(patterns)
    grids = patterns.reshape(-1, 3, 3)
    assert all((g == g[:, :1]).all() or (g == g[:1, :]).all() for g in grids)   # rows constant, or columns
    assert len(pattern_set("bars2x4")) == 2**2 + 2**4 - 2
    rows = shifter(4)
    assert rows.shape == (3 * 16, 11)
    for row in rows:
        v1, v2, label = row[:4], row[4:8], row[8:]
        assert label.sum() == 1 and np.array_equal(v2, np.roll(v1, (-1, 0, 1)[int(label.argmax())]))


def test_digits_are_binarised_at_half_the_brightest_ink():
    from engine.core.digits import load_digits_split
    x_train, y_train, x_test, _ = binary_digits(3)
    grey_train, grey_y, _, _ = load_digits_split(3)
    assert set(np.unique(x_train)) == {0.0, 1.0} and np.array_equal(y_train, grey_y)
    assert np.array_equal(x_train, (grey_train * 16 >= 8).astype(np.float32))


# ---------- the Boltzmann machine, exactly ----------
def test_the_enumerated_distribution_is_the_modules_own_energy_normalised():
    model = random_bm(4, 3, seed=2)
    states = exact.all_binary_states(7).float()
    direct = torch.softmax(-model.energy(states).double(), dim=0).numpy()   # the module's E(s) of every state
    joint = exact.bm_joint_distribution(model)
    assert joint.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(joint, direct, atol=1e-6)
    marginal = np.exp(exact.bm_visible_log_marginal(model))
    assert marginal.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(marginal, direct.reshape(16, 8).sum(axis=1), atol=1e-6)   # hidden summed out by hand


def test_the_gibbs_conditional_is_the_ratio_of_enumerated_probabilities():
    model = random_bm(3, 2, seed=5)
    joint = exact.bm_joint_distribution(model)                                  # (32,)
    states = exact.all_binary_states(5)
    for i in range(5):
        on, off = states.clone(), states.clone()
        on[:, i], off[:, i] = 1, 0
        p_on, p_off = joint[exact.state_index(on.numpy())], joint[exact.state_index(off.numpy())]
        expected = p_on / (p_on + p_off)
        got = model.unit_probability(states.float(), i).double().numpy()
        assert np.allclose(got, expected, atol=1e-6), i


def test_gibbs_sweeps_sample_the_enumerated_distribution():
    model = random_bm(2, 2, seed=7, scale=0.8)
    g = torch.Generator().manual_seed(0)
    chains = torch.zeros(20_000, 4)
    for _ in range(20):
        model.gibbs_sweep(chains, range(4), g)
    frequencies = np.bincount(exact.state_index(chains.numpy()), minlength=16) / len(chains)
    assert np.abs(frequencies - exact.bm_joint_distribution(model)).max() < 0.015


def test_the_exact_kl_falls_as_the_machine_learns_bars_and_stripes():
    trainer = BoltzmannTrainer(BoltzmannConfig(), "cpu")   # 9 visible + 4 hidden, seed 0
    start = trainer.snapshot()
    after = trainer.step(300)
    assert start.kl == pytest.approx(exact.kl_divergence(exact.data_distribution(trainer.patterns_np),
                                                         np.log(start.visible_probabilities)))
    assert after.kl < 0.5 * start.kl and after.data_mass > 3 * start.data_mass   # measured: 3.60 → 1.3, 0.03 → 0.3
    assert after.free_energy_data < after.free_energy_other   # valleys dug at the data
    # log p(data) = −KL − H(data): the data are 14 equally likely patterns
    assert after.log_likelihood == pytest.approx(-after.kl - math.log(14), abs=1e-9)
    assert after.weights.shape == (13, 13) and np.allclose(after.weights, after.weights.T)
    assert np.all(np.diag(after.weights) == 0) and after.samples.shape == (16, 9)
    assert set(after.to_json_dict()) >= {"step", "kl"} and "weights" not in after.to_json_dict()


def test_a_hot_change_keeps_the_machine_and_a_structural_one_is_named():
    trainer = BoltzmannTrainer(BoltzmannConfig(max_steps=5), "cpu")
    trainer.step(10)
    assert trainer.step_count == 5 and trainer.finished
    assert trainer.apply(trainer.config.replace(lr=0.1, max_steps=8)) == []
    assert trainer.step(10).step == 8 and trainer.config.lr == 0.1
    assert trainer.apply(trainer.config.replace(hidden=2, data="bars2x4")) == ["data", "hidden"]


# ---------- the RBM ----------
def test_the_free_energy_is_the_hidden_states_summed_out_by_brute_force():
    model = random_rbm(6, 4, seed=3)
    v = exact.all_binary_states(6).float()                      # (64, 6)
    h = exact.all_binary_states(4).float()                      # (16, 4)
    energies = torch.stack([model.energy(v, hh.expand(len(v), 4)) for hh in h], dim=1)   # (64, 16)
    brute = -torch.logsumexp(-energies.double(), dim=1)
    assert torch.allclose(model.free_energy(v).double(), brute, atol=1e-4)
    assert torch.allclose(exact.rbm_free_energies_all(model), brute, atol=1e-4)


# (persistent, learning rate, the least rise of the mean log-likelihood in nats). Persistent CD's chains, ten
# here, wander far from the data and make its estimate noisy: it rises less, and needs the smaller rate.
@pytest.mark.parametrize("persistent, lr, rise", [(False, 0.1, 1.0), (True, 0.05, 0.3)])
def test_the_exact_log_likelihood_of_a_tiny_rbm_rises_under_cd(persistent, lr, rise):
    data = bars_and_stripes(2, 3)                                # 10 patterns of 6 pixels
    model = RBM(6, 4, seed=0)
    config = RBMConfig(hidden=4, lr=lr, batch_size=10, persistent=persistent, momentum=0.5)
    cd = ContrastiveDivergence(model, torch.from_numpy(data), config, torch.Generator().manual_seed(1), seed=2)
    before = exact.rbm_mean_log_likelihood(model, data)         # about log(1/64): every vector alike
    for _ in range(3000):
        cd.step()
    after = exact.rbm_mean_log_likelihood(model, data)
    assert before == pytest.approx(math.log(1 / 64), abs=0.01)
    # measured: −4.16 → −2.88 (CD-1), −3.62 (PCD); the best possible is log(1/10) = −2.30
    assert after > before + rise, (before, after)


def test_after_training_random_images_have_more_free_energy_than_test_digits():
    # The default training: the default config run to its step limit (10,000 steps, about 140 passes).
    trainer = RBMTrainer(RBMConfig(), "cpu")
    start = trainer.snapshot()
    after = trainer.step(RBMConfig().max_steps)
    assert after.finished and trainer.step_count == RBMConfig().max_steps
    assert after.free_energy_random > after.free_energy_test and after.free_energy_gap > start.free_energy_gap + 30
    assert after.recon_error < 0.1 * start.recon_error          # measured: 0.132 → 0.0054, gap 57 → 119
    f_test, f_random = trainer.free_energies()
    assert after.free_energy_gap == pytest.approx(float(f_random.mean() - f_test.mean()), rel=1e-5)
    assert trainer.filters().shape == (64, 8, 8)
    digits, reconstructions = trainer.reconstructions(5)
    assert digits.shape == reconstructions.shape == (5, 64) and ((0 <= reconstructions) & (reconstructions <= 1)).all()


def test_watching_the_dreams_does_not_change_the_training():
    a, b = RBMTrainer(RBMConfig(hidden=16), "cpu"), RBMTrainer(RBMConfig(hidden=16), "cpu")
    a.step(20)
    dreams = a.dream(5)
    assert dreams.shape == (10, 64) and a.dream_steps == 5
    a.step(20)
    b.step(40)
    assert torch.equal(a.model.weight, b.model.weight)


# ---------- the deep belief net ----------
def test_the_pretrained_classifier_starts_as_the_rbms_stacked():
    dbn = DeepBeliefNet([64, 12, 6], seed=1)
    x = torch.rand(5, 64)
    pretrained = dbn.classifier(10, pretrained=True, seed=0)
    assert torch.allclose(pretrained[:4](x), dbn(x), atol=1e-6)
    scratch = dbn.classifier(10, pretrained=False, seed=0)
    assert torch.equal(scratch[-1].weight, pretrained[-1].weight)   # the same head on both
    assert not torch.equal(scratch[0].weight, pretrained[0].weight)


def test_labelled_subsets_are_balanced_and_nested():
    y = np.repeat(np.arange(10), 30)[np.random.default_rng(0).permutation(300)]
    small, large = balanced_subset(y, 50), balanced_subset(y, 100)
    assert np.array_equal(np.bincount(y[small]), [5] * 10) and set(small) <= set(large)
    assert len(balanced_subset(y, 0)) == 300 and len(balanced_subset(y, 10_000)) == 300


def test_greedy_pretraining_lowers_each_layers_reconstruction_error():
    trainer = DBNTrainer(DBNConfig(hidden=[32, 16], pretrain_steps=300, labelled=[50], finetune_steps=1), "cpu")
    first_start = trainer.snapshot().layer_recon_errors[0]
    first_end = trainer.step(300).layer_recon_errors[0]
    snap = trainer.step(1)
    assert snap.phase == "pretrain" and snap.layer == 2
    second_start = trainer.layer_recon_error(1)
    second_end = trainer.step(299).layer_recon_errors[1]
    assert first_end < 0.7 * first_start and second_end < 0.7 * second_start, (first_start, first_end,
                                                                                second_start, second_end)


def test_pretraining_beats_random_initialisation_on_50_labelled_digits():
    # The default network and schedule (two RBMs of 100 and 50, 1,500 CD-1 steps each; 300 Adam steps), seed 0,
    # for the smallest count only. Measured: pretrained 78.3 %, random initialisation 68.5 % of the test digits.
    trainer = DBNTrainer(DBNConfig(labelled=[50]), "cpu")
    snap = trainer.step(trainer.total_steps)
    assert snap.finished and snap.phase == "done" and list(snap.results) == ["50"]
    result = snap.results["50"]
    assert result["pretrained"] > result["random"] + 0.04 and result["pretrained"] > 0.7, result
    assert snap.test_accuracy == result["pretrained"]
