"""The Vanishing gradients page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values <-> config, presets, several trainers trained side by side on the same data and
seed, the per-step gradient-norm history they record, and the sentences that explain it."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from app_pages.common import address
from app_pages.common.address import flag, list_of, one_of, whole_number
from app_pages.common.failures import train_guarded
from engine import ConfigError, ExperimentConfig, Trainer
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from engine.mlp.config import CLASSIFY_SETS, HOT_FIELDS, structural_changes
from engine.mlp.probes import activation_summary, record_activations

DATASETS = [n for n in CLASSIFY_SETS if n != "custom"]
WIDTHS = [2, 4, 8, 16, 32, 64, 128, 256, 512]
LEARNING_RATES = [0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
CLIP_NORMS = [0.0, 0.1, 0.5, 1.0, 5.0, 10.0]   # 0 = off
TICK_SECONDS = 0.25          # the live view redraws 4 times a second
FRAME_TRAIN_SECONDS = 0.12   # training per frame, shared by all runs; drawing takes the rest
MAX_HISTORY_ROWS = 4000      # per run; older steps are thinned 2:1 beyond this (heatmap columns)
EXPLODING = 1e3              # a weight-gradient norm above this is called exploding
ACTIVATION_POINTS = 200      # training points the activation distributions are read on

DEFAULT_PRESET = "sigmoid ×20"
# Every preset: width 32, plain SGD, the same data and seed as the page; they differ only
# in what the lesson is about (activation, init, skip connections, normalisation).
PRESETS: dict[str, dict] = {
    "sigmoid ×20": {"depth": 20, "activation": "sigmoid", "init": "default", "residual": False, "norm": "none"},
    "tanh ×20": {"depth": 20, "activation": "tanh", "init": "default", "residual": False, "norm": "none"},
    "ReLU + He ×20": {"depth": 20, "activation": "relu", "init": "he", "residual": False, "norm": "none"},
    # PyTorch's default init here: with He init the 50 skips add up to logits in the hundreds
    # and SGD at 0.03 stalls (measured: loss 1.3 after 400 steps; default init: 0.001).
    "ReLU + residual + LayerNorm ×50": {"depth": 50, "activation": "relu", "init": "default", "residual": True,
                                        "norm": "layer"},
    # Not a cure: skips with He init and no normalisation add up the variance of every
    # block, so the gradients grow to ~1e4-1e5. Clipped at 1 it trains; without clipping SGD
    # overflows the loss within 50 steps (measured), which the page reports as divergence.
    "ReLU + residual ×20, exploding (clipped)": {"depth": 20, "activation": "relu", "init": "he", "residual": True,
                                                 "norm": "none", "clip": 1.0},
}
DEFAULT_COMPARE = ["ReLU + He ×20", "ReLU + residual + LayerNorm ×50"]
BASE_TRAIN = {"optimizer": "sgd", "lr": 0.03, "batch_size": 10, "clip_grad_norm": 0.0}


def make_config(depth: int, width: int, activation: str, init: str, residual: bool, norm: str, optimizer: str,
                lr: float, clip: float, dataset: str, seed: int) -> ExperimentConfig:
    """A classification config on a 2-D set: `depth` hidden layers of `width`."""
    return ExperimentConfig.from_dict({
        "task": "classify2d",
        "data": {"name": dataset, "n_samples": 500, "noise": 0.0, "test_fraction": 0.5},
        "model": {"hidden": [int(width)] * int(depth), "activation": activation, "init": init,
                  "residual": bool(residual), "norm": norm},
        # blobs has 3 classes (3 logits, softmax); the other sets 2 (one logit)
        "train": {"loss": "ce" if dataset == "blobs" else "bce", "optimizer": optimizer, "lr": float(lr),
                  "batch_size": 10, "clip_grad_norm": float(clip), "seed": int(seed)}})


def preset_widgets(name: str) -> dict:
    p = PRESETS[name]
    return {"vg_depth": p["depth"], "vg_width": 32, "vg_activation": p["activation"], "vg_init": p["init"],
            "vg_residual": p["residual"], "vg_norm": p["norm"], "vg_optimizer": BASE_TRAIN["optimizer"],
            "vg_lr": BASE_TRAIN["lr"], "vg_clip": p.get("clip", BASE_TRAIN["clip_grad_norm"])}


def default_widgets() -> dict:
    return {**preset_widgets(DEFAULT_PRESET), "vg_dataset": "circle", "vg_compare": list(DEFAULT_COMPARE)}


def config_from_widgets(state, seed: int) -> ExperimentConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    return make_config(state["vg_depth"], state["vg_width"], state["vg_activation"], state["vg_init"],
                       state["vg_residual"], state["vg_norm"], state["vg_optimizer"], state["vg_lr"],
                       state["vg_clip"], state["vg_dataset"], seed)


def widgets_from_config(config: ExperimentConfig) -> dict:
    """The widget values that describe `config` (the inverse of config_from_widgets, seed aside)."""
    m, t = config.model, config.train
    return {"vg_depth": len(m.hidden), "vg_width": m.hidden[0], "vg_activation": m.activations()[0],
            "vg_init": m.init, "vg_residual": m.residual, "vg_norm": m.norm, "vg_optimizer": t.optimizer,
            "vg_lr": t.lr, "vg_clip": t.clip_grad_norm, "vg_dataset": config.data.name}


# The page's address holds its setup, under short names: a copied link reproduces the comparison.
# Values equal to the page's defaults are left out; the seed is train.seed, as on every page.
COMPARE_SEPARATOR = ";"  # between preset names, one of which has a comma in it
MAX_COMPARED = 4
MAX_DEPTH = 100
URL_PARAMS = [
    whole_number("depth", "vg_depth", 1, MAX_DEPTH), one_of("width", "vg_width", WIDTHS, int),
    one_of("activation", "vg_activation", list(ACTIVATIONS)), one_of("init", "vg_init", list(INITS)),
    one_of("norm", "vg_norm", list(NORMS)), flag("residual", "vg_residual"),
    one_of("optimizer", "vg_optimizer", list(OPTIMIZERS)), one_of("lr", "vg_lr", LEARNING_RATES, float),
    one_of("clip", "vg_clip", CLIP_NORMS, float), one_of("data", "vg_dataset", DATASETS),
    list_of("compare", "vg_compare", PRESETS, COMPARE_SEPARATOR, noun="preset", most=MAX_COMPARED,
            most_what="networks to compare")]


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def widgets_from_query(params) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used
    (that widget keeps its default; the others still apply)."""
    return address.widgets_from_query(URL_PARAMS, params)


