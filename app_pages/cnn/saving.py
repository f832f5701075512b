"""The "Train a CNN" tab's Load: a network saved with ⬇ Save comes back as the tab's run, as a restore
after a reload brings it (page.restore_saved_cnn): widgets, address, seed and the saved entry included."""
import streamlit as st

from app_pages.autoencoders.saving import from_checkpoint_of
from app_pages.cnn.runs import CNNRun
from app_pages.cnn.state import SAVE_NAME, restored_widgets
from app_pages.common.saved_runs import save_run
from engine.cnn.trainer import CNNTrainer

state = st.session_state


def load_cnn(data: bytes) -> str:
    """The uploaded network replaces the one on screen; a ValueError names what is wrong with the file
    (another lab's checkpoint, a damaged one) and nothing changes then."""
    trainer = from_checkpoint_of(CNNTrainer, "cnn", "a CNN", data)
    config = trainer.config
    # An empty address always restores, so the address the page would write for it is not needed here.
    values = restored_widgets(config, {}, lambda values, seed: {})
    if values is None:
        raise ValueError("its settings are ones this tab's controls cannot show (a step limit or a learning "
                         "rate no menu offers)")
    state.update(values)
    state.cv_address_read = True  # the address the page writes next is this network's
    state.cv_run = CNNRun(trainer)
    state.cv_run.autosave(lambda _: None)  # what is saved below is this very state
    if config.seed != state.get("global_seed"):
        state.pending_global_seed = config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this setup's address as it draws the widgets
    state.cv_save_problem = save_run(SAVE_NAME, data)  # a reload now brings the loaded network back
    what = "CNN" if config.model.kind == "cnn" else "dense network"
    return f"the {what} at step {trainer.step_count:,}, seed {config.seed}. Press Play to go on."
