"""NTMConfig: the ntm task's validated settings (data, model and train sections, JSON round trip)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..core.config import JSONConfigMixin, _check, _check_range, section_from_dict
from ..core.registries import OPTIMIZERS

MAX_LENGTH = 32            # longest training sequence: 65 steps of the controller per sequence
# Settings a running trainer takes without losing progress; every other field rebuilds both models.
HOT_FIELDS = ("train.lr", "train.clip", "train.batch_size", "train.max_steps")


@dataclass
class NTMDataConfig:
    bits: int = 6                 # 1..16 random bits per vector (the input has one more: the delimiter)
    min_length: int = 1           # 1..32 shortest training sequence
    max_length: int = 8           # min_length..32 longest; "try longer" tests up to 3 × this

    def validate(self) -> None:
        _check_range(self.bits, "data.bits", 1, 16, "bits per vector", integer=True)
        _check_range(self.min_length, "data.min_length", 1, MAX_LENGTH, "shortest sequence", integer=True)
        _check_range(self.max_length, "data.max_length", 1, MAX_LENGTH, "longest sequence", integer=True)
        _check(self.max_length >= self.min_length, "data.max_length",
               f"longest sequence ({self.max_length}) must be at least the shortest ({self.min_length})")


@dataclass
class NTMModelConfig:
    # A small controller is chosen on purpose: with 64 or more LSTM units the controller alone holds a
    # sequence of 8 × 6 bits, learns that instead, and then fails on longer sequences; with 16 it has
    # to use the memory, learns fastest (seeds 0-5: 350-600 steps to < 1 % wrong bits, against 400-1,500
    # with 32) and copies sequences three times longer than trained (docs/pages/ntm.md).
    controller: int = 16          # 4..256 LSTM units of the controller
    memory_slots: int = 32        # 4..128 rows N of the memory: the longest sequence it can hold
    memory_width: int = 12        # 2..64 numbers M in each row
    lstm_hidden: int = 0          # 0..512 units of the LSTM it is compared with; 0 = as many parameters as the NTM

    def validate(self) -> None:
        _check_range(self.controller, "model.controller", 4, 256, "controller size", integer=True)
        _check_range(self.memory_slots, "model.memory_slots", 4, 128, "memory slots", integer=True)
        _check_range(self.memory_width, "model.memory_width", 2, 64, "memory width", integer=True)
        _check_range(self.lstm_hidden, "model.lstm_hidden", 0, 512, "LSTM hidden size", integer=True)


@dataclass
class NTMTrainConfig:
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.005             # 1e-6..1 learning rate of both models; changes on a running trainer
    batch_size: int = 32          # 1..512 sequences per step, all of one length drawn from the range
    clip: float = 10.0            # 0..1000: gradient norm clipped to this (0 = no clipping)
    seed: int = 0                 # 0..2**31-1: the weights, the memory's start, every sequence
    max_steps: int = 3000         # 0..10,000,000: stop by itself at this step; 0 = no limit

    def validate(self) -> None:
        _check(isinstance(self.optimizer, str) and self.optimizer in OPTIMIZERS, "train.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "train.lr", 1e-6, 1.0, "learning rate")
        _check_range(self.batch_size, "train.batch_size", 1, 512, "batch size", integer=True)
        _check_range(self.clip, "train.clip", 0.0, 1000.0, "gradient clip")
        _check_range(self.seed, "train.seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "train.max_steps", 0, 10_000_000, "step limit", integer=True)


SECTIONS = {"data": NTMDataConfig, "model": NTMModelConfig, "train": NTMTrainConfig}
INTEGER_FIELDS = {"data": ("bits", "min_length", "max_length"),
                  "model": ("controller", "memory_slots", "memory_width", "lstm_hidden"),
                  "train": ("batch_size", "seed", "max_steps")}
# Every field name of a section -> its section (the names do not repeat across sections).
FIELD_SECTION = {f.name: name for name, cls in SECTIONS.items() for f in fields(cls)}


@dataclass
class NTMConfig(JSONConfigMixin):
    task: str = "ntm"             # always "ntm" (the CLI dispatches on it)
    data: NTMDataConfig = field(default_factory=NTMDataConfig)
    model: NTMModelConfig = field(default_factory=NTMModelConfig)
    train: NTMTrainConfig = field(default_factory=NTMTrainConfig)

    def __post_init__(self) -> None:
        self.validate()
        # 8.0 from a JSON file passes as a whole number; sizes and slicing need 8.
        for name, names in INTEGER_FIELDS.items():
            section = getattr(self, name)
            for f in names:
                setattr(section, f, int(getattr(section, f)))
        self.train.lr, self.train.clip = float(self.train.lr), float(self.train.clip)

    def validate(self) -> None:
        _check(self.task == "ntm", "task", f"must be 'ntm' for this config, got {self.task!r}")
        for name, cls in SECTIONS.items():
            _check(isinstance(getattr(self, name), cls), name, "must be an object")
            getattr(self, name).validate()
        _check(self.data.max_length <= self.model.memory_slots, "model.memory_slots",
               f"the memory must hold the longest training sequence: give at least {self.data.max_length} "
               f"slots, or shorter sequences (got {self.model.memory_slots})")

    @classmethod
    def build(cls, **settings) -> "NTMConfig":
        """From flat field names, e.g. build(bits=4, max_length=6, lr=0.01); the rest default."""
        parts: dict[str, dict] = {name: {} for name in SECTIONS}
        for key, value in settings.items():
            _check(key in FIELD_SECTION, key, f"unknown setting; the settings are {', '.join(FIELD_SECTION)}")
            parts[FIELD_SECTION[key]][key] = value
        return cls.from_dict(parts)

    def flat(self) -> dict:
        """Every setting by its own name: {"bits": ..., "controller": ..., "lr": ..., ...}."""
        return {k: v for name in SECTIONS for k, v in asdict(getattr(self, name)).items()}

    def replace(self, **changes) -> "NTMConfig":
        """A copy with some settings changed, by their flat names."""
        return NTMConfig.build(**{**self.flat(), **changes})

    seed = property(lambda self: self.train.seed)

    @classmethod
    def from_dict(cls, d: dict) -> "NTMConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = ("task", *SECTIONS)
        for k in d:
            _check(k in known, str(k), f"unknown key; ntm config keys are {', '.join(known)}"
                   + (f" (put {k!r} in the {FIELD_SECTION[k]!r} section)" if k in FIELD_SECTION else ""))
        parts = {name: section_from_dict(d, name, sub) for name, sub in SECTIONS.items()}
        return cls(task=d.get("task", "ntm"), **parts)


def structural_changes(old: NTMConfig, new: NTMConfig) -> list[str]:
    """Dotted fields that differ and need new models (everything but HOT_FIELDS)."""
    a = {f"{s}.{k}": v for s in SECTIONS for k, v in asdict(getattr(old, s)).items()}
    b = {f"{s}.{k}": v for s in SECTIONS for k, v in asdict(getattr(new, s)).items()}
    return [k for k in a if a[k] != b[k] and k not in HOT_FIELDS]
