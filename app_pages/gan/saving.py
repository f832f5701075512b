"""The GAN lab's games saved as they train and restored when the same browser comes back (a
reload, a laptop's sleep, a server restart): the page's side of app_pages/common/saved_runs.py.
Each game has its entry in the session store (state.SAVE_NAMES); which one the address keeps is
state.restored_widgets' rule."""
import streamlit as st

from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device
from app_pages.gan.state import MODES, NO_PRESET, SAVE_NAMES, LiveRun, keep_widgets, restored_seed, restored_widgets
from engine.gan.digits import DigitsGANTrainer
from engine.gan.trainer import GANTrainer

state = st.session_state
SAVED_GAMES = {"gan_run": (GANTrainer, "2-D game"), "gan_digits_run": (DigitsGANTrainer, "digits GAN")}


def restore_saved_games() -> None:
    """The games this browser last trained here, unless the address describes another setup: a
    shared link wins. The lines to show (a restore, an entry that could not be read) go to
    state.gan_notices, shown once."""
    trainers, notices = {}, []
    with st.spinner("Restoring your GAN…"):
        for run_key, (trainer_class, what) in SAVED_GAMES.items():
            trainers[run_key], problem = saved_trainer(
                SAVE_NAMES[run_key], lambda data, cls=trainer_class: cls.from_checkpoint(data, app_device()), what)
            if problem:
                notices.append(("warning", problem))
    state.gan_notices = notices
    plane, digits = (trainers[k].config if trainers[k] else None for k in SAVED_GAMES)
    values = restored_widgets(plane, digits, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    state.gan_address_read = True  # the address is empty or describes this very setup: nothing more to read
    restored = []
    for run_key, trainer in trainers.items():
        if trainer is not None:
            run = state[run_key] = LiveRun(trainer)
            run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
            restored.append(f"your {SAVED_GAMES[run_key][1]} at step {trainer.step_count:,}")
    notices.append(("success", f"Restored {' and '.join(restored)}, as last saved. Press Play to go on."))
    use_seed(restored_seed(plane, digits, values["gan_mode"]))


def forget_game(run_key: str) -> None:
    """The game was thrown away (Reset, a new game): a reload must not bring it back."""
    forget_run(SAVE_NAMES[run_key])


def autosave(run_key: str, run: LiveRun) -> None:
    """Save the game when a save is due (every few seconds while it plays, once when it stops);
    a save that failed is one line under the view, and training goes on."""
    def save(checkpoint: bytes) -> None:
        state.gan_save_problem = save_run(SAVE_NAMES[run_key], checkpoint)
    run.autosave(save)
    if state.get("gan_save_problem"):
        st.caption(state.gan_save_problem)


def load_game(run_key: str, data: bytes) -> str:
    """A game saved with ⬇ Save, uploaded under its lab (run_key: "gan_run" or "gan_digits_run"): it
    replaces the game on screen, widgets, address and saved entry included, as a restore after a
    reload does. A ValueError names what is wrong with the file (the other game's checkpoint, another
    lab's, a damaged one); nothing changes then."""
    trainer_class, what = SAVED_GAMES[run_key]
    try:
        trainer = trainer_class.from_checkpoint(data, app_device())
    except ValueError as e:
        for other_key, (other_class, other_what) in SAVED_GAMES.items():
            if other_key != run_key and f"of kind {other_class.CHECKPOINT_KIND!r}" in str(e):
                raise ValueError(f"it is a {other_what}'s checkpoint, not a {what}'s: load it there") from None
        raise
    config = trainer.config
    plane, digits = (config, None) if run_key == "gan_run" else (None, config)
    if restored_widgets(plane, digits, {}) is None:
        raise ValueError("its game has settings this page's controls cannot show (a step limit, a width or "
                         "learning rate no slider offers)")
    state.update({**keep_widgets(config), "gan_mode": MODES[0] if plane else MODES[1]})
    if plane:
        state.gan_preset = NO_PRESET  # no preset describes a loaded game
    run = state[run_key] = LiveRun(trainer)
    if config.seed != state.get("global_seed"):
        state.pending_global_seed = config.seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.clear()  # the page writes this game's address at the end of the run
    state.gan_save_problem = save_run(SAVE_NAMES[run_key], data)  # a reload now brings the loaded game back
    run.autosave(lambda _: None)
    return f"the {what} at step {trainer.step_count:,}, seed {config.seed}. Press Play to go on."
