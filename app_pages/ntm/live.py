"""The Neural Turing machine page's live view: the numbers, both models' curves, one sequence through
both, the NTM's heads and memory, and "try longer"; one fragment, redrawn each frame while playing."""
from __future__ import annotations

import streamlit as st

from app_pages.common.live_plotly import live_plotly
from app_pages.ntm.runs import NTMRun
from app_pages.ntm.state import LONGER_TIMES, example_lengths, fmt, fmt_percent
from viz.ntm import bits_figure, curves_figure, heads_figure, longer_figure, memory_figure

state = st.session_state


def live_view(playing: bool, save) -> None:
    run: NTMRun = state.nt_run

    @st.fragment(run_every=run.pace.run_every(run.playing))
    def view() -> None:
        run: NTMRun = state.nt_run
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            snap = run.tick()
            frame.trained()
            if run.message:
                st.warning(run.message, icon="⏸")
            if not run.playing and playing:
                st.rerun()  # stopped by itself: redraw the Play button
            draw_frame(run, snap, save)
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    view()


def draw_frame(run: NTMRun, snap, save) -> None:
    """The numbers, both models' curves, one sequence and "try longer", as they are after this frame's training."""
    trainer = run.trainer
    m = st.columns(5)
    m[0].metric("Step", f"{trainer.step_count:,}")
    m[1].metric("NTM wrong bits", fmt_percent(snap.bit_error),
                help="Share of the output bits the NTM gets wrong on fixed sequences of the training lengths")
    m[2].metric("LSTM wrong bits", fmt_percent(snap.lstm_bit_error))
    m[3].metric("NTM loss", fmt(snap.loss), help="Cross-entropy per output bit")
    m[4].metric("Steps / s", f"{run.steps_per_second:,.0f}" if run.playing else "—")

    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Wrong bits** at the training lengths (50 %: a coin toss)")
        live_plotly(curves_figure(trainer.history, "bit_error"), key="nt_errors")
    with right:
        st.markdown("**Loss** (cross-entropy per bit, log scale)")
        live_plotly(curves_figure(trainer.history, "loss"), key="nt_loss")

    one_sequence(run)
    try_longer(run)
    run.autosave(save)
    if state.get("nt_save_problem"):
        st.caption(state.nt_save_problem)


def one_sequence(run: NTMRun) -> None:
    """One fixed sequence through both models, and the NTM's heads and memory while it copies."""
    config = run.trainer.config
    lengths = example_lengths(config)
    if state.nt_example not in lengths:  # an address's length past this range
        state.nt_example = 0
    st.markdown("#### One sequence")
    c = st.columns([1.4, 3])
    c[0].selectbox("Length", lengths, key="nt_example",
                   format_func=lambda n: f"{n}" if n else f"{config.data.max_length} (longest trained)",
                   help=f"A fixed sequence of this length; up to {LONGER_TIMES} × the longest trained")
    example = run.example(state.nt_example)
    length = example.target.shape[0]
    c[1].caption("Black is 1, white 0. The input's last row is the delimiter; target and outputs sit under the "
                 "answer steps. A model that copies shows the target's pattern again; grey is 50/50.")
    live_plotly(bits_figure(example.inputs, example.target, {"NTM": example.ntm_output, "LSTM": example.lstm_output},
                            height=110 + 26 * config.data.bits), key="nt_bits_view")
    left, right = st.columns([1.7, 1], gap="medium")
    with left:
        st.markdown("**Where the NTM's heads look**: the write and the read weighting at every step")
        live_plotly(heads_figure(example.write_weights, example.read_weights, height=320), key="nt_heads")
        st.caption(f"Trained, the write head moves one slot a step while the {length} vectors come in (up or "
                   "down, wrapping round: the direction is its own choice), and after the delimiter the read head "
                   "walks the same slots in the same order: two diagonal bands.")
    with right:
        steps = example.memory.shape[0]
        if not 1 <= state.get("nt_memory_step", 0) <= steps:  # the first look (the end), or a shorter example
            state.nt_memory_step = steps
        shown = st.slider("Memory after step", 1, steps, key="nt_memory_step",
                          help=f"Steps 1–{length} write the sequence, {length + 1} is the delimiter, then the answer")
        live_plotly(memory_figure(example.memory[shown - 1], shown, height=290), key="nt_memory")


def try_longer(run: NTMRun) -> None:
    config = run.trainer.config
    test = run.longer()
    st.markdown(f"#### Try longer: up to {LONGER_TIMES} × the longest trained sequence")
    left, right = st.columns([2.2, 1], gap="medium")
    with left:
        live_plotly(longer_figure(test.lengths, test.ntm_bit_error, test.lstm_bit_error,
                                  (config.data.min_length, config.data.max_length), config.model.memory_slots),
                    key="nt_longer")
    with right:
        top = test.lengths[-1]
        st.markdown(f"At length **{top}**: NTM **{fmt_percent(test.ntm_bit_error[-1])}** wrong, LSTM "
                    f"**{fmt_percent(test.lstm_bit_error[-1])}**.")
        st.caption("An NTM that has learned the procedure (write, move on; go back, read, move on) keeps "
                   "copying past the lengths it saw, until its memory is full. The LSTM learned the lengths it "
                   f"saw. Measured at step {test.step:,} on 16 fixed sequences of each length.")
