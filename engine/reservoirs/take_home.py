"""Take it home: the Reservoirs page's three runs as notebook pieces (engine/core/take_home.py makes the files).

Nothing here is trained by gradients: a random network is drawn once from a seeded generator and a
linear read-out is solved by ridge regression. A step of the page's trainers is one more piece of
that solve (ELM: the next hidden width of the sweep; ESN and LSM: the next chunk of training data,
added to running sums and refitted), so the notebook's loop prints one JSON line per step, equal to
the trainer's snapshot. The engine's own functions and modules are inlined (source_of), float64 as
on the page's CPU, and every random draw comes from the same generator in the same order.
"""
from __future__ import annotations

from dataclasses import asdict

from ..core.digits import load_digits_split
from ..core.take_home import SHOW_SOURCE, Piece, check_steps, code, config_json_lines, markdown, source_of
from ..mlp.config import DOMAIN
from ..mlp.data import GENERATORS
from . import data, elm, esn, lsm, ridge
from .config import ELMConfig, ESNConfig, LSMConfig
from .take_home_cells import (digits_curve, elm_boundary, elm_loop, elm_plot, esn_digits_loop, esn_series_loop,
                              esn_series_plot, lsm_loop, lsm_raster)

IMPORTS = ["import json", "import math", "", "import numpy as np", "import torch", "from torch import nn", ""]
RIDGE_TEXT = ("The read-out is ridge regression, solved, not trained: with the features H and targets Y of the "
              "samples seen, W = Y Hᵀ (H Hᵀ + λI)⁻¹ and an unpenalised intercept (as scikit-learn's `Ridge`).")


def _check(config, cls, steps: int) -> None:
    if not isinstance(config, cls):
        raise ValueError(f"this exporter takes a {cls.__name__}, got {type(config).__name__}")
    check_steps(steps)


def _intro(config, title: str, about: str, steps_words: str) -> Piece:
    return markdown("intro", f"# {title}, taken home", "", about, "",
                    f"{steps_words} It needs torch, numpy and plotly (scikit-learn for the digits), all in the app's "
                    "requirements.txt; nothing is downloaded. It runs on the CPU, in float64 as the page does there, "
                    "so it prints the numbers the page shows for this config and seed.", "",
                    "The config, to paste back into the app:", "", "```json", *config_json_lines(config), "```")


def _constants(section_name: str, section) -> list[str]:
    return [f"{section_name}_{k.upper()} = {v!r}" for k, v in asdict(section).items()]


def _setup(config, steps: int, what_a_step_is: str) -> Piece:
    lines = [*IMPORTS, f"SEED = {config.train.seed}  # every random draw: the weights, the data's split, spikes",
             f"STEPS = {steps}  # {what_a_step_is}"]
    for name in ("data", "model", "train"):
        lines += [f"# {name}", *(line for line in _constants(name.upper(), getattr(config, name))
                                 if not line.startswith("TRAIN_SEED"))]
    return code("setup", *lines, "", "", SHOW_SOURCE)


def _digits_lines() -> list[str]:
    return [
        "N_CLASSES, IMAGE_SIDE = 10, 8", "", "",
        "def _all_digits():",
        '    """scikit-learn\'s 1,797 handwritten 8x8 digits, pixels scaled from 0..16 to [0, 1]."""',
        "    from sklearn.datasets import load_digits",
        "    bunch = load_digits()",
        "    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)", "", "",
        source_of(load_digits_split, data.digit_rows)]


def _ridge_code(*extra) -> Piece:
    return code("readout", source_of(ridge.solve_ridge, *extra))


