"""What the three tabs of the Energy models page share: the run a tab's widgets describe (built, kept
with its hot settings, or replaced after asking), and the Play / Step / Reset bar."""
from __future__ import annotations

import functools

import streamlit as st

from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.shell import app_device
from app_pages.energy.saving import forget_saved
from app_pages.energy.state import CONFIG_CLASSES, EnergyRun, config_from_widgets, run_key, widgets_from_config
from engine import ConfigError
from engine.energy.config import structural_changes
from engine.tasks import make_trainer

state = st.session_state
THINGS = {"boltzmann": "machine", "rbm": "RBM", "dbn": "network"}


def _widgets_of(task: str, config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained one" puts them back."""
    config = CONFIG_CLASSES[task].from_json(config_json)
    return {**widgets_from_config(task, config), "global_seed": config.seed}


def _build(task: str, config, playing: bool = False) -> EnergyRun:
    run = EnergyRun(make_trainer(config, app_device()), playing=playing)
    state[run_key(task)] = run
    return run


def current_run(task: str) -> EnergyRun:
    """The run the tab's widgets describe: built, kept with the hot settings, or replaced (asking first once
    it has trained). A setting the engine refuses is one line, and the last valid run keeps going."""
    run: EnergyRun | None = state.get(run_key(task))
    try:
        config = config_from_widgets(task, state, state.global_seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}. The last valid {THINGS[task]} keeps running.", icon="🚫")
        config = run.trainer.config if run else CONFIG_CLASSES[task](seed=int(state.global_seed))
    flag = f"en_{task}_replace_ok"
    replace_ok = replace_allowed(flag, config.to_json())
    if run is None:
        return _build(task, config)
    changed = structural_changes(run.trainer.config, config)
    if not changed:
        run.apply(config)
    elif run.trainer.step_count >= 1 and not replace_ok:
        hot = config.from_dict({**run.trainer.config.to_dict(),
                                **{k: v for k, v in config.to_dict().items() if k not in changed}})
        run.apply(hot)
        ask_before_replacing(None, changed, f"{run.trainer.step_count:,} steps", f"en_{task}",
                             wanted_json=config.to_json(), running_json=run.trainer.config.to_json(), flag_key=flag,
                             widgets_for=functools.partial(_widgets_of, task), thing=THINGS[task])
    else:
        run.pace.stop()  # the one thrown away no longer takes a share of the server
        run = _build(task, config, playing=run.playing)
        forget_saved(task)  # the trained one was thrown away: a reload must not bring it back
        st.toast(f"New {THINGS[task]}: {', '.join(changed)} changed")
    return run


def _on_play_pause(task: str, play: bool) -> None:
    run = state.get(run_key(task))
    if run is not None:
        run.play() if play else run.pause()


def _on_step(task: str, steps: int, step_drawn: int) -> None:
    run = state.get(run_key(task))
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):  # a double click steps once
        run.step(steps)


def _on_reset(task: str) -> None:
    state.pop(run_key(task), None)
    forget_saved(task)  # a reload after Reset brings the new model, not the one thrown away


def control_bar(task: str, run: EnergyRun, steps: int, caption: str) -> None:
    bar = st.columns([1.1, 1.1, 1.1, 4.7])
    play_pause_button(bar[0], f"en_{task}", run.playing, _on_play_pause, args=(task, not run.playing),
                      help="Train live")
    bar[1].button(f"⏭ {steps:,} steps", key=f"en_{task}_step", on_click=_on_step,
                  args=(task, steps, run.trainer.step_count), width="stretch", help=f"Train exactly {steps:,} steps")
    bar[2].button("↺ Reset", key=f"en_{task}_reset", on_click=_on_reset, args=(task,), width="stretch",
                  help="New initial weights, history cleared")
    bar[3].caption(caption)
