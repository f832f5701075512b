"""Neural Playground's engine: pure PyTorch + NumPy, usable from a notebook, a script or
the CLI (`python -m engine --help`). It never imports a UI library."""
from .config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig, structural_changes
from .data import Dataset2D, grid_points, make_dataset, make_features
from .device import describe_device, pick_device
from .models import MLP, build_model
from .trainer import Snapshot, Trainer

__all__ = [
    "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig", "TrainConfig", "structural_changes",
    "Dataset2D", "grid_points", "make_dataset", "make_features", "describe_device", "pick_device",
    "MLP", "build_model", "Snapshot", "Trainer",
]
