"""Take it home: a "Train a CNN" run as a notebook or a script (engine/core/take_home.py makes the files).

The export runs the engine's own code, inlined with source_of: the digits loader and split, the
network classes (ConvNet or MLPNet with their seeded dropout), the shifted test set and the
evaluation. The network's stages, worked out by engine/cnn/geometry.py, are written out as a list
of Stage records with their map sizes, so the notebook needs no config class. The training loop
mirrors CNNTrainer call for call (the batch order from SEED + 2, dropout's masks from SEED + 3, a
batch that ends an epoch filled from the next one), so it prints the numbers the page shows for
the same seed: the loss and accuracy, and the accuracy on the test digits moved by a pixel.
"""
from __future__ import annotations

from ..core.take_home import (CURVE_POINTS, SHOW_SOURCE, Piece, activation_code, code, config_json_lines, digits_code,
                              markdown, optimizer_code, source_of, steps_to_run)
from . import geometry, inspection, models
from .config import CNNConfig
from .trainer import TRAIN_EVAL_IMAGES


def pieces(config: CNNConfig, steps: int) -> list[Piece]:
    if not isinstance(config, CNNConfig):
        raise ValueError(f"config must be a CNNConfig, got {type(config).__name__}")
    steps = steps_to_run(steps, config.train.max_steps)
    every = max(1, steps // CURVE_POINTS)
    t = config.train
    return [
        markdown("intro", *_intro(config, steps)),
        code("setup", *_setup(config, steps, every)),
        markdown("data-text", "## 1. The data: 8×8 digits",
                 "",
                 "The 1,797 handwritten digits that ship with scikit-learn, read from the installed package "
                 "(no network), pixels scaled to [0, 1]. A stratified "
                 f"{t.test_fraction:.0%} of each digit is held out as the **test set**, drawn from `SEED`: the "
                 "engine's own loader, so the split is the page's, image for image. The network reads each "
                 "image as a picture, (1, 8, 8): one channel of 8 rows and 8 columns."),
        code("data", digits_code(), "", "", source_of(inspection.as_images), "", "",
             "x_train_np, y_train_np, x_test_np, y_test_np = load_digits_split(SEED, TEST_FRACTION)",
             'x_train, x_test = as_images(x_train_np, "cpu"), as_images(x_test_np, "cpu")  # (N, 1, 8, 8), (M, 1, 8, 8)',
             "y_train, y_test = torch.from_numpy(y_train_np), torch.from_numpy(y_test_np)  # (N,), (M,) digits",
             'print(f"{len(x_train)} training images, {len(x_test)} test images")'),
        markdown("shifted-text", "### The moved test digits",
                 "",
                 "The page also asks whether the network recognises a digit moved by one pixel: the test digits "
                 "moved up, down, left and right, blank paper coming in at the far edge (4 × the test set). "
                 "Nothing trains on them. A convolution slides the same kernel over every position, so a "
                 "network with a global pooling head barely notices the move; a dense layer, with one weight "
                 "per pixel position, does."),
        code("shifted", f"SHIFT_DIRECTIONS = {inspection.SHIFT_DIRECTIONS!r}  # (rows, columns): up, down, left, right",
             "", "", source_of(inspection.shift_images, inspection.shifted_copies), "", "",
             "x_shifted, y_shifted = shifted_copies(x_test, 1), y_test.repeat(4)  # (4M, 1, 8, 8), (4M,)"),
        markdown("model-text", "## 2. The network", "", *_model_text(config)),
        code("model", *_model_code(config)),
        markdown("loss-text", "## 3. The loss and the optimiser",
                 "",
                 "The loss is the **cross-entropy** of the 10 class scores against the true digit, averaged over "
                 "a batch: small when the network gives the right digit a high probability. The optimiser is "
                 f"**{t.optimizer}** with learning rate {t.lr!r}"
                 + (f" and weight decay {t.weight_decay!r} (an L2 pull of every weight towards 0)"
                    if t.weight_decay else "") + f", on batches of {t.batch_size} images."),
        code("loss", "def make_optimizer(model):", f'    """{t.optimizer}, as the page makes it."""',
             f"    return {optimizer_code(t.optimizer, t.lr, t.weight_decay)}"),
        markdown("loop-text", "## 4. The training loop",
                 "",
                 "Each step takes the next batch of a shuffled order of the training images (a new shuffle, drawn "
                 "from `SEED + 2`, each epoch; a batch that reaches the end of an epoch is filled from the next "
                 "one, so batch norm always sees a full batch), computes the loss, backpropagates and lets the "
                 "optimiser update the weights. Dropout's masks come from a generator seeded `SEED + 3`. Every "
                 f"`every` steps `report` measures, in eval mode, the first {TRAIN_EVAL_IMAGES} training images, "
                 "the test images and their moved copies, as the page does, and `train` prints one JSON line."),
        code("loop", *_loop_code()),
        markdown("train-text", "## 5. Train",
                 "",
                 f"The next cell trains for {steps:,} steps and prints a line every {every}: the numbers the page "
                 "shows for the same config and seed."),
        code("train", "history, model = train(STEPS, EVERY)"),
        markdown("plot-text", "## 6. What the plots show", "", *_plot_text(config)),
        code("plot", *_curve_code()),
        code("filters", *_filters_code(config)),
        code("confusion", *_confusion_code()),
    ]


def _intro(config: CNNConfig, steps: int) -> list[str]:
    what = ("a **convolutional network**" if config.model.kind == "cnn" else
            "a **dense network** (MLP), the one the page compares the CNN with")
    return [
        "# A CNN on 8×8 digits",
        "",
        f"This notebook rebuilds one run of the Convolutions page's *Train a CNN* tab in plain PyTorch: {what} "
        f"that learns to tell the ten digits apart. It loads the digits, builds the network from `SEED`, trains "
        f"it for {steps:,} steps and prints the loss and accuracy the page reports for the same seed (equal to "
        "float rounding on the CPU, with one thread), then draws the curves, the first layer's filters and the "
        "confusion matrix.",
        "",
        "It needs `torch`, `numpy`, `plotly` and an installed `scikit-learn` (for its copy of the digits), and "
        "imports nothing from the app. Change a number and run it again. The config it came from (train it "
        "with `python -m engine train config.json`, or make this notebook again with `python -m engine export`):",
        "",
        "```json",
        *config_json_lines(config),
        "```",
    ]


def _setup(config: CNNConfig, steps: int, every: int) -> list[str]:
    t = config.train
    limit = f"  # the config stops at step {t.max_steps:,}" if t.max_steps and steps == t.max_steps else ""
    return [
        "import importlib.util",
        "import json",
        "from contextlib import contextmanager",
        "from dataclasses import dataclass",
        "from functools import lru_cache",
        "from pathlib import Path",
        "from types import SimpleNamespace",
        "",
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        f"SEED = {t.seed}  # the split, the initial weights, the batch order, dropout",
        f"STEPS = {steps}  # optimisation steps{limit}",
        f"EVERY = {every}  # report every EVERY steps",
        f"LR = {t.lr!r}",
        f"BATCH_SIZE = {t.batch_size}",
        f"TEST_FRACTION = {t.test_fraction!r}",
        f"TRAIN_EVAL_IMAGES = {TRAIN_EVAL_IMAGES}  # the training loss is read on these first images, as on the page",
        "torch.set_num_threads(1)  # as the page trains: the same sums in the same order",
        "",
        "",
        SHOW_SOURCE,
    ]


def _model_text(config: CNNConfig) -> list[str]:
    m = config.model
    if m.kind == "mlp":
        return [f"A dense network: {len(m.mlp_hidden)} hidden layer{'s' if len(m.mlp_hidden) > 1 else ''} of "
                f"{', '.join(map(str, m.mlp_hidden))} units"
                + (", batch norm" if m.batch_norm else "") + f", the **{m.activation}** activation"
                + (f", dropout {m.dropout!r}" if m.dropout else "") + ", then 10 class scores. Every hidden unit "
                "sees every pixel with a weight of its own for each position. `SETTINGS` holds what the app's "
                "class reads of the page's config; `build_network` initialises it from `SEED` without touching "
                "the global random generator."]
    sizes = " → ".join([f"{models.IMAGE_SIDE}×{models.IMAGE_SIDE}"] + [
        f"{s.size}×{s.size}" for s in m.stages() if s.kind in ("conv", "pool", "global_pool")])
    return [f"{len(m.channels)} convolution layer{'s' if len(m.channels) > 1 else ''} of {m.kernel}×{m.kernel} "
            f"kernels with {', '.join(map(str, m.channels))} channels (padding {m.padding}, stride {m.stride}"
            + (f", dilation {m.dilation}" if m.dilation > 1 else "") + ")"
            + (", batch norm" if m.batch_norm else "") + f", the **{m.activation}** activation"
            + (f", a 2×2 {m.pool} pooling after every {m.pool_every} conv layer{'s' if m.pool_every > 1 else ''}"
               if m.pool != "none" else "")
            + {"flatten": ", the last map flattened", "global_max": ", each channel's maximum over the whole map",
               "global_avg": ", each channel's mean over the whole map"}[m.head]
            + (f", a dense layer of {m.dense} units" if m.dense else "") + (f", dropout {m.dropout!r}" if m.dropout
                                                                           else "")
            + f", then 10 class scores. The maps go {sizes}.",
            "",
            "`STAGES` lists the stages with their map sizes, as the page's geometry worked them out (each conv "
            "output is ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 wide). `ConvNet` is the app's own class; `SETTINGS` holds "
            "what it reads of the page's config, and `build_network` initialises it from `SEED` without "
            "touching the global random generator."]


def _model_code(config: CNNConfig) -> list[str]:
    m = config.model
    parts = [activation_code(), source_of(models.SeededDropout)]
    if m.kind == "cnn":
        stages = ["STAGES = ["] + [f"    {s!r}," for s in m.stages()] + ["]"]
        parts += [source_of(geometry.Stage), "\n".join(stages), source_of(geometry.head_features, models.Head,
                                                                          models.ConvNet)]
        settings = (f"SETTINGS = SimpleNamespace(activation={m.activation!r}, pool={m.pool!r}, head={m.head!r}, "
                    f"dense={m.dense}, dropout={m.dropout!r},\n                           stages=lambda: STAGES)")
        cls = "ConvNet"
    else:
        parts.append(source_of(models.MLPNet))
        settings = (f"SETTINGS = SimpleNamespace(mlp_hidden={m.mlp_hidden!r}, batch_norm={m.batch_norm!r}, "
                    f"activation={m.activation!r}, dropout={m.dropout!r})")
        cls = "MLPNet"
    parts += [f"# What {cls} reads of the page's config.\n{settings}", "\n".join([
        "def build_network():",
        '    """The network, initialised from SEED without touching the global random generator."""',
        "    with torch.random.fork_rng(devices=[]):",
        "        torch.manual_seed(SEED)",
        f"        return {cls}(SETTINGS)"])]
    return ["\n\n\n".join(parts)]


def _loop_code() -> list[str]:
    return [
        f"EVAL_BATCH = {inspection.EVAL_BATCH}",
        "", "",
        source_of(inspection.eval_mode, inspection.logits_of, inspection.loss_and_accuracy),
        "", "",
        "def report(model, step, epoch):",
        '    """One line of the curve, keyed by the names the page\'s snapshot uses."""',
        "    n = TRAIN_EVAL_IMAGES",
        "    train_loss, train_accuracy = loss_and_accuracy(model, x_train[:n], y_train[:n])",
        "    test_loss, test_accuracy = loss_and_accuracy(model, x_test, y_test)",
        '    return {"step": step, "epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,',
        '            "train_accuracy": train_accuracy, "test_accuracy": test_accuracy,',
        '            "shifted_test_accuracy": loss_and_accuracy(model, x_shifted, y_shifted)[1]}',
        "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Builds the network from SEED, trains it `steps` steps, prints a line every `every`; (history, model)."""',
        "    model = build_network()",
        "    optimizer = make_optimizer(model)",
        "    batch_gen = torch.Generator().manual_seed(SEED + 2)    # the batch order",
        "    dropout_gen = torch.Generator().manual_seed(SEED + 3)  # dropout's masks",
        "    for layer in model.modules():",
        "        if isinstance(layer, SeededDropout):",
        "            layer.generator = dropout_gen",
        "    n, batch_size = len(x_train), min(BATCH_SIZE, len(x_train))",
        "    order, position, epoch, history = torch.randperm(n, generator=batch_gen), 0, 0, []",
        "    model.train()",
        "    for step in range(1, steps + 1):",
        "        idx = order[position:position + batch_size]",
        "        position += len(idx)",
        "        if position >= n:  # the epoch is over: a new shuffle fills the rest of the batch",
        "            order = torch.randperm(n, generator=batch_gen)",
        "            position, epoch = batch_size - len(idx), epoch + 1",
        "            idx = torch.cat([idx, order[:position]])",
        "        loss = F.cross_entropy(model(x_train[idx]), y_train[idx])  # (B, 10) scores -> the batch's mean",
        "        if not torch.isfinite(loss):  # diverged: stop before the update, as the page does",
        '            print(json.dumps({"step": step - 1, "diverged": True}), flush=True)',
        "            break",
        "        optimizer.zero_grad(set_to_none=True)",
        "        loss.backward()",
        "        optimizer.step()",
        "        if step % every == 0 or step == steps:",
        "            history.append(report(model, step, epoch))  # in eval mode, then back to training",
        "            print(json.dumps(history[-1]), flush=True)",
        "    return history, model",
    ]


def _plot_text(config: CNNConfig) -> list[str]:
    first = ("conv1's kernels: each small square is one filter, red where it adds the pixel, blue where it "
             "subtracts it; edges and strokes at some angle are what trained ones look for"
             if config.model.kind == "cnn" else
             "each first hidden unit's 64 weights laid out as the picture they multiply: a dense unit learns a "
             "template tied to positions")
    return [
        "The first plot is the page's curves: the cross-entropy on the training images (dark) and the test images "
        "(orange), and on the right axis the test accuracy and the accuracy on the test digits moved by one "
        "pixel (dotted). A gap between the two accuracies is what the network's design makes of a move.",
        "",
        f"The second shows {first}.",
        "",
        "The third is the confusion matrix of the test set: row = the true digit, column = the network's "
        "answer; everything off the diagonal is a mistake, and which digits it mixes up says what it has not "
        "yet learned.",
    ]


def _curve_code() -> list[str]:
    return [
        "import plotly.graph_objects as go",
        "",
        'steps = [h["step"] for h in history]',
        "fig = go.Figure()",
        'for key, name, color in [("train_loss", "train loss", "#333333"), ("test_loss", "test loss", "#f59322")]:',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, line={"color": color, "width": 2})',
        'for key, name, color in [("test_accuracy", "test accuracy", "#f59322"),',
        '                         ("shifted_test_accuracy", "moved 1 pixel", "#1f77b4")]:',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, yaxis="y2",',
        '                    line={"color": color, "width": 1.5, "dash": "dot"})',
        'fig.update_layout(xaxis_title="step", yaxis_title="cross-entropy", template="plotly_white", height=380,',
        '                  yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1], "dtick": 0.2,',
        '                          "tickformat": ".0%", "showgrid": False},',
        '                  legend={"orientation": "h", "y": 1.15})',
        'show(fig, "cnn_curves")',
    ]


