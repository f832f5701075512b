"""The GAN lab's logic, free of Streamlit so it is unit-tested as plain Python: widget values
<-> config, presets, the user's drawing, the live runs (2-D game and digits) and the
sentences that read the numbers on screen."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine import ConfigError
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.gan.dcgan import ARCHITECTURES
from engine.gan.digits import STRUCTURAL as DIGIT_STRUCTURAL  # what DigitsGANTrainer.apply refuses
from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer
from engine.gan.trainer import (LOSS_VARIANTS, NOISE_TYPES, STRUCTURAL, TARGETS, GANConfig, GANTrainer,
                                structural_changes)

TICK_SECONDS = 0.25          # the live view redraws 4 times a second when its frames fit in that
SPEEDS = {"Slow motion (1 step per frame)": 1, "10 steps per frame": 10, "Fast (as many as fit)": 0}
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.002, 0.003, 0.005, 0.01, 0.03, 0.1]
SPREADS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
WIDTHS = [4, 8, 16, 32, 64, 128]
MAX_MODES, MAX_LAYERS, MAX_K, MAX_NOISE_DIM = 16, 6, 10, 16
DIGIT_LEARNING_RATES = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01]
DIGIT_MAX_K = 5
DIGIT_NOISE_DIMS = [2, 4, 8, 16, 32, 64]
DIGIT_WIDTHS = [32, 64, 128, 256]
MODES = ["2-D game", "Digits"]
TARGET_LABELS = {"ring": "Ring", "line": "Line", "mixture": "Gaussian mixture", "moons": "Two moons",
                 "spiral": "Spiral", "gaussian": "Single gaussian", "drawn": "Draw your own"}
LOSS_LABELS = {"minimax": "Minimax (original)", "nonsaturating": "Non-saturating", "least_squares": "Least squares"}
HEATMAP_RESOLUTION = 48      # D is evaluated on 48 × 48 points per frame
MANIFOLD_SIZE = 15           # a 15 × 15 grid of noise mapped through G
# Each game's entry in the session store (app_pages/common/saved_runs.py), by its key in the session
SAVE_NAMES = {"gan_run": "gan", "gan_digits_run": "gan_digits"}


def heart(n: int = 40) -> list[list[float]]:
    """A heart outline: the drawing the "Draw your own" target starts from."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return [[round(float(a) / 11, 3), round(float(b) / 11 + 0.15, 3)] for a, b in zip(x, y)]


DEFAULT_PRESET = "Ring (start here)"
COLLAPSE = {"target": "mixture", "n_modes": 8, "spread": 0.02, "g_activation": "tanh", "d_activation": "tanh",
            "g_lr": 0.01, "d_lr": 0.002}
PRESETS: dict[str, dict] = {
    DEFAULT_PRESET: {"target": "ring"},
    "Gaussian mixture (8 modes)": {"target": "mixture", "n_modes": 8, "spread": 0.05},
    # G learns 5× faster than D: it moves all its points to whichever mode D rewards now,
    # D learns to reject that mode, G jumps to another. Measured at steps 2,100-3,000, seeds
    # 0-3: 0-2 of 8 modes covered (one snapshot of 40 reached 4). With G's rate equal to D's,
    # 7-8 of 8 at every one of those snapshots; k = 5 alone cured 2 seeds of 4 (README, GAN lab).
    "Mode collapse (mixture)": COLLAPSE,
    "Mode collapse, cured: G as slow as D": {**COLLAPSE, "g_lr": 0.002},
    "Two moons": {"target": "moons", "spread": 0.05},
    "Spiral": {"target": "spiral", "spread": 0.03, "g_width": 64, "d_width": 64, "g_layers": 3},
    "Single gaussian": {"target": "gaussian", "spread": 0.0},
    "Draw your own": {"target": "drawn", "spread": 0.05},
}
COLLAPSE_NOTE = (
    "**Mode collapse.** In the *Mode collapse* preset the generator learns five times faster than the "
    "discriminator, so it keeps moving all its points to whichever mode D currently rates as real; D then learns "
    "that this mode is fake, and G jumps to another. Watch *Modes covered*. **What to try:** lower G's learning "
    "rate to D's, 0.002 (the *cured* preset: all 8 modes within about 2,000 steps), so that D keeps up and "
    "punishes a generator that piles up on one mode. More discriminator steps (k = 5) help on some seeds only; "
    "the least squares loss did not reliably cure it either.")

