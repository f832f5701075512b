"""Many variants of one plain MLP trained at once: seeds, learning rates and hidden widths
of the same depth, as batched matrix products (torch.bmm) over a leading variant axis.

A 2-4-2-1 network on a batch of 10 is all framework overhead; 64 of them in one bmm cost
little more than one. Each variant v keeps what a Trainer of its own config would have:
its initial weights (build_model with its seed), its batch order (a generator seeded
seed + 2, reshuffled each epoch), its learning rate. Narrower variants are padded to the
widest with units whose weights start at zero and whose gradients are masked to zero, so
they never change the variant's output. The data set is shared (one Dataset2D).

Layout: layer l of all variants is one (V, d_in + 1, d_out) block (last row: the bias)
inside one flat vector; hidden activations carry a column of ones. The optimiser updates
the flat vector with a per-element learning-rate vector, so per-variant learning rates
cost nothing extra. tests/test_batched_mlp.py checks every variant against a separate
Trainer (autograd + torch.optim) on its own config.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .config import ExperimentConfig
from .data import Dataset2D, make_dataset, make_features
from .fast_mlp import ADAM_BETAS, ADAM_EPS, _BACKWARD, _FORWARD, _aten, _slots, fast_path_unsupported, forward_into
from .models import build_model, n_outputs_for

MAX_VARIANTS = 256
BLOCK_STEPS = 32
# What may differ between the variants; everything else must be equal.
VARYING = {("train", "seed"), ("train", "lr"), ("model", "hidden")}


def check_variants(configs: list[ExperimentConfig]) -> None:
    """ValueError naming the field unless the configs differ only in seed, lr and widths."""
    if not configs:
        raise ValueError("variants: give at least one config")
    if len(configs) > MAX_VARIANTS:
        raise ValueError(f"variants: at most {MAX_VARIANTS} at once, got {len(configs)}")
    reason = fast_path_unsupported(configs[0])
    if reason:
        raise ValueError(f"variants: batched training needs a plain MLP; this config has {reason}")
    base = configs[0].to_dict()
    for i, c in enumerate(configs[1:], 1):
        d = c.to_dict()
        if d["task"] != base["task"]:
            raise ValueError(f"variants[{i}].task differs; only train.seed, train.lr and model.hidden may differ")
        for section in ("data", "model", "train"):
            for key, value in d[section].items():
                if (section, key) not in VARYING and value != base[section][key]:
                    raise ValueError(f"variants[{i}].{section}.{key} differs; only train.seed, train.lr and "
                                     f"model.hidden may differ")
        if len(c.model.hidden) != len(configs[0].model.hidden):
            raise ValueError(f"variants[{i}].model.hidden has {len(c.model.hidden)} layers; all variants need "
                             f"{len(configs[0].model.hidden)} (the same depth)")


class BatchedMLP:
    """V variants of one plain MLP on one data set. step(n) trains every variant n steps."""

    def __init__(self, configs: list[ExperimentConfig], dataset: Dataset2D | None = None,
                 device: str | torch.device = "cpu"):
        check_variants(configs)
        self.configs = list(configs)
        base = configs[0]
        self.device = torch.device(device)
        self.dataset = dataset if dataset is not None else make_dataset(base)
        self.V = V = len(configs)
        self.n_classes, t = base.n_classes, base.train
        self.loss = "mse" if self.n_classes == 0 else ("bce" if t.loss == "ce" and self.n_classes == 2 else t.loss)
        momentum = t.momentum or (0.9 if t.optimizer in ("momentum", "nesterov") else 0.0)
        self.optimizer = "momentum" if t.optimizer == "sgd" and momentum else t.optimizer
        self.momentum = momentum
        self.activations = base.model.activations()
        self.batch_size = t.batch_size
        n_in, n_out = len(base.data.features), n_outputs_for(base)
        self.widths = [n_in] + [max(c.model.hidden[i] for c in configs) for i in range(len(base.model.hidden))] + [n_out]
        self._shapes = [(a + 1, b) for a, b in zip(self.widths, self.widths[1:])]
        sizes = [V * a * b for a, b in self._shapes]
        self._offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self.n_params = self._offsets[-1]
        dev = self.device
        self.flat = torch.zeros(self.n_params, device=dev)
        self.layers = self._views(self.flat)                       # (V, d_in + 1, d_out)
        self._w_back = [w[:, :-1].transpose(1, 2) for w in self.layers[1:]]  # (V, d_out, d_in)
        mask = torch.zeros(self.n_params, device=dev)
        lr = torch.zeros(self.n_params, device=dev)
        for v, c in enumerate(configs):
            widths = [n_in] + list(c.model.hidden) + [n_out]
            model = build_model(c)
            for layer, m, lr_block, (_, lin), a, b in zip(self.layers, self._views(mask), self._views(lr),
                                                          model.named_linears(), widths, widths[1:]):
                with torch.no_grad():
                    layer[v, :a, :b] = lin.weight.T.to(dev)
                    layer[v, -1, :b] = lin.bias.to(dev)
                m[v, :a, :b] = 1
                m[v, -1, :b] = 1
                lr_block[v] = c.train.lr
        self.mask = mask if bool((mask == 0).any()) else None   # None: no padding, nothing to mask
        self.lr = lr
        self.buf, self.buf2 = torch.zeros_like(self.flat), torch.zeros_like(self.flat)
        self.has_buf, self.adam_step = False, 0
        # data, shared by the variants
        ds, feats = self.dataset, base.data.features
        self.n_train = len(ds.train_xy)
        self._xa = self._with_ones(torch.from_numpy(make_features(ds.train_xy, feats)))
        self._y_train = torch.from_numpy(ds.train_y).to(dev)
        self._targets = self._prepare_targets(self._y_train)
        self._xa_test = self._with_ones(torch.from_numpy(make_features(ds.test_xy, feats))) if len(ds.test_xy) else None
        self._y_test = torch.from_numpy(ds.test_y).to(dev) if len(ds.test_xy) else None
        self._generators = [torch.Generator().manual_seed(c.train.seed + 2) for c in configs]
        self._order = self._new_orders()
        self._position = 0
        self.step_count = self.epoch = 0
        self._blocks: dict[tuple[int, int], dict] = {}

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [flat[o:o + self.V * a * b].view(self.V, a, b) for o, (a, b) in zip(self._offsets, self._shapes)]

    def _with_ones(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.ones(len(x), 1)], dim=1).to(self.device)

    def _prepare_targets(self, y: torch.Tensor) -> torch.Tensor:
        if self.n_classes > 2:
            return F.one_hot(y, self.n_classes).to(torch.float32)
        t = y.to(torch.float32)[:, None]
        return 2 * t - 1 if self.loss == "hinge" else t

    def _new_orders(self) -> torch.Tensor:
        return torch.stack([torch.randperm(self.n_train, generator=g) for g in self._generators]).to(self.device)

    # ---- training ----
    def _block_buffers(self, k: int, b: int) -> dict:
        key = (k, b)
        if key not in self._blocks:
            V = self.V
            hidden = [_slots(k, (V, b, w + 1), self.device).fill_(1.0) for w in self.widths[1:-1]]
            grads = _slots(k, (self.n_params,), self.device).zero_()
            scores = _slots(k, (V, b, self.widths[-1]), self.device)
            inputs = _slots(k, (V, b, self.widths[0] + 1), self.device)
            per_layer = [grads[:, o:o + V * a * c].view(k, V, a, c).unbind(0)
                         for o, (a, c) in zip(self._offsets, self._shapes)]
            self._blocks[key] = {
                "hidden": hidden, "scores": scores, "inputs": inputs,
                "h": [h.unbind(0) for h in hidden], "hv": [h[..., :-1].unbind(0) for h in hidden],
                "hT": [h.transpose(2, 3).unbind(0) for h in hidden],
                "g": list(zip(*per_layer)), "g_rows": grads.unbind(0), "s": scores.unbind(0),
                "x": inputs.unbind(0), "xT": inputs.transpose(2, 3).unbind(0),
            }
        return self._blocks[key]

    def step(self, n: int) -> None:
        """Train every variant n steps (epochs end together: the variants share n_train and batch size)."""
        done = 0
        bs = min(self.batch_size, self.n_train)
        with torch.no_grad():
            while done < n:
                left = self.n_train - self._position
                k, b = (min(left // bs, n - done, BLOCK_STEPS), bs) if left >= bs else (1, left)
                idx = self._order[:, self._position:self._position + k * b]          # (V, k b)
                self._train_block(idx.view(self.V, k, b).transpose(0, 1), k, b)   # (k, V, b)
                self._position += k * b
                self.step_count += k
                done += k
                if self._position >= self.n_train:
                    self._order = self._new_orders()
                    self._position = 0
                    self.epoch += 1

    def _train_block(self, idx: torch.Tensor, k: int, b: int) -> None:
        bufs = self._block_buffers(k, b)
        bufs["inputs"].copy_(self._xa[idx])
        ts = self._targets[idx].unbind(0)                                    # (V, b, n_out) each
        scale = (2.0 if self.loss == "mse" else 1.0) / b
        forward = [forward_into(a, self.V * b * w) for a, w in zip(self.activations, self.widths[1:-1])]
        backward = [_BACKWARD[a] for a in self.activations]
        keep_z = any(a in ("leaky_relu", "elu", "gelu", "softplus") for a in self.activations)
        layers, w_back, n_hidden, bmm = self.layers, self._w_back, len(self.activations), torch.bmm
        h_all, hv_all, ht_all, g_all, rows = bufs["h"], bufs["hv"], bufs["hT"], bufs["g"], bufs["g_rows"]
        for s, (x, xt, t) in enumerate(zip(bufs["x"], bufs["xT"], ts)):
            h, zs = x, []
            for i in range(n_hidden):
                z = bmm(h, layers[i])
                if keep_z:
                    zs.append(z)
                forward[i](z, hv_all[i][s])
                h = h_all[i][s]
            out = bmm(h, layers[-1], out=bufs["s"][s])
            g = self._loss_grad(out, t).mul_(scale)
            gs = g_all[s]
            for i in range(n_hidden, 0, -1):
                bmm(ht_all[i - 1][s], g, out=gs[i])
                g = backward[i - 1](bmm(g, w_back[i - 1]), hv_all[i - 1][s], zs[i - 1] if keep_z else None)
            bmm(xt, g, out=gs[0])
            if self.mask is not None:
                rows[s].mul_(self.mask)
            self._update(rows[s])

    def _loss_grad(self, out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """d loss / d scores without the mean's 1/B (V, B, n_out)."""
        if self.loss == "bce":
            return torch.sigmoid(out).sub_(t)
        if self.loss == "mse" and self.n_classes == 2:
            p = torch.sigmoid(out)
            return _aten.sigmoid_backward.default(p - t, p)
        if self.loss == "mse":
            return out - t
        if self.loss == "hinge":
            return (1 - t * out >= 0) * t.neg()
        return torch.softmax(out, 2).sub_(t)

    def _update(self, grad: torch.Tensor) -> None:
        opt, p = self.optimizer, self.flat
        if opt == "sgd":
            p.addcmul_(grad, self.lr, value=-1)
        elif opt in ("momentum", "nesterov"):
            if self.has_buf:
                self.buf.mul_(self.momentum).add_(grad)
            else:
                self.buf.copy_(grad)
                self.has_buf = True
            p.addcmul_(grad.add(self.buf, alpha=self.momentum) if opt == "nesterov" else self.buf, self.lr, value=-1)
        else:  # adam, as torch.optim.Adam's single-tensor step
            beta1, beta2 = ADAM_BETAS
            self.adam_step += 1
            self.buf.lerp_(grad, 1 - beta1)
            self.buf2.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1 ** self.adam_step
            denom = (self.buf2.sqrt() / (1 - beta2 ** self.adam_step) ** 0.5).add_(ADAM_EPS)
            p.addcmul_(self.buf / denom, self.lr, value=-1 / bias_correction1)

    # ---- reading ----
    @torch.no_grad()
    def scores(self, xa: torch.Tensor) -> torch.Tensor:
        """(V, N, n_out) raw scores of every variant on inputs with the ones column (N, d + 1)."""
        h = xa.expand(self.V, -1, -1)
        for i, name in enumerate(self.activations):
            z = torch.bmm(h, self.layers[i])
            act = torch.empty(z.shape[0], z.shape[1], z.shape[2] + 1, device=self.device)
            act[..., -1] = 1
            _FORWARD[name](z, act[..., :-1])
            h = act
        return torch.bmm(h, self.layers[-1])

    @torch.no_grad()
    def evaluate(self, test: bool = False) -> np.ndarray:
        """(V,) loss of every variant over the whole training (or test) set, as data_loss."""
        xa, y = (self._xa_test, self._y_test) if test else (self._xa, self._y_train)
        if xa is None:
            return np.full(self.V, np.nan)
        s, t = self.scores(xa), self._prepare_targets(y)[None]
        if self.n_classes == 0 or self.loss == "mse":
            per = ((s - t) if self.n_classes == 0 else (torch.sigmoid(s) - t)) ** 2
        elif self.loss == "bce":
            per = F.binary_cross_entropy_with_logits(s, t.expand_as(s), reduction="none")
        elif self.loss == "hinge":
            per = torch.clamp(1 - t * s, min=0)
        else:
            per = -(torch.log_softmax(s, dim=2) * t).sum(2)
        return per.flatten(1).mean(1).cpu().numpy()

    def weights(self, v: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight (out, in), bias (out,)) of variant v's layers, padding removed."""
        c = self.configs[v]
        widths = [self.widths[0]] + list(c.model.hidden) + [self.widths[-1]]
        return [(layer[v, :a, :b].T.clone(), layer[v, -1, :b].clone())
                for layer, a, b in zip(self.layers, widths, widths[1:])]


