"""The Reservoirs page's Take it home rows and their Load: a tab's run saved with ⬇ Save comes back as
that tab's run, as a restore after a reload brings it (page.restore_saved_runs), widgets, address and
saved entry included."""
from __future__ import annotations

import math
from functools import partial

import streamlit as st

from app_pages.common.saved_runs import save_run
from app_pages.common.shell import app_device
from app_pages.common.take_home import take_home_row
from app_pages.reservoirs import state as rs
from app_pages.reservoirs.runs import run_from_checkpoint
from engine.core.checkpoint import checkpoint_task

state = st.session_state
NAMES = {"elm": "extreme learning machine", "esn": "echo state network", "lsm": "liquid state machine"}
NOTES = {"elm": "The notebook draws the same random hidden layer, solves the same read-outs for each width of the "
                "sweep, prints the accuracies above and draws them with the ELM's boundary (the MLP beside it is "
                "the Playground's own notebook).",
         "esn": "The notebook computes the same series, draws the same reservoir, drives it chunk by chunk, "
                "refits the read-out and prints the errors above; its plot is the test stretch, truth, "
                "one step ahead and free-running.",
         "lsm": "The notebook draws the same liquid and the same spikes, drives the digits through it chunk by "
                "chunk, prints the accuracies above and draws them with a spike raster (the echo state network "
                "beside it is the ESN tab's notebook)."}


def load_run(tab: str, data: bytes) -> str:
    """The uploaded run replaces the tab's; a ValueError names what is wrong with the file (another tab's
    or lab's checkpoint, a damaged one) and nothing changes then."""
    task = checkpoint_task(data)
    if task not in (None, tab):
        what = f"the {NAMES[task]} tab" if task in NAMES else f"another lab (the {task[:30]!r} task)"
        raise ValueError(f"it is a checkpoint of {what}, not of the {NAMES[tab]}")
    run = run_from_checkpoint(tab, data, app_device())
    values = rs.restored_widgets(tab, run.config, {})
    if values is None:
        raise ValueError(f"its {NAMES[tab]} has settings this tab's controls cannot show (a size, a chunk or a "
                         "sweep no slider offers)")
    state.update(values)
    state[f"rs_{tab}_run"] = run
    if run.config.seed != state.get("global_seed"):
        state.pending_global_seed = run.config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this run's address at the end of the run
    state[f"rs_{tab}_save_problem"] = save_run(rs.SAVE_NAMES[tab], data)  # a reload now brings it back
    run.autosave(lambda _: None)
    return f"the {rs.RUN_NAMES[tab]} after {run.progress()}, seed {run.config.seed}. Press Play to go on."


def export_steps(trainer) -> int:
    """The steps so far, or the whole run's before any: the sweep's widths, or the chunks of training data."""
    if trainer.step_count:
        return trainer.step_count
    if hasattr(trainer, "sweep"):
        return len(trainer.config.train.sweep)
    return max(1, math.ceil(trainer.n_train / trainer.config.train.samples_per_step))


def export_run(run, fmt: str) -> str:
    """The notebook or script of the run as it is when the button is clicked (it may have played on).
    Called outside the script run, where st.session_state cannot be read: it is handed the run itself."""
    from engine.export import export  # the exporters are imported on a click, not on every run
    return export(run.trainer.config, fmt, export_steps(run.trainer))


def take_home(tab: str, run) -> None:
    """Notebook, script, Save and Load, under the tab's live view."""
    trainer = run.trainer
    with st.expander("Take it home: notebook, script, save and load"):
        st.caption(NOTES[tab] + " Save keeps the run, to Load here later and go on.")
        take_home_row(trainer.config, key=tab, what=NAMES[tab], steps=export_steps(trainer),
                      checkpoint=run.checkpoint_bytes if run.step_count else None,
                      on_load=lambda data: load_run(tab, data), make=partial(export_run, run))
