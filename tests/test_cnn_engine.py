"""The cnn task's engine (engine/cnn/): the default network reads the digits and the digits moved by a
pixel, the dense network of as many parameters does not; the output-size formula against PyTorch's
own layers; receptive fields against the gradient of a cell with respect to the input; saliency
against finite differences; configs that name the field and the sizes; checkpoints that resume bit
for bit and refuse what is not one; divergence that keeps the last finite weights."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from engine.cnn import PRESETS, CNNConfig, CNNTrainer, preset
from engine.cnn.checkpoint import FORMAT
from engine.cnn.config import HOT_FIELDS, parameter_count, structural_changes
from engine.cnn.geometry import conv_output_size
from engine.cnn.inspection import SHIFT_DIRECTIONS, shift_images
from engine.core.config import ConfigError


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """As the app and the CLI run: on a busy 2-core machine two threads fight over the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained():
    """The default config, trained to its step limit (300 steps)."""
    trainer = CNNTrainer(CNNConfig(), "cpu")
    trainer.step(10**6)
    return trainer


def tiny(**kw) -> CNNConfig:
    return CNNConfig.build(**{"channels": [4, 8], "padding": 1, "max_steps": 0, **kw})


# ---------- what the lab teaches ----------
def test_the_default_cnn_reads_the_digits_and_the_moved_digits_and_the_mlp_does_not(trained):
    snap = trained.snapshot()
    assert snap.finished and snap.step == CNNConfig().train.max_steps == 300 and not snap.diverged
    assert snap.test_accuracy >= 0.97, snap
    cnn_loss = snap.test_accuracy - snap.shifted_test_accuracy
    assert cnn_loss <= 0.05, snap
    dense = CNNTrainer(preset("mlp"), "cpu").step(10**6)            # same split, seed and training
    lenet = CNNTrainer(preset("lenet"), "cpu").step(10**6)
    assert dense.test_accuracy > 0.9 and lenet.test_accuracy > 0.9   # both read unmoved digits
    assert dense.test_accuracy - dense.shifted_test_accuracy > 0.3 > cnn_loss
    assert lenet.test_accuracy - lenet.shifted_test_accuracy > 0.2 > cnn_loss   # strided pooling is not shift-proof
    assert trained.shifted_accuracy(2) < snap.shifted_test_accuracy  # two pixels lose more than one


def test_shifted_accuracy_is_the_mean_over_four_moves_with_blank_paper_coming_in(trained):
    x = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    down = shift_images(torch.from_numpy(x), 1, 0).numpy()[0]
    assert (down[0] == 0).all() and (down[1:] == x[0, :-1]).all()
    left2 = shift_images(torch.from_numpy(x), 0, -2).numpy()[0]
    assert (left2[:, -2:] == 0).all() and (left2[:, :-2] == x[0, :, 2:]).all()
    images = trained.x_test_np.reshape(-1, 8, 8)
    moved = [np.roll(images, (dy, dx), axis=(1, 2)) for dy, dx in SHIFT_DIRECTIONS]
    for m, (dy, dx) in zip(moved, SHIFT_DIRECTIONS):       # np.roll, then blank the row or column that wrapped
        m[:, 0 if dy > 0 else -1, :] = m[:, 0 if dy > 0 else -1, :] * (dy == 0)
        m[:, :, 0 if dx > 0 else -1] = m[:, :, 0 if dx > 0 else -1] * (dx == 0)
    each = [(trained.predict_proba(m).argmax(axis=1) == trained.y_test).mean() for m in moved]
    assert trained.shifted_accuracy(1) == pytest.approx(np.mean(each), abs=1e-6)
    assert trained.shifted_accuracy(1) == trained.snapshot().shifted_test_accuracy
    assert trained.shifted_accuracy(0) == trained.snapshot().test_accuracy
    for bad in (-1, 8, 1.5, True):
        with pytest.raises(ValueError, match="pixels"):
            trained.shifted_accuracy(bad)


# ---------- geometry ----------
@pytest.mark.parametrize("n,k,p,s,d", [(8, 3, 0, 1, 1), (8, 3, 2, 1, 1), (8, 5, 1, 2, 1), (7, 3, 1, 3, 2),
                                       (8, 7, 3, 1, 1), (5, 2, 0, 2, 1), (9, 4, 3, 2, 3), (8, 1, 0, 3, 1)])
