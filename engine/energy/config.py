"""The energy lab's three configs (tasks boltzmann, rbm and dbn): flat, validated on construction, JSON
round trip. Defaults follow Hinton's "A practical guide to training restricted Boltzmann machines"
(2010): learning rate about 0.05–0.1, momentum 0.5, small initial weights N(0, 0.01²), weight decay
1e-4, the visible biases started at the data's log-odds."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..core.config import JSONConfigMixin, _check, _check_range, flat_config_from_dict
from .data import PATTERN_SETS
from .exact import MAX_ENUMERATED_UNITS

MAX_STEPS = 10_000_000
MAX_DBN_LAYERS = 3
LABELLED_ALL = 0   # in DBNConfig.labelled: every training digit


def _whole_numbers_to_int(config, names) -> None:
    """8.0 from a JSON file passes as a whole number; the tensors and loops need 8."""
    for name in names:
        setattr(config, name, int(getattr(config, name)))


def _check_common(config, lr_high: float = 5.0) -> None:
    _check_range(config.lr, "lr", 1e-5, lr_high, "learning rate")
    _check_range(config.momentum, "momentum", 0.0, 0.99, "momentum")
    _check_range(config.weight_decay, "weight_decay", 0.0, 0.1, "weight decay")
    _check_range(config.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
    _check_range(config.max_steps, "max_steps", 0, MAX_STEPS, "step limit", integer=True)


# Settings a running trainer takes at once, keeping its progress; any other change needs a new trainer.
HOT_FIELDS = ("lr", "momentum", "weight_decay", "max_steps", "k", "persistent", "batch_size", "gibbs_sweeps")


def structural_changes(old, new) -> list[str]:
    """The fields that differ between two configs of one task and need a new trainer."""
    return [f.name for f in fields(old) if getattr(old, f.name) != getattr(new, f.name) and f.name not in HOT_FIELDS]


@dataclass
class BoltzmannConfig(JSONConfigMixin):
    task: str = "boltzmann"        # always "boltzmann"
    data: str = "bars3x3"          # bars3x3, bars2x4, shifter3, shifter4 (engine/energy/data.py)
    hidden: int = 4                # 0..12 hidden units; visible + hidden at most 20, so Z can be enumerated
    lr: float = 0.05               # 1e-5..5 learning rate of the correlation differences
    momentum: float = 0.5          # 0..0.99
    weight_decay: float = 0.0001   # 0..0.1: an L2 pull of every weight towards 0
    chains: int = 100              # 1..1000 persistent free-running chains of the negative phase
    gibbs_sweeps: int = 2          # 1..50 sweeps over the free units per phase and step
    seed: int = 0                  # 0..2**31-1: the initial weights and every sample drawn
    max_steps: int = 2000          # 0..10,000,000 parameter updates, then stop; 0 = no limit

    def __post_init__(self) -> None:
        self.validate()
        _whole_numbers_to_int(self, ("hidden", "chains", "gibbs_sweeps", "seed", "max_steps"))

    def validate(self) -> None:
        _check(self.task == "boltzmann", "task", f"a BoltzmannConfig is for task 'boltzmann', got {self.task!r}")
        _check(isinstance(self.data, str) and self.data in PATTERN_SETS, "data",
               f"unknown pattern set {self.data!r}; choose from {', '.join(PATTERN_SETS)}")
        _check_range(self.hidden, "hidden", 0, 12, "hidden units", integer=True)
        units = PATTERN_SETS[self.data][1] + int(self.hidden)
        _check(units <= MAX_ENUMERATED_UNITS, "hidden",
               f"{units} units in all is too many to enumerate 2^{units} states; visible + hidden must be at most "
               f"{MAX_ENUMERATED_UNITS} (this set has {PATTERN_SETS[self.data][1]} visible units)")
        _check_common(self)
        _check_range(self.chains, "chains", 1, 1000, "number of chains", integer=True)
        _check_range(self.gibbs_sweeps, "gibbs_sweeps", 1, 50, "Gibbs sweeps", integer=True)

    @property
    def n_visible(self) -> int:
        return PATTERN_SETS[self.data][1]

    @classmethod
    def from_dict(cls, d: dict) -> "BoltzmannConfig":
        return flat_config_from_dict(cls, d, "the boltzmann config")

    def replace(self, **changes) -> "BoltzmannConfig":
        return BoltzmannConfig.from_dict({**self.to_dict(), **changes})


@dataclass
class RBMConfig(JSONConfigMixin):
    task: str = "rbm"              # always "rbm"
    hidden: int = 64               # 1..1024 hidden units (feature detectors)
    k: int = 1                     # 1..25 Gibbs rounds of CD-k (contrastive divergence)
    persistent: bool = False       # persistent CD: the negative chains carry on from step to step
    lr: float = 0.05               # 1e-5..5
    momentum: float = 0.5          # 0..0.99
    weight_decay: float = 0.0001   # 0..0.1
    batch_size: int = 20           # 1..1024 digits per update (the guide: 10 to 100)
    test_fraction: float = 0.2     # 0.05..0.5 of the 1,797 digits held out (stratified)
    seed: int = 0                  # 0..2**31-1: the split, the weights, the batch order, every sample
    max_steps: int = 10000         # 0..10,000,000 (10,000: about 140 passes over the training digits); 0 = no limit

    def __post_init__(self) -> None:
        self.validate()
        _whole_numbers_to_int(self, ("hidden", "k", "batch_size", "seed", "max_steps"))

    def validate(self) -> None:
        _check(self.task == "rbm", "task", f"an RBMConfig is for task 'rbm', got {self.task!r}")
        _check_range(self.hidden, "hidden", 1, 1024, "hidden units", integer=True)
        _check_range(self.k, "k", 1, 25, "Gibbs rounds k", integer=True)
        _check(isinstance(self.persistent, bool), "persistent", f"must be true or false, got {self.persistent!r}")
        _check_common(self)
        _check_range(self.batch_size, "batch_size", 1, 1024, "batch size", integer=True)
        _check_range(self.test_fraction, "test_fraction", 0.05, 0.5, "test fraction")

    @classmethod
    def from_dict(cls, d: dict) -> "RBMConfig":
        return flat_config_from_dict(cls, d, "the rbm config")

    def replace(self, **changes) -> "RBMConfig":
        return RBMConfig.from_dict({**self.to_dict(), **changes})


@dataclass
class DBNConfig(JSONConfigMixin):
    task: str = "dbn"              # always "dbn"
    hidden: list[int] = field(default_factory=lambda: [100, 50])  # 1..3 RBM layers of 1..512 units
    pretrain_steps: int = 1500     # 1..100,000 CD updates per layer (1,500 at batch 20: about 21 passes)
    k: int = 1                     # 1..25 Gibbs rounds of CD-k while pretraining
    persistent: bool = False       # persistent CD while pretraining
    lr: float = 0.05               # 1e-5..5 pretraining learning rate
    momentum: float = 0.5          # 0..0.99 while pretraining
    weight_decay: float = 0.0001   # 0..0.1 while pretraining
    batch_size: int = 20           # 1..1024 digits per update, pretraining and fine-tuning
    labelled: list[int] = field(default_factory=lambda: [50, 100, 500, LABELLED_ALL])  # 1..6 counts; 0 = all
    finetune_steps: int = 300      # 1..100,000 backprop updates per labelled count (each network)
    finetune_lr: float = 0.01      # 1e-5..1, Adam's learning rate while fine-tuning
    test_fraction: float = 0.2     # 0.05..0.5 of the digits held out
    seed: int = 0                  # 0..2**31-1
    max_steps: int = 0             # 0..10,000,000; 0: stop when the last labelled count is fine-tuned

    def __post_init__(self) -> None:
        self.validate()
        self.hidden = [int(h) for h in self.hidden]
        self.labelled = [int(n) for n in self.labelled]
        _whole_numbers_to_int(self, ("pretrain_steps", "k", "batch_size", "finetune_steps", "seed", "max_steps"))

    def validate(self) -> None:
        _check(self.task == "dbn", "task", f"a DBNConfig is for task 'dbn', got {self.task!r}")
        _check(isinstance(self.hidden, list) and 1 <= len(self.hidden) <= MAX_DBN_LAYERS, "hidden",
               f"give 1 to {MAX_DBN_LAYERS} layer widths, got {self.hidden!r:.80}")
        for i, width in enumerate(self.hidden):
            _check_range(width, f"hidden[{i}]", 1, 512, "layer width", integer=True)
        _check_range(self.pretrain_steps, "pretrain_steps", 1, 100_000, "pretraining steps per layer", integer=True)
        _check_range(self.k, "k", 1, 25, "Gibbs rounds k", integer=True)
        _check(isinstance(self.persistent, bool), "persistent", f"must be true or false, got {self.persistent!r}")
        _check_common(self)
        _check_range(self.batch_size, "batch_size", 1, 1024, "batch size", integer=True)
        _check(isinstance(self.labelled, list) and 1 <= len(self.labelled) <= 6, "labelled",
               f"give 1 to 6 counts of labelled digits, got {self.labelled!r:.80}")
        for i, n in enumerate(self.labelled):
            _check_range(n, f"labelled[{i}]", 0, 100_000, "labelled digits (0: all)", integer=True)
            _check(n == LABELLED_ALL or n >= 10, f"labelled[{i}]",
                   f"use at least 10 labelled digits (one of each), or 0 for all; got {n!r}")
        _check_range(self.finetune_steps, "finetune_steps", 1, 100_000, "fine-tuning steps", integer=True)
        _check_range(self.finetune_lr, "finetune_lr", 1e-5, 1.0, "fine-tuning learning rate")
        _check_range(self.test_fraction, "test_fraction", 0.05, 0.5, "test fraction")

    @property
    def total_steps(self) -> int:
        """Every update of the run: pretraining each layer, then fine-tuning (both networks) per count."""
        return len(self.hidden) * self.pretrain_steps + len(self.labelled) * self.finetune_steps

    @classmethod
    def from_dict(cls, d: dict) -> "DBNConfig":
        return flat_config_from_dict(cls, d, "the dbn config")

    def replace(self, **changes) -> "DBNConfig":
        return DBNConfig.from_dict({**self.to_dict(), **changes})