def preset_config(name: str, dataset: str, seed: int) -> ExperimentConfig:
    w = preset_widgets(name)
    return make_config(w["vg_depth"], w["vg_width"], w["vg_activation"], w["vg_init"], w["vg_residual"],
                       w["vg_norm"], w["vg_optimizer"], w["vg_lr"], w["vg_clip"], dataset, seed)


@dataclass
class LabRun:
    """One network of the comparison and the per-step gradient norms it has recorded."""
    label: str
    trainer: Trainer
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (S,) step numbers
    norms: np.ndarray | None = None  # (S, layers) weight-gradient norm of each layer at those steps

    def __post_init__(self) -> None:
        self.trainer.record_grad_norms = True
        if self.norms is None:
            self.norms = np.zeros((0, len(self.layer_names)), dtype=np.float32)

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.trainer.model.named_linears()]

    def collect(self) -> None:
        """Move the rows the trainer recorded since the last call into this run's history."""
        t = self.trainer
        new = t.grad_norm_steps()
        t.grad_norm_history = []  # taken over here, where the history is thinned
        if len(new):
            self.steps = np.concatenate([self.steps, np.arange(t.step_count - len(new) + 1, t.step_count + 1)])
            self.norms = np.concatenate([self.norms, new])
        if len(self.steps) > MAX_HISTORY_ROWS:
            # Keep the most recent half at full resolution, every other step of the rest:
            # the heatmap has a few hundred pixels of width, the memory stays bounded.
            half = len(self.steps) // 2
            keep = np.concatenate([np.arange(0, half, 2), np.arange(half, len(self.steps))])
            self.steps, self.norms = self.steps[keep], self.norms[keep]

    def current_norms(self) -> np.ndarray:
        """(layers,) the norms of the last recorded step (zeros before the first)."""
        return self.norms[-1] if len(self.norms) else np.zeros(len(self.layer_names), dtype=np.float32)