def test_the_output_size_formula_is_pytorchs(n, k, p, s, d):
    conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
    assert conv(torch.zeros(1, 1, n, n)).shape[-1] == conv_output_size(n, k, p, s, d)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_trains_a_step_and_its_maps_have_the_planned_sizes(name):
    config = preset(name, seed=5)
    assert config.seed == 5 and CNNConfig.from_json(config.to_json()) == config
    trainer = CNNTrainer(config, "cpu")
    snap = trainer.step(1)
    assert snap.step == 1 and np.isfinite(snap.train_loss) and not snap.diverged
    assert trainer.param_count() == parameter_count(config.model)
    maps = trainer.feature_maps(trainer.x_test_np[0])
    assert [(n, m.shape) for n, m in maps] == [(s.name, (s.channels, s.size, s.size)) for s in trainer.stages]


def test_the_defaults_are_the_global_pool_preset_and_the_mlp_has_about_as_many_parameters():
    assert CNNConfig() == preset("global_pool") and CNNConfig().to_dict() == CNNConfig.from_dict({}).to_dict()
    cnn, mlp = parameter_count(CNNConfig().model), parameter_count(preset("mlp").model)
    assert abs(mlp - cnn) / cnn < 0.02
    assert parameter_count(preset("lenet").model) == 5750   # 60 + 0 + 880 + (64·64 + 64) + 650, by hand
    assert preset("lenet").model.stages()[-1].size == 2
    with pytest.raises(KeyError, match="lenet"):
        preset("alexnet")


RF_CONFIGS = [
    dict(channels=[3, 4, 5], kernel=3, padding=1, pool="avg", pool_every=1),
    dict(channels=[3, 4], kernel=3, padding=2, dilation=2, stride=2),
    dict(channels=[3, 4, 4], kernel=2, padding=1, stride=1, pool="avg", pool_every=2),
    dict(channels=[3, 3], kernel=5, padding=3, dilation=1, stride=3),
    dict(channels=[2, 3], kernel=3, padding=1, dilation=2),     # taps at -1, 1, 3: the box starts at row 1
    dict(channels=[2, 3], kernel=3, padding=3, dilation=3),
]


@pytest.mark.parametrize("settings", RF_CONFIGS)
def test_receptive_fields_are_where_the_gradient_of_a_cell_reaches_the_input(settings):
    """Random weights, tanh (its slope is never 0) and average pooling, so every pixel a cell depends
    on moves it: the nonzero region of ∂cell/∂input is what the cell sees."""
    trainer = CNNTrainer(CNNConfig.build(**settings, activation="tanh", head="global_avg", max_steps=0), "cpu")
    model = trainer.model.eval()
    generator = torch.Generator().manual_seed(0)
    for index, stage in enumerate(trainer.stages):
        cells = [(y, x) for y in range(stage.size) for x in range(stage.size)]
        x = torch.rand(len(cells), 1, 8, 8, generator=generator, dtype=torch.float32).requires_grad_(True)
        record: list = []
        model(x, record=record)
        out = dict(record)[stage.name]                      # (cells, C, H, W); each image asks for one cell
        picked = torch.stack([out[i, :, y, xx].sum() for i, (y, xx) in enumerate(cells)])
        (grad,) = torch.autograd.grad(picked.sum(), x)
        for i, (y, xx) in enumerate(cells):
            rows, cols = np.nonzero(grad[i, 0].abs().numpy() > 0)
            expected = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) if len(rows) else (0, 0, 0, 0)
            assert trainer.receptive_field(stage.name, y, xx) == tuple(int(v) for v in expected), (stage, y, xx)
            assert trainer.receptive_field(index, y, xx) == trainer.receptive_field(stage.name, y, xx)


def test_receptive_fields_by_hand_and_bad_cells():
    lenet = CNNTrainer(preset("lenet"), "cpu")
    assert lenet.receptive_field("conv1", 0, 0) == (0, 2, 0, 2)        # 3×3 with padding 1 at the corner
    assert lenet.receptive_field("conv1", 3, 4) == (2, 5, 3, 6)
    assert lenet.receptive_field("pool1", 1, 1) == (1, 5, 1, 5)        # 2×2 of 3×3 windows: 4×4
    assert lenet.receptive_field("conv2", 0, 0) == (0, 5, 0, 5)        # pool1 0..1 -> act1 0..3 -> input 0..4
    assert lenet.receptive_field("pool2", 1, 0) == (1, 8, 0, 7)
    with pytest.raises(ValueError, match="outside pool2's 2×2 map"):
        lenet.receptive_field("pool2", 2, 0)
    with pytest.raises(ValueError, match="unknown stage 'conv9'"):
        lenet.receptive_field("conv9", 0, 0)


