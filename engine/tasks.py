"""Which config class and trainer each task uses.

The 2-D tasks (classify2d, regress2d) share ExperimentConfig and Trainer. Every other
task lives in a module of its own with its own config dataclass and trainer, imported
only when that task is asked for, so the CLI and the pages load no more than they use.

A task module's config class has from_dict(dict) (validating, raising ConfigError that
names the field), to_dict() and a default constructor; its trainer is built as
Trainer(config, device) and has step(n) -> snapshot (with to_json_dict(), diverged,
finished), step_count, device and diverged.
"""
from __future__ import annotations

import importlib

from .config import ConfigError, parse_config_json

# task -> (module, config class, trainer class)
TASK_CLASSES: dict[str, tuple[str, str, str]] = {
    "classify2d": ("engine.config", "ExperimentConfig", "engine.trainer:Trainer"),
    "regress2d": ("engine.config", "ExperimentConfig", "engine.trainer:Trainer"),
    "autoencoder": ("engine.autoencoder", "AutoencoderConfig", "engine.autoencoder:AutoencoderTrainer"),
    "gan": ("engine.gan", "GANConfig", "engine.gan:GANTrainer"),
    "charlm": ("engine.charlm", "CharLMConfig", "engine.charlm:CharLMTrainer"),
    "sentiment": ("engine.sentiment", "SentimentConfig", "engine.sentiment:SentimentTrainer"),
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
    if task == "regress2d":
        from .config import DataConfig, TrainConfig
        return cls(task=task, data=DataConfig(name="plane"), train=TrainConfig(loss="mse"))
    return cls(task=task) if task == "classify2d" else cls()


def make_trainer(config, device):
    task = getattr(config, "task", DEFAULT_TASK)
    module, name = TASK_CLASSES[task][2].split(":")
    return _attr(module, name)(config, device)