WIDGET_FIELDS = {  # widget key -> config field
    "gan_target": "target", "gan_modes": "n_modes", "gan_spread": "spread", "gan_loss": "loss", "gan_k": "d_steps",
    "gan_batch": "batch_size", "gan_noise_dim": "noise_dim", "gan_noise_type": "noise_type",
    "gan_g_layers": "g_layers", "gan_g_width": "g_width", "gan_g_act": "g_activation", "gan_g_opt": "g_optimizer",
    "gan_g_lr": "g_lr", "gan_d_layers": "d_layers", "gan_d_width": "d_width", "gan_d_act": "d_activation",
    "gan_d_opt": "d_optimizer", "gan_d_lr": "d_lr",
}
DIGIT_FIELDS = {"gan_dg_lr": "lr", "gan_dg_k": "d_steps", "gan_dg_loss": "loss", "gan_dg_noise": "noise_dim",
                "gan_dg_hidden": "hidden", "gan_dg_arch": "architecture"}


def preset_config(name: str, seed: int = 0, points: list | None = None) -> GANConfig:
    d = dict(PRESETS[name])
    if d.get("target") == "drawn":
        d["points"] = points if points and len(points) >= 3 else heart()
    return GANConfig.from_dict({**d, "seed": int(seed)})


def widgets_from_config(config: GANConfig) -> dict:
    return {key: getattr(config, name) for key, name in WIDGET_FIELDS.items()}


def config_from_widgets(state, seed: int) -> GANConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    d["points"] = [list(p) for p in state.get("gan_points", [])] if d["target"] == "drawn" else []
    return GANConfig.from_dict({**d, "seed": int(seed)})


def digit_widgets(config: DigitsGANConfig) -> dict:
    return {key: getattr(config, name) for key, name in DIGIT_FIELDS.items()}


def digits_config_from_widgets(state, seed: int) -> DigitsGANConfig:
    return DigitsGANConfig.from_dict({**{name: state[key] for key, name in DIGIT_FIELDS.items()}, "seed": int(seed)})


def structural_fields(old: GANConfig | DigitsGANConfig, new: GANConfig | DigitsGANConfig) -> list[str]:
    """The settings that differ and need a new game (for either lab)."""
    if isinstance(old, GANConfig):
        return structural_changes(old, new)
    return [k for k in DIGIT_STRUCTURAL if getattr(old, k) != getattr(new, k)]


def hot_config(running: GANConfig | DigitsGANConfig, wanted: GANConfig | DigitsGANConfig):
    """`running` with the hot settings of `wanted` (learning rates, k, loss, batch size, step
    limit): what a running game takes while the page asks about a structural change."""
    keep = STRUCTURAL if isinstance(running, GANConfig) else DIGIT_STRUCTURAL
    d = wanted.to_dict()
    d.update({k: getattr(running, k) for k in keep})
    return type(running).from_dict(d)


def keep_widgets(config: GANConfig | DigitsGANConfig) -> dict:
    """The widget values (and the drawing, for a drawn target) that describe `config`."""
    if isinstance(config, DigitsGANConfig):
        return digit_widgets(config)
    values = widgets_from_config(config)
    if config.target == "drawn":
        values["gan_points"] = [list(p) for p in config.points]
    return values


def default_widgets() -> dict:
    """The settings of both games when the page opens (its view toggles aside)."""
    return {**widgets_from_config(preset_config(DEFAULT_PRESET)), **digit_widgets(DigitsGANConfig()),
            "gan_mode": MODES[0]}


def preset_widgets(name: str) -> dict:
    return widgets_from_config(preset_config(name))


# The page's address holds both games' settings and which one shows, under short names (see
# app_pages/common/address.py): only what differs from the defaults, or from the preset chosen.
# A drawn target's points are not in it: they would make the address long, and a link opens the heart.
NO_PRESET = "Choose a preset…"  # the preset box before a preset is chosen
PRESET_WORDS = {"ring": DEFAULT_PRESET, "mixture": "Gaussian mixture (8 modes)", "collapse": "Mode collapse (mixture)",
                "collapse-cured": "Mode collapse, cured: G as slow as D", "moons": "Two moons", "spiral": "Spiral",
                "gaussian": "Single gaussian", "draw": "Draw your own"}
