"""Inspect a range of steps: brush the loss curve and see, beside it, the gradient norm of every
layer at each of those steps, for every network compared, on one colour scale.

The live heatmap squeezes the whole run into a few hundred columns; this one spends its columns
on the steps brushed, so the first steps, a spike of the loss or the moment the gradient died can
be read step by step. Drawn while training is paused, from the histories as they stand: the live
view's frames never redraw it, so a brush stays where it was put, and a Step keeps it. Play takes
the area, and the brush with it, away until the next pause."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.common.text import md_escape
from viz.gradients import FLOOR
from viz.linked import STEP_BRUSH, loss_brush_chart, step_range_heatmap

BRUSH_KEY = "vg_steps_brush"
MAX_COLUMNS = 200  # per network; more steps brushed are averaged in equal groups of consecutive steps


def brushed_range(selection) -> tuple[float, float] | None:
    """(first, last) step of the brush from what st.altair_chart returns under .selection; None
    without a brush."""
    span = ((selection or {}).get(STEP_BRUSH) or {}).get("step")
    if not span or len(span) != 2:
        return None
    lo, hi = sorted(float(v) for v in span)
    return lo, hi


def log_norms(norms: np.ndarray) -> np.ndarray:
    """log10 of gradient norms; an exact zero (a dead layer) or a NaN at viz.gradients.FLOOR."""
    v = np.nan_to_num(np.asarray(norms, dtype=np.float64), nan=FLOOR, posinf=1e30)
    return np.log10(np.clip(v, FLOOR, None))


def range_columns(steps: np.ndarray, norms: np.ndarray, lo: float, hi: float,
                  max_columns: int = MAX_COLUMNS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The heatmap columns for the recorded steps in [lo, hi]: (starts, ends, log10 norms
    (columns, layers)). One column per recorded step while they fit, covering the steps up to the
    next recorded one (older history keeps every other step); beyond max_columns, equal groups of
    consecutive recorded steps, each the mean of their log10 norms (a geometric mean)."""
    steps, norms = np.asarray(steps), np.asarray(norms)
    rows = np.flatnonzero((steps >= lo) & (steps <= hi))
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, norms.shape[1]))
    after = np.append(steps[1:], steps[-1] + 1)  # the step each recorded one stands for, up to (excluded)
    groups = np.array_split(rows, min(len(rows), max_columns))
    starts = np.array([steps[g[0]] for g in groups])
    ends = np.array([after[g[-1]] for g in groups])
    logs = log_norms(norms)
    return starts, ends, np.stack([logs[g].mean(axis=0) for g in groups])


def color_domain(columns: list[np.ndarray]) -> tuple[float, float]:
    """One log10 range for every network's heatmap, from the values above the floor."""
    values = np.concatenate([c.ravel() for c in columns]) if columns else np.zeros(0)
    values = values[values > np.log10(FLOOR)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (-8.0, 0.0)
    return (lo - 0.5, hi + 0.5) if hi - lo < 1 else (lo, hi)


def inspect_steps(lab) -> None:
    """The Inspect area of the Vanishing gradients page, under the live view."""
    with st.expander("🔍 Inspect: brush a range of steps and see every layer's gradient there", expanded=True):
        if lab.playing:
            st.caption("Pause to brush the loss curve: the view is drawn from the networks as they stand.")
            return
        _brush_and_heatmaps(lab)


@st.fragment
def _brush_and_heatmaps(lab) -> None:
    # A fragment: a new brush reruns this area alone, not the live view.
    st.caption("Drag over the loss curve to pick a range of steps; beside it, the gradient norm of every layer at "
               "each of those steps. Drag the range to move it, click outside it to clear it.")
    left, right = st.columns([1, 1.25], gap="medium")
    with left:
        event = st.altair_chart(loss_brush_chart([(r.label, r.trainer.history) for r in lab.runs]), key=BRUSH_KEY,
                                on_select="rerun", selection_mode=[STEP_BRUSH], width="stretch")
    span = brushed_range(event.selection if event else None)
    with right:
        if span is None:
            st.markdown("**No steps brushed yet**")
            st.caption("The heatmaps will show layers (input at the bottom) × the steps brushed, one per network.")
            return
        lo, hi = span
        if np.ceil(lo) > np.floor(hi):
            st.markdown("**No step in this range**: drag over a wider one.")
            return
        tables = [(run, range_columns(run.steps, run.norms, lo, hi)) for run in lab.runs]
        domain = color_domain([logs for _, (_, _, logs) in tables])
        first, last = int(np.ceil(lo)), int(np.floor(hi))
        steps = f"Steps {first:,} to {last:,}" if last > first else f"Step {first:,}"
        st.markdown(f"**{steps}**: ‖∇W‖ of every layer")
        height = max(140, 420 // len(tables))
        averaged = False
        for i, (run, (starts, ends, logs)) in enumerate(tables):
            if not len(starts):
                st.caption(f"{md_escape(run.label)}: no step recorded in this range.")
                continue
            st.caption(f"**{md_escape(run.label)}**")
            st.altair_chart(step_range_heatmap(starts, ends, logs, run.layer_names, domain), height=height,
                            key=f"vg_range_heatmap_{i}", width="stretch")
            averaged |= len(starts) < int(((run.steps >= lo) & (run.steps <= hi)).sum())
        if averaged:
            st.caption(f"More steps than {MAX_COLUMNS} columns: each column averages the log10 norms of the steps "
                       "it covers.")