@dataclass
class VanishingLab:
    """What the page keeps between reruns: the runs compared, whether they play, the speed."""
    runs: list[LabRun]
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    _last: tuple[float, int] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, configs: list[tuple[str, ExperimentConfig]], device="cpu") -> "VanishingLab":
        """One trainer per (label, config), all on the same data set object, each given one
        step so there are gradients to show before Play."""
        trainers = []
        for label, config in configs:
            # The same points for every run (same data config and seed): built once, shared.
            first = configs[0][1]
            same = trainers and first.data == config.data and first.train.seed == config.train.seed
            dataset = trainers[0][1].dataset if same else None
            trainers.append((label, Trainer(config, device, dataset=dataset)))
        lab = cls([LabRun(label, t) for label, t in trainers])
        lab.step(1)
        return lab

    def tick(self, budget_s: float = FRAME_TRAIN_SECONDS) -> None:
        """One frame of the live view: if playing, each run trains its share of the budget."""
        if not self.playing:
            self._last = None
            return
        share = budget_s / max(1, len(self.runs))

        def train() -> None:
            for run in self.runs:
                if not run.trainer.diverged:
                    run.trainer.train_for(share)
                    run.collect()
        if not train_guarded(self, train):
            return
        now, steps = time.perf_counter(), self.runs[0].trainer.step_count
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (steps - self._last[1]) / (now - self._last[0])
        self._last = (now, steps)
        self._check_diverged()

    def _check_diverged(self) -> None:
        diverged = [r.label for r in self.runs if r.trainer.diverged]
        self.message = (f"{', '.join(diverged)}: the loss became NaN or infinite, so that network stopped and keeps "
                        "its last finite weights. Gradient clipping or a lower learning rate prevents it."
                        if diverged else "")
        if diverged and len(diverged) == len(self.runs):
            self.playing = False

    def step(self, n: int = 1) -> None:
        def train() -> None:
            for run in self.runs:
                run.trainer.step(n)
                run.collect()
        if train_guarded(self, train):
            self._check_diverged()

    def play(self) -> None:
        self.playing = True
        self._check_diverged()

    def pause(self) -> None:
        self.playing = False

    @property
    def compared(self) -> list[str]:
        """The labels of the networks compared with the first one."""
        return [r.label for r in self.runs[1:]]

    @property
    def has_trained(self) -> bool:
        """Trained beyond the one step every network is built with."""
        return any(r.trainer.step_count > 1 for r in self.runs)

    def changes(self, main_config: ExperimentConfig, compared: list[str]) -> list[str]:
        """What needs a new lab: the structural fields of the first network that differ, and
        "comparison" when other networks are asked for."""
        changed = structural_changes(self.runs[0].trainer.config, main_config)
        return changed + (["comparison"] if list(compared) != self.compared else [])

    def apply_hot(self, main_config: ExperimentConfig) -> None:
        """Only the hot settings of main_config (learning rate, clipping, ...) reach the first
        run; its structure stays: the page asks before a structural change replaces it."""
        trainer = self.runs[0].trainer
        try:
            hot = trainer.config.replace(train={k: getattr(main_config.train, k) for _, k in HOT_FIELDS})
        except ConfigError:
            return  # those values do not fit the running network's structure: they wait for the new one
        if hot != trainer.config:
            trainer.apply(hot)

    def apply(self, main_config: ExperimentConfig) -> bool:
        """Hot changes (learning rate, clipping) go to the first run without losing its
        progress; returns False when the change is structural and needs a new lab."""
        trainer = self.runs[0].trainer
        if structural_changes(trainer.config, main_config):
            return False
        if trainer.config != main_config:
            trainer.apply(main_config)
        return True


