"""ELMConfig, ESNConfig, LSMConfig: the reservoir tasks' validated settings (data, model and train
sections, a JSON round trip), each refusing a bad value with a ConfigError that names its field."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..core.config import JSONConfigMixin, _check, _check_range, section_from_dict

ELM_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "blobs")   # the Playground's classification sets
ELM_ACTIVATIONS = ("tanh", "relu", "sigmoid", "sin")
MAX_ELM_WIDTH = 2000
SERIES_SIGNALS = ("mackey_glass", "sine")
ESN_SIGNALS = (*SERIES_SIGNALS, "digits")
ENCODINGS = ("poisson", "threshold")
MAX_RESERVOIR = 1000


def _choice(value, name: str, choices, what: str) -> None:
    _check(isinstance(value, str) and value in choices, name, f"unknown {what} {value!r:.60}; choose from {', '.join(choices)}")


def _seed(value, name: str) -> None:
    _check_range(value, name, 0, 2**31 - 1, "seed", integer=True)


def _whole(section, names) -> None:
    """8.0 from a JSON file passes as a whole number; the code that slices and sizes needs 8."""
    for name in names:
        setattr(section, name, int(getattr(section, name)))


class SectionedConfig(JSONConfigMixin):
    """The shared frame of the three configs: a task name and the sections in SECTIONS."""
    TASK = ""
    SECTIONS: dict[str, type] = {}

    def __post_init__(self) -> None:
        self.validate()
        for name in self.SECTIONS:
            section = getattr(self, name)
            if hasattr(section, "whole_numbers"):
                section.whole_numbers()

    def validate(self) -> None:
        _check(self.task == self.TASK, "task", f"must be {self.TASK!r} for this config, got {self.task!r:.60}")
        for name, cls in self.SECTIONS.items():
            _check(isinstance(getattr(self, name), cls), name, "must be an object")
            getattr(self, name).validate()

    @classmethod
    def from_dict(cls, d: dict):
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = ("task", *cls.SECTIONS)
        for k in d:
            _check(k in known, str(k)[:60], f"unknown key; {cls.TASK} config keys are {', '.join(known)}")
        parts = {name: section_from_dict(d, name, sub) for name, sub in cls.SECTIONS.items()}
        return cls(task=d.get("task", cls.TASK), **parts)

    def flat(self) -> dict:
        """Every setting by its section and name: {"data.name": ..., "model.hidden": ..., ...}."""
        return {f"{name}.{k}": v for name in self.SECTIONS for k, v in asdict(getattr(self, name)).items()}

    def replace(self, **sections):
        """A copy with some settings changed: replace(model={"ridge": 0.1})."""
        d = self.to_dict()
        for name, values in sections.items():
            _check(name in self.SECTIONS and isinstance(values, dict), name, "give a section's changes as a dict")
            d[name].update(values)
        return type(self).from_dict(d)

    @property
    def seed(self) -> int:
        return self.train.seed


# ---------- extreme learning machine ----------
@dataclass
class ELMDataConfig:
    name: str = "spiral"          # circle, xor, gauss, spiral, moons, blobs (engine/mlp/data.py)
    n_samples: int = 400          # 20..5,000 points, train and test together
    noise: float = 0.2            # 0..0.5, the Playground's noise
    test_fraction: float = 0.5    # 0.1..0.9 held out

    def validate(self) -> None:
        _choice(self.name, "data.name", ELM_DATASETS, "data set")
        _check_range(self.n_samples, "data.n_samples", 20, 5000, "number of points", integer=True)
        _check_range(self.noise, "data.noise", 0.0, 0.5, "noise")
        _check_range(self.test_fraction, "data.test_fraction", 0.1, 0.9, "test fraction")

    def whole_numbers(self) -> None:
        _whole(self, ("n_samples",))


@dataclass
class ELMModelConfig:
    hidden: int = 100             # 1..2,000 fixed random hidden units
    activation: str = "tanh"      # tanh, relu, sigmoid, sin
    input_scale: float = 3.0      # 0.01..100: the random input weights' and biases' spread (inputs in [-1, 1])
    # 0..1e4: λ of the ridge read-out; 0 is plain least squares. The default is nearly none, so that the
    # sweep shows a width past the 200 training points interpolating the noise (test accuracy falls from
    # 98 % to 74 % on the default spiral); λ = 1e-3 keeps it at 99 %.
    ridge: float = 1e-8

    def validate(self) -> None:
        _check_range(self.hidden, "model.hidden", 1, MAX_ELM_WIDTH, "hidden units", integer=True)
        _choice(self.activation, "model.activation", ELM_ACTIVATIONS, "activation")
        _check_range(self.input_scale, "model.input_scale", 0.01, 100.0, "input scale")
        _check_range(self.ridge, "model.ridge", 0.0, 1e4, "ridge λ")

    def whole_numbers(self) -> None:
        _whole(self, ("hidden",))


@dataclass
class ELMTrainConfig:
    seed: int = 0                 # the points, the random hidden layer
    # The sweep: one width fitted per step, train and test accuracy for each (the units are nested:
    # width 20 is the first 20 units of width 50).
    sweep: list[int] = field(default_factory=lambda: [2, 5, 10, 20, 50, 100, 200, 500, 1000])

    def validate(self) -> None:
        _seed(self.seed, "train.seed")
        _check(isinstance(self.sweep, list) and 1 <= len(self.sweep) <= 30, "train.sweep",
               f"give 1 to 30 hidden widths, got {self.sweep!r:.80}")
        for i, width in enumerate(self.sweep):
            _check_range(width, f"train.sweep[{i}]", 1, MAX_ELM_WIDTH, "hidden width", integer=True)

    def whole_numbers(self) -> None:
        _whole(self, ("seed",))
        self.sweep = [int(w) for w in self.sweep]


@dataclass
class ELMConfig(SectionedConfig):
    task: str = "elm"
    data: ELMDataConfig = field(default_factory=ELMDataConfig)
    model: ELMModelConfig = field(default_factory=ELMModelConfig)
    train: ELMTrainConfig = field(default_factory=ELMTrainConfig)
    TASK = "elm"
    SECTIONS = {"data": ELMDataConfig, "model": ELMModelConfig, "train": ELMTrainConfig}


# ---------- echo state network ----------
@dataclass
class ESNDataConfig:
    signal: str = "mackey_glass"  # mackey_glass (τ = 17), sine (two sines), digits (8×8 digits row by row)
    train_length: int = 2000      # 100..20,000 time steps of the series the read-out learns from
    test_length: int = 500        # 50..5,000 time steps after them, predicted one step ahead
    washout: int = 100            # 0..1,000 first steps whose states are not used (the initial state fades)
    free_run: int = 300           # 10..2,000 steps predicted from the model's own output
    test_fraction: float = 0.2    # digits: 0.05..0.5 of the 1,797 digits held out

    def validate(self) -> None:
        _choice(self.signal, "data.signal", ESN_SIGNALS, "signal")
        _check_range(self.train_length, "data.train_length", 100, 20_000, "training length", integer=True)
        _check_range(self.test_length, "data.test_length", 50, 5000, "test length", integer=True)
        _check_range(self.washout, "data.washout", 0, 1000, "washout", integer=True)
        _check_range(self.free_run, "data.free_run", 10, 2000, "free-running length", integer=True)
        _check_range(self.test_fraction, "data.test_fraction", 0.05, 0.5, "test fraction")

    def whole_numbers(self) -> None:
        _whole(self, ("train_length", "test_length", "washout", "free_run"))


@dataclass
class ESNModelConfig:
    size: int = 200               # 1..1,000 reservoir units
    spectral_radius: float = 0.9  # 0..3: the largest |eigenvalue| of the recurrent weights
    input_scaling: float = 0.5    # 0..10: the input weights' spread
    leak_rate: float = 0.3        # 0.001..1: a in x' = (1 − a) x + a tanh(W_in u + W x)
    density: float = 0.1          # 0.001..1: the share of recurrent connections present
    ridge: float = 1e-6           # 0..1e4: λ of the ridge read-out

    def validate(self) -> None:
        _check_range(self.size, "model.size", 1, MAX_RESERVOIR, "reservoir size", integer=True)
        _check_range(self.spectral_radius, "model.spectral_radius", 0.0, 3.0, "spectral radius")
        _check_range(self.input_scaling, "model.input_scaling", 0.0, 10.0, "input scaling")
        _check_range(self.leak_rate, "model.leak_rate", 0.001, 1.0, "leak rate")
        _check_range(self.density, "model.density", 0.001, 1.0, "connection density")
        _check_range(self.ridge, "model.ridge", 0.0, 1e4, "ridge λ")

    def whole_numbers(self) -> None:
        _whole(self, ("size",))


@dataclass
class ESNTrainConfig:
    seed: int = 0                 # the reservoir's random weights (and the digits' split)
    samples_per_step: int = 250   # 1..20,000 time steps (digits: digits) driven through per step

    def validate(self) -> None:
        _seed(self.seed, "train.seed")
        _check_range(self.samples_per_step, "train.samples_per_step", 1, 20_000, "samples per step", integer=True)

    def whole_numbers(self) -> None:
        _whole(self, ("seed", "samples_per_step"))


@dataclass
class ESNConfig(SectionedConfig):
    task: str = "esn"
    data: ESNDataConfig = field(default_factory=ESNDataConfig)
    model: ESNModelConfig = field(default_factory=ESNModelConfig)
    train: ESNTrainConfig = field(default_factory=ESNTrainConfig)
    TASK = "esn"
    SECTIONS = {"data": ESNDataConfig, "model": ESNModelConfig, "train": ESNTrainConfig}


# ---------- liquid state machine ----------
@dataclass
class LSMDataConfig:
    encoding: str = "poisson"     # poisson (random spikes, rate ∝ ink) or threshold (ink ≥ 0.5 fires every step)
    steps_per_row: int = 10       # 1..50 time steps (of dt ms) each row of the digit is held
    max_rate: float = 1.0         # 0..1 poisson: spike probability per step of a full-ink pixel
    test_fraction: float = 0.2    # 0.05..0.5 of the 1,797 digits held out

    def validate(self) -> None:
        _choice(self.encoding, "data.encoding", ENCODINGS, "encoding")
        _check_range(self.steps_per_row, "data.steps_per_row", 1, 50, "steps per row", integer=True)
        _check_range(self.max_rate, "data.max_rate", 0.0, 1.0, "spike probability per step")
        _check_range(self.test_fraction, "data.test_fraction", 0.05, 0.5, "test fraction")

    def whole_numbers(self) -> None:
        _whole(self, ("steps_per_row",))


@dataclass
class LSMModelConfig:
    size: int = 300               # 1..1,000 leaky integrate-and-fire neurons
    excitatory: float = 0.8       # 0..1 share of excitatory neurons (the rest inhibit: negative weights)
    density: float = 0.1          # 0.001..1 share of recurrent connections present
    input_density: float = 0.5    # 0.001..1 share of (input, neuron) connections present
    input_weight: float = 0.5     # 0..10 largest input weight (a spike adds up to this to the drive)
    excitatory_weight: float = 0.05  # 0..10 largest excitatory recurrent weight
    inhibitory_weight: float = 0.2   # 0..10 largest inhibitory weight (its size; the sign is negative)
    tau_ms: float = 20.0          # 1..1,000 membrane time constant
    dt_ms: float = 1.0            # 0.01..10 time step
    threshold: float = 1.0        # 0.01..100 membrane potential that fires a spike (rest is 0)
    reset: float = 0.0            # -100..threshold: the potential right after a spike
    refractory_ms: float = 2.0    # 0..100 time after a spike in which the neuron is held at reset
    readout_bins: int = 4         # 1..8: the presentation cut into this many windows; the read-out sees
                                  # every neuron's spike count in each (size × bins features)
    ridge: float = 100.0          # 0..1e4 λ of the read-out on the spike counts

    def validate(self) -> None:
        _check_range(self.size, "model.size", 1, MAX_RESERVOIR, "number of neurons", integer=True)
        _check_range(self.excitatory, "model.excitatory", 0.0, 1.0, "excitatory share")
        _check_range(self.density, "model.density", 0.001, 1.0, "connection density")
        _check_range(self.input_density, "model.input_density", 0.001, 1.0, "input connection density")
        for name in ("input_weight", "excitatory_weight", "inhibitory_weight"):
            _check_range(getattr(self, name), f"model.{name}", 0.0, 10.0, name.replace("_", " "))
        _check_range(self.tau_ms, "model.tau_ms", 1.0, 1000.0, "membrane time constant (ms)")
        _check_range(self.dt_ms, "model.dt_ms", 0.01, 10.0, "time step (ms)")
        _check_range(self.threshold, "model.threshold", 0.01, 100.0, "threshold")
        _check_range(self.reset, "model.reset", -100.0, 100.0, "reset potential")
        _check(self.reset < self.threshold, "model.reset",
               f"the reset potential must lie below the threshold ({self.threshold:g}), got {self.reset:g}")
        _check_range(self.refractory_ms, "model.refractory_ms", 0.0, 100.0, "refractory period (ms)")
        _check_range(self.readout_bins, "model.readout_bins", 1, 8, "read-out windows", integer=True)
        _check_range(self.ridge, "model.ridge", 0.0, 1e4, "ridge λ")

    def whole_numbers(self) -> None:
        _whole(self, ("size", "readout_bins"))


@dataclass
class LSMTrainConfig:
    seed: int = 0                 # the split, the weights, the Poisson spikes
    samples_per_step: int = 200   # 1..2,000 training digits driven through the liquid per step

    def validate(self) -> None:
        _seed(self.seed, "train.seed")
        _check_range(self.samples_per_step, "train.samples_per_step", 1, 2000, "digits per step", integer=True)

    def whole_numbers(self) -> None:
        _whole(self, ("seed", "samples_per_step"))


@dataclass
class LSMConfig(SectionedConfig):
    task: str = "lsm"
    data: LSMDataConfig = field(default_factory=LSMDataConfig)
    model: LSMModelConfig = field(default_factory=LSMModelConfig)
    train: LSMTrainConfig = field(default_factory=LSMTrainConfig)
    TASK = "lsm"
    SECTIONS = {"data": LSMDataConfig, "model": LSMModelConfig, "train": LSMTrainConfig}


__all__ = ["ELMConfig", "ESNConfig", "LSMConfig", "ELM_DATASETS", "ESN_SIGNALS", "ENCODINGS"]
