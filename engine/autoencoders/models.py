"""The autoencoders of the Autoencoders page and the pieces of their losses: linear (the one
PCA is compared with), deep (MLP), conv (small convolutional), sparse (ReLU code with an L1
penalty), denoising (a deep one trained on corrupted inputs), the variational autoencoder (VAE)
and its convolutional form, conv_vae (the Deep Convolutional Inverse Graphics Network's shape:
the conv encoder gives μ and log σ², the transposed convolutions draw the sample back). Also
PCA, principal angles and the softmax probe that reads a code's worth as features.

Shapes: images x (B, 64) in [0, 1] (8×8, row-major); codes z (B, d); reconstructions (B, 64).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.registries import make_activation

N_PIXELS = 64
SIDE = 8
KINDS = ("linear", "deep", "conv", "sparse", "denoising", "vae", "conv_vae")
VARIATIONAL_KINDS = ("vae", "conv_vae")   # a Gaussian code: β·KL, the reparameterisation switch
CONV_KINDS = ("conv", "conv_vae")         # fixed convolutional layers: hidden and depth do not apply
NOISE_TYPES = ("gaussian", "masking")


def _mlp(widths: list[int], activation: str) -> nn.Sequential:
    """Linear layers between consecutive widths, the activation after each one."""
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), make_activation(activation)]
    return nn.Sequential(*layers)


class _Autoencoder(nn.Module):
    variational = False

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class LinearAutoencoder(_Autoencoder):
    """z = W_e x + b_e, x̂ = W_d z + b_d: no activation anywhere. Trained on squared error,
    its best reconstructions are PCA's, and the columns of W_d span the top-k principal
    subspace (Baldi & Hornik 1989) — without being the principal axes themselves."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = nn.Linear(N_PIXELS, latent_dim)   # (B, 64) -> (B, d)
        self.decoder = nn.Linear(latent_dim, N_PIXELS)   # (B, d) -> (B, 64)

    def decoder_basis(self) -> torch.Tensor:
        """(64, d): the directions in pixel space that the codes move the reconstruction along."""
        return self.decoder.weight


class MLPAutoencoder(_Autoencoder):
    """64 -> hidden (×depth) -> d -> hidden (×depth) -> 64, sigmoid output (pixels in [0, 1]).
    With `relu_code` the code itself goes through a ReLU: codes are ≥ 0 and a unit that is
    exactly 0 is off, which is what the sparse autoencoder's L1 penalty pushes toward."""

    def __init__(self, latent_dim: int, hidden: int, depth: int, activation: str, relu_code: bool = False):
        super().__init__()
        code = [nn.ReLU()] if relu_code else []
        self.encoder = nn.Sequential(_mlp([N_PIXELS] + [hidden] * depth, activation),
                                     nn.Linear(hidden, latent_dim), *code)          # (B, 64) -> (B, d)
        self.decoder = nn.Sequential(_mlp([latent_dim] + [hidden] * depth, activation),
                                     nn.Linear(hidden, N_PIXELS), nn.Sigmoid())     # (B, d) -> (B, 64)


class _Unflatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), 16, 2, 2)


CONV_FEATURES = 16 * 2 * 2   # what the conv encoder's body hands to the code layer(s)


def _conv_body(activation: str) -> list[nn.Module]:
    """(B, 64) -> (B, 64): the picture through two strided convolutions, flattened."""
    return [nn.Unflatten(1, (1, SIDE, SIDE)),                                       # (B, 64) -> (B, 1, 8, 8)
            nn.Conv2d(1, 8, 3, stride=2, padding=1), make_activation(activation),   # -> (B, 8, 4, 4)
            nn.Conv2d(8, 16, 3, stride=2, padding=1), make_activation(activation),  # -> (B, 16, 2, 2)
            nn.Flatten()]                                                           # -> (B, 64)


def _conv_decoder(latent_dim: int, activation: str) -> nn.Sequential:
    """(B, d) -> (B, 64) pixels in [0, 1]: the conv encoder mirrored with transposed convolutions."""
    return nn.Sequential(
        nn.Linear(latent_dim, CONV_FEATURES), make_activation(activation), _Unflatten(),  # (B, d) -> (B, 16, 2, 2)
        nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), make_activation(activation),  # -> (B, 8, 4, 4)
        nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),                                # -> (B, 1, 8, 8)
        nn.Flatten(), nn.Sigmoid())                                                      # -> (B, 64)


class ConvAutoencoder(_Autoencoder):
    """Two strided convolutions see the image as a picture: neighbouring pixels share weights.
    Encoder (B, 1, 8, 8) -> conv 3×3 stride 2 -> (B, 8, 4, 4) -> conv 3×3 stride 2 ->
    (B, 16, 2, 2) -> linear -> (B, d); the decoder mirrors it with transposed convolutions."""

    def __init__(self, latent_dim: int, activation: str):
        super().__init__()
        self.encoder = nn.Sequential(*_conv_body(activation), nn.Linear(CONV_FEATURES, latent_dim))  # -> (B, d)
        self.decoder = _conv_decoder(latent_dim, activation)


