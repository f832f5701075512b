"""Export as PyTorch: one config -> a standalone training script (torch + NumPy only).

The script rebuilds the data (the generator's own source, copied), the split, the features,
the network as an explicit nn.Module, the batch order, the loss and the optimiser, trains,
and prints the loss curve as JSON lines. It imports nothing from this project, yet prints
the numbers Trainer reports for the same steps and seed (tests/test_export.py checks it),
because it makes the same calls in the same order, each random draw from the same seed and
generator. Only what the config uses is written out: one generator, one loss, one init.

The pieces (data_parts, model_code, loss_code, loop_code) are built one by one so that
notebook.py can put each in a cell of its own, after a note on what it does.
"""
from __future__ import annotations

import inspect
import json

from .config import ExperimentConfig
from .data import GENERATORS, make_dataset
from .models import n_outputs_for

# The functional form of each registry activation (the modules call exactly these).
ACTIVATION_CODE = {
    "relu": "torch.relu({})", "leaky_relu": "F.leaky_relu({}, 0.01)", "elu": "F.elu({})",
    "gelu": "F.gelu({})", "tanh": "torch.tanh({})", "sigmoid": "torch.sigmoid({})",
    "softplus": "F.softplus({})", "linear": "{}",
}
# data.FEATURE_FUNCTIONS as expressions of the float32 columns x1, x2.
FEATURE_CODE = {
    "x1": "x1", "x2": "x2", "x1_sq": "x1 * x1", "x2_sq": "x2 * x2", "x1_x2": "x1 * x2",
    "sin_x1": "np.sin(x1)", "sin_x2": "np.sin(x2)",
}
REPORT_EVERY = 100


def export_script(config: ExperimentConfig, steps: int = 1000, gradients: bool = False) -> str:
    """Python source of a script that trains `config` for `steps` steps (--steps overrides);
    with `gradients`, each line also holds every layer's weight-gradient norm (grad_norms)."""
    check_steps(steps)
    points, features, data = data_parts(config)
    body = "\n\n\n".join([_section("Data") + points, features, data, _section("Model") + model_code(config),
                           _section("Training") + loss_code(config), loop_code(config, gradients),
                           _main_function()])
    head = [
        '"""Neural Playground experiment, exported as a standalone PyTorch script.',
        "",
        "Rebuilds the data, the network and the training loop of the config below, trains,",
        f"and prints one JSON line every --every steps (default {REPORT_EVERY}): the loss and accuracy",
        "on the whole train and test sets, as the playground reports them for the same seed",
        "(to the last bit with the same torch version and thread count). Needs only torch and numpy:",
        "",
        "    python this_script.py [--steps N] [--every K]",
        '"""',
        *config_comment(config),
        "import argparse",
        *header_lines(config, steps, REPORT_EVERY, uses_f="F." in body, script=True),
    ]
    tail = ['if __name__ == "__main__":', "    main()"]
    return "\n".join(head) + "\n\n\n" + body + "\n\n\n" + "\n".join(tail) + "\n"


def check_steps(steps) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}")


def header_lines(config: ExperimentConfig, steps: int, every: int, uses_f: bool, script: bool) -> list[str]:
    """The imports (after the script's argparse) and the constants every later section reads."""
    overrides = " (--{} overrides)" if script else "{}"
    return [
        "import json",
        "",
        "import numpy as np",
        "import torch",
        *(["import torch.nn.functional as F"] if uses_f else []),
        "from torch import nn",
        "",
        f"SEED = {config.train.seed}  # seeds the data, the split, the initial weights, the batch order, dropout",
        f"STEPS = {steps}  # optimisation steps" + overrides.format("steps" if script else ""),
        f"EVERY = {every}  # report the loss every EVERY steps" + overrides.format("every" if script else ""),
        f"BATCH_SIZE = {config.train.batch_size}",
    ]


