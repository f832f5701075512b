"""Classical models and their neural counterparts (engine/bridges/pairs.py, rbf.py, som.py), each
checked against an independent computation: scikit-learn's solvers, closed forms, hand updates."""
import io
import math
import os
import pickle

import numpy as np
import pytest
import torch

from engine.bridges.pairs import (bridge_dataset, gini_loss, leaf_prediction_loss, logistic_bridge, neuron_objective,
                                  svm_bridge, tree_bridge, tree_impurity)
from engine.bridges.rbf import RBFConfig, RBFNetwork, RBFTrainer
from engine.bridges.som import SOMConfig, SOMTrainer, decay, kmeans_counterpart, quantisation_error, radius_at
from engine.core.config import ConfigError


@pytest.fixture(scope="module")
def gauss():
    return bridge_dataset("gauss", 200, 0.2, seed=0)


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
def test_neuron_and_logistic_regression_reach_the_same_coefficients(gauss, C):
    r = logistic_bridge(gauss, C=C, steps=200)
    sk, nn_ = r["sklearn"], r["neuron"]
    assert np.all(np.abs(nn_ - sk) <= 1e-3 * np.abs(sk).max()), (sk, nn_)
    assert r["objective_neuron"] == pytest.approx(r["objective_sklearn"], rel=1e-9)
    assert r["test_acc_neuron"] == r["test_acc_sklearn"]
    # The two objectives are the same function up to the factor C·n: check it by hand in NumPy.
    x, y = gauss.train_xy.astype(np.float64), gauss.train_y
    w, b = sk[:2], sk[2]
    margin = (2 * y - 1) * (x @ w + b)
    sklearn_obj = 0.5 * w @ w + C * np.log1p(np.exp(-margin)).sum()
    t = torch.as_tensor(sk)
    mine = float(neuron_objective(t[:2], t[2], torch.as_tensor(x), torch.as_tensor(y), C, "bce"))
    assert mine * C * len(x) == pytest.approx(sklearn_obj, rel=1e-10)


def test_hinge_neuron_approaches_the_linear_svm(gauss):
    r = svm_bridge(gauss, C=1.0, steps=1500)
    sk, nn_ = r["sklearn"], r["neuron"]
    assert np.abs(nn_ - sk).max() < 0.05 * np.abs(sk).max(), (sk, nn_)
    # Same convex objective: the neuron ends within 0.5 % of the SVM's optimum, never far below it.
    assert r["objective_neuron"] == pytest.approx(r["objective_sklearn"], rel=5e-3)
    assert r["test_acc_neuron"] == pytest.approx(r["test_acc_sklearn"], abs=0.03)


def test_bad_settings_name_the_field(gauss):
    with pytest.raises(ConfigError, match="data.noise"):
        bridge_dataset("gauss", 200, noise=2.0)
    with pytest.raises(ConfigError, match="^C:"):
        logistic_bridge(gauss, C=0.0)
    with pytest.raises(ConfigError, match="dataset"):
        logistic_bridge(bridge_dataset("blobs", 60, 0.0), C=1.0)


# ---------------- RBF network ----------------
def test_rbf_units_are_gaussians_of_their_centre_and_width():
    centres = torch.tensor([[0.0, 0.0], [1.0, -2.0], [3.0, 1.0]])
    net = RBFNetwork(2, 3, 1, centres, width=1.0)
    with torch.no_grad():
        net.log_widths.copy_(torch.log(torch.tensor([0.5, 1.0, 2.0])))
    x = torch.tensor([[0.5, 0.5], [1.0, -1.0]])
    expected = np.array([[math.exp(-np.sum((np.array(xi) - np.array(c)) ** 2) / (2 * s * s))
                          for c, s in zip(centres.tolist(), [0.5, 1.0, 2.0])] for xi in x.tolist()])
    assert np.allclose(net.features(x).detach().numpy(), expected, atol=1e-6)
    net(x).sum().backward()  # centres and widths are learnt: both get a gradient
    assert net.centres.grad.abs().sum() > 0 and net.log_widths.grad.abs().sum() > 0


