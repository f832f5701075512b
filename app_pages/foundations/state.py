"""The Foundations page's logic, free of Streamlit so it is unit-tested as plain Python:
which trainings its buttons run and what they hand to the figures, and its address."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import flag, list_of, number, one_of, whole_number
from app_pages.common.frame_interval import FramePacer
from engine import Trainer
from engine.core.registries import ACTIVATIONS
from engine.foundations.neuron import MARGIN_LOSSES, logistic_regression_config, loss_comparison_config
from engine.foundations.surfaces import PATH_OPTIMIZERS

TRAIN_EPOCHS = 20          # one press of Train: enough for a neuron on 210 points to find the boundary
LIVE_EPOCHS_PER_FRAME = 2  # while playing: a neuron's epoch on 210 points takes about a millisecond
LIVE_TICK_SECONDS = 0.25   # the live logistic regression asks for 4 frames a second
COMPARE_EPOCHS = 40
LINEAR_SETS = {"gauss": "Two gaussians", "moons": "Moons", "circle": "Circle (no line separates it)",
               "xor": "XOR (no line separates it)"}
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
SURFACE_LABELS = {"logistic_w_b": "Logistic regression: loss over (w, b)",
                  "logistic_w1_w2": "Logistic regression: loss over (w₁, w₂), b = 0",
                  "rosenbrock": "Rosenbrock's valley", "saddle": "Saddle point"}
SURFACE_LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def latex_factor(name: str) -> str:
    """A factor name such as ∂z₁[0]/∂W₁[0,1] as a LaTeX fraction, for st.latex."""
    top, bottom = (part.removeprefix("∂") for part in name.split("/"))
    def tex(s):
        return s.replace("ŷ", r"\hat y").replace("₁", "_1").replace("₂", "_2")
    return rf"\frac{{\partial {tex(top)}}}{{\partial {tex(bottom)}}}"


def neuron_weights(trainer: Trainer) -> tuple[float, float, float]:
    """(w1, w2, b) of a trainer without hidden layers: the single neuron logistic regression is."""
    weights = trainer.weights()
    if len(weights) != 1 or weights[0][0].shape != (1, 2):
        raise ValueError("expected a network with no hidden layer on the inputs x1, x2")
    w, b = weights[0]
    return float(w[0, 0]), float(w[0, 1]), float(b[0])


def new_logistic_trainer(data_name: str, noise: float, lr: float, seed: int, device="cpu") -> Trainer:
    return Trainer(logistic_regression_config(data_name, noise=noise, lr=lr, seed=seed), device)


def train_epochs(trainer: Trainer, epochs: int = TRAIN_EPOCHS, resolution: int = 50):
    """Train `epochs` more epochs and return the snapshot with the output over the plane.
    One epoch at a time, so that the loss curve gets a point per epoch."""
    for _ in range(epochs - 1):
        if trainer.run_epochs(1).diverged:
            break
    return trainer.run_epochs(1, plane_resolution=resolution)


@dataclass
class LogisticRun:
    """The One neuron tab's live logistic regression: its trainer, the setup it was built for
    (data, noise, seed), whether it plays, and the pace of its live view. Its frames train a fixed
    LIVE_EPOCHS_PER_FRAME epochs, far less than any frame's training budget: the pace spaces its
    frames (drawing the boundary is the frame's cost) and counts it among the server's live runs."""
    setup: tuple
    trainer: Trainer
    playing: bool = False
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=LIVE_TICK_SECONDS), repr=False)

    def tick(self, resolution: int = 50):
        """One frame: if playing, LIVE_EPOCHS_PER_FRAME more epochs; the snapshot with the output over the
        plane. A divergence stops it."""
        if not self.playing:
            return self.trainer.snapshot(plane_resolution=resolution)
        snap = self.trainer.run_epochs(LIVE_EPOCHS_PER_FRAME, plane_resolution=resolution)
        if snap.diverged:
            self.pause()
        return snap

    def train_more(self, epochs: int = TRAIN_EPOCHS):
        """The "+20 epochs" button: paused, `epochs` more epochs."""
        self.pause()
        return train_epochs(self.trainer, epochs)

    def play(self) -> None:
        self.playing = True
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()


@dataclass
class LossComparison:
    """One trainer per loss on the same data and network, trained side by side."""
    trainers: dict[str, Trainer]
    snapshots: dict


def compare_losses(data_name: str, noise: float, hidden: list[int], seed: int, epochs: int = COMPARE_EPOCHS,
                   device="cpu", resolution: int = 40) -> LossComparison:
    trainers = {loss: Trainer(loss_comparison_config(loss, data_name, noise, hidden, seed), device)
                for loss in MARGIN_LOSSES}
    snapshots = {loss: train_epochs(t, epochs, resolution) for loss, t in trainers.items()}
    return LossComparison(trainers, snapshots)


def nearest_option(value: float, options: list[float]) -> float:
    """The option closest to value on a log scale (a select_slider only takes its own options)."""
    return min(options, key=lambda o: abs(np.log(o) - np.log(value)))


# ---------------- the address ----------------
# The page's address holds the open tab and the settings of every tab under short names, each
# named after its tab ("descent.lr"): only what differs from the defaults (see
# app_pages/common/address.py). The page takes its widgets' first values from default_widgets.
TABS = {"neuron": "① One neuron", "activations": "② Activations", "losses": "③ Losses",
        "descent": "④ Gradient descent", "backprop": "⑤ Backprop"}
WEIGHT_LIMIT, WEIGHT_STEP = 5.0, 0.1     # the neuron's w₁, w₂ and b
MAX_NOISE, NOISE_STEP = 0.5, 0.05        # the logistic regression's data
SCORE_LIMIT, SCORE_STEP = 4.0, 0.1       # the three classes' scores
L2_RATES = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]
DESCENT_SETS = ["gauss", "moons"]
DESCENT_BATCHES = [0, 1, 5, 20, 50]      # 0: all points
MIN_STEPS, MAX_STEPS, STEPS_STEP = 10, 400, 10
BACKPROP_WIDTHS, BACKPROP_BATCHES = (2, 5), (2, 16)
BACKPROP_INPUTS = {"x1": 0, "x2": 1}


def default_widgets() -> dict:
    return {"fd_tab": TABS["neuron"], "fd_w1": 1.0, "fd_w2": 0.5, "fd_b": 0.0, "fd_neuron_act": "sigmoid",
            "fd_lr_data": "gauss", "fd_lr_noise": 0.2, "fd_lr_lr": 0.1,
            "fd_acts": ["sigmoid", "tanh", "relu", "gelu"], "fd_highlight": "sigmoid",
            "fd_l2": 0.1, "fd_logit_0": 1.0, "fd_logit_1": 0.5, "fd_logit_2": -0.5, "fd_cmp_data": "gauss",
            "fd_cmp_hidden": False,
            "fd_surface": "logistic_w_b", "fd_gd_lr": 1.0, "fd_gd_steps": 100, "fd_gd_batch": 0,
            "fd_gd_opts": list(PATH_OPTIMIZERS), "fd_gd_data": "gauss",
            "fd_bp_act": "tanh", "fd_bp_width": 3, "fd_bp_batch": 8, "fd_bp_layer": "hidden", "fd_bp_row": 0,
            "fd_bp_col": 0, "fd_bp_hidden": 0}


URL_PARAMS = [
    one_of("tab", "fd_tab", TABS),
    number("neuron.w1", "fd_w1", -WEIGHT_LIMIT, WEIGHT_LIMIT, WEIGHT_STEP),
    number("neuron.w2", "fd_w2", -WEIGHT_LIMIT, WEIGHT_LIMIT, WEIGHT_STEP),
    number("neuron.b", "fd_b", -WEIGHT_LIMIT, WEIGHT_LIMIT, WEIGHT_STEP),
    one_of("neuron.activation", "fd_neuron_act", list(ACTIVATIONS)),
    one_of("logistic.data", "fd_lr_data", list(LINEAR_SETS)),
    number("logistic.noise", "fd_lr_noise", 0.0, MAX_NOISE, NOISE_STEP),
    one_of("logistic.lr", "fd_lr_lr", LEARNING_RATES, float),
    list_of("activations.shown", "fd_acts", list(ACTIVATIONS), noun="activation"),
    one_of("activations.shade", "fd_highlight", list(ACTIVATIONS)),
    one_of("losses.l2", "fd_l2", L2_RATES, float),
    *[number(f"losses.score_{c}", f"fd_logit_{i}", -SCORE_LIMIT, SCORE_LIMIT, SCORE_STEP) for i, c in enumerate("abc")],
    one_of("losses.data", "fd_cmp_data", list(LINEAR_SETS)), flag("losses.hidden", "fd_cmp_hidden"),
    one_of("descent.surface", "fd_surface", list(SURFACE_LABELS)),
    one_of("descent.lr", "fd_gd_lr", SURFACE_LEARNING_RATES, float),
    whole_number("descent.steps", "fd_gd_steps", MIN_STEPS, MAX_STEPS, STEPS_STEP),
    one_of("descent.batch", "fd_gd_batch", DESCENT_BATCHES, int),
    list_of("descent.optimizers", "fd_gd_opts", list(PATH_OPTIMIZERS), noun="optimiser"),
    one_of("descent.data", "fd_gd_data", DESCENT_SETS),
    one_of("backprop.activation", "fd_bp_act", list(ACTIVATIONS)),
    whole_number("backprop.width", "fd_bp_width", *BACKPROP_WIDTHS),
    whole_number("backprop.batch", "fd_bp_batch", *BACKPROP_BATCHES),
    one_of("backprop.weight", "fd_bp_layer", ["hidden", "output"]),
    whole_number("backprop.neuron", "fd_bp_row", 0, BACKPROP_WIDTHS[1] - 1),
    one_of("backprop.input", "fd_bp_col", BACKPROP_INPUTS),
    whole_number("backprop.from", "fd_bp_hidden", 0, BACKPROP_WIDTHS[1] - 1)]


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used,
    a value that does not fit another one included (a neuron the hidden layer does not have)."""
    values, problems = address.widgets_from_query(URL_PARAMS, query)
    defaults = default_widgets()
    width = values.get("fd_bp_width", defaults["fd_bp_width"])
    for name, key in (("backprop.neuron", "fd_bp_row"), ("backprop.from", "fd_bp_hidden")):
        if values.get(key, 0) >= width:
            values.pop(key)
            problems.append(f"{name}={query[name]!r} was ignored: the hidden layer has {width} neurons, numbered "
                            "from 0")
    shown = values.get("fd_acts", defaults["fd_acts"]) or ["sigmoid"]  # the page shows the sigmoid when none is chosen
    if values.get("fd_highlight", shown[0]) not in shown:
        values.pop("fd_highlight")
        problems.append(f"activations.shade={query['activations.shade']!r} was ignored: not one of the activations "
                        f"shown, {', '.join(shown)}")
    return values, problems
