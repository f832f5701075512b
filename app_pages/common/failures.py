"""What a page says when a training step raises (out of memory on a large config, a numerical
error deep in a library): the run pauses, the model keeps the weights of its last finished
step, and the page says why in one line instead of showing a stack trace. Plain Python."""
import logging

import torch

log = logging.getLogger("neural_playground")


def training_failure(error: BaseException) -> str:
    """The one line for a step that raised; the full traceback goes to the server's log."""
    log.error("a training step raised; the run is paused", exc_info=error)
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        cause = "it ran out of memory (try fewer points, a smaller network or a smaller batch)"
    else:
        first = (str(error).strip().splitlines() or [""])[0][:200]
        cause = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return (f"Training stopped because a step failed: {cause}. The network keeps the weights of its last "
            "finished step; change a setting and press Play to go on.")


def train_guarded(run, train) -> bool:
    """Call train() (a chunk of training); if it raises, pause `run` (anything with `playing` and
    `message`), give it the one line and return False, so that the frame draws the last state."""
    try:
        train()
        return True
    except Exception as e:  # noqa: BLE001 - whatever a step raises, the page stays up
        run.playing = False
        run.message = training_failure(e)
        return False
