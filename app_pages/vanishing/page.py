"""Vanishing gradients: watch the gradient die (or blow up) layer by layer, live, and compare fixes."""
import json
import math

import streamlit as st

from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.take_home import take_home_row
from app_pages.common.text import md_escape
from app_pages.playground.sweep import spread_section
from app_pages.vanishing.linked import inspect_steps
from app_pages.vanishing.readings import activation_quantiles, explain, layer_ratio, sci
from app_pages.vanishing.state import (CLIP_NORMS, DATASETS, DEFAULT_PRESET, LEARNING_RATES, MAIN_LABEL, MAX_COMPARED,
                                       MAX_DEPTH, PRESETS, SAVE_NAME, WIDTHS, VanishingLab, config_from_widgets,
                                       default_widgets, preset_config, preset_widgets, restored_widgets,
                                       widgets_from_config, widgets_from_query, widgets_to_query)
from engine import ConfigError, ExperimentConfig
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from engine.mlp.export import export_script
from engine.mlp.notebook import export_notebook
from viz.gradients import activation_figure, grad_heatmap_figure, loss_curves_figure, norms_by_depth_figure

state = st.session_state


def restore_saved_lab() -> None:
    """The networks this browser last trained here (a reload, a laptop's sleep, a server restart),
    all of the comparison together, unless the address describes another setup: a shared link wins."""
    with st.spinner("Restoring your networks…"):
        lab, problem = saved_trainer(SAVE_NAME, lambda data: VanishingLab.from_checkpoint(data, app_device()),
                                     "networks")
    if problem:
        state.vg_notice = ("warning", problem)
    if lab is None:
        return
    values = restored_widgets([(r.label, r.trainer.config) for r in lab.runs], st.query_params.to_dict())
    if values is None:
        return
    state.update(values)  # the widgets' keys in the state: the address is not read
    state.vg_lab = lab
    lab.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.vg_notice = ("success", f"Restored your networks at step {lab.runs[0].trainer.step_count:,}, as last "
                                  "saved. Press Play to go on.")
    use_seed(lab.runs[0].trainer.config.train.seed)


def load_lab(data: bytes) -> str:
    """A lab saved with ⬇ Save, uploaded: it replaces the networks on screen, widgets, address and
    saved entry included. A ValueError names what is wrong with the file; nothing changes then."""
    lab = VanishingLab.from_checkpoint(data, app_device())
    values = restored_widgets([(r.label, r.trainer.config) for r in lab.runs], {})
    if values is None:
        raise ValueError("its networks have settings this page's controls cannot show")
    seed = lab.runs[0].trainer.config.train.seed
    state.update(values)
    state.vg_lab = lab
    if seed != state.get("global_seed"):
        state.pending_global_seed = seed  # the sidebar's seed is drawn before the page: set before it
    st.query_params.from_dict(widgets_to_query(values, seed))
    save_lab(lab.checkpoint_bytes())  # a reload now brings the loaded networks back
    lab.autosave(lambda _: None)
    return (f"{len(lab.runs)} network{'s' if len(lab.runs) > 1 else ''} at step "
            f"{lab.runs[0].trainer.step_count:,}, seed {seed}. Press Play to go on.")


ensure_global_seed()
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in default_widgets():
    if key in state:
        state[key] = state[key]
if "vg_depth" not in state and "vg_lab" not in state:  # the session's first visit
    restore_saved_lab()
if "vg_depth" not in state:  # the session's first visit: a shared address may carry a setup
    url_values, state.vg_url_problems = widgets_from_query(st.query_params.to_dict())
    state.update(url_values)
for key, value in default_widgets().items():
    state.setdefault(key, value)


# Button callbacks take the state they were drawn for: while the live view ticks, one click
# can arrive twice (with a tick and with the rerun it asks for), and a toggle would undo itself.
def on_preset() -> None:
    if state.vg_preset in PRESETS:
        state.update(preset_widgets(state.vg_preset))
        state.vg_replace_ok = True  # picking a preset is asking for its network


