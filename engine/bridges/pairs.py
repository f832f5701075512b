"""Classical models and their neural counterparts, trained on the same 2-D points.

Each `*_bridge` function fits the scikit-learn model and the network the engine trains,
and returns plain data (floats, NumPy arrays): their parameters, train/test accuracies and
their outputs over the plane for the boundary plots.

The regularised problems are written so that both sides minimise the same function:
scikit-learn's LogisticRegression and SVC minimise  ½|w|² + C · Σ_i loss_i  (a sum over the
n training points, the bias unpenalised); the neuron minimises the mean loss plus
|w|² / (2 C n), which is the same objective divided by C·n, so it has the same minimiser.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.config import ConfigError, _check_range
from ..core.losses import data_loss
from ..mlp.config import ExperimentConfig
from ..mlp.data import Dataset2D, grid_points, make_dataset
from .rbf import RBFConfig, RBFTrainer, seeded_init

TWO_CLASS_SETS = ("gauss", "moons", "circle", "xor", "spiral")
ALL_SETS = TWO_CLASS_SETS + ("blobs",)
RESOLUTION = 60  # boundary plots: RESOLUTION² points over [-6, 6]²


def bridge_dataset(name: str, n_samples: int = 300, noise: float = 0.2, seed: int = 0,
                   n_classes: int = 3) -> Dataset2D:
    """A 2-D set of engine/mlp/data.py, 30 % held out for the test scores; ConfigError names the field."""
    config = ExperimentConfig.from_dict({
        "task": "classify2d",
        "data": {"name": name, "n_samples": n_samples, "noise": noise, "test_fraction": 0.3, "n_classes": n_classes},
        "train": {"seed": seed}})
    return make_dataset(config)


def _check_C(C: float) -> None:
    _check_range(C, "C", 1e-4, 1e4, "regularisation C (larger C = weaker penalty)")


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(pred) == np.asarray(y)).mean()) if len(y) else float("nan")


def _plane(predict) -> np.ndarray:
    """(RESOLUTION, RESOLUTION), row 0 at x2 = -6, from a function of (N, 2) points."""
    return np.asarray(predict(grid_points(RESOLUTION))).reshape(RESOLUTION, RESOLUTION)


# ---------------- logistic regression and linear SVM: one neuron ----------------
def neuron_objective(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor, C: float,
                     loss: str) -> torch.Tensor:
    """mean loss(w·x + b) + |w|² / (2 C n): the scikit-learn objective divided by C·n."""
    scores = (x @ w + b)[:, None]  # (n, 1), the engine's score layout for two classes
    return data_loss(scores, y, loss, 2) + (w * w).sum() / (2 * C * len(x))


def _train_neuron(x: np.ndarray, y: np.ndarray, C: float, loss: str, steps: int, lr: float,
                  polish: bool) -> dict:
    """Full-batch Adam from w = 0 (recording the path), then, for the smooth BCE, L-BFGS to
    the exact minimum. float64 throughout so the comparison is not limited by rounding."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.long)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    # Hinge is not differentiable at the margin: a decaying step lets the subgradient settle.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 if loss != "hinge" else max(0.01, 1 - t / steps))
    with torch.no_grad():
        path = [[0, 0.0, 0.0, 0.0, float(neuron_objective(w, b, xt, yt, C, loss))]]
    for t in range(1, steps + 1):
        opt.zero_grad()
        obj = neuron_objective(w, b, xt, yt, C, loss)
        obj.backward()
        opt.step()
        sched.step()
        if t % max(1, steps // 200) == 0 or t == steps:
            with torch.no_grad():
                path.append([t, *w.tolist(), float(b), float(neuron_objective(w, b, xt, yt, C, loss))])
    adam = np.array([*w.detach().tolist(), float(b.detach())])
    if polish:
        lbfgs = torch.optim.LBFGS([w, b], lr=1, max_iter=100, tolerance_grad=1e-11, tolerance_change=1e-14,
                                  history_size=20, line_search_fn="strong_wolfe")

        def closure():
            lbfgs.zero_grad()
            o = neuron_objective(w, b, xt, yt, C, loss)
            o.backward()
            return o
        lbfgs.step(closure)
    final = np.array([*w.detach().tolist(), float(b.detach())])
    return {"adam": adam, "final": final, "path": np.array(path)}


def _objective_at(params: np.ndarray, x: np.ndarray, y: np.ndarray, C: float, loss: str) -> float:
    t = torch.as_tensor(params, dtype=torch.float64)
    return float(neuron_objective(t[:2], t[2], torch.as_tensor(x, dtype=torch.float64),
                                  torch.as_tensor(y, dtype=torch.long), C, loss))


def _linear_bridge(ds: Dataset2D, C: float, steps: int, lr: float, loss: str) -> dict:
    _check_C(C)
    _check_range(steps, "steps", 10, 20_000, "training steps", integer=True)
    if ds.n_classes != 2:
        raise ConfigError("dataset", "a single neuron separates two classes: pick a two-class data set")
    x, y = ds.train_xy.astype(np.float64), ds.train_y
    if loss == "bce":
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(x, y)
    else:
        from sklearn.svm import SVC
        clf = SVC(kernel="linear", C=C, tol=1e-6).fit(x, y)
    sk = np.array([*clf.coef_[0], clf.intercept_[0]])
    neuron = _train_neuron(x, y, C, loss, steps, lr, polish=loss == "bce")
    w = neuron["final"]

    def neuron_scores(p):
        return p.astype(np.float64) @ w[:2] + w[2]

    def sk_scores(p):
        return p.astype(np.float64) @ sk[:2] + sk[2]

    sigmoid = (lambda s: 1 / (1 + np.exp(-s))) if loss == "bce" else (lambda s: 1 / (1 + np.exp(-2 * s)))
    out = {
        "sklearn": sk, "neuron": w, "neuron_adam": neuron["adam"], "path": neuron["path"],
        "objective_sklearn": _objective_at(sk, x, y, C, loss), "objective_neuron": _objective_at(w, x, y, C, loss),
        "plane_sklearn": _plane(lambda p: sigmoid(sk_scores(p))), "plane_neuron": _plane(lambda p: sigmoid(neuron_scores(p))),
    }
    for side, f in (("sklearn", sk_scores), ("neuron", neuron_scores)):
        out[f"train_acc_{side}"] = _accuracy(f(ds.train_xy) > 0, ds.train_y)
        out[f"test_acc_{side}"] = _accuracy(f(ds.test_xy) > 0, ds.test_y)
    if loss == "hinge":
        margins = (2 * y - 1) * neuron_scores(x)
        out["n_support_sklearn"] = int(clf.support_.size)
        out["support_sklearn"] = x[clf.support_]
        out["n_margin_neuron"] = int((margins <= 1 + 1e-3).sum())
    return out


def logistic_bridge(ds: Dataset2D, C: float = 1.0, steps: int = 400, lr: float = 0.1) -> dict:
    """scikit-learn's LogisticRegression(C) and one sigmoid neuron (BCE + |w|²/(2Cn))."""
    return _linear_bridge(ds, C, steps, lr, "bce")


def svm_bridge(ds: Dataset2D, C: float = 1.0, steps: int = 3000, lr: float = 0.05) -> dict:
    """scikit-learn's SVC(kernel="linear", C) and one neuron with hinge loss + |w|²/(2Cn)."""
    return _linear_bridge(ds, C, steps, lr, "hinge")


# ---------------- RBF-kernel SVM and an RBF network ----------------
def rbf_bridge(ds: Dataset2D, C: float = 1.0, gamma: float = 0.5, n_centres: int = 12, width: float = 1.5,
               steps: int = 1500, lr: float = 0.05, seed: int = 0) -> dict:
    from sklearn.svm import SVC
    _check_C(C)
    _check_range(gamma, "gamma", 1e-3, 100.0, "kernel gamma")
    _check_range(steps, "steps", 10, 20_000, "training steps", integer=True)
    svm = SVC(kernel="rbf", C=C, gamma=gamma).fit(ds.train_xy, ds.train_y)
    trainer = RBFTrainer(RBFConfig(n_centres=n_centres, width=width, lr=lr, seed=seed), ds.train_xy, ds.train_y,
                         ds.n_classes)
    snap = trainer.step(steps)

    def net_plane(p):
        probs = trainer.predict_proba(p)
        return probs[:, 1] if ds.n_classes == 2 else probs.argmax(1)

    def svm_plane(p):
        if ds.n_classes == 2:
            return 1 / (1 + np.exp(-2 * svm.decision_function(p)))
        return svm.predict(p)

    return {
        "support_vectors": svm.support_vectors_, "n_support": int(len(svm.support_)),
        "centres_initial": trainer.initial_centres, "centres": snap.centres, "widths": snap.widths,
        "train_loss": [h["loss"] for h in trainer.history], "diverged": snap.diverged,
        "train_acc_sklearn": _accuracy(svm.predict(ds.train_xy), ds.train_y),
        "test_acc_sklearn": _accuracy(svm.predict(ds.test_xy), ds.test_y),
        "train_acc_neuron": _accuracy(trainer.predict_proba(ds.train_xy).argmax(1), ds.train_y),
        "test_acc_neuron": _accuracy(trainer.predict_proba(ds.test_xy).argmax(1), ds.test_y),
        "plane_sklearn": _plane(svm_plane), "plane_neuron": _plane(net_plane),
        "svm_width": math.sqrt(1 / (2 * gamma)),
    }


# ---------------- decision tree and a softmax network ----------------
def gini_loss(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """mean_i Σ_k (p_ik - [y_i = k])²: on points that share one prediction q (a tree's leaf),
    its smallest value, reached at q = the class shares, is the leaf's Gini impurity 1 - Σ q_k²."""
    onehot = F.one_hot(y, probs.shape[1]).to(probs.dtype)
    return ((probs - onehot) ** 2).sum(1).mean()


def softmax_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """'ce' (its minimum on a leaf is the leaf's entropy, in nats) or 'gini'."""
    if loss == "ce":
        return F.cross_entropy(logits, y)
    return gini_loss(torch.softmax(logits, 1), y)


def tree_impurity(tree, x: np.ndarray) -> float:
    """The fitted tree's impurity over the points' leaves, weighted by their share of the points."""
    leaves = tree.apply(x)
    t = tree.tree_
    return float(np.mean(t.impurity[leaves]))


def leaf_prediction_loss(tree, x: np.ndarray, y: np.ndarray, loss: str) -> float:
    """The network loss of predicting, for each point, its leaf's class shares."""
    probs = torch.as_tensor(tree.predict_proba(x), dtype=torch.float64).clamp_min(1e-12)
    yt = torch.as_tensor(y, dtype=torch.long)
    if loss == "ce":
        return float(F.nll_loss(probs.log(), yt))
    return float(gini_loss(probs, yt))


def tree_bridge(ds: Dataset2D, criterion: str = "gini", max_depth: int = 4, hidden: int = 16, loss: str = "gini",
                steps: int = 1500, lr: float = 0.02, seed: int = 0) -> dict:
    from sklearn.tree import DecisionTreeClassifier
    if criterion not in ("gini", "entropy"):
        raise ConfigError("criterion", f"choose gini or entropy, got {criterion!r}")
    if loss not in ("gini", "ce"):
        raise ConfigError("loss", f"choose gini or ce, got {loss!r}")
    _check_range(max_depth, "max_depth", 1, 20, "tree depth", integer=True)
    _check_range(hidden, "hidden", 2, 128, "hidden width", integer=True)
    _check_range(steps, "steps", 10, 20_000, "training steps", integer=True)
    tree = DecisionTreeClassifier(criterion=criterion, max_depth=max_depth, random_state=seed).fit(ds.train_xy, ds.train_y)
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                        nn.Linear(hidden, ds.n_classes))  # (B, 2) -> (B, k) logits
    for layer in net:
        if isinstance(layer, nn.Linear):
            seeded_init(layer, g)
    x = torch.as_tensor(ds.train_xy) / 6.0  # inputs scaled into [-1, 1]: tanh units start unsaturated
    y = torch.as_tensor(ds.train_y)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history, diverged = [], False
    for _ in range(steps):
        opt.zero_grad()
        value = softmax_loss(net(x), y, loss)
        if not torch.isfinite(value):
            diverged = True
            break
        value.backward()
        opt.step()
        history.append(value.item())

    @torch.no_grad()
    def net_probs(p):
        return torch.softmax(net(torch.as_tensor(p, dtype=torch.float32) / 6.0), 1).numpy()

    def plane(probs):
        return probs[:, 1] if ds.n_classes == 2 else probs.argmax(1)

    # The tree's impurity measured with the loss matching its criterion (entropy in bits -> nats).
    impurity = tree_impurity(tree, ds.train_xy) * (math.log(2) if criterion == "entropy" else 1.0)
    return {
        "depth": int(tree.get_depth()), "n_leaves": int(tree.get_n_leaves()),
        "train_loss": history, "diverged": diverged,
        "tree_impurity": impurity,
        "leaf_loss": leaf_prediction_loss(tree, ds.train_xy, ds.train_y, "ce" if criterion == "entropy" else "gini"),
        "net_loss_at_tree": leaf_prediction_loss(tree, ds.train_xy, ds.train_y, loss),
        "net_final_loss": history[-1] if history else float("nan"),
        "train_acc_sklearn": _accuracy(tree.predict(ds.train_xy), ds.train_y),
        "test_acc_sklearn": _accuracy(tree.predict(ds.test_xy), ds.test_y),
        "train_acc_neuron": _accuracy(net_probs(ds.train_xy).argmax(1), ds.train_y),
        "test_acc_neuron": _accuracy(net_probs(ds.test_xy).argmax(1), ds.test_y),
        "plane_sklearn": _plane(lambda p: plane(tree.predict_proba(p))), "plane_neuron": _plane(lambda p: plane(net_probs(p))),
        "n_params_net": int(sum(p.numel() for p in net.parameters())),
    }


# ---------------- transfer learning: a head on frozen MiniLM vs a model from scratch ----------------
def transfer_sample(n_total: int = 1200, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """n_total positive/negative tweets of the corpus (neutral ones left out), drawn at random
    with the seed: (texts, labels with 1 = positive)."""
    from ..core.corpora import sentiment_rows
    _check_range(n_total, "n_total", 100, 20_000, "sample size", integer=True)
    rows = [r for r in sentiment_rows() if r.sentiment in ("positive", "negative") and r.text.strip()]
    pick = np.random.default_rng(seed).permutation(len(rows))[:n_total]
    return [rows[i].text for i in pick], np.array([rows[i].sentiment == "positive" for i in pick], dtype=np.int64)


def embed_minilm(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(N, 384) float32 sentence vectors of the frozen encoder: last hidden states averaged
    over the real tokens, as all-MiniLM-L6-v2 was trained to be used."""
    from ..core.pretrained import load_minilm
    tokenizer, model = load_minilm()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = model(**enc).last_hidden_state                  # (B, T, 384)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            out.append((hidden * mask).sum(1) / mask.sum(1).clamp_min(1))
    return torch.cat(out).numpy().astype(np.float32)


def transfer_curve(texts: list[str], labels: np.ndarray, vectors: np.ndarray, sizes: list[int], n_test: int,
                   repeats: int = 3, seed: int = 0) -> dict:
    """Test accuracy against the number of labelled training examples, for a TF-IDF logistic
    regression that learns everything from those examples, and for a logistic-regression head
    on the frozen encoder's vectors. The last n_test texts are the test set, the same for
    every point of the curve; each size is drawn `repeats` times from the rest."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    n = len(texts)
    if vectors.shape[0] != n or len(labels) != n:
        raise ValueError(f"texts ({n}), labels ({len(labels)}) and vectors ({vectors.shape[0]}) must have one row each")
    _check_range(n_test, "n_test", 10, n - 10, "test set size", integer=True)
    pool = np.arange(n - n_test)
    test = np.arange(n - n_test, n)
    rng = np.random.default_rng(seed)
    sizes = [s for s in sizes if 4 <= s <= len(pool)]
    scratch, pretrained = np.zeros((len(sizes), repeats)), np.zeros((len(sizes), repeats))
    for i, size in enumerate(sizes):
        for r in range(repeats):
            train = rng.choice(pool, size, replace=False)
            while len(set(labels[train])) < 2:  # a tiny draw of one class only teaches nothing: draw again
                train = rng.choice(pool, size, replace=False)
            tfidf = TfidfVectorizer(min_df=1, ngram_range=(1, 2), sublinear_tf=True)
            xs = tfidf.fit_transform([texts[j] for j in train])
            clf = LogisticRegression(C=10.0, max_iter=2000).fit(xs, labels[train])
            scratch[i, r] = clf.score(tfidf.transform([texts[j] for j in test]), labels[test])
            head = LogisticRegression(C=1.0, max_iter=2000).fit(vectors[train], labels[train])
            pretrained[i, r] = head.score(vectors[test], labels[test])
    return {"sizes": sizes, "scratch": scratch, "pretrained": pretrained, "n_test": int(n_test),
            "majority": float(max(labels[test].mean(), 1 - labels[test].mean()))}
