"""The Sentiment lab's Take it home row and its Load: a network saved with ⬇ Save comes back as the
page's run, as a restore after a reload brings it (page.restore_saved_model), widgets, address and
saved entry included."""
from __future__ import annotations

from functools import partial

import streamlit as st

from app_pages.common.saved_runs import save_run
from app_pages.common.shell import app_device
from app_pages.common.take_home import take_home_row
from app_pages.sentiment.state import SAVE_NAME, SentimentLab, restored_widgets
from engine.core.checkpoint import checkpoint_task
from engine.sentiment.trainer import SentimentTrainer

state = st.session_state
UPLOAD_LOADED = "the CSV inside the loaded checkpoint"  # a loaded run's rows: the file's name is not saved


def load_network(data: bytes) -> str:
    """The uploaded network replaces the one on screen; a ValueError names what is wrong with the file
    (another lab's checkpoint, a damaged one) and nothing changes then."""
    task = checkpoint_task(data)
    if task not in (None, "sentiment"):
        raise ValueError(f"it is a checkpoint of another lab (the {task[:30]!r} task), not of the Sentiment lab")
    trainer = SentimentTrainer.from_checkpoint(data, app_device())
    config = trainer.config
    values = restored_widgets(config, {})
    if values is None:
        raise ValueError("its network has settings this page's controls cannot show (a size or rate no slider "
                         "offers)")
    state.update(values)
    if config.data.source == "upload":
        state.sn_upload_name, state.sn_upload_notes, state.sn_upload_error = UPLOAD_LOADED, [], ""
    state.sn_lab = SentimentLab(trainer)
    state.sn_address_read = True  # the address the page writes next is this network's
    if config.train.seed != state.get("global_seed"):
        state.pending_global_seed = config.train.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this network's address at the end of the run
    state.sn_save_problem = save_run(SAVE_NAME, data)  # a reload now brings the loaded network back
    state.sn_lab.autosave(lambda _: None)
    return (f"the network at step {trainer.step_count:,} (epoch {trainer.step_count / trainer.steps_per_epoch:.2f}), "
            f"seed {config.train.seed}. Press Play to go on.")


def export_network(lab: SentimentLab, fmt: str) -> str:
    """The notebook or script of the run as it is when the button is clicked (it may have trained on):
    its steps so far, or the whole run's before any training. Called outside the script run, where
    st.session_state cannot be read: it is handed the run itself."""
    from engine.export import export  # the exporters are imported on a click, not on every run
    trainer = lab.trainer
    return export(trainer.config, fmt, trainer.step_count or whole_run_steps(trainer))


def whole_run_steps(trainer: SentimentTrainer) -> int:
    return trainer.steps_per_epoch * trainer.config.train.epochs


def take_home(lab: SentimentLab) -> None:
    """Notebook, script, Save and Load, under the run."""
    trainer = lab.trainer
    with st.expander("Take it home: notebook, script, save and load"):
        st.caption("The notebook rebuilds this run in plain PyTorch (the same tweets, split, vocabulary and seed), "
                   "trains it, prints the curves above check by check and draws them with the confusion matrix; "
                   "Save keeps the network, to Load here later and go on.")
        take_home_row(trainer.config, key="sentiment", what="network",
                      steps=trainer.step_count or whole_run_steps(trainer),
                      checkpoint=trainer.checkpoint_bytes if trainer.step_count else None, on_load=load_network,
                      make=partial(export_network, lab))
