"""The ntm task's engine (engine/ntm/): each addressing stage against a hand computation (cosine softmax,
circular shift as numpy.roll sums, sharpening, read as w @ M, erase and add against a loop), weightings
that sum to 1, gradients that reach the controller through the memory, the copy task's layout, the LSTM
of matched size, configs that name the field, the same seed giving the same run, checkpoints that resume
bit for bit and refuse what is not one, divergence that keeps the last finite weights, and a training run
that copies with under 1 % wrong bits and beats the LSTM on longer sequences."""
from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest
import torch

from engine.core.config import ConfigError
from engine.ntm import NTMConfig, NTMTrainer
from engine.ntm.checkpoint import FORMAT
from engine.ntm.config import structural_changes
from engine.ntm.copy_task import bit_error, copy_batch, random_length
from engine.ntm.model import (NTM, LSTMBaseline, address, content_weights, head_parameters, interpolate,
                              lstm_parameter_count, matched_lstm_hidden, ntm_parameter_count, read, sharpen, shift,
                              write)


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """As the app and the CLI run: on a busy 2-core machine two threads fight over the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**kw) -> NTMConfig:
    return NTMConfig.build(**{"bits": 3, "max_length": 3, "controller": 8, "memory_slots": 6, "memory_width": 4,
                              "batch_size": 4, "max_steps": 0, **kw})


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------- addressing, one stage at a time ----------
def test_content_weights_are_a_softmax_of_beta_times_cosine_similarity():
    rng = _rng()
    memory, key = rng.normal(size=(5, 3)).repeat(2, 0).reshape(5, 2, 3).transpose(1, 0, 2), rng.normal(size=3)
    key, beta = np.stack([key, key]), np.array([[0.5], [4.0]])   # the same lookup, weak and strong
    got = content_weights(torch.tensor(memory), torch.tensor(key), torch.tensor(beta)).numpy()
    for b in range(2):
        cosine = [memory[b, i] @ key[b] / (np.linalg.norm(memory[b, i]) * np.linalg.norm(key[b])) for i in range(5)]
        e = np.exp(beta[b, 0] * np.array(cosine))
        np.testing.assert_allclose(got[b], e / e.sum(), rtol=1e-7)  # the ε guarding a zero norm
    # the row most like the key wins, and a larger β makes the choice sharper
    assert got[1].max() > got[0].max() and got[1].argmax() == got[0].argmax()


def test_interpolation_gate_chooses_between_content_and_the_last_weighting():
    w_c, w_prev = torch.tensor([[0.7, 0.2, 0.1]]), torch.tensor([[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(interpolate(w_c, w_prev, torch.tensor([[1.0]])), w_c)
    np.testing.assert_allclose(interpolate(w_c, w_prev, torch.tensor([[0.0]])), w_prev)
    np.testing.assert_allclose(interpolate(w_c, w_prev, torch.tensor([[0.25]])), [[0.175, 0.05, 0.775]])


def test_circular_shift_is_the_sum_of_rolled_weightings():
    rng = _rng(1)
    w = rng.dirichlet(np.ones(7), size=3)
    s = rng.dirichlet(np.ones(3), size=3)           # weights of moving by −1, 0, +1
    got = shift(torch.tensor(w), torch.tensor(s)).numpy()
    want = np.stack([sum(s[b, k + 1] * np.roll(w[b], k) for k in (-1, 0, 1)) for b in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    one_hot = torch.zeros(1, 7, dtype=torch.float64)
    one_hot[0, 6] = 1.0                               # the last slot moved by +1 wraps round to slot 0
    assert shift(one_hot, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))[0].argmax() == 0


def test_sharpening_raises_to_gamma_and_normalises():
    w = torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64)
    got = sharpen(w, torch.tensor([[3.0]], dtype=torch.float64)).numpy()[0]
    np.testing.assert_allclose(got, np.array([0.125, 0.027, 0.008]) / 0.16, rtol=1e-6)
    np.testing.assert_allclose(sharpen(w, torch.tensor([[1.0]], dtype=torch.float64)).numpy(), w.numpy(), rtol=1e-6)


def test_read_is_the_weighted_sum_of_rows_and_write_erases_then_adds_row_by_row():
    rng = _rng(2)
    memory, w = rng.normal(size=(2, 4, 3)), rng.dirichlet(np.ones(4), size=2)
    erase, add = rng.uniform(size=(2, 3)), rng.normal(size=(2, 3))
    np.testing.assert_allclose(read(torch.tensor(memory), torch.tensor(w)).numpy(),
                               np.einsum("bn,bnm->bm", w, memory), rtol=1e-12)
    want = memory.copy()
    for b in range(2):
        for i in range(4):
            for j in range(3):
                want[b, i, j] = memory[b, i, j] * (1 - w[b, i] * erase[b, j]) + w[b, i] * add[b, j]
    got = write(torch.tensor(memory), torch.tensor(w), torch.tensor(erase), torch.tensor(add)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # a full weight with a full erase replaces the row by the add vector; untouched rows stay
    w1 = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    out = write(torch.tensor(memory[:1]), w1, torch.ones(1, 3, dtype=torch.float64), torch.tensor(add[:1]))
    np.testing.assert_allclose(out[0, 1], add[0])
    np.testing.assert_allclose(out[0, [0, 2, 3]], memory[0, [0, 2, 3]])


def test_every_weighting_the_heads_make_sums_to_one():
    gen = torch.Generator().manual_seed(0)
    raw = torch.randn(5, 4 + 6, generator=gen) * 3
    p = head_parameters(raw, 4)
    memory = torch.randn(5, 9, 4, generator=gen)
    w = address(memory, torch.softmax(torch.randn(5, 9, generator=gen), 1), p["key"], p["beta"], p["gate"],
                p["shift"], p["gamma"])
    assert bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(5), atol=1e-5)
    assert bool((p["beta"] > 0).all() and (p["gamma"] >= 1).all() and ((p["gate"] > 0) & (p["gate"] < 1)).all())
    _, trace = NTM(3, 8, 6, 4, torch.Generator().manual_seed(1))(copy_batch(2, 3, 3, gen).inputs, trace=True)
    for weights in (trace.read_weights, trace.write_weights):
        assert weights.shape == (7, 6)
        np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    assert trace.memory.shape == (7, 6, 4)


def test_the_gradient_reaches_the_controller_through_the_memory():
    """Output steps read only the memory and the controller state: the loss of the answer steps must
    move the controller's input weights, including those fed by the read vector."""
    model = NTM(3, 8, 6, 4, torch.Generator().manual_seed(0))
    batch = copy_batch(4, 3, 3, torch.Generator().manual_seed(1))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch.inputs)[:, 4:], batch.targets)
    loss.backward()
    weight_ih = model.controller.weight_ih.grad                          # (4C, bits + 1 + M)
    assert float(weight_ih[:, :4].abs().sum()) > 0                       # from the input bits and the delimiter
    assert float(weight_ih[:, 4:].abs().sum()) > 0                       # from the read vector
    assert float(model.heads.weight.grad[4 + 6:].abs().sum()) > 0        # the write head: what was written mattered
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# ---------- the copy task and the models' sizes ----------
def test_a_copy_batch_is_the_sequence_a_delimiter_and_blanks():
    batch = copy_batch(5, 4, 3, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (5, 9, 4) and batch.targets.shape == (5, 4, 3) and batch.steps == 9
    torch.testing.assert_close(batch.inputs[:, :4, :3], batch.targets)
    assert bool((batch.inputs[:, :4, 3] == 0).all()) and bool((batch.inputs[:, 4] == torch.tensor([0, 0, 0, 1.])).all())
    assert bool((batch.inputs[:, 5:] == 0).all())
    again = copy_batch(5, 4, 3, torch.Generator().manual_seed(0))
    assert torch.equal(batch.inputs, again.inputs)
    lengths = {random_length(2, 5, torch.Generator().manual_seed(s)) for s in range(60)}
    assert lengths == {2, 3, 4, 5}
    assert bit_error(torch.tensor([[0.9, 0.4], [0.6, 0.1]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])) == 0.25


def test_parameter_counts_match_the_modules_and_the_lstm_is_matched_to_the_ntm():
    gen = torch.Generator().manual_seed(0)
    assert sum(p.numel() for p in NTM(6, 32, 32, 12, gen).parameters()) == ntm_parameter_count(6, 32, 12)
    assert sum(p.numel() for p in LSTMBaseline(6, 43, gen).parameters()) == lstm_parameter_count(6, 43)
    trainer = NTMTrainer(NTMConfig(), "cpu")
    assert trainer.lstm_hidden == matched_lstm_hidden(6, 16, 12) == 25
    ratio = trainer.param_count("lstm") / trainer.param_count("ntm")
    assert 0.95 < ratio < 1.05, (trainer.param_count("lstm"), trainer.param_count("ntm"))
    assert NTMTrainer(tiny(lstm_hidden=5), "cpu").param_count("lstm") == lstm_parameter_count(3, 5)


# ---------- configs ----------
def test_config_round_trips_and_refuses_bad_values_naming_the_field():
    config = tiny(lr=0.01, seed=3)
    assert NTMConfig.from_json(config.to_json()) == config
    assert NTMConfig.from_dict({"task": "ntm", "data": {"bits": 4.0}}).data.bits == 4
    for settings, field in [({"bits": 0}, "data.bits"), ({"min_length": 5, "max_length": 3}, "data.max_length"),
                            ({"max_length": 20, "memory_slots": 10}, "model.memory_slots"),
                            ({"lr": math.nan}, "train.lr"), ({"batch_size": True}, "train.batch_size"),
                            ({"optimizer": "nope"}, "train.optimizer"), ({"colour": 1}, "colour")]:
        with pytest.raises(ConfigError) as e:
            NTMConfig.build(**settings)
        assert e.value.field == field, (settings, str(e.value))
    with pytest.raises(ConfigError, match="put 'lr' in the 'train' section"):
        NTMConfig.from_dict({"lr": 0.1})
    assert structural_changes(config, config.replace(lr=0.1, clip=1.0, max_steps=5)) == []
    assert structural_changes(config, config.replace(bits=4)) == ["data.bits"]


# ---------- runs ----------
def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    a, b, c = (NTMTrainer(tiny(seed=s), "cpu") for s in (4, 4, 5))
    assert a.step(5) == b.step(5)
    assert a.step(1).loss != c.step(6).loss
    assert [p.tolist() for p in a.ntm.parameters()] == [p.tolist() for p in b.step(1) and b.ntm.parameters()]


def test_a_checkpoint_resumes_bit_for_bit_and_a_bad_file_is_refused():
    straight = NTMTrainer(tiny(), "cpu")
    straight.step(3)
    saved = straight.checkpoint_bytes()
    resumed = NTMTrainer.from_checkpoint(saved, "cpu")
    assert resumed.step_count == 3 and resumed.history == straight.history
    assert straight.step(4) == resumed.step(4)
    assert all(torch.equal(p, q) for p, q in zip(straight.ntm.parameters(), resumed.ntm.parameters()))
    assert straight.example().ntm_output.tolist() == resumed.example().ntm_output.tolist()
    blob = torch.load(io.BytesIO(saved), weights_only=True)
    assert blob["format"] == FORMAT
    blob["history"] = [{"step": "x"}]
    buf = io.BytesIO()
    torch.save(blob, buf)
    with pytest.raises(ValueError, match="history"):
        NTMTrainer.from_checkpoint(buf.getvalue(), "cpu")
    with pytest.raises(ValueError):
        NTMTrainer.from_checkpoint(pickle.dumps({"format": FORMAT}, protocol=2), "cpu")


def test_a_non_finite_loss_pauses_with_the_last_finite_weights_and_a_new_lr_resumes():
    trainer = NTMTrainer(tiny(lr=0.01), "cpu")
    trainer.step(2)
    before = [p.clone() for p in trainer.ntm.parameters()]
    with torch.no_grad():
        trainer.lstm.output.bias.fill_(math.nan)   # the next loss is NaN
    snap = trainer.step(3)
    assert snap.diverged and trainer.step_count == 2
    assert all(torch.equal(p, q) for p, q in zip(before, trainer.ntm.parameters()))
    assert trainer.apply(trainer.config.replace(lr=0.001)) == [] and not trainer.diverged
    assert trainer.apply(trainer.config.replace(bits=4)) == ["data.bits"]


def test_the_example_and_try_longer_have_their_shapes_and_fixed_sequences():
    trainer = NTMTrainer(tiny(), "cpu")
    ex = trainer.example()
    assert ex.inputs.shape == (7, 4) and ex.target.shape == (3, 3) and ex.ntm_output.shape == (3, 3)
    assert ex.lstm_output.shape == (3, 3) and ex.read_weights.shape == (7, 6) and ex.memory.shape == (7, 6, 4)
    assert ((ex.ntm_output > 0) & (ex.ntm_output < 1)).all()
    np.testing.assert_array_equal(ex.inputs[:3, :3], ex.target)
    test = trainer.try_longer()
    assert test.lengths == list(range(1, 10)) and len(test.ntm_bit_error) == len(test.lstm_bit_error) == 9
    assert trainer.try_longer([9]).ntm_bit_error == test.ntm_bit_error[-1:]   # the same sequences each time
    with pytest.raises(ValueError):
        trainer.try_longer([0])


def test_the_default_ntm_learns_to_copy_in_400_steps_and_copies_longer_ones_than_the_lstm():
    """The default lab (seed 0): 400 steps (about 6 s on one thread) take the NTM from a coin toss to
    under 1 % wrong bits at the training lengths 1..8, while the LSTM of as many parameters still gets
    over a fifth wrong; at twice the longest trained length the NTM is far ahead."""
    trainer = NTMTrainer(NTMConfig.build(max_steps=0), "cpu")
    start = trainer.snapshot()
    assert 0.4 < start.bit_error < 0.6 and 0.4 < start.lstm_bit_error < 0.6
    snap = trainer.step(400)
    assert snap.bit_error < 0.01 and snap.lstm_bit_error > 0.2, snap
    longer = trainer.try_longer([16])
    assert longer.ntm_bit_error[0] < 0.5 * longer.lstm_bit_error[0], longer
    assert [p["step"] for p in trainer.history] == [0, 400]
