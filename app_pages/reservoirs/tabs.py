"""The Reservoirs page's three tabs: each draws its settings, builds (or keeps) its run, and a live
fragment that advances it one chunk a frame while playing and saves it as it goes."""
from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run
from app_pages.reservoirs import state as rs
from app_pages.reservoirs.runs import ELMRun, ESNRun, LSMRun
from app_pages.reservoirs.saving import take_home
from engine import ConfigError
from engine.reservoirs.elm import twin_config
from viz.bridges import side_figure
from viz.colors import BLUE, ORANGE
from viz.reservoirs import (GREEN, accuracy_bars_figure, echo_figure, learning_figure, potential_figure, raster_figure,
                            series_figure, states_figure, sweep_figure)

state = st.session_state
THINGS = {"elm": "pair of networks", "esn": "reservoir", "lsm": "liquid"}   # what a tab's run is, in a sentence


def _current(tab: str, build):
    """The run the widgets describe: kept while they describe its config, with a hot change applied to it
    (the echo state network's λ: a refit on the running sums), or replaced by build(config). A run that
    has trained is replaced only once the user says so (a slip of a slider must not throw its training
    away); until then it goes on. A setting the engine refuses is one line, and the last valid run stays."""
    run_key, flag = f"rs_{tab}_run", f"rs_{tab}_replace_ok"
    run = state.get(run_key)
    try:
        config = rs.CONFIGS[tab](state, state.global_seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}.", icon="🚫")
        if run is not None:
            return run
        config = rs.CONFIGS[tab](rs.default_widgets(), state.global_seed)
    replace_ok = replace_allowed(flag, config.to_json())
    if run is not None and run.config != config:
        run = _apply_hot(tab, run, config)
    if run is not None and run.config != config and run.step_count > 0 and not replace_ok:
        ask_before_replacing(None, rs.changed_settings(run.config, config), run.progress(), f"rs_{tab}",
                             wanted_json=config.to_json(), running_json=run.config.to_json(), flag_key=flag,
                             widgets_for=partial(rs.widgets_for_json, tab), thing=THINGS[tab])
    elif run is None or run.config != config:
        if run is not None:
            run.pace.stop()  # the run thrown away no longer takes a share of the server
            forget_run(rs.SAVE_NAMES[tab])  # the trained run was thrown away: a reload must not bring it back
        with st.spinner("Building…"):
            run = state[run_key] = build(config)
    return run


def _apply_hot(tab: str, run, config):
    """What changes without losing training: the echo state network's λ (refitted on its running sums),
    and the ELM's own settings, a new ELM in milliseconds beside the MLP that goes on training (it sees
    only the data and the seed)."""
    if tab == "esn" and config.model.ridge != run.config.model.ridge:
        run.set_ridge(config.model.ridge)
    if tab == "elm" and twin_config(config) == twin_config(run.config):
        new = ELMRun.build(config, run.elm.device, twin=run.twin)
        new.playing = run.playing and not new.finished
        new.pace = run.pace  # the same live view goes on, and so does its measured pace
        if not new.playing:
            new.pace.stop()
        run = state.rs_elm_run = new
    return run


def _controls(run, tab: str, step_label: str):
    """Play/Pause, Step, Reset; returns the slot beside them for a caption."""
    def on_play(play: bool) -> None:
        run.play() if play else run.pause()

    def on_reset() -> None:
        state.pop(f"rs_{tab}_run", None)
        forget_run(rs.SAVE_NAMES[tab])  # a reload after Reset brings the new run, not the one thrown away

    bar = st.columns([1.1, 1.3, 1.1, 4.5])
    play_pause_button(bar[0], f"rs_{tab}", run.playing, on_play, help="Train live")
    bar[1].button(step_label, key=f"rs_{tab}_step", on_click=run.step, width="stretch")
    bar[2].button("↺ Reset", key=f"rs_{tab}_reset", on_click=on_reset, width="stretch")
    return bar[3]


def _live(run, tab: str, draw) -> None:
    playing = run.playing

    def save(data: bytes) -> None:
        state[f"rs_{tab}_save_problem"] = save_run(rs.SAVE_NAMES[tab], data)

    @st.fragment(run_every=run.pace.run_every(playing))
    def view() -> None:
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            run.tick()
            frame.trained()
            if run.message:
                st.warning(run.message, icon="⏸")
            if playing and not run.playing:
                st.rerun()  # stopped by itself: redraw the Play button
            draw(run)
            run.autosave(save)
            if state.get(f"rs_{tab}_save_problem"):
                st.caption(state[f"rs_{tab}_save_problem"])
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    view()


