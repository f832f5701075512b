"""Download as notebook: one config -> a Jupyter notebook (nbformat v4) that trains it step by step.

The code cells hold the same code as the exported script (export.py builds both), one piece
at a time, each after a markdown cell that says what it does and why: the data set and the
split, the features, the network, the loss and the optimiser, the training loop. The last two
cells train, printing the loss curve as JSON lines (the numbers Trainer reports for the same
seed; tests/test_notebook_export.py runs the notebook and checks them), and draw it with Plotly.
The notebook imports only torch, numpy, plotly and the standard library, and draws offline.
"""
from __future__ import annotations

from .config import ExperimentConfig
from .data import FEATURE_LABELS
from .export import check_steps, config_comment, data_parts, header_lines, loop_code, loss_code, model_code
from .models import n_outputs_for

# Points on the curve: about this many reports per run, so the plot is a curve, not a few dots.
CURVE_POINTS = 100
PLOT_HEIGHT = 420
ORANGE = "#f59322"  # the test set's colour on the page

_LOSS_WORDS = {
    "bce": "binary cross-entropy", "ce": "cross-entropy", "mse": "squared error", "hinge": "hinge loss",
}
_OPTIMIZER_WORDS = {
    "sgd": "plain stochastic gradient descent: each step moves every weight against its gradient, "
           "scaled by the learning rate",
    "momentum": "SGD with momentum: each step follows a running average of past gradients, which "
                "rolls through small bumps and speeds along long valleys",
    "nesterov": "SGD with Nesterov momentum: momentum that looks one step ahead before it corrects",
    "adam": "Adam: each weight gets its own step size from running averages of its gradient and of its "
            "squared gradient, so the learning rate matters less",
    "rmsprop": "RMSprop: each weight's step is divided by a running average of its squared gradient",
    "adagrad": "Adagrad: each weight's step shrinks with the sum of its past squared gradients",
}