# ---------- config ----------
def _refused(match: str, **settings) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as info:
        CNNConfig.build(**settings)
    return info.value


def test_validation_names_the_field_and_the_sizes():
    e = _refused("entering conv layer 2", channels=[4, 4, 4], kernel=5, dilation=2, padding=1, pool="max")
    assert e.field == "model.kernel"
    assert str(e).startswith("model.kernel: a 5×5 kernel (dilation 2: spans 9×9) does not fit the 1×1 map "
                             "(3×3 padded) entering conv layer 2")
    e = _refused("does not fit", channels=[4, 4, 4], kernel=3, padding=0, pool="max")
    assert str(e).startswith("model.kernel: a 3×3 kernel does not fit the 1×1 map entering conv layer 3")
    e = _refused("at most 0", kernel=1)
    assert e.field == "model.padding" and "padding 2 is more than a 1×1 kernel can use" in str(e)
    e = _refused("parameters", channels=[64, 64], head="flatten", dense=512)
    assert e.field == "model.dense" and "at most 2,000,000" in str(e)
    assert _refused("1 to 6", channels=[]).field == "model.channels"
    assert _refused("1..64", channels=[8, 65]).field == "model.channels[1]"
    assert _refused("choose from", pool="min").field == "model.pool"
    assert _refused("choose from", kind="rnn").field == "model.kind"
    assert _refused("true or false", batch_norm=1).field == "model.batch_norm"
    assert _refused("0..0.9", dropout=0.95).field == "model.dropout"
    assert _refused("1..512", kind="mlp", mlp_hidden=[0]).field == "model.mlp_hidden[0]"
    assert _refused("batch norm needs at least 2", batch_size=1).field == "train.batch_size"
    CNNConfig.build(batch_size=1, batch_norm=False)
    assert _refused("0..1", weight_decay=2.0).field == "train.weight_decay"
    with pytest.raises(ConfigError, match="put 'lr' in the 'train' section"):
        CNNConfig.from_dict({"lr": 0.1})
    with pytest.raises(ConfigError, match="unknown key"):
        CNNConfig.from_dict({"model": {"kernels": 3}})
    # kind mlp ignores the conv geometry, but the ranges still hold
    CNNConfig.build(kind="mlp", kernel=7, padding=0, channels=[1] * 6, pool="max")


def test_json_round_trip_replace_and_the_setting_tiers():
    config = CNNConfig.build(channels=[8, 8], kernel=5, padding=2, pool="avg", dropout=0.3, optimizer="momentum",
                             lr=0.05, weight_decay=1e-4, seed=7)
    assert CNNConfig.from_json(config.to_json()) == config and config.to_dict()["task"] == "cnn"
    assert config.replace(lr=0.1).train.lr == 0.1 and config.replace(lr=0.1).model == config.model
    hot = config.replace(lr=0.1, dropout=0.5, weight_decay=0.0, batch_size=32, max_steps=9)
    assert structural_changes(config, hot) == [] and len(HOT_FIELDS) == 5
    assert structural_changes(config, config.replace(kernel=3, seed=1)) == ["model.kernel", "train.seed"]


# ---------- training ----------
def test_step_5_then_5_is_step_10_and_looking_changes_nothing():
    config = tiny(dropout=0.3, optimizer="momentum", lr=0.05)
    a, b = CNNTrainer(config, "cpu"), CNNTrainer(config, "cpu")
    a.step(5)
    torch.manual_seed(123), torch.rand(10)                   # the global generator plays no part
    image = a.x_test_np[0]
    a.predict_proba(a.x_test_np[:4]), a.feature_maps(image), a.saliency(image), a.confusion_matrix()
    a.worst_test(3), a.shifted_accuracy(2), a.first_layer_filters(), a.receptive_field("conv2", 1, 1)
    assert a.step(5).to_json_dict() == b.step(10).to_json_dict()
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert [set(p) for p in a.history] == [CNNTrainer.HISTORY_KEYS] * 2 and a.history[-1] == b.history[-1]


