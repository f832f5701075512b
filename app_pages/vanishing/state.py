"""The Vanishing gradients page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values <-> config and the address, presets, several trainers trained side by side on the
same data and seed, the per-step gradient-norm history they record, and their saving and restoring
(what they read out to the reader is in readings.py)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np

from app_pages.common import address
from app_pages.common.address import flag, list_of, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from app_pages.vanishing import lab_checkpoint
from engine import ConfigError, ExperimentConfig, Trainer
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from engine.mlp.config import CLASSIFY_SETS, HOT_FIELDS, structural_changes

DATASETS = [n for n in CLASSIFY_SETS if n != "custom"]
WIDTHS = [2, 4, 8, 16, 32, 64, 128, 256, 512]
LEARNING_RATES = [0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
CLIP_NORMS = [0.0, 0.1, 0.5, 1.0, 5.0, 10.0]   # 0 = off
TICK_SECONDS = 0.25          # the live view redraws 4 times a second
FRAME_TRAIN_SECONDS = 0.12   # training per frame at most, shared by all runs: several networks' charts to draw
MAX_HISTORY_ROWS = 4000      # per run; older steps are thinned 2:1 beyond this (heatmap columns, loss curve points)
MAIN_LABEL = "Your network"  # the first network of the lab, the one the widgets describe
SAVE_NAME = "vanishing"      # this page's entry in the session store (app_pages/common/saved_runs.py)

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
SHOWN_REASON = 80  # characters of why a compare list was refused: it quotes unknown names, which a link may inflate
_COMPARE = list_of("compare", "vg_compare", PRESETS, COMPARE_SEPARATOR, noun="preset", most=MAX_COMPARED,
                   most_what="networks to compare")


def _parse_compare(text: str) -> list:
    try:
        return _COMPARE.parse(text)
    except ValueError as e:
        reason = str(e)
        raise ValueError(reason if len(reason) <= SHOWN_REASON else reason[:SHOWN_REASON] + "…") from None


URL_PARAMS = [
    whole_number("depth", "vg_depth", 1, MAX_DEPTH), one_of("width", "vg_width", WIDTHS, int),
    one_of("activation", "vg_activation", list(ACTIVATIONS)), one_of("init", "vg_init", list(INITS)),
    one_of("norm", "vg_norm", list(NORMS)), flag("residual", "vg_residual"),
    one_of("optimizer", "vg_optimizer", list(OPTIMIZERS)), one_of("lr", "vg_lr", LEARNING_RATES, float),
    one_of("clip", "vg_clip", CLIP_NORMS, float), one_of("data", "vg_dataset", DATASETS),
    replace(_COMPARE, parse=_parse_compare)]


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


def restored_widgets(configs: list[tuple[str, ExperimentConfig]], query: dict) -> dict | None:
    """The widget values that show a restored lab (its (label, config) pairs, the page's own network
    first), or None where it must not be restored: the address (`query`, name -> text) describes
    another setup — a shared link wins over the saved networks — or the widgets cannot show them.
    An empty address, or the one the page wrote for this very setup (a reload), restores."""
    (label, config), others = configs[0], configs[1:]
    compared = [name for name, _ in others]
    hidden = config.model.hidden
    if label != MAIN_LABEL or not hidden or len(set(hidden)) > 1 or len(set(compared)) < len(compared):
        return None
    for name, other in others:  # the presets compared train as the page builds them, hot settings and all
        if name not in PRESETS or other != preset_config(name, config.data.name, config.train.seed):
            return None
    values = {**widgets_from_config(config), "vg_compare": compared}
    own = widgets_to_query(values, config.train.seed)
    if config_from_widgets(values, config.train.seed) != config or widgets_from_query(own)[1]:
        return None  # settings that no widget offers (only a file not written by this page has them)
    return values if not query or dict(query) == own else None


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
        if len(t.history) > MAX_HISTORY_ROWS:
            # The loss curve gains a point every frame, of every network: thinned the same way, it
            # keeps the memory and the time of each autosave bounded through hours of play.
            half = len(t.history) // 2
            t.history = t.history[:half:2] + t.history[half:]

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
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=FRAME_TRAIN_SECONDS),
                             repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

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

    @classmethod
    def from_checkpoint(cls, data: bytes, device="cpu") -> "VanishingLab":
        """The lab checkpoint_bytes() saved, paused (app_pages/vanishing/lab_checkpoint.py). Each
        network makes its own copy of the data from its config: the same points, as the seed is."""
        runs = lab_checkpoint.read(data, device)
        lab = cls([LabRun(label, trainer, steps, norms) for label, trainer, steps, norms in runs])
        lab._check_diverged()  # a network that had diverged says so again
        return lab

    def checkpoint_bytes(self) -> bytes:
        """Every network's trainer checkpoint and heatmap history, in one file."""
        return lab_checkpoint.checkpoint_bytes(self.runs)

    @property
    def steps_trained(self) -> int:
        """Steps of all networks together beyond the one each is built with: 0 for a lab that a
        rebuild makes again as it was, so there is nothing to save."""
        return sum(max(0, r.trainer.step_count - 1) for r in self.runs)

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the lab's checkpoint when one is due (common/autosave.py). True if it saved.
        The clock counts the steps of all networks: one that diverged stops, the others go on."""
        lab = SimpleNamespace(step_count=self.steps_trained, checkpoint_bytes=self.checkpoint_bytes)
        return self._autosave.save_if_due(lab, self.playing, save, now)

    def tick(self, budget_s: float | None = None) -> None:
        """One frame of the live view: if playing, each run trains its share of the budget (by
        default what the frame's pace leaves after the drawing)."""
        if not self.playing:
            self._last = None
            return
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        share = budget_s / max(1, len(self.runs))

        def train() -> None:
            for run in self.runs:
                if not run.trainer.diverged:
                    run.trainer.train_for(share)
                    run.collect()
        if not train_guarded(self, train):
            self.pace.stop()
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
            self.pace.stop()

    def step(self, n: int = 1) -> None:
        def train() -> None:
            for run in self.runs:
                run.trainer.step(n)
                run.collect()
        if train_guarded(self, train):
            self._check_diverged()
        else:
            self.pace.stop()

    def play(self) -> None:
        self.playing = True
        self.pace.restart()
        self._check_diverged()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

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