def export_notebook(config: ExperimentConfig, steps: int = 1000, gradients: bool = False) -> str:
    """The .ipynb text (JSON) of a notebook that trains `config` for `steps` steps and plots the loss;
    with `gradients` (the Vanishing gradients page), it also records every layer's weight-gradient
    norm at each report and draws them as the page's heatmap, layers against steps."""
    import nbformat  # here, not at the top: the page imports this module on every run, nbformat only on a click
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    check_steps(steps)
    every = max(1, steps // CURVE_POINTS)
    points, features, data = data_parts(config)
    pieces = [
        ("intro", _intro(config, steps)),
        ("setup", None),
        ("data-text", _data_text(config)), ("data-points", points),
        ("features-text", _features_text(config)), ("features", features),
        ("split-text", _split_text(config)), ("split", data),
        ("network-text", _network_text(config)), ("network", model_code(config)),
        ("loss-text", _loss_text(config)), ("loss", loss_code(config)),
        ("loop-text", _loop_text(config)), ("loop", loop_code(config, gradients)),
        ("train-text", _train_text(steps, every) + "\n\n" + _curve_text(config)),
        ("train", "history = train(STEPS, EVERY)"), ("curve", _plot_code(config)),
    ]
    if gradients:
        pieces += [("gradients-text", _gradients_text()), ("gradients", _gradients_plot_code())]
    uses_f = any("F." in text for name, text in pieces if text and not name.endswith("text"))
    setup = "\n".join(header_lines(config, steps, every, uses_f, script=False))
    cells = []
    for name, text in pieces:
        text = setup if name == "setup" else text
        make = new_markdown_cell if name.endswith("text") or name == "intro" else new_code_cell
        cells.append(make(text, id=name))  # fixed ids: the same config always gives the same file
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def _intro(config: ExperimentConfig, steps: int) -> str:
    comment = [line[2:] for line in config_comment(config) if line.startswith("# ")][1:]
    return "\n".join([
        "# Neural Playground experiment",
        "",
        "This notebook rebuilds one playground run in plain PyTorch: the data, the features, the network, "
        f"the loss, the optimiser and the training loop, one cell each. Run it top to bottom: it trains for "
        f"{steps:,} steps and prints the loss and accuracy as the playground reports them for the same seed "
        "(to the last bit with the same torch version and thread count), then draws the loss curves.",
        "",
        "It needs only `torch`, `numpy` and `plotly`. Change a number and run it again to see what that "
        "number does. The playground config it came from (paste it back into *Load a config*):",
        "",
        "```json",
        *comment,
        "```",
    ])


def _data_text(config: ExperimentConfig) -> str:
    d = config.data
    what = (f"{config.n_classes} classes" if config.n_classes else "a real-valued target (regression)")
    if d.name == "custom":
        source = f"Your own {len(d.points)} points, drawn on the playground's canvas or uploaded"
    else:
        source = (f"{d.n_samples} points from the **{d.name}** generator (its own source, below), with noise "
                  f"{d.noise!r} added to each coordinate, seeded by `SEED`")
    return "\n".join([
        "## 1. The data set",
        "",
        f"{source}. Each point has two coordinates (x₁, x₂) and {what}. The network must learn the "
        "pattern from the points alone: it never sees the rule that made them.",
    ])


def _features_text(config: ExperimentConfig) -> str:
    names = ", ".join(FEATURE_LABELS[f] for f in config.data.features)
    return "\n".join([
        "## 2. The features",
        "",
        f"The network's inputs are {names}: one column each, computed from the two coordinates. "
        "x₁ and x₂ alone leave the network to build every curve itself; extra features such as x₁² or "
        "sin x₁ hand it curved building blocks, so a circle becomes a straight cut in (x₁², x₂²).",
    ])


def _split_text(config: ExperimentConfig) -> str:
    fraction = config.data.test_fraction
    split = (f"A random {fraction:.0%} of the points is held out as the **test set** (the order is drawn "
             "from `SEED + 1`); the network trains on the rest and never sees the test points, so the test loss "
             "says how well what it learned carries over to new points." if fraction else
             "Every point trains (test fraction 0): there is no test set, so the curve shows the training loss only.")
    return "\n".join(["### The split", "", split, "", "`make_data` draws the points, splits them, computes the "
                      "features and returns tensors: inputs `(n, features)`, labels `(n,)`."])


def _network_text(config: ExperimentConfig) -> str:
    m = config.model
    acts = m.activations()
    act = acts[0] if len(set(acts)) == 1 else ", ".join(acts)
    parts = [f"{len(m.hidden)} hidden layer{'s' if len(m.hidden) != 1 else ''} of widths "
             f"{', '.join(map(str, m.hidden))} with the **{act}** activation" if m.hidden else "no hidden layer"]
    if m.norm != "none":
        parts.append(f"{m.norm} normalisation before each activation")
    if m.dropout:
        parts.append(f"dropout {m.dropout!r} after each activation (only while training)")
    if m.residual:
        parts.append("skip connections where a layer's input and output widths match")
    n_out = n_outputs_for(config)
    out = ("one score (a logit: above 0 means class 1)" if config.n_classes == 2 else
           f"{n_out} scores, one per class (the largest wins)" if config.n_classes else "one number, the prediction")
    init = "PyTorch's default initialisation" if m.init == "default" else f"**{m.init}** initialisation"
    return "\n".join([
        "## 3. The network",
        "",
        f"A multi-layer perceptron: {'; '.join(parts)}. The output layer gives {out}. "
        f"The weights start from {init}, drawn from `SEED`. Each hidden neuron computes a weighted sum of "
        "the layer below and bends it with the activation; stacking layers lets the network bend the plane "
        "into the shape of the data.",
    ])


def _loss_text(config: ExperimentConfig) -> str:
    t = config.train
    extras = []
    if t.l1 or t.l2:
        extras.append("a weight penalty (" + " and ".join(
            ([f"L1 {t.l1!r}"] if t.l1 else []) + ([f"L2 {t.l2!r}"] if t.l2 else []))
            + ") is added to the loss, pulling the weights towards zero to keep the boundary simple")
    if t.clip_grad_norm:
        extras.append(f"gradients are clipped to norm {t.clip_grad_norm!r} before each step")
    return "\n".join([
        "## 4. The loss and the optimiser",
        "",
        f"The loss is **{_LOSS_WORDS[t.loss]}**: one number that says how wrong the network's outputs are on "
        "a batch; training pushes it down. The optimiser is "
        f"{_OPTIMIZER_WORDS[t.optimizer]}. Learning rate {t.lr!r}"
        + (f", momentum {t.momentum!r}" if t.momentum and t.optimizer in ("sgd", "rmsprop") else "")
        + f", batches of {t.batch_size} points." + (" Also: " + "; ".join(extras) + "." if extras else ""),
    ])


def _loop_text(config: ExperimentConfig) -> str:
    limit = (f" It stops after {config.train.max_epochs} epochs, the config's limit." if config.train.max_epochs
             else "")
    return "\n".join([
        "## 5. The training loop",
        "",
        "Each step takes the next batch of a shuffled order of the training points (a new shuffle, drawn "
        "from `SEED + 2`, each epoch), computes the loss on it, backpropagates the gradients and lets the "
        "optimiser update the weights. Every `every` steps `evaluate` measures the loss"
        + (" and accuracy" if config.n_classes else "")
        + " on the whole train and test sets, in eval mode, and `train` prints it as one JSON line." + limit,
    ])


def _train_text(steps: int, every: int) -> str:
    return "\n".join([
        "## 6. Train",
        "",
        f"The next cell trains for {steps:,} steps and prints a line every {every}: the numbers the playground "
        "shows for the same config and seed. The cell after it draws them.",
    ])


def _curve_text(config: ExperimentConfig) -> str:
    acc = (" The dotted lines are the accuracies (right axis): the share of points put in the right class."
           if config.n_classes else "")
    return "\n".join([
        "### What the curve shows",
        "",
        "The solid lines are the loss on the training set (dark) and on the test set (orange), step by step. "
        "Both falling means the network is learning the pattern. The training loss is usually the lower one; "
        "a test loss that stops falling, or rises while the training loss still falls, means the network has "
        "started to memorise its training points (overfitting): more data, fewer neurons, a weight penalty or "
        "dropout help. A flat curve calls for a larger learning rate; a jagged or exploding one for a smaller "
        "one." + acc,
    ])


def _plot_code(config: ExperimentConfig) -> str:
    lines = [
        "import plotly.graph_objects as go",
        "",
        'steps = [h["step"] for h in history]',
        "fig = go.Figure()",
        f'for key, name, color in [("train_loss", "Train loss", "#333333"), ("test_loss", "Test loss", "{ORANGE}")]:',
        "    if history and history[0][key] is not None:",
        '        fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, line={"color": color, "width": 2})',
    ]
    if config.n_classes:
        lines += [
            f'for key, name, color in [("train_accuracy", "Train accuracy", "#333333"), '
            f'("test_accuracy", "Test accuracy", "{ORANGE}")]:',
            "    if history and history[0][key] is not None:",
            "        fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, yaxis=\"y2\",",
            '                        line={"color": color, "width": 1, "dash": "dot"})',
            'fig.update_layout(yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1],',
            '                          "tickformat": ".0%", "showgrid": False})',
        ]
    lines += [
        f'fig.update_layout(xaxis_title="step", yaxis_title="loss", template="plotly_white", height={PLOT_HEIGHT},',
        '                  legend={"orientation": "h", "y": 1.12})',
        "# plotly.js itself goes into the output, and no MathJax link: the figure draws with no network.",
        "from IPython.display import HTML",
        'HTML(fig.to_html(include_plotlyjs=True, include_mathjax=False, full_html=False))',
    ]
    return "\n".join(lines)


def _gradients_text() -> str:
    return "\n".join([
        "### The gradient of every layer at every step",
        "",
        "Each row is one layer, input at the bottom; each column a reported step; the colour is log₁₀ of the "
        "norm of that layer's weight gradient, as backpropagation delivered it (before any clipping). "
        "Backpropagation multiplies, layer by layer, the weights and the activation's derivative: with "
        "sigmoids (derivative at most 0.25) the lower rows go dark, orders of magnitude below the top — the "
        "first layers hardly learn. ReLU with He init, residual connections and normalisation keep the rows "
        "level; without normalisation, skips can make them explode instead, which clipping caps.",
    ])


def _gradients_plot_code() -> str:
    return "\n".join([
        "import numpy as np",
        "",
        'norms = np.array([[h["grad_norms"][name] for h in history] for name in LAYER_NAMES])  # (layers, reports)',
        "fig = go.Figure(go.Heatmap(",
        '    x=[h["step"] for h in history], y=LAYER_NAMES, z=np.log10(np.maximum(norms, 1e-30)),',
        '    colorscale="Viridis", colorbar={"title": "log₁₀ ‖∇W‖"},',
        '    hovertemplate="step %{x}<br>%{y}: 10^%{z:.2f}<extra></extra>"))',
        'fig.update_layout(xaxis_title="step", yaxis_title="layer (input at the bottom)", template="plotly_white",',
        f'                  height={PLOT_HEIGHT})',
        'HTML(fig.to_html(include_plotlyjs=True, include_mathjax=False, full_html=False))',
    ])
