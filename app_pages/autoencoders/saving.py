"""The Autoencoders page's Load: an autoencoder saved with ⬇ Save comes back as the page's run, as a
restore after a reload brings it (page.restore_saved_autoencoder): widgets, address, seed and the
saved entry included. Also what the cnn page's Load uses to name another lab's checkpoint."""

import streamlit as st

from app_pages.autoencoders.state import SAVE_NAME, AutoencoderRun, restored_widgets
from app_pages.common.saved_runs import save_run
from app_pages.common.shell import app_device
from engine.autoencoders.trainer import AutoencoderTrainer
from engine.core.checkpoint import checkpoint_task

state = st.session_state


def load_autoencoder(data: bytes) -> str:
    """The uploaded autoencoder replaces the one on screen; a ValueError names what is wrong with the
    file (another lab's checkpoint, a damaged one) and nothing changes then."""
    trainer = from_checkpoint_of(AutoencoderTrainer, "autoencoder", "an autoencoder", data)
    config = trainer.config
    values = restored_widgets(config, {})
    if values is None:
        raise ValueError("its settings are ones this page's controls cannot show (a step limit, a width or "
                         "learning rate no slider offers)")
    state.update(values)
    state.ae_address_read = True  # the address the page writes next is this autoencoder's
    state.ae_run = AutoencoderRun(trainer)
    state.ae_run.autosave(lambda _: None)  # what is saved below is this very state
    if config.seed != state.get("global_seed"):
        state.pending_global_seed = config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this setup's address as it draws the widgets
    state.ae_save_problem = save_run(SAVE_NAME, data)  # a reload now brings the loaded autoencoder back
    return (f"the {config.model.kind} autoencoder at step {trainer.step_count:,}, seed {config.seed}. "
            "Press Play to go on.")


def from_checkpoint_of(trainer_class, task: str, what: str, data: bytes):
    """trainer_class.from_checkpoint(data) on the app's device; a file of another lab is refused by
    what it is ("another lab's checkpoint (task 'cnn')") rather than by what it lacks."""
    try:
        return trainer_class.from_checkpoint(data, app_device())
    except ValueError:
        other = checkpoint_task(data)
        if other not in (None, task):
            raise ValueError(f"it is another lab's checkpoint (task {other!r}), not {what}'s") from None
        raise