def config_comment(config: ExperimentConfig) -> list[str]:
    d = config.to_dict()
    if config.data.name == "custom":
        d["data"]["points"] = f"<{len(config.data.points)} points, see POINTS below>"
    # One section a line: still valid JSON, to paste back into the playground.
    text = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()) + "\n}"
    return ["#", "# The config:", "#"] + [f"# {line}" for line in text.splitlines()] + ["#"]


def _section(title: str) -> str:
    return f"# {'-' * 30} {title} {'-' * (40 - len(title))}\n\n"


# ---- Data -----------------------------------------------------------------------------
def data_parts(config: ExperimentConfig) -> list[str]:
    """Three pieces of code: the points (the generator's source, or the custom points), make_features, make_data."""
    d, classify = config.data, config.task == "classify2d"
    if d.name == "custom":
        lines = ["# The custom data set, one [x1, x2, label or target] per point.", "POINTS = np.asarray(["]
        rows = [repr(list(p)) for p in d.points]
        lines += ["    " + ", ".join(rows[i:i + 4]) + "," for i in range(0, len(rows), 4)]
        lines += ["], dtype=np.float64)"]
        load = ["    xy, y = POINTS[:, :2], POINTS[:, 2]"]
    else:
        lines = inspect.getsource(GENERATORS[d.name]).rstrip().splitlines()
        extra = f", n_classes={d.n_classes}" if d.name == "blobs" else ""
        load = ["    rng = np.random.default_rng(SEED)",
                f"    xy, y = make_{d.name}({d.n_samples}, {d.noise!r}, rng{extra})  # (n, 2) points, (n,) labels"]
    exprs = [FEATURE_CODE[f] for f in d.features]
    points = "\n".join(lines)
    lines = ["def make_features(xy):",
              f'    """(n, 2) points -> (n, {len(exprs)}) network inputs: {", ".join(d.features)}."""',
              "    x1, x2 = xy[:, 0], xy[:, 1]",
              f"    return np.stack([{', '.join(exprs)}], axis=1).astype(np.float32)"]

    n, n_test = len(d.points) if d.name == "custom" else d.n_samples, _n_test(config)
    label = "np.int64" if classify else "np.float32"
    features = "\n".join(lines)
    lines = ["def make_data():",
              '    """Train and test inputs and labels as tensors, split as the playground splits them."""',
              *load,
              "    order = np.random.default_rng(SEED + 1).permutation(len(xy))",
              (f"    test, train = order[:{n_test}], order[{n_test}:]  # {n_test} of {n} points held out" if n_test
               else "    train = order  # test_fraction 0: every point trains"),
              f"    xy, y = xy.astype(np.float32), y.astype({label})",
              "    x_train = torch.from_numpy(make_features(xy[train]))",
              "    y_train = torch.from_numpy(y[train])"]
    if n_test:
        lines += ["    x_test = torch.from_numpy(make_features(xy[test]))",
                  "    y_test = torch.from_numpy(y[test])",
                  "    return x_train, y_train, x_test, y_test"]
    else:
        lines += ["    return x_train, y_train, None, None  # test_fraction 0: no test set"]
    return [points, features, "\n".join(lines)]


# ---- Model ----------------------------------------------------------------------------
def _init_lines(config: ExperimentConfig, names: list[str]) -> list[str]:
    """Re-initialisation as registries.init_linear does it: weights redrawn layer by layer
    (after all layers exist, so the default draws come first), biases zeroed."""
    scheme = config.model.init
    if scheme == "default":
        return []
    gains = [a if a in ("tanh", "relu", "leaky_relu", "sigmoid") else "linear"
             for a in config.model.activations() + ["linear"]]
    target = "layer, gain"
    if scheme == "he":  # kaiming_normal_ takes the nonlinearity's name instead of a gain
        target, gains = "layer, nonlinearity", ["leaky_relu" if g == "leaky_relu" else "relu" for g in gains]
    loop = _for_loop(target, [f"(self.{name}, {json.dumps(g)})" for name, g in zip(names, gains)])
    draw = {
        "xavier": "nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(gain))",
        "orthogonal": "nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain(gain))",
        "he": "nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)",
        "normal": "nn.init.normal_(layer.weight, mean=0.0, std=1.0)",
    }[scheme]
    if scheme == "normal":
        loop = _for_loop("layer", [f"self.{name}" for name in names])
    return ["", f"        # {scheme} init: weights redrawn input to output, biases start at zero", loop,
            f"            {draw}", "            nn.init.zeros_(layer.bias)"]