def test_rbf_network_with_the_svms_support_vectors_is_the_svm():
    from sklearn.svm import SVC
    ds = bridge_dataset("circle", 200, 0.1, seed=1)
    gamma = 0.4
    svm = SVC(kernel="rbf", C=1.0, gamma=gamma).fit(ds.train_xy, ds.train_y)
    sv = torch.as_tensor(svm.support_vectors_, dtype=torch.float32)
    net = RBFNetwork(2, len(sv), 1, sv, width=math.sqrt(1 / (2 * gamma)))
    with torch.no_grad():
        net.readout.weight.copy_(torch.as_tensor(svm.dual_coef_, dtype=torch.float32))
        net.readout.bias.fill_(float(svm.intercept_[0]))
        ours = net(torch.as_tensor(ds.test_xy))[:, 0].numpy()
    assert np.allclose(ours, svm.decision_function(ds.test_xy), atol=1e-4)


def test_rbf_trainer_learns_the_circle_and_moves_its_centres():
    ds = bridge_dataset("circle", 200, 0.0, seed=0)
    t = RBFTrainer(RBFConfig(n_centres=8, seed=0), ds.train_xy, ds.train_y, 2)
    first = t.snapshot()
    snap = t.step(400)
    assert snap.train_accuracy > 0.95 and snap.train_loss < first.train_loss
    assert np.abs(snap.centres - t.initial_centres).max() > 0.1 and np.all(snap.widths > 0)
    a, b = RBFTrainer(RBFConfig(n_centres=8), ds.train_xy, ds.train_y, 2), RBFTrainer(RBFConfig(n_centres=8), ds.train_xy, ds.train_y, 2)
    a.step(5), a.step(5), b.step(10)
    assert np.array_equal(a.snapshot().centres, b.snapshot().centres)


# ---------------- decision tree and softmax network ----------------
@pytest.mark.parametrize("criterion, loss", [("gini", "gini"), ("entropy", "ce")])
def test_tree_impurity_is_the_network_loss_of_its_leaf_shares(criterion, loss):
    from sklearn.tree import DecisionTreeClassifier
    ds = bridge_dataset("moons", 200, 0.3, seed=0)
    tree = DecisionTreeClassifier(criterion=criterion, max_depth=3, random_state=0).fit(ds.train_xy, ds.train_y)
    impurity = tree_impurity(tree, ds.train_xy) * (math.log(2) if criterion == "entropy" else 1)  # bits -> nats
    assert impurity > 0.05  # a shallow tree on noisy moons has mixed leaves
    assert leaf_prediction_loss(tree, ds.train_xy, ds.train_y, loss) == pytest.approx(impurity, rel=1e-9)


def test_gini_loss_of_a_leaf_is_smallest_at_its_class_shares():
    y = torch.tensor([0, 0, 0, 1, 2, 2])
    shares = torch.tensor([3, 1, 2]) / 6.0
    best = float(gini_loss(shares.expand(6, 3), y))
    assert best == pytest.approx(1 - float((shares ** 2).sum()))
    for other in ([0.6, 0.2, 0.2], [1 / 3] * 3, [0.5, 0.1, 0.4]):
        assert float(gini_loss(torch.tensor(other).expand(6, 3), y)) > best


def test_tree_bridge_trains_both_sides():
    ds = bridge_dataset("xor", 200, 0.0, seed=0)
    r = tree_bridge(ds, "gini", max_depth=4, hidden=8, loss="gini", steps=400)
    assert r["train_acc_sklearn"] > 0.95 and r["train_acc_neuron"] > 0.9
    assert r["train_loss"][-1] < r["train_loss"][0] and r["plane_neuron"].shape == (60, 60)


# ---------------- self-organising map ----------------
def test_som_neighbourhood_and_learning_rate_follow_their_schedule():
    c = SOMConfig(rows=6, cols=4, steps=1000, lr_start=0.5, lr_end=0.01, radius_start=0.0, radius_end=0.5)
    t = SOMTrainer(c)
    assert t.schedule(0) == (0.5, 3.0)  # radius 0 means half the larger side
    assert t.schedule(1000) == pytest.approx((0.01, 0.5)) and t.schedule(5000) == pytest.approx((0.01, 0.5))
    assert t.schedule(500)[1] == pytest.approx(math.sqrt(3.0 * 0.5))  # exponential: geometric mean halfway
    radii = [t.step(100).radius for _ in range(10)]
    assert all(a > b for a, b in zip(radii, radii[1:]))
    assert radii[-1] == pytest.approx(radius_at(c, 1000)) and radius_at(c, 1000) == pytest.approx(0.5)
    h = t.neighbourhood(0, 1.0).reshape(6, 4)
    assert h[0, 0] == 1 and h[0, 1] == pytest.approx(math.exp(-0.5)) and h[1, 1] == pytest.approx(math.exp(-1))


