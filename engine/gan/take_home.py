"""Take the GAN game home: a 2-D game's config -> the pieces of a notebook (or script) that plays it.

The notebook runs the engine's own target sampler, noise, losses and distance (inlined with
source_of), builds both networks from the same seed in the same order, draws every real batch
and noise batch from the same generator in the same order as GANTrainer, and reports what its
snapshot reports: the moving averages of both losses, D's verdict on the fixed real and generated
points and the MMD between them. tests/test_take_home_gan.py checks the numbers against the trainer.
"""
from __future__ import annotations

from ..core.take_home import CURVE_POINTS, SHOW_SOURCE, check_steps, code, config_json_lines, markdown, source_of
from . import digits_take_home
from .config import GANConfig
from .notebook_parts import LOSS_WORDS, layers, source_of_losses, times
from .trainer import mixture_centres, mlp, sample_noise, sample_target

# registries.ACTIVATIONS, as code: only the config's activations are written out.
ACTIVATION_CODE = {
    "relu": "nn.ReLU", "leaky_relu": "lambda: nn.LeakyReLU(0.01)", "elu": "nn.ELU", "gelu": "nn.GELU",
    "tanh": "nn.Tanh", "sigmoid": "nn.Sigmoid", "softplus": "nn.Softplus", "linear": "nn.Identity",
}
OPTIMIZER_WORDS = {
    "sgd": "plain SGD", "momentum": "SGD with momentum 0.9", "nesterov": "SGD with Nesterov momentum 0.9",
    "adam": "Adam with β₁ = 0.5 (the DCGAN setting: with 0.9 each player overshoots the other's move)",
    "rmsprop": "RMSprop", "adagrad": "Adagrad",
}
TARGET_WORDS = {
    "ring": "points on a ring of radius 1.2", "line": "points on a slanted line segment",
    "mixture": "a mixture of {n_modes} gaussians evenly spaced on a ring", "moons": "two interleaved half-moons",
    "spiral": "a spiral", "gaussian": "one elongated gaussian", "drawn": "the {n_points} points you drew",
}


def optimizer_code(name: str, params: str, lr: str) -> str:
    """make_gan_optimizer of engine/gan/trainer.py for one name, as code (momentum 0 as the trainer passes)."""
    return {
        "adam": f"torch.optim.Adam({params}, lr={lr}, betas=(0.5, 0.999))",
        "sgd": f"torch.optim.SGD({params}, lr={lr}, momentum=0.0)",
        "momentum": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9, nesterov=False)",
        "nesterov": f"torch.optim.SGD({params}, lr={lr}, momentum=0.9, nesterov=True)",
        "rmsprop": f"torch.optim.RMSprop({params}, lr={lr}, momentum=0.0)",
        "adagrad": f"torch.optim.Adagrad({params}, lr={lr})",
    }[name]


