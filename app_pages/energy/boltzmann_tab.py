"""The Boltzmann machine tab: a fully connected stochastic network on a tiny pattern set, its exact KL
divergence, free energies, weight matrix, and the free chains' samples beside the data."""
from __future__ import annotations

import streamlit as st

from app_pages.common.live_plotly import live_plotly
from app_pages.energy.controls import control_bar, current_run
from app_pages.energy.saving import autosave, take_home
from app_pages.energy.state import (BM_CHAINS, BM_HIDDEN, BM_STEP_LIMITS, BM_SWEEPS, LEARNING_RATES, MOMENTA, EnergyRun,
                                    fmt)
from engine.energy.data import PATTERN_SETS, as_picture
from viz.colors import BLUE, ORANGE
from viz.energy import GREEN, curves_figure, pictures_figure, visible_probabilities_figure, weights_figure

state = st.session_state
STEP_BUTTON_STEPS = 100


def settings() -> None:
    c = st.columns([2.4, 1.3, 1.5, 1.2, 1.2, 1.2, 1.4])
    c[0].selectbox("Patterns", list(PATTERN_SETS), key="en_bm_data", format_func=lambda n: PATTERN_SETS[n][0])
    c[1].selectbox("Hidden units", BM_HIDDEN, key="en_bm_hidden",
                   help="Visible + hidden at most 20, so that every one of the 2ⁿ states can be listed")
    c[2].select_slider("Learning rate", LEARNING_RATES, key="en_bm_lr", help="Applied to the running machine at once")
    c[3].selectbox("Momentum", MOMENTA, key="en_bm_momentum")
    c[4].selectbox("Gibbs sweeps", BM_SWEEPS, key="en_bm_sweeps",
                   help="Sweeps over the free units in each phase of each update")
    c[5].selectbox("Chains", BM_CHAINS, key="en_bm_chains", help="Persistent free-running chains (negative phase)")
    c[6].selectbox("Stop after", BM_STEP_LIMITS, key="en_bm_steps",
                   format_func=lambda n: f"{n:,} steps" if n else "no limit")


def boltzmann_section() -> None:
    settings()
    run = current_run("boltzmann")
    t = run.trainer
    control_bar("boltzmann", run, STEP_BUTTON_STEPS,
                f"{t.model.n_visible} visible + {t.model.n_hidden} hidden units, "
                f"{t.model.n_units * (t.model.n_units - 1) // 2} weights · {len(t.patterns_np)} patterns · "
                f"2^{t.model.n_units} = {2 ** t.model.n_units:,} states enumerated for the exact KL")
    live_view(run)
    take_home("boltzmann")


def live_view(run: EnergyRun) -> None:
    @st.fragment(run_every=run.pace.run_every(run.playing))
    def view() -> None:
        run: EnergyRun = state.en_boltzmann_run
        was_playing = run.playing
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            run.train()
            frame.trained()
            snap = run.snapshot()
            autosave("boltzmann", run)  # before a stop's rerun below: the run as it stopped is saved at once
            if run.message:
                st.warning(run.message, icon="⏸")
            if was_playing and not run.playing:
                st.rerun()  # stopped by itself: redraw the Play button
            draw_frame(run, snap)
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    view()


def draw_frame(run: EnergyRun, snap) -> None:
    """One frame of the live view: the numbers, the KL and energy curves, the weights, the data beside the
    chains' samples, and p(v)."""
    t = run.trainer
    m = st.columns(5)
    m[0].metric("Step", f"{t.step_count:,}")
    m[1].metric("KL(data ‖ model)", fmt(snap.kl), help="In nats, exact: every state enumerated. 0 is a perfect model")
    m[2].metric("Mass on the data", f"{snap.data_mass:.1%}",
                help="The model's total probability of the data's patterns (the rest is on other vectors)")
    m[3].metric("log Z", fmt(snap.log_z, 4), help="The log of the partition function Σ exp(−E(s))")
    m[4].metric("Steps / s", f"{run.steps_per_second:,.0f}" if run.playing else "—")
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**KL(data ‖ model)**, exact, in nats")
        live_plotly(curves_figure(t.history, [("kl", "KL", BLUE)], "nats", key="en_bm_kl"), key="en_bm_kl")
    with right:
        st.markdown("**Energy**: free energy F(v) of the data's patterns and of all other vectors; mean E of "
                    "the free chains")
        live_plotly(curves_figure(t.history, [("free_energy_data", "F, data patterns", BLUE),
                                              ("free_energy_other", "F, other vectors", ORANGE),
                                              ("energy", "E, free chains", GREEN)], "energy", key="en_bm_energy"),
                    key="en_bm_energy")
    left, middle, right = st.columns([1.3, 1, 1], gap="medium")
    name = t.config.data
    with left:
        st.markdown("**Weights** (v: visible, h: hidden; blue positive, orange negative)")
        live_plotly(weights_figure(snap.weights, t.model.n_visible, key="en_bm_weights"), key="en_bm_weights")
    with middle:
        st.markdown(f"**The data**: {len(t.patterns_np)} patterns")
        live_plotly(pictures_figure(as_picture(name, t.patterns_np), cols=8, height=190, key="en_bm_data",
                                    hover="pattern"), key="en_bm_data_view")
    with right:
        st.markdown("**Samples** from the free chains, now")
        live_plotly(pictures_figure(as_picture(name, snap.samples), cols=8, height=190, key="en_bm_samples",
                                    hover="chain"), key="en_bm_samples")
    st.caption(("The shifter's rows: V1, V2 (V1 shifted left, not at all, or right), then the three label units. "
                if name.startswith("shifter") else "") +
               "As the machine learns, the free chains' samples look more and more like the data.")
    st.markdown("**p(v) of the likeliest visible vectors** (blue: one of the data's patterns, orange: not; "
                "the black dash is the pattern's share of the data)")
    live_plotly(visible_probabilities_figure(snap.visible_probabilities, snap.data_probabilities,
                                             key="en_bm_visible"), key="en_bm_visible")