URL_PARAMS = [
    one_of("preset", "gan_preset", PRESET_WORDS), one_of("game", "gan_mode", {"plane": MODES[0], "digits": MODES[1]}),
    one_of("target", "gan_target", list(TARGETS)), whole_number("modes", "gan_modes", 2, MAX_MODES),
    one_of("spread", "gan_spread", SPREADS, float), one_of("loss", "gan_loss", list(LOSS_VARIANTS)),
    whole_number("k", "gan_k", 1, MAX_K), one_of("batch", "gan_batch", BATCH_SIZES, int),
    whole_number("noise_dim", "gan_noise_dim", 1, MAX_NOISE_DIM), one_of("noise", "gan_noise_type", list(NOISE_TYPES)),
    *[p for net in ("g", "d") for p in (
        whole_number(f"{net}.layers", f"gan_{net}_layers", 1, MAX_LAYERS),
        one_of(f"{net}.width", f"gan_{net}_width", WIDTHS, int),
        one_of(f"{net}.activation", f"gan_{net}_act", list(ACTIVATIONS)),
        one_of(f"{net}.optimizer", f"gan_{net}_opt", list(OPTIMIZERS)),
        one_of(f"{net}.lr", f"gan_{net}_lr", LEARNING_RATES, float))],
    one_of("digits.lr", "gan_dg_lr", DIGIT_LEARNING_RATES, float), whole_number("digits.k", "gan_dg_k", 1, DIGIT_MAX_K),
    one_of("digits.loss", "gan_dg_loss", list(LOSS_VARIANTS)),
    one_of("digits.noise_dim", "gan_dg_noise", DIGIT_NOISE_DIMS, int),
    one_of("digits.width", "gan_dg_hidden", DIGIT_WIDTHS, int),
    one_of("digits.arch", "gan_dg_arch", list(ARCHITECTURES))]


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    current = {p.key: values[p.key] for p in URL_PARAMS if p.key in values}
    current["gan_mode"] = current.get("gan_mode") or MODES[0]  # the Lab switch can be unset: the 2-D game shows
    preset = current.get("gan_preset")
    base = {**default_widgets(), "gan_preset": NO_PRESET, **(preset_widgets(preset) if preset in PRESETS else {})}
    return address.widgets_to_query(URL_PARAMS, current, base, seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address (a preset's settings, then the parameters given), and a
    sentence for each parameter that could not be used."""
    values, problems = address.widgets_from_query(URL_PARAMS, query)
    preset = values.get("gan_preset")
    return {**preset_widgets(preset), **values} if preset else values, problems


def restored_seed(plane: GANConfig | None, digits: DigitsGANConfig | None, mode: str) -> int:
    """The sidebar's seed for restored games: the seed of the game shown, or of the other one when
    the game shown was not saved."""
    first, second = (digits, plane) if mode == MODES[1] else (plane, digits)
    return (first if first is not None else second).seed


def _config_shown(values: dict, config: GANConfig | DigitsGANConfig) -> GANConfig | DigitsGANConfig:
    """The config of `config`'s game that the widget values describe, with its seed."""
    read = config_from_widgets if isinstance(config, GANConfig) else digits_config_from_widgets
    return read(values, config.seed)


def restored_widgets(plane: GANConfig | None, digits: DigitsGANConfig | None, query: dict) -> dict | None:
    """The widget values that show the restored games (either None: not saved), or None where they
    must not be restored: the address (`query`, name -> text) describes another setup — a shared
    link wins over the saved games — or the widgets cannot show one of them. An empty address, or
    the one the page wrote for this very setup (a reload), restores; so the address's preset, its
    game and the settings of a game not saved (one never trained) are kept. An empty address shows
    the 2-D game, or the digits when only they were saved."""
    if plane is None and digits is None:
        return None
    asked, problems = widgets_from_query(query)
    if problems:
        return None  # not an address this page wrote
    values = {**default_widgets(), "gan_preset": NO_PRESET, **asked}
    if not query and plane is None:
        values["gan_mode"] = MODES[1]
    saved = [config for config in (plane, digits) if config is not None]
    for config in saved:
        values.update(keep_widgets(config))
    if any(_config_shown(values, config) != config for config in saved):
        return None  # settings that no widget offers (a step limit, a batch size of the digits)
    own = widgets_to_query(values, restored_seed(plane, digits, values["gan_mode"]))
    if widgets_from_query(own)[1]:
        return None  # a value the address cannot hold (a learning rate no slider offers)
    return values if not query or dict(query) == own else None


def add_point(points: list, x: float, y: float, domain: float = 2.0) -> list:
    """A new list with (x, y) added, rounded and kept inside the plane."""
    x, y = (round(float(min(domain, max(-domain, v))), 3) for v in (x, y))
    return [list(p) for p in points] + [[x, y]]


@dataclass
class LiveRun:
    """What the page keeps between reruns for one trainer: whether it plays, the speed, and the
    pace of its live view (each game has its own: the rest of a frame after drawing is for training)."""
    trainer: GANTrainer | DigitsGANTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS), repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)
    _saved_config: GANConfig | DigitsGANConfig | None = field(default=None, repr=False)

    def tick(self, speed_steps: int = 0, budget_s: float | None = None):
        """One frame: if playing, train `speed_steps` steps (0: as many as fit the budget); a snapshot."""
        t = self.trainer
        if not self.playing:
            self._last = None
            return t.snapshot()
        budget = self.pace.training_budget() if budget_s is None else budget_s
        trained = []
        if not train_guarded(self, lambda: trained.append(t.train_for(budget, max_steps=speed_steps or 1_000_000))):
            self.pace.stop()  # paused by the failure: no longer a share of the server
            return t.snapshot()
        snap = trained[0]
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (t.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, t.step_count)
        self._check_stopped(snap)
        return snap

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint when one is due (common/autosave.py). True if it saved.
        A hot change (a learning rate, k, the loss) is due too: the address the page writes for it
        must find the saved game on a reload."""
        if self._saved_config is not None and self.trainer.config != self._saved_config:
            self._autosave.saved_step = -1
        saved = self._autosave.save_if_due(self.trainer, self.playing, save, now)
        if saved or self._saved_config is None:
            self._saved_config = self.trainer.config
        return saved

    def _check_stopped(self, snap) -> None:
        if snap.diverged:
            self.playing = False
            self.message = ("A loss or a weight became NaN or infinite: training paused and the last finite weights "
                            "were kept. Lower the learning rates (or pick Adam), then press Play again.")
        elif snap.finished:
            self.playing = False
            self.message = "Reached the step limit."
        if not self.playing:
            self.pace.stop()

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    @property
    def has_trained(self) -> bool:
        return self.trainer.step_count >= 1

    def apply_hot(self, config: GANConfig | DigitsGANConfig) -> None:
        """Only the hot settings of `config` reach the running game; its structure stays (the
        page asks before a structural change replaces it)."""
        try:
            hot = hot_config(self.trainer.config, config)
        except ConfigError:
            return  # those values do not fit the running game: they wait for the new one
        if hot != self.trainer.config:
            self.trainer.apply(hot)

    def step(self, what: str = "both", n: int = 1):
        """A manual step (pauses first): both players, only D ("d") or only G ("g")."""
        self.pause()
        t = self.trainer
        stepped = []
        if not train_guarded(self, lambda: stepped.append(
                t.step_d_only(n) if what == "d" else t.step_g_only(n) if what == "g" else t.step(n))):
            return t.snapshot()
        self._check_stopped(stepped[0])
        return stepped[0]


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "—" if math.isnan(x) else "∞"
    return f"{x:.{digits}f}" if abs(x) >= 10 ** -digits or x == 0 else f"{x:.1e}"


def explain(snap, config: GANConfig, arrows: np.ndarray | None = None) -> list[str]:
    """Sentences with the numbers on screen: what D believes, how far the distributions
    are apart, and what the arrows say."""
    if snap.step == 0:
        return ["Nothing trained yet. Purple points are G's output for fixed noise; green points are real. "
                "Press **Step** or **Play**."]
    lines = [f"D rates the real points real with p = **{snap.d_real:.2f}** on average, the generated ones with "
             f"p = **{snap.d_fake:.2f}**."]
    gap = snap.d_real - snap.d_fake
    if gap > 0.4:
        lines.append("D separates them easily: the generated points sit where D says *fake*, and the arrows pull "
                     "them toward the green regions.")
    elif abs(gap) < 0.1 and abs(snap.d_real - 0.5) < 0.15 and snap.mmd < 0.1:
        lines.append("Both are near ½ and the clouds overlap: D can hardly tell real from generated any more — the "
                     "equilibrium the game aims for, where G's distribution matches the data.")
    elif abs(gap) < 0.1:
        lines.append("D gives both about the same score, yet the clouds lie apart: D has not learned (or has "
                     "forgotten) where the data is. Give it more steps — **D only**, or a larger k.")
    else:
        lines.append("D still tells them apart, but not with confidence: the game is under way.")
    lines.append(f"The distance between the two clouds, MMD², is **{fmt(snap.mmd)}** (0 means the same distribution).")
    if snap.modes_covered is not None:
        lines.append(f"Modes covered: **{snap.modes_covered} of {config.n_modes}**."
                     + (" Fewer than half: **mode collapse**." if snap.modes_covered < config.n_modes / 2 else ""))
    if arrows is not None and len(arrows):
        norms = np.linalg.norm(arrows, axis=1)
        if config.loss == "minimax" and np.median(norms) < 0.05 and snap.d_fake < 0.2:
            lines.append("The arrows are short although D rejects the fakes: with the **minimax** loss, log(1 − D) is "
                         "flat where D(G(z)) ≈ 0, so G's gradient vanishes exactly when it needs it. "
                         "The non-saturating loss fixes that.")
    return lines
