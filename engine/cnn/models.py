"""The networks of the cnn task: a convolutional feature extractor with a small head, and the dense
network (MLP) it is compared with. Both map images (B, 1, 8, 8) (or rows (B, 64)) to 10 class scores.

Layer names are those the page shows: conv1, norm1, act1, pool1, ..., global_max for the stages
(engine.cnn.geometry), then dense and output in the head; hidden1, ... and output in the MLP.
Dropout draws its masks from a generator the trainer owns (SeededDropout), never from the global
one, so a run does not depend on what else draws random numbers, and checkpoints can save it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.digits import IMAGE_SIDE, N_CLASSES, N_PIXELS
from ..core.registries import make_activation
from .geometry import head_features


class SeededDropout(nn.Module):
    """Inverted dropout (keep each number with probability 1 − p, scale the kept by 1/(1 − p)), its
    masks drawn from `generator`. p can change while a run trains (a hot setting); p = 0 draws nothing."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


class Head(nn.Module):
    """Features (B, F) -> [dropout, dense, activation] -> dropout -> output (B, 10)."""

    def __init__(self, n_features: int, dense: int, activation: str, dropout: float):
        super().__init__()
        self.drop_features = SeededDropout(dropout)
        if dense:
            self.dense = nn.Linear(n_features, dense)      # (B, F) -> (B, dense)
            self.act = make_activation(activation)
            self.drop_dense = SeededDropout(dropout)
        self.output = nn.Linear(dense or n_features, N_CLASSES)  # -> (B, 10)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.drop_features(h)
        if hasattr(self, "dense"):
            h = self.drop_dense(self.act(self.dense(h)))
        return self.output(h)


class ConvNet(nn.Module):
    """The stages of config.stages() in order (conv, batch norm, activation, 2×2 pooling, global
    pooling), then the head on the last map flattened: (B, 1, 8, 8) -> (B, C, H, W) ... -> (B, 10)."""
    kind = "cnn"

    def __init__(self, model_config):
        super().__init__()
        m = model_config
        self.stages = m.stages()
        layers, c_in = {}, 1
        for s in self.stages:
            if s.kind == "conv":
                layers[s.name] = nn.Conv2d(c_in, s.channels, s.kernel, stride=s.stride, padding=s.padding,
                                           dilation=s.dilation)       # (B, C_in, n, n) -> (B, C, n', n')
                c_in = s.channels
            elif s.kind == "norm":
                layers[s.name] = nn.BatchNorm2d(s.channels)
            elif s.kind == "act":
                layers[s.name] = make_activation(m.activation)
            elif s.kind == "pool":
                layers[s.name] = nn.MaxPool2d(2) if m.pool == "max" else nn.AvgPool2d(2)   # n -> ⌊n/2⌋
            else:  # global pooling: (B, C, n, n) -> (B, C, 1, 1)
                layers[s.name] = nn.AdaptiveMaxPool2d(1) if m.head == "global_max" else nn.AdaptiveAvgPool2d(1)
        self.features = nn.ModuleDict(layers)
        self.head = Head(head_features(self.stages), int(m.dense), m.activation, m.dropout)

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """Class scores (B, 10); with `record`, appends (stage name, its map (B, C, H, W)) for every stage."""
        h = x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        for name, layer in self.features.items():
            h = layer(h)
            if record is not None:
                record.append((name, h))
        return self.head(h.flatten(1))

    def weight_layers(self) -> list[tuple[str, nn.Module]]:
        """(name, layer) of every layer with a weight matrix or kernel, input to output."""
        convs = [(name, layer) for name, layer in self.features.items() if isinstance(layer, nn.Conv2d)]
        dense = [("dense", self.head.dense)] if hasattr(self.head, "dense") else []
        return convs + dense + [("output", self.head.output)]

    def first_layer_filters(self) -> torch.Tensor:
        """(C_out, 1, k, k): conv1's kernels."""
        return self.features["conv1"].weight


class MLPNet(nn.Module):
    """(B, 64) -> [linear, batch norm, activation, dropout] per hidden layer -> output (B, 10): every
    hidden unit sees every pixel, with a weight of its own for each position."""
    kind = "mlp"
    stages: list = []

    def __init__(self, model_config):
        super().__init__()
        m = model_config
        widths = [N_PIXELS] + [int(w) for w in m.mlp_hidden]
        self.hidden = nn.ModuleDict({
            f"hidden{i}": nn.Sequential(nn.Linear(a, b), *([nn.BatchNorm1d(b)] if m.batch_norm else []),
                                        make_activation(m.activation), SeededDropout(m.dropout))
            for i, (a, b) in enumerate(zip(widths, widths[1:]), start=1)})
        self.output = nn.Linear(widths[-1], N_CLASSES)

    def forward(self, x: torch.Tensor, record: list | None = None) -> torch.Tensor:
        h = x.reshape(-1, N_PIXELS)
        for block in self.hidden.values():
            h = block(h)
        return self.output(h)

    def weight_layers(self) -> list[tuple[str, nn.Module]]:
        return [(name, block[0]) for name, block in self.hidden.items()] + [("output", self.output)]

    def first_layer_filters(self) -> torch.Tensor:
        """(H, 1, 8, 8): each first hidden unit's 64 weights laid out as the image they multiply."""
        return self.hidden["hidden1"][0].weight.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)


def build_network(model_config, seed: int) -> nn.Module:
    """The network on the CPU, initialised from `seed` (PyTorch's default initialisation) without
    touching the global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConvNet(model_config) if model_config.kind == "cnn" else MLPNet(model_config)


def dropout_layers(model: nn.Module) -> list[SeededDropout]:
    return [m for m in model.modules() if isinstance(m, SeededDropout)]
