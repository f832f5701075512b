"""The Autoencoders page's logic, free of Streamlit so it is unit-tested as plain Python:
widget values <-> config, presets, the live run (a time-boxed tick), the decoded point
of a click on the latent plane, and the sentences that read the numbers out."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import flag, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine import ConfigError
from engine.autoencoders.models import NOISE_TYPES, VARIATIONAL_KINDS
from engine.autoencoders.trainer import (HOT_FIELDS, MAX_LATENT, RECON_LOSSES, AutoencoderConfig, AutoencoderSnapshot,
                                         AutoencoderTrainer)
from engine.core.registries import ACTIVATIONS, OPTIMIZERS

TICK_SECONDS = 0.35          # the live view asks for a frame about 3 times a second when its frames fit in that
MAX_TRAIN_SECONDS = 0.15     # a frame's training, at most: the codes, the decoded grid and the probe take the rest
GRID_SIZE = 12               # decoded images per side of the latent plane
SAMPLE_IMAGES = 12           # test images shown with their reconstructions
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
HIDDEN_WIDTHS = [16, 32, 64, 128, 256]
DEPTHS = [1, 2, 3]
BETAS = [0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0]
SPARSITY_WEIGHTS = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
NOISE_LEVELS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]
MODEL_LABELS = {"linear": "Linear (no activation)", "deep": "Deep (MLP)", "conv": "Convolutional",
                "sparse": "Sparse (L1 on the code)", "denoising": "Denoising", "vae": "Variational (VAE)",
                "conv_vae": "Convolutional VAE (DCIGN)"}
LOSS_LABELS = {"squared": "Squared error", "bce": "Cross-entropy (BCE)"}
NOISE_LABELS = {"gaussian": "Gaussian noise", "masking": "Masking (pixels set to 0)"}
PROBE_EVERY_SECONDS = 2.0    # while playing, the feature classifier is refitted at most this often
SAVE_NAME = "autoencoders"   # this page's entry in the session store (app_pages/common/saved_runs.py)

DEFAULT_PRESET = "Deep autoencoder, 2-D code"
CONV_VAE_PRESET = "Convolutional VAE (DCIGN), 2-D code"
_VAE = {"kind": "vae", "latent_dim": 2, "hidden": 128, "activation": "relu", "loss": "bce", "lr": 0.003,
        "batch_size": 64}
PRESETS: dict[str, dict] = {
    # Batches of 256 and a larger step: a linear model has no bad minima to fall into. Measured
    # (seed 0): 1,000 steps bring the error within 0.1 % of PCA's and the largest angle to 5°.
    "Linear autoencoder = PCA": {"kind": "linear", "latent_dim": 2, "loss": "squared", "lr": 0.01,
                                 "batch_size": 256},
    DEFAULT_PRESET: {"kind": "deep", "latent_dim": 2, "hidden": 128, "activation": "relu", "loss": "squared",
                     "lr": 0.003, "batch_size": 64},
    "Convolutional autoencoder, 2-D code": {"kind": "conv", "latent_dim": 2, "activation": "relu",
                                            "loss": "squared", "lr": 0.003, "batch_size": 64},
    # A wide code (32 numbers) that the L1 penalty keeps mostly switched off.
    "Sparse autoencoder, 32-number code": {"kind": "sparse", "latent_dim": 32, "hidden": 128, "activation": "relu",
                                           "sparsity": 0.3, "loss": "squared", "lr": 0.003, "batch_size": 64},
    "Denoising autoencoder (30 % masked)": {"kind": "denoising", "latent_dim": 8, "hidden": 128, "activation": "relu",
                                            "noise": "masking", "noise_level": 0.3, "loss": "squared", "lr": 0.003,
                                            "batch_size": 64},
    "VAE (β = 1)": {**_VAE, "beta": 1.0, "reparameterize": True},
    "VAE without the reparameterisation trick": {**_VAE, "beta": 1.0, "reparameterize": False},
    "β-VAE (β = 4)": {**_VAE, "beta": 4.0, "reparameterize": True},
    # The VAE with the conv autoencoder's layers. Measured (seed 0): test squared error 2.77 per
    # image and test KL 2.0 nats after 1,000 steps, 2.47 and 2.4 after 3,000 (PCA with 2: 3.40).
    CONV_VAE_PRESET: {**_VAE, "kind": "conv_vae", "beta": 1.0, "reparameterize": True},
}

# widget key -> config setting (its flat name: AutoencoderConfig.build takes these)
WIDGET_FIELDS = {"ae_model": "kind", "ae_latent": "latent_dim", "ae_hidden": "hidden", "ae_depth": "depth",
                 "ae_activation": "activation", "ae_recon": "loss", "ae_sparsity": "sparsity", "ae_noise": "noise",
                 "ae_noise_level": "noise_level", "ae_beta": "beta", "ae_reparam": "reparameterize",
                 "ae_optimizer": "optimizer", "ae_lr": "lr", "ae_batch": "batch_size"}


def preset_config(name: str, seed: int = 0) -> AutoencoderConfig:
    return AutoencoderConfig.build(**{**PRESETS[name], "seed": int(seed)})


def widgets_from_config(config: AutoencoderConfig) -> dict:
    d = config.flat()
    return {key: d[name] for key, name in WIDGET_FIELDS.items()}


def default_widgets() -> dict:
    return widgets_from_config(preset_config(DEFAULT_PRESET))


def config_from_widgets(state, seed: int) -> AutoencoderConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    d.update(latent_dim=int(d["latent_dim"]), hidden=int(d["hidden"]), depth=int(d["depth"]),
             batch_size=int(d["batch_size"]), lr=float(d["lr"]), beta=float(d["beta"]),
             sparsity=float(d["sparsity"]), noise_level=float(d["noise_level"]),
             reparameterize=bool(d["reparameterize"]), seed=int(seed))
    return AutoencoderConfig.build(**d)


def preset_widgets(name: str) -> dict:
    return widgets_from_config(preset_config(name))


# The page's address holds its setup under short names (see app_pages/common/address.py): only
# what differs from the defaults, or from the preset chosen, so that a link to a preset is just
# ?preset=beta-vae. The preset's name in the address is a short word; the select box shows its title.
NO_PRESET = "Choose a preset…"  # the preset box before a preset is chosen
PRESET_WORDS = {"pca": "Linear autoencoder = PCA", "deep": DEFAULT_PRESET,
                "conv": "Convolutional autoencoder, 2-D code", "sparse": "Sparse autoencoder, 32-number code",
                "denoising": "Denoising autoencoder (30 % masked)", "vae": "VAE (β = 1)",
                "vae-no-trick": "VAE without the reparameterisation trick", "beta-vae": "β-VAE (β = 4)",
                "conv-vae": CONV_VAE_PRESET}
URL_PARAMS = [
    one_of("preset", "ae_preset", PRESET_WORDS), one_of("model", "ae_model", list(MODEL_LABELS)),
    whole_number("code", "ae_latent", 1, MAX_LATENT), one_of("width", "ae_hidden", HIDDEN_WIDTHS, int),
    one_of("depth", "ae_depth", DEPTHS, int), one_of("activation", "ae_activation", list(ACTIVATIONS)),
    one_of("loss", "ae_recon", list(RECON_LOSSES)), one_of("beta", "ae_beta", BETAS, float),
    flag("reparam", "ae_reparam"), one_of("sparsity", "ae_sparsity", SPARSITY_WEIGHTS, float),
    one_of("noise", "ae_noise", list(NOISE_TYPES)), one_of("noise_level", "ae_noise_level", NOISE_LEVELS, float),
    one_of("optimizer", "ae_optimizer", list(OPTIMIZERS)), one_of("lr", "ae_lr", LEARNING_RATES, float),
    one_of("batch", "ae_batch", BATCH_SIZES, int)]


def _address_defaults(preset: str | None) -> dict:
    """What the address leaves out: the page's defaults, or the chosen preset's settings."""
    base = {**default_widgets(), "ae_preset": NO_PRESET}
    return {**base, **preset_widgets(preset)} if preset in PRESETS else base


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, _address_defaults(values.get("ae_preset")), seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address (a preset's settings, then the parameters given), and a
    sentence for each parameter that could not be used."""
    values, problems = address.widgets_from_query(URL_PARAMS, query)
    preset = values.get("ae_preset")
    return {**preset_widgets(preset), **values} if preset else values, problems