@dataclass
class SpreadResult:
    """Loss curves of many variants of one experiment, for the spread view."""
    labels: list[str]               # one per variant: "seed 3", "lr 0.1"
    varied: str                     # "seed" or "lr"
    values: list[float]             # the varied value of each variant
    steps: list[int]                # steps at which the losses were read, 0 first
    epochs: list[float]             # the same points in epochs
    train_loss: np.ndarray          # (variants, points); NaN once a variant has diverged
    test_loss: np.ndarray           # (variants, points); NaN without a test set
    seconds: float = 0.0            # wall time of the training
    notes: list[str] = field(default_factory=list)

    def final_train_loss(self) -> np.ndarray:
        return self.train_loss[:, -1]


def spread_configs(config: ExperimentConfig, seeds: list[int] | None = None,
                   lrs: list[float] | None = None) -> tuple[list[ExperimentConfig], str, list[float]]:
    """Variants of `config`: one per seed, or one per learning rate (the config's seed)."""
    if (seeds is None) == (lrs is None):
        raise ValueError("give either seeds or learning rates to vary")
    if seeds is not None:
        return [config.replace(train={"seed": int(s)}) for s in seeds], "seed", [float(s) for s in seeds]
    return [config.replace(train={"lr": float(lr)}) for lr in lrs], "lr", [float(lr) for lr in lrs]


