"""The autoencoders of the Autoencoders page: linear (the one PCA is compared with), a
nonlinear MLP autoencoder, and a variational autoencoder (VAE).

Shapes: images x (B, 64) in [0, 1]; codes z (B, d); reconstructions (B, 64).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registries import make_activation

N_PIXELS = 64


def _mlp(widths: list[int], activation: str) -> nn.Sequential:
    """Linear layers between consecutive widths, the activation after each one."""
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), make_activation(activation)]
    return nn.Sequential(*layers)


class LinearAutoencoder(nn.Module):
    """z = W_e x + b_e, x̂ = W_d z + b_d: no activation anywhere. Trained on squared error,
    its best reconstructions are PCA's, and the columns of W_d span the top-k principal
    subspace (Baldi & Hornik 1989) — without being the principal axes themselves."""
    variational = False

    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = nn.Linear(N_PIXELS, latent_dim)   # (B, 64) -> (B, d)
        self.decoder = nn.Linear(latent_dim, N_PIXELS)   # (B, d) -> (B, 64)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decoder_basis(self) -> torch.Tensor:
        """(64, d): the directions in pixel space that the codes move the reconstruction along."""
        return self.decoder.weight


class MLPAutoencoder(nn.Module):
    """64 -> hidden (×depth) -> d -> hidden (×depth) -> 64, sigmoid output (pixels in [0, 1])."""
    variational = False

    def __init__(self, latent_dim: int, hidden: int, depth: int, activation: str):
        super().__init__()
        self.encoder = nn.Sequential(_mlp([N_PIXELS] + [hidden] * depth, activation),
                                     nn.Linear(hidden, latent_dim))          # (B, 64) -> (B, d)
        self.decoder = nn.Sequential(_mlp([latent_dim] + [hidden] * depth, activation),
                                     nn.Linear(hidden, N_PIXELS), nn.Sigmoid())  # (B, d) -> (B, 64)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class VAE(nn.Module):
    """The encoder gives the mean μ and log-variance log σ² of a Gaussian over codes;
    training samples z from it, the decoder maps z to pixel probabilities (sigmoid)."""
    variational = True

    def __init__(self, latent_dim: int, hidden: int, depth: int, activation: str):
        super().__init__()
        self.body = _mlp([N_PIXELS] + [hidden] * depth, activation)  # (B, 64) -> (B, hidden)
        self.mean = nn.Linear(hidden, latent_dim)                     # (B, hidden) -> (B, d)
        self.log_var = nn.Linear(hidden, latent_dim)                  # (B, hidden) -> (B, d)
        self.decoder = nn.Sequential(_mlp([latent_dim] + [hidden] * depth, activation),
                                     nn.Linear(hidden, N_PIXELS), nn.Sigmoid())

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Every parameter upstream of the code: the body and the μ and log σ² heads."""
        return [*self.body.parameters(), *self.mean.parameters(), *self.log_var.parameters()]

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        # Clamped so that exp(log σ²) can neither overflow nor vanish in float32.
        return self.mean(h), self.log_var(h).clamp(-12.0, 12.0)   # (B, d), (B, d)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The mean code: what the page plots and decodes at evaluation."""
        return self.encode_distribution(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def sample_code(mean: torch.Tensor, log_var: torch.Tensor, noise: torch.Tensor, reparameterize: bool) -> torch.Tensor:
    """z ~ N(μ, σ²) from standard-normal noise ε (B, d).

    With the reparameterisation trick z = μ + σ·ε is a differentiable function of μ and
    σ, so the reconstruction loss sends gradients into the encoder. Without it, z is the
    same draw taken as a plain sample — a number with no derivative with respect to μ or
    σ — so the reconstruction's gradient stops at z and only the KL term reaches the encoder."""
    z = mean + torch.exp(0.5 * log_var) * noise
    return z if reparameterize else z.detach()


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per image, summed over the d code dimensions: (B,)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1)


def recon_loss_per_image(x_hat: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """(B, 64), (B, 64) -> (B,): squared error or the pixels' binary cross-entropy, summed over pixels."""
    if kind == "bce":
        return F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none").sum(dim=1)
    return (x_hat - x).pow(2).sum(dim=1)


def build_autoencoder(kind: str, latent_dim: int, hidden: int, depth: int, activation: str, seed: int) -> nn.Module:
    """The model on the CPU, initialised from `seed` without touching the global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "linear":
            return LinearAutoencoder(latent_dim)
        if kind == "mlp":
            return MLPAutoencoder(latent_dim, hidden, depth, activation)
        if kind == "vae":
            return VAE(latent_dim, hidden, depth, activation)
    raise KeyError(kind)
