"""Inspect the codes: brush test digits in the code plane and see them beside their
reconstructions (viz/linked.py draws both).

Drawn while training is paused, from the network as it stands: the live view's frames never
redraw it, so a brush stays where it was put. A Step keeps the brush (the chart keeps its key)
and shows what the moved codes now hold. Play takes the area, and the brush with it, away until
the next pause: while training the codes move, and a box drawn over old codes would mislead."""
from __future__ import annotations

from collections import Counter

import numpy as np
import streamlit as st

from viz.linked import CODE_BRUSH, code_brush_chart, digit_pairs_chart

BRUSH_KEY = "ae_codes_brush"
MAX_SHOWN = 24  # digit pairs drawn: enough to see what a region holds, small enough to read


def brushed_images(coords: np.ndarray, selection) -> np.ndarray:
    """Indices (sorted) of the points inside the brushed rectangle; empty without a brush.
    coords (M, 2): the points as the chart plots them (for a one-number code, the code and the
    digit, which the chart puts on the vertical axis). The selection is what st.altair_chart
    returns under .selection: {CODE_BRUSH: {"x": [lo, hi], "y": [lo, hi]}}."""
    box = (selection or {}).get(CODE_BRUSH) or {}
    if "x" not in box:
        return np.zeros(0, dtype=np.int64)
    coords = np.asarray(coords, dtype=np.float64)
    inside = np.ones(len(coords), dtype=bool)
    for column, field in enumerate(("x", "y")):
        if field in box:
            lo, hi = sorted(float(v) for v in box[field])
            inside &= (coords[:, column] >= lo) & (coords[:, column] <= hi)
    return np.flatnonzero(inside)


def digit_counts(digits: np.ndarray) -> str:
    """"12 × 3, 5 × 8": how many of each digit, the most frequent first."""
    return ", ".join(f"{n} × {d}" for d, n in Counter(int(d) for d in digits).most_common())


def inspect_codes(run) -> None:
    """The Inspect area of the Autoencoders page, under the live view."""
    with st.expander("🔍 Inspect: brush the codes and see those digits redrawn", expanded=True):
        if run.playing:
            st.caption("Pause to brush the codes: the view is drawn from the network as it stands.")
            return
        _brush_and_pairs(run)


@st.fragment
def _brush_and_pairs(run) -> None:
    # A fragment: a new brush reruns this area alone, not the live view and its classifier fit.
    trainer = run.trainer
    codes, digits = trainer.test_codes()
    plane = trainer.code_plane(codes)  # the live scatter's plane: the same coordinates
    coords = plane["coords"]
    names = ("PC 1 of the codes", "PC 2 of the codes") if plane["projected"] else ("z1", "z2")
    st.caption("Drag over the codes to see those test digits beside what the autoencoder draws from their codes; "
               "drag the box to move it, click outside it to clear it.")
    left, right = st.columns([1, 1.15], gap="medium")
    with left:
        event = st.altair_chart(code_brush_chart(coords, digits, names), key=BRUSH_KEY, on_select="rerun",
                                selection_mode=[CODE_BRUSH], width="stretch")
    plotted = coords if coords.shape[1] == 2 else np.column_stack([coords[:, 0], digits])
    chosen = brushed_images(plotted, event.selection if event else None)
    with right:
        if not len(chosen):
            st.markdown("**No digits brushed yet**")
            st.caption("Each pair below will show a test digit (left) and its reconstruction (right).")
            return
        shown = chosen[:MAX_SHOWN]
        more = f"; the first {len(shown)} below" if len(chosen) > len(shown) else ""
        st.markdown(f"**{len(chosen)} digit{'s' if len(chosen) != 1 else ''} brushed** "
                    f"({digit_counts(digits[chosen])}){more}")
        x = trainer.x_test_np[shown]
        st.altair_chart(digit_pairs_chart(x, trainer.reconstruct(x), digits[shown], shown), key="ae_brushed_pairs",
                        width="content")
        st.caption("Each pair: the test digit, then the autoencoder's reconstruction from its code; the number "
                   "above is the digit's label, which the autoencoder never saw.")
