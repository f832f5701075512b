"""The RBM tab: a binary RBM on the binarised digits by CD-k or persistent CD; its filters, test digits and
their reconstructions, a Gibbs chain's dreams, the free energy of digits against random images."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.common.live_plotly import live_plotly
from app_pages.energy.controls import control_bar, current_run
from app_pages.energy.saving import autosave, take_home
from app_pages.energy.state import (LEARNING_RATES, MOMENTA, RBM_BATCHES, RBM_HIDDEN, RBM_K, RBM_STEP_LIMITS, EnergyRun,
                                    fmt)
from viz.colors import BLUE, ORANGE
from viz.energy import GREEN, curves_figure, free_energy_figure, pictures_figure

state = st.session_state
STEP_BUTTON_STEPS = 200
SHOWN_FILTERS = 64
DREAM_STEPS = [1, 10, 100]   # Gibbs rounds of the shown chain per frame


def settings() -> None:
    c = st.columns([1.2, 1, 1.7, 1.9, 1.1, 1, 1.4])
    c[0].selectbox("Hidden units", RBM_HIDDEN, key="en_rbm_hidden")
    c[1].selectbox("CD-k: k", RBM_K, key="en_rbm_k", help="Gibbs rounds v → h → v per update; applied at once")
    with c[2]:
        st.toggle("Persistent CD", key="en_rbm_persistent",
                  help="The negative chains carry on from update to update instead of restarting at the data")
    c[3].select_slider("Learning rate", LEARNING_RATES, key="en_rbm_lr", help="Applied to the running RBM at once")
    c[4].selectbox("Momentum", MOMENTA, key="en_rbm_momentum")
    c[5].selectbox("Batch", RBM_BATCHES, key="en_rbm_batch")
    c[6].selectbox("Stop after", RBM_STEP_LIMITS, key="en_rbm_steps",
                   format_func=lambda n: f"{n:,} steps" if n else "no limit")


def rbm_section() -> None:
    settings()
    run = current_run("rbm")
    t = run.trainer
    control_bar("rbm", run, STEP_BUTTON_STEPS,
                f"64 binary pixels × {t.model.n_hidden} hidden units = {64 * t.model.n_hidden:,} weights · "
                f"{'persistent CD' if t.config.persistent else f'CD-{t.config.k}'} · {len(t.x_train_np):,} training "
                f"digits, {len(t.x_test_np)} test digits")
    live_view(run)
    take_home("rbm")


def live_view(run: EnergyRun) -> None:
    @st.fragment(run_every=run.pace.run_every(run.playing))
    def view() -> None:
        run: EnergyRun = state.en_rbm_run
        was_playing = run.playing
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            run.train()
            frame.trained()
            snap = run.snapshot()
            autosave("rbm", run)  # before a stop's rerun below: the run as it stopped is saved at once
            if run.message:
                st.warning(run.message, icon="⏸")
            if was_playing and not run.playing:
                st.rerun()  # stopped by itself: redraw the Play button
            draw_frame(run, snap)
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    view()


def draw_frame(run: EnergyRun, snap) -> None:
    """One frame of the live view: the numbers, the curves, the filters, reconstructions, dreams and the
    free energies."""
    t = run.trainer
    m = st.columns(5)
    m[0].metric("Step", f"{t.step_count:,}")
    m[1].metric("Epoch", f"{t.epoch:,}")
    m[2].metric("Reconstruction error", fmt(snap.recon_error),
                help="Mean squared error per pixel of the test digits passed up to the hidden units and back")
    m[3].metric("Free-energy gap", fmt(snap.free_energy_gap),
                help="Mean F of random binary images minus mean F of the test digits: how much likelier the "
                     "model finds digits")
    m[4].metric("Steps / s", f"{run.steps_per_second:,.0f}" if run.playing else "—")
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Reconstruction error** of the test digits")
        live_plotly(curves_figure(t.history, [("recon_error", "test digits", BLUE)], "mean squared error",
                                  key="en_rbm_recon"), key="en_rbm_recon")
    with right:
        st.markdown("**Free energy** F(v): lower is likelier")
        live_plotly(curves_figure(t.history, [("free_energy_test", "test digits", BLUE),
                                              ("free_energy_train", "training digits", GREEN),
                                              ("free_energy_random", "random binary images", ORANGE)],
                                  "mean F(v)", key="en_rbm_free"), key="en_rbm_free")
    left, right = st.columns([1.2, 1], gap="medium")
    with left:
        st.markdown(f"**Filters**: the weights of {min(SHOWN_FILTERS, t.model.n_hidden)} hidden units, as 8×8 "
                    "pictures (blue positive, orange negative)")
        filters = t.filters()[:SHOWN_FILTERS]
        live_plotly(pictures_figure(filters, cols=min(8, len(filters)), height=330, diverging=True,
                                    per_picture_scale=True, key="en_rbm_filters", hover="hidden unit"),
                    key="en_rbm_filters")
    with right:
        digits, reconstructions = t.reconstructions(10)
        st.markdown("**Test digits** (top) **and their reconstructions** (bottom)")
        live_plotly(pictures_figure(np.concatenate([digits, reconstructions]).reshape(-1, 8, 8), cols=10,
                                    height=110, key="en_rbm_recons", hover="digit"), key="en_rbm_recons")
        dream_steps = st.segmented_control("Gibbs rounds per frame", DREAM_STEPS, key="en_dream_steps",
                                           help="How far the shown chain runs each frame") or 1
        dreams = t.dream(int(dream_steps) if run.playing else 0)
        st.markdown(f"**Dreams**: a Gibbs chain started from random images, after {t.dream_steps:,} rounds")
        live_plotly(pictures_figure(dreams.reshape(-1, 8, 8), cols=10, height=70, key="en_rbm_dreams",
                                    hover="chain"), key="en_rbm_dreams")
    f_test, f_random = t.free_energies()
    st.markdown("**Free energy of each test digit and of random binary images**: training pushes the digits "
                "down and leaves the random images up")
    live_plotly(free_energy_figure(f_test, f_random, key="en_rbm_histogram"), key="en_rbm_histogram")
