"""Take it home: the Energy models page's three runs as notebook pieces (engine/core/take_home.py makes the files).

Nothing here learns by autograd until the deep belief net's fine-tuning: the Boltzmann machine and the
RBMs follow their learning rules, differences of correlations, with momentum and weight decay. The
notebook inlines the engine's own modules and functions (source_of), builds everything from the same
seeds and draws every random number from the same generator in the same order as the page's trainer,
so each report it prints equals the trainer's snapshot at that step: the exact KL of the Boltzmann
machine, the RBM's reconstruction error and free energies, the deep belief net's errors and accuracies.
"""
from __future__ import annotations

from dataclasses import fields

from ..core.digits import load_digits_split
from ..core.take_home import DARK, ORANGE, SHOW_SOURCE, Piece, check_steps, code, config_json_lines, markdown, source_of
from . import data, exact, models, rbm
from .boltzmann import log_odds
from .config import BoltzmannConfig, DBNConfig, RBMConfig
from .data import PATTERN_SETS
from .take_home_dbn import dbn_loop, dbn_plot

# How each pattern set is made in the notebook, from the generators inlined beside it.
PATTERN_CALLS = {"bars3x3": "bars_and_stripes(3, 3)", "bars2x4": "bars_and_stripes(2, 4)",
                 "shifter3": "shifter(3)", "shifter4": "shifter(4)"}
NOT_CONSTANTS = ("task", "seed", "max_steps")


def _check(config, cls, steps: int) -> None:
    if not isinstance(config, cls):
        raise ValueError(f"this exporter takes a {cls.__name__}, got {type(config).__name__}")
    check_steps(steps)


def _intro(config, title: str, about: str, steps_words: str, needs: str = "torch, numpy and plotly") -> Piece:
    return markdown("intro", f"# {title}, taken home", "", about, "",
                    f"{steps_words} It needs {needs}, all in the app's requirements.txt; nothing is downloaded. It "
                    "runs on the CPU with the page's seeds, so it prints the numbers the page shows for this config.",
                    "", "The config, to paste back into the app:", "", "```json", *config_json_lines(config), "```")


def _setup(config, steps: int, every: int, extra_imports: tuple[str, ...] = (), skip=NOT_CONSTANTS) -> Piece:
    constants = [f"{f.name.upper()} = {getattr(config, f.name)!r}" for f in fields(config) if f.name not in skip]
    imports = sorted(["import json", "import math", *(i for i in extra_imports if i.startswith("import "))])
    imports += [i for i in extra_imports if not i.startswith("import ")]
    return code("setup", *imports, "", "import numpy as np", "import torch",
                "import torch.nn.functional as F", "from torch import nn", "",
                f"SEED = {config.seed}  # the initial weights, every sample drawn and, for the digits, the split",
                f"STEPS = {steps}  # parameter updates", f"EVERY = {every}  # report every EVERY updates", "",
                *constants, "", "", SHOW_SOURCE)


def _digits_code() -> Piece:
    return code("data", "N_CLASSES = 10", f"BINARY_THRESHOLD = {data.BINARY_THRESHOLD}", "", "",
                "def _all_digits():",
                '    """scikit-learn\'s 1,797 handwritten 8x8 digits, pixels scaled from 0..16 to [0, 1]."""',
                "    from sklearn.datasets import load_digits",
                "    bunch = load_digits()",
                "    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)", "", "",
                source_of(load_digits_split, data.binary_digits, data.random_binary_images, log_odds,
                          rbm.initial_visible_bias), "", "",
                "x_train, y_train, x_test, y_test = binary_digits(SEED, TEST_FRACTION)",
                "print(f\"{len(x_train)} training digits, {len(x_test)} test digits, 64 binary pixels each\")")


DIGITS_TEXT = ("## 1. The digits", "",
               "scikit-learn's 1,797 handwritten 8×8 digits, split as the page splits them (stratified, in an order "
               "drawn from `SEED`), each pixel set to 1 where its ink is at least half the brightest and 0 "
               "elsewhere: a binary RBM models binary pixels. The random binary images (each pixel on with "
               "probability ½) are the far side of the free-energy gap.")


