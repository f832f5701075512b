"""The Playground's experiment config (2-D classification and regression, also used by
Vanishing gradients): data, model and training sections, with JSON and URL-query round trips.

Every field has a default and a comment; construction validates and raises
ConfigError naming the field and what to change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.config import JSONConfigMixin, _check, _check_range, _is_number, section_from_dict
from ..core.registries import ACTIVATIONS, INITS, LOSSES, NORMS, OPTIMIZERS, TASKS
from ..core.url_state import config_from_query, config_to_query

CLASSIFY_SETS = ("circle", "xor", "gauss", "spiral", "moons", "blobs", "custom")
REGRESS_SETS = ("plane", "multigauss", "custom")
FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2")
MAX_DEPTH, MAX_WIDTH = 100, 512
MAX_SAMPLES = 20_000
MAX_CUSTOM_POINTS = 5_000
DOMAIN = 6.0  # every 2-D set lives in [-6, 6]², as in TensorFlow Playground


@dataclass
class DataConfig:
    name: str = "spiral"          # circle, xor, gauss, spiral, moons, blobs | plane, multigauss | custom
    n_samples: int = 500          # points generated, train and test together
    noise: float = 0.0            # 0..0.5, as TensorFlow Playground's 0-50 % slider
    test_fraction: float = 0.5    # share of the points held out for the test loss
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])  # inputs computed from (x1, x2)
    n_classes: int = 3            # classes of the "blobs" set (2..8); the other sets have 2
    points: list[list[float]] = field(default_factory=list)  # "custom": [[x1, x2, label or target], ...]

    def validate(self, task: str) -> None:
        allowed = CLASSIFY_SETS if task == "classify2d" else REGRESS_SETS
        _check(self.name in allowed, "data.name", f"unknown data set {self.name!r} for task {task!r}; choose one of {', '.join(allowed)}")
        _check_range(self.n_samples, "data.n_samples", 10, MAX_SAMPLES, "number of points", integer=True)
        _check_range(self.noise, "data.noise", 0, 0.5, "noise")
        _check_range(self.test_fraction, "data.test_fraction", 0.0, 0.9, "test fraction")
        _check(isinstance(self.features, list) and len(self.features) > 0, "data.features", "pick at least one input feature")
        for i, f in enumerate(self.features):
            _check(f in FEATURES, f"data.features[{i}]", f"unknown feature {f!r}; choose from {', '.join(FEATURES)}")
        _check(len(set(self.features)) == len(self.features), "data.features", "each feature may appear once")
        _check_range(self.n_classes, "data.n_classes", 2, 8, "number of classes", integer=True)
        _check(isinstance(self.points, list) and len(self.points) <= MAX_CUSTOM_POINTS, "data.points",
               f"at most {MAX_CUSTOM_POINTS} custom points")
        for i, p in enumerate(self.points):
            _check(isinstance(p, (list, tuple)) and len(p) == 3 and all(_is_number(v) and math.isfinite(v) for v in p),
                   f"data.points[{i}]", f"each point is [x1, x2, label] with finite numbers, got {p!r}")
            if task == "classify2d":
                _check(float(p[2]).is_integer() and 0 <= p[2] < 8, f"data.points[{i}]", f"class label must be 0..7, got {p[2]!r}")
        if self.name == "custom":
            _check(len(self.points) >= 4, "data.points", f"the custom data set needs at least 4 points, has {len(self.points)}")
            if task == "classify2d":
                _check(len({int(p[2]) for p in self.points}) >= 2, "data.points", "the custom data set needs points of at least 2 classes")


@dataclass
class ModelConfig:
    hidden: list[int] = field(default_factory=lambda: [8, 8])  # widths of the hidden layers, input to output; [] = no hidden layer
    activation: str | list[str] = "tanh"  # one name for all hidden layers, or one name per layer
    residual: bool = False        # add a skip connection around each hidden layer whose input and output widths match
    norm: str = "none"            # none, batch or layer, applied before each activation
    dropout: float = 0.0          # dropout probability after each hidden activation
    init: str = "default"         # default (PyTorch's), xavier, he, normal (std 1), orthogonal

    def activations(self) -> list[str]:
        """One activation name per hidden layer."""
        if isinstance(self.activation, str):
            return [self.activation] * len(self.hidden)
        return list(self.activation)

    def validate(self) -> None:
        _check(isinstance(self.hidden, list), "model.hidden", f"must be a list of layer widths, got {self.hidden!r}")
        _check(len(self.hidden) <= MAX_DEPTH, "model.hidden", f"at most {MAX_DEPTH} hidden layers, got {len(self.hidden)}")
        for i, w in enumerate(self.hidden):
            _check_range(w, f"model.hidden[{i}]", 1, MAX_WIDTH, "hidden layer width", integer=True)
        if isinstance(self.activation, list):
            _check(len(self.activation) == len(self.hidden), "model.activation",
                   f"give one activation per hidden layer ({len(self.hidden)}), got {len(self.activation)}")
            names = self.activation
        else:
            names = [self.activation]
        for i, a in enumerate(names):
            _check(isinstance(a, str) and a in ACTIVATIONS, "model.activation",
                   f"unknown activation {a!r}; choose from {', '.join(ACTIVATIONS)}")
        _check(isinstance(self.residual, bool), "model.residual", f"must be true or false, got {self.residual!r}")
        _check(self.norm in NORMS, "model.norm", f"unknown norm {self.norm!r}; choose from {', '.join(NORMS)}")
        _check_range(self.dropout, "model.dropout", 0, 0.9, "dropout")
        _check(self.init in INITS, "model.init", f"unknown init {self.init!r}; choose from {', '.join(INITS)}")


@dataclass
class TrainConfig:
    loss: str = "bce"             # mse, bce, ce (multi-class), hinge; regression takes mse
    optimizer: str = "sgd"        # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.03              # learning rate; changes on a running trainer without a reset
    momentum: float = 0.0         # momentum of sgd / rmsprop; 0 means 0.9 for "momentum" and "nesterov"
    batch_size: int = 10          # points per optimisation step
    l1: float = 0.0               # L1 penalty rate on weights (not biases)
    l2: float = 0.0               # L2 penalty rate on weights: adds l2/2 * sum(w²)
    seed: int = 0                 # seeds the data, the initial weights, the batch order and dropout
    max_epochs: int = 0           # stop by itself after this many epochs; 0 = no limit
    clip_grad_norm: float = 0.0   # rescale the gradients so their total L2 norm is at most this; 0 = off

    def validate(self, task: str) -> None:
        _check(self.loss in LOSSES, "train.loss", f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if task == "regress2d":
            _check(self.loss == "mse", "train.loss", f"regression trains with 'mse', got {self.loss!r}")
        _check(self.optimizer in OPTIMIZERS, "train.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "train.lr", 1e-6, 10.0, "learning rate")
        _check_range(self.momentum, "train.momentum", 0, 0.999, "momentum")
        _check_range(self.batch_size, "train.batch_size", 1, 4096, "batch size", integer=True)
        _check_range(self.l1, "train.l1", 0, 10.0, "L1 rate")
        _check_range(self.l2, "train.l2", 0, 10.0, "L2 rate")
        _check_range(self.seed, "train.seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_epochs, "train.max_epochs", 0, 1_000_000, "epoch limit", integer=True)
        _check_range(self.clip_grad_norm, "train.clip_grad_norm", 0, 1e6, "gradient clipping norm (0 = off)")


@dataclass
class ExperimentConfig(JSONConfigMixin):
    task: str = "classify2d"      # classify2d or regress2d
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(self.task in TASKS, "task", f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        self.data.validate(self.task)
        self.model.validate()
        self.train.validate(self.task)
        if self.model.norm == "batch":
            _check(self.train.batch_size >= 2, "train.batch_size", "batch norm needs a batch size of at least 2")

    @property
    def n_classes(self) -> int:
        """Classes of a classification task (1 output for 2 classes, k outputs for k > 2); 0 for regression."""
        if self.task != "classify2d":
            return 0
        if self.data.name == "blobs":
            return self.data.n_classes
        if self.data.name == "custom":
            return max(2, int(max(p[2] for p in self.data.points)) + 1)
        return 2

    # ---- plain-data round trips (to_dict, to_json, from_json: JSONConfigMixin) ----
    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = {"task", "data", "model", "train"}
        unknown = set(d) - known
        _check(not unknown, sorted(unknown)[0] if unknown else "config", f"unknown key; top-level keys are {', '.join(sorted(known))}")
        parts = {name: section_from_dict(d, name, sub)
                 for name, sub in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))}
        return cls(task=d.get("task", "classify2d"), **parts)

    def replace(self, **changes: dict) -> "ExperimentConfig":
        """A copy with some fields of the sections changed: replace(train={"lr": 0.1})."""
        d = self.to_dict()
        for section, values in changes.items():
            if isinstance(values, dict):
                d[section].update(values)
            else:
                d[section] = values
        return ExperimentConfig.from_dict(d)

    @classmethod
    def for_task(cls, task: str) -> "ExperimentConfig":
        """The defaults of a task: regression starts on the "plane" set with the MSE loss."""
        if task == "regress2d":
            return cls(task=task, data=DataConfig(name="plane"), train=TrainConfig(loss="mse"))
        return cls(task=task)

    def to_query(self) -> dict[str, str]:
        """Flat str->str map for URL query parameters; lists are comma-separated."""
        return config_to_query(self)

    @classmethod
    def from_query(cls, params: dict[str, str]) -> tuple["ExperimentConfig", list[str]]:
        return config_from_query(cls, params)


# Settings a running trainer takes without losing progress (rule 3: "hot").
HOT_FIELDS = {("train", "lr"), ("train", "momentum"), ("train", "l1"), ("train", "l2"),
              ("train", "batch_size"), ("train", "max_epochs"), ("train", "clip_grad_norm")}


def structural_changes(old: ExperimentConfig, new: ExperimentConfig) -> list[str]:
    """Dotted names of the fields that differ and need a new model."""
    a, b = old.to_dict(), new.to_dict()
    changed = []
    if a["task"] != b["task"]:
        changed.append("task")
    for section in ("data", "model", "train"):
        for k in a[section]:
            if a[section][k] != b[section][k] and (section, k) not in HOT_FIELDS:
                changed.append(f"{section}.{k}")
    return changed
