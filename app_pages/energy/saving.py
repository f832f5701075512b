"""The Energy models page's runs saved as they train and restored when the same browser comes back (a
reload, a laptop's sleep, a server restart): the page's side of app_pages/common/saved_runs.py. Each
tab has its entry in the session store (state.SAVE_NAMES); whether the address lets them back is
state.restored_widgets' rule."""

import streamlit as st

from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device
from app_pages.common.take_home import take_home_row
from app_pages.energy.state import RUN_NAMES, SAVE_NAMES, TABS, WIDGET_FIELDS, EnergyRun, restored_widgets, run_key
from engine.core.checkpoint import checkpoint_task
from engine.energy import BoltzmannTrainer, DBNTrainer, RBMTrainer

state = st.session_state
TRAINERS = {"boltzmann": BoltzmannTrainer, "rbm": RBMTrainer, "dbn": DBNTrainer}


def restore_saved_runs() -> None:
    """The runs this browser last trained here, unless the address describes another setup: a shared link
    wins. The lines to show (a restore, an entry that could not be read) go to state.en_notices."""
    trainers, notices = {}, []
    with st.spinner("Restoring your models…"):
        for task, name in SAVE_NAMES.items():
            trainers[task], problem = saved_trainer(
                name, lambda data, cls=TRAINERS[task]: cls.from_checkpoint(data, app_device()), RUN_NAMES[task])
            if problem:
                notices.append(("warning", problem))
    state.en_notices = notices
    values = restored_widgets({task: t.config if t else None for task, t in trainers.items()},
                              st.query_params.to_dict())
    if values is None:
        return
    seed = values.pop("global_seed")
    state.update(values)
    state.en_address_read = True  # the address is empty or describes this very setup: nothing more to read
    restored = []
    for task, trainer in trainers.items():
        if trainer is not None:
            run = state[run_key(task)] = EnergyRun(trainer)
            run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
            restored.append(f"your {RUN_NAMES[task]} at step {trainer.step_count:,}")
    joined = ", ".join(restored[:-1]) + " and " + restored[-1] if len(restored) > 1 else restored[0]
    notices.append(("success", f"Restored {joined}, as last saved. Press Play to go on."))
    use_seed(seed)


def show_notices() -> None:
    for kind, text in state.pop("en_notices", []):
        (st.success if kind == "success" else st.warning)(text)


def forget_saved(task: str) -> None:
    """The tab's run was thrown away (Reset, a new model): a reload must not bring it back."""
    forget_run(SAVE_NAMES[task])


def autosave(task: str, run: EnergyRun) -> None:
    """Save the tab's run when a save is due (every few seconds while it plays, once when it stops, after a
    hot change); a save that failed (a full disk, a run over the store's limit) is one line under the
    view, and training goes on."""
    key = f"en_{task}_save_problem"

    def save(checkpoint: bytes) -> None:
        state[key] = save_run(SAVE_NAMES[task], checkpoint)
    run.autosave(save)
    if state.get(key):
        st.caption(state[key])


# ---------- Take it home: notebook, script, Save and Load ----------
def load_model(data: bytes) -> str:
    """An uploaded Boltzmann machine, RBM or deep belief net replaces its tab's run (whichever tab's Load
    took it) and that tab opens: widgets, address and saved entry as a restore after a reload sets them.
    A ValueError names what is wrong with the file (another lab's checkpoint, a damaged one); nothing
    changes then."""
    task = checkpoint_task(data)
    if task is not None and task not in TRAINERS:
        raise ValueError(f"it is a checkpoint of another lab (the {task[:30]!r} task), not of an energy model")
    trainer = TRAINERS[task or "boltzmann"].from_checkpoint(data, app_device())  # None: its loader says why
    config = trainer.config
    task = config.task
    values = restored_widgets({task: config}, {})
    if values is None:
        raise ValueError(f"its {RUN_NAMES[task]} has settings this page's controls cannot show (a weight decay, "
                         "step limit or size no control offers)")
    state.update({key: values[key] for key in WIDGET_FIELDS[task]})  # the other tabs' settings stay as they are
    state.en_tab = TABS[task]
    run = state[run_key(task)] = EnergyRun(trainer)
    state.en_address_read = True  # the address the page writes next is this run's
    if config.seed != state.get("global_seed"):
        state.pending_global_seed = config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this run's address at the end of the script
    state[f"en_{task}_save_problem"] = save_run(SAVE_NAMES[task], data)  # a reload now brings it back
    run.autosave(lambda _: None)
    return (f"the {RUN_NAMES[task]} at step {trainer.step_count:,}, seed {config.seed}, on the {TABS[task]} tab. "
            "Press Play to go on.")


def whole_run_steps(trainer) -> int:
    """What the notebook trains before any training here: the run's step limit, or the whole plan."""
    return trainer.config.max_steps or getattr(trainer, "total_steps", 0) or 2000


def take_home(task: str) -> None:
    """Notebook, script, Save and Load, under a tab's run."""
    run: EnergyRun = state[run_key(task)]
    trainer = run.trainer

    def make(fmt: str) -> str:
        # Called when clicked, in a thread of its own without the session's state: it holds the run itself,
        # whose trainer may have trained on since the row was drawn.
        from engine.export import export  # the exporters are imported on a click, not on every run
        return export(run.trainer.config, fmt, run.trainer.step_count or whole_run_steps(run.trainer))

    with st.expander("Take it home: notebook, script, save and load"):
        st.caption(f"The notebook rebuilds this {RUN_NAMES[task]} in plain PyTorch (the same data, seeds and "
                   "samples), trains it, prints the numbers above step by step and draws the main plot; Save keeps "
                   "the run, to Load here later and go on.")
        take_home_row(trainer.config, key=task, what=RUN_NAMES[task],
                      steps=trainer.step_count or whole_run_steps(trainer),
                      checkpoint=trainer.checkpoint_bytes if trainer.step_count else None, on_load=load_model,
                      make=make)
