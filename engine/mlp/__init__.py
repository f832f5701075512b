"""The multilayer perceptron on 2-D data: the Playground and Vanishing gradients.

A network of dense layers h_{l+1} = act(W_l h_l + b_l) (optionally normalised, with dropout
and residual connections h_{l+1} = h_l + act(...)) maps the features of a point (x1, x2, x1², ...)
to a class score or a value. Trainer runs mini-batch gradient descent on it, resumably,
and returns plain-data snapshots: losses, per-layer gradient and weight norms read after
backward() and before optimizer.step() (probes.py), and the outputs over the plane for the
decision boundary. Plain MLPs train on a fused path (fast_mlp.py) that gives the same numbers.

config.py    ExperimentConfig (data, model, train sections)      data.py     the 2-D data sets
models.py    MLP                                                 trainer.py  Trainer, Snapshot
checkpoint.py  save and resume bit for bit                       probes.py   gradient and activation statistics
fast_*.py    the fused path                                      batched_mlp.py  many seeds at once
export.py    a config as a standalone PyTorch script
"""

from .config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, structural_changes
from .trainer import Snapshot, Trainer
