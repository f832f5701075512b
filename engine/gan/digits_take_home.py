"""Take the digits GAN home: a DigitsGANConfig -> the pieces of a notebook (or script) that plays it.

As for the game on the plane (take_home.py, which offers this module's `pieces` as digits_pieces): the engine's own networks, losses and distance are
inlined, the digits come from scikit-learn as the trainer loads them, and every random draw (the
weights, the fixed samples, each batch) is made from the same seed, generator and order as
DigitsGANTrainer's, so the notebook prints what its snapshots report.
"""
from __future__ import annotations

from ..core.take_home import CURVE_POINTS, SHOW_SOURCE, check_steps, code, config_json_lines, markdown, source_of
from .dcgan import DCGANDiscriminator, DCGANGenerator, _paper_init, digit_networks
from .digits import DigitsGANConfig, load_digit_pixels
from .notebook_parts import LOSS_WORDS, source_of_losses, times
from .trainer import mlp

ARCHITECTURE_WORDS = {
    "mlp": "multi-layer perceptrons with two hidden layers of {hidden} leaky-ReLU units each: they see an image as "
           "64 unrelated numbers",
    "dcgan": "a DCGAN scaled to 8 × 8: G grows a 2 × 2 map into the image with transposed convolutions, D reads "
             "it with strided convolutions, as a CNN does (width {hidden})",
}


