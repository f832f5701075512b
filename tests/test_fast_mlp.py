"""The fused MLP path (engine/mlp/fast_mlp.py) against autograd + torch.optim: the same
gradients, the same training runs within float rounding, and the Trainer falls back to
autograd for what the fused path does not cover."""
from __future__ import annotations

import math

import pytest
import torch

import engine.mlp.fast_probes
from bench.targets import FastLoop
from bench.workload import PlainLoop, tfp_config
from engine import ExperimentConfig, Trainer, build_model, make_dataset, make_features
from engine.core.losses import data_loss
from engine.mlp.fast_mlp import BLOCK_FLOATS, BLOCK_STEPS, FAST_ACTIVATIONS, FastMLP, fast_path_unsupported
from engine.mlp.probes import activation_summary, gradient_norms_by_layer

SMALL = ExperimentConfig.from_dict({"data": {"name": "spiral", "n_samples": 200}, "model": {"hidden": [6, 5]}})
CASES = {  # (task, data, loss): every loss head the fused path has
    "binary_bce": ({"name": "spiral", "n_samples": 200}, "bce", "classify2d"),
    "binary_ce": ({"name": "xor", "n_samples": 200}, "ce", "classify2d"),
    "binary_mse": ({"name": "circle", "n_samples": 200}, "mse", "classify2d"),
    "binary_hinge": ({"name": "moons", "n_samples": 200}, "hinge", "classify2d"),
    "blobs4_ce": ({"name": "blobs", "n_classes": 4, "n_samples": 200}, "ce", "classify2d"),
    "regression_mse": ({"name": "plane", "n_samples": 200, "noise": 0.2}, "mse", "regress2d"),
}


def _config(case: str, **model) -> ExperimentConfig:
    data, loss, task = CASES[case]
    return ExperimentConfig.from_dict({"task": task, "data": data, "model": {"hidden": [5, 4], **model},
                                       "train": {"loss": loss, "batch_size": 7, "seed": 3}})


def _batch(config: ExperimentConfig, n: int = 9):
    ds = make_dataset(config)
    return torch.from_numpy(make_features(ds.train_xy, config.data.features))[:n], torch.from_numpy(ds.train_y)[:n]


