"""The Neural Turing machine page's Take it home row and its Load: machines saved with ⬇ Save come back as
the page's run, as a restore after a reload brings them (page.restore_saved_ntm): widgets, address and
the saved entry included."""
from __future__ import annotations

import streamlit as st

from app_pages.common.saved_runs import save_run
from app_pages.common.shell import app_device
from app_pages.common.take_home import take_home_row
from app_pages.ntm.runs import NTMRun
from app_pages.ntm.state import SAVE_NAME, restored_widgets
from engine.core.checkpoint import checkpoint_task
from engine.ntm.trainer import NTMTrainer

state = st.session_state
WHOLE_RUN_STEPS = 3000  # what the notebook trains before any training here, when the run has no step limit


def load_machines(data: bytes) -> str:
    """The uploaded machines replace the ones on screen; a ValueError names what is wrong with the file
    (another lab's checkpoint, a damaged one), and nothing changes then."""
    task = checkpoint_task(data)
    if task not in (None, "ntm"):
        raise ValueError(f"it is a checkpoint of another lab (the {task[:30]!r} task), not of the Neural Turing "
                         "machine page")
    trainer = NTMTrainer.from_checkpoint(data, app_device())
    values = restored_widgets(trainer.config, {})
    if values is None:
        raise ValueError("its machines have settings this page's controls cannot show (a size or learning rate no "
                         "control offers)")
    state.update(values)
    run = state.nt_run = NTMRun(trainer)
    run._stop_if_needed()  # a run saved at its step limit or diverged says so at once
    state.nt_address_read = True  # the address the page writes next is this run's
    if trainer.config.seed != state.get("global_seed"):
        state.pending_global_seed = trainer.config.seed  # the sidebar's seed is drawn before the page
    st.query_params.clear()  # the page writes this run's address at the end of the script
    state.nt_save_problem = save_run(SAVE_NAME, data)  # a reload now brings the loaded machines back
    run.autosave(lambda _: None)
    return f"the machines at step {trainer.step_count:,}, seed {trainer.config.seed}. Press Play to go on."


def exporter(run: NTMRun):
    """make(fmt) for the row: the notebook or script of the run as it is when clicked (it may have trained
    on since the row was drawn), its steps so far or the whole run's before any training. It is called in
    a thread of its own, without the session's state: it holds the run itself."""
    def make(fmt: str) -> str:
        from engine.export import export  # the exporters are imported on a click, not on every run
        return export(run.trainer.config, fmt, export_steps(run.trainer))
    return make


def export_steps(trainer: NTMTrainer) -> int:
    return trainer.step_count or trainer.config.train.max_steps or WHOLE_RUN_STEPS


def take_home(run: NTMRun) -> None:
    """Notebook, script, Save and Load, under the run."""
    trainer = run.trainer
    with st.expander("Take it home: notebook, script, save and load"):
        st.caption("The notebook rebuilds both machines in plain PyTorch (the same seeds, batches and evaluation "
                   "sequences), trains them, prints the curves above and draws them with the heads on one copy "
                   "example; Save keeps both machines, to Load here later and go on.")
        take_home_row(trainer.config, key="ntm", what="machines", steps=export_steps(trainer),
                      checkpoint=trainer.checkpoint_bytes if trainer.step_count else None, on_load=load_machines,
                      make=exporter(run))
