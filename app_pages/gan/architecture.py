"""The digits GAN's architecture choice as the page words it: the labels, the paragraph that
explains the chosen one with its parameter counts, and when digits appear. Plain Python, no
Streamlit: tested directly (tests/test_gan_dcgan.py)."""
from __future__ import annotations

from engine.gan.dcgan import parameter_counts
from engine.gan.digits import DigitsGANConfig

ARCHITECTURE_LABELS = {"mlp": "MLP", "dcgan": "DCGAN"}
WIDTH_HELP = ("MLP: the width of G's and D's two hidden layers. DCGAN: w, with G's 2 × 2 map w/2 channels deep "
              "and its 4 × 4 map w/4; D's convolutions have w/4 and w/2 channels")
# Measured with the defaults (seed 0, 1 torch thread): MMD² about 0.07 after 300 steps for the DCGAN,
# after about 2,400 for the MLP (docs/pages/gan.md).
DIGITS_APPEAR = {"mlp": "after about 1,000-3,000 steps", "dcgan": "after a few hundred steps"}

EXPLANATIONS = {
    "mlp": ("**MLP.** G and D are multi-layer perceptrons with two hidden layers each: every unit sees all "
            "64 pixels at once, and nothing tells them that neighbouring pixels belong together, so the "
            "network has to learn what a stroke is from scratch. Choose **DCGAN** to compare."),
    "dcgan": ("**DCGAN** (Radford et al., 2016), scaled down to 8 × 8. G turns the noise into a small map, "
              "2 × 2 with {half} channels (half the width), and **transposed convolutions** with stride 2 "
              "spread each cell of a map into a 4 × 4 patch of a map twice as large (2 × 2 → 4 × 4 → 8 × 8), "
              "overlapping patches adding up ({quarter} channels at 4 × 4); batch norm and ReLU between them, "
              "a sigmoid at the end. The discriminator is a small **CNN**: two 3 × 3 convolutions with stride 2 "
              "(8 × 8 → 4 × 4 → 2 × 2, {quarter} then {half} channels) with leaky ReLU and batch norm in the "
              "middle, then one linear layer gives the score. Both reuse the same few weights at every "
              "position, so a stroke learned in one place is a stroke everywhere: digits appear after a few "
              "hundred steps, where the MLP needs thousands. A stride-2 transposed convolution can leave "
              "**checkerboard** artefacts: where the kernel size is not a multiple of the stride (3 with stride "
              "2), some pixels receive more overlapping patches than their neighbours (Odena et al., 2016). Here "
              "the kernels are 4 × 4 and overlap evenly, and at 8 × 8 none shows; in larger images from deeper "
              "generators it is a well-known blemish."),
}


def architecture_note(config: DigitsGANConfig) -> str:
    """The paragraph for `config`'s architecture, ending with G's and D's parameter counts."""
    g, d = parameter_counts(config.architecture, config.noise_dim, config.hidden)
    label = ARCHITECTURE_LABELS[config.architecture]
    explanation = EXPLANATIONS[config.architecture].format(half=config.hidden // 2, quarter=config.hidden // 4)
    return (f"{explanation} With noise dimension {config.noise_dim} and width {config.hidden}, this {label} has "
            f"**{g:,}** parameters in G and **{d:,}** in D.")