def _for_loop(target: str, items: list[str]) -> str:
    one_line = f"        for {target} in [{', '.join(items)}]:"
    if len(one_line) <= 110:
        return one_line
    return "\n".join([f"        for {target} in ["] + [f"            {item}," for item in items] + ["        ]:"])


def model_code(config: ExperimentConfig) -> str:
    """The network as an explicit nn.Module, class Net."""
    m = config.model
    widths = [len(config.data.features)] + list(m.hidden)
    n_out = n_outputs_for(config)
    names = [f"hidden{i + 1}" for i in range(len(m.hidden))] + ["output"]
    norm = {"batch": "nn.BatchNorm1d", "layer": "nn.LayerNorm"}.get(m.norm)
    order = "Linear -> " + (f"{m.norm} norm -> " if norm else "") + "activation" + (" -> dropout" if m.dropout else "")
    lines = [
        "class Net(nn.Module):",
        f'    """(B, {widths[0]}) inputs -> (B, {n_out}) raw scores. Each hidden layer: {order}'
        + (",\n    plus a skip connection where its input and output widths match." if m.residual else ".") + '"""',
        "", "    def __init__(self):", "        super().__init__()"]
    for i, (a, b) in enumerate(zip(widths, widths[1:]), 1):
        lines.append(f"        self.hidden{i} = nn.Linear({a}, {b})")
        if norm:
            lines.append(f"        self.norm{i} = {norm}({b})")
    lines.append(f"        self.output = nn.Linear({widths[-1]}, {n_out})")
    if m.dropout:
        lines.append(f"        self.dropout = nn.Dropout({m.dropout!r})")
    lines += _init_lines(config, names)

    body = []
    for i, (a, b, act) in enumerate(zip(widths, widths[1:], m.activations()), 1):
        h = f"self.hidden{i}(x)"
        h = f"self.norm{i}({h})" if norm else h
        h = ACTIVATION_CODE[act].format(h)
        h = f"self.dropout({h})" if m.dropout else h
        skip = m.residual and a == b
        body.append((f"x = x + {h}" if skip else f"x = {h}", f"(B, {b})" + (" skip connection" if skip else "")))
    body.append((f"return self.{names[-1]}(x)", f"(B, {n_out})"))
    pad = max(len(code) for code, _ in body) + 2
    lines += ["", f"    def forward(self, x):  # x: (B, {widths[0]})"]
    lines += [f"        {code:<{pad}}# {shape}" for code, shape in body]
    lines += ["", "    def weights(self):", '        """Weights of the linear layers, input to output (penalties leave biases alone)."""',
              f"        return [{', '.join(f'self.{name}.weight' for name in names)}]"]
    return "\n".join(lines)


