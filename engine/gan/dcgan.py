"""The digits GAN's two architectures: the MLP pair, and DCGAN (Radford et al., 2016) scaled to 8 × 8.

An MLP sees an image as 64 unrelated numbers. A DCGAN builds the image the way a CNN reads one:

    G:  z (N, noise_dim) --linear--> (N, w/2, 2, 2) --BN, ReLU, transposed conv 4×4 stride 2-->
        (N, w/4, 4, 4) --BN, ReLU, transposed conv 4×4 stride 2--> (N, 1, 8, 8) --sigmoid--> (N, 64)
    D:  x (N, 64) -> (N, 1, 8, 8) --conv 3×3 stride 2, LeakyReLU 0.2--> (N, w/4, 4, 4)
        --conv 3×3 stride 2, BN, LeakyReLU 0.2--> (N, w/2, 2, 2) --linear--> (N,) score

where w is the config's `hidden`. A transposed convolution with stride 2 spreads each cell of a small
map into a 4 × 4 patch of a map twice as large; neighbouring patches overlap and add up. Where the
kernel size is not a multiple of the stride (3 with stride 2) some output pixels receive more patches
than their neighbours, and the images show a checkerboard (Odena et al., 2016, "Deconvolution and
checkerboard artifacts"); kernels of 4 overlap evenly. At 8 × 8, with two such layers, no checkerboard
shows, with kernels of 4 or of 3 (measured: docs/pages/gan.md). With w = 128 both networks hold about
as many parameters as the MLP pair of width 128, arranged differently.

As in the paper: no batch norm on D's first layer nor on G's output, LeakyReLU 0.2 in D, weights
drawn from N(0, 0.02) (batch norm's scales from N(1, 0.02)). Batch norm here keeps no running
averages (track_running_stats=False): it always normalises with the statistics of the batch at
hand, in training and when the page draws samples or asks D for its verdicts, so what the page
shows is what the game sees (D meets real and generated batches apart, as in training), and a
checkpoint holds nothing but the weights. G's samples therefore depend a little on the other noise
vectors of their batch; the trainer always draws the fixed samples as one batch.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from .trainer import mlp

ARCHITECTURES = ("mlp", "dcgan")
LEAK = 0.2          # LeakyReLU's slope below 0 in D, as in the paper
INIT_STD = 0.02     # weights ~ N(0, 0.02), as in the paper


class DCGANGenerator(nn.Module):
    def __init__(self, noise_dim: int, width: int):
        super().__init__()
        self.channels = max(2, width // 2)
        half = max(1, width // 4)
        self.project = nn.Linear(noise_dim, self.channels * 2 * 2, bias=False)  # batch norm supplies the bias
        self.upsample = nn.Sequential(
            nn.BatchNorm2d(self.channels, track_running_stats=False), nn.ReLU(),
            nn.ConvTranspose2d(self.channels, half, 4, stride=2, padding=1, bias=False),  # (N, w/4, 4, 4)
            nn.BatchNorm2d(half, track_running_stats=False), nn.ReLU(),
            nn.ConvTranspose2d(half, 1, 4, stride=2, padding=1),                         # (N, 1, 8, 8)
            nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2:
            raise ValueError(f"noise must be (N, noise_dim), got shape {tuple(z.shape)}")
        small = self.project(z).view(-1, self.channels, 2, 2)  # (N, w/2, 2, 2)
        return self.upsample(small).flatten(1)                 # (N, 64), pixels in 0..1


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        first, second = max(1, width // 4), max(2, width // 2)
        self.features = nn.Sequential(
            nn.Conv2d(1, first, 3, stride=2, padding=1), nn.LeakyReLU(LEAK),                     # (N, w/4, 4, 4)
            nn.Conv2d(first, second, 3, stride=2, padding=1, bias=False),                        # (N, w/2, 2, 2)
            nn.BatchNorm2d(second, track_running_stats=False), nn.LeakyReLU(LEAK))
        self.score = nn.Linear(second * 2 * 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != 64:
            raise ValueError(f"images must be (N, 64) rows of 8 × 8 pixels, got shape {tuple(x.shape)}")
        maps = self.features(x.view(-1, 1, 8, 8))  # (N, w/2, 2, 2)
        return self.score(maps.flatten(1)).squeeze(1)  # (N,)


def _paper_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


def digit_networks(architecture: str, noise_dim: int, width: int) -> tuple[nn.Module, nn.Module]:
    """(G, D) for the digits: G maps (N, noise_dim) noise to (N, 64) pixels in 0..1, D maps (N, 64)
    images to (N,) scores. Their weights come from torch's global generator: seed it first."""
    if architecture == "dcgan":
        G, D = DCGANGenerator(noise_dim, width), DCGANDiscriminator(width)
        G.apply(_paper_init)
        D.apply(_paper_init)
        return G, D
    if architecture != "mlp":
        raise ValueError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}")
    # Two hidden layers of `width`, leaky ReLU. Flatten(0) turns D's (N, 1) into (N,) and holds no
    # weights, so the layers keep the names that checkpoints saved before it know.
    G = nn.Sequential(*mlp(noise_dim, width, 2, "leaky_relu", 64), nn.Sigmoid())
    D = nn.Sequential(*mlp(64, width, 2, "leaky_relu", 1), nn.Flatten(0))
    return G, D


@functools.lru_cache(maxsize=64)
def parameter_counts(architecture: str, noise_dim: int, width: int) -> tuple[int, int]:
    """(G's, D's) number of trainable parameters, counted on networks built for the count; torch's
    random generator is left as it was. (Building them on the meta device would import torch._dynamo,
    seconds on a first page view.)"""
    with torch.random.fork_rng(devices=[]):
        G, D = digit_networks(architecture, noise_dim, width)
    return sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters())
