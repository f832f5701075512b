"""Neural Playground's engine: pure PyTorch + NumPy, usable from a notebook, a script or
the CLI (`python -m engine --help`). It never imports a UI library."""
from .core.config import ConfigError
from .core.device import describe_device, pick_device
from .mlp.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, structural_changes
from .mlp.data import Dataset2D, grid_points, make_dataset, make_features
from .mlp.models import MLP, build_model
from .mlp.trainer import Snapshot, Trainer

__all__ = [
    "ConfigError", "DataConfig", "ExperimentConfig", "ModelConfig", "TrainConfig", "structural_changes",
    "Dataset2D", "grid_points", "make_dataset", "make_features", "describe_device", "pick_device",
    "MLP", "build_model", "Snapshot", "Trainer",
]
