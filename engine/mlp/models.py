"""The MLP builder: hidden blocks of Linear -> norm -> activation -> dropout, with optional skips."""
from __future__ import annotations

import torch
from torch import nn

from ..core.registries import init_linear, make_activation, make_norm
from .config import ExperimentConfig


class HiddenBlock(nn.Module):
    """One hidden layer. (B, d_in) -> (B, d_out); with `residual` and d_in == d_out, x + f(x)."""

    def __init__(self, d_in: int, d_out: int, activation: str, norm: str, dropout: float, residual: bool):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.norm = make_norm(norm, d_out)
        self.act = make_activation(activation)  # forward hooks read this module's output
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual and d_in == d_out
        self.activation_name = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.norm(self.linear(x))))  # (B, d_out)
        return x + h if self.residual else h


class MLP(nn.Module):
    """(B, n_inputs) -> (B, n_outputs) raw scores (logits, or the regression value)."""

    def __init__(self, n_inputs: int, hidden: list[int], activations: list[str], n_outputs: int,
                 norm: str = "none", dropout: float = 0.0, residual: bool = False, init: str = "default"):
        super().__init__()
        widths = [n_inputs] + list(hidden)
        self.blocks = nn.ModuleList(
            HiddenBlock(widths[i], widths[i + 1], activations[i], norm, dropout, residual) for i in range(len(hidden))
        )
        self.output = nn.Linear(widths[-1], n_outputs)
        for block in self.blocks:
            init_linear(block.linear, init, block.activation_name)
        init_linear(self.output, init, "linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.output(x)

    def named_linears(self) -> list[tuple[str, nn.Linear]]:
        """Linear layers from input to output: hidden1 .. hiddenN, output."""
        return [(f"hidden{i + 1}", b.linear) for i, b in enumerate(self.blocks)] + [("output", self.output)]


def n_outputs_for(config: ExperimentConfig) -> int:
    """1 score for regression and two classes, k logits for k > 2 classes."""
    return config.n_classes if config.n_classes > 2 else 1


def build_model(config: ExperimentConfig) -> MLP:
    """Build the config's MLP on the CPU, initialised from the config's seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        return MLP(len(config.data.features), config.model.hidden, config.model.activations(), n_outputs_for(config),
                   norm=config.model.norm, dropout=config.model.dropout, residual=config.model.residual,
                   init=config.model.init)
