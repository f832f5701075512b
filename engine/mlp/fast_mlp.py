"""A fused training path for small plain MLPs: hand-written forward and backward passes
in plain torch tensor ops, no autograd, no nn.Module, no torch.optim.

Why: a 2-4-2-1 network on a batch of 10 does almost no arithmetic; one step through
nn.Sequential + autograd + torch.optim costs ~400 µs of framework overhead on a small CPU.
Here one SGD step is about 16 tensor ops (the 2-4-2-1 case), with nothing allocated but
the few small results:

- each layer's weight and bias live in one (d_in + 1, d_out) block whose last row is
  the bias, and every block is a view into one flat parameter vector; the inputs and
  hidden activations carry a column of ones, so a layer is one `mm` and its weight and
  bias gradient are one `mm` too, written straight into a flat gradient vector;
- the optimiser updates the flat vector in one or a few in-place ops (SGD, momentum,
  Nesterov, Adam, with torch.optim's arithmetic, in the same order);
- steps run in blocks (at most BLOCK_STEPS; on across an epoch's end when every batch
  is full): the batches of a block are gathered in one indexing op, and every step
  writes its scores, hidden activations and gradients into its own slot of block-sized
  buffers. The probes (per-step gradient norms and activation statistics) and the loss
  check are then computed once per block over all its steps, instead of once per step.

The results equal nn.Sequential + autograd + torch.optim within float rounding
(tests/test_fast_mlp.py): the same ops in nearly the same order, except that the
2/B or 1/B of a mean loss is folded into the step size under plain SGD. The activation
kernels and the aligned per-step buffers are in engine/mlp/fast_kernels.py, the probes'
reductions in engine/mlp/fast_probes.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import ExperimentConfig
from .fast_kernels import (ADAM_BETAS, ADAM_EPS, FAST_ACTIVATIONS, STRIDED_OUT_MAX, _ACTIVATION, _ALIGN, _BACKWARD,
                           _FORWARD, _aten, _slots, forward_into)
from .fast_probes import BlockProbes

BLOCK_STEPS = 64  # steps per block: buffers stay small, a deadline is checked often enough
BLOCK_FLOATS = 1 << 22  # at most this many floats (16 MB) of per-step slots in one block

FAST_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def fast_path_unsupported(config: ExperimentConfig) -> str | None:
    """Why `config` cannot train on the fast path, or None when it can."""
    m, t = config.model, config.train
    if m.norm != "none":
        return f"{m.norm} norm"
    if m.dropout:
        return "dropout"
    if m.residual and any(a == b for a, b in zip([len(config.data.features)] + m.hidden, m.hidden)):
        return "skip connections"
    bad = [a for a in m.activations() if a not in FAST_ACTIVATIONS]
    if bad:
        return f"activation {bad[0]}"
    if t.optimizer not in FAST_OPTIMIZERS:
        return f"optimizer {t.optimizer}"
    if t.l1 or t.l2:
        return "weight penalties"
    if t.clip_grad_norm:
        return "gradient clipping"
    if config.n_classes > 2 and t.loss != "ce":
        return f"loss {t.loss} with {config.n_classes} classes"
    return None


@dataclass
class BlockResult:
    """What one block of steps leaves behind (tensors on the training device)."""
    losses: torch.Tensor                 # (k,) the batch loss of each step, before its update
    grad_norms: torch.Tensor | None      # (k, layers) per-step weight-gradient norms (record=True)
    activation_stats: torch.Tensor | None  # (k, hidden layers, 3): mean, std, saturated fraction (record=True)


class FastMLP(BlockProbes):
    """One plain MLP, trained by hand-written steps.

    widths: [n_inputs, hidden..., n_outputs]; activations: one name per hidden layer;
    n_classes: 0 regression, 2 binary (one score), k > 2 (k logits, loss "ce" only);
    loss: as in engine.core.losses; optimizer: sgd, momentum, nesterov or adam.
    """

    def __init__(self, widths: list[int], activations: list[str], n_classes: int, loss: str, optimizer: str,
                 lr: float, momentum: float = 0.0, device: str | torch.device = "cpu"):
        if len(activations) != len(widths) - 2:
            raise ValueError(f"give one activation per hidden layer ({len(widths) - 2}), got {len(activations)}")
        bad = [a for a in activations if a not in FAST_ACTIVATIONS]
        if bad:
            raise ValueError(f"activation {bad[0]!r} has no fast path; choose from {', '.join(FAST_ACTIVATIONS)}")
        if optimizer not in FAST_OPTIMIZERS:
            raise ValueError(f"optimizer {optimizer!r} has no fast path; choose from {', '.join(FAST_OPTIMIZERS)}")
        if n_classes > 2 and loss != "ce":
            raise ValueError(f"with {n_classes} classes the fast path trains loss 'ce' only, got {loss!r}")
        self.widths, self.activations = list(widths), list(activations)
        self.n_classes, self.loss, self.optimizer = n_classes, ("bce" if loss == "ce" and n_classes == 2 else loss), optimizer
        if n_classes == 0:
            self.loss = "mse"
        self.lr, self.momentum = lr, momentum
        self.device = torch.device(device)
        self._shapes = [(a + 1, b) for a, b in zip(widths, widths[1:])]
        sizes = [a * b for a, b in self._shapes]
        self._offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self.n_params = self._offsets[-1]
        self.flat = torch.zeros(self.n_params, device=self.device)
        self.layers = self._views(self.flat)                  # (d_in + 1, d_out), last row the bias
        self._w_back = [w[:-1].T for w in self.layers[1:]]  # (d_out, d_in) weights of layers 2.., for d/dh
        self.buf = torch.zeros_like(self.flat)       # momentum buffer, or Adam's first moment
        self.buf2 = torch.zeros_like(self.flat)      # Adam's second moment
        self.has_buf = False
        self.adam_step = 0
        self._blocks: dict[tuple[int, int], dict] = {}
        self.last_grad = torch.zeros_like(self.flat)   # the gradient of the last step, flat
        self._last_grad_scale = 1.0                     # last_grad * this = the true gradient
        self._xa = self._targets = None

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [flat[o:o + a * b].view(a, b) for o, (a, b) in zip(self._offsets, self._shapes)]

    @classmethod
    def from_config(cls, config: ExperimentConfig, device: str | torch.device = "cpu") -> "FastMLP":
        from .models import n_outputs_for
        reason = fast_path_unsupported(config)
        if reason:
            raise ValueError(f"this config has no fast path ({reason})")
        t = config.train
        momentum = t.momentum or (0.9 if t.optimizer in ("momentum", "nesterov") else 0.0)
        optimizer = "momentum" if t.optimizer == "sgd" and momentum else t.optimizer
        widths = [len(config.data.features)] + list(config.model.hidden) + [n_outputs_for(config)]
        return cls(widths, config.model.activations(), config.n_classes, t.loss, optimizer, t.lr, momentum, device)

    # ---- weights and optimiser state in and out ----
    @torch.no_grad()
    def set_weights(self, pairs) -> None:
        """pairs: (weight (out, in), bias (out,)) per layer, as nn.Linear holds them."""
        for block, (w, b) in zip(self.layers, pairs):
            block[:-1].copy_(w.T)
            block[-1].copy_(b)

    def weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight (out, in), bias (out,)) per layer: copies."""
        return [(block[:-1].T.clone(), block[-1].clone()) for block in self.layers]

    def _state_pairs(self, flat: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(v[:-1].T, v[-1]) for v in self._views(flat)]

    @torch.no_grad()
    def pull(self, linears: list[torch.nn.Linear], optimizer: torch.optim.Optimizer) -> None:
        """Take the weights of `linears` and the state and settings of their `optimizer`
        (a torch.optim.SGD or Adam over exactly these parameters)."""
        self.set_weights([(lin.weight, lin.bias) for lin in linears])
        group = optimizer.param_groups[0]
        self.lr = group["lr"]
        if self.optimizer in ("sgd", "momentum", "nesterov"):
            self.momentum = group["momentum"]
            if self.optimizer != "nesterov":  # a hot momentum change turns plain SGD into momentum and back
                self.optimizer = "momentum" if self.momentum else "sgd"
        params = [p for lin in linears for p in (lin.weight, lin.bias)]
        states = [optimizer.state.get(p, {}) for p in params]
        if self.optimizer == "adam":
            self.has_buf = all("exp_avg" in s for s in states)
            self.adam_step = int(float(states[0]["step"])) if self.has_buf else 0
            keys = [(self.buf, "exp_avg"), (self.buf2, "exp_avg_sq")]
        else:
            self.has_buf = all(s.get("momentum_buffer") is not None for s in states)
            keys = [(self.buf, "momentum_buffer")]
        if self.has_buf:
            for flat, key in keys:
                for (w, b), (sw, sb) in zip(self._state_pairs(flat), zip(states[0::2], states[1::2])):
                    w.copy_(sw[key])
                    b.copy_(sb[key])

    @torch.no_grad()
    def push(self, linears: list[torch.nn.Linear], optimizer: torch.optim.Optimizer) -> None:
        """Write the weights, the last step's gradients (.grad) and the optimiser state back,
        as autograd and torch.optim would have left them."""
        grad = self.last_grad * self._last_grad_scale
        for lin, (w, b), (gw, gb) in zip(linears, self._state_pairs(self.flat), self._state_pairs(grad)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
            lin.weight.grad, lin.bias.grad = gw.contiguous(), gb.clone()
        if not self.has_buf or self.optimizer == "sgd":
            return
        pairs = list(zip(self._state_pairs(self.buf), self._state_pairs(self.buf2)))
        for lin, ((w1, b1), (w2, b2)) in zip(linears, pairs):
            for p, m1, m2 in ((lin.weight, w1, w2), (lin.bias, b1, b2)):
                if self.optimizer == "adam":
                    optimizer.state[p] = {"step": torch.tensor(float(self.adam_step)),
                                          "exp_avg": m1.contiguous().clone(), "exp_avg_sq": m2.contiguous().clone()}
                else:
                    optimizer.state[p] = {"momentum_buffer": m1.contiguous().clone()}

    # ---- data ----
    def bind(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The training set: x (N, n_inputs) float, y (N,) class indices or targets."""
        n = len(x)
        self._xa = torch.cat([x.to(self.device, torch.float32), torch.ones(n, 1, device=self.device)], dim=1)
        y = y.to(self.device)
        if self.n_classes > 2:
            self._targets = F.one_hot(y, self.n_classes).to(torch.float32)   # (N, k)
        else:
            self._targets = y.to(torch.float32)[:, None]                        # (N, 1)
            if self.loss == "hinge":
                self._targets = 2 * self._targets - 1                           # -1 / +1

    # ---- one block of steps ----
    def block_steps(self, b: int) -> int:
        """The most steps of batch b one block may hold: BLOCK_STEPS, fewer for a wide
        network or a large batch (its per-step slots stay under BLOCK_FLOATS)."""
        per_step = 3 * b * self._hidden_starts()[-1] + b * (self.widths[0] + self.widths[-1] + 2) + self.n_params
        return max(1, min(BLOCK_STEPS, BLOCK_FLOATS // per_step))

    def _block_buffers(self, k: int, b: int, flags: bool) -> dict:
        """Per-step slots for k steps of batch b, with their per-step views made once.
        Every slot starts on a 64-byte boundary: the BLAS kernels' rounding can depend on
        the alignment of their operands, and step(10) must equal step(5) + step(5) bit for bit.
        flags: room for the saturation flags the activation statistics need."""
        key = (k, b, flags)
        if key not in self._blocks:
            # All hidden layers of a step side by side in one (b, sum(w + 1)) slot, and with
            # `flags` next to it two slots for the saturation flags: the probes then reduce
            # every layer of every step with a few products (_activation_stats). Zeros: the
            # padding that keeps each step 64-byte aligned must not add NaN to those products.
            starts = self._hidden_starts()
            n = b * starts[-1]
            probe_rows = torch.zeros(k, 3 if flags else 1, -(-n // _ALIGN) * _ALIGN, device=self.device)
            hidden_all = probe_rows[:, 0, :n].view(k, b, starts[-1]).fill_(1.0)  # ones: the bias input
            hidden = [hidden_all[:, :, a:z] for a, z in zip(starts, starts[1:])]
            grads = _slots(k, (self.n_params,), self.device).zero_()
            scores = _slots(k, (b, self.widths[-1]), self.device)
            inputs = _slots(k, (b, self.widths[0] + 1), self.device)
            per_layer = [grads[:, o:o + a * c].view(k, a, c).unbind(0) for o, (a, c) in zip(self._offsets, self._shapes)]
            self._blocks[key] = {
                "hidden_all": hidden_all, "probe_rows": probe_rows,
                "high": probe_rows[:, 1, :n].view(k, b, -1) if flags else None,
                "low": probe_rows[:, 2, :n].view(k, b, -1) if flags else None,
                "layer_means": self._layer_means(b) if flags else None,
                "grads": grads, "scores": scores, "inputs": inputs,
                "h": [h.unbind(0) for h in hidden],
                "hv": [h[:, :, :-1].unbind(0) for h in hidden],
                "hT": [h.transpose(1, 2).unbind(0) for h in hidden],
                "g": list(zip(*per_layer)), "g_rows": grads.unbind(0), "s": scores.unbind(0),
                "x": inputs.unbind(0), "xT": inputs.transpose(1, 2).unbind(0),
            }
        return self._blocks[key]

    def train_block(self, idx: torch.Tensor, k: int, b: int, record: bool = False,
                    activations: bool | None = None) -> BlockResult:
        """k optimisation steps on the batches idx[0:b], idx[b:2b], ... (indices into the
        bound training set, k * b of them). record: every step's gradient norms, and unless
        activations=False, every step's activation statistics."""
        bufs = self._block_buffers(k, b, flags=record and activations is not False)
        bufs["inputs"].copy_(self._xa[idx].view(k, b, -1))
        ts = self._targets[idx].view(k, b, -1)
        fold = self.optimizer == "sgd"  # plain SGD: the loss's 1/B goes into the step size
        scale = (2.0 if self.loss == "mse" else 1.0) / b  # d mean-loss / d (per-point term)
        h_all, hv_all, ht_all, g_all, rows, s_all = (bufs["h"], bufs["hv"], bufs["hT"], bufs["g"], bufs["g_rows"],
                                                     bufs["s"])
        forward = [forward_into(a, b * w) for a, w in zip(self.activations, self.widths[1:-1])]
        backward = [_BACKWARD[a] for a in self.activations]
        keep_z = any(a in ("leaky_relu", "elu", "gelu", "softplus") for a in self.activations)
        layers, w_back, loss = self.layers, self._w_back, self.loss
        n_hidden = len(self.activations)
        mm = torch.mm
        with torch.no_grad():
            for s, (x, xt, t) in enumerate(zip(bufs["x"], bufs["xT"], ts.unbind(0))):
                # forward: (B, d_in + 1) @ (d_in + 1, d_out)
                h, zs = x, []
                for i in range(n_hidden):
                    z = mm(h, layers[i])
                    if keep_z:
                        zs.append(z)
                    forward[i](z, hv_all[i][s])
                    h = h_all[i][s]
                out = mm(h, layers[-1], out=s_all[s])
                # d loss / d scores, (B, n_out)
                if loss == "bce":
                    g = torch.sigmoid(out).sub_(t)
                elif loss == "mse" and self.n_classes == 2:
                    p = torch.sigmoid(out)
                    g = _aten.sigmoid_backward.default(p - t, p)
                elif loss == "mse":
                    g = out - t
                elif loss == "hinge":
                    g = (torch.addcmul(_ONE, t, out, value=-1) >= 0) * t.neg()
                else:  # ce over k logits
                    g = torch.softmax(out, 1).sub_(t)
                if not fold:
                    g.mul_(scale)
                # backward: weight-and-bias gradient of each layer in one mm, into this step's slot
                gs = g_all[s]
                for i in range(n_hidden, 0, -1):
                    mm(ht_all[i - 1][s], g, out=gs[i])
                    g = backward[i - 1](mm(g, w_back[i - 1]), hv_all[i - 1][s], zs[i - 1] if keep_z else None)
                mm(xt, g, out=gs[0])
                self._update(rows[s], scale)
        self.last_grad, self._last_grad_scale = rows[k - 1], (scale if fold else 1.0)
        result = BlockResult(losses=self._losses(bufs["scores"], ts), grad_norms=None, activation_stats=None)
        if record:
            result.grad_norms = self.grad_norms(bufs["grads"], self._last_grad_scale)
            if activations is not False:
                result.activation_stats = self._activation_stats(bufs)
        return result

    def _update(self, grad: torch.Tensor, scale: float) -> None:
        """One torch.optim step on the flat vector (dampening 0, no weight decay)."""
        opt, p = self.optimizer, self.flat
        if opt == "sgd":
            p.add_(grad, alpha=-self.lr * scale)
        elif opt in ("momentum", "nesterov"):
            if self.has_buf:
                self.buf.mul_(self.momentum).add_(grad)
            else:
                self.buf.copy_(grad)
                self.has_buf = True
            p.add_(grad.add(self.buf, alpha=self.momentum) if opt == "nesterov" else self.buf, alpha=-self.lr)
        else:  # adam
            beta1, beta2 = ADAM_BETAS
            self.adam_step += 1
            self.has_buf = True
            self.buf.lerp_(grad, 1 - beta1)
            self.buf2.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1 ** self.adam_step
            bias_correction2 = 1 - beta2 ** self.adam_step
            denom = (self.buf2.sqrt() / bias_correction2 ** 0.5).add_(ADAM_EPS)
            p.addcdiv_(self.buf, denom, value=-(self.lr / bias_correction1))

    # ---- per-block reductions ----
    def _losses(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(k,) batch loss of each step, as engine.core.losses.data_loss computes it."""
        if self.n_classes == 0:
            per = (scores - targets) ** 2
        elif self.n_classes == 2:
            if self.loss == "bce":
                per = F.binary_cross_entropy_with_logits(scores, targets, reduction="none")
            elif self.loss == "mse":
                per = (torch.sigmoid(scores) - targets) ** 2
            else:
                per = torch.clamp(1 - targets * scores, min=0)
        else:
            per = -(torch.log_softmax(scores, dim=2) * targets).sum(2)
        return per.flatten(1).mean(1)

    # ---- for checks ----
    def gradients(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Loss and (d weight (out, in), d bias (out,)) per layer on one batch, without updating."""
        saved = (self.flat.clone(), self.buf.clone(), self.buf2.clone(), self.has_buf, self.adam_step, self.lr,
                 self._xa, self._targets)
        self.bind(x, y)
        self.lr = 0.0
        try:
            result = self.train_block(torch.arange(len(x), device=self.device), 1, len(x))
            grad = self.last_grad * self._last_grad_scale
        finally:
            self.flat.copy_(saved[0])
            self.buf.copy_(saved[1])
            self.buf2.copy_(saved[2])
            self.has_buf, self.adam_step, self.lr, self._xa, self._targets = saved[3:]
        return float(result.losses[0]), [(w.clone(), b.clone()) for w, b in self._state_pairs(grad)]


_ONE = torch.ones(())
