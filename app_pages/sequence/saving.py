"""The Sequence page's Load: models saved with ⬇ Save come back as the page's run, as a restore after
a reload brings them (page.restore_saved_models), widgets, address and saved entry included."""

import streamlit as st

from app_pages.common.saved_runs import save_run
from app_pages.common.shell import app_device
from app_pages.sequence.state import SAVE_NAME, SequenceLab, restored_widgets
from engine.core.checkpoint import checkpoint_task
from engine.sequence.trainer import CharLMTrainer

state = st.session_state


def load_models(data: bytes) -> str:
    """The uploaded models replace those on screen; a ValueError names what is wrong with the file
    (another lab's checkpoint, a damaged one) and nothing changes then."""
    try:
        trainer = CharLMTrainer.from_checkpoint(data, app_device())
    except ValueError:
        other = checkpoint_task(data)
        if other not in (None, "charlm"):
            raise ValueError(f"it is another lab's checkpoint (task {other!r}), not these models'") from None
        raise
    config = trainer.config
    values = restored_widgets(config, {})
    if values is None:
        raise ValueError("its models have settings this page's controls cannot show (a step limit, two models "
                         "of one kind, a size no slider offers)")
    lab = state.get("sq_lab")
    state.update(values)
    state.sq_lab = SequenceLab.of(trainer, lab.sampling if lab is not None else None)
    if config.seed != state.get("global_seed"):
        state.pending_global_seed = config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes these models' address as it draws the widgets
    state.sq_save_problem = save_run(SAVE_NAME, data)  # a reload now brings the loaded models back
    state.sq_lab.autosave(lambda _: None)
    names = ", ".join(config.labels())
    return f"{names} at step {trainer.step_count:,}, seed {config.seed}. Press Play to go on."