def widgets_of(wanted: str) -> dict:
    """The widgets' values (the compared presets and the seed included) for the JSON of
    [config JSON, compared presets]: "Keep the trained ones" puts them back."""
    config_json, compared = json.loads(wanted)
    config = ExperimentConfig.from_json(config_json)
    return {**widgets_from_config(config), "vg_compare": list(compared), "global_seed": config.train.seed}


def on_play_pause(play: bool) -> None:
    lab = state.get("vg_lab")
    if lab is not None:
        lab.play() if play else lab.pause()


def on_step(step_drawn: int) -> None:
    lab = state.get("vg_lab")
    if lab is not None and (lab.playing or lab.runs[0].trainer.step_count == step_drawn):
        lab.pause()
        lab.step(1)


def on_reset() -> None:
    state.pop("vg_lab", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings new networks, not the ones thrown away


def save_lab(checkpoint: bytes) -> None:
    state.vg_save_problem = save_run(SAVE_NAME, checkpoint)


page_title("📉 Vanishing gradients", "vanishing")
st.caption("A deep stack of sigmoids passes back at most a quarter of the gradient per layer, so the first layers "
           "of a deep network hardly learn. Pick a depth and an activation, press **Play**, and watch the gradient "
           "of every layer, step by step — then compare the fixes: ReLU with He init, residual connections, "
           "normalisation. All networks compared train on the same data from the same seed.")

for problem in state.pop("vg_url_problems", []):
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "vg_notice" in state:
    kind, text = state.pop("vg_notice")
    (st.success if kind == "success" else st.warning)(text)

lab: VanishingLab | None = state.get("vg_lab")
bar = st.columns([1.1, 1.1, 1.1, 3.2])  # the buttons are drawn into it once the networks are up to date
bar[3].selectbox("Preset", ["Choose a preset…"] + list(PRESETS), key="vg_preset", on_change=on_preset,
                 label_visibility="collapsed")

c = st.columns([1.6, 1, 1.1, 1, 1, 1])
c[0].slider("Hidden layers", 1, MAX_DEPTH, key="vg_depth")
c[1].select_slider("Width", WIDTHS, key="vg_width")
c[2].selectbox("Activation", list(ACTIVATIONS), key="vg_activation")
c[3].selectbox("Init", INITS, key="vg_init", help="default: PyTorch's; normal: std 1")
c[4].selectbox("Normalisation", NORMS, key="vg_norm")
with c[5]:
    st.toggle("Residual", key="vg_residual", help="A skip connection around every hidden layer: x + f(x)")
c = st.columns([1, 1.4, 1.4, 1, 2.6])
c[0].selectbox("Optimiser", OPTIMIZERS, key="vg_optimizer")
c[1].select_slider("Learning rate", LEARNING_RATES, key="vg_lr", help="Applied to the running network at once")
c[2].select_slider("Clip gradient norm", CLIP_NORMS, key="vg_clip", format_func=lambda v: f"{v:g}" if v else "off",
                   help="Rescale all gradients so their total norm is at most this, before each update")
c[3].selectbox("Data", DATASETS, key="vg_dataset")
c[4].multiselect("Compare with", list(PRESETS), key="vg_compare", max_selections=MAX_COMPARED,
                 help="Networks trained side by side with yours, on the same data and seed")

# ---------- widgets -> the networks compared ----------
try:
    config = config_from_widgets(state, state.global_seed)
except ConfigError as e:
    st.error(f"This setting is not possible: {e}.", icon="🚫")
    config = lab.runs[0].trainer.config if lab else preset_config(DEFAULT_PRESET, "circle", state.global_seed)
others = [(name, preset_config(name, config.data.name, config.train.seed)) for name in state.vg_compare]
query = widgets_to_query(state, state.global_seed)  # the address follows the widgets: copy it to share this setup
if st.query_params.to_dict() != query:
    st.query_params.from_dict(query)
# A deliberate action (preset, Reset) replaces the networks at once; a widget change that
# would throw away trained networks asks first.
wanted = json.dumps([config.to_json(), list(state.vg_compare)])
replace_ok = replace_allowed("vg_replace_ok", wanted)
changed = lab.changes(config, state.vg_compare) if lab is not None else []
if lab is not None and changed and lab.has_trained and not replace_ok:
    lab.apply_hot(config)  # the learning rate and clipping still reach the network that keeps running
    running = json.dumps([lab.runs[0].trainer.config.to_json(), list(lab.compared)])
    ask_before_replacing(None, changed, f"{lab.runs[0].trainer.step_count:,} steps", "vg", wanted_json=wanted,
                         running_json=running, flag_key="vg_replace_ok", widgets_for=widgets_of,
                         plural=len(lab.runs) > 1 or bool(others))
elif lab is None or changed:
    was_playing = lab is not None and lab.playing
    if lab is not None:
        lab.pace.stop()  # the networks thrown away no longer take a share of the server
        forget_run(SAVE_NAME)  # the trained networks were thrown away: a reload must not bring them back
    with st.spinner("Building the networks…"):
        lab = state.vg_lab = VanishingLab.build([(MAIN_LABEL, config)] + others, app_device())
    lab.playing = was_playing
else:
    lab.apply(config)

# Drawn for the networks as they are now: a Step click right after a rebuild acts on the new ones.
playing = lab.playing
play_pause_button(bar[0], "vg", playing, on_play_pause, help="Train every network compared, live")
bar[1].button("⏭ Step", key="vg_step", on_click=on_step, args=(lab.runs[0].trainer.step_count,),
              use_container_width=True, help="One optimisation step for every network")
bar[2].button("↺ Reset", key="vg_reset", on_click=on_reset, use_container_width=True,
              help="New initial weights, history cleared")


# ---------- the live view ----------
@st.fragment(run_every=lab.pace.run_every(lab.playing))
def live_view() -> None:
    lab: VanishingLab = state.vg_lab
    with lab.pace.frame(lab.playing) as frame:
        if lab.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        lab.tick()
        frame.trained()
        if lab.message:
            st.warning(lab.message, icon="⏸")
        if not lab.playing and playing:
            st.rerun()  # every network stopped by itself: redraw the Play button
        draw_live_view(lab)
    if lab.playing and lab.pace.interval_is_stale():
        st.rerun()  # the live view again with an interval that fits its frames


def draw_live_view(lab: VanishingLab) -> None:
    main = lab.runs[0]
    now = main.current_norms()
    snap_loss = main.trainer.history[-1]["train_loss"] if main.trainer.history else float("nan")
    ratio = layer_ratio(now)
    m = st.columns(5)
    m[0].metric("Step", f"{main.trainer.step_count:,}")
    m[1].metric("Train loss", f"{snap_loss:.3f}")
    m[2].metric("Layer 1 / last layer", sci(ratio) if math.isfinite(ratio) else "—",
                help="Gradient norm of hidden layer 1 divided by that of the last hidden layer")
    m[3].metric("Largest ‖∇W‖", sci(float(now.max())) if len(now) else "—")
    m[4].metric("Steps / s", f"{lab.steps_per_second:,.0f}" if lab.playing else "—")

    left, right = st.columns([1.5, 1], gap="medium")
    with left:
        series = [(r.label if r.label != MAIN_LABEL else f"{MAIN_LABEL} ({_describe(r)})", r.current_norms())
                  for r in lab.runs]
        st.markdown("**Gradient norm against depth, now** (log scale)")
        live_plotly(norms_by_depth_figure(series), key="vg_depth_chart")
    with right:
        st.markdown("**What you see**")
        for run in lab.runs:
            if run.trainer.diverged and not len(run.steps):
                st.markdown(f"**{run.label}**: diverged at once — the gradients were so large that the first "
                            "updates made the loss overflow. Turn on gradient clipping.")
                continue
            st.markdown(" ".join(explain(run.label, run.layer_names, run.current_norms(),
                                         run.trainer.config.train.clip_grad_norm,
                                         run.trainer.config.model.activations()[0])))

    labels = [r.label for r in lab.runs]
    if state.get("vg_inspect") not in labels:
        state.vg_inspect = labels[0]  # the network it showed was removed from the comparison
    pick = st.radio("Look inside", labels, horizontal=True, key="vg_inspect") if len(labels) > 1 else labels[0]
    run = lab.runs[labels.index(pick)] if pick in labels else main
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown(f"**Gradient norm of every layer at every step** — {run.label}")
        live_plotly(grad_heatmap_figure(run.steps, run.norms, run.layer_names), key="vg_heatmap")
    with right:
        acts = activation_quantiles(run.trainer)
        st.markdown(f"**Activations of each layer and the saturated fraction** — {run.label}")
        live_plotly(activation_figure(acts["quantiles"], acts["saturated"], run.trainer.config.model.activations()[0]),
                    key="vg_activations")
    st.markdown("**Training loss** (log scale)")
    live_plotly(loss_curves_figure([(r.label, r.trainer.history) for r in lab.runs]), key="vg_loss")
    lab.autosave(save_lab)
    if state.get("vg_save_problem"):
        st.caption(state.vg_save_problem)


def _describe(run) -> str:
    m = run.trainer.config.model
    parts = [f"{len(m.hidden)}×{m.hidden[0]}", m.activation, f"{m.init} init"]
    parts += ["residual"] if m.residual else []
    parts += [f"{m.norm} norm"] if m.norm != "none" else []
    return ", ".join(parts)


live_view()
inspect_steps(state.vg_lab)


def take_home(lab: VanishingLab) -> None:
    labels = [r.label for r in lab.runs]
    run = lab.runs[labels.index(state.vg_inspect)] if state.get("vg_inspect") in labels else lab.runs[0]
    trainer, steps = run.trainer, run.trainer.step_count or 1000
    st.caption(f"The notebook and the script rebuild **{md_escape(run.label)}** (the network under *Look inside*) in "
               f"plain PyTorch, train it for {steps:,} steps, print its loss and every layer's gradient norm as "
               "this page measures them, and draw the heatmap. ⬇ Save keeps every network compared; Load brings "
               "them back.")

    def make(fmt: str) -> str:
        export = export_notebook if fmt == "ipynb" else export_script
        return export(trainer.config, steps=steps, gradients=True)
    take_home_row(trainer.config, key="vanishing", what="comparison", steps=steps, make=make, on_load=load_lab,
                  checkpoint=lab.checkpoint_bytes if lab.steps_trained else None)


with st.expander("Take it home: notebook, script, save and load", expanded=bool(state.get("vanishing_notice"))):
    take_home(state.vg_lab)

# ---------- many variants at once ----------
st.caption("**Is it luck?** Train your network 16 times at once from 16 seeds, or once per learning rate, and see "
           "how far the loss curves spread. Plain networks only: the sigmoid, tanh and ReLU + He presets can be "
           "spread; residual, normalised or clipped ones cannot.")
spread_section(config, key="vg_spread")

with st.expander("Why this happens"):
    st.markdown(
        "Backpropagation multiplies, layer by layer, the weights and the derivative of the activation. "
        "The sigmoid's derivative is at most 0.25, so 20 sigmoid layers can scale the gradient by "
        "0.25²⁰ ≈ 10⁻¹² even before the weights shrink it further; saturated units (output near 0 or 1) "
        "pass back almost nothing. ReLU's derivative is exactly 1 where it is active, and He init "
        "(std √(2/fan-in)) keeps the signal's size constant from layer to layer. A residual connection "
        "x + f(x) gives the gradient a path around every block, and LayerNorm keeps the sum from "
        "growing — without it, skips with He init make the gradients *explode*, which gradient "
        "clipping caps. See Glorot & Bengio (2010), He et al. (2015, 2016), Ba et al. (2016).")