def pieces(config: DigitsGANConfig, steps: int) -> list:
    if not isinstance(config, DigitsGANConfig):
        raise ValueError(f"the digits GAN exporter takes a DigitsGANConfig, not {type(config).__name__}")
    check_steps(steps)
    if config.max_steps:
        steps = min(steps, config.max_steps)
    every = max(1, steps // CURVE_POINTS)
    networks = ARCHITECTURE_WORDS[config.architecture].format(hidden=config.hidden)
    return [
        markdown("intro", "# A GAN that draws digits", "",
                 f"This notebook plays one run of the GAN lab's digits game in plain PyTorch: a generator learns "
                 "to turn noise into 8 × 8 handwritten digits, a discriminator to tell them from scikit-learn's "
                 f"real ones. It plays {steps:,} steps, prints the numbers the page shows for the same seed, and "
                 "draws the losses and a grid of generated digits.",
                 "",
                 "It needs `torch`, `numpy`, `scikit-learn` (the digits) and `plotly`. The config it came from:",
                 "", "```json", *config_json_lines(config), "```"),
        code("setup",
             "from __future__ import annotations  # the app's functions below name its types in their signatures",
             "",
             "import json",
             "import math",
             "",
             "import numpy as np",
             "import torch",
             "from torch import nn",
             "from torch.nn import functional as F",
             "",
             f"SEED = {config.seed}  # the weights (SEED), the fixed samples (SEED + 1), every batch (SEED + 2)",
             f"STEPS = {steps}",
             f"EVERY = {every}  # report every EVERY steps",
             f"ARCHITECTURE, HIDDEN, NOISE_DIM = {config.architecture!r}, {config.hidden}, {config.noise_dim}",
             f"LR, D_STEPS, LOSS, BATCH_SIZE = {config.lr!r}, {config.d_steps}, {config.loss!r}, {config.batch_size}",
             "EVAL_SAMPLES = 300       # fixed real images and noise vectors for the numbers",
             "MMD_SIGMAS = (1.0, 2.0, 4.0)  # kernel widths in pixel space: two digits differ by about 2..4",
             "GRID_SAMPLES = 36        # the generated digits drawn, from the first fixed noise vectors",
             "LEAK, INIT_STD = 0.2, 0.02  # DCGAN's LeakyReLU slope and initial weight spread",
             'ARCHITECTURES = ("mlp", "dcgan")',
             "",
             "",
             SHOW_SOURCE),
        markdown("data-text", "## 1. The digits", "",
                 "scikit-learn's 1,797 handwritten digits, 8 × 8 pixels of 0..16, scaled to 0..1: the real data. "
                 "The generator ends in a sigmoid, so its pixels lie in 0..1 too."),
        code("data", source_of(load_digit_pixels)),
        markdown("networks-text", "## 2. The two players", "",
                 f"G and D are {networks}. Their weights are drawn from `SEED`, G first."),
        code("networks", "\n\n\n".join([
            'ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.01)}\n\n\ndef make_activation(name):\n'
            "    return ACTIVATIONS[name]()",
            source_of(mlp, DCGANGenerator, DCGANDiscriminator, _paper_init, digit_networks)])),
        markdown("losses-text", "## 3. The game and how it is scored", "",
                 f"The loss is {LOSS_WORDS[config.loss]}. Both players use Adam with β₁ = 0.5 at learning rate "
                 f"{config.lr!r}. Each loss is shown as a moving average (weight 0.1 on the newest step). The "
                 "numbers are measured on 300 fixed real digits and G of 300 fixed noise vectors: D's mean "
                 "verdict on each, and the squared MMD between them in pixel space (0 when the two sets match)."),
        code("losses", source_of_losses()),
        markdown("loop-text", "## 4. The training loop", "",
                 f"Each step updates D {times(config.d_steps)} on {config.batch_size} real digits (drawn with "
                 f"replacement) and {config.batch_size} generated ones, then G once on fresh noise, every draw from "
                 "one generator seeded with `SEED + 2`, in the app's order. Every `every` steps `train` prints one "
                 "JSON line."),
        code("loop", _loop_code()),
        markdown("train-text", "## 5. Play", "",
                 f"The next cell plays {steps:,} steps and prints a line every {every}."),
        code("train", "history, G, eval_z = train(STEPS, EVERY)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Left: both losses; they hover around their equilibrium values while the samples improve, so "
                 "look at the digits. Right: G's digits from the first 36 fixed noise vectors, the page's grid: "
                 "noise, then blobs, then strokes, then digits. Many alike is mode collapse."),
        code("plot", _plot_code()),
    ]


def _loop_code() -> str:
    return "\n".join([
        "def train(steps=STEPS, every=EVERY):",
        '    """Plays the game; returns the reports, the generator and the fixed noise."""',
        "    data = torch.from_numpy(load_digit_pixels())  # (1797, 64)",
        "    torch.manual_seed(SEED)",
        "    G, D = digit_networks(ARCHITECTURE, NOISE_DIM, HIDDEN)",
        "    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=(0.5, 0.999))",
        "    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.5, 0.999))",
        "    eval_gen = torch.Generator().manual_seed(SEED + 1)",
        "    eval_real = data[torch.randperm(len(data), generator=eval_gen)[:EVAL_SAMPLES]]",
        "    eval_z = torch.randn(EVAL_SAMPLES, NOISE_DIM, generator=eval_gen)",
        "    real_kernel_mean = rbf_kernel_mean(eval_real, eval_real, MMD_SIGMAS)",
        "    gen = torch.Generator().manual_seed(SEED + 2)",
        '    d_average = g_average = float("nan")',
        "    history = []",
        "    for step in range(1, steps + 1):",
        "        for _ in range(D_STEPS):",
        "            real = data[torch.randint(len(data), (BATCH_SIZE,), generator=gen)]",
        "            z = torch.randn(BATCH_SIZE, NOISE_DIM, generator=gen)",
        "            with torch.no_grad():",
        "                fake = G(z)",
        "            d_loss, _ = gan_losses(D(real), D(fake), LOSS)",
        "            if not torch.isfinite(d_loss):",
        '                print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "                return history, G, eval_z",
        "            opt_d.zero_grad(set_to_none=True)",
        "            d_loss.backward()",
        "            opt_d.step()",
        "        d_fake = D(G(torch.randn(BATCH_SIZE, NOISE_DIM, generator=gen)))",
        "        _, g_loss = gan_losses(d_fake.detach(), d_fake, LOSS)",
        "        if not torch.isfinite(g_loss):",
        '            print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "            return history, G, eval_z",
        "        opt_g.zero_grad(set_to_none=True)",
        "        g_loss.backward()",
        "        opt_g.step()",
        "        d_average = moving_average(d_average, d_loss.item())  # D's last update of the step",
        "        g_average = moving_average(g_average, g_loss.item())",
        "        if step % every and step != steps:",
        "            continue",
        "        with torch.no_grad():  # the fixed samples as one batch: a DCGAN's batch norm sees them together",
        "            fake = G(eval_z)",
        '            report = {"step": step, "d_loss": d_average, "g_loss": g_average,',
        '                      "d_real": float(d_probability(D(eval_real), LOSS).mean()),',
        '                      "d_fake": float(d_probability(D(fake), LOSS).mean()),',
        '                      "mmd": mmd_rbf(eval_real, fake, MMD_SIGMAS, real_kernel_mean)}',
        "        history.append(report)",
        "        print(json.dumps(report), flush=True)",
        "    return history, G, eval_z",
    ])


def _plot_code() -> str:
    return "\n".join([
        "import plotly.graph_objects as go",
        "from plotly.subplots import make_subplots",
        "",
        "with torch.no_grad():",
        "    grid = G(eval_z)[:GRID_SAMPLES].reshape(6, 6, 8, 8).numpy()",
        "tiles = np.zeros((6 * 9 - 1, 6 * 9 - 1))  # 6 × 6 digits, a white line (0) between them",
        "for r in range(6):",
        "    for c in range(6):",
        "        tiles[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = grid[r, c]",
        'fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=("Losses", "Generated digits"))',
        'steps = [h["step"] for h in history]',
        'for key, name, color in (("d_loss", "D loss", "#333333"), ("g_loss", "G loss", "#762a83")):',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, line={"color": color, "width": 2},',
        "                    row=1, col=1)",
        'fig.add_heatmap(z=tiles[::-1], zmin=0, zmax=1, colorscale=[[0, "#ffffff"], [1, "#111111"]], showscale=False,',
        "                row=1, col=2)",
        'fig.update_xaxes(title_text="step", row=1, col=1)',
        'fig.update_yaxes(title_text="loss (moving average)", row=1, col=1)',
        "fig.update_xaxes(visible=False, row=1, col=2)",
        'fig.update_yaxes(visible=False, scaleanchor="x2", row=1, col=2)',
        'fig.update_layout(template="plotly_white", height=440, legend={"orientation": "h", "y": -0.15})',
        'show(fig, "gan_digits")',
    ])
