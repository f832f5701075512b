"""AutoencoderConfig: the autoencoder task's validated settings (model and train sections, JSON round trip)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..core.config import JSONConfigMixin, _check, _check_range, section_from_dict
from ..core.registries import ACTIVATIONS, OPTIMIZERS
from .models import KINDS, NOISE_TYPES

RECON_LOSSES = ("squared", "bce")
MAX_LATENT = 32
# Settings a running trainer takes without losing progress; every other field rebuilds the model.
HOT_FIELDS = ("model.beta", "model.reparameterize", "model.sparsity", "model.noise", "model.noise_level",
              "train.lr", "train.batch_size", "train.max_steps")


@dataclass
class AutoencoderModelConfig:
    kind: str = "deep"            # linear (no activation: compared with PCA), deep, conv, sparse, denoising, vae,
    #                               conv_vae (the VAE with the conv encoder and decoder)
    latent_dim: int = 2           # 1..32 numbers per code; 2 draws the latent plane
    hidden: int = 128             # 4..512 units in each hidden layer of deep / sparse / denoising / vae (conv: fixed)
    depth: int = 1                # 1..3 hidden layers in the encoder; the decoder mirrors them
    activation: str = "relu"      # hidden activation (all but linear): relu, tanh, elu, gelu, ...
    sparsity: float = 0.1         # 0..10 sparse: weight of the L1 penalty, loss = recon + sparsity·mean|z|
    noise: str = "gaussian"       # denoising: gaussian (add N(0, level²), clip to [0, 1]) or masking (zero pixels)
    noise_level: float = 0.3      # 0..1 denoising: the Gaussian's σ, or the share of pixels masked
    beta: float = 1.0             # 0..20 vae, conv_vae: weight of the KL term, loss = recon + β·KL
    reparameterize: bool = True   # vae, conv_vae: z = μ + σ·ε (gradient reaches the encoder) or a plain sample

    def validate(self) -> None:
        _check(isinstance(self.kind, str) and self.kind in KINDS, "model.kind",
               f"unknown autoencoder {self.kind!r}; choose from {', '.join(KINDS)}")
        _check_range(self.latent_dim, "model.latent_dim", 1, MAX_LATENT, "code size", integer=True)
        _check_range(self.hidden, "model.hidden", 4, 512, "hidden layer width", integer=True)
        _check_range(self.depth, "model.depth", 1, 3, "number of hidden layers", integer=True)
        _check(isinstance(self.activation, str) and self.activation in ACTIVATIONS, "model.activation",
               f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        _check_range(self.sparsity, "model.sparsity", 0.0, 10.0, "sparsity weight")
        _check(isinstance(self.noise, str) and self.noise in NOISE_TYPES, "model.noise",
               f"unknown input noise {self.noise!r}; choose from {', '.join(NOISE_TYPES)}")
        _check_range(self.noise_level, "model.noise_level", 0.0, 1.0, "noise level")
        _check_range(self.beta, "model.beta", 0.0, 20.0, "β (KL weight)")
        _check(isinstance(self.reparameterize, bool), "model.reparameterize",
               f"must be true or false, got {self.reparameterize!r}")


@dataclass
class AutoencoderTrainConfig:
    loss: str = "squared"         # squared: Σ (x̂ − x)² per image; bce: the pixels' cross-entropy per image (not linear)
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.003             # 1e-6..10 learning rate; changes on a running trainer
    batch_size: int = 64          # 1..4096 images per step (capped at the training set)
    test_fraction: float = 0.2    # 0.05..0.5 of the 1,797 digits held out (stratified)
    seed: int = 0                 # 0..2**31-1: the split, the initial weights, the batch order, every noise draw
    max_steps: int = 0            # 0..10,000,000: stop by itself at this step; 0 = no limit

    def validate(self) -> None:
        _check(isinstance(self.loss, str) and self.loss in RECON_LOSSES, "train.loss",
               f"unknown reconstruction loss {self.loss!r}; choose from {', '.join(RECON_LOSSES)}")
        _check(isinstance(self.optimizer, str) and self.optimizer in OPTIMIZERS, "train.optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "train.lr", 1e-6, 10.0, "learning rate")
        _check_range(self.batch_size, "train.batch_size", 1, 4096, "batch size", integer=True)
        _check_range(self.test_fraction, "train.test_fraction", 0.05, 0.5, "test fraction")
        _check_range(self.seed, "train.seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "train.max_steps", 0, 10_000_000, "step limit", integer=True)


SECTIONS = {"model": AutoencoderModelConfig, "train": AutoencoderTrainConfig}
# Every field name of a section -> its section (the names do not repeat across sections).
FIELD_SECTION = {f.name: name for name, cls in SECTIONS.items() for f in fields(cls)}


@dataclass
class AutoencoderConfig(JSONConfigMixin):
    task: str = "autoencoder"     # always "autoencoder" (the CLI dispatches on it)
    model: AutoencoderModelConfig = field(default_factory=AutoencoderModelConfig)
    train: AutoencoderTrainConfig = field(default_factory=AutoencoderTrainConfig)

    def __post_init__(self) -> None:
        if isinstance(self.model, str):  # AutoencoderConfig(model="vae") from Python: the kind, other fields default
            self.model = AutoencoderModelConfig(kind=self.model)
        self.validate()
        # 32.0 from a JSON file passes as a whole number; the layers and the slicing need 32.
        for section, names in ((self.model, ("latent_dim", "hidden", "depth")),
                               (self.train, ("batch_size", "seed", "max_steps"))):
            for name in names:
                setattr(section, name, int(getattr(section, name)))

    def validate(self) -> None:
        _check(self.task == "autoencoder", "task", f"must be 'autoencoder' for this config, got {self.task!r}")
        for name, cls in SECTIONS.items():
            _check(isinstance(getattr(self, name), cls), name, "must be an object")
        self.model.validate()
        self.train.validate()
        _check(not (self.model.kind == "linear" and self.train.loss == "bce"), "train.loss",
               "the linear autoencoder's output is unbounded, so it trains on 'squared' error (the loss PCA "
               "minimises); pick 'squared' or another model.kind")

    @classmethod
    def build(cls, **settings) -> "AutoencoderConfig":
        """From flat field names, e.g. build(kind="vae", latent_dim=3, lr=0.01); the rest default."""
        parts: dict[str, dict] = {name: {} for name in SECTIONS}
        for key, value in settings.items():
            _check(key in FIELD_SECTION, key, f"unknown setting; the settings are {', '.join(FIELD_SECTION)}")
            parts[FIELD_SECTION[key]][key] = value
        return cls.from_dict(parts)

    def flat(self) -> dict:
        """Every setting by its own name: {"kind": ..., "latent_dim": ..., "lr": ..., ...}."""
        return {**asdict(self.model), **asdict(self.train)}

    # Short names that read through to the sections.
    latent_dim = property(lambda self: self.model.latent_dim)
    hidden = property(lambda self: self.model.hidden)
    depth = property(lambda self: self.model.depth)
    activation = property(lambda self: self.model.activation)
    seed = property(lambda self: self.train.seed)

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        known = ("task", *SECTIONS)
        for k in d:
            _check(k in known, str(k), f"unknown key; autoencoder config keys are {', '.join(known)}"
                   + (f" (put {k!r} in the {FIELD_SECTION[k]!r} section)" if k in FIELD_SECTION else ""))
        parts = {name: section_from_dict(d, name, sub) for name, sub in SECTIONS.items()}
        return cls(task=d.get("task", "autoencoder"), **parts)

    def replace(self, **changes) -> "AutoencoderConfig":
        """A copy with some settings changed, by their flat names (kind=..., lr=...)."""
        return AutoencoderConfig.build(**{**self.flat(), **changes})


def _dotted(config: AutoencoderConfig) -> dict:
    return {f"{name}.{k}": v for name in SECTIONS for k, v in asdict(getattr(config, name)).items()}


def structural_changes(old: AutoencoderConfig, new: AutoencoderConfig) -> list[str]:
    """Dotted fields that differ and need a new model (everything but HOT_FIELDS)."""
    a, b = _dotted(old), _dotted(new)
    return [k for k in a if a[k] != b[k] and k not in HOT_FIELDS]
