"""Autoencoders on the 8×8 digits: linear (checked against PCA), deep, convolutional, sparse,
denoising, and a VAE (an MLP one, and a convolutional one) whose reparameterisation trick can be
switched off to see what it is for.

AutoencoderConfig is one validated dataclass with a `model` and a `train` section (JSON round
trip, `task: "autoencoder"`); AutoencoderTrainer(config, device).step(n) returns an
AutoencoderSnapshot of plain data. Losses are per image — summed over the 64 pixels, averaged
over the images of a batch — so the VAE's loss is recon + β·KL with both terms in the same
units (nats per image for BCE), and the sparse one's recon + weight·mean|z|.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from ..core.device import pick_device
from ..core.digits import load_digits_split
from ..core.registries import make_optimizer
from . import checkpoint
from .config import (FIELD_SECTION, HOT_FIELDS, MAX_LATENT, RECON_LOSSES, SECTIONS, AutoencoderConfig,
                     AutoencoderModelConfig, AutoencoderTrainConfig, structural_changes)
from .models import (KINDS, NOISE_TYPES, N_PIXELS, PCA, build_autoencoder, corrupt, kl_to_standard_normal,
                     principal_angles_deg, recon_loss_per_image, sample_code, softmax_probe_accuracy, sparsity_penalty)

__all__ = ["AutoencoderConfig", "AutoencoderModelConfig", "AutoencoderTrainConfig", "AutoencoderSnapshot",
           "AutoencoderTrainer", "PCA", "principal_angles_deg", "structural_changes"]


@dataclass
class AutoencoderSnapshot:
    step: int                         # optimisation steps so far
    epoch: int                        # completed passes over the training images
    train_loss: float                 # mean squared reconstruction error per pixel, [0, 1] scale, clean training images
    test_loss: float                  # the same on the test images (the VAE decodes its mean code)
    train_objective: float            # what training minimises, per image: recon (+ β·KL | + sparsity penalty)
    test_objective: float
    train_recon: float                # reconstruction loss per image of the clean images; the VAE decodes its mean code
    test_recon: float
    train_kl: float | None            # vae, conv_vae: KL(q(z|x) ‖ N(0, I)) per image; None for the other models
    test_kl: float | None
    train_sparsity_penalty: float | None  # sparse: weight · mean |z| over the training codes; None otherwise
    test_sparsity_penalty: float | None
    test_active_codes: float | None   # sparse: share of the test codes' numbers that are not 0 (ReLU code)
    test_denoise_error: float | None  # denoising: Σ (x̂ − x)² per test image, encoding a fixed corrupted copy
    test_noisy_input_error: float | None  # denoising: Σ (x̃ − x)² of that copy itself: what the noise did
    test_squared_error: float         # Σ (x̂ − x)² per test image, whatever the loss: comparable with PCA
    pca_train_error: float            # the same for PCA with latent_dim components (fit on the training set)
    pca_test_error: float
    principal_angles_deg: list[float] | None  # linear model: angles between its decoder's span and PCA's, ascending
    encoder_grad_norm: float          # ‖∂loss/∂(encoder weights)‖ at the last step
    encoder_grad_norm_recon: float    # the part that came from the reconstruction term
    encoder_grad_norm_penalty: float  # the part that came from β·KL (VAEs) or the sparsity penalty (sparse); else 0
    code_grad_norm_recon: float       # ‖∂recon/∂(μ, log σ²)‖ (VAE) or ‖∂recon/∂z‖: what reaches the code
    decoder_grad_norm: float
    lr: float
    diverged: bool = False            # the loss became NaN/inf; the last finite weights were kept
    finished: bool = False            # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


class AutoencoderTrainer:
    # What each point of `history` holds: the snapshot's numbers, and the epoch with its fraction.
    HISTORY_KEYS = frozenset({f.name for f in fields(AutoencoderSnapshot)} - {"diverged", "finished", "lr"}
                             | {"epoch_exact"})

    def __init__(self, config: AutoencoderConfig, device: str | torch.device = "auto"):
        self.config = config
        m, t = config.model, config.train
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        x_train, self.y_train, x_test, self.y_test = load_digits_split(t.seed, t.test_fraction)
        self.x_train_np, self.x_test_np = x_train, x_test
        self.x_train = torch.from_numpy(x_train).to(self.device)   # (N, 64)
        self.x_test = torch.from_numpy(x_test).to(self.device)     # (M, 64)
        self.pca = PCA(x_train, m.latent_dim)
        self._pca_errors = (self.pca.squared_error(x_train), self.pca.squared_error(x_test))
        self.model = build_autoencoder(m.kind, m.latent_dim, m.hidden, m.depth, m.activation, t.seed).to(self.device)
        self.optimizer = make_optimizer(t.optimizer, self.model.parameters(), t.lr, 0.0)
        # Generators owned by the trainer: nothing else drawing random numbers changes this run.
        self._batch_gen = torch.Generator().manual_seed(t.seed + 2)
        self._noise_gen = torch.Generator(device=self.device).manual_seed(t.seed + 3)  # VAE's ε, denoising's noise
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.step_count = 0
        self.epoch = 0
        self.diverged = False
        self._grad_norms = torch.zeros(5)  # encoder, encoder-from-recon, encoder-from-penalty, code-from-recon, decoder
        self._noisy_test: tuple[tuple, torch.Tensor] | None = None
        self._probe_fixed: dict[str, float] = {}
        self.history: list[dict] = []
        self.seconds_training = 0.0

    @property
    def kind(self) -> str:
        return self.config.model.kind

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def finished(self) -> bool:
        return 0 < self.config.train.max_steps <= self.step_count

    @property
    def variational(self) -> bool:
        return self.model.variational

    def _next_batch(self) -> torch.Tensor:
        bs = min(self.config.train.batch_size, self.n_train)
        idx = self._order[self._position:self._position + bs]
        self._position += len(idx)
        if self._position >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._batch_gen)
            self._position = 0
            self.epoch += 1
        return idx.to(self.device)

    # ---- training ----
    def _one_step(self) -> bool:
        """One optimisation step; False if the loss was not finite (nothing applied)."""
        m, model = self.config.model, self.model
        x = self.x_train[self._next_batch()]                        # (B, 64) clean images: the target
        if model.variational:
            mean, log_var = model.encode_distribution(x)            # (B, d), (B, d)
            mean.retain_grad()
            log_var.retain_grad()
            noise = torch.randn(mean.shape, generator=self._noise_gen, device=self.device)
            z = sample_code(mean, log_var, noise, m.reparameterize)
            penalty = m.beta * kl_to_standard_normal(mean, log_var).mean()
            code = (mean, log_var)
        else:
            # The denoising autoencoder sees a corrupted copy and is asked for the clean image.
            x_in = corrupt(x, m.noise, m.noise_level, self._noise_gen) if self.kind == "denoising" else x
            z = model.encode(x_in)                                   # (B, d)
            z.retain_grad()
            penalty = sparsity_penalty(z, m.sparsity) if self.kind == "sparse" else None
            code = (z,)
        recon = recon_loss_per_image(model.decode(z), x, self.config.train.loss).mean()
        loss = recon + penalty if penalty is not None else recon
        if not torch.isfinite(loss):
            return False
        self.optimizer.zero_grad(set_to_none=True)
        encoder = model.encoder_parameters()
        # The two terms are backpropagated one after the other so that the encoder's gradient
        # can be split into what the reconstruction sends and what the penalty (β·KL, L1) sends.
        recon.backward(retain_graph=penalty is not None)
        from_recon = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in encoder]
        code_grads = [c.grad for c in code if c.grad is not None]
        code_norm = _norm(code_grads, self.device)
        if penalty is not None and penalty.requires_grad:
            penalty.backward()
        total = [p.grad if p.grad is not None else torch.zeros_like(p) for p in encoder]
        encoder_ids, dev = {id(p) for p in encoder}, self.device
        decoder = [p.grad for p in model.parameters() if id(p) not in encoder_ids and p.grad is not None]
        self._grad_norms = torch.stack([
            _norm(total, dev), _norm(from_recon, dev), _norm([t - r for t, r in zip(total, from_recon)], dev),
            code_norm, _norm(decoder, dev)]).cpu()
        self.optimizer.step()
        self.step_count += 1
        return True

    def _train(self, max_steps: int, deadline: float | None) -> None:
        if self.diverged or self.finished or max_steps <= 0:
            return
        start = time.perf_counter()
        good = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        counters = (self.step_count, self.epoch, self._position, self._order.clone(), self._batch_gen.get_state(),
                    self._noise_gen.get_state(), self._grad_norms.clone())
        self.model.train()
        done = 0
        while done < max_steps and not self.finished:
            if not self._one_step():
                self._restore(good, counters)
                break
            done += 1
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if done and not self.diverged and not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            self._restore(good, counters)
        self.seconds_training += time.perf_counter() - start

    def _restore(self, good, counters) -> None:
        self.model.load_state_dict(good[0])
        self.optimizer.load_state_dict(good[1])
        self.step_count, self.epoch, self._position, self._order, batch_state, noise_state, norms = counters
        self._batch_gen.set_state(batch_state)
        self._noise_gen.set_state(noise_state)
        self._grad_norms = norms
        self.diverged = True

    def step(self, n: int = 1) -> AutoencoderSnapshot:
        """Advance n optimisation steps (fewer at max_steps) and return a snapshot."""
        self._train(n, None)
        return self.snapshot()

    def train_for(self, seconds: float, max_steps: int = 1_000_000) -> AutoencoderSnapshot:
        """Train for about `seconds` (a time-boxed chunk for the live page), then snapshot."""
        self._train(max_steps, time.perf_counter() + seconds)
        return self.snapshot()

    def apply(self, new_config: AutoencoderConfig) -> list[str]:
        """Take a changed config. Hot fields (learning rate, β, the reparameterisation switch,
        the sparsity weight, the input noise, batch size, step limit) apply at once and keep the
        progress; returns the structural fields that differ, which need a new trainer (nothing
        is applied then)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        if new_config.train.lr != self.config.train.lr:
            for group in self.optimizer.param_groups:
                group["lr"] = new_config.train.lr
            self.diverged = False  # a new learning rate is the usual cure; let the user try it
        self.config = new_config
        return []

    # ---- checkpoints (engine/autoencoders/checkpoint.py) ----
    def checkpoint_bytes(self) -> bytes:
        """Config (JSON text), weights, optimiser state, batch order and position, the batch and
        noise generators' states, the last gradient norms and the history, loadable with
        torch.load(weights_only=True). Loading it and training on gives the run it would have had."""
        return checkpoint.checkpoint_bytes(self)

    @classmethod
    def from_checkpoint(cls, data: bytes, device: str | torch.device = "auto") -> "AutoencoderTrainer":
        """Rebuild a trainer from checkpoint_bytes(). Only tensors and plain data are unpickled: a
        file that would run code, or one whose contents do not fit its config, is a ValueError."""
        return checkpoint.from_checkpoint(cls, data, device)

    # ---- reading ----
    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor) -> tuple[float, float | None, float, float | None, torch.Tensor]:
        """(recon, KL or None, squared error, sparsity penalty or None, codes) per image of clean
        images: no noise here, and the VAE decodes its mean code."""
        self.model.eval()
        kl = penalty = None
        if self.variational:
            mean, log_var = self.model.encode_distribution(x)
            z, kl = mean, float(kl_to_standard_normal(mean, log_var).mean())
        else:
            z = self.model.encode(x)
            if self.kind == "sparse":
                penalty = float(sparsity_penalty(z, self.config.model.sparsity))
        x_hat = self.model.decode(z)
        recon = float(recon_loss_per_image(x_hat, x, self.config.train.loss).mean())
        return recon, kl, float((x_hat - x).pow(2).sum(dim=1).mean()), penalty, z

    def noisy_test_images(self) -> np.ndarray:
        """(M, 64): one corrupted copy of the test images, drawn from a generator of its own
        (seed + 4), the same every time for the same noise settings; training never sees it."""
        m = self.config.model
        key = (m.noise, m.noise_level)
        if self._noisy_test is None or self._noisy_test[0] != key:
            gen = torch.Generator(device=self.device).manual_seed(self.config.train.seed + 4)
            self._noisy_test = (key, corrupt(self.x_test, m.noise, m.noise_level, gen))
        return self._noisy_test[1].cpu().numpy()

    def snapshot(self) -> AutoencoderSnapshot:
        train_recon, train_kl, train_se, train_pen, _ = self._evaluate(self.x_train)
        test_recon, test_kl, test_se, test_pen, test_z = self._evaluate(self.x_test)
        beta = self.config.model.beta
        extra = lambda kl, pen: beta * kl if kl is not None else (pen or 0.0)  # noqa: E731
        angles = active = denoise = noisy_input = None
        if self.kind == "linear":
            basis = self.model.decoder_basis().detach().cpu().numpy()
            angles = principal_angles_deg(basis, self.pca.components.T).tolist()
        if self.kind == "sparse":
            active = float((test_z.abs() > 1e-6).float().mean())
        if self.kind == "denoising":
            noisy = torch.from_numpy(self.noisy_test_images()).to(self.device)
            with torch.no_grad():
                x_hat = self.model.decode(self.model.encode(noisy))
            denoise = float((x_hat - self.x_test).pow(2).sum(dim=1).mean())
            noisy_input = float((noisy - self.x_test).pow(2).sum(dim=1).mean())
        norms = self._grad_norms.cpu().tolist()
        snap = AutoencoderSnapshot(
            step=self.step_count, epoch=self.epoch,
            train_loss=train_se / N_PIXELS, test_loss=test_se / N_PIXELS,
            train_objective=train_recon + extra(train_kl, train_pen),
            test_objective=test_recon + extra(test_kl, test_pen),
            train_recon=train_recon, test_recon=test_recon, train_kl=train_kl, test_kl=test_kl,
            train_sparsity_penalty=train_pen, test_sparsity_penalty=test_pen, test_active_codes=active,
            test_denoise_error=denoise, test_noisy_input_error=noisy_input,
            test_squared_error=test_se, pca_train_error=self._pca_errors[0], pca_test_error=self._pca_errors[1],
            principal_angles_deg=angles, encoder_grad_norm=norms[0], encoder_grad_norm_recon=norms[1],
            encoder_grad_norm_penalty=norms[2], code_grad_norm_recon=norms[3], decoder_grad_norm=norms[4],
            lr=self.config.train.lr, diverged=self.diverged, finished=self.finished)
        point = {k: v for k, v in asdict(snap).items() if k in self.HISTORY_KEYS}
        point["epoch_exact"] = self.epoch + self._position / self.n_train
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap

    def probe_accuracies(self) -> dict[str, float]:
        """The encoder as a feature extractor: test accuracy of the same softmax classifier
        (engine.autoencoders.models.softmax_probe_accuracy) fitted on the training images' codes,
        on their PCA coordinates with as many components, and on the 64 raw pixels."""
        if not self._probe_fixed:
            y, yt = self.y_train, self.y_test
            self._probe_fixed = {
                "pca": softmax_probe_accuracy(self.pca.transform(self.x_train_np), y,
                                              self.pca.transform(self.x_test_np), yt),
                "pixels": softmax_probe_accuracy(self.x_train_np, y, self.x_test_np, yt)}
        codes = softmax_probe_accuracy(self.encode(self.x_train_np), self.y_train,
                                       self.encode(self.x_test_np), self.y_test)
        return {"codes": codes, **self._probe_fixed}

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """(M, 64) images -> (M, d) codes (the VAE's mean code; no input noise)."""
        self.model.eval()
        return self.model.encode(torch.as_tensor(_images(x), device=self.device)).cpu().numpy()

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """(M, d) codes -> (M, 64) images (the linear model's can leave [0, 1])."""
        z = np.asarray(z, dtype=np.float32)
        d = self.config.model.latent_dim
        if z.ndim != 2 or z.shape[1] != d:
            raise ValueError(f"codes must be (M, {d}) for this model, got shape {z.shape}; reshape to (-1, {d})")
        self.model.eval()
        return self.model.decode(torch.from_numpy(z).to(self.device)).cpu().numpy()

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(x))

    def test_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """((M, d) codes of the test images, (M,) their digits)."""
        return self.encode(self.x_test_np), self.y_test

    def code_plane(self, codes: np.ndarray | None = None) -> dict:
        """The plane the page draws the codes in. Codes of 1 or 2 numbers are drawn as they are;
        longer ones are projected on the first two principal components of the test codes.
        Returns coords (M, 2 or 1) of the codes in the plane, and origin (d,) and basis (d, 2 or 1)
        with code = origin + basis @ coords (exact for d ≤ 2; for d > 2, the point of the plane)."""
        if codes is None:
            codes, _ = self.test_codes()
        codes = np.asarray(codes, dtype=np.float64)
        d = codes.shape[1]
        if d <= 2:
            return {"coords": codes, "origin": np.zeros(d), "basis": np.eye(d), "projected": False}
        origin = codes.mean(axis=0)
        _, _, vt = np.linalg.svd(codes - origin, full_matrices=False)
        basis = vt[:2].T                                            # (d, 2), orthonormal columns
        basis *= np.where(basis[np.abs(basis).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)  # a fixed sign
        return {"coords": (codes - origin) @ basis, "origin": origin, "basis": basis, "projected": True}

    def latent_grid(self, n: int = 10, codes: np.ndarray | None = None, plane: dict | None = None) -> dict:
        """Decode an n × n grid over the range the test codes cover in the code plane (see
        code_plane). Returns axes [(n,), (n,)] and images (n rows, n cols, 64), row 0 at the
        lowest value of the second coordinate; with a 1-number code, one row along it."""
        plane = plane or self.code_plane(codes)
        coords = plane["coords"]
        axes = []
        for k in range(coords.shape[1]):
            lo, hi = np.percentile(coords[:, k], [1, 99])
            pad = 0.1 * (hi - lo) + 1e-3
            axes.append(np.linspace(lo - pad, hi + pad, n))
        rows = axes[1] if len(axes) > 1 else np.zeros(1)
        gx, gy = np.meshgrid(axes[0], rows)                # (rows, n)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)[:, :coords.shape[1]]
        z = (plane["origin"] + grid @ plane["basis"].T).astype(np.float32)
        return {"axes": axes, "images": self.decode(z).reshape(len(rows), n, N_PIXELS)}

def _norm(tensors: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """One L2 norm over several tensors (0 for none), on `device`."""
    if not tensors:
        return torch.zeros((), device=device)
    return torch.sqrt(sum(t.detach().pow(2).sum() for t in tensors))


def _images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != N_PIXELS:
        raise ValueError(f"images must be (M, {N_PIXELS}) rows of pixels in [0, 1], got shape {x.shape}")
    return x
