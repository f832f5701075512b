"""Take it home: an autoencoder run as a notebook or a script (engine/core/take_home.py makes the files).

The export runs the engine's own code, inlined with source_of: the digits loader and split, the
model classes, the loss terms, PCA. The training loop mirrors AutoencoderTrainer call for call
(the batch order from SEED + 2, the VAE's ε or the denoising noise from SEED + 3, the fixed noisy
test copy from SEED + 4), and backpropagates the reconstruction and the penalty in two passes as
the trainer does, so it prints the numbers the page shows for the same seed. It leaves out the
gradient norms the trainer reads for its charts.

The plots' code is in take_home_plots.py.
"""
from __future__ import annotations

from ..core.take_home import (CURVE_POINTS, SHOW_SOURCE, Piece, activation_code, code, config_json_lines, digits_code,
                              markdown, optimizer_code, source_of, steps_to_run)
from . import models
from .config import AutoencoderConfig
from .take_home_plots import codes_code, curve_code, plot_text, reconstruction_code

_KIND_WORDS = {
    "linear": "a **linear** autoencoder: no activation anywhere, trained on squared error, so its best "
              "reconstructions are PCA's and its decoder's columns span PCA's top subspace",
    "deep": "a **deep** autoencoder: an MLP squeezes the 64 pixels into the code and another MLP draws them back",
    "conv": "a **convolutional** autoencoder: two strided convolutions read the picture, transposed "
            "convolutions draw it back",
    "sparse": "a **sparse** autoencoder: a ReLU code with an L1 penalty, so most code numbers are exactly 0",
    "denoising": "a **denoising** autoencoder: it sees a corrupted copy of each digit and is asked for the clean one",
    "vae": "a **variational** autoencoder (VAE): the encoder gives a Gaussian over codes, training samples "
           "from it and adds β·KL to keep the codes near N(0, I)",
    "conv_vae": "a **convolutional VAE**: the conv encoder gives a Gaussian over codes, the transposed "
                "convolutions draw the sample back",
}