def train_spread(config: ExperimentConfig, seeds: list[int] | None = None, lrs: list[float] | None = None,
                 epochs: int = 20, points: int = 40, device: str | torch.device = "cpu") -> SpreadResult:
    """Train every variant `epochs` epochs on the data set of `config` (its own seed), all at
    once, reading every variant's train and test loss at `points` evenly spaced steps."""
    import time

    configs, varied, values = spread_configs(config, seeds, lrs)
    batched = BatchedMLP(configs, make_dataset(config), device)
    steps_per_epoch = -(-batched.n_train // min(config.train.batch_size, batched.n_train))
    total = epochs * steps_per_epoch
    marks = sorted({round(total * i / points) for i in range(points + 1)})
    start = time.perf_counter()
    train, test, done = [batched.evaluate()], [batched.evaluate(test=True)], 0
    for mark in marks[1:]:
        batched.step(mark - done)
        done = mark
        train.append(batched.evaluate())
        test.append(batched.evaluate(test=True))
    seconds = time.perf_counter() - start
    tr, te = np.stack(train, axis=1), np.stack(test, axis=1)
    # A variant that diverged stays NaN from its first non-finite point on.
    for curve in (tr, te):
        bad = ~np.isfinite(curve)
        curve[np.cumsum(bad, axis=1) > 0] = np.nan
    fmt = (lambda v: f"seed {int(v)}") if varied == "seed" else (lambda v: f"lr {v:g}")
    return SpreadResult(labels=[fmt(v) for v in values], varied=varied, values=values, steps=marks,
                        epochs=[m / steps_per_epoch for m in marks],
                        train_loss=tr, test_loss=te, seconds=seconds)
