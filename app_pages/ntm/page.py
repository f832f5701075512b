"""Neural Turing machine: an LSTM controller that reads and writes a memory, and an LSTM of as many
parameters, learn the copy task side by side live; the NTM's heads over time, and both models on
sequences longer than any they were trained on."""
import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.ntm.live import live_view
from app_pages.ntm.runs import NTMRun
from app_pages.ntm.saving import take_home
from app_pages.ntm.state import (BATCH_SIZES, BITS, CONTROLLERS, LEARNING_RATES, LENGTHS, SAVE_NAME, SLOTS, STEP_LIMITS,
                                 WIDTHS, config_from_widgets, default_widgets, page_query, restored_widgets,
                                 widgets_from_config, widgets_from_query)
from engine import ConfigError
from engine.ntm.config import NTMConfig, structural_changes
from engine.ntm.trainer import NTMTrainer

state = st.session_state
STEP_BUTTON_STEPS = 50


def restore_saved_ntm() -> None:
    """The run this browser last trained here (a reload, a server restart), unless the address
    describes another one: a shared link wins."""
    with st.spinner("Restoring your machines…"):
        trainer, problem = saved_trainer(SAVE_NAME, lambda data: NTMTrainer.from_checkpoint(data, app_device()),
                                         "machines")
    if problem:
        state.nt_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_widgets(trainer.config, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    state.nt_run = NTMRun(trainer)
    state.nt_run.autosave(lambda _: None)  # what is on disk is this very state
    state.nt_notice = ("success", f"Restored your machines at step {trainer.step_count:,}, as last saved. "
                                  "Press Play to go on.")
    use_seed(trainer.config.seed)


def widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained one" puts them back."""
    config = NTMConfig.from_json(config_json)
    return {**widgets_from_config(config), "global_seed": config.seed}


def on_play_pause(play: bool) -> None:
    run = state.get("nt_run")
    if run is not None:
        run.play() if play else run.pause()


def on_step(step_drawn: int) -> None:
    run = state.get("nt_run")
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):
        run.pause()
        run.step(STEP_BUTTON_STEPS)


