"""Which config class and trainer each task uses.

The 2-D tasks (classify2d, regress2d) share ExperimentConfig and Trainer. Every other
task lives in a package of its own (engine/<lab>/) with its own config dataclass and trainer, imported
only when that task is asked for, so the CLI and the pages load no more than they use.

A task module's config class has from_dict(dict) (validating, raising ConfigError that
names the field), to_dict() and a default constructor; its trainer is built as
Trainer(config, device) and has step(n) -> snapshot (with to_json_dict(), diverged,
finished), step_count, device and diverged.
"""
from __future__ import annotations

import importlib

from .core.config import ConfigError, parse_config_json

# task -> (module, config class, trainer class)
TASK_CLASSES: dict[str, tuple[str, str, str]] = {
    "classify2d": ("engine.mlp.config", "ExperimentConfig", "engine.mlp.trainer:Trainer"),
    "regress2d": ("engine.mlp.config", "ExperimentConfig", "engine.mlp.trainer:Trainer"),
    "autoencoder": ("engine.autoencoders.config", "AutoencoderConfig", "engine.autoencoders.trainer:AutoencoderTrainer"),
    "gan": ("engine.gan.config", "GANConfig", "engine.gan.trainer:GANTrainer"),
    "charlm": ("engine.sequence.config", "CharLMConfig", "engine.sequence.trainer:CharLMTrainer"),
    "sentiment": ("engine.sentiment.config", "SentimentConfig", "engine.sentiment.trainer:SentimentTrainer"),
    "cnn": ("engine.cnn.config", "CNNConfig", "engine.cnn.trainer:CNNTrainer"),
    "markov": ("engine.sequence.markov", "MarkovConfig", "engine.sequence.markov:MarkovTrainer"),
    "boltzmann": ("engine.energy.config", "BoltzmannConfig", "engine.energy.boltzmann:BoltzmannTrainer"),
    "rbm": ("engine.energy.config", "RBMConfig", "engine.energy.rbm:RBMTrainer"),
    "dbn": ("engine.energy.config", "DBNConfig", "engine.energy.dbn:DBNTrainer"),
    "elm": ("engine.reservoirs.config", "ELMConfig", "engine.reservoirs.elm:ELMTrainer"),
    "esn": ("engine.reservoirs.config", "ESNConfig", "engine.reservoirs.esn:ESNTrainer"),
    "lsm": ("engine.reservoirs.config", "LSMConfig", "engine.reservoirs.lsm:LSMTrainer"),
    "ntm": ("engine.ntm.config", "NTMConfig", "engine.ntm.trainer:NTMTrainer"),
}
DEFAULT_TASK = "classify2d"


def _attr(module: str, name: str):
    return getattr(importlib.import_module(module), name)


def config_class(task: str):
    if task not in TASK_CLASSES:
        raise ConfigError("task", f"unknown task {task!r}; choose from {', '.join(TASK_CLASSES)}")
    module, name, _ = TASK_CLASSES[task]
    return _attr(module, name)


def config_from_dict(d: dict):
    if not isinstance(d, dict):
        raise ConfigError("config", "must be a JSON object")
    task = d.get("task", DEFAULT_TASK)
    if not isinstance(task, str):
        raise ConfigError("task", f"must be a task name, got {task!r}")
    return config_class(task).from_dict(d)


def config_from_json(text: str):
    return config_from_dict(parse_config_json(text))


def default_config(task: str = DEFAULT_TASK):
    cls = config_class(task)
    return cls.for_task(task) if task in ("classify2d", "regress2d") else cls()


def make_trainer(config, device):
    task = getattr(config, "task", DEFAULT_TASK)
    module, name = TASK_CLASSES[task][2].split(":")
    return _attr(module, name)(config, device)