def _filters_code(config: CNNConfig) -> list[str]:
    title = "conv1's filters" if config.model.kind == "cnn" else "first hidden layer's weights, as pictures"
    return [
        "filters = model.first_layer_filters().detach()[:, 0].numpy()  # (C, k, k)",
        "count, k = len(filters), filters.shape[-1]",
        "cols = min(count, 16)",
        "rows = -(-count // cols)",
        "# One picture: the filters side by side, a blank cell between two (NaN draws nothing).",
        "canvas = np.full((rows * (k + 1) - 1, cols * (k + 1) - 1), np.nan)",
        "for i, kernel in enumerate(filters):",
        "    top, left = (i // cols) * (k + 1), (i % cols) * (k + 1)",
        "    canvas[top:top + k, left:left + k] = kernel / (np.abs(kernel).max() or 1.0)  # each filter its own scale",
        'fig = go.Figure(go.Heatmap(z=canvas, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True, showscale=False,',
        "                           hoverongaps=False))",
        'fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)',
        "fig.update_xaxes(visible=False)",
        f'fig.update_layout(template="plotly_white", height=80 + 60 * rows, title="{title}",',
        '                  margin={"l": 10, "r": 10, "t": 40, "b": 10})',
        'show(fig, "cnn_filters")',
    ]


def _confusion_code() -> list[str]:
    return [
        "predicted = logits_of(model, x_test).argmax(dim=1).numpy()",
        "confusion = np.bincount(y_test_np * N_CLASSES + predicted, minlength=N_CLASSES ** 2).reshape(N_CLASSES, N_CLASSES)",
        'fig = go.Figure(go.Heatmap(z=confusion, x=list(range(10)), y=list(range(10)), colorscale="Blues",',
        '                           text=confusion, texttemplate="%{text}", showscale=False))',
        'fig.update_yaxes(autorange="reversed", title="true digit", dtick=1)',
        'fig.update_xaxes(title="predicted digit", dtick=1, side="top")',
        'fig.update_layout(template="plotly_white", height=420, width=460, title="test confusion matrix")',
        'show(fig, "cnn_confusion")',
    ]
