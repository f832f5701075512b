"""Generative adversarial networks: the minimax game min_G max_D E[log D(x)] + E[log(1 - D(G(z)))].

The discriminator D learns to tell data from the generator's samples; G learns to fool it
(with the non-saturating loss -log D(G(z)) by default). trainer.py plays the game on 2-D
shapes, digits.py on 8×8 digits (with MLPs, or a DCGAN's transposed convolutions and CNN:
dcgan.py); both report the distance between the generated and the real distribution (an
RBF-kernel MMD), so mode collapse shows as a number.
"""

from .config import GANConfig
from .digits import DigitsGANConfig, DigitsGANTrainer
from .trainer import GANSnapshot, GANTrainer