def _cd_text(what: str) -> Piece:
    return markdown("model-text", "## 2. The RBM and contrastive divergence", "",
                    "E(v, h) = −vᵀWh − bᵀv − cᵀh: no links within a layer, so p(h = 1 | v) = σ(c + vW) and "
                    "p(v = 1 | h) = σ(b + Whᵀ) are a layer at once, and the hidden units sum out into the free "
                    "energy F(v) = −bᵀv − Σⱼ log(1 + e^(cⱼ + v·W:ⱼ)).", "",
                    "CD-k starts a Gibbs chain at a batch of data and stops after k rounds v → h → v (persistent CD "
                    "keeps the chains from one update to the next); the update is the data's correlations minus the "
                    "chain's, with momentum and weight decay. " + what)


TRAIN_TEXT = markdown("train-text", "## 4. Train", "",
                      "One JSON line a report: the page's numbers for this seed; `history` keeps them for the plot.")


def _plot_text(*lines: str) -> Piece:
    return markdown("plot-text", "### What the plot shows", "", *lines)


# ---------- the Boltzmann machine ----------
def boltzmann_pieces(config: BoltzmannConfig, steps: int) -> list[Piece]:
    _check(config, BoltzmannConfig, steps)
    c = config
    return [
        _intro(c, "A Boltzmann machine",
               f"The Energy models page's Boltzmann machine on **{PATTERN_SETS[c.data][0]}**: {c.n_visible} visible "
               f"and {c.hidden} hidden binary units, every one linked to every other by symmetric weights. Each "
               "update compares the correlations with the visible units clamped to the patterns (positive phase) "
               f"with those of {c.chains} free-running persistent chains (negative phase). The machine is small "
               "enough that the notebook lists every one of its states, so it computes exactly what sampling only "
               "estimates: log Z, p(v) of every visible vector and KL(data ‖ model).",
               "It trains for `STEPS` updates and prints the exact KL, the data's log-likelihood and free energies "
               "every `EVERY` updates."),
        _setup(c, steps, max(1, steps // 100), ("import itertools",)),
        markdown("data-text", "## 1. The patterns", "",
                 "Generated in code, no file: bars and stripes (every row, or every column, all on or all off) or "
                 "the shifter (a ring of bits, a shifted copy, and three units saying which shift). p_data(v) is "
                 "the share of the patterns that are v."),
        code("data", f"MAX_ENUMERATED_UNITS = {exact.MAX_ENUMERATED_UNITS}", "", "",
             source_of(data.bars_and_stripes, data.shifter, exact.all_binary_states, exact.state_index,
                       exact.data_distribution, log_odds), "", "",
             f"patterns = {PATTERN_CALLS[c.data]}  # (m, {c.n_visible}) rows of 0/1",
             "p_data = data_distribution(patterns)  # (2^V,) in counting order",
             "print(f\"{len(patterns)} patterns of {patterns.shape[1]} units\")"),
        markdown("model-text", "## 2. The machine and its exact answers", "",
                 "E(s) = −½ sᵀWs − bᵀs with W symmetric and zero on the diagonal; a Gibbs sweep sets each unit in "
                 "turn to 1 with probability σ(Σⱼ Wᵢⱼ sⱼ + bᵢ). With at most 20 units, −E of every joint state is "
                 "one table, and log Z, log p(v) and the KL are sums over it (in float64)."),
        code("model", source_of(models._parameter, models.sample_bernoulli, models.BoltzmannMachine,
                                exact._bm_parameters, exact.bm_log_joint, exact.bm_log_partition,
                                exact.bm_visible_log_marginal, exact.kl_divergence)),
        markdown("loop-text", "## 3. The two phases", "",
                 "Each update: the patterns, repeated to about as many rows as there are chains, with their hidden "
                 "units sampled afresh by `GIBBS_SWEEPS` sweeps (positive phase); the persistent chains run "
                 "`GIBBS_SWEEPS` sweeps over every unit (negative phase); then ΔW = LR · (⟨sᵢsⱼ⟩₊ − ⟨sᵢsⱼ⟩₋ − "
                 "WEIGHT_DECAY · W) and Δb = LR · (⟨s⟩₊ − ⟨s⟩₋), with momentum. The visible biases start at the "
                 "patterns' log-odds. One generator, seeded `SEED + 1`, draws the chains' start and every sample."),
        code("loop", *_boltzmann_loop()),
        TRAIN_TEXT,
        code("train", "history, model = train(STEPS, EVERY)"),
        _plot_text("The exact KL(data ‖ model) in nats: 0 would be the patterns' own distribution. It falls as the "
                   "positive phase digs energy valleys at the patterns and the negative phase fills the ones the "
                   "model dreams up elsewhere. Then the learned weights, visible units first: the visible block "
                   "links the pixels that are on and off together (a stripe's row, a bar's column) and keeps apart "
                   "those that are not; the hidden units' columns show the features they took on."),
        code("plot", *_boltzmann_plot()),
    ]


def _boltzmann_loop() -> list[str]:
    return [
        "def evaluate(model, chains, step):",
        '    """The page\'s numbers, exact: every state listed."""',
        "    log_p = bm_visible_log_marginal(model)",
        "    log_z = bm_log_partition(model)",
        "    free = -(log_p + log_z)  # F(v) = -log p(v) - log Z",
        "    seen = p_data > 0",
        "    with torch.no_grad():",
        "        energy = float(model.energy(chains).mean())",
        '    return {"step": step, "kl": kl_divergence(p_data, log_p),',
        '            "log_likelihood": float(np.sum(p_data[seen] * log_p[seen])),',
        '            "data_mass": float(np.exp(log_p[seen]).sum()), "free_energy_data": float(free[seen].mean()),',
        '            **({"free_energy_other": float(free[~seen].mean())} if (~seen).any() else {}),',
        '            "energy": energy, "log_z": log_z}', "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Build the machine from SEED, train it `steps` updates, print a JSON line every `every`."""',
        "    nv = patterns.shape[1]",
        "    data = torch.from_numpy(patterns)",
        "    model = BoltzmannMachine(nv, HIDDEN, seed=SEED)",
        "    with torch.no_grad():",
        "        model.bias[:nv] = torch.from_numpy(log_odds(patterns.mean(axis=0))).float()",
        "    velocity_w, velocity_b = torch.zeros_like(model.weight), torch.zeros_like(model.bias)",
        "    generator = torch.Generator().manual_seed(SEED + 1)",
        "    chains = sample_bernoulli(torch.full((CHAINS, model.n_units), 0.5), generator)",
        "    history = [evaluate(model, chains, 0)]",
        "    print(json.dumps(history[-1]), flush=True)",
        "    for step in range(1, steps + 1):",
        "        # positive phase: the patterns clamped, the hidden units sampled from random",
        "        visible = data.repeat(max(1, math.ceil(CHAINS / len(data))), 1)",
        "        hidden = sample_bernoulli(torch.full((len(visible), HIDDEN), 0.5), generator)",
        "        positive = torch.cat([visible, hidden], dim=1)",
        "        for _ in range(GIBBS_SWEEPS if HIDDEN else 0):",
        "            model.gibbs_sweep(positive, range(nv, model.n_units), generator)",
        "        # negative phase: the persistent chains run free",
        "        for _ in range(GIBBS_SWEEPS):",
        "            model.gibbs_sweep(chains, range(model.n_units), generator)",
        "        grad_w = positive.T @ positive / len(positive) - chains.T @ chains / len(chains)",
        "        grad_w.fill_diagonal_(0.0)  # no unit is linked to itself",
        "        grad_b = positive.mean(dim=0) - chains.mean(dim=0)",
        "        with torch.no_grad():",
        "            velocity_w.mul_(MOMENTUM).add_(LR * (grad_w - WEIGHT_DECAY * model.weight))",
        "            velocity_b.mul_(MOMENTUM).add_(LR * grad_b)",
        "            model.weight.add_(velocity_w)",
        "            model.bias.add_(velocity_b)",
        "        if step % every == 0 or step == steps:",
        "            history.append(evaluate(model, chains, step))",
        "            print(json.dumps(history[-1]), flush=True)",
        "    return history, model"]


def _curve_lines(keys_names_colors: list[tuple[str, str, str]], y_title: str, title: str) -> list[str]:
    return [
        "import plotly.graph_objects as go", "", "fig = go.Figure()",
        f"for key, name, color in {keys_names_colors!r}:",
        "    points = [h for h in history if isinstance(h.get(key), (int, float)) and not math.isnan(h[key])]",
        '    fig.add_scatter(x=[h["step"] for h in points], y=[h[key] for h in points], name=name, mode="lines",',
        '                    line={"color": color, "width": 2})',
        f'fig.update_layout(title={title!r}, xaxis_title="update", yaxis_title={y_title!r}, template="plotly_white",',
        '                  height=360, legend={"orientation": "h", "y": 1.12})']


def _boltzmann_plot() -> list[str]:
    return [*_curve_lines([("kl", "KL(data ‖ model)", DARK)], "nats", "Exact KL divergence"),
            'show(fig, "boltzmann_kl")', "",
            "weights = model.weight.detach().numpy()",
            'names = [f"v{i + 1}" for i in range(model.n_visible)] + [f"h{j + 1}" for j in range(model.n_hidden)]',
            "limit = float(np.abs(weights).max()) or 1.0",
            'fig = go.Figure(go.Heatmap(z=weights, x=names, y=names, colorscale="RdBu", zmid=0, zmin=-limit, '
            'zmax=limit))',
            'fig.update_layout(title="The learned weights W (symmetric)", yaxis={"autorange": "reversed"},',
            '                  template="plotly_white", height=460, width=520)',
            'show(fig, "boltzmann_weights")']


# ---------- the restricted Boltzmann machine ----------
def _rbm_code() -> Piece:
    return code("model", source_of(models._parameter, models.sample_bernoulli, models.RBM,
                                   rbm.ContrastiveDivergence))


def rbm_pieces(config: RBMConfig, steps: int) -> list[Piece]:
    _check(config, RBMConfig, steps)
    c = config
    method = f"persistent CD-{c.k}" if c.persistent else f"CD-{c.k}"
    return [
        _intro(c, "A restricted Boltzmann machine",
               f"The Energy models page's RBM: {c.hidden} binary hidden units learning the binarised 8×8 digits "
               f"by {method}, {c.batch_size} digits an update, without a label. It is watched as the page watches "
               "it: the test digits' reconstruction error (a rough guide, not the objective) and the free-energy "
               "gap between random binary images and test digits (a model that gives the digits high probability "
               "gives them low free energy).",
               "It trains for `STEPS` updates and prints those numbers every `EVERY` updates.",
               "torch, numpy, scikit-learn (its digits) and plotly"),
        _setup(c, steps, max(1, steps // 100), ("from types import SimpleNamespace",)),
        markdown("data-text", *DIGITS_TEXT),
        _digits_code(),
        _cd_text("The visible biases start at the training pixels' log-odds, the weights at N(0, 0.01²)."),
        _rbm_code(),
        markdown("loop-text", "## 3. The training loop", "",
                 "The samples come from a generator seeded `SEED + 1`, the batch order from one seeded `SEED + 3`; "
                 "a report measures the test digits' one-step reconstruction error and the mean free energies of "
                 "the test digits, as many training digits, and 200 random images (seeded `SEED + 7`)."),
        code("loop", *_rbm_loop()),
        TRAIN_TEXT,
        code("train", "history, model = train(STEPS, EVERY)"),
        _plot_text("The test digits' reconstruction error, per pixel: it falls fast, then slowly. Then the first 32 "
                   "hidden units' filters, each unit's 64 weights as the picture they multiply: red where ink "
                   "turns the unit on, blue where it turns it off: strokes and blobs of the digits."),
        code("plot", *_rbm_plot()),
    ]


def _rbm_loop() -> list[str]:
    return [
        "CD = SimpleNamespace(k=K, persistent=PERSISTENT, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY,",
        "                     batch_size=BATCH_SIZE)",
        "random_images = torch.from_numpy(random_binary_images(200, 64, SEED + 7))",
        "x_train_t, x_test_t = torch.from_numpy(x_train), torch.from_numpy(x_test)", "", "",
        "@torch.no_grad()",
        "def evaluate(model, cd, step):",
        "    f_test = float(model.free_energy(x_test_t).mean())",
        "    f_random = float(model.free_energy(random_images).mean())",
        '    return {"step": step, "epoch": cd.epoch,',
        '            "recon_error": float(((model.reconstruct(x_test_t) - x_test_t) ** 2).mean()),',
        '            "free_energy_test": f_test,',
        '            "free_energy_train": float(model.free_energy(x_train_t[:len(x_test_t)]).mean()),',
        '            "free_energy_random": f_random, "free_energy_gap": f_random - f_test}', "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Build the RBM from SEED, train it `steps` updates, print a JSON line every `every`."""',
        "    model = RBM(64, HIDDEN, seed=SEED)",
        "    with torch.no_grad():",
        "        model.visible_bias.copy_(initial_visible_bias(x_train))",
        "    cd = ContrastiveDivergence(model, x_train_t, CD, torch.Generator().manual_seed(SEED + 1), SEED + 3)",
        "    history = [evaluate(model, cd, 0)]",
        "    print(json.dumps(history[-1]), flush=True)",
        "    for step in range(1, steps + 1):",
        "        cd.step()",
        "        if step % every == 0 or step == steps:",
        "            history.append(evaluate(model, cd, step))",
        "            print(json.dumps(history[-1]), flush=True)",
        "    return history, model"]


def _rbm_plot() -> list[str]:
    return [*_curve_lines([("recon_error", "test reconstruction error", ORANGE)], "squared error per pixel",
                          "Reconstruction error of the test digits"),
            'show(fig, "rbm_recon_error")', "",
            "filters = model.weight.detach().T.reshape(-1, 8, 8).numpy()[:32]  # (units, 8, 8)",
            "columns = 8",
            "rows = -(-len(filters) // columns)",
            "mosaic = np.full((rows * 9 - 1, columns * 9 - 1), np.nan)  # a blank line between filters",
            "for i, f in enumerate(filters):",
            "    r, c = divmod(i, columns)",
            "    mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = f / (np.abs(f).max() or 1.0)",
            'fig = go.Figure(go.Heatmap(z=mosaic, colorscale="RdBu_r", zmid=0, showscale=False))',
            'fig.update_layout(title="Filters of the first hidden units", template="plotly_white",',
            '                  yaxis={"autorange": "reversed", "scaleanchor": "x", "visible": False},',
            '                  xaxis={"visible": False}, height=120 + 60 * rows, width=560)',
            'show(fig, "rbm_filters")']


# ---------- the deep belief net ----------
def dbn_pieces(config: DBNConfig, steps: int) -> list[Piece]:
    _check(config, DBNConfig, steps)
    c = config
    sizes = " → ".join(str(n) for n in [64, *c.hidden])
    return [
        _intro(c, "A deep belief net",
               f"The Energy models page's deep belief net ({sizes} units): each RBM is pretrained in turn by "
               f"CD-{c.k} on the codes of the one below ({c.pretrain_steps} updates a layer, no labels), then the "
               "stack becomes a sigmoid network with a softmax head, fine-tuned with Adam on a few labelled digits "
               f"({', '.join(str(n or 'all') for n in c.labelled)}). Beside it, the same network from a random start "
               "is trained on the same batches: does pretraining help when labels are few?",
               f"The whole run is {c.total_steps} updates; it trains the first `STEPS` of them and prints the "
               "errors and accuracies every `EVERY` updates.",
               "torch, numpy, scikit-learn (its digits) and plotly"),
        _setup(c, steps, max(1, steps // 100), ("from types import SimpleNamespace",), skip=("task", "seed")),
        markdown("data-text", *DIGITS_TEXT),
        _digits_code(),
        _cd_text("A deep belief net stacks them: `classifier` turns the RBMs into Linear + sigmoid layers (their "
                 "weights and hidden biases, or a seeded random start) under a linear head."),
        code("model", source_of(models._parameter, models.sample_bernoulli, models.RBM, rbm.ContrastiveDivergence,
                                models.DeepBeliefNet, models._seeded_linear)),
        markdown("loop-text", "## 3. Pretrain, then fine-tune", "",
                 "The plan: each layer's pretraining, then for each labelled count the fine-tuning of both networks "
                 "(a balanced subset: the same number of each digit). One generator seeded `SEED + 1` draws the "
                 "CD samples, one seeded `SEED + 2` the fine-tuning batches; layer i's batch order is seeded "
                 "`SEED + 10 + i`, the networks of count i start from `SEED + 100 + i`. A report holds the "
                 "current RBM's reconstruction error of the test digits' codes and, while fine-tuning, both "
                 "networks' test accuracy."),
        code("loop", *dbn_loop()),
        TRAIN_TEXT,
        code("train", "history, dbn = train(STEPS, EVERY)"),
        _plot_text("Left of the dotted line, each layer's reconstruction error while it is pretrained; right of it, "
                   "the test accuracy of the pretrained network (dark) and of the same network from a random start "
                   "(orange), count after count. With few labels the pretrained one is ahead."),
        code("plot", *dbn_plot()),
    ]