def on_reset() -> None:
    state.pop("nt_run", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings the new machines, not the ones thrown away


def save_ntm(checkpoint: bytes) -> None:
    state.nt_save_problem = save_run(SAVE_NAME, checkpoint)


def settings() -> None:
    c = st.columns([1.0, 2.0, 1.1, 1.1, 1.1])
    c[0].selectbox("Bits per vector", BITS, key="nt_bits")
    c[1].slider("Training lengths", LENGTHS[0], LENGTHS[-1], key="nt_lengths",
                       help="Each batch's sequences have one length drawn from this range")
    c[2].selectbox("Memory slots N", SLOTS, key="nt_slots", help="Rows of the memory: the longest sequence it holds")
    c[3].selectbox("Memory width M", WIDTHS, key="nt_width", help="Numbers in each row of the memory")
    c[4].selectbox("Controller units", CONTROLLERS, key="nt_controller",
                   help="LSTM units of the NTM's controller; the LSTM beside it gets as many parameters in all")
    c = st.columns([2.0, 1.2, 1.2, 2.0])
    c[0].select_slider("Learning rate", LEARNING_RATES, key="nt_lr", help="Applied to the running models at once")
    c[1].selectbox("Batch", BATCH_SIZES, key="nt_batch", help="Sequences per step; applied at once")
    c[2].selectbox("Stop after", STEP_LIMITS, key="nt_max_steps",
                   format_func=lambda n: f"{n:,} steps" if n else "no limit")


def current_run() -> NTMRun:
    """The run the widgets describe: built, kept with the hot settings, or replaced (asking first)."""
    run: NTMRun | None = state.get("nt_run")
    try:
        config = config_from_widgets(state, state.global_seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {md_escape(str(e))}. The last valid machines keep running.",
                 icon="🚫")
        config = run.trainer.config if run else NTMConfig.build(seed=int(state.global_seed))
    replace_ok = replace_allowed("nt_replace_ok", config.to_json())
    if run is None:
        with st.spinner("Building the machines…"):
            run = state.nt_run = NTMRun.build(config, app_device())
    elif (changed := structural_changes(run.trainer.config, config)) and run.trainer.step_count >= 1 \
            and not replace_ok:
        run.apply_hot(config)
        ask_before_replacing(None, changed, f"{run.trainer.step_count:,} steps", "nt", wanted_json=config.to_json(),
                             running_json=run.trainer.config.to_json(), flag_key="nt_replace_ok",
                             widgets_for=widgets_of, thing="machine", plural=True)
    elif run.apply(config):
        changed = structural_changes(run.trainer.config, config)
        run = state.nt_run = NTMRun.build(config, app_device(), playing=run.playing)
        forget_run(SAVE_NAME)  # the trained ones were thrown away: a reload must not bring them back
        st.toast(f"New machines: {', '.join(changed)} changed")
    return run


ensure_global_seed()
defaults = default_widgets()
for key in defaults:  # Streamlit forgets a widget's value when another page is shown; writing it back keeps it
    if key in state:
        state[key] = state[key]
if "nt_address_read" not in state and "nt_run" not in state:  # the session's first visit
    restore_saved_ntm()
address_problems = read_address_once(state, st.query_params, "nt_address_read", widgets_from_query)
for key, value in defaults.items():
    state.setdefault(key, value)

page_title("📼 Neural Turing machine", "ntm")
st.caption("A neural Turing machine is an LSTM controller with a memory it reads and writes through soft, "
           "differentiable heads. Train it beside a plain LSTM of as many parameters to copy random bit "
           "sequences: watch its write and read heads learn to walk the memory in step, then give both "
           "sequences longer than any they saw.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "nt_notice" in state:
    kind, text = state.pop("nt_notice")
    (st.success if kind == "success" else st.warning)(text)

settings()
run = current_run()
bar = st.columns([1.1, 1.1, 1.1, 4.7])
play_pause_button(bar[0], "nt", run.playing, on_play_pause, help="Train both live")
bar[1].button(f"⏭ {STEP_BUTTON_STEPS} steps", key="nt_step", on_click=on_step, args=(run.trainer.step_count,),
              width="stretch", help=f"Train exactly {STEP_BUTTON_STEPS} steps")
bar[2].button("↺ Reset", key="nt_reset", on_click=on_reset, width="stretch", help="New initial weights, curves cleared")
m = run.trainer.config.model
bar[3].caption(f"NTM: {run.trainer.param_count('ntm'):,} parameters (controller {m.controller}, memory "
               f"{m.memory_slots} × {m.memory_width}) · LSTM: {run.trainer.param_count('lstm'):,} parameters "
               f"({run.trainer.lstm_hidden} units)")
live_view(run.playing, save_ntm)
take_home(state.nt_run)
write_address(st.query_params, page_query(state, state.global_seed))  # copy the address to share this setup

with st.expander("How it works, and the limits"):
    st.markdown(
        "**The copy task**: T random vectors of bits, then a step with only the delimiter channel on, then T "
        "blank steps in which the model must write the T vectors back in order. Only those last T steps are "
        "scored: cross-entropy per bit, and the share of bits wrong once each output is rounded at 0.5.\n\n"
        "**Addressing**: each head finds its weighting w over the N slots in four stages: by content "
        "(softmax of β times the cosine similarity of its key to every row), an interpolation with the last "
        "weighting (gate g), a circular shift by −1, 0 or +1 slots (weights s), and a sharpening (power γ). It "
        "reads r = Σ w_i M_i; it writes by erasing (e) and adding (a) in proportion to w_i.\n\n"
        "**Both models** train on the same batches with Adam and gradient-norm clipping; the LSTM has as many "
        "parameters as the NTM (the memory is not a parameter: it starts the same for every sequence).\n\n"
        "**Limits**: lengths up to 16 here (32 from a config file), memory up to 128 × 20. The NTM steps "
        "through a sequence in Python, one time step at a time: a step of both models takes about 15 ms on "
        "one CPU thread, and the default NTM copies with under 1 % wrong bits after about 400 steps. While playing, the curves are measured about once a second and longer sequences "
        "every few seconds.")
