"""CNNConfig: the cnn task's validated settings (model and train sections, JSON round trip) and its presets."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields

from ..core.config import JSONConfigMixin, _check, _check_range, section_from_dict
from ..core.digits import N_CLASSES, N_PIXELS
from ..core.registries import ACTIVATIONS, OPTIMIZERS
from .geometry import head_features, plan_stages

KINDS = ("cnn", "mlp")
POOLS = ("max", "avg", "none")
HEADS = ("flatten", "global_max", "global_avg")
MAX_CONV_LAYERS = 6
MAX_MLP_LAYERS = 4
MAX_PARAMETERS = 2_000_000   # about 8 MB of weights: still a few steps a second on one CPU thread
# Settings a running trainer takes without losing progress; every other field rebuilds the model.
HOT_FIELDS = ("model.dropout", "train.lr", "train.weight_decay", "train.batch_size", "train.max_steps")


@dataclass
class CNNModelConfig:
    kind: str = "cnn"             # cnn, or mlp: the dense network it is compared with
    # The defaults are the "global_pool" preset: padding 2 lets each 3×3 layer see every position where
    # the kernel overlaps the digit (the maps grow 8 → 10 → 12 → 14), there is no strided pooling, and the
    # head takes each channel's maximum over the whole map, so a digit moved by a pixel gives nearly the
    # same features. A LeNet (conv, pool, conv, pool, dense) reads unmoved digits, but not moved ones.
    channels: list[int] = field(default_factory=lambda: [8, 16, 32])  # output channels of 1..6 conv layers, 1..64
    kernel: int = 3               # 1..7: every conv layer's kernel is kernel × kernel
    padding: int = 2              # 0..3 zeros around each conv layer's input, at most what the kernel can use
    stride: int = 1               # 1..3 of every conv layer
    dilation: int = 1             # 1..3: gaps between the kernel's taps (spans d(k−1)+1 cells)
    pool: str = "none"            # max, avg or none: a 2×2 pooling (stride 2) after every pool_every conv layers
    pool_every: int = 1           # 1..3; skipped where a map is smaller than 2×2
    head: str = "global_max"      # flatten the last map, or take each channel's global_max / global_avg
    activation: str = "relu"      # after every conv layer (and dense layer): relu, tanh, elu, gelu, ...
    batch_norm: bool = True       # batch norm between each conv (or mlp hidden) layer and its activation
    dropout: float = 0.0          # 0..0.9, before every dense layer of the head (mlp: after each hidden layer)
    dense: int = 0                # 0..512 hidden units in the head; 0 = straight to the 10 classes
    mlp_hidden: list[int] = field(default_factory=lambda: [84])  # kind mlp: 1..4 hidden widths of 1..512

    def validate(self) -> None:
        _check(isinstance(self.kind, str) and self.kind in KINDS, "model.kind",
               f"unknown network {self.kind!r}; choose from {', '.join(KINDS)}")
        _check(isinstance(self.channels, list) and 1 <= len(self.channels) <= MAX_CONV_LAYERS, "model.channels",
               f"give 1 to {MAX_CONV_LAYERS} conv layers' output channels, got {self.channels!r:.80}")
        for i, width in enumerate(self.channels):
            _check_range(width, f"model.channels[{i}]", 1, 64, "channels of a conv layer", integer=True)
        _check_range(self.kernel, "model.kernel", 1, 7, "kernel size", integer=True)
        _check_range(self.padding, "model.padding", 0, 3, "padding", integer=True)
        _check_range(self.stride, "model.stride", 1, 3, "stride", integer=True)
        _check_range(self.dilation, "model.dilation", 1, 3, "dilation", integer=True)
        _check(isinstance(self.pool, str) and self.pool in POOLS, "model.pool",
               f"unknown pooling {self.pool!r}; choose from {', '.join(POOLS)}")
        _check_range(self.pool_every, "model.pool_every", 1, 3, "conv layers per pooling", integer=True)
        _check(isinstance(self.head, str) and self.head in HEADS, "model.head",
               f"unknown head {self.head!r}; choose from {', '.join(HEADS)}")
        _check(isinstance(self.activation, str) and self.activation in ACTIVATIONS, "model.activation",
               f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        _check(isinstance(self.batch_norm, bool), "model.batch_norm", f"must be true or false, got {self.batch_norm!r}")
        _check_range(self.dropout, "model.dropout", 0.0, 0.9, "dropout rate")
        _check_range(self.dense, "model.dense", 0, 512, "hidden units of the head", integer=True)
        _check(isinstance(self.mlp_hidden, list) and 1 <= len(self.mlp_hidden) <= MAX_MLP_LAYERS, "model.mlp_hidden",
               f"give 1 to {MAX_MLP_LAYERS} hidden widths, got {self.mlp_hidden!r:.80}")
        for i, width in enumerate(self.mlp_hidden):
            _check_range(width, f"model.mlp_hidden[{i}]", 1, 512, "hidden layer width", integer=True)
        if self.kind == "cnn":
            self.stages()   # raises ConfigError on model.kernel / model.padding, with the map sizes
        n = parameter_count(self)
        _check(n <= MAX_PARAMETERS, "model.dense" if self.kind == "cnn" else "model.mlp_hidden",
               f"this network has {n:,} parameters, more than this lab trains (at most {MAX_PARAMETERS:,}); use "
               + ("a global_max or global_avg head, fewer channels, a smaller dense layer or more pooling"
                  if self.kind == "cnn" else "narrower hidden layers"))

    def stages(self):
        """The conv network's stages with their map sizes (engine.cnn.geometry.Stage); [] for the mlp."""
        if self.kind != "cnn":
            return []
        return plan_stages([int(c) for c in self.channels], int(self.kernel), int(self.padding), int(self.stride),
                           int(self.dilation), self.pool, int(self.pool_every), self.batch_norm, self.head)