@pytest.mark.parametrize("activation", FAST_ACTIVATIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_equal_autograd(case, activation):
    config = _config(case, activation=activation, init="normal")  # std-1 weights: no activation stays near zero
    x, y = _batch(config)
    model = build_model(config)
    fast = FastMLP.from_config(config)
    fast.set_weights([(lin.weight.detach(), lin.bias.detach()) for _, lin in model.named_linears()])
    loss, grads = fast.gradients(x, y)
    reference = data_loss(model(x), y, config.train.loss, config.n_classes)
    reference.backward()
    assert math.isclose(loss, float(reference.detach()), rel_tol=1e-5, abs_tol=1e-7)
    for (gw, gb), (_, lin) in zip(grads, model.named_linears()):
        # a sum over the batch can cancel: the tolerance follows the layer's largest gradient
        atol = 1e-6 * max(1.0, float(lin.weight.grad.abs().max()), float(lin.bias.grad.abs().max()))
        torch.testing.assert_close(gw, lin.weight.grad, rtol=1e-5, atol=atol)
        torch.testing.assert_close(gb, lin.bias.grad, rtol=1e-5, atol=atol)
    assert any(float(g.abs().max()) > 1e-4 for g, _ in grads)  # a real gradient, not zeros on both sides


def _weights(trainer):
    return [p.detach().clone() for p in trainer.model.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("case", ["binary_bce", "binary_mse", "blobs4_ce", "regression_mse"])
def test_training_equals_autograd_trainer(case, optimizer):
    config = _config(case).replace(train={"optimizer": optimizer, "lr": 0.01 if optimizer == "adam" else 0.05})
    fast, slow = Trainer(config, "cpu"), Trainer(config, "cpu", fast=False)
    assert fast.fast_path and not slow.fast_path
    for _ in range(3):  # 3 x 23 steps of 7 out of 100 points: partial batches and epoch ends included
        a, b = fast.step(23), slow.step(23)
        assert (a.step, a.epoch) == (b.step, b.epoch)
        assert math.isclose(a.train_loss, b.train_loss, rel_tol=1e-5, abs_tol=1e-7)
        for name in a.grad_norms:
            assert math.isclose(a.grad_norms[name], b.grad_norms[name], rel_tol=1e-4, abs_tol=1e-7)
    for p, q in zip(_weights(fast), _weights(slow)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # the optimiser state handed back to torch.optim is the one it would hold (float32: a momentum
    # buffer of 1e-3 summed in another order differs by up to 3e-7 on some CPUs' kernels)
    for p, q in zip(fast.model.parameters(), slow.model.parameters()):
        for key, value in slow.optimizer.state[q].items():
            torch.testing.assert_close(fast.optimizer.state[p][key], value, rtol=1e-4, atol=1e-6)


def test_fused_loop_equals_a_hand_written_pytorch_loop():
    """The benchmark's workload: nn.Sequential + autograd + torch.optim.SGD, written by hand."""
    config = tfp_config()
    plain, fast = PlainLoop(config, torch.device("cpu")), FastLoop(config, torch.device("cpu"))
    plain.run_epochs(4)
    fast.run_epochs(4)
    for p, q in zip(plain.model.parameters(), fast.weights()):
        torch.testing.assert_close(p.detach(), q, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(p.detach(), q.detach()) for p, q in
               zip(plain.model.parameters(), PlainLoop(config, torch.device("cpu")).model.parameters()))


def test_chunks_add_up_bit_for_bit():
    config = SMALL.replace(train={"batch_size": 7, "optimizer": "momentum"})
    one, two = Trainer(config, "cpu"), Trainer(config, "cpu")
    one.step(80)
    for n in (1, 37, 13, 29):
        two.step(n)
    assert all(torch.equal(p, q) for p, q in zip(_weights(one), _weights(two)))
    assert one.snapshot().grad_norms == two.snapshot().grad_norms


def test_blocks_run_on_across_epoch_ends_as_autograd_does():
    """100 training points in batches of 10: every batch is full, so a block runs on into
    the next epoch; steps, epochs, shuffles and weights stay those of the autograd path,
    and run_epochs and the epoch limit still stop on an epoch's end."""
    config = SMALL.replace(train={"batch_size": 10, "optimizer": "momentum"})
    fast, slow = Trainer(config, "cpu"), Trainer(config, "cpu", fast=False)
    for n in (23, 71, 9):
        a, b = fast.step(n), slow.step(n)
        assert (a.step, a.epoch, fast._position) == (b.step, b.epoch, slow._position)
        assert torch.equal(fast._order, slow._order)
    a, b = fast.run_epochs(2), slow.run_epochs(2)
    assert (a.step, a.epoch, fast._position) == (b.step, b.epoch, slow._position) == (120, 12, 0)
    for p, q in zip(_weights(fast), _weights(slow)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    limited = Trainer(config.replace(train={"max_epochs": 3}), "cpu")
    assert limited.step(1000).step == 30 and limited.epoch == 3 and limited.finished
    one, two = Trainer(config, "cpu"), Trainer(config, "cpu")
    one.step(95)
    for n in (7, 64, 24):
        two.step(n)
    assert all(torch.equal(p, q) for p, q in zip(_weights(one), _weights(two)))


def test_a_block_stays_within_its_memory_bound():
    small = FastMLP([2, 4, 2, 1], ["tanh", "tanh"], 2, "bce", "sgd", 0.03)
    assert small.block_steps(10) == BLOCK_STEPS
    wide = FastMLP([2] + [128] * 40 + [1], ["relu"] * 40, 2, "bce", "sgd", 0.03)
    assert wide.block_steps(4096) == 1 and 1 < wide.block_steps(8) < BLOCK_STEPS
    k = wide.block_steps(8)
    wide.bind(torch.randn(8 * k, 2), torch.randint(0, 2, (8 * k,)))
    result = wide.train_block(torch.arange(8 * k), k, 8, record=True)
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in wide._blocks[(k, 8, True)].values() if isinstance(t, torch.Tensor)}
    assert sum(storages.values()) <= 4 * BLOCK_FLOATS and result.activation_stats.shape == (k, 40, 3)
    # no (parameters x layers) or (batch x width x depth) product matrices for a network this size
    assert getattr(wide, "_selector", None) is None and wide._blocks[(k, 8, True)]["layer_means"] is None
    assert result.grad_norms.shape == (k, 41) and bool(torch.isfinite(result.grad_norms).all())


@pytest.mark.parametrize("by_layer", [False, True], ids=["all-layers-at-once", "layer-by-layer"])
@pytest.mark.parametrize("activations", [["relu", "sigmoid", "elu"], ["tanh", "linear", "softplus"],
                                         ["leaky_relu", "gelu", "relu"]])
def test_activation_statistics_of_every_step_and_layer(activations, by_layer, monkeypatch):
    """Mixed activations (each with its own saturation bounds, or none), several steps of a
    block: each step's statistics are probes.activation_summary of that step's batch; the
    same whether the layers are reduced at once or (a large network) one by one."""
    if by_layer:
        monkeypatch.setattr(engine.mlp.fast_probes, "PRODUCT_FLOATS", 0)
    config = SMALL.replace(model={"hidden": [5, 4, 3], "activation": activations}, train={"batch_size": 6})
    f = FastMLP.from_config(config)
    model = build_model(config)
    f.set_weights([(lin.weight.detach(), lin.bias.detach()) for _, lin in model.named_linears()])
    t = Trainer(config, "cpu", fast=False)
    f.bind(t.x_train, t.y_train)
    idx = torch.randperm(len(t.x_train))[:4 * 6]
    with torch.no_grad():  # the block updates the weights after each step: step s sees weights after s updates
        weights = []
        probe = FastMLP.from_config(config)
        probe.set_weights(f.weights())
        probe.bind(t.x_train, t.y_train)
        for s in range(4):
            weights.append(probe.weights())
            probe.train_block(idx[6 * s:6 * s + 6], 1, 6)
    result = f.train_block(idx, 4, 6, record=True)
    assert result.activation_stats.shape == (4, 3, 3)
    for s in range(4):
        for lin, (w, b) in zip((lin for _, lin in model.named_linears()), weights[s]):
            lin.weight.data.copy_(w)
            lin.bias.data.copy_(b)
        h = t.x_train[idx[6 * s:6 * s + 6]]
        for i, block in enumerate(model.blocks):
            h = block(h).detach()
            want = activation_summary(h, activations[i])
            got = result.activation_stats[s, i].tolist()
            assert got == pytest.approx([want["mean"], want["std"], want["saturated"]], rel=1e-5, abs=1e-6)
    norms = result.grad_norms
    monkeypatch.setattr(engine.mlp.fast_probes, "PRODUCT_FLOATS", 1 << 20 if by_layer else 0)
    torch.testing.assert_close(f.grad_norms(f._blocks[(4, 6, True)]["grads"], f._last_grad_scale), norms)


def test_per_step_probes_equal_autograd():
    config = SMALL.replace(train={"batch_size": 10})
    fast, slow = Trainer(config, "cpu"), Trainer(config, "cpu", fast=False)
    fast.record_grad_norms = slow.record_grad_norms = True
    fast.step(30), slow.step(30)
    a, b = fast.grad_norm_steps(), slow.grad_norm_steps()
    assert a.shape == b.shape == (30, 3)
    assert abs(a - b).max() < 1e-5 * abs(b).max()

    # activation statistics of every step's batch, against probes.activation_summary
    f = FastMLP.from_config(config)
    model = build_model(config)
    f.set_weights([(lin.weight.detach(), lin.bias.detach()) for _, lin in model.named_linears()])
    t = Trainer(config, "cpu", fast=False)
    f.bind(t.x_train, t.y_train)
    idx = torch.arange(20)
    result = f.train_block(idx, 1, 20, record=True)
    assert result.activation_stats.shape == (1, 2, 3) and result.grad_norms.shape == (1, 3)
    x = t.x_train[idx]
    h = x
    for i, block in enumerate(model.blocks):
        h = block(h)
        want = activation_summary(h.detach(), "tanh")
        got = result.activation_stats[0, i].tolist()
        assert got == pytest.approx([want["mean"], want["std"], want["saturated"]], rel=1e-5, abs=1e-6)
    model.zero_grad()
    data_loss(model(x), t.y_train[idx], "bce", 2).backward()
    torch.testing.assert_close(result.grad_norms[0], gradient_norms_by_layer(model), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("change, reason", [
    ({"model": {"dropout": 0.1}}, "dropout"),
    ({"model": {"norm": "batch"}}, "batch norm"),
    ({"model": {"norm": "layer"}}, "layer norm"),
    ({"model": {"residual": True, "hidden": [6, 6]}}, "skip connections"),
    ({"train": {"optimizer": "rmsprop"}}, "optimizer rmsprop"),
    ({"train": {"l2": 0.01}}, "weight penalties"),
    ({"train": {"clip_grad_norm": 1.0}}, "gradient clipping"),
    ({"data": {"name": "blobs"}, "train": {"loss": "mse"}}, "loss mse with 3 classes"),
])
def test_what_the_fused_path_leaves_to_autograd(change, reason):
    config = SMALL.replace(**change)
    assert fast_path_unsupported(config) == reason
    t = Trainer(config, "cpu")
    assert not t.fast_path
    assert math.isfinite(t.step(5).train_loss)
    with pytest.raises(ValueError, match="no fast path"):
        FastMLP.from_config(config)


def test_residual_without_matching_widths_is_a_plain_mlp():
    config = SMALL.replace(model={"residual": True, "hidden": [6, 5]})  # 2 -> 6 -> 5: no skip fits
    assert fast_path_unsupported(config) is None


def test_hot_changes_move_between_paths_and_keep_progress():
    t, reference = Trainer(SMALL, "cpu"), Trainer(SMALL, "cpu", fast=False)
    for trainer in (t, reference):
        trainer.step(12)
        trainer.apply(SMALL.replace(train={"l2": 0.01}))   # autograd from here
        trainer.step(12)
        trainer.apply(SMALL.replace(train={"momentum": 0.5}))  # fused again, now with momentum
        trainer.step(12)
    assert t.fast_path and t.step_count == 36
    for p, q in zip(_weights(t), _weights(reference)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_divergence_on_the_fused_path_restores_the_chunk_start():
    config = ExperimentConfig.from_dict({"task": "regress2d", "data": {"name": "plane", "n_samples": 200},
                                         "model": {"hidden": [8, 8], "activation": "relu", "init": "normal"},
                                         "train": {"loss": "mse", "lr": 10.0}})
    t = Trainer(config, "cpu")
    assert t.fast_path
    before = _weights(t)
    snap = t.step(40)
    assert snap.diverged and snap.step == 0
    assert all(torch.equal(p, q) for p, q in zip(before, _weights(t)))