# ---------- extreme learning machine ----------
def elm_pieces(config: ELMConfig, steps: int) -> list[Piece]:
    _check(config, ELMConfig, steps)
    d = config.data
    n_classes = 3 if d.name == "blobs" else 2
    generate = f"make_{d.name}(DATA_N_SAMPLES, DATA_NOISE, rng{', N_CLASSES' if d.name == 'blobs' else ''})"
    return [
        _intro(config, "An extreme learning machine",
               f"The Reservoirs page's extreme learning machine on the **{d.name}** points: a hidden layer of "
               f"{config.model.hidden} random {config.model.activation} units that is never trained, and a linear "
               "read-out solved in one step. The sweep then fits the first w units of the same random layer for "
               f"each width w of {config.train.sweep}: too few units underfit; with a tiny λ, as many units as "
               "training points fit the noise.",
               "Each step fits the next width of the sweep and prints its train and test accuracy."),
        _setup(config, steps, "widths of the sweep fitted, one per step"),
        markdown("data-text", "## 1. The points", "",
                 "The Playground's generator, drawn from `SEED`, and its split: a permutation from `SEED + 1`, the "
                 f"first {d.test_fraction:.0%} held out for the test."),
        code("data", f"N_CLASSES = {n_classes}", f"DOMAIN = {DOMAIN}  # the points live in [-6, 6]²", "", "",
             source_of(GENERATORS[d.name]), "", "",
             "rng = np.random.default_rng(SEED)",
             f"xy, y = {generate}",
             "order = np.random.default_rng(SEED + 1).permutation(len(xy))",
             "n_test = min(max(int(round(len(xy) * DATA_TEST_FRACTION)), 1), len(xy) - 1)",
             "test, train = order[:n_test], order[n_test:]",
             "xy, y = xy.astype(np.float32), y.astype(np.int64)",
             "x_train, y_train = torch.from_numpy(xy[train]).double(), torch.from_numpy(y[train])",
             "x_test, y_test = torch.from_numpy(xy[test]).double(), torch.from_numpy(y[test])"),
        markdown("model-text", "## 2. The random hidden layer", "",
                 "h = g(A x / 6 + c): A and c drawn once from a generator seeded `SEED + 11`, spread by the input "
                 "scale; as many units as the widest use, so that every width is the first units of the same layer."),
        code("model", "ACTIVATIONS = {\"tanh\": torch.tanh, \"relu\": torch.relu, \"sigmoid\": torch.sigmoid, "
                      "\"sin\": torch.sin}", "", "", source_of(elm.ELM), "", "",
             "def make_elm():",
             "    units = max(MODEL_HIDDEN, *TRAIN_SWEEP)",
             "    gen = torch.Generator().manual_seed(SEED + 11)",
             "    weights = torch.randn(units, 2, generator=gen, dtype=torch.float64) * MODEL_INPUT_SCALE",
             "    bias = (torch.rand(units, generator=gen, dtype=torch.float64) * 2 - 1) * MODEL_INPUT_SCALE",
             "    return ELM(weights, bias, MODEL_ACTIVATION, N_CLASSES)"),
        markdown("readout-text", "## 3. The read-out", "", RIDGE_TEXT + " The targets are the one-hot classes; "
                 "the predicted class is the largest output."),
        _ridge_code(ridge.fit_ridge),
        markdown("loop-text", "## 4. Fit, then sweep", "",
                 f"`train` fits the page's ELM ({config.model.hidden} units) and prints its accuracy (step 0), then "
                 "fits one width of the sweep per step and prints the sweep so far."),
        code("loop", *elm_loop()),
        markdown("train-text", "## 5. Train", ""),
        code("train", "sweep, model = train(STEPS)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Train (dark) and test (orange) accuracy against the hidden width, on a log scale. The training "
                 "accuracy climbs to 100 % once there are about as many units as training points; the test accuracy "
                 "rises, then, with a tiny λ, falls where the read-out starts fitting the noise. A larger λ keeps "
                 "it up. The second figure is the page's ELM over the plane, the points on top."),
        code("plot", *elm_plot()),
        code("boundary", *elm_boundary()),
    ]


