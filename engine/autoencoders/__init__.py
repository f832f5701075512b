"""Autoencoders on 8×8 digits: x -> code z = f(x) -> reconstruction x̂ = g(z).

A linear autoencoder trained on the squared error spans the same subspace as PCA's top
components. Sparse (an L1 penalty on z), denoising (x corrupted, x̂ compared with the clean
x) and convolutional variants change what the code keeps. The VAE encodes a Gaussian
q(z|x) = N(μ, σ²) and samples z = μ + σ·ε, ε ~ N(0, I) (the reparameterisation trick, so
the gradient reaches μ and σ), trained on reconstruction + KL(q(z|x) || N(0, I)); conv_vae is
the same with the convolutional encoder and decoder (the Deep Convolutional Inverse Graphics Network).
"""

from .config import AutoencoderConfig
from .trainer import AutoencoderSnapshot, AutoencoderTrainer