def pieces(config: AutoencoderConfig, steps: int) -> list[Piece]:
    if not isinstance(config, AutoencoderConfig):
        raise ValueError(f"config must be an AutoencoderConfig, got {type(config).__name__}")
    steps = steps_to_run(steps, config.train.max_steps)
    m, t = config.model, config.train
    every = max(1, steps // CURVE_POINTS)
    return [
        markdown("intro", *_intro(config, steps)),
        code("setup", *_setup(config, steps, every)),
        markdown("data-text", "## 1. The data: 8×8 digits",
                 "",
                 "The 1,797 handwritten digits that ship with scikit-learn, read from the installed package "
                 "(no network), pixels scaled from 0..16 to [0, 1], each image one row of 64 numbers. "
                 f"A stratified {t.test_fraction:.0%} of each digit is held out as the **test set**, drawn "
                 "from `SEED`: this is the engine's own loader, so the split is the page's, image for image."),
        code("data", digits_code(), "", "",
             "x_train_np, y_train, x_test_np, y_test = load_digits_split(SEED, TEST_FRACTION)",
             "x_train, x_test = torch.from_numpy(x_train_np), torch.from_numpy(x_test_np)  # (N, 64), (M, 64)",
             'print(f"{len(x_train)} training images, {len(x_test)} test images")'),
        markdown("model-text", "## 2. The model", "", _model_text(config)),
        code("model", *_model_code(config)),
        markdown("loss-text", "## 3. The loss and the optimiser", "", _loss_text(config)),
        code("loss", *_loss_code(config)),
        markdown("pca-text", "### PCA, the yardstick",
                 "",
                 f"The page draws PCA with as many components as the code has numbers ({m.latent_dim}): the best "
                 "any *linear* code of that size can do. An autoencoder below that line has learned a curved "
                 "code worth its nonlinearity."),
        code("pca", source_of(models.PCA), "", "",
             "pca = PCA(x_train_np, LATENT_DIM)",
             "PCA_ERRORS = (pca.squared_error(x_train_np), pca.squared_error(x_test_np))  # Σ (x̂ − x)² per image"),
        markdown("loop-text", "## 4. The training loop", "", _loop_text(config)),
        code("loop", *_loop_code(config)),
        markdown("train-text", "## 5. Train",
                 "",
                 f"The next cell trains for {steps:,} steps and prints a line every {every}: the numbers the "
                 "page shows for the same config and seed. `train_loss` and `test_loss` are the mean squared "
                 "error per pixel; the `*_objective` numbers are what training minimises, per image."),
        code("train", "history, model = train(STEPS, EVERY)"),
        markdown("plot-text", "## 6. What the plots show", "", *plot_text(config)),
        code("plot", *curve_code(config)),
        code("reconstructions", *reconstruction_code(config)),
        *([code("codes", *codes_code())] if m.latent_dim == 2 else []),
    ]


def _intro(config: AutoencoderConfig, steps: int) -> list[str]:
    m = config.model
    return [
        "# Autoencoder on 8×8 digits",
        "",
        "This notebook rebuilds one run of the Autoencoders page in plain PyTorch. The model is "
        f"{_KIND_WORDS[m.kind]}. Each digit goes through a code of {m.latent_dim} "
        f"number{'s' if m.latent_dim != 1 else ''} and back. The notebook loads the digits, builds the model "
        f"from `SEED`, trains it for {steps:,} steps and prints the losses the page reports for the same seed "
        "(equal to float rounding on the CPU, with one thread), then draws "
        "the loss curve, test digits beside their reconstructions"
        + (" and the codes on the plane." if m.latent_dim == 2 else "."),
        "",
        "It needs `torch`, `numpy`, `plotly` and an installed `scikit-learn` (for its copy of the digits), "
        "and imports nothing from the app. Change a number and run it again. The config it came from (train it "
        "with `python -m engine train config.json`, or make this notebook again with `python -m engine export`):",
        "",
        "```json",
        *config_json_lines(config),
        "```",
    ]


def _setup(config: AutoencoderConfig, steps: int, every: int) -> list[str]:
    m, t = config.model, config.train
    limit = f"  # the config stops at step {t.max_steps:,}" if t.max_steps and steps == t.max_steps else ""
    lines = [
        "import importlib.util",
        "import json",
        "from functools import lru_cache",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        f"SEED = {t.seed}  # the split, the initial weights, the batch order, every noise draw",
        f"STEPS = {steps}  # optimisation steps{limit}",
        f"EVERY = {every}  # report every EVERY steps",
        f"LATENT_DIM = {m.latent_dim}  # numbers per code",
    ]
    if m.kind not in ("linear", *models.CONV_KINDS):
        lines += [f"HIDDEN = {m.hidden}  # units in each hidden layer", f"DEPTH = {m.depth}  # hidden layers per side"]
    if m.kind != "linear":
        lines.append(f"ACTIVATION = {m.activation!r}")
    if m.kind == "sparse":
        lines.append(f"SPARSITY = {m.sparsity!r}  # weight of the L1 penalty on the code")
    if m.kind == "denoising":
        lines += [f"NOISE = {m.noise!r}", f"NOISE_LEVEL = {m.noise_level!r}"]
    if m.kind in models.VARIATIONAL_KINDS:
        lines += [f"BETA = {m.beta!r}  # weight of the KL term",
                  f"REPARAMETERIZE = {m.reparameterize!r}  # z = μ + σ·ε (True) or a plain sample (False)"]
    lines += [
        f"LOSS = {t.loss!r}  # reconstruction loss: squared or bce",
        f"LR = {t.lr!r}",
        f"BATCH_SIZE = {t.batch_size}",
        f"TEST_FRACTION = {t.test_fraction!r}",
        "torch.set_num_threads(1)  # as the page trains: the same sums in the same order",
        "",
        "",
        SHOW_SOURCE,
    ]
    return lines


def _model_text(config: AutoencoderConfig) -> str:
    m = config.model
    what = _KIND_WORDS[m.kind] + "."
    if m.kind in ("deep", "sparse", "denoising", "vae"):
        what += (f" Each side has {m.depth} hidden layer{'s' if m.depth > 1 else ''} of {m.hidden} units with "
                 f"the **{m.activation}** activation; the decoder ends in a sigmoid, so pixels stay in [0, 1].")
    elif m.kind in models.CONV_KINDS:
        what += f" The layers are fixed (8×8 → 4×4 → 2×2 and back), with the **{m.activation}** activation."
    return (what + " These are the app's own classes; `build_model` initialises them from `SEED` "
            "without touching the global random generator, as the page does.")


def _model_code(config: AutoencoderConfig) -> list[str]:
    m = config.model
    kind = m.kind
    parts = [] if kind == "linear" else [activation_code()]
    if kind in ("deep", "sparse", "denoising", "vae"):
        parts.append(source_of(models._mlp))
    if kind in models.CONV_KINDS:
        parts += [f"SIDE = {models.SIDE}\nCONV_FEATURES = {models.CONV_FEATURES}",
                  source_of(models._Unflatten, models._conv_body, models._conv_decoder)]
    if kind in models.VARIATIONAL_KINDS:
        parts.append(source_of(models._VariationalAutoencoder))
    else:
        parts.append(source_of(models._Autoencoder))
    cls = {"linear": models.LinearAutoencoder, "deep": models.MLPAutoencoder, "sparse": models.MLPAutoencoder,
           "denoising": models.MLPAutoencoder, "conv": models.ConvAutoencoder, "vae": models.VAE,
           "conv_vae": models.ConvVAE}[kind]
    parts.append(source_of(cls))
    args = {"linear": "LATENT_DIM", "conv": "LATENT_DIM, ACTIVATION", "conv_vae": "LATENT_DIM, ACTIVATION",
            "vae": "LATENT_DIM, HIDDEN, DEPTH, ACTIVATION"}.get(
        kind, f"LATENT_DIM, HIDDEN, DEPTH, ACTIVATION, relu_code={kind == 'sparse'}")
    parts.append("\n".join([
        "def build_model():",
        '    """The model, initialised from SEED without touching the global random generator."""',
        "    with torch.random.fork_rng(devices=[]):",
        "        torch.manual_seed(SEED)",
        f"        return {cls.__name__}({args})"]))
    return ["\n\n\n".join(parts)]


def _loss_text(config: AutoencoderConfig) -> str:
    m, t = config.model, config.train
    recon = ("the squared error Σ (x̂ − x)² over the 64 pixels" if t.loss == "squared" else
             "the pixels' binary cross-entropy, summed over the 64 pixels")
    extra = {
        "sparse": f" plus the sparsity penalty {m.sparsity!r}·mean|z|, which pushes code numbers to exactly 0",
        "vae": f" plus β·KL(q(z|x) ‖ N(0, I)) with β = {m.beta!r}, which keeps the codes near a standard normal",
        "conv_vae": f" plus β·KL(q(z|x) ‖ N(0, I)) with β = {m.beta!r}",
        "denoising": (f" of the clean image, from an input corrupted by {m.noise} noise at level {m.noise_level!r} "
                      "(fresh noise every step)"),
    }.get(m.kind, "")
    trick = ""
    if m.kind in models.VARIATIONAL_KINDS:
        trick = (" The code is sampled as z = μ + σ·ε (the reparameterisation trick), so the reconstruction's "
                 "gradient reaches the encoder." if m.reparameterize else
                 " The reparameterisation trick is **off**: z is a plain sample, the reconstruction's gradient "
                 "stops at it, and only the KL term trains the encoder. Watch what that does to the codes.")
    return (f"The loss per image is {recon}{extra}, averaged over the images of a batch.{trick} "
            f"The optimiser is **{t.optimizer}** with learning rate {t.lr!r}, on batches of {t.batch_size} images.")


def _loss_code(config: AutoencoderConfig) -> list[str]:
    kind = config.model.kind
    functions = [models.recon_loss_per_image]
    if kind in models.VARIATIONAL_KINDS:
        functions += [models.sample_code, models.kl_to_standard_normal]
    if kind == "sparse":
        functions.append(models.sparsity_penalty)
    if kind == "denoising":
        functions.append(models.corrupt)
    if kind == "linear":
        functions.append(models.principal_angles_deg)
    return [source_of(*functions), "", "",
            "def make_optimizer(model):", f'    """{config.train.optimizer}, as the page makes it."""',
            f"    return {optimizer_code(config.train.optimizer, config.train.lr)}"]


def _loop_text(config: AutoencoderConfig) -> str:
    kind = config.model.kind
    noise = {"vae": "the ε of each sample", "conv_vae": "the ε of each sample",
             "denoising": "the input noise"}.get(kind)
    return ("Each step takes the next batch of a shuffled order of the training images (a new shuffle, drawn "
            "from `SEED + 2`, each epoch)" + (f"; {noise} comes from a generator seeded `SEED + 3`" if noise else "")
            + ". It computes the loss, backpropagates and lets the optimiser update the weights. Every `every` "
            "steps `evaluate` measures the clean train and test images, as the page does"
            + (" (the VAE decodes its mean code)" if kind in models.VARIATIONAL_KINDS else "")
            + (", and the test images with one fixed corruption drawn from `SEED + 4`" if kind == "denoising" else "")
            + "; `train` prints the numbers as one JSON line.")


def _loop_code(config: AutoencoderConfig) -> list[str]:
    kind = config.model.kind
    variational = kind in models.VARIATIONAL_KINDS
    has_penalty = variational or kind == "sparse"
    if variational:
        encode = ["        mean, log_var = model.encode_distribution(x)", "        z = mean",
                  "        kl = float(kl_to_standard_normal(mean, log_var).mean())"]
        step = ["        mean, log_var = model.encode_distribution(x)            # (B, d), (B, d)",
                "        noise = torch.randn(mean.shape, generator=noise_gen)",
                "        z = sample_code(mean, log_var, noise, REPARAMETERIZE)",
                "        penalty = BETA * kl_to_standard_normal(mean, log_var).mean()"]
    else:
        encode = ["        z = model.encode(x)"]
        if kind == "sparse":
            encode.append("        penalty = float(sparsity_penalty(z, SPARSITY))")
        x_in = "corrupt(x, NOISE, NOISE_LEVEL, noise_gen)" if kind == "denoising" else "x"
        step = [f"        z = model.encode({x_in})                                   # (B, d)",
                "        penalty = sparsity_penalty(z, SPARSITY)" if kind == "sparse" else "        penalty = 0.0"]
    lines = [
        "@torch.no_grad()",
        "def evaluate(model, x):",
        '    """Clean images x (M, 64) -> the numbers the page reads off them, per image."""',
        "    model.eval()",
        "    kl = penalty = None",
        *[line[4:] for line in encode],
        "    x_hat = model.decode(z)",
        "    recon = float(recon_loss_per_image(x_hat, x, LOSS).mean())",
        "    return recon, kl, float((x_hat - x).pow(2).sum(dim=1).mean()), penalty, z",
        "", "",
    ]
    if kind == "denoising":
        lines += ["# One corrupted copy of the test images, drawn once: the page measures denoising on it.",
                  "noisy_test = corrupt(x_test, NOISE, NOISE_LEVEL, torch.Generator().manual_seed(SEED + 4))", "", ""]
    extra = {"vae": "BETA * kl", "conv_vae": "BETA * kl", "sparse": "penalty"}.get(kind, "0.0")
    lines += [
        "def report(model, step, epoch):",
        '    """One line of the curve, keyed by the names the page\'s snapshot uses."""',
        "    line = {\"step\": step, \"epoch\": epoch}",
        "    for part, x in ((\"train\", x_train), (\"test\", x_test)):",
        "        recon, kl, squared, penalty, z = evaluate(model, x)",
        "        line[f\"{part}_loss\"] = squared / N_PIXELS  # mean squared error per pixel",
        f"        line[f\"{{part}}_objective\"] = recon + {extra}",
        "        line[f\"{part}_recon\"] = recon",
    ]
    if variational:
        lines.append("        line[f\"{part}_kl\"] = kl")
    if kind == "sparse":
        lines.append("        line[f\"{part}_sparsity_penalty\"] = penalty")
    lines += ["    line[\"test_squared_error\"] = squared", "    line[\"pca_test_error\"] = PCA_ERRORS[1]"]
    if kind == "sparse":
        lines.append("    line[\"test_active_codes\"] = float((z.abs() > 1e-6).float().mean())  # share not 0")
    if kind == "denoising":
        lines += ["    with torch.no_grad():",
                  "        x_hat = model.decode(model.encode(noisy_test))",
                  "    line[\"test_denoise_error\"] = float((x_hat - x_test).pow(2).sum(dim=1).mean())",
                  "    line[\"test_noisy_input_error\"] = float((noisy_test - x_test).pow(2).sum(dim=1).mean())"]
    if kind == "linear":
        lines += ["    basis = model.decoder_basis().detach().numpy()  # (64, d)",
                  "    line[\"principal_angles_deg\"] = principal_angles_deg(basis, pca.components.T).tolist()"]
    lines += [
        "    return line",
        "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Builds the model from SEED, trains it `steps` steps, prints a line every `every`; (history, model)."""',
        "    model = build_model()",
        "    optimizer = make_optimizer(model)",
        "    batch_gen = torch.Generator().manual_seed(SEED + 2)  # the batch order",
        *(["    noise_gen = torch.Generator().manual_seed(SEED + 3)  # every noise draw of training"]
          if variational or kind == "denoising" else []),
        "    n, batch_size = len(x_train), min(BATCH_SIZE, len(x_train))",
        "    order, position, epoch, history = torch.randperm(n, generator=batch_gen), 0, 0, []",
        "    for step in range(1, steps + 1):",
        "        idx = order[position:position + batch_size]",
        "        position += len(idx)",
        "        if position >= n:  # the epoch is over: a new shuffle",
        "            order, position, epoch = torch.randperm(n, generator=batch_gen), 0, epoch + 1",
        "        x = x_train[idx]                                            # (B, 64) clean images: the target",
        "        model.train()",
        *step,
        "        recon = recon_loss_per_image(model.decode(z), x, LOSS).mean()",
        "        loss = recon + penalty",
        "        if not torch.isfinite(loss):  # diverged: stop before the update, as the page does",
        '            print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "            break",
        "        optimizer.zero_grad(set_to_none=True)",
        *(["        # Two passes, as the page makes them (it splits the encoder's gradient between the terms",
           "        # for a chart): the gradients add up in the same order, so the numbers match to the bit.",
           "        recon.backward(retain_graph=True)",
           "        penalty.backward()"] if has_penalty else ["        loss.backward()"]),
        "        optimizer.step()",
        "        if step % every == 0 or step == steps:",
        "            history.append(report(model, step, epoch))",
        "            print(json.dumps(history[-1]), flush=True)",
        "    return history, model",
    ]
    return lines