# ---- Training -------------------------------------------------------------------------
def _loss_function(config: ExperimentConfig) -> list[str]:
    """losses.data_loss for this config's case only; y holds class indices or targets."""
    k, loss = config.n_classes, config.train.loss
    if k == 0:
        doc, code = "Mean squared error of the single output.", "F.mse_loss(scores[:, 0], y)"
    elif k == 2:  # two classes train one score; "ce" is then the same function as "bce"
        doc, code = {
            "bce": ("Binary cross-entropy on the single score (a logit).",
                    "F.binary_cross_entropy_with_logits(scores[:, 0], y.float())"),
            "mse": ("Mean squared error of sigmoid(score) against the 0/1 label.",
                    "F.mse_loss(torch.sigmoid(scores[:, 0]), y.float())"),
            "hinge": ("Hinge loss: the score should be >= 1 for class 1, <= -1 for class 0.",
                      "torch.clamp(1 - (2 * y.float() - 1) * scores[:, 0], min=0).mean()"),
        }["bce" if loss == "ce" else loss]
    else:
        doc, code = {
            "ce": (f"Cross-entropy over the {k} class logits.", "F.cross_entropy(scores, y)"),
            "bce": (f"Binary cross-entropy of each of the {k} logits against the one-hot label.",
                    f"F.binary_cross_entropy_with_logits(scores, F.one_hot(y, {k}).float())"),
            "mse": ("Mean squared error of the softmax against the one-hot label.",
                    f"F.mse_loss(torch.softmax(scores, dim=1), F.one_hot(y, {k}).float())"),
            "hinge": ("Multi-class hinge loss.", "F.multi_margin_loss(scores, y)"),
        }[loss]
    lines = ["def data_loss(scores, y):", f'    """{doc}"""', f"    return {code}"]
    if k:
        predict = "(scores[:, 0] > 0).long()" if k == 2 else "scores.argmax(dim=1)"
        lines += ["", "", "def predict(scores):", '    """Predicted class of each point."""', f"    return {predict}"]
    return lines


def _penalty_function(config: ExperimentConfig) -> list[str]:
    l1, l2 = config.train.l1, config.train.l2
    if not (l1 or l2):
        return []
    terms = ([f"{l1!r} * w.abs().sum()"] if l1 else []) + ([f"0.5 * {l2!r} * (w * w).sum()"] if l2 else [])
    what = " + ".join(([f"{l1!r} * sum|w|"] if l1 else []) + ([f"{l2!r}/2 * sum w²"] if l2 else []))
    return ["", "", "def weight_penalty(model):", f'    """{what} over the weights (not the biases)."""',
            "    total = 0.0", "    for w in model.weights():", f"        total = total + {' + '.join(terms)}",
            "    return total"]


def _optimizer_code(config: ExperimentConfig) -> str:
    t = config.train
    if t.optimizer == "sgd":
        return f"torch.optim.SGD(model.parameters(), lr={t.lr!r}, momentum={t.momentum!r})"
    if t.optimizer in ("momentum", "nesterov"):
        nesterov = ", nesterov=True" if t.optimizer == "nesterov" else ""
        return f"torch.optim.SGD(model.parameters(), lr={t.lr!r}, momentum={(t.momentum or 0.9)!r}{nesterov})"
    if t.optimizer == "rmsprop":
        return f"torch.optim.RMSprop(model.parameters(), lr={t.lr!r}, momentum={t.momentum!r})"
    name = {"adam": "Adam", "adagrad": "Adagrad"}[t.optimizer]
    return f"torch.optim.{name}(model.parameters(), lr={t.lr!r})"


def loss_code(config: ExperimentConfig) -> str:
    """data_loss (and predict, weight_penalty where the config uses them) and make_optimizer."""
    lines = _loss_function(config) + _penalty_function(config) + [
        "", "", "def make_optimizer(model):", f'    """{config.train.optimizer} over every parameter of the model."""',
        f"    return {_optimizer_code(config)}"]
    return "\n".join(lines)