def test_hot_settings_apply_to_a_running_trainer_and_structural_ones_do_not():
    trainer = CNNTrainer(tiny(dropout=0.2), "cpu")
    trainer.step(3)
    weights = [p.clone() for p in trainer.model.parameters()]
    assert trainer.apply(trainer.config.replace(kernel=5)) == ["model.kernel"]
    assert trainer.config.model.kernel == 3
    assert trainer.apply(trainer.config.replace(lr=0.01, weight_decay=0.001, dropout=0.5, max_steps=5)) == []
    assert all(torch.equal(a, b) for a, b in zip(weights, trainer.model.parameters())) and trainer.step_count == 3
    group = trainer.optimizer.param_groups[0]
    assert group["lr"] == 0.01 and group["weight_decay"] == 0.001
    assert trainer.model.head.drop_features.p == 0.5
    snap = trainer.train_for(5.0)                             # stops at the new step limit, not the clock
    assert snap.step == 5 and snap.finished and trainer.train_for(1.0).step == 5
    again = CNNTrainer(tiny(), "cpu")
    assert again.train_for(0.01, max_steps=2).step in (1, 2) and len(again.history) == 1
    taken = again.advance(0.01, max_steps=3)
    assert 1 <= taken <= 3 and again.step_count == again.history[-1]["step"] + taken and len(again.history) == 1


def test_divergence_keeps_the_last_finite_weights_and_a_new_learning_rate_goes_on():
    trainer = CNNTrainer(tiny(activation="linear", batch_norm=False, optimizer="sgd", lr=0.01), "cpu")
    trainer.step(3)
    good = [p.clone() for p in trainer.model.parameters()]
    trainer.apply(trainer.config.replace(lr=10.0))
    snap = trainer.step(20)
    assert snap.diverged and trainer.diverged and snap.step == 3
    assert all(torch.equal(a, b) for a, b in zip(good, trainer.model.parameters()))
    assert np.isfinite(snap.test_loss) and trainer.step(5).step == 3   # waits for a new learning rate
    assert trainer.apply(trainer.config.replace(lr=0.01)) == [] and trainer.step(2).step == 5


# ---------- inspection ----------
def test_inspection_shapes_and_what_they_mean(trained):
    x = trained.x_test_np[:5]
    p = trained.predict_proba(x)
    assert p.shape == (5, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(p, trained.predict_proba(x.reshape(5, 8, 8)))
    for bad in (x[0], x.reshape(5, 2, 32), np.full((1, 64), np.nan)):
        with pytest.raises(ValueError, match="images must"):
            trained.predict_proba(bad)
    with pytest.raises(ValueError, match="an image must be"):
        trained.feature_maps(x)
    assert trained.first_layer_filters().shape == (8, 1, 3, 3)
    confusion = trained.confusion_matrix()
    assert confusion.shape == (10, 10) and confusion.sum() == len(trained.y_test)
    assert np.trace(confusion) / confusion.sum() == pytest.approx(trained.snapshot().test_accuracy)
    assert np.array_equal(confusion.sum(axis=1), np.bincount(trained.y_test, minlength=10))
    worst = trained.worst_test(4)
    probabilities = trained.predict_proba(trained.x_test_np)
    assert len(worst.index) == 4 and np.all(np.diff(worst.confidence) >= 0)
    assert np.allclose(worst.confidence, probabilities[worst.index, worst.true])
    assert np.array_equal(worst.true, trained.y_test[worst.index])
    assert worst.confidence[0] == probabilities[np.arange(len(trained.y_test)), trained.y_test].min()
    mlp = CNNTrainer(preset("mlp"), "cpu")
    assert mlp.feature_maps(x[0]) == [] and mlp.first_layer_filters().shape == (84, 1, 8, 8) and mlp.stages == []


def test_saliency_is_the_gradient_of_the_score_by_finite_differences():
    trainer = CNNTrainer(tiny(activation="tanh", pool="avg"), "cpu")
    trainer.model.double()
    image = trainer.x_test_np[3].astype(np.float64)
    x = torch.from_numpy(image).reshape(1, 1, 8, 8)
    trainer.model.eval()
    with torch.no_grad():
        cls = int(trainer.model(x).argmax())
        steps = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8) * 1e-6
        numeric = (trainer.model(x + steps)[:, cls] - trainer.model(x - steps)[:, cls]) / 2e-6
    trainer.model.float()
    saliency = trainer.saliency(image)
    assert saliency.shape == (8, 8) and (saliency >= 0).all()
    assert np.allclose(saliency.ravel(), numeric.abs().numpy(), rtol=1e-3, atol=1e-5)
    assert not np.allclose(trainer.saliency(image, cls=(cls + 1) % 10), saliency)
    with pytest.raises(ValueError, match="cls must be a digit"):
        trainer.saliency(image, cls=10)