# ---------- ① extreme learning machine ----------
def elm_section(device) -> None:
    c = st.columns(6)
    c[0].selectbox("Data", list(rs.DATASET_LABELS), key="rs_elm_data", format_func=rs.DATASET_LABELS.get)
    c[1].select_slider("Noise", rs.NOISES, key="rs_elm_noise")
    c[2].select_slider("Hidden units", rs.WIDTHS, key="rs_elm_hidden", help="The ELM drawn on the plane")
    c[3].selectbox("Activation", ["tanh", "relu", "sigmoid", "sin"], key="rs_elm_activation")
    c[4].select_slider("Input scale", rs.INPUT_SCALES, key="rs_elm_scale",
                       help="Spread of the random input weights and biases: larger, the units bend more sharply")
    c[5].select_slider("Ridge λ", rs.RIDGES, key="rs_elm_ridge", format_func=lambda v: f"{v:g}")
    run: ELMRun = _current("elm", lambda cfg: ELMRun.build(cfg, device))
    note = _controls(run, "elm", "⏭ One width")
    note.caption(f"{len(run.elm.dataset.train_xy)} training points · sweep of {len(run.config.train.sweep)} widths, "
                 "one per frame · the MLP twin trains by backprop meanwhile")
    _live(run, "elm", draw_elm)
    take_home("elm", run)


def draw_elm(run: ELMRun) -> None:
    elm, twin = run.elm, run.twin
    snap, twin_snap = elm.snapshot(), twin.snapshot()
    m = st.columns(5)
    m[0].metric("ELM test accuracy", rs.fmt_percent(snap.test_accuracy))
    m[1].metric("Widths fitted", f"{snap.step} of {len(run.config.train.sweep)}")
    m[2].metric("MLP test accuracy", rs.fmt_percent(twin_snap.test_accuracy))
    m[3].metric("MLP steps", f"{twin.step_count:,}")
    m[4].metric("‖W_out‖", rs.fmt(snap.readout_norm), help="Size of the read-out: it grows when the fit chases noise")
    left, right = st.columns(2)
    with left:
        live_plotly(side_figure(run.plane("elm"), elm.dataset,
                                f"ELM: {run.config.model.hidden} random units, one ridge solve", height=360),
                    key="rs_elm_plane")
    with right:
        live_plotly(side_figure(run.plane("mlp"), elm.dataset,
                                f"MLP 8–8 by backprop: step {twin.step_count:,}", height=360), key="rs_mlp_plane")
    st.markdown("**Accuracy against the hidden width** — too few random units underfit; as many as the training "
                "points, with λ near 0, fit the noise")
    live_plotly(sweep_figure(snap.sweep_widths, snap.sweep_train_accuracy, snap.sweep_test_accuracy,
                             run.config.model.hidden), key="rs_sweep")


# ---------- ② echo state network ----------
def esn_section(device) -> None:
    c = st.columns([1.5, 1, 1, 1, 1, 1])  # the series names are long
    c[0].selectbox("Series", list(rs.SIGNAL_LABELS), key="rs_esn_signal", format_func=rs.SIGNAL_LABELS.get)
    c[1].select_slider("Reservoir units", rs.SIZES, key="rs_esn_size")
    c[2].select_slider("Spectral radius ρ", rs.RADII, key="rs_esn_radius",
                       help="Largest |eigenvalue| of the recurrent weights; below 1 the reservoir forgets its start")
    c[3].select_slider("Input scaling", rs.INPUT_SCALINGS, key="rs_esn_input")
    c[4].select_slider("Leak rate a", rs.LEAKS, key="rs_esn_leak",
                       help="x' = (1 − a) x + a tanh(…): small a, slow units with a long memory")
    c[5].select_slider("Ridge λ", rs.RIDGES, key="rs_esn_ridge", format_func=lambda v: f"{v:g}")
    run: ESNRun = _current("esn", lambda cfg: ESNRun.build(cfg, device))
    note = _controls(run, "esn", f"⏭ {rs.ESN_SAMPLES_PER_STEP} steps")
    d = run.config.data
    note.caption(f"{d.train_length:,} training steps after a washout of {d.washout}, fed {rs.ESN_SAMPLES_PER_STEP} a "
                 f"frame; the read-out is refitted on all seen so far · spectral radius {run.esn.spectral_radius:g}")
    _live(run, "esn", draw_esn)
    take_home("esn", run)