def loop_code(config: ExperimentConfig, gradients: bool = False) -> str:
    """evaluate and train(steps, every): the training loop, printing a JSON line every `every` steps;
    with `gradients`, each line also holds every layer's weight-gradient norm at that step (after
    backward, before clipping: what backpropagation delivered, as the Vanishing gradients page shows)."""
    classify, has_test = config.n_classes > 0, _n_test(config) > 0
    evaluate = ["@torch.no_grad()", "def evaluate(model, x, y):",
                '    """Loss' + (" and accuracy" if classify else "") + ' over a whole set, in eval mode'
                + (" (batch norm uses its running statistics)" if config.model.norm == "batch" else "")
                + (" (no dropout)" if config.model.dropout else "") + '."""',
                "    model.eval()", "    scores = model(x)", "    model.train()"]
    evaluate += (["    return float(data_loss(scores, y)), float((predict(scores) == y).float().mean())"] if classify
                 else ["    return float(data_loss(scores, y)), None  # regression: no accuracy"])
    test_eval = ("        test_loss, test_accuracy = evaluate(model, x_test, y_test)" if has_test
                 else "        test_loss = test_accuracy = None  # no test set")
    batch_norm = config.model.norm == "batch"
    epoch_end = ("        if n_train - position < 2:  # a single point left would break the batch statistics"
                 if batch_norm else "        if position >= n_train:")
    max_epochs = config.train.max_epochs
    penalty = " + weight_penalty(model)" if (config.train.l1 or config.train.l2) else ""
    names = [f"hidden{i + 1}" for i in range(len(config.model.hidden))] + ["output"]
    layer_names = [f"LAYER_NAMES = {names!r}  # model.weights(), input to output", "", ""] if gradients else []
    lines = layer_names + evaluate + [
        "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Trains a fresh network from SEED; prints and returns one record every `every` steps."""',
        "    x_train, y_train, x_test, y_test = make_data()",
        "    torch.manual_seed(SEED)  # the initial weights",
        "    model = Net()",
        "    optimizer = make_optimizer(model)",
        *(["    torch.manual_seed(SEED + 3)  # the dropout masks"] if config.model.dropout else []),
        "    batch_gen = torch.Generator().manual_seed(SEED + 2)  # the batch order",
        "    n_train = len(x_train)",
        "    batch_size = min(BATCH_SIZE, n_train)",
        "    order, position, epoch = torch.randperm(n_train, generator=batch_gen), 0, 0",
        "    history = []",
        "",
        "    model.train()",
        "    for step in range(1, steps + 1):",
        "        # The next batch of the shuffled order; a new epoch reshuffles when it is used up.",
        "        idx = order[position:position + batch_size]",
        "        position += len(idx)",
        epoch_end,
        "            order, position, epoch = torch.randperm(n_train, generator=batch_gen), 0, epoch + 1",
        "",
        f"        loss = data_loss(model(x_train[idx]), y_train[idx]){penalty}",
        "        if not torch.isfinite(loss):  # diverged: stop before the update, as the playground does",
        '            print(json.dumps({"step": step - 1, "diverged": True}))',
        "            break",
        "        optimizer.zero_grad()",
        "        loss.backward()",
        *(["        grad_norms = {name: float(w.grad.norm()) for name, w in zip(LAYER_NAMES, model.weights())}"]
          if gradients else []),
        *([f"        torch.nn.utils.clip_grad_norm_(model.parameters(), {config.train.clip_grad_norm!r})  # gradient clipping"]
          if config.train.clip_grad_norm > 0 else []),
        "        optimizer.step()",
        "",
        *([f"        finished = epoch >= {max_epochs}  # the config's epoch limit",
           "        if not (step % every == 0 or step == steps or finished):"] if max_epochs else
          ["        if not (step % every == 0 or step == steps):"]),
        "            continue",
        "        train_loss, train_accuracy = evaluate(model, x_train, y_train)",
        test_eval,
        '        history.append({"step": step, "epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,',
        *(['                        "grad_norms": grad_norms,'] if gradients else []),
        '                        "train_accuracy": train_accuracy, "test_accuracy": test_accuracy})',
        "        print(json.dumps(history[-1]), flush=True)",
        *(["        if finished:", "            break"] if max_epochs else []),
        "    return history",
    ]
    return "\n".join(lines)


def _main_function() -> str:
    return "\n".join([
        "def main():",
        '    parser = argparse.ArgumentParser(description="Train the exported network; prints the loss curve as JSON lines.")',
        '    parser.add_argument("--steps", type=int, default=STEPS, help="optimisation steps (default %(default)s)")',
        '    parser.add_argument("--every", type=int, default=EVERY, help="print a line every K steps (default %(default)s)")',
        "    args = parser.parse_args()",
        "    train(args.steps, args.every)",
    ])


def _n_test(config: ExperimentConfig) -> int:
    """Points held out, by make_dataset's own rule (cheap: at most 20,000 points)."""
    return len(make_dataset(config).test_y)