# ---------- echo state network ----------
def esn_pieces(config: ESNConfig, steps: int) -> list[Piece]:
    _check(config, ESNConfig, steps)
    d, m = config.data, config.model
    digits = d.signal == "digits"
    what = ("the 8×8 digits, fed row by row (8 inputs at a time), classified from the state after the last row"
            if digits else f"the **{d.signal.replace('_', '-')}** series, predicted one step ahead, then run free "
            "(each output fed back as the next input)")
    return [
        _intro(config, "An echo state network",
               f"The Reservoirs page's echo state network: a random recurrent reservoir of {m.size} tanh units "
               f"(spectral radius {m.spectral_radius}, leak rate {m.leak_rate}) that is never trained, on {what}. "
               "x(t) = (1 − a) x(t−1) + a tanh(W_in [1; u(t)] + W x(t−1)); only the read-out y = W_out x + b is "
               "fitted.",
               f"Each step drives the reservoir over the next {config.train.samples_per_step} training "
               f"{'digits' if digits else 'time steps'}, refits the read-out on everything seen so far and prints "
               "the errors."),
        _setup(config, steps, "chunks of training data driven through the reservoir, one per step"),
        markdown("data-text", "## 1. The data", "",
                 "scikit-learn's digits, split by class from `SEED` (the app's split); each image becomes 8 rows "
                 "of 8 pixels, one row per time step." if digits else
                 "The series, computed, not downloaded: " + (
                     "Mackey–Glass (τ = 17), integrated by fourth-order Runge–Kutta, sampled once per time unit."
                     if d.signal == "mackey_glass" else "two sines of incommensurate periods.")
                 + f" The read-out learns from {d.train_length} steps after a washout of {d.washout}; the "
                 f"{d.test_length} steps after them are the test."),
        code("data", *(_digits_lines() + ["", "",
                                          "x_train, y_train, x_test, y_test = load_digits_split(SEED, "
                                          "DATA_TEST_FRACTION)",
                                          "train_rows = torch.from_numpy(digit_rows(x_train)).double()  # (N, 8, 8)",
                                          "test_rows = torch.from_numpy(digit_rows(x_test)).double()"]
                       if digits else _series_lines(d.signal))),
        markdown("model-text", "## 2. The reservoir", "",
                 "W: uniform weights on a random share of the connections, scaled so that its largest |eigenvalue| "
                 "is the spectral radius; W_in uniform in ±input scaling (first column: the bias). Both drawn from "
                 "a generator seeded `SEED + 21`, and never changed."),
        code("model", source_of(esn.reservoir_weights, esn.EchoStateNetwork), "", "",
             "gen = torch.Generator().manual_seed(SEED + 21)",
             "weights, radius = reservoir_weights(MODEL_SIZE, MODEL_DENSITY, MODEL_SPECTRAL_RADIUS, gen)",
             f"input_weights = (torch.rand(MODEL_SIZE, {9 if digits else 2}, generator=gen, dtype=torch.float64) "
             "* 2 - 1) * MODEL_INPUT_SCALING",
             f"model = EchoStateNetwork(input_weights, weights, MODEL_LEAK_RATE, {10 if digits else 1})"),
        markdown("readout-text", "## 3. The read-out", "", RIDGE_TEXT + " `RidgeAccumulator` keeps the sums "
                 "H Hᵀ and Y Hᵀ, so each step adds its chunk and refits without keeping old states."),
        _ridge_code(ridge.RidgeAccumulator, data.nrmse),
        markdown("loop-text", "## 4. The loop", "",
                 "NRMSE is the root mean squared error over the truth's spread: 0 is perfect, 1 no better than "
                 "the mean." + ("" if digits else " The test states are driven once, from zero, after a washout "
                                "of their own.")),
        code("loop", *(esn_digits_loop() if digits else esn_series_loop())),
        markdown("train-text", "## 5. Train", ""),
        code("train", "history = train(STEPS)" if digits else "history, test_states = train(STEPS)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Test accuracy (orange) and training accuracy (dark) against the digits seen." if digits else
                 "The test stretch: the true series (dark), the one-step-ahead prediction (orange) and the free run "
                 "(dotted), which follows the truth for a while and then drifts away: the chaos of the series "
                 "makes small errors grow."),
        code("plot", *(digits_curve("esn") if digits else esn_series_plot())),
    ]


def _series_lines(signal: str) -> list[str]:
    fns = ([data.mackey_glass_rate, data.mackey_glass] if signal == "mackey_glass" else [data.sine_series])
    consts = ([f"MG_BETA, MG_GAMMA, MG_N, MG_TAU = {data.MG_BETA}, {data.MG_GAMMA}, {data.MG_N}, {data.MG_TAU}",
               f"MG_DT, MG_HISTORY, MG_TRANSIENT = {data.MG_DT}, {data.MG_HISTORY}, {data.MG_TRANSIENT}", "", ""]
              if signal == "mackey_glass" else [])
    return [*consts, source_of(*fns), "", "",
            "TEST_START = DATA_WASHOUT + DATA_TRAIN_LENGTH",
            f"SERIES = {fns[-1].__name__}(TEST_START + max(DATA_TEST_LENGTH, DATA_FREE_RUN) + 1)  # (T,) float64",
            "u_all = torch.from_numpy(SERIES)[:, None, None]  # (T, 1, 1): time, batch, input"]


