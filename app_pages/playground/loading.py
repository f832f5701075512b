"""How a setup reaches the Playground from outside the widgets: a saved run restored for this
browser, an uploaded config, checkpoint or CSV of points. Each either loads whole or says in one
line why not, and leaves the network on screen as it was."""
import streamlit as st

from app_pages.common.saved_runs import saved_trainer
from app_pages.common.shell import app_device
from app_pages.common.text import md_escape
from app_pages.playground.state import PlaygroundRun, parse_points_csv, widgets_for
from engine import ConfigError, ExperimentConfig, Trainer

state = st.session_state


def load_config_into_widgets(config: ExperimentConfig) -> list[str]:
    """Show `config` in every widget, and return a sentence for each setting the page cannot show
    (with what it uses instead). Only from callbacks or before the widgets are drawn."""
    values, notes = widgets_for(config)
    state.update(values)
    return notes


def restore_saved_network() -> ExperimentConfig | None:
    """The network this browser last trained here (a reload, a sleep, a server restart), unless
    the address asks for another setup (a shared link wins). Its config, or None."""
    trainer, problem = saved_trainer("playground", lambda data: Trainer.from_checkpoint(data, app_device()), "network")
    if problem:
        state.pg_notice = ("warning", problem)
    if trainer is None:
        return None
    _, notes = widgets_for(trainer.config)
    query = dict(st.query_params)
    if notes or (query and query != trainer.config.to_query()):
        return None
    state.pg_run = PlaygroundRun(trainer)
    state.pg_run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.pg_notice = ("success", f"Restored your network at epoch {trainer.epoch:,} (step {trainer.step_count:,}), "
                                  "as last saved. Press Play to go on.")
    return trainer.config


def on_config_upload() -> None:
    upload = state.pg_config_upload
    if upload is None:
        return
    name = md_escape(upload.name)
    try:
        notes = load_config_into_widgets(ExperimentConfig.from_json(upload.getvalue().decode("utf-8", "replace")))
    except ConfigError as e:
        state.pg_notice = ("error", f"{name} is not a valid config: {md_escape(e)}. Your current network is unchanged.")
        return
    state.pg_replace_ok = True
    if notes:
        state.pg_notice = ("warning", f"Loaded the config from {name}, with changes:\n\n" +
                           "\n".join(f"- {md_escape(n)}" for n in notes))
    else:
        state.pg_notice = ("success", f"Loaded the config from {name}.")


def on_checkpoint_upload() -> None:
    upload = state.pg_checkpoint_upload
    if upload is None:
        return
    name = md_escape(upload.name)
    try:
        trainer = Trainer.from_checkpoint(upload.getvalue(), app_device())
    except (ValueError, ConfigError) as e:
        state.pg_notice = ("error", f"Could not load {name}: {md_escape(e)}. Your current network is unchanged.")
        return
    values, notes = widgets_for(trainer.config)
    if notes:  # its weights belong to a network the page cannot show: loading it would mean dropping them
        state.pg_notice = ("error", f"Could not load {name}: its network is not one this page can show "
                                    f"({md_escape(' '.join(notes))}) Train it with `python -m engine train`. "
                                    "Your current network is unchanged.")
        return
    state.update(values)
    state.pg_run = PlaygroundRun(trainer)
    state.pg_notice = ("success", f"Loaded the checkpoint {name} (step {trainer.step_count}).")


def on_points_upload() -> None:
    upload = state.pg_points_upload
    if upload is None:
        return
    try:
        points, task = parse_points_csv(upload.getvalue())
    except ValueError as e:
        state.pg_notice = ("error", f"Could not use {md_escape(upload.name)}: {md_escape(e)}.")
        return
    state.pg_points, state.pg_custom_task, state.pg_dataset = points, task, "custom"
    state.pg_replace_ok = True
    state.pg_notice = ("success", f"Loaded {len(points)} points from {md_escape(upload.name)} "
                                  f"({'classes' if task == 'classify2d' else 'regression targets'}).")
