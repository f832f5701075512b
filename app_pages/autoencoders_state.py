"""The Autoencoders page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values <-> config, presets, the live run (a time-boxed tick), the decoded point
of a click on the latent plane, and the sentences that read the numbers out."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from engine.autoencoder import AutoencoderConfig, AutoencoderSnapshot, AutoencoderTrainer

TICK_SECONDS = 0.35          # the live view asks for a frame about 3 times a second
MAX_TICK_SECONDS = 3.0       # on a machine too busy for that, frames come less often, up to this
MIN_TRAIN_SECONDS = 0.03     # training gets what drawing leaves of a frame, but never less than this
MAX_TRAIN_SECONDS = 0.15
GRID_SIZE = 12               # decoded images per side of the latent plane
SAMPLE_IMAGES = 12           # test images shown with their reconstructions
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
HIDDEN_WIDTHS = [16, 32, 64, 128, 256]
BETAS = [0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0]
MODEL_LABELS = {"linear": "Linear (no activation)", "mlp": "Nonlinear (MLP)", "vae": "Variational (VAE)"}
LOSS_LABELS = {"squared": "Squared error", "bce": "Cross-entropy (BCE)"}

DEFAULT_PRESET = "Nonlinear autoencoder, 2-D code"
PRESETS: dict[str, dict] = {
    # Batches of 256 and a larger step: a linear model has no bad minima to fall into. Measured
    # (seed 0): 1,000 steps bring the error within 0.1 % of PCA's and the largest angle to 5°.
    "Linear autoencoder = PCA": {"model": "linear", "latent_dim": 2, "recon_loss": "squared", "lr": 0.01,
                                 "batch_size": 256},
    DEFAULT_PRESET: {"model": "mlp", "latent_dim": 2, "hidden": 128, "activation": "relu", "recon_loss": "squared",
                     "lr": 0.003, "batch_size": 64},
    "VAE (β = 1)": {"model": "vae", "latent_dim": 2, "hidden": 128, "activation": "relu", "recon_loss": "bce",
                    "beta": 1.0, "reparameterize": True, "lr": 0.003, "batch_size": 64},
    "VAE without the reparameterisation trick": {"model": "vae", "latent_dim": 2, "hidden": 128,
                                                 "activation": "relu", "recon_loss": "bce", "beta": 1.0,
                                                 "reparameterize": False, "lr": 0.003, "batch_size": 64},
    "β-VAE (β = 4)": {"model": "vae", "latent_dim": 2, "hidden": 128, "activation": "relu", "recon_loss": "bce",
                      "beta": 4.0, "reparameterize": True, "lr": 0.003, "batch_size": 64},
}

# widget key -> config field
WIDGET_FIELDS = {"ae_model": "model", "ae_latent": "latent_dim", "ae_hidden": "hidden", "ae_depth": "depth",
                 "ae_activation": "activation", "ae_recon": "recon_loss", "ae_beta": "beta",
                 "ae_reparam": "reparameterize", "ae_optimizer": "optimizer", "ae_lr": "lr", "ae_batch": "batch_size"}


def preset_config(name: str, seed: int = 0) -> AutoencoderConfig:
    return AutoencoderConfig.from_dict({**PRESETS[name], "seed": int(seed)})


def widgets_from_config(config: AutoencoderConfig) -> dict:
    d = config.to_dict()
    return {key: d[name] for key, name in WIDGET_FIELDS.items()}


def default_widgets() -> dict:
    return widgets_from_config(preset_config(DEFAULT_PRESET))


def config_from_widgets(state, seed: int) -> AutoencoderConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    d.update(latent_dim=int(d["latent_dim"]), hidden=int(d["hidden"]), depth=int(d["depth"]),
             batch_size=int(d["batch_size"]), lr=float(d["lr"]), beta=float(d["beta"]),
             reparameterize=bool(d["reparameterize"]), seed=int(seed))
    return AutoencoderConfig.from_dict(d)


@dataclass
class AutoencoderRun:
    """What the page keeps between reruns: the trainer, whether it plays, the speed, and
    the point of the latent plane a click asked to decode."""
    trainer: AutoencoderTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    clicked: tuple[float, float] | None = None
    draw_seconds: float = 0.15      # how long the page took to draw the last frame, training excluded
    frame_seconds: float = 0.25     # how long the last frame took in all (smoothed)
    interval: float = TICK_SECONDS  # the frame interval the live view was drawn with
    _last: tuple[float, int] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, config: AutoencoderConfig, device="cpu", playing: bool = False) -> "AutoencoderRun":
        return cls(AutoencoderTrainer(config, device), playing=playing)

    def training_budget(self) -> float:
        """Seconds of training that fit in one frame beside the drawing: a frame must end well
        inside the frame interval (see frame_interval)."""
        return min(MAX_TRAIN_SECONDS, max(MIN_TRAIN_SECONDS, 0.8 * self.interval - self.draw_seconds))

    def frame_drawn(self, frame_seconds: float, train_seconds: float) -> None:
        """Tell the run how long the last frame took in all, and how much of it was training."""
        self.draw_seconds = 0.5 * self.draw_seconds + 0.5 * max(0.0, frame_seconds - train_seconds)
        self.frame_seconds = 0.5 * self.frame_seconds + 0.5 * frame_seconds

    def frame_interval(self) -> float:
        """Seconds between frames: TICK_SECONDS, or more when frames take longer. The browser asks
        for frames on a fixed timer, and a request that arrives while a frame is still being
        drawn interrupts it — on a busy machine the view would freeze while training went on."""
        wanted = min(MAX_TICK_SECONDS, max(TICK_SECONDS, 1.3 * self.frame_seconds))
        return math.ceil(wanted * 20 - 1e-9) / 20  # in steps of 0.05 s

    def interval_is_stale(self) -> bool:
        """The frames now take so much more (or less) time than the interval allows that the
        live view should be drawn again with a new one."""
        wanted = self.frame_interval()
        return wanted > 1.25 * self.interval or (self.interval > TICK_SECONDS and wanted < 0.75 * self.interval)

    def tick(self, budget_s: float | None = None) -> AutoencoderSnapshot:
        """One frame of the live view: train a time-boxed chunk if playing, then snapshot."""
        trainer = self.trainer
        budget_s = self.training_budget() if budget_s is None else budget_s
        if not self.playing:
            self._last = None
            return trainer.snapshot()
        snap = trainer.train_for(budget_s)
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (trainer.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, trainer.step_count)
        self._stop_if_needed(snap)
        return snap

    def step(self, n: int) -> AutoencoderSnapshot:
        snap = self.trainer.step(n)
        self._stop_if_needed(snap)
        return snap

    def _stop_if_needed(self, snap: AutoencoderSnapshot) -> None:
        if snap.diverged:
            self.playing = False
            self.message = (f"The loss became NaN or infinite at learning rate {self.trainer.config.lr:g}: training "
                            "paused and the last finite weights were kept. Lower the learning rate and press Play.")
        elif snap.finished:
            self.playing = False
            self.message = f"Reached the step limit ({self.trainer.config.max_steps:,})."

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""

    def pause(self) -> None:
        self.playing = False

    def apply(self, config: AutoencoderConfig) -> list[str]:
        """Hot changes go to the running trainer; returns the structural fields that need a new run."""
        changed = self.trainer.apply(config)
        if not changed and not self.trainer.diverged and self.message.startswith("The loss became"):
            self.message = ""
        return changed

    def click(self, x: float, y: float) -> None:
        self.clicked = (float(x), float(y))

    def clicked_code(self, codes: np.ndarray) -> np.ndarray | None:
        """(1, d) code for the clicked point: its two coordinates on the plotted dimensions,
        the other dimensions at the test codes' mean (with a 1-number code, only x counts)."""
        if self.clicked is None:
            return None
        z = codes.mean(axis=0, keepdims=True).astype(np.float32)
        z[0, 0] = self.clicked[0]
        if z.shape[1] > 1:
            z[0, 1] = self.clicked[1]
        return z


