"""The Playground page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values <-> config, presets, custom-data parsing, and the live tick."""
from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field

import numpy as np

from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import training_failure
from app_pages.common.frame_interval import FramePacer
from engine import ExperimentConfig, Trainer
from engine.mlp.config import CLASSIFY_SETS, FEATURES, MAX_CUSTOM_POINTS, REGRESS_SETS

MAX_LAYERS, MAX_NEURONS = 8, 16  # this page's limits (the engine allows 100 x 512)
DATASETS = [n for n in CLASSIFY_SETS if n != "custom"] + [n for n in REGRESS_SETS if n != "custom"] + ["custom"]
DATASET_LABELS = {"circle": "Circle", "xor": "XOR", "gauss": "Two gaussians", "spiral": "Spiral", "moons": "Moons",
                  "blobs": "Blobs (3+ classes)", "plane": "Plane (regression)", "multigauss": "Bumps (regression)",
                  "custom": "Your own data"}
LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
PENALTY_RATES = [0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
# Choices of the sliders whose range is the engine's whole domain; a config's own value is added
# to them (options_with), so any config the engine accepts is shown as it is.
POINT_COUNTS = [10, 20, 50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000]
BATCH_SIZES = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 1000, 2048, 4096]
CLIP_NORMS = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0]
SPEEDS = {"Slow motion (1 step per frame)": 1, "1 epoch per frame": -1, "Fast": 0}
TICK_SECONDS = 0.2   # the live view asks for 5 frames a second when its frames fit in that

DEFAULT_PRESET = "Circle (start here)"
PRESETS: dict[str, dict] = {
    DEFAULT_PRESET: {  # TensorFlow Playground's opening setup
        "data": {"name": "circle", "n_samples": 500, "noise": 0.0, "test_fraction": 0.5, "features": ["x1", "x2"]},
        "model": {"hidden": [4, 2], "activation": "tanh"},
        "train": {"loss": "bce", "optimizer": "sgd", "lr": 0.03, "batch_size": 10}},
    "Spiral, the hard one": {
        "data": {"name": "spiral", "n_samples": 500, "noise": 0.0, "features": ["x1", "x2"]},
        "model": {"hidden": [8, 8, 8, 8], "activation": "tanh"},
        "train": {"loss": "bce", "optimizer": "adam", "lr": 0.01, "batch_size": 10}},
    "Spiral, solved with features": {
        "data": {"name": "spiral", "n_samples": 500, "noise": 0.0, "features": list(FEATURES)},
        "model": {"hidden": [8, 8, 6], "activation": "tanh"},
        "train": {"loss": "bce", "optimizer": "adam", "lr": 0.01, "batch_size": 10}},
    "Overfit me": {  # little, noisy data and a big network: test loss climbs while train loss falls
        "data": {"name": "moons", "n_samples": 80, "noise": 0.5, "test_fraction": 0.5, "features": ["x1", "x2"]},
        "model": {"hidden": [16, 16, 16], "activation": "relu"},
        "train": {"loss": "bce", "optimizer": "adam", "lr": 0.01, "batch_size": 10}},
    "Cure overfitting with L2": {
        "data": {"name": "moons", "n_samples": 80, "noise": 0.5, "test_fraction": 0.5, "features": ["x1", "x2"]},
        "model": {"hidden": [16, 16, 16], "activation": "relu"},
        "train": {"loss": "bce", "optimizer": "adam", "lr": 0.01, "batch_size": 10, "l2": 0.03}},
    "Three classes": {
        "data": {"name": "blobs", "n_classes": 3, "n_samples": 300, "noise": 0.2},
        "model": {"hidden": [8], "activation": "relu"},
        "train": {"loss": "ce", "optimizer": "adam", "lr": 0.01}},
    "Regression": {
        "task": "regress2d", "data": {"name": "multigauss", "n_samples": 500, "noise": 0.0},
        "model": {"hidden": [8, 8], "activation": "tanh"},
        "train": {"loss": "mse", "optimizer": "adam", "lr": 0.01}},
}


def preset_config(name: str, seed: int = 0) -> ExperimentConfig:
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[name].items()}
    d.setdefault("train", {})["seed"] = seed
    return ExperimentConfig.from_dict(d)


