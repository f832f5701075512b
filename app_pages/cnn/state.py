"""The Convolutions page's logic for its two training tabs, free of Streamlit so it is unit-tested as
plain Python: widget values <-> config, the presets, the address, the live run (a time-boxed tick,
an evaluation at most every EVAL_SECONDS), the CNN-against-MLP pair, and the drawn digit's input."""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from app_pages.common import address
from app_pages.common.address import Param, flag, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import interval_is_stale, rounded_interval
from engine import ConfigError
from engine.cnn.config import (HEADS, HOT_FIELDS, MAX_CONV_LAYERS, MAX_MLP_LAYERS, POOLS, PRESETS, CNNConfig,
                               preset)
from engine.cnn.trainer import CNNSnapshot, CNNTrainer
from engine.core.registries import ACTIVATIONS, OPTIMIZERS

TICK_SECONDS = 0.25          # the live view asks for about 4 frames a second
MAX_TICK_SECONDS = 3.0       # on a machine too busy for that, frames come less often, up to this
MIN_TRAIN_SECONDS = 0.03
MAX_TRAIN_SECONDS = 0.12
EVAL_SECONDS = 1.0           # while playing, loss and accuracy over every digit are measured at most this often
SAVE_NAME = "cnn"            # this page's entry in the session store (app_pages/common/saved_runs.py)

PRESET_LABELS = {"global_pool": "Global max pooling (default)", "lenet": "LeNet-style",
                 "tiny_vgg": "Tiny VGG", "all_conv": "All-convolutional (strided, no pooling)",
                 "mlp": "MLP with about as many parameters"}
DEFAULT_PRESET = "global_pool"
NO_PRESET = "custom"
CNN_PRESETS = [name for name in PRESETS if PRESETS[name].get("kind", "cnn") == "cnn"]
KIND_LABELS = {"cnn": "Convolutional (CNN)", "mlp": "Dense (MLP)"}
POOL_LABELS = {"max": "Max 2×2", "avg": "Average 2×2", "none": "None"}
HEAD_LABELS = {"flatten": "Flatten + dense", "global_max": "Global max", "global_avg": "Global average"}
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [2, 8, 16, 32, 64, 128, 256, 512]
DROPOUTS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
STEP_LIMITS = [300, 1000, 3000, 10000, 0]   # 0: no limit
KERNELS, PADDINGS, STRIDES, DILATIONS, POOL_EVERY = [1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]
LIST_TEXT = re.compile(r"\s*[0-9]{1,4}(\s*,\s*[0-9]{1,4})*\s*,?\s*")

# widget key -> config setting (its flat name: CNNConfig.build takes these)
WIDGET_FIELDS = {"cv_kind": "kind", "cv_channels": "channels", "cv_kernel": "kernel", "cv_padding": "padding",
                 "cv_stride": "stride", "cv_dilation": "dilation", "cv_pool": "pool", "cv_pool_every": "pool_every",
                 "cv_head": "head", "cv_activation": "activation", "cv_batch_norm": "batch_norm",
                 "cv_dropout": "dropout", "cv_dense": "dense", "cv_mlp_hidden": "mlp_hidden",
                 "cv_optimizer": "optimizer", "cv_lr": "lr", "cv_batch": "batch_size", "cv_max_steps": "max_steps"}
LIST_WIDGETS = ("cv_channels", "cv_mlp_hidden")  # typed as "8, 16, 32"


def list_text(values) -> str:
    return ", ".join(str(int(v)) for v in values)


def parse_list(text: str, field_name: str, most: int) -> list[int]:
    """"8, 16, 32" -> [8, 16, 32]; ConfigError naming the field for anything else."""
    text = str(text)
    if not LIST_TEXT.fullmatch(text):
        raise ConfigError(field_name, f"type whole numbers separated by commas, e.g. 8, 16, 32 (got {text[:40]!r})")
    values = [int(v) for v in text.replace(" ", "").split(",") if v]
    if not 1 <= len(values) <= most:
        raise ConfigError(field_name, f"give 1 to {most} numbers, got {len(values)}")
    return values


def widgets_from_config(config: CNNConfig) -> dict:
    d = config.flat()
    values = {key: d[name] for key, name in WIDGET_FIELDS.items()}
    for key in LIST_WIDGETS:
        values[key] = list_text(values[key])
    return values


