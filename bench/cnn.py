"""The cnn task's benchmarks, on its default config (engine/cnn/, the "global_pool" preset).

C1  CNNTrainer.step(n) (its snapshot included) against a plain PyTorch loop on the same network
    (built by the same function from the same seed), the same optimiser and the same batches;
    target: the trainer takes at most 1.3× the plain loop's time. Both end with the same weights,
    which the result reports (max_weight_difference, 0 when they did the same arithmetic), and
    what one snapshot costs (the losses and accuracies over the training, test and moved test images).
C2  How long the default config takes to reach 97 % test accuracy: training in chunks of
    CHUNK_STEPS steps with a snapshot after each, as the live page does.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from engine.cnn.config import CNNConfig
from engine.cnn.inspection import as_images
from engine.cnn.models import build_network
from engine.cnn.trainer import CNNTrainer
from engine.core.digits import load_digits_split

from .timing import seconds_stats

TARGET_TIME_RATIO = 1.3
TARGET_ACCURACY = 0.97
CHUNK_STEPS = 10


class PlainCNNLoop:
    """What a person would write by hand: the network, torch.optim.Adam, cross-entropy, and batches
    drawn as the trainer draws them (a shuffled order from a generator seeded seed + 2; a batch that
    reaches the end of the order is filled from the next one). No divergence checks, no snapshots."""

    def __init__(self, config: CNNConfig, device: torch.device):
        t = config.train
        x_train, y_train, _, _ = load_digits_split(t.seed, t.test_fraction)
        self.x, self.y = as_images(x_train, device), torch.from_numpy(y_train).to(device)
        self.model = build_network(config.model, t.seed).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr)
        self.batch_size = min(t.batch_size, len(self.x))
        self.generator = torch.Generator().manual_seed(t.seed + 2)
        self.order = torch.randperm(len(self.x), generator=self.generator)
        self.position = 0
        self.device = device

    def _batch(self) -> torch.Tensor:
        idx = self.order[self.position:self.position + self.batch_size]
        self.position += len(idx)
        if self.position >= len(self.x):
            self.order = torch.randperm(len(self.x), generator=self.generator)
            self.position = self.batch_size - len(idx)
            idx = torch.cat([idx, self.order[:self.position]])
        return idx.to(self.device)

    def run_steps(self, steps: int) -> None:
        self.model.train()
        for _ in range(steps):
            idx = self._batch()
            loss = F.cross_entropy(self.model(self.x[idx]), self.y[idx])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


def cnn_trainer_vs_plain(device: torch.device, repeats: int = 7, steps: int = 100) -> dict:
    """C1: seconds per `steps` steps of CNNTrainer.step and of the plain loop, taking turns."""
    config = CNNConfig.build(max_steps=0)   # the default network, without its step limit
    plain, trainer = PlainCNNLoop(config, device), CNNTrainer(config, device)
    t = seconds_stats({"plain": lambda: plain.run_steps(steps), "trainer": lambda: trainer.step(steps)},
                      device, repeats)
    # Both ran (1 + repeats) * steps steps from the same start on the same batches.
    diff = max(float((a.detach() - b.detach()).abs().max())
               for a, b in zip(plain.model.state_dict().values(), trainer.model.state_dict().values())
               if a.is_floating_point())
    snapshot_s = seconds_stats({"snapshot": trainer.snapshot}, device, repeats)["snapshot"]["median"]
    plain_sps, trainer_sps = steps / t["plain"]["median"], steps / t["trainer"]["median"]
    return {"steps_per_repeat": steps, "plain_steps_per_s": plain_sps, "trainer_steps_per_s": trainer_sps,
            "time_ratio": plain_sps / trainer_sps, "target_time_ratio": TARGET_TIME_RATIO,
            "snapshot_ms": 1000 * snapshot_s, "max_weight_difference": diff, "steps_compared": (1 + repeats) * steps}


def cnn_time_to_accuracy(device: torch.device, runs: int = 1, target: float = TARGET_ACCURACY) -> dict:
    """C2: steps and seconds until the default config's test accuracy reaches `target` (or its step
    limit), training CHUNK_STEPS at a time with a snapshot after each. Steps are the same every run;
    the seconds are the median over `runs` runs, training alone and with the snapshots."""
    training_s, wall_s, steps, reached, final = [], [], 0, False, 0.0
    for _ in range(max(1, runs)):
        trainer = CNNTrainer(CNNConfig(), device)
        start = time.perf_counter()
        snap = trainer.snapshot()
        while snap.test_accuracy < target and not snap.finished and not snap.diverged:
            snap = trainer.step(CHUNK_STEPS)
        wall_s.append(time.perf_counter() - start)
        training_s.append(trainer.seconds_training)
        steps, reached, final = snap.step, snap.test_accuracy >= target, snap.test_accuracy
    return {"target_accuracy": target, "reached": reached, "steps": steps, "test_accuracy": final,
            "training_seconds": statistics.median(training_s), "wall_seconds": statistics.median(wall_s),
            "chunk_steps": CHUNK_STEPS}