def sample_indices(labels: np.ndarray, n: int = SAMPLE_IMAGES) -> np.ndarray:
    """The first test image of each digit 0, 1, 2, … then the next ones: n indices."""
    labels = np.asarray(labels)
    firsts = [int(np.flatnonzero(labels == d)[0]) for d in range(10) if (labels == d).any()]
    rest = [i for i in range(len(labels)) if i not in firsts]
    return np.array((firsts + rest)[:n])


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "NaN"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"


def explain(snap: AutoencoderSnapshot, config: AutoencoderConfig) -> list[str]:
    """Sentences with the numbers on screen."""
    k = config.latent_dim
    lines = []
    pca_train, ae_train = snap.pca_train_error, snap.train_recon
    if config.model == "linear":
        gap = (ae_train / pca_train - 1) * 100 if pca_train > 0 else float("nan")
        angles = snap.principal_angles_deg or []
        lines.append(f"On the training images the linear autoencoder's squared error is **{fmt(ae_train)}** per "
                     f"image, PCA's with {k} component{'s' if k > 1 else ''} **{fmt(pca_train)}**: "
                     f"{'**' + format(gap, '.1f') + ' %** above' if gap >= 0.05 else 'level with'} PCA. It cannot "
                     "go below: PCA's reconstruction is the best any rank-" + str(k) + " linear map can do.")
        if angles:
            lines.append(f"The largest principal angle between the decoder's {k} directions and PCA's is "
                         f"**{angles[-1]:.1f}°**" + (" — the same subspace." if angles[-1] < 2 else
                                                     ": the subspace is still turning toward PCA's.") +
                         " The directions themselves need not be PCA's axes: any basis of that subspace is as good.")
    elif not config.model == "vae" or config.recon_loss == "squared":
        lines.append(f"Test squared error per image: **{fmt(snap.test_squared_error)}**; PCA with {k} "
                     f"component{'s' if k > 1 else ''}: **{fmt(snap.pca_test_error)}**. "
                     + ("The nonlinear code does better than any linear one of the same size."
                        if snap.test_squared_error < snap.pca_test_error else
                        "Not yet better than PCA: keep training."))
    if config.model == "vae":
        lines.append(f"Loss = reconstruction **{fmt(snap.train_recon)}** + β·KL = {config.beta:g} × "
                     f"**{fmt(snap.train_kl)}** per training image (test squared error {fmt(snap.test_squared_error)}, "
                     f"PCA {fmt(snap.pca_test_error)}).")
        if snap.step == 0:
            lines.append("Press Step or Play to see which loss term sends gradient into the encoder.")
        elif config.reparameterize:
            lines.append(f"With the reparameterisation trick, z = μ + σ·ε: the reconstruction sends "
                         f"**{fmt(snap.encoder_grad_norm_recon)}** of gradient norm into the encoder's weights "
                         f"(‖∂recon/∂(μ, log σ²)‖ = {fmt(snap.code_grad_norm_recon)}), the KL term "
                         f"**{fmt(snap.encoder_grad_norm_kl)}**.")
        else:
            lines.append(f"**Without the trick**, z is drawn as a plain sample, which has no derivative with respect "
                         f"to μ or σ: the reconstruction sends **{fmt(snap.encoder_grad_norm_recon)}** gradient into "
                         f"the encoder (‖∂recon/∂(μ, log σ²)‖ = {fmt(snap.code_grad_norm_recon)}). Only the KL term "
                         f"(**{fmt(snap.encoder_grad_norm_kl)}**) trains it, and it pulls every code to N(0, 1): the "
                         "digits pile up in one blob and the decoder learns an average digit.")
        if snap.train_kl is not None and snap.step > 200 and snap.train_kl < 0.05 * k:
            lines.append("The KL is close to 0: the codes carry almost no information about the image "
                         "(posterior collapse)" + (" — lower β." if config.beta > 1 else "."))
    return lines