class _VariationalAutoencoder(nn.Module):
    """The encoder's body gives features h, two heads the mean μ and log-variance log σ² of a
    Gaussian over codes; training samples z from it, the decoder maps z to pixel probabilities
    (sigmoid). Subclasses set body, mean, log_var and decoder."""
    variational = True

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


class VAE(_VariationalAutoencoder):
    """The MLP VAE: 64 -> hidden (×depth) -> (μ, log σ²) of d numbers; z -> hidden (×depth) -> 64."""

    def __init__(self, latent_dim: int, hidden: int, depth: int, activation: str):
        super().__init__()
        self.body = _mlp([N_PIXELS] + [hidden] * depth, activation)  # (B, 64) -> (B, hidden)
        self.mean = nn.Linear(hidden, latent_dim)                     # (B, hidden) -> (B, d)
        self.log_var = nn.Linear(hidden, latent_dim)                  # (B, hidden) -> (B, d)
        self.decoder = nn.Sequential(_mlp([latent_dim] + [hidden] * depth, activation),
                                     nn.Linear(hidden, N_PIXELS), nn.Sigmoid())


class ConvVAE(_VariationalAutoencoder):
    """The convolutional VAE, shaped as the Deep Convolutional Inverse Graphics Network (Kulkarni
    et al. 2015): the conv autoencoder's encoder, whose 64 features feed a μ head and a log σ²
    head, and its transposed-convolution decoder drawing the sampled code back to pixels.
    (B, 64) -> conv body -> (B, 64) -> (B, d), (B, d); z (B, d) -> (B, 64)."""

    def __init__(self, latent_dim: int, activation: str):
        super().__init__()
        self.body = nn.Sequential(*_conv_body(activation))        # (B, 64) -> (B, 64)
        self.mean = nn.Linear(CONV_FEATURES, latent_dim)          # (B, 64) -> (B, d)
        self.log_var = nn.Linear(CONV_FEATURES, latent_dim)       # (B, 64) -> (B, d)
        self.decoder = _conv_decoder(latent_dim, activation)      # (B, d) -> (B, 64)


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


def sparsity_penalty(z: torch.Tensor, weight: float) -> torch.Tensor:
    """The sparse autoencoder's L1 term: weight · mean |z| over every code number of the batch."""
    return weight * z.abs().mean()


def corrupt(x: torch.Tensor, noise: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """The denoising autoencoder's input: gaussian adds N(0, level²) to each pixel (clipped to
    [0, 1]); masking sets each pixel to 0 with probability `level`. Draws from `generator` only."""
    if noise == "masking":
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
        return x * keep
    return (x + level * torch.randn(x.shape, generator=generator, device=x.device)).clamp(0.0, 1.0)


def build_autoencoder(kind: str, latent_dim: int, hidden: int, depth: int, activation: str, seed: int) -> nn.Module:
    """The model on the CPU, initialised from `seed` without touching the global generator.
    conv and conv_vae ignore hidden and depth (their layers are fixed); linear ignores them and the activation."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "linear":
            return LinearAutoencoder(latent_dim)
        if kind in ("deep", "denoising", "sparse"):
            return MLPAutoencoder(latent_dim, hidden, depth, activation, relu_code=kind == "sparse")
        if kind == "conv":
            return ConvAutoencoder(latent_dim, activation)
        if kind == "vae":
            return VAE(latent_dim, hidden, depth, activation)
        if kind == "conv_vae":
            return ConvVAE(latent_dim, activation)
    raise KeyError(kind)


# ---------- reading codes: PCA, principal angles, a softmax probe ----------
def principal_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of a (n, k) and b (n, k)."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))))


class PCA:
    """Principal component analysis by SVD of the centred training images (float64)."""

    def __init__(self, x: np.ndarray, k: int):
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)                                     # (64,)
        _, self.singular_values, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[:k]                                        # (k, 64), orthonormal rows

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(M, 64) -> (M, k) coordinates along the components."""
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        return self.transform(x) @ self.components + self.mean

    def squared_error(self, x: np.ndarray) -> float:
        """Σ (x̂ − x)² per image, averaged over the images."""
        return float(((self.reconstruct(x) - x) ** 2).sum(axis=1).mean())


def softmax_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                           n_classes: int = 10, l2: float = 1e-3, iterations: int = 100) -> float:
    """Test accuracy of a multinomial logistic regression fitted on (N, f) training features:
    the features standardised with the training set's mean and spread, cross-entropy + l2·‖W‖²
    minimised by L-BFGS from zero weights (a convex problem: the same answer for any start).
    How linearly the digits can be read off a code is what makes it a good feature extractor."""
    train_x, test_x = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"features must be (N, f) and (M, f), got {train_x.shape} and {test_x.shape}")
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std[std < 1e-8] = 1.0   # a constant feature (a pixel that is always blank) stays 0
    xs = torch.from_numpy(np.nan_to_num((train_x - mean) / std))
    ys = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
    w = torch.zeros(xs.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xs @ w + b, ys) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        logits = torch.from_numpy(np.nan_to_num((test_x - mean) / std)) @ w + b
    return float((logits.argmax(dim=1).numpy() == np.asarray(test_y)).mean())