def preset_widgets(name: str) -> dict:
    return widgets_from_config(preset(name))


def default_widgets() -> dict:
    return {**preset_widgets(DEFAULT_PRESET), "cv_preset": DEFAULT_PRESET, "cv_digit": 0, "cv_stage": 0,
            "cv_pair_cnn": DEFAULT_PRESET}


def config_from_widgets(state, seed: int) -> CNNConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    d["channels"] = parse_list(d["channels"], "model.channels", MAX_CONV_LAYERS)
    d["mlp_hidden"] = parse_list(d["mlp_hidden"], "model.mlp_hidden", MAX_MLP_LAYERS)
    for name in ("kernel", "padding", "stride", "dilation", "pool_every", "dense", "batch_size", "max_steps"):
        d[name] = int(d[name])
    d.update(lr=float(d["lr"]), dropout=float(d["dropout"]), batch_norm=bool(d["batch_norm"]), seed=int(seed))
    return CNNConfig.build(**d)


def matching_preset(config: CNNConfig) -> str:
    """The preset whose network `config` is (train settings aside), or NO_PRESET."""
    for name in PRESETS:
        if preset(name, config.seed).model == config.model:
            return name
    return NO_PRESET


# ---------- the address ----------
def _list_param(name: str, key: str, most: int, low: int, high: int) -> Param:
    def parse(text: str) -> str:
        try:
            values = parse_list(text, name, most)
        except ConfigError:
            values = []
        if not values or not all(low <= v <= high for v in values):
            raise ValueError(f"1 to {most} whole numbers from {low} to {high}, separated by commas")
        return list_text(values)
    return Param(name, key, parse, lambda text: str(text).replace(" ", ""))


def _dense_param() -> Param:
    return whole_number("dense", "cv_dense", 0, 512)


TRAIN_URL_PARAMS = [
    one_of("preset", "cv_preset", {**{name: name for name in PRESETS}, NO_PRESET: NO_PRESET}),
    one_of("kind", "cv_kind", list(KIND_LABELS)), _list_param("channels", "cv_channels", MAX_CONV_LAYERS, 1, 64),
    one_of("kernel", "cv_kernel", KERNELS, int), one_of("padding", "cv_padding", PADDINGS, int),
    one_of("stride", "cv_stride", STRIDES, int), one_of("dilation", "cv_dilation", DILATIONS, int),
    one_of("pool", "cv_pool", list(POOLS)), one_of("pool_every", "cv_pool_every", POOL_EVERY, int),
    one_of("head", "cv_head", list(HEADS)), one_of("activation", "cv_activation", list(ACTIVATIONS)),
    flag("batch_norm", "cv_batch_norm"), one_of("dropout", "cv_dropout", DROPOUTS, float), _dense_param(),
    _list_param("mlp", "cv_mlp_hidden", MAX_MLP_LAYERS, 1, 512),
    one_of("optimizer", "cv_optimizer", list(OPTIMIZERS)), one_of("lr", "cv_lr", LEARNING_RATES, float),
    one_of("batch", "cv_batch", BATCH_SIZES, int), one_of("steps", "cv_max_steps", STEP_LIMITS, int),
    whole_number("digit", "cv_digit", 0, 899), whole_number("stage", "cv_stage", 0, 4 * MAX_CONV_LAYERS),
    one_of("pair", "cv_pair_cnn", CNN_PRESETS)]


def address_defaults(preset_name: str | None) -> dict:
    """What the address leaves out: the page's defaults, or the chosen preset's settings."""
    base = default_widgets()
    return {**base, **preset_widgets(preset_name)} if preset_name in PRESETS else base


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address: a preset's settings, then the parameters given."""
    values, problems = address.widgets_from_query(TRAIN_URL_PARAMS, query)
    chosen = values.get("cv_preset")
    return ({**preset_widgets(chosen), **values} if chosen in PRESETS else values), problems


def restored_widgets(config: CNNConfig, query: dict, own_query) -> dict | None:
    """The widget values that show a restored run, or None where it must not be restored: the address
    describes another setup (a shared link wins). `own_query(values, seed)` is the address the page
    writes for these values; an empty address or that one (a reload) restores."""
    values = {**widgets_from_config(config), "cv_preset": matching_preset(config)}
    if config_from_widgets(values, config.seed) != config:
        return None
    own = own_query(values, config.seed)
    keep = {k: v for k, v in dict(query).items() if k not in ("tab", "digit", "stage", "pair")
            and not k.startswith("op.")}  # the other tabs' settings and the view's choices do not name a run
    mine = {k: v for k, v in own.items() if k not in ("tab", "digit", "stage", "pair") and not k.startswith("op.")}
    return values if not keep or keep == mine else None