def widgets_from_config(config: ExperimentConfig) -> dict:
    """Widget key -> value for every Playground widget, so the page shows `config`."""
    d, m, t = config.data, config.model, config.train
    state = {
        "pg_dataset": d.name, "pg_custom_task": config.task, "pg_noise": int(round(d.noise * 100)),
        "pg_n_samples": d.n_samples, "pg_test_pct": int(round(d.test_fraction * 100)),
        "pg_features": list(d.features), "pg_n_classes": d.n_classes, "pg_points": [list(p) for p in d.points],
        "pg_layers": len(m.hidden), "pg_per_layer": not isinstance(m.activation, str),
        "pg_activation": m.activation if isinstance(m.activation, str) else m.activation[0] if m.activation else "tanh",
        "pg_residual": m.residual, "pg_norm": m.norm, "pg_dropout": m.dropout, "pg_init": m.init,
        "pg_loss": t.loss, "pg_optimizer": t.optimizer, "pg_lr": t.lr, "pg_momentum": t.momentum,
        "pg_batch": t.batch_size, "pg_l1": t.l1, "pg_l2": t.l2, "pg_max_epochs": t.max_epochs,
        "pg_clip": t.clip_grad_norm, "global_seed": t.seed,
    }
    # What the widgets cannot hold is brought into their range (widgets_for names each change).
    state["pg_noise"] = min(max(state["pg_noise"], 0), 50)
    state["pg_test_pct"] = min(max(state["pg_test_pct"], 0), 90)
    state["pg_layers"] = min(len(m.hidden), MAX_LAYERS)
    for i in range(MAX_LAYERS):
        state[f"pg_width_{i}"] = min(m.hidden[i], MAX_NEURONS) if i < len(m.hidden) else 4
        state[f"pg_act_{i}"] = m.activations()[i] if i < len(m.hidden) else state["pg_activation"]
    return state


def options_with(options: list, value) -> list:
    """A slider's choices with the current value among them (sorted), so that a value a config
    brings that is not one of the usual choices is still shown as it is."""
    return sorted(set(options) | {value})


def _shown(value) -> str:
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(str(v) for v in value[:8]) + f", … ({len(value)} in all)]"
    return str(value)


def widgets_for(config: ExperimentConfig) -> tuple[dict, list[str]]:
    """The widget values that show `config`, and one sentence for each setting this page cannot
    show, with what it uses instead: the engine allows 100 hidden layers of 512, the page
    draws every neuron of at most 8 layers of 16; noise and the test share are whole percents."""
    values = widgets_from_config(config)
    shown = config_from_widgets(values)
    notes = []
    for section in ("data", "model", "train"):
        wanted, got = config.to_dict()[section], shown.to_dict()[section]
        for name, value in wanted.items():
            if got[name] != value:
                notes.append(f"{section}.{name} = {_shown(value)} cannot be shown on this page; it uses {_shown(got[name])}.")
    return values, notes


def config_from_widgets(state) -> ExperimentConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    name = state["pg_dataset"]
    task = "regress2d" if name in ("plane", "multigauss") or (name == "custom" and state["pg_custom_task"] == "regress2d") \
        else "classify2d"
    n_layers = int(state["pg_layers"])
    hidden = [int(state[f"pg_width_{i}"]) for i in range(n_layers)]
    activation = [state[f"pg_act_{i}"] for i in range(n_layers)] if state["pg_per_layer"] else state["pg_activation"]
    return ExperimentConfig.from_dict({
        "task": task,
        "data": {"name": name, "n_samples": int(state["pg_n_samples"]), "noise": state["pg_noise"] / 100,
                 "test_fraction": state["pg_test_pct"] / 100, "features": list(state["pg_features"]),
                 "n_classes": int(state["pg_n_classes"]), "points": state["pg_points"]},
        "model": {"hidden": hidden, "activation": activation, "residual": bool(state["pg_residual"]),
                  "norm": state["pg_norm"], "dropout": float(state["pg_dropout"]), "init": state["pg_init"]},
        "train": {"loss": state["pg_loss"] if task == "classify2d" else "mse", "optimizer": state["pg_optimizer"],
                  "lr": float(state["pg_lr"]), "momentum": float(state["pg_momentum"]),
                  "batch_size": int(state["pg_batch"]), "l1": float(state["pg_l1"]), "l2": float(state["pg_l2"]),
                  "seed": int(state["global_seed"]), "max_epochs": int(state["pg_max_epochs"]),
                  "clip_grad_norm": float(state.get("pg_clip", 0.0))},
    })