def test_one_som_step_is_the_kohonen_update():
    c = SOMConfig(rows=3, cols=3, steps=100, lr_start=0.4, radius_start=1.5, seed=3)
    t = SOMTrainer(c)
    before = t.weights.clone()
    t.step(1)
    delta = t.weights - before
    bmu = int(delta.norm(dim=1).argmax())
    point = before[bmu] + delta[bmu] / 0.4  # the BMU moved by lr·(x - w)
    assert ((t.x - point).norm(dim=1).min()) < 1e-4  # ... towards a real data point
    assert bmu == int(((before - point) ** 2).sum(1).argmin())  # ... which it was nearest to
    h = torch.exp(-((t.grid - t.grid[bmu]) ** 2).sum(1) / (2 * 1.5 ** 2))
    assert torch.allclose(delta, 0.4 * h[:, None] * (point - before), atol=1e-5)


def test_som_quantisation_error_falls_towards_k_means():
    t = SOMTrainer(SOMConfig(data="moons", n_samples=300, rows=5, cols=5, steps=3000, seed=0))
    start = t.snapshot().quantisation_error
    snaps = [t.step(600) for _ in range(5)]
    qes = [s.quantisation_error for s in snaps]
    assert qes[-1] < 0.3 * start and qes[-1] < qes[0]
    km = kmeans_counterpart(t.x_np, 25, seed=0)
    # The map pays for keeping neighbours together with a somewhat larger error than free k-means.
    assert km["quantisation_error"] <= qes[-1] < 2.0 * km["quantisation_error"]
    assert qes[-1] == pytest.approx(quantisation_error(t.x_np, t.weights.numpy()))
    assert snaps[-1].finished and snaps[-1].topographic_error < 0.2  # unfolded: neighbours stay neighbours


def test_som_is_resumable_and_rejects_bad_settings():
    a, b = SOMTrainer(SOMConfig(steps=200)), SOMTrainer(SOMConfig(steps=200))
    a.step(5), a.step(5), b.step(10)
    assert np.array_equal(a.prototypes(), b.prototypes())
    assert a.snapshot().to_json_dict()["step"] == 10
    with pytest.raises(ConfigError, match="^rows"):
        SOMConfig(rows=1)
    with pytest.raises(ConfigError, match="lr_end"):
        SOMConfig(lr_start=0.1, lr_end=0.5)
    assert decay(2.0, 0.5, 0, 10) == 2.0


def test_som_on_digits_has_image_prototypes():
    t = SOMTrainer(SOMConfig(data="digits", rows=4, cols=4, steps=500))
    q0 = t.snapshot().quantisation_error
    snap = t.step(500)
    assert snap.prototypes.shape == (4, 4, 64) and snap.quantisation_error < 0.85 * q0


