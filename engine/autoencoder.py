"""Autoencoders on the 8×8 digits: a linear autoencoder (checked against PCA), a nonlinear
one, and a VAE whose reparameterisation trick can be switched off to see what it is for.

AutoencoderConfig is one validated dataclass (JSON round trip, `task: "autoencoder"`);
AutoencoderTrainer(config, device).step(n) returns an AutoencoderSnapshot of plain data.
Losses are per image — summed over the 64 pixels, averaged over the images of a batch —
so the VAE's loss is recon + β·KL with both terms in the same units (nats per image for BCE).
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from .autoencoder_models import N_PIXELS, build_autoencoder, kl_to_standard_normal, recon_loss_per_image, sample_code
from .config import ConfigError, _check, _check_range
from .device import pick_device
from .digits import load_digits_split
from .registries import ACTIVATIONS, OPTIMIZERS, make_optimizer

MODELS = ("linear", "mlp", "vae")
RECON_LOSSES = ("squared", "bce")
MAX_LATENT = 16
# Settings a running trainer takes without losing progress; every other field rebuilds the model.
HOT_FIELDS = ("lr", "beta", "reparameterize", "batch_size", "max_steps")


@dataclass
class AutoencoderConfig:
    task: str = "autoencoder"     # always "autoencoder" (the CLI dispatches on it)
    model: str = "mlp"            # linear (no activation: compared with PCA), mlp, vae
    latent_dim: int = 2           # 1..16 numbers per code; 2 draws the latent plane
    hidden: int = 128             # 4..512 units in each hidden layer of mlp / vae (linear has none)
    depth: int = 1                # 1..3 hidden layers in the encoder; the decoder mirrors it
    activation: str = "relu"      # hidden activation of mlp / vae: relu, tanh, elu, gelu, ...
    recon_loss: str = "squared"   # squared: Σ (x̂ − x)² per image; bce: pixel cross-entropy per image (mlp / vae)
    beta: float = 1.0             # 0..20 weight of the KL term of the VAE: loss = recon + β·KL
    reparameterize: bool = True   # VAE: z = μ + σ·ε (gradient reaches the encoder) or a plain sample (it does not)
    optimizer: str = "adam"       # sgd, momentum, nesterov, adam, rmsprop, adagrad
    lr: float = 0.003             # 1e-6..10 learning rate; changes on a running trainer
    batch_size: int = 64          # 1..4096 images per step (capped at the training set)
    test_fraction: float = 0.2    # 0.05..0.5 of the 1,797 digits held out (stratified)
    seed: int = 0                 # 0..2**31-1: the split, the initial weights, the batch order, the VAE's noise
    max_steps: int = 0            # 0..10,000,000: stop by itself at this step; 0 = no limit

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _check(self.task == "autoencoder", "task", f"must be 'autoencoder' for this config, got {self.task!r}")
        _check(self.model in MODELS, "model", f"unknown model {self.model!r}; choose from {', '.join(MODELS)}")
        _check_range(self.latent_dim, "latent_dim", 1, MAX_LATENT, "code size", integer=True)
        _check_range(self.hidden, "hidden", 4, 512, "hidden layer width", integer=True)
        _check_range(self.depth, "depth", 1, 3, "number of hidden layers", integer=True)
        _check(self.activation in ACTIVATIONS, "activation",
               f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        _check(self.recon_loss in RECON_LOSSES, "recon_loss",
               f"unknown reconstruction loss {self.recon_loss!r}; choose from {', '.join(RECON_LOSSES)}")
        _check(not (self.model == "linear" and self.recon_loss == "bce"), "recon_loss",
               "the linear autoencoder's output is unbounded, so it trains on 'squared' error (the loss PCA "
               "minimises); pick 'squared' or the mlp / vae model")
        _check_range(self.beta, "beta", 0.0, 20.0, "β (KL weight)")
        _check(isinstance(self.reparameterize, bool), "reparameterize",
               f"must be true or false, got {self.reparameterize!r}")
        _check(self.optimizer in OPTIMIZERS, "optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        _check_range(self.lr, "lr", 1e-6, 10.0, "learning rate")
        _check_range(self.batch_size, "batch_size", 1, 4096, "batch size", integer=True)
        _check_range(self.test_fraction, "test_fraction", 0.05, 0.5, "test fraction")
        _check_range(self.seed, "seed", 0, 2**31 - 1, "seed", integer=True)
        _check_range(self.max_steps, "max_steps", 0, 10_000_000, "step limit", integer=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        _check(isinstance(d, dict), "config", "must be a JSON object")
        names = {f.name for f in fields(cls)}
        for k in d:
            _check(k in names, k, f"unknown key; autoencoder keys are {', '.join(sorted(names))}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "AutoencoderConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("config", f"not valid JSON ({e.msg} at line {e.lineno})") from None
        return cls.from_dict(d)

    def replace(self, **changes) -> "AutoencoderConfig":
        return AutoencoderConfig.from_dict({**self.to_dict(), **changes})


def structural_changes(old: AutoencoderConfig, new: AutoencoderConfig) -> list[str]:
    """Fields that differ and need a new model (everything but HOT_FIELDS)."""
    a, b = old.to_dict(), new.to_dict()
    return [k for k in a if a[k] != b[k] and k not in HOT_FIELDS]


@dataclass
class AutoencoderSnapshot:
    step: int                         # optimisation steps so far
    epoch: int                        # completed passes over the training images
    train_loss: float                 # recon + β·KL over the training set (per image)
    test_loss: float
    train_recon: float                # reconstruction loss per image; the VAE decodes its mean code here
    test_recon: float
    train_kl: float | None            # VAE: KL(q(z|x) ‖ N(0, I)) per image; None for the other models
    test_kl: float | None
    test_squared_error: float         # Σ (x̂ − x)² per test image, whatever the loss: comparable with PCA
    pca_train_error: float            # the same for PCA with latent_dim components (fit on the training set)
    pca_test_error: float
    principal_angles_deg: list[float] | None  # linear model: angles between its decoder's span and PCA's, ascending
    encoder_grad_norm: float          # ‖∂loss/∂(encoder weights)‖ at the last step
    encoder_grad_norm_recon: float    # the part that came from the reconstruction term
    encoder_grad_norm_kl: float       # the part that came from β·KL (0 without a VAE)
    code_grad_norm_recon: float       # ‖∂recon/∂(μ, log σ²)‖ (VAE) or ‖∂recon/∂z‖: what reaches the code
    decoder_grad_norm: float
    lr: float
    diverged: bool = False            # the loss became NaN/inf; the last finite weights were kept
    finished: bool = False            # max_steps reached

    def to_json_dict(self) -> dict:
        return asdict(self)


def principal_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of a (n, k) and b (n, k)."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))))


class PCA:
    """Principal component analysis by SVD of the centred training images (float64)."""

    def __init__(self, x: np.ndarray, k: int):
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)                                     # (64,)
        _, self.singular_values, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[:k]                                        # (k, 64), orthonormal rows

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        c = np.asarray(x, dtype=np.float64) - self.mean
        return c @ self.components.T @ self.components + self.mean

    def squared_error(self, x: np.ndarray) -> float:
        """Σ (x̂ − x)² per image, averaged over the images."""
        return float(((self.reconstruct(x) - x) ** 2).sum(axis=1).mean())


class AutoencoderTrainer:
    def __init__(self, config: AutoencoderConfig, device: str | torch.device = "auto"):
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        x_train, self.y_train, x_test, self.y_test = load_digits_split(config.seed, config.test_fraction)
        self.x_train_np, self.x_test_np = x_train, x_test
        self.x_train = torch.from_numpy(x_train).to(self.device)   # (N, 64)
        self.x_test = torch.from_numpy(x_test).to(self.device)     # (M, 64)
        self.pca = PCA(x_train, config.latent_dim)
        self._pca_errors = (self.pca.squared_error(x_train), self.pca.squared_error(x_test))
        self.model = build_autoencoder(config.model, config.latent_dim, config.hidden, config.depth,
                                       config.activation, config.seed).to(self.device)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr, 0.0)
        # Generators owned by the trainer: nothing else drawing random numbers changes this run.
        self._batch_gen = torch.Generator().manual_seed(config.seed + 2)
        self._noise_gen = torch.Generator(device=self.device).manual_seed(config.seed + 3)
        self._order = torch.randperm(self.n_train, generator=self._batch_gen)
        self._position = 0
        self.step_count = 0
        self.epoch = 0
        self.diverged = False
        self._grad_norms = torch.zeros(5)  # encoder, encoder-from-recon, encoder-from-KL, code-from-recon, decoder
        self.history: list[dict] = []
        self.seconds_training = 0.0

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def finished(self) -> bool:
        return 0 < self.config.max_steps <= self.step_count

    @property
    def variational(self) -> bool:
        return self.model.variational

    def _next_batch(self) -> torch.Tensor:
        bs = min(self.config.batch_size, self.n_train)
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
        cfg, model = self.config, self.model
        x = self.x_train[self._next_batch()]                        # (B, 64)
        if model.variational:
            mean, log_var = model.encode_distribution(x)            # (B, d), (B, d)
            mean.retain_grad()
            log_var.retain_grad()
            noise = torch.randn(mean.shape, generator=self._noise_gen, device=self.device)
            z = sample_code(mean, log_var, noise, cfg.reparameterize)
            kl = kl_to_standard_normal(mean, log_var).mean()
            code = (mean, log_var)
        else:
            z = model.encode(x)
            z.retain_grad()
            kl, code = None, (z,)
        recon = recon_loss_per_image(model.decode(z), x, cfg.recon_loss).mean()
        loss = recon + cfg.beta * kl if kl is not None else recon
        if not torch.isfinite(loss):
            return False
        self.optimizer.zero_grad(set_to_none=True)
        encoder = model.encoder_parameters()
        # The two terms are backpropagated one after the other so that the encoder's gradient
        # can be split into what the reconstruction sends and what the KL term sends.
        recon.backward(retain_graph=kl is not None)
        from_recon = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in encoder]
        code_grads = [c.grad for c in code if c.grad is not None]
        code_norm = _norm(code_grads, self.device)
        if kl is not None and cfg.beta > 0:
            (cfg.beta * kl).backward()
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
        batch size, step limit) apply at once and keep the progress; returns the structural
        fields that differ, which need a new trainer (nothing is applied then)."""
        changed = structural_changes(self.config, new_config)
        if changed:
            return changed
        if new_config.lr != self.config.lr:
            for group in self.optimizer.param_groups:
                group["lr"] = new_config.lr
            self.diverged = False  # a new learning rate is the usual cure; let the user try it
        self.config = new_config
        return []

    # ---- reading ----
    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor) -> tuple[float, float | None, float]:
        """(recon, KL or None, squared error) per image; the VAE decodes its mean code."""
        self.model.eval()
        if self.variational:
            mean, log_var = self.model.encode_distribution(x)
            x_hat = self.model.decode(mean)
            kl = float(kl_to_standard_normal(mean, log_var).mean())
        else:
            x_hat, kl = self.model.decode(self.model.encode(x)), None
        recon = float(recon_loss_per_image(x_hat, x, self.config.recon_loss).mean())
        return recon, kl, float((x_hat - x).pow(2).sum(dim=1).mean())

    def snapshot(self) -> AutoencoderSnapshot:
        beta = self.config.beta
        train_recon, train_kl, _ = self._evaluate(self.x_train)
        test_recon, test_kl, test_se = self._evaluate(self.x_test)
        angles = None
        if self.config.model == "linear":
            basis = self.model.decoder_basis().detach().cpu().numpy()
            angles = principal_angles_deg(basis, self.pca.components.T).tolist()
        norms = self._grad_norms.cpu().tolist()
        snap = AutoencoderSnapshot(
            step=self.step_count, epoch=self.epoch,
            train_loss=train_recon + beta * (train_kl or 0.0), test_loss=test_recon + beta * (test_kl or 0.0),
            train_recon=train_recon, test_recon=test_recon, train_kl=train_kl, test_kl=test_kl,
            test_squared_error=test_se, pca_train_error=self._pca_errors[0], pca_test_error=self._pca_errors[1],
            principal_angles_deg=angles, encoder_grad_norm=norms[0], encoder_grad_norm_recon=norms[1],
            encoder_grad_norm_kl=norms[2], code_grad_norm_recon=norms[3], decoder_grad_norm=norms[4],
            lr=self.config.lr, diverged=self.diverged, finished=self.finished)
        point = {k: v for k, v in asdict(snap).items() if k not in ("diverged", "finished", "lr")}
        point["epoch_exact"] = self.epoch + self._position / self.n_train
        if not self.history or self.history[-1]["step"] != snap.step:
            self.history.append(point)
        return snap

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """(M, 64) images -> (M, d) codes (the VAE's mean code)."""
        self.model.eval()
        return self.model.encode(torch.as_tensor(_images(x), device=self.device)).cpu().numpy()

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """(M, d) codes -> (M, 64) images (the linear model's can leave [0, 1])."""
        z = np.asarray(z, dtype=np.float32)
        d = self.config.latent_dim
        if z.ndim != 2 or z.shape[1] != d:
            raise ValueError(f"codes must be (M, {d}) for this model, got shape {z.shape}; reshape to (-1, {d})")
        self.model.eval()
        return self.model.decode(torch.from_numpy(z).to(self.device)).cpu().numpy()

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(x))

    def test_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """((M, d) codes of the test images, (M,) their digits)."""
        return self.encode(self.x_test_np), self.y_test

    def latent_grid(self, n: int = 10, codes: np.ndarray | None = None, dims: tuple[int, int] = (0, 1)) -> dict:
        """Decode an n × n grid over the range the test codes cover in two code dimensions
        (the others held at the codes' mean). Returns axes [(n,), (n,)] and images
        (n rows, n cols, 64), row 0 at the lowest value of the second dimension; with a
        1-number code, one row along it."""
        if codes is None:
            codes, _ = self.test_codes()
        d = self.config.latent_dim
        dims = dims[:1] if d == 1 else dims
        axes = []
        for k in dims:
            lo, hi = np.percentile(codes[:, k], [1, 99])
            pad = 0.1 * (hi - lo) + 1e-3
            axes.append(np.linspace(lo - pad, hi + pad, n))
        rows = axes[1] if len(axes) > 1 else np.zeros(1)
        z = np.tile(codes.mean(axis=0), (len(rows) * n, 1)).astype(np.float32)
        gx, gy = np.meshgrid(axes[0], rows)                # (rows, n)
        z[:, dims[0]] = gx.ravel()
        if len(dims) > 1:
            z[:, dims[1]] = gy.ravel()
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