# ---------- checkpoints ----------
def _refused_file(data, match: str) -> str:
    with pytest.raises(ValueError, match=match) as info:
        CNNTrainer.from_checkpoint(data, "cpu")
    assert type(info.value) is ValueError and "weights_only" not in str(info.value)
    return str(info.value)


def _tampered(data: bytes, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_step_30_save_load_step_30_is_step_60_bit_for_bit():
    config = tiny(dropout=0.2, optimizer="adam", batch_size=100)   # an epoch ends inside the first 30 steps
    straight = CNNTrainer(config, "cpu")
    first, later = straight.step(30), straight.step(30)
    paused = CNNTrainer(config, "cpu")
    paused.step(30)
    resumed = CNNTrainer.from_checkpoint(paused.checkpoint_bytes(), "cpu")
    assert resumed.config == config and resumed.epoch == paused.epoch >= 1
    assert resumed.snapshot().to_json_dict() == first.to_json_dict()
    assert resumed.step(30).to_json_dict() == later.to_json_dict()
    assert all(torch.equal(a, b) for a, b in zip(straight.model.state_dict().values(),
                                                   resumed.model.state_dict().values()))
    assert resumed.history == straight.history
    # a hot change travels in the config: the resumed run trains at the new rate
    paused.apply(paused.config.replace(lr=0.0005, weight_decay=0.01))
    again = CNNTrainer.from_checkpoint(paused.checkpoint_bytes(), "cpu")
    assert again.optimizer.param_groups[0]["lr"] == 0.0005 and again.optimizer.param_groups[0]["weight_decay"] == 0.01


class _System:
    """Unpickling this would call os.system(command): what a malicious checkpoint carries."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_junk_unsafe_and_damaged_checkpoints_are_refused(tmp_path):
    trainer = CNNTrainer(tiny(), "cpu")
    trainer.step(2)
    data = trainer.checkpoint_bytes()
    _refused_file(b"", "the file is empty")
    _refused_file(os.urandom(300), "not a cnn checkpoint")
    marker = tmp_path / "ran"
    for payload in (pickle.dumps({"format": FORMAT, "state_dict": _System(f"touch {marker}")}, protocol=2),
                    _tampered(data, state_dict=_System(f"touch {marker}"))):
        _refused_file(payload, "refused as unsafe")
    assert not marker.exists()
    _refused_file(_tampered(data, format=2), "its format is 2")
    blob = torch.load(io.BytesIO(data), weights_only=True)
    del blob["order"]
    buf = io.BytesIO()
    torch.save(blob, buf)
    _refused_file(buf.getvalue(), "lacks 'order'")
    weights = dict(blob["state_dict"])
    weights["features.conv1.weight"] = torch.zeros(2, 1, 3, 3)
    _refused_file(_tampered(data, state_dict=weights), "do not fit its config")
    weights["features.conv1.weight"] = torch.full((4, 1, 3, 3), float("nan"))
    _refused_file(_tampered(data, state_dict=weights), "not all finite")
    _refused_file(_tampered(data, order=torch.zeros(trainer.n_train, dtype=torch.int64)), "permutation")
    _refused_file(_tampered(data, config='{"task": "cnn", "model": {"kernel": 9}}'), "invalid config: model.kernel")
    _refused_file(_tampered(data, grad_norms=torch.ones(2)), "grad_norms must be 3")
    _refused_file(_tampered(data, history=[{"step": "x"}]), "history")
    _refused_file(_tampered(data, batch_generator=torch.zeros(3, dtype=torch.uint8)), "batch_generator")