def restored_widgets(config: AutoencoderConfig, query: dict) -> dict | None:
    """The widget values that show a restored model, or None where it must not be restored: the
    address (`query`, name -> text) describes another setup — a shared link wins over the saved
    run — or the widgets cannot show the model. An empty address, or the one the page wrote for
    this very setup (a reload), restores. The preset the address names is kept, since the page's
    address is written relative to it."""
    preset = widgets_from_query({"preset": query["preset"]})[0].get("ae_preset") if "preset" in query else None
    values = {**widgets_from_config(config), "ae_preset": preset or NO_PRESET}
    own = widgets_to_query(values, config.seed)
    if config_from_widgets(values, config.seed) != config or widgets_from_query(own)[1]:
        return None  # settings that no widget offers (only a file not written by this page has them)
    return values if not query or dict(query) == own else None


@dataclass
class AutoencoderRun:
    """What the page keeps between reruns: the trainer, whether it plays, the speed, the pace of
    the live view, and the point of the latent plane a click asked to decode."""
    trainer: AutoencoderTrainer
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    clicked: tuple[float, float] | None = None
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=MAX_TRAIN_SECONDS),
                             repr=False)
    probe: dict | None = None       # the feature classifier's test accuracies at step probe_step
    probe_step: int = -1
    _probe_time: float = field(default=-1e9, repr=False)
    _last: tuple[float, int] | None = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: AutoencoderConfig, device="cpu", playing: bool = False) -> "AutoencoderRun":
        return cls(AutoencoderTrainer(config, device), playing=playing)

    def tick(self, budget_s: float | None = None) -> AutoencoderSnapshot:
        """One frame of the live view: train a time-boxed chunk if playing, then snapshot."""
        trainer = self.trainer
        if not self.playing:
            self._last = None
            return trainer.snapshot()
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        trained = []
        if not train_guarded(self, lambda: trained.append(trainer.train_for(budget_s))):
            self.pace.stop()  # paused by the failure: no longer a share of the server
            return trainer.snapshot()
        snap = trained[0]
        now = time.perf_counter()
        if self._last is not None and now > self._last[0]:
            self.steps_per_second = (trainer.step_count - self._last[1]) / (now - self._last[0])
        self._last = (now, trainer.step_count)
        self._stop_if_needed(snap)
        return snap

    def probe_accuracies(self) -> dict:
        """The feature classifier's accuracies (codes, PCA, pixels), refitted when the network
        has changed — while playing at most every PROBE_EVERY_SECONDS, as a fit takes tens of ms."""
        now, step = time.perf_counter(), self.trainer.step_count
        stale = self.probe is None or step != self.probe_step
        if stale and (not self.playing or self.probe is None or now - self._probe_time >= PROBE_EVERY_SECONDS):
            self.probe, self.probe_step, self._probe_time = self.trainer.probe_accuracies(), step, now
        return self.probe

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint when one is due (common/autosave.py). True if it saved."""
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def step(self, n: int) -> AutoencoderSnapshot:
        stepped = []
        if not train_guarded(self, lambda: stepped.append(self.trainer.step(n))):
            return self.trainer.snapshot()
        self._stop_if_needed(stepped[0])
        return stepped[0]

    def _stop_if_needed(self, snap: AutoencoderSnapshot) -> None:
        if snap.diverged:
            self.playing = False
            self.message = (f"The loss became NaN or infinite at learning rate {self.trainer.config.train.lr:g}: training "
                            "paused and the last finite weights were kept. Lower the learning rate and press Play.")
        elif snap.finished:
            self.playing = False
            self.message = f"Reached the step limit ({self.trainer.config.train.max_steps:,})."
        if not self.playing:
            self.pace.stop()  # stopped by itself: no longer a share of the server

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def apply(self, config: AutoencoderConfig) -> list[str]:
        """Hot changes go to the running trainer; returns the structural fields that need a new run."""
        changed = self.trainer.apply(config)
        if not changed and not self.trainer.diverged and self.message.startswith("The loss became"):
            self.message = ""
        return changed

    def apply_hot(self, config: AutoencoderConfig) -> None:
        """Only the hot settings of `config` (learning rate, batch size, β, ...) reach the running
        trainer; its structure stays (the page asks before a structural change replaces it)."""
        wanted, running = config.flat(), self.trainer.config
        try:
            hot = running.replace(**{name.split(".", 1)[1]: wanted[name.split(".", 1)[1]] for name in HOT_FIELDS})
        except ConfigError:
            return  # those values do not fit the running network: they wait for the new one
        if hot != running:
            self.apply(hot)

    def click(self, x: float, y: float) -> None:
        self.clicked = (float(x), float(y))

    def clicked_code(self, plane: dict) -> np.ndarray | None:
        """(1, d) code for the clicked point of the code plane (AutoencoderTrainer.code_plane):
        origin + basis @ (x, y) — the code itself for 2 numbers, the point of the principal plane
        for more; with a 1-number code, only x counts."""
        if self.clicked is None:
            return None
        xy = np.array(self.clicked[:plane["basis"].shape[1]], dtype=np.float64)
        return (plane["origin"] + plane["basis"] @ xy)[None].astype(np.float32)

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
    m, k = config.model, config.model.latent_dim
    lines = []
    pca_train, ae_train = snap.pca_train_error, snap.train_recon
    if m.kind == "linear":
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
    elif m.kind not in VARIATIONAL_KINDS or config.train.loss == "squared":
        lines.append(f"Test squared error per image: **{fmt(snap.test_squared_error)}**; PCA with {k} "
                     f"component{'s' if k > 1 else ''}: **{fmt(snap.pca_test_error)}**. "
                     + ("The nonlinear code does better than any linear one of the same size."
                        if snap.test_squared_error < snap.pca_test_error else
                        "Not yet better than PCA: keep training."))
    if m.kind == "sparse":
        share = snap.test_active_codes or 0.0
        lines.append(f"Loss = reconstruction **{fmt(snap.train_recon)}** + sparsity penalty {m.sparsity:g} × mean|z| "
                     f"= **{fmt(snap.train_sparsity_penalty)}** per training image. **{share:.0%}** of the test "
                     f"codes' {k} numbers are on (not 0): each digit is drawn from a few active units. Raise the "
                     "weight and fewer stay on, at some cost in reconstruction.")
    if m.kind == "denoising" and snap.test_denoise_error is not None:
        what = (f"{m.noise_level:.0%} of the pixels set to 0" if m.noise == "masking"
                else f"Gaussian noise σ = {m.noise_level:g}")
        lines.append(f"Trained on inputs with {what}, asked for the clean image. On a corrupted copy of the test "
                     f"digits the noise alone leaves a squared error of **{fmt(snap.test_noisy_input_error)}** per "
                     f"image; the autoencoder's reconstruction of it **{fmt(snap.test_denoise_error)}**.")
    if m.kind in VARIATIONAL_KINDS:
        lines.append(f"Loss = reconstruction **{fmt(snap.train_recon)}** + β·KL = {m.beta:g} × "
                     f"**{fmt(snap.train_kl)}** per training image (test squared error {fmt(snap.test_squared_error)}, "
                     f"PCA {fmt(snap.pca_test_error)}).")
        if snap.step == 0:
            lines.append("Press Step or Play to see which loss term sends gradient into the encoder.")
        elif m.reparameterize:
            lines.append(f"With the reparameterisation trick, z = μ + σ·ε: the reconstruction sends "
                         f"**{fmt(snap.encoder_grad_norm_recon)}** of gradient norm into the encoder's weights "
                         f"(‖∂recon/∂(μ, log σ²)‖ = {fmt(snap.code_grad_norm_recon)}), the KL term "
                         f"**{fmt(snap.encoder_grad_norm_penalty)}**.")
        else:
            lines.append(f"**Without the trick**, z is drawn as a plain sample, which has no derivative with respect "
                         f"to μ or σ: the reconstruction sends **{fmt(snap.encoder_grad_norm_recon)}** gradient into "
                         f"the encoder (‖∂recon/∂(μ, log σ²)‖ = {fmt(snap.code_grad_norm_recon)}). Only the KL term "
                         f"(**{fmt(snap.encoder_grad_norm_penalty)}**) trains it, and it pulls every code to N(0, 1): the "
                         "digits pile up in one blob and the decoder learns an average digit.")
        if snap.train_kl is not None and snap.step > 200 and snap.train_kl < 0.05 * k:
            lines.append("The KL is close to 0: the codes carry almost no information about the image "
                         "(posterior collapse)" + (" — lower β." if m.beta > 1 else "."))
    return lines
