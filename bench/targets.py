"""The issue's targets P1, P2 and P4, each against a baseline measured in the same run.

P1  one network, TensorFlow Playground's defaults (tfp_config): epochs/s of the fused path
    (engine/mlp/fast_mlp.py, alone and inside Trainer.step) against the plain PyTorch loop;
    target >= 6x. Also: the first call's time (no compile pause over 2 s) and the largest
    weight difference between the fused path and the plain loop after the same epochs.
P2  64 variants (seeds) at once (engine/mlp/batched_mlp.py): time per network-step against the
    plain loop's time per step; target >= 64x.
P4  the fused path with per-step probes (every layer's gradient norm and every hidden
    layer's activation mean/std/saturation, each step) against the same path without;
    target <= 10 % more time. Also the Trainer's per-step gradient-norm record on and off.
C1  the cnn task's CNNTrainer.step against a plain loop on the same network and batches; target
    <= 1.3x time. C2: its default config's time to 97 % test accuracy. Both in bench/cnn.py.
"""
from __future__ import annotations

import time

import torch

from engine.mlp.batched_mlp import BatchedMLP
from engine.mlp.fast_mlp import FastMLP
from engine.mlp.models import build_model
from engine.mlp.trainer import Trainer

from .timing import seconds_stats, synchronize
from .workload import PlainLoop, tfp_config


class FastLoop:
    """The plain loop's job on the fused path: the same initial weights (build_model draws
    what nn.Sequential draws), the same generator and shuffles, one step per batch."""

    def __init__(self, config, device: torch.device, record: bool = False):
        plain = PlainLoop(config, device)  # only for its data
        self.fast = FastMLP.from_config(config, device)
        self.fast.set_weights([(lin.weight.detach(), lin.bias.detach()) for _, lin in build_model(config).named_linears()])
        self.fast.bind(plain.x, plain.y.long() if config.n_classes else plain.y)
        self.n, self.batch_size, self.record = len(plain.x), config.train.batch_size, record
        self.generator = torch.Generator().manual_seed(config.train.seed + 2)
        self.device = device

    def run_epochs(self, epochs: int) -> None:
        """As Trainer runs them: blocks of up to block_steps steps, on across an epoch's end
        when every batch is full, else ending with each epoch's short batch."""
        bs = self.batch_size
        orders = [torch.randperm(self.n, generator=self.generator).to(self.device) for _ in range(epochs)]
        if self.n % bs == 0:
            orders = [torch.cat(orders)]
        for order in orders:
            position = 0
            while position < len(order):
                left = len(order) - position
                k, b = (min(left // bs, self.fast.block_steps(bs)), bs) if left >= bs else (1, left)
                self.fast.train_block(order[position:position + k * b], k, b, record=self.record)
                position += k * b

    def weights(self) -> list[torch.Tensor]:
        return [t for pair in self.fast.weights() for t in pair]


def _stats_per_second(stats: dict[str, float], work: float) -> dict[str, float]:
    """Seconds (min, median, max) -> work per second (the fastest run gives the max)."""
    return {"min": work / stats["max"], "median": work / stats["median"], "max": work / stats["min"]}


def p1_single_network(device: torch.device, repeats: int = 7, epochs: int = 20) -> dict:
    config = tfp_config()
    first = Trainer(config, device)
    start = time.perf_counter()
    first.step(25)  # the fused path's first use: its buffers are made here
    synchronize(device)
    first_call_s = time.perf_counter() - start
    plain, fast, trainer = PlainLoop(config, device), FastLoop(config, device), Trainer(config, device)
    steps = epochs * plain.steps_per_epoch
    t = seconds_stats({"plain": lambda: plain.run_epochs(epochs), "fast": lambda: fast.run_epochs(epochs),
                       "trainer": lambda: trainer.step(steps)}, device, repeats)
    # Both loops ran (1 + repeats) * epochs epochs from the same start on the same batches.
    diff = max(float((a.detach() - b).abs().max()) for a, b in zip(plain.model.parameters(), fast.weights()))
    eps = {name: _stats_per_second(s, epochs) for name, s in t.items()}
    return {"epochs_per_repeat": epochs, "plain_epochs_per_s": eps["plain"], "fast_epochs_per_s": eps["fast"],
            "trainer_epochs_per_s": eps["trainer"],
            "ratio": eps["fast"]["median"] / eps["plain"]["median"],
            "trainer_ratio": eps["trainer"]["median"] / eps["plain"]["median"],
            "first_call_s": first_call_s, "max_weight_difference": diff,
            "epochs_compared": (1 + repeats) * epochs, "trainer_uses_fast_path": trainer.fast_path}


def p2_many_variants(device: torch.device, repeats: int = 7, n_variants: int = 64, epochs: int = 4) -> dict:
    config = tfp_config()
    plain = PlainLoop(config, device)
    batched = BatchedMLP([config.replace(train={"seed": s}) for s in range(n_variants)], device=device)
    steps = epochs * plain.steps_per_epoch
    t = seconds_stats({"plain": lambda: plain.run_epochs(epochs), "batched": lambda: batched.step(steps)},
                      device, repeats)
    plain_us = {k: 1e6 * v / steps for k, v in t["plain"].items()}
    batched_us = {k: 1e6 * v / (steps * n_variants) for k, v in t["batched"].items()}
    return {"variants": n_variants, "steps_per_repeat": steps, "plain_us_per_step": plain_us,
            "batched_us_per_network_step": batched_us,
            "ratio": plain_us["median"] / batched_us["median"]}


def p4_probe_cost(device: torch.device, repeats: int = 7, epochs: int = 20) -> dict:
    config = tfp_config()
    bare, probed = FastLoop(config, device, record=False), FastLoop(config, device, record=True)
    t = seconds_stats({"bare": lambda: bare.run_epochs(epochs), "probed": lambda: probed.run_epochs(epochs)},
                      device, repeats)
    steps = epochs * -(-bare.n // bare.batch_size)
    plain_trainer, recording = Trainer(config, device), Trainer(config, device)
    recording.record_grad_norms = True
    tt = seconds_stats({"off": lambda: plain_trainer.step(steps), "on": lambda: recording.step(steps)},
                       device, repeats)
    return {"steps_per_repeat": steps,
            "bare_steps_per_s": _stats_per_second(t["bare"], steps),
            "probed_steps_per_s": _stats_per_second(t["probed"], steps),
            "overhead_percent": 100 * (t["probed"]["median"] / t["bare"]["median"] - 1),
            "trainer_record_off_steps_per_s": _stats_per_second(tt["off"], steps),
            "trainer_record_on_steps_per_s": _stats_per_second(tt["on"], steps),
            "trainer_overhead_percent": 100 * (tt["on"]["median"] / tt["off"]["median"] - 1)}