# ---------------- a map saved and resumed ----------------
def _som_checkpoint(blob_changes: dict | None = None, trainer: SOMTrainer | None = None) -> bytes:
    """A real map's checkpoint, with some of its pieces replaced."""
    trainer = trainer or SOMTrainer(SOMConfig(rows=3, cols=4, steps=500))
    trainer.step(20)
    blob = torch.load(io.BytesIO(trainer.checkpoint_bytes()), weights_only=True)
    buf = io.BytesIO()
    torch.save({**blob, **(blob_changes or {})}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("config", [SOMConfig(rows=5, cols=6, steps=800, seed=3),
                                    SOMConfig(data="digits", rows=3, cols=3, steps=500)])
def test_a_restored_map_goes_on_exactly_as_the_uninterrupted_one(config):
    whole, first = SOMTrainer(config), SOMTrainer(config)
    whole.step(300), whole.step(300)  # the uninterrupted map: a record at 0, 300 and 600
    first.step(300)
    data = first.checkpoint_bytes()
    assert isinstance(torch.load(io.BytesIO(data), weights_only=True), dict)  # the safe loader reads it
    resumed = SOMTrainer.from_checkpoint(data, "cpu")
    assert resumed.config == config and resumed.step_count == 300 and not resumed.points_given
    assert np.array_equal(resumed.x_np, first.x_np) and np.array_equal(resumed.labels, first.labels)
    resumed.step(300)
    assert torch.equal(resumed.weights, whole.weights) and resumed.history == whole.history
    assert [h["step"] for h in resumed.history] == [0, 300, 600]


def test_a_map_on_points_given_by_hand_keeps_them_in_its_checkpoint():
    x = np.random.default_rng(1).normal(size=(60, 3)).astype(np.float32)
    labels = np.arange(60, dtype=np.int64) % 2
    trainer = SOMTrainer(SOMConfig(rows=2, cols=3, steps=200), data=(x, labels))
    trainer.step(50)
    resumed = SOMTrainer.from_checkpoint(trainer.checkpoint_bytes())
    assert resumed.points_given and np.array_equal(resumed.x_np, x) and np.array_equal(resumed.labels, labels)
    trainer.step(50), resumed.step(50)
    assert torch.equal(trainer.weights, resumed.weights)


class _System:
    """Unpickling this would call os.system(command): what a malicious checkpoint carries."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _refused(data, says: str) -> str:
    with pytest.raises(ValueError, match=says) as e:
        SOMTrainer.from_checkpoint(data)
    return str(e.value)


def test_junk_and_unsafe_bytes_are_a_clear_value_error(tmp_path):
    _refused(b"", "not a self-organising map checkpoint: the file is empty")
    _refused(b"definitely not a checkpoint", "not a file written by torch.save")
    good = _som_checkpoint()
    _refused(good[:len(good) // 2], "not a self-organising map checkpoint")  # a truncated download
    blob = torch.load(io.BytesIO(good), weights_only=True)
    buf = io.BytesIO()
    torch.save({k: v for k, v in blob.items() if k != "weights"}, buf)
    _refused(buf.getvalue(), "damaged: it lacks 'weights'")
    from engine.mlp.config import ExperimentConfig
    from engine.mlp.trainer import Trainer
    _refused(Trainer(ExperimentConfig(), "cpu").checkpoint_bytes(), "its format is 2")  # the Playground's
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({**torch.load(io.BytesIO(good), weights_only=True), "history": _System(f"touch {marker}")}, buf)
    for data in (buf.getvalue(), pickle.dumps({"format": 1, "weights": _System(f"touch {marker}")}, protocol=2)):
        assert "system" in _refused(data, "refused as unsafe")
    assert not marker.exists()  # and nothing ran


@pytest.mark.parametrize("changes, says", [
    ({"config": {"rows": 1}}, "config is not valid .*rows"),
    ({"config": "rows=3"}, "config must be a dict"),
    ({"weights": torch.zeros(5, 2)}, r"weights must be a float32 tensor of shape \(12, 2\)"),
    ({"weights": torch.full((12, 2), math.nan)}, "not all finite"),
    ({"generator": torch.zeros(3)}, "generator must be a generator state"),
    ({"generator": torch.zeros(3, dtype=torch.uint8)}, "damaged: generator"),
    ({"step": -1}, "step must be a whole number"),
    ({"diverged": "no"}, "diverged must be true or false"),
    ({"history": [{"step": 0}]}, "history must be a list of records"),
    ({"points": (torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64))}, "labels must be 4 whole numbers"),
    ({"format": 7}, "its format is 7"),
])
def test_a_damaged_map_checkpoint_names_what_is_wrong(changes, says):
    _refused(_som_checkpoint(changes), says)


# ---------------- transfer learning ----------------
def test_transfer_curve_on_real_tweets_and_real_minilm_vectors():
    from engine.bridges.pairs import embed_minilm, transfer_curve, transfer_sample
    texts, labels = transfer_sample(180, seed=0)
    assert len(texts) == 180 and set(labels) == {0, 1}
    vectors = embed_minilm(texts)
    assert vectors.shape == (180, 384) and np.all(np.isfinite(vectors))
    r = transfer_curve(texts, labels, vectors, [20, 120, 999], n_test=60, repeats=2, seed=0)
    assert r["sizes"] == [20, 120]  # sizes larger than the training pool are left out
    assert r["scratch"].shape == r["pretrained"].shape == (2, 2)
    assert np.all((r["scratch"] >= 0) & (r["scratch"] <= 1)) and r["n_test"] == 60
    # The test scores are of the held-out 60: a head on the vectors sees a real signal there.
    assert r["pretrained"][1].mean() > r["majority"]
    with pytest.raises(ValueError, match="one row each"):
        transfer_curve(texts, labels, vectors[:10], [20], n_test=60)