@torch.no_grad()
def activation_quantiles(trainer: Trainer, n_points: int = ACTIVATION_POINTS) -> dict[str, np.ndarray]:
    """Per hidden layer: the 1/25/50/75/99 % quantiles of its activations over the first
    n_points training points, (layers, 5), and the saturated fraction, (layers,)."""
    model = trainer.model
    was_training = model.training
    model.eval()
    try:
        with record_activations(model) as captured:
            model(trainer.x_train[:n_points])
    finally:
        model.train(was_training)
    quantiles, saturated = [], []
    q = torch.tensor([0.01, 0.25, 0.5, 0.75, 0.99])
    for (name, values), block in zip(captured.items(), model.blocks):
        v = values[0].float().cpu()
        quantiles.append(torch.quantile(v.flatten(), q).numpy())
        saturated.append(activation_summary(v, block.activation_name)["saturated"])
    n = len(model.blocks)
    return {"quantiles": np.array(quantiles).reshape(n, 5), "saturated": np.array(saturated, dtype=float)}


def layer_ratio(norms: np.ndarray) -> float:
    """Gradient norm of hidden layer 1 over that of the last hidden layer (norms: (layers,),
    the output layer last); NaN when there is no such pair, either is not finite, or the last
    one is 0 (0 when layer 1 gets no gradient at all). Computed on Python floats after those
    checks, so that inf/inf, 0/0 or a float32 overflow raise no NumPy warning."""
    if len(norms) < 3:
        return float("nan")
    first, last = float(norms[0]), float(norms[-2])
    if not (math.isfinite(first) and math.isfinite(last) and first >= 0 and last > 0):
        return float("nan")
    return first / last


def sci(x: float) -> str:
    """3e-17, 0.25, 7.2e+04: a number a reader takes in at a glance."""
    if not math.isfinite(x):
        return "∞" if x > 0 else "NaN"
    if x == 0:
        return "0"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.0e}"


WHY_SMALL = {
    "sigmoid": "Each sigmoid passes back at most 0.25 of the gradient, and the factors multiply layer after layer.",
    "tanh": "tanh passes back at most 1, and less wherever it saturates; the factors multiply layer after layer.",
}


def explain(label: str, names: list[str], norms: np.ndarray, clip: float = 0.0, activation: str = "") -> list[str]:
    """Sentences with the numbers on screen: how much gradient the first hidden layer gets
    compared with the last one, and whether the gradients vanish, explode or stay healthy."""
    if len(names) < 3 or not len(norms) or not np.all(np.isfinite(norms)) or not np.any(norms):
        return [f"**{label}**: no gradients to compare yet — press Step or Play."]
    first, last_hidden, out = float(norms[0]), float(norms[-2]), float(norms[-1])
    depth = len(names) - 1
    ratio = first / last_hidden if last_hidden > 0 else float("inf")
    lines = [f"**{label}**: layer 1 receives **{sci(ratio)}** of the gradient of layer {depth} "
             f"({sci(first)} against {sci(last_hidden)}; the output layer gets {sci(out)})."]
    biggest = float(np.max(norms))
    if biggest > EXPLODING:
        lines.append(f"The gradients **explode**: the largest is {sci(biggest)}. "
                     + (f"Clipping rescales the step to a total norm of {clip:g}." if clip > 0 else
                        "Turn on gradient clipping, add LayerNorm, or lower the learning rate."))
    elif ratio < 1e-4:
        lines.append(f"That is **{-math.log10(max(ratio, 1e-300)):.0f} orders of magnitude**: the first layers "
                     "barely learn. " + WHY_SMALL.get(activation, "The backward factors of the layers multiply "
                                                                  "to much less than 1."))
    elif ratio < 1e-2:
        lines.append("The gradient shrinks on the way down: the early layers learn much more slowly.")
    else:
        lines.append("The gradient reaches the first layer in good health: every layer learns.")
    return lines