# ---------- liquid state machine ----------
def lsm_pieces(config: LSMConfig, steps: int) -> list[Piece]:
    _check(config, LSMConfig, steps)
    d, m = config.data, config.model
    return [
        _intro(config, "A liquid state machine",
               f"The Reservoirs page's liquid state machine: {m.size} leaky integrate-and-fire neurons "
               f"({m.excitatory:.0%} excitatory, τ = {m.tau_ms} ms) wired at random and never trained, reading "
               f"the 8×8 digits row by row as {d.encoding} spike trains ({d.steps_per_row} steps of {m.dt_ms} ms a "
               f"row). A linear read-out of each neuron's spike count in {m.readout_bins} windows names the digit.",
               f"Each step drives the next {config.train.samples_per_step} training digits through the liquid, "
               "refits the read-out and prints the accuracy."),
        _setup(config, steps, "chunks of training digits driven through the liquid, one per step"),
        markdown("data-text", "## 1. The digits, as spikes", "",
                 "scikit-learn's digits, split by class from `SEED`. Input neuron j fires for column j while a "
                 "row is held: " + ("with probability max rate × pixel in each step, drawn from a generator "
                                    "seeded `SEED + 32` (the test digits first, then the training chunks)"
                                    if d.encoding == "poisson" else "in every step where the pixel is 0.5 or more")
                 + "."),
        code("data", *_digits_lines(), "", "", source_of(data.spike_trains), "", "",
             "x_train, y_train, x_test, y_test = load_digits_split(SEED, DATA_TEST_FRACTION)",
             "spike_gen = torch.Generator().manual_seed(SEED + 32)", "", "",
             "def encode(images):",
             "    return spike_trains(images, DATA_STEPS_PER_ROW, DATA_ENCODING, DATA_MAX_RATE, spike_gen)"),
        markdown("model-text", "## 2. The liquid", "",
                 "Each neuron's potential leaks towards 0 with time constant τ; an input or recurrent spike adds "
                 "its weight at once; at the threshold the neuron spikes, is reset and rests for the refractory "
                 "period. Weights are drawn from `SEED + 31`: the first neurons excite (positive outgoing weights), "
                 "the rest inhibit (negative), no neuron connects to itself."),
        code("model", "from types import SimpleNamespace", "",
             "LIQUID = SimpleNamespace(" + ", ".join(f"{k}={v!r}" for k, v in asdict(m).items()) + ")", "", "",
             source_of(lsm.lif_step, lsm.LiquidStateMachine, lsm.liquid_weights), "", "",
             "gen = torch.Generator().manual_seed(SEED + 31)",
             "inputs, weights, n_excitatory = liquid_weights(LIQUID, gen)",
             "model = LiquidStateMachine(inputs, weights, LIQUID, LIQUID.readout_bins)"),
        markdown("readout-text", "## 3. The read-out", "", RIDGE_TEXT + " The features are the spike counts "
                 "(neurons × windows); the targets the one-hot digits."),
        _ridge_code(ridge.RidgeAccumulator),
        markdown("loop-text", "## 4. The loop", "",
                 "The test digits go through the liquid once, first (their spikes are the generator's first "
                 "draws); their mean firing rate is `rate_hz`. Then each step adds a chunk of training digits."),
        code("loop", *lsm_loop()),
        markdown("train-text", "## 5. Train", ""),
        code("train", "history, test_spikes = train(STEPS)"),
        markdown("plot-text", "### What the plots show", "",
                 "The accuracy against the training digits seen, then the first test digit going through the "
                 "liquid: the input spikes (bottom rows, one per column of the image) and each liquid neuron's "
                 "spikes over time (excitatory dark, inhibitory orange)."),
        code("plot", *digits_curve("lsm")),
        code("raster", *lsm_raster()),
    ]


