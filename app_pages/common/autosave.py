"""When a live page saves its run: every AUTOSAVE_SECONDS while it plays, and once when it stops
(Pause, a Step, a divergence); nothing before the first step, nothing twice for the same step.
Plain Python, shared by every page that saves its run."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

AUTOSAVE_SECONDS = 5.0  # a playing run is saved this often: a reload or a restart loses at most this much


@dataclass
class AutosaveClock:
    saved_at: float = -math.inf  # time.monotonic() of the last save
    saved_step: int = -1         # the trainer's step_count then

    def save_if_due(self, trainer, playing: bool, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint_bytes() if a save is due; True if it saved."""
        now = time.monotonic() if now is None else now
        step = trainer.step_count
        if step in (0, self.saved_step) or (playing and now - self.saved_at < AUTOSAVE_SECONDS):
            return False
        save(trainer.checkpoint_bytes())
        self.saved_at, self.saved_step = now, step
        return True