# ---------- the live run ----------
@dataclass
class CNNRun:
    """What the Train tab keeps between reruns: the trainer, whether it plays, the last evaluation,
    the speed, and the cell of a feature map the user clicked."""
    trainer: CNNTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    clicked: tuple[int, int, int] | None = None   # (stage index, row, column)
    draw_seconds: float = 0.15
    frame_seconds: float = 0.25
    interval: float = TICK_SECONDS
    _snap: CNNSnapshot | None = field(default=None, repr=False)
    _eval_time: float = field(default=-math.inf, repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: CNNConfig, device="cpu", playing: bool = False) -> "CNNRun":
        return cls(CNNTrainer(config, device), playing=playing)

    def training_budget(self) -> float:
        return min(MAX_TRAIN_SECONDS, max(MIN_TRAIN_SECONDS, 0.8 * self.interval - self.draw_seconds))

    def frame_drawn(self, frame_seconds: float, train_seconds: float) -> None:
        self.draw_seconds = 0.5 * self.draw_seconds + 0.5 * max(0.0, frame_seconds - train_seconds)
        self.frame_seconds = 0.5 * self.frame_seconds + 0.5 * frame_seconds

    def frame_interval(self) -> float:
        return rounded_interval(1.3 * self.frame_seconds, TICK_SECONDS, MAX_TICK_SECONDS)

    def interval_is_stale(self) -> bool:
        return interval_is_stale(self.frame_interval(), self.interval, TICK_SECONDS)

    def snapshot(self, now: float | None = None) -> CNNSnapshot:
        """The trainer's snapshot — an evaluation over every digit, the costliest part of a frame —
        taken at most every EVAL_SECONDS while playing, and at once when paused or stopped."""
        now = time.perf_counter() if now is None else now
        stale = self._snap is None or self._snap.step != self.trainer.step_count
        if stale and (not self.playing or now - self._eval_time >= EVAL_SECONDS):
            self._snap, self._eval_time = self.trainer.snapshot(), now
        return self._snap

    def tick(self, budget_s: float | None = None) -> CNNSnapshot:
        """One frame: train a time-boxed chunk if playing, then the (possibly cached) snapshot."""
        trainer = self.trainer
        if not self.playing:
            self._last = None
            return self.snapshot()
        budget_s = self.training_budget() if budget_s is None else budget_s
        if not train_guarded(self, lambda: trainer.advance(budget_s)):
            return self.snapshot()
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (trainer.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, trainer.step_count)
        self._stop_if_needed()
        return self.snapshot()

    def step(self, n: int) -> CNNSnapshot:
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._stop_if_needed()
        return self.snapshot()

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""

    def pause(self) -> None:
        self.playing = False

    def autosave(self, save, now: float | None = None) -> bool:
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def apply(self, config: CNNConfig) -> list[str]:
        changed = self.trainer.apply(config)
        if not changed and not self.trainer.diverged and self.message.startswith("The loss became"):
            self.message = ""
        if not changed:
            self._snap = None  # a new step limit or learning rate shows at once
        return changed

    def apply_hot(self, config: CNNConfig) -> None:
        """Only the hot settings of `config` reach the running trainer (the page asks before a
        structural change replaces it)."""
        wanted, running = config.flat(), self.trainer.config
        try:
            hot = running.replace(**{name.split(".", 1)[1]: wanted[name.split(".", 1)[1]] for name in HOT_FIELDS})
        except ConfigError:
            return
        if hot != running:
            self.apply(hot)

    def click(self, stage: int, row: int, col: int) -> None:
        self.clicked = (int(stage), int(row), int(col))

    def _stop_if_needed(self) -> None:
        t = self.trainer
        if t.diverged:
            self.playing = False
            self.message = (f"The loss became NaN or infinite at learning rate {t.config.train.lr:g}: training "
                            "paused and the last finite weights were kept. Lower the learning rate and press Play.")
        elif t.finished:
            self.playing = False
            self.message = f"Reached the step limit ({t.config.train.max_steps:,}). Raise “Stop after” to train on."