def parse_points_csv(data: bytes) -> tuple[list[list[float]], str]:
    """An uploaded CSV -> ([[x1, x2, label], ...], task). Accepts a header row or none;
    the first two columns are the coordinates, the third the class (whole numbers 0..7)
    or the target (any other numbers: regression). Raises ValueError saying what is wrong."""
    import pandas as pd

    if not data or not data.strip():
        raise ValueError("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text; save it as CSV") from None
    try:
        frame = pd.read_csv(io.StringIO(text), header=None)
        if frame.shape[0] and not all(_is_float(v) for v in frame.iloc[0, :3]):
            frame = frame.iloc[1:]  # a header row
        values = frame.iloc[:, :3].astype(float).to_numpy()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"could not read three numeric columns (x1, x2, label): {str(e).splitlines()[0][:120]}") from None
    if frame.shape[1] < 3:
        raise ValueError(f"need three columns (x1, x2, label or target), found {frame.shape[1]}")
    if len(values) < 4:
        raise ValueError(f"need at least 4 rows of points, found {len(values)}")
    if len(values) > MAX_CUSTOM_POINTS:
        raise ValueError(f"at most {MAX_CUSTOM_POINTS} points, found {len(values)}")
    if not np.isfinite(values).all():
        raise ValueError("every value must be a finite number (no blanks, NaN or inf)")
    # Scale coordinates into the playground's [-6, 6]² if they lie outside it.
    extent = float(np.abs(values[:, :2]).max())
    if extent > 6:
        values[:, :2] *= 6 / extent
    labels = values[:, 2]
    is_classes = np.all(labels == np.round(labels)) and labels.min() >= 0 and labels.max() <= 7 and len(np.unique(labels)) >= 2
    task = "classify2d" if is_classes else "regress2d"
    if task == "regress2d":
        scale = float(np.abs(labels).max()) or 1.0
        values[:, 2] = labels / max(scale, 1.0)  # targets into [-1, 1]
    return [[round(float(a), 4), round(float(b), 4), float(c)] for a, b, c in values], task


def _is_float(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


@dataclass
class PlaygroundRun:
    """What the page keeps between reruns: the trainer, whether it plays, and the speed."""
    trainer: Trainer
    playing: bool = False
    message: str = ""               # why training stopped by itself (divergence, epoch limit)
    epochs_per_second: float = 0.0
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS), repr=False)
    _last: tuple[float, float] | None = field(default=None, repr=False)  # (time, epoch_exact) at the last tick
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    def tick(self, speed_steps: int = 0, budget_s: float | None = None, plane_resolution: int = 50):
        """One frame of the live view: train a time-boxed chunk if playing, then snapshot.

        speed_steps: 0 = as many steps as fit in the budget, -1 = one epoch, n = n steps."""
        trainer = self.trainer
        if self.playing and budget_s is None:
            budget_s = self.pace.training_budget()
        if self.playing:
            try:
                if speed_steps == -1:
                    snap = trainer.run_epochs(1, plane_resolution=plane_resolution)
                else:
                    snap = trainer.train_for(budget_s, max_steps=speed_steps or 1_000_000,
                                             plane_resolution=plane_resolution)
            except Exception as e:  # noqa: BLE001 - whatever a step raises, the page stays up
                self.pause()
                self.message = training_failure(e)
                return trainer.snapshot(plane_resolution=plane_resolution)
            now, epoch = time.perf_counter(), trainer.history[-1]["epoch_exact"]
            if self._last is not None and now > self._last[0]:
                self.epochs_per_second = (epoch - self._last[1]) / (now - self._last[0])
            self._last = (now, epoch)
            if snap.diverged:
                self.playing = False
                self.message = (f"The loss became NaN or infinite at learning rate {trainer.config.train.lr:g}: "
                                "training paused and the last finite weights were kept. Lower the learning rate "
                                "(or pick Adam) and press Play again.")
            elif snap.finished:
                self.playing = False
                self.message = f"Reached the epoch limit ({trainer.config.train.max_epochs}). Raise it or set 0 to go on."
        else:
            self._last = None
            snap = trainer.snapshot(plane_resolution=plane_resolution)
        return snap

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint when one is due (common/autosave.py). True if it saved."""
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def edit_parameter(self, layer: int, row: int, column: int | None, value: float) -> float:
        """A typed weight (column: its input) or bias (column None) written into the network; training goes
        on from it. Saved at the next frame, though the step is the same. Returns the value it replaced."""
        old = self.trainer.set_parameter(layer, row, column, value)
        self._autosave.saved_step = -1
        return old

    def step_epoch(self) -> None:
        """The Step button: pause and train exactly one epoch (a step that raises is reported)."""
        self.pause()
        try:
            self.trainer.run_epochs(1)
        except Exception as e:  # noqa: BLE001 - whatever a step raises, the page stays up
            self.message = training_failure(e)

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()


def format_loss(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "NaN"
    return f"{value:.3f}"
