"""The deep belief net tab: RBMs pretrained greedily layer by layer, then fine-tuned as a digit classifier
against the same network from random initialisation, on a learning curve over the labelled digits."""
from __future__ import annotations

import math

import streamlit as st

from app_pages.common.live_plotly import live_plotly
from app_pages.energy.controls import control_bar, current_run
from app_pages.energy.saving import autosave, take_home
from app_pages.energy.state import (DBN_FINETUNE, DBN_FINETUNE_LR, DBN_LAYERS, DBN_PRETRAIN, LEARNING_RATES, RBM_K,
                                    EnergyRun, fmt, fmt_percent)
from engine.energy.config import LABELLED_ALL
from viz.colors import BLUE, ORANGE
from viz.energy import curves_figure, layer_errors_figure, learning_curve_figure

state = st.session_state
STEP_BUTTON_STEPS = 200


def settings() -> None:
    c = st.columns([1.4, 1.4, 1, 2, 1.4, 1.6])
    c[0].selectbox("RBM layers", list(DBN_LAYERS), key="en_dbn_layers",
                   format_func=lambda name: " → ".join(["64", *name.split("-")]))
    c[1].selectbox("Pretraining steps", DBN_PRETRAIN, key="en_dbn_pretrain", format_func=lambda n: f"{n:,} per layer")
    c[2].selectbox("CD-k: k", RBM_K, key="en_dbn_k")
    c[3].select_slider("Pretraining rate", LEARNING_RATES, key="en_dbn_lr")
    c[4].selectbox("Fine-tuning steps", DBN_FINETUNE, key="en_dbn_finetune", format_func=lambda n: f"{n:,} per count")
    c[5].selectbox("Fine-tuning rate (Adam)", DBN_FINETUNE_LR, key="en_dbn_finetune_lr")


def dbn_section() -> None:
    settings()
    run = current_run("dbn")
    t = run.trainer
    counts = ", ".join("all" if n == LABELLED_ALL else f"{n:,}" for n in t.config.labelled)
    control_bar("dbn", run, STEP_BUTTON_STEPS,
                f"64 → {' → '.join(map(str, t.config.hidden))} → 10 classes · pretrained on {len(t.x_train_np):,} "
                f"unlabelled digits, then fine-tuned on {counts} labelled ones · {t.total_steps:,} steps in all")
    live_view(run)
    take_home("dbn")


def phase_text(snap, trainer) -> str:
    if snap.phase == "pretrain":
        return f"Pretraining RBM {snap.layer} of {len(trainer.config.hidden)}"
    if snap.phase == "finetune":
        return f"Fine-tuning on {snap.labelled:,} labelled"
    return "Done"


def live_view(run: EnergyRun) -> None:
    @st.fragment(run_every=run.pace.run_every(run.playing))
    def view() -> None:
        run: EnergyRun = state.en_dbn_run
        was_playing = run.playing
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            run.train()
            frame.trained()
            snap = run.snapshot()
            autosave("dbn", run)  # before a stop's rerun below: the run as it stopped is saved at once
            if run.message:
                st.info(run.message, icon="✅") if run.trainer.finished else st.warning(run.message, icon="⏸")
            if was_playing and not run.playing:
                st.rerun()  # stopped by itself: redraw the Play button
            draw_frame(run, snap)
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    view()


def draw_frame(run: EnergyRun, snap) -> None:
    """One frame of the live view: the numbers, the greedy pretraining, the learning curve against the
    labelled digits and the fine-tuning."""
    t = run.trainer
    m = st.columns(5)
    m[0].metric("Step", f"{t.step_count:,} of {t.total_steps:,}")
    m[1].metric("Phase", phase_text(snap, t))
    m[2].metric("Reconstruction error", fmt(snap.recon_error),
                help="Of the RBM being pretrained (or the top one), on the test digits passed up to its input")
    m[3].metric("Test accuracy, pretrained", fmt_percent(snap.test_accuracy))
    m[4].metric("Test accuracy, random init", fmt_percent(snap.test_accuracy_random))
    st.progress(min(1.0, t.step_count / t.total_steps), text=phase_text(snap, t))
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Greedy pretraining**: each RBM's reconstruction error (green: the one training now)")
        live_plotly(layer_errors_figure(snap.layer_recon_errors, snap.layer, key="en_dbn_layers_now"),
                    key="en_dbn_layers_now")
        pretraining = [h for h in t.history if h["pretraining_layer"]]
        live_plotly(curves_figure(pretraining, [("recon_error", "the RBM being pretrained", BLUE)],
                                  "reconstruction error", height=200, key="en_dbn_recon"),
                    key="en_dbn_recon")
    with right:
        st.markdown("**Test accuracy against the labelled digits**: pretrained and fine-tuned, against the same "
                    "network from random initialisation (hollow: being fine-tuned)")
        live = (snap.labelled, {"pretrained": snap.test_accuracy, "random": snap.test_accuracy_random}) \
            if snap.phase == "finetune" and math.isfinite(snap.test_accuracy) else None
        counts = [t.labelled_count(i) for i in range(len(t.config.labelled))]
        live_plotly(learning_curve_figure(snap.results, counts, live, height=420, key="en_dbn_curve"),
                    key="en_dbn_curve")
    tuning = [h for h in t.history if h["phase"] in ("finetune", "done") and math.isfinite(h["test_accuracy"])]
    if tuning:
        st.markdown("**Fine-tuning**, step by step (each labelled count starts again from the pretrained RBMs "
                    "and from a new random initialisation)")
        live_plotly(curves_figure(tuning, [("test_accuracy", "pretrained", BLUE),
                                           ("test_accuracy_random", "random initialisation", ORANGE)],
                                  "test accuracy", height=220, key="en_dbn_tuning", percent=True,
                                  from_zero=False),
                    key="en_dbn_tuning")
