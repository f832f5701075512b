"""The Energy models page's runs saved as they train and restored when the same browser comes back (a
reload, a laptop's sleep, a server restart): the page's side of app_pages/common/saved_runs.py. Each
tab has its entry in the session store (state.SAVE_NAMES); whether the address lets them back is
state.restored_widgets' rule."""
import streamlit as st

from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device
from app_pages.energy.state import RUN_NAMES, SAVE_NAMES, EnergyRun, restored_widgets, run_key
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