def draw_esn(run: ESNRun) -> None:
    esn = run.esn
    snap = esn.snapshot()
    m = st.columns(4)
    m[0].metric("Training steps seen", f"{snap.samples_seen:,}")
    m[1].metric("Test NRMSE (one step)", rs.fmt(snap.test_nrmse),
                help="Root mean squared error over the series' standard deviation: 0 is perfect, 1 is the mean")
    m[2].metric("Free-running NRMSE", rs.fmt(snap.free_run_nrmse),
                help=f"Over {run.config.data.free_run} steps predicted from its own output")
    m[3].metric("Train NRMSE", rs.fmt(snap.train_nrmse))
    views = esn.predictions()
    st.markdown("**The test stretch**: the truth, the one-step-ahead prediction, and the network running free")
    live_plotly(series_figure(views["time"], views["truth"], views["one_step"], views["free_run"]), key="rs_series")
    left, right = st.columns(2)
    with left:
        st.markdown("**Test error as data arrives** (log scale)")
        live_plotly(learning_figure(esn.history, "samples_seen", {"test_nrmse": ("one step", BLUE),
                                                                  "free_run_nrmse": ("free-running", ORANGE)},
                                    "NRMSE", log_y=True, key="rs_esn_curve"), key="rs_esn_curve")
    with right:
        st.markdown("**Echo-state property**: two initial states, the same input")
        live_plotly(echo_figure(run.echo_curves()), key="rs_echo")
    st.markdown("**Reservoir states**: 20 units over the first 200 test steps, each around its own mean")
    live_plotly(states_figure(esn.state_sample(20, 200)), key="rs_states")


# ---------- ③ liquid state machine ----------
def lsm_section(device) -> None:
    c = st.columns([2, 1.2, 1.2, 1.2, 1.2])
    c[0].selectbox("Spike encoding", list(rs.ENCODING_LABELS), key="rs_lsm_encoding",
                   format_func=rs.ENCODING_LABELS.get)
    c[1].select_slider("Steps per row", rs.STEPS_PER_ROW, key="rs_lsm_steps")
    c[2].select_slider("Neurons", rs.LIQUID_SIZES, key="rs_lsm_size")
    c[3].select_slider("Refractory (ms)", rs.REFRACTORY, key="rs_lsm_refractory", format_func=lambda v: f"{v:g}")
    c[4].number_input("Test digit", 0, 899, key="rs_lsm_digit")

    def build(cfg):
        return LSMRun.build(cfg, rs.esn_twin_config(cfg), device)

    run: LSMRun = _current("lsm", build)
    note = _controls(run, "lsm", f"⏭ {rs.LSM_SAMPLES_PER_STEP} digits")
    note.caption(f"{run.lsm.n_train:,} training digits, {rs.LSM_SAMPLES_PER_STEP} a frame through the liquid and the "
                 f"ESN (200 units) · mean firing rate {run.lsm.rate_hz:.0f} Hz")
    _live(run, "lsm", draw_lsm)
    take_home("lsm", run)


def draw_lsm(run: LSMRun) -> None:
    lsm, esn = run.lsm, run.esn
    snap, esn_snap = lsm.snapshot(), esn.snapshot()
    m = st.columns(4)
    m[0].metric("Digits seen", f"{snap.samples_seen:,}")
    m[1].metric("LSM test accuracy", rs.fmt_percent(snap.test_accuracy))
    m[2].metric("ESN test accuracy", rs.fmt_percent(esn_snap.test_accuracy),
                help="The echo state network fed the same rows as analog values, one row per step")
    m[3].metric("LSM train accuracy", rs.fmt_percent(snap.train_accuracy))
    index = min(int(state.rs_lsm_digit), len(lsm.y_test) - 1)
    view = run.raster(index)
    scores = lsm.predict(index)
    st.markdown(f"**Spike raster of test digit {index}** (a {view['label']}; the LSM reads "
                f"**{int(np.argmax(scores))}**): the 8 input neurons below, one per column, row after row")
    live_plotly(raster_figure(view["input"], view["spikes"], lsm.n_excitatory, run.config.data.steps_per_row),
                key="rs_raster")
    left, right = st.columns(2)
    with left:
        st.markdown("**Membrane potential** of three neurons, quiet to busy")
        counts = view["spikes"].sum(0)
        order = np.argsort(counts, kind="stable")
        shown = [int(order[int(q * (len(order) - 1))]) for q in (0.5, 0.75, 0.95)]   # the busiest fire nonstop
        live_plotly(potential_figure(view["potential"], view["spikes"], shown,
                                     run.config.model.threshold), key="rs_potential")
    with right:
        st.markdown("**Test accuracy as digits arrive**")
        history = [{"samples_seen": a["samples_seen"], "lsm": a["test_accuracy"], "esn": b["test_accuracy"]}
                   for a, b in zip(lsm.history, esn.history)]
        live_plotly(learning_figure(history, "samples_seen", {"lsm": ("liquid (spikes)", GREEN),
                                                              "esn": ("echo state (analog rows)", BLUE)},
                                    "test accuracy", percent=True, key="rs_lsm_curve"), key="rs_lsm_curve")
    live_plotly(accuracy_bars_figure({"liquid (spikes)": snap.test_accuracy,
                                      "echo state (analog)": esn_snap.test_accuracy}, colors=[GREEN, BLUE]),
                key="rs_bars")