def parameter_count(model: CNNModelConfig) -> int:
    """Weights and biases the network trains (batch norm's scale and shift included), from the sizes alone.
    A conv layer has C_in·C_out·k² + C_out, a dense one F_in·F_out + F_out."""
    bn = 2 if model.batch_norm else 0
    if model.kind == "mlp":
        widths = [N_PIXELS] + [int(w) for w in model.mlp_hidden]
        hidden = sum(a * b + b + bn * b for a, b in zip(widths, widths[1:]))
        return hidden + widths[-1] * N_CLASSES + N_CLASSES
    k, c_in, total = int(model.kernel), 1, 0
    for width in (int(c) for c in model.channels):
        total += c_in * width * k * k + width + bn * width
        c_in = width
    features = head_features(model.stages())
    if model.dense:
        total += features * int(model.dense) + int(model.dense)
        features = int(model.dense)
    return total + features * N_CLASSES + N_CLASSES


@dataclass
class CNNTrainConfig:
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.003             # 1e-6..10 learning rate; changes on a running trainer
    batch_size: int = 64          # 1..4096 images per step (capped at the training set); 2+ with batch norm
    test_fraction: float = 0.2    # 0.05..0.5 of the 1,797 digits held out (stratified)
    seed: int = 0                 # 0..2**31-1: the split, the initial weights, the batch order, dropout
    max_steps: int = 300          # 0..10,000,000: stop by itself at this step (300: about 13 epochs); 0 = no limit
    weight_decay: float = 0.0     # 0..1: L2 penalty rate the optimiser adds to each gradient (weight_decay·w)

    def validate(self) -> None:
        _check(isinstance(self.optimizer, str) and self.optimizer in OPTIMIZERS, "train.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "train.lr", 1e-6, 10.0, "learning rate")
        _check_range(self.batch_size, "train.batch_size", 1, 4096, "batch size", integer=True)
        _check_range(self.test_fraction, "train.test_fraction", 0.05, 0.5, "test fraction")
        _check_range(self.seed, "train.seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "train.max_steps", 0, 10_000_000, "step limit", integer=True)
        _check_range(self.weight_decay, "train.weight_decay", 0.0, 1.0, "weight decay")


INTEGER_MODEL_FIELDS = ("kernel", "padding", "stride", "dilation", "pool_every", "dense")
INTEGER_TRAIN_FIELDS = ("batch_size", "seed", "max_steps")
SECTIONS = {"model": CNNModelConfig, "train": CNNTrainConfig}
# Every field name of a section -> its section (the names do not repeat across sections).
FIELD_SECTION = {f.name: name for name, cls in SECTIONS.items() for f in fields(cls)}


@dataclass
class CNNConfig(JSONConfigMixin):
    task: str = "cnn"             # always "cnn" (the CLI dispatches on it)
    model: CNNModelConfig = field(default_factory=CNNModelConfig)
    train: CNNTrainConfig = field(default_factory=CNNTrainConfig)

    def __post_init__(self) -> None:
        self.validate()
        # 8.0 from a JSON file passes as a whole number; the network and the slicing need 8.
        m, t = self.model, self.train
        m.channels, m.mlp_hidden = [int(c) for c in m.channels], [int(w) for w in m.mlp_hidden]
        for section, names in ((m, INTEGER_MODEL_FIELDS), (t, INTEGER_TRAIN_FIELDS)):
            for name in names:
                setattr(section, name, int(getattr(section, name)))

    def validate(self) -> None:
        _check(self.task == "cnn", "task", f"must be 'cnn' for this config, got {self.task!r}")
        for name, cls in SECTIONS.items():
            _check(isinstance(getattr(self, name), cls), name, "must be an object")
        self.model.validate()
        self.train.validate()
        _check(not (self.model.batch_norm and self.train.batch_size < 2), "train.batch_size",
               "batch norm needs at least 2 images per batch to measure a spread; use 2 or more, or "
               "model.batch_norm false")

    @classmethod
    def build(cls, **settings) -> "CNNConfig":
        """From flat field names, e.g. build(channels=[8, 16], pool="max", lr=0.01); the rest default."""
        parts: dict[str, dict] = {name: {} for name in SECTIONS}
        for key, value in settings.items():
            _check(key in FIELD_SECTION, key, f"unknown setting; the settings are {', '.join(FIELD_SECTION)}")
            parts[FIELD_SECTION[key]][key] = value
        return cls.from_dict(parts)

    def flat(self) -> dict:
        """Every setting by its own name: {"kind": ..., "channels": ..., "lr": ..., ...}."""
        return {**asdict(self.model), **asdict(self.train)}

    # Short names that read through to the sections.
    kind = property(lambda self: self.model.kind)
    seed = property(lambda self: self.train.seed)

    @classmethod
    def from_dict(cls, d: dict) -> "CNNConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = ("task", *SECTIONS)
        for k in d:
            _check(k in known, str(k), f"unknown key; cnn config keys are {', '.join(known)}"
                   + (f" (put {k!r} in the {FIELD_SECTION[k]!r} section)" if k in FIELD_SECTION else ""))
        parts = {name: section_from_dict(d, name, sub) for name, sub in SECTIONS.items()}
        return cls(task=d.get("task", "cnn"), **parts)

    def replace(self, **changes) -> "CNNConfig":
        """A copy with some settings changed, by their flat names (channels=..., lr=...)."""
        return CNNConfig.build(**{**self.flat(), **changes})


def _dotted(config: CNNConfig) -> dict:
    return {f"{name}.{k}": v for name in SECTIONS for k, v in asdict(getattr(config, name)).items()}


def structural_changes(old: CNNConfig, new: CNNConfig) -> list[str]:
    """Dotted fields that differ and need a new model (everything but HOT_FIELDS)."""
    a, b = _dotted(old), _dotted(new)
    return [k for k in a if a[k] != b[k] and k not in HOT_FIELDS]


# ---------- presets ----------
# name -> the settings that differ from the defaults (train settings stay the defaults).
PRESETS: dict[str, dict] = {
    # The default: "same"-or-wider convolutions, no strided pooling, a global max head (see CNNModelConfig).
    "global_pool": {},
    # LeNet-5's plan on 8×8: conv, pool, conv, pool, a dense head (8×8 → 4×4 → 2×2).
    "lenet": {"channels": [6, 16], "padding": 1, "pool": "max", "head": "flatten", "dense": 64,
              "batch_norm": False},
    # VGG's blocks: two 3×3 convs, then a 2×2 max pooling (8×8 → 4×4 → 2×2).
    "tiny_vgg": {"channels": [16, 16, 32, 32], "padding": 1, "pool": "max", "pool_every": 2, "head": "flatten",
                 "dense": 64},
    # Striving for simplicity (Springenberg et al.): strided convolutions shrink the map, no pooling layer.
    "all_conv": {"channels": [16, 32, 32], "padding": 1, "stride": 2, "head": "global_avg"},
    # A dense network with about as many parameters as the default CNN (6,310 against 6,330).
    "mlp": {"kind": "mlp", "mlp_hidden": [84], "batch_norm": False},
}
DEFAULT_PRESET = "global_pool"


def preset(name: str, seed: int = 0) -> CNNConfig:
    """The preset `name` (PRESETS) with the given seed."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return CNNConfig.from_dict({"model": copy.deepcopy(PRESETS[name]), "train": {"seed": seed}})