@dataclass
class PairRun:
    """The CNN and the MLP of about as many parameters, trained side by side on the same split and
    seed, one time-boxed chunk each per frame."""
    cnn: CNNTrainer
    mlp: CNNTrainer
    playing: bool = False
    message: str = ""
    shifts: dict | None = None   # network name -> accuracies at 0, 1, 2 pixels, measured at shift_step
    shift_step: tuple[int, int] = (-1, -1)
    _snaps: dict | None = field(default=None, repr=False)
    _eval_time: float = field(default=-math.inf, repr=False)

    @classmethod
    def build(cls, cnn_preset: str, seed: int, device="cpu") -> "PairRun":
        return cls(CNNTrainer(preset(cnn_preset, seed), device), CNNTrainer(preset("mlp", seed), device))

    @property
    def trainers(self) -> dict[str, CNNTrainer]:
        return {"CNN": self.cnn, "MLP": self.mlp}

    def tick(self, budget_s: float = MAX_TRAIN_SECONDS) -> None:
        if not self.playing:
            return
        # The CNN trains for the frame's budget and the MLP (several times faster) catches up to the
        # same step: the two are compared after as many updates, not as many seconds.
        if not self.cnn.finished and not train_guarded(self, lambda: self.cnn.advance(budget_s)):
            return
        behind = self.cnn.step_count - self.mlp.step_count
        if behind > 0 and not train_guarded(self, lambda: self.mlp.advance(10 * budget_s, max_steps=behind)):
            return
        if self.cnn.finished and self.mlp.finished:
            self.playing = False
            self.message = f"Both reached their {self.cnn.config.train.max_steps:,} steps."

    def step(self, n: int) -> None:
        for trainer in (self.cnn, self.mlp):
            if not train_guarded(self, lambda t=trainer: t.step(n)):
                return

    def play(self) -> None:
        self.playing = not (self.cnn.finished and self.mlp.finished)
        self.message = ""

    def pause(self) -> None:
        self.playing = False

    def snapshots(self, now: float | None = None) -> dict[str, CNNSnapshot]:
        """Both snapshots, measured at most every EVAL_SECONDS while playing (see CNNRun.snapshot)."""
        now = time.perf_counter() if now is None else now
        steps = (self.cnn.step_count, self.mlp.step_count)
        stale = self._snaps is None or tuple(s.step for s in self._snaps.values()) != steps
        if stale and (not self.playing or now - self._eval_time >= EVAL_SECONDS):
            self._snaps, self._eval_time = {name: t.snapshot() for name, t in self.trainers.items()}, now
        return self._snaps

    def shift_accuracies(self) -> dict[str, list[float]]:
        """Test accuracy of each network at shifts of 0, 1 and 2 pixels, measured with the snapshots."""
        snaps = self.snapshots()
        steps = tuple(s.step for s in snaps.values())
        if self.shifts is None or steps != self.shift_step:
            self.shifts = {name: [t.shifted_accuracy(p) for p in (0, 1, 2)] for name, t in self.trainers.items()}
            self.shift_step = steps
        return self.shifts


def fmt_percent(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.1%}"


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "NaN"
    return f"{x:.{digits}g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"


def drawn_input(grid) -> np.ndarray | None:
    """The pad's 8×8 grid as the network's input: the ink's bounding box scaled and centred the way
    scikit-learn's digits are (full height, about 6 columns wide, in the middle), its darkest cell
    at full ink; None when nothing is drawn."""
    if grid is None:
        return None
    image = np.clip(np.nan_to_num(np.asarray(grid, dtype=np.float64).reshape(8, 8)), 0.0, 1.0)
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.05), np.flatnonzero(image.max(axis=0) > 0.05)
    if not len(rows):
        return None
    ink = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = ink.shape
    # Every one of the 1,797 digits is 8 pixels tall and at most 6 or 7 wide (6 for most): stretch to
    # the full height, keep the shape, and squeeze a wide drawing to 6 columns.
    size = (int(np.clip(round(w * 8 / h), 1, 6)), 8)
    ink = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.BILINEAR))
    out = np.zeros((8, 8), dtype=np.float32)
    top, left = (8 - size[1]) // 2, (8 - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = ink
    peak = out.max()
    return (np.clip(out / peak, 0.0, 1.0) if peak > 0 else out).reshape(64)