def pieces(config: GANConfig, steps: int) -> list:
    if not isinstance(config, GANConfig):
        raise ValueError(f"the GAN exporter takes a GANConfig, not {type(config).__name__}")
    check_steps(steps)
    if config.max_steps:
        steps = min(steps, config.max_steps)  # the game stops at its step limit, as on the page
    every = max(1, steps // CURVE_POINTS)
    mixture = config.target == "mixture"
    return [
        _intro(config, steps),
        _setup(config, steps, every),
        markdown("data-text", "## 1. The real data and the noise", "",
                 f"The target is {_target_words(config)}, with gaussian noise of spread {config.spread!r} around "
                 "it. `sample_target` draws real points from it and `sample_noise` draws the generator's input z "
                 f"({config.noise_dim}-dimensional, {config.noise_type}). Both take an explicit `torch.Generator`, "
                 "so every draw is reproducible: these are the app's own functions, and they read their settings "
                 "from `config` above."),
        code("data", source_of_data()),
        markdown("networks-text", "## 2. The two players", "",
                 f"The **generator** G maps noise to points: {layers(config.g_layers)} of {config.g_width} "
                 f"{config.g_activation} units, 2 outputs. The **discriminator** D maps a point to one score: "
                 f"{layers(config.d_layers)} of {config.d_width} {config.d_activation} units, 1 output "
                 "(a logit: D's probability that the point is real is its sigmoid)."),
        code("networks", _networks_code(config)),
        markdown("losses-text", "## 3. The game and how it is scored", "",
                 f"The loss is {LOSS_WORDS[config.loss]}. Log-sigmoids are written with softplus, which stays "
                 "finite where D is certain. Each player's loss is shown as a moving average over its updates "
                 "(weight 0.1 on the newest), as the page shows it.",
                 "",
                 "How close G has come is measured on fixed samples (300 real points, 300 noise draws, from "
                 "`SEED + 1`): D's mean verdict on each, and the squared maximum mean discrepancy (MMD) between "
                 "the real and the generated points, 0 when the two clouds coincide."
                 + (" For the mixture, a mode counts as covered when it holds at least a quarter of its fair "
                    "share of the generated points." if mixture else "")),
        code("losses", plane_losses_code(mixture)),
        markdown("loop-text", "## 4. The training loop", "",
                 f"Each step updates D {times(config.d_steps)} on a fresh batch of {config.batch_size} real and "
                 f"{config.batch_size} generated points (G frozen), then G once on a fresh batch of noise (D "
                 f"frozen: its gradients are cleared before its next update). {_optimizer_words(config)} "
                 "Every batch comes from one generator "
                 "seeded with `SEED + 2`, in the order the app draws them, so the game is the page's game. Every "
                 "`every` steps `train` measures the fixed samples and prints one JSON line."),
        code("loop", _loop_code(config)),
        markdown("train-text", "## 5. Play", "",
                 f"The next cell plays {steps:,} steps and prints a line every {every}: the numbers the page shows "
                 "for the same config and seed."),
        code("train", "history, G, D, eval_real, eval_z = train(STEPS, EVERY)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Left: both losses. In a balanced game they settle near their values at the equilibrium, the "
                 f"dotted lines (D at {equilibrium(config.loss)[0]}, G at {equilibrium(config.loss)[1]}): D can no "
                 "longer tell real from generated. A D loss falling towards 0 while G's climbs means D is winning and G "
                 "gets little to learn from. Right: the real points (green) and the generated ones (purple) over "
                 "D's verdict on the plane (green where D says real, purple where it says generated). When G has "
                 "learnt the target, the purple cloud covers the green one and the background fades to white."),
        code("plot", _plot_code(config)),
    ]


def equilibrium(variant: str) -> tuple[str, str]:
    """(D loss, G loss) in words when G matches the data and D says ½ everywhere (viz.gan's lines)."""
    if variant == "least_squares":
        return "0.25", "0.125"
    return "2 ln 2 ≈ 1.386", "−ln 2 ≈ −0.693" if variant == "minimax" else "ln 2 ≈ 0.693"


def _optimizer_words(config: GANConfig) -> str:
    if (config.g_optimizer, config.g_lr) == (config.d_optimizer, config.d_lr):
        return f"Both players use {OPTIMIZER_WORDS[config.d_optimizer]} at learning rate {config.d_lr!r}."
    return (f"D uses {OPTIMIZER_WORDS[config.d_optimizer]} at learning rate {config.d_lr!r}; G uses "
            f"{OPTIMIZER_WORDS[config.g_optimizer]} at {config.g_lr!r}.")


def _target_words(config: GANConfig) -> str:
    return TARGET_WORDS[config.target].format(n_modes=config.n_modes, n_points=len(config.points))


def _intro(config: GANConfig, steps: int):
    return markdown(
        "intro", "# A GAN on the plane",
        "",
        f"This notebook plays one run of the GAN lab in plain PyTorch: the real points are "
        f"{_target_words(config)}; a generator learns to turn noise into points like them, while a "
        f"discriminator learns to tell its points from the real ones. It builds both networks, plays {steps:,} steps of the game, prints the numbers the page "
        "shows for the same seed, and draws the losses and both point clouds.",
        "",
        "It needs `torch`, `numpy` and `plotly`. Run it top to bottom; change a number and run it again to see "
        "what it does. The config it came from (`python -m engine train` and `python -m engine export` read it):",
        "", "```json", *config_json_lines(config), "```")


def _setup(config: GANConfig, steps: int, every: int):
    return code(
        "setup",
        "from __future__ import annotations  # the app's functions below name its types in their signatures",
        "",
        "import json",
        "import math",
        "from types import SimpleNamespace",
        "",
        "import numpy as np",
        "import torch",
        "from torch import nn",
        "from torch.nn import functional as F",
        "",
        f"SEED = {config.seed}  # the weights (SEED), the fixed samples (SEED + 1), every batch (SEED + 2)",
        f"STEPS = {steps}  # steps of the game",
        f"EVERY = {every}  # report every EVERY steps",
        f"BATCH_SIZE = {config.batch_size}",
        f"D_STEPS = {config.d_steps}  # discriminator updates per generator update",
        f"LOSS = {config.loss!r}",
        f"G_LAYERS, G_WIDTH, G_ACTIVATION, G_LR = {config.g_layers}, {config.g_width}, {config.g_activation!r}, "
        f"{config.g_lr!r}",
        f"D_LAYERS, D_WIDTH, D_ACTIVATION, D_LR = {config.d_layers}, {config.d_width}, {config.d_activation!r}, "
        f"{config.d_lr!r}",
        "RING_RADIUS = 1.2       # ring and mixture modes lie on this circle",
        "GAUSS_MEAN = (0.8, 0.6)  # the single gaussian's centre",
        "EVAL_SAMPLES = 300       # fixed real points and noise draws for the numbers and the plot",
        "MMD_SIGMAS = (0.1, 0.3, 1.0)  # kernel widths of the MMD",
        "DOMAIN = 2.0             # the plane shown: [-2, 2]²",
        "# The settings the data functions read, by the names the app's config gives them.",
        f"config = SimpleNamespace(target={config.target!r}, n_modes={config.n_modes}, spread={config.spread!r},",
        f"                         points={config.points!r},",
        f"                         noise_dim={config.noise_dim}, noise_type={config.noise_type!r})",
        "",
        "",
        SHOW_SOURCE)


def source_of_data() -> str:
    return source_of(mixture_centres, sample_target, sample_noise)


def plane_losses_code(mixture: bool) -> str:
    """The shared losses, and for a mixture the mode count of GANTrainer.modes_covered."""
    text = source_of_losses()
    if mixture:
        text += "\n\n\n" + "\n".join([
            "def modes_covered(fake):",
            '    """Mixture modes with at least a quarter of their fair share of the generated points within 3',
            '    spreads (at least 0.15) of the centre."""',
            "    centres = torch.from_numpy(mixture_centres(config.n_modes)).float()",
            "    dist = torch.cdist(fake, centres)",
            "    near = dist.min(1).values <= max(3 * config.spread, 0.15)",
            "    counts = torch.bincount(dist.argmin(1)[near], minlength=config.n_modes)",
            "    return int((counts >= len(fake) / (4 * config.n_modes)).sum())"])
    return text


def _networks_code(config: GANConfig) -> str:
    names = sorted({config.g_activation, config.d_activation})
    return "\n".join([
        "ACTIVATIONS = {" + ", ".join(f"{n!r}: {ACTIVATION_CODE[n]}" for n in names) + "}",
        "",
        "",
        "def make_activation(name):",
        "    return ACTIVATIONS[name]()",
        "",
        "",
        source_of(mlp),
        "",
        "",
        "def make_players():",
        '    """G and D, drawn from SEED in this order (G first), with their optimisers."""',
        "    torch.manual_seed(SEED)",
        "    G = mlp(config.noise_dim, G_WIDTH, G_LAYERS, G_ACTIVATION, 2)  # (B, noise_dim) -> (B, 2) points",
        "    D = mlp(2, D_WIDTH, D_LAYERS, D_ACTIVATION, 1)                 # (B, 2) points -> (B, 1) logits",
        f"    opt_g = {optimizer_code(config.g_optimizer, 'G.parameters()', 'G_LR')}",
        f"    opt_d = {optimizer_code(config.d_optimizer, 'D.parameters()', 'D_LR')}",
        "    return G, D, opt_g, opt_d",
    ])


def _loop_code(config: GANConfig) -> str:
    mixture = config.target == "mixture"
    return "\n".join([
        "def train(steps=STEPS, every=EVERY):",
        '    """Plays the game; returns the reports, both players and the fixed samples."""',
        "    G, D, opt_g, opt_d = make_players()",
        "    eval_gen = torch.Generator().manual_seed(SEED + 1)",
        "    eval_real = sample_target(config, EVAL_SAMPLES, eval_gen)  # (300, 2), fixed",
        "    eval_z = sample_noise(config, EVAL_SAMPLES, eval_gen)      # (300, noise_dim), fixed",
        "    real_kernel_mean = rbf_kernel_mean(eval_real, eval_real)",
        "    gen = torch.Generator().manual_seed(SEED + 2)               # every training batch",
        "    d_average = g_average = float(\"nan\")",
        "    history = []",
        "    for step in range(1, steps + 1):",
        "        for _ in range(D_STEPS):  # D learns to tell real from generated, G frozen",
        "            real = sample_target(config, BATCH_SIZE, gen)",
        "            z = sample_noise(config, BATCH_SIZE, gen)",
        "            with torch.no_grad():",
        "                fake = G(z)",
        "            d_loss, _ = gan_losses(D(real).squeeze(1), D(fake).squeeze(1), LOSS)",
        "            if not torch.isfinite(d_loss):",
        '                print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "                return history, G, D, eval_real, eval_z",
        "            opt_d.zero_grad(set_to_none=True)",
        "            d_loss.backward()",
        "            opt_d.step()",
        "            d_average = moving_average(d_average, d_loss.item())",
        "        z = sample_noise(config, BATCH_SIZE, gen)  # G moves its points towards where D says real",
        "        d_fake = D(G(z)).squeeze(1)",
        "        _, g_loss = gan_losses(d_fake.detach(), d_fake, LOSS)",
        "        if not torch.isfinite(g_loss):",
        '            print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "            return history, G, D, eval_real, eval_z",
        "        opt_g.zero_grad(set_to_none=True)",
        "        g_loss.backward()",
        "        opt_g.step()  # D's gradients from this pass are cleared before D's next update",
        "        g_average = moving_average(g_average, g_loss.item())",
        "",
        "        if step % every and step != steps:",
        "            continue",
        "        with torch.no_grad():",
        "            fake = G(eval_z)",
        '            report = {"step": step, "d_updates": step * D_STEPS, "g_updates": step,',
        '                      "d_loss": d_average, "g_loss": g_average,',
        "                      \"d_real\": float(d_probability(D(eval_real), LOSS).mean()),",
        "                      \"d_fake\": float(d_probability(D(fake), LOSS).mean()),",
        '                      "mmd": mmd_rbf(eval_real, fake, xx_mean=real_kernel_mean),',
        '                      "fake_mean": [float(v) for v in fake.mean(0)]}',
        *(['            report["modes_covered"] = modes_covered(fake)'] if mixture else []),
        "        history.append(report)",
        "        print(json.dumps(report), flush=True)",
        "    return history, G, D, eval_real, eval_z",
    ])


def _plot_code(config: GANConfig) -> str:
    eq = {"least_squares": ("0.25", "0.125"), "minimax": ("2 * math.log(2)", "-math.log(2)")}.get(
        config.loss, ("2 * math.log(2)", "math.log(2)"))
    return "\n".join([
        "import plotly.graph_objects as go",
        "from plotly.subplots import make_subplots",
        "",
        'REAL, FAKE, D_COLOR = "#1b7837", "#762a83", "#333333"  # the page\'s colours',
        'D_SCALE = [[0.0, "#c2a5cf"], [0.5, "#f7f7f7"], [1.0, "#a6dba0"]]  # D(x) = 0 (generated) .. 1 (real)',
        "axis = torch.linspace(-DOMAIN, DOMAIN, 48)",
        'gy, gx = torch.meshgrid(axis, axis, indexing="ij")',
        "with torch.no_grad():",
        "    plane = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)",
        "    field = d_probability(D(plane), LOSS).reshape(48, 48).numpy()",
        "    fake = G(eval_z).numpy()",
        "",
        'fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=("Losses", "Real and generated"))',
        'steps = [h["step"] for h in history]',
        'for key, name, color in (("d_loss", "D loss", D_COLOR), ("g_loss", "G loss", FAKE)):',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, line={"color": color, "width": 2},',
        "                    row=1, col=1)",
        f"D_EQUILIBRIUM, G_EQUILIBRIUM = {eq[0]}, {eq[1]}  # each loss when D says ½ everywhere",
        'fig.add_hline(y=D_EQUILIBRIUM, line={"color": D_COLOR, "width": 1, "dash": "dot"}, row=1, col=1)',
        'fig.add_hline(y=G_EQUILIBRIUM, line={"color": FAKE, "width": 1, "dash": "dot"}, row=1, col=1)',
        'fig.add_heatmap(x=axis.numpy(), y=axis.numpy(), z=field, zmin=0, zmax=1, colorscale=D_SCALE, name="D(x)",',
        '                colorbar={"thickness": 10, "len": 0.6, "title": {"text": "D(x)"}}, row=1, col=2)',
        'fig.add_scatter(x=eval_real[:, 0].numpy(), y=eval_real[:, 1].numpy(), mode="markers", name="real",',
        '                marker={"color": REAL, "size": 5, "opacity": 0.75}, row=1, col=2)',
        'fig.add_scatter(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated",',
        '                marker={"color": FAKE, "size": 5, "opacity": 0.85}, row=1, col=2)',
        'fig.update_xaxes(title_text="step", row=1, col=1)',
        'fig.update_yaxes(title_text="loss (moving average)", row=1, col=1)',
        "fig.update_xaxes(range=[-DOMAIN, DOMAIN], constrain=\"domain\", row=1, col=2)",
        'fig.update_yaxes(range=[-DOMAIN, DOMAIN], scaleanchor="x2", row=1, col=2)',
        'fig.update_layout(template="plotly_white", height=440, legend={"orientation": "h", "y": -0.15})',
        'show(fig, "gan_game")',
    ])


def digits_pieces(config, steps: int) -> list:
    """The digits game's pieces (digits_take_home.py: its own module, to keep each file short)."""
    return digits_take_home.pieces(config, steps)
