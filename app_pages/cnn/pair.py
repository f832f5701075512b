"""The Convolutions page's "CNN vs MLP" tab: a CNN and a dense network of about as many parameters,
trained side by side on the same split and seed, each scored on the test digits moved by 0, 1 and 2
pixels — the convolution's built-in assumption (the same pattern anywhere) made visible."""
from __future__ import annotations

import streamlit as st

from app_pages.cnn.runs import PairRun
from app_pages.cnn.state import CNN_PRESETS, PRESET_LABELS, fmt_percent
from app_pages.common.controls import play_pause_button
from app_pages.common.live_plotly import live_plotly
from app_pages.common.shell import app_device
from viz.cnn import curves_figure, shift_figure

state = st.session_state
STEP_BUTTON_STEPS = 50


def on_play_pause(play: bool) -> None:
    pair = state.get("cv_pair")
    if pair is not None:
        pair.play() if play else pair.pause()


def on_step(steps_drawn: tuple[int, int]) -> None:
    pair = state.get("cv_pair")
    if pair is not None and (pair.playing or (pair.cnn.step_count, pair.mlp.step_count) == steps_drawn):
        pair.pause()
        pair.step(STEP_BUTTON_STEPS)


def on_reset() -> None:
    state.pop("cv_pair", None)


def pair_section() -> None:
    st.markdown("The same digits, split and seed for both: a **CNN** and a **dense network (MLP) with about as "
                "many parameters**. Both learn to read the digits as they were drawn. Then each is shown the test "
                "digits moved by one and two pixels, which neither saw in training.")
    c = st.columns([2.4, 1.1, 1.1, 1.1, 2.3])
    c[0].selectbox("CNN", CNN_PRESETS, key="cv_pair_cnn", format_func=PRESET_LABELS.get,
                   label_visibility="collapsed")
    pair: PairRun | None = state.get("cv_pair")
    seed = state.global_seed
    if pair is None or pair.cnn.config.seed != seed or state.get("cv_pair_built") != state.cv_pair_cnn:
        with st.spinner("Building both networks…"):
            pair = state.cv_pair = PairRun.build(state.cv_pair_cnn, seed, app_device())
            state.cv_pair_built = state.cv_pair_cnn
    playing = pair.playing
    play_pause_button(c[1], "cv_pair", playing, on_play_pause, help="Train both live")
    c[2].button(f"⏭ {STEP_BUTTON_STEPS} steps", key="cv_pair_step", on_click=on_step,
                args=((pair.cnn.step_count, pair.mlp.step_count),), width="stretch",
                help=f"{STEP_BUTTON_STEPS} optimisation steps each")
    c[3].button("↺ Reset", key="cv_pair_reset", on_click=on_reset, width="stretch")
    c[4].caption(f"CNN: {pair.cnn.param_count():,} parameters · MLP: {pair.mlp.param_count():,}")

    @st.fragment(run_every=pair.pace.run_every(playing))
    def frame() -> None:
        pair: PairRun = state.cv_pair
        with pair.pace.frame(pair.playing) as measured:
            if pair.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the view anew, with a longer interval
            pair.tick()
            measured.trained()
            draw_frame(pair)
        if not pair.playing and playing:
            st.rerun()  # stopped by itself: redraw the Play button
        if pair.playing and pair.pace.interval_is_stale():
            st.rerun()  # draw the view again with a frame interval that fits the frames

    frame()


def draw_frame(pair: PairRun) -> None:
    """Both networks' numbers and curves, and their accuracy on moved digits (measured at most every
    EVAL_SECONDS while playing: PairRun.snapshots)."""
    if pair.message:
        st.info(pair.message)
    snaps = pair.snapshots()
    m = st.columns(4)
    for i, (name, snap) in enumerate(snaps.items()):
        m[2 * i].metric(f"{name}: test accuracy", fmt_percent(snap.test_accuracy), help=f"step {snap.step:,}")
        m[2 * i + 1].metric(f"{name}: shifted 1 px", fmt_percent(snap.shifted_test_accuracy),
                            delta=f"{(snap.shifted_test_accuracy - snap.test_accuracy) * 100:+.1f} points")
    left, right = st.columns(2, gap="medium")
    for column, (name, trainer) in zip((left, right), pair.trainers.items()):
        with column:
            st.markdown(f"**{name}** — accuracy as it trains")
            live_plotly(curves_figure(trainer.history, "accuracy", height=250), key=f"cv_pair_curve_{name}")
    shifts = pair.shift_accuracies()
    left, right = st.columns([1.6, 1], gap="medium")
    with left:
        st.markdown("**Test accuracy with the digits moved**")
        live_plotly(shift_figure(shifts), key="cv_pair_shift")
    with right:
        cnn, mlp = shifts["CNN"], shifts["MLP"]
        st.markdown(
            f"Moved by one pixel, the CNN keeps **{fmt_percent(cnn[1])}** (from {fmt_percent(cnn[0])}), the "
            f"MLP **{fmt_percent(mlp[1])}** (from {fmt_percent(mlp[0])}). A convolution applies the same "
            "kernel at every position, so a stroke moved by a pixel makes the same response one cell over; "
            "pooling then forgets where. The MLP has one weight per pixel per unit: a moved stroke meets "
            "weights that never learned it.")
