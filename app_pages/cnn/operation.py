"""The Convolutions page's "One kernel" tab: one kernel stepped over one digit cell by cell with the
arithmetic of each output cell written out (as CNN Explainer does), then 2×2 pooling of its output,
a whole layer of kernels with its parameter count, and the transposed convolution of a decoder.
Widgets -> operation_state (plain Python over engine/cnn/ops.py) -> viz -> st.*."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.cnn.operation_state import (CUSTOM, CUSTOM_LIMIT, DILATIONS, EXAMPLES, KERNEL_CHOICES, LAYER_SEEDS,
                                           LAYER_SOURCES, OP_DEFAULTS, PADDINGS, STRIDES, TR_INPUTS, TR_KERNELS,
                                           OperationSetup, apply_edits, cell_arithmetic, cell_of, checkerboard_sentence,
                                           chosen_kernel, clamp_position, corrections, example_label,
                                           kernel_description, layer_inputs, layer_kernels, layer_sentence,
                                           operation_setup, output_so_far, padding_note, play_step, test_digit,
                                           transposed_input, transposed_kernel)
from app_pages.common.controls import play_pause_button
from app_pages.common.live_plotly import live_plotly, static_chart_config
from engine.cnn import ops
from viz.cnn_ops import grid_figure, layer_figure, output_so_far_figure, pooling_figure, window_input_figure

PLAYING, POSITION, EDITOR_VERSION = "cv_op_playing", "cv_op_position", "cv_op_editor_version"
PLAY_INTERVAL_S = 0.5  # two cells a second: slow enough to read the sum of each
CHART = static_chart_config("convolution")  # a PNG button on hover


# Button callbacks take the position they were drawn for: a click the browser delivers twice
# (with a tick of Play and with the rerun it asks for) then lands on the same cell.
def _on_step(drawn: int, delta: int, count: int) -> None:
    st.session_state[PLAYING] = False
    st.session_state[POSITION] = clamp_position(drawn + delta, count)


def _on_play(play: bool, drawn: int, count: int) -> None:
    st.session_state[PLAYING] = play
    if play and drawn >= count - 1:  # Play at the last cell starts again from the first
        st.session_state[POSITION] = 0


def _on_slide() -> None:
    st.session_state[PLAYING] = False


def _on_kernel_edit(size: int, editor_key: str) -> None:
    edits = (st.session_state.get(editor_key) or {}).get("edited_rows", {})
    key = f"cv_op_custom{size}"
    st.session_state[key] = apply_edits(st.session_state[key], size, edits)
    # A fresh editor on the new numbers: the old one's edits would be applied again over them.
    st.session_state[EDITOR_VERSION] = st.session_state.get(EDITOR_VERSION, 0) + 1


def _on_new_seed(drawn: int) -> None:
    st.session_state.cv_op_layer_seed = (drawn + 1) % (LAYER_SEEDS[1] + 1)


def _settings() -> None:
    state = st.session_state
    c = st.columns([0.8, 1, 1.3, 1, 1, 1])
    c[0].selectbox("Digit", list(range(10)), key="cv_op_digit", format_func=lambda d: f"a {d}")
    c[1].selectbox("Which one", list(range(1, EXAMPLES + 1)), key="cv_op_example", format_func=example_label,
                   help="Among the test digits")
    c[2].selectbox("Kernel", KERNEL_CHOICES, key="cv_op_kernel")
    c[3].slider("Padding", *PADDINGS, key="cv_op_padding", help="Rings of zeros around the digit")
    c[4].slider("Stride", *STRIDES, key="cv_op_stride", help="Cells the kernel moves at each step")
    c[5].slider("Dilation", *DILATIONS, key="cv_op_dilation", help="Gap between the cells the kernel reads")
    st.caption(kernel_description(state.cv_op_kernel))
    for size, name in CUSTOM.items():
        if state.cv_op_kernel == name:
            editor_key = f"cv_op_editor{size}_{state.get(EDITOR_VERSION, 0)}"
            kernel = chosen_kernel(state)
            columns = [str(c + 1) for c in range(size)]
            number = st.column_config.NumberColumn(min_value=-CUSTOM_LIMIT, max_value=CUSTOM_LIMIT, step=0.001,
                                                    format="plain")
            st.data_editor(pd.DataFrame(kernel, columns=columns), key=editor_key, hide_index=True,
                           num_rows="fixed", column_config={c: number for c in columns}, width=60 * size + 20,
                           on_change=_on_kernel_edit, args=(size, editor_key))


def _stepping_view(setup: OperationSetup, ticking: bool) -> None:
    """The kernel at one position: the buttons, the four grids, the sum written out. A fragment: a
    step or a tick of Play redraws only this."""
    state = st.session_state
    count, playing = len(setup.positions), state[PLAYING]
    if playing != ticking:
        st.rerun()  # Play or a step pressed here: only a full run starts or stops the timer
    position = clamp_position(state.get(POSITION, 0), count)
    go_on = True
    if playing:
        position, go_on = play_step(position, count)
    state[POSITION] = position
    if not go_on:
        state[PLAYING] = False
        st.rerun()  # the last cell: stop the timer
    nav = st.columns([1, 1, 1, 4.5], vertical_alignment="bottom")
    nav[0].button("◀ Previous", key="cv_op_prev", on_click=_on_step, args=(position, -1, count),
                  disabled=position == 0, width="stretch")
    nav[1].button("Next ▶", key="cv_op_next", on_click=_on_step, args=(position, 1, count),
                  disabled=position == count - 1, width="stretch")
    play_pause_button(nav[2], "cv_op", playing, _on_play, args=(not playing, position, count),
                      help="Move the kernel on by itself, two cells a second")
    cell = cell_of(setup, position)
    if count > 1:
        nav[3].slider(f"Position: output cell ({cell.i}, {cell.j}), {position + 1} of {count}", 0, count - 1,
                      key=POSITION, on_change=_on_slide)
    p, (k, _), (rows, cols) = setup.padding, setup.kernel.shape, setup.output.shape
    c = st.columns([1.3, 0.85, 0.85, 1.2])
    with c[0]:
        title = f"Input, padding {p} in grey" if p else "Input (no padding)"
        live_plotly(window_input_figure(setup.padded, setup.border, cell.padded_rows, cell.padded_cols, title,
                                        key="op_input"), key="cv_op_fig_input")
    with c[1]:
        live_plotly(grid_figure(setup.kernel, f"Kernel {k}×{k}", digits=3, diverging=True, height=330,
                                       key="op_kernel"), key="cv_op_fig_kernel")
    with c[2]:
        live_plotly(grid_figure(cell.products, "Input × kernel", digits=2, diverging=True, height=330,
                                       mask=cell.in_padding, key="op_products"), key="cv_op_fig_products")
    with c[3]:
        live_plotly(output_so_far_figure(output_so_far(setup, position), setup.output, (cell.i, cell.j),
                                         f"Output {rows}×{cols}", key="op_output"), key="cv_op_fig_output")
    st.markdown(f"**Output cell ({cell.i}, {cell.j})** = {cell_arithmetic(cell)}")
    st.caption("Each product is an input under the kernel's window (red) times the kernel's weight at the same "
               f"place; their sum is the output cell (green).{padding_note(cell)}")
    st.markdown(f"**Output size**, along each axis: `{setup.formula}` (input n = 8, padding {p}, dilation "
                f"{setup.dilation}, kernel {k}, stride {setup.stride}): the output map is {rows}×{cols}, "
                f"{count} positions.")


def _pooling(output: np.ndarray) -> None:
    st.markdown("**Pooling: 2×2 windows over the output map**")
    if min(output.shape) < 2:
        st.caption(f"The {output.shape[0]}×{output.shape[1]} output is smaller than one 2×2 window: lower the "
                   "stride or the dilation, or add padding, to pool it.")
        return
    winners = ops.max_pool_winners(output, 2)
    pooled_max, pooled_avg = ops.pool2d(output, 2, mode="max"), ops.pool2d(output, 2, mode="avg")
    c = st.columns([1.3, 1, 1])
    c[0].plotly_chart(pooling_figure(output, winners, 2, "Output map: the max of each window in green"),
                      key="cv_op_pool_input", config=CHART)
    c[1].plotly_chart(grid_figure(pooled_max, f"Max pooling: {pooled_max.shape[0]}×{pooled_max.shape[1]}",
                                         digits=1, diverging=True, key="op_max"), key="cv_op_pool_max", config=CHART)
    c[2].plotly_chart(grid_figure(pooled_avg, "Average pooling", digits=1, diverging=True, key="op_avg"),
                      key="cv_op_pool_avg", config=CHART)
    dropped = " (an odd last row or column falls in no window and is dropped)" if output.shape[0] % 2 else ""
    st.caption("Each output cell of a pooling is one number for a 2×2 window, two cells apart: the map halves"
               f"{dropped}. Max pooling keeps the strongest response wherever in the window it was, so a pattern "
               "moved by a pixel often gives the same number; average pooling keeps the mean.")


def _layer(image: np.ndarray, p: int, s: int, d: int) -> None:
    state = st.session_state
    st.markdown("**A layer: every output map looks at every input map, each through its own kernel**")
    c = st.columns([1, 1, 1.5, 1], vertical_alignment="bottom")
    c[0].slider("Input maps C_in", 1, 3, key="cv_op_c_in")
    c[1].slider("Output maps C_out", 1, 8, key="cv_op_c_out")
    c[2].radio("Kernels", list(LAYER_SOURCES), format_func=LAYER_SOURCES.get, key="cv_op_layer_source",
               horizontal=True)
    c[3].button("🎲 New random kernels", key="cv_op_new_seed", on_click=_on_new_seed,
                args=(state.cv_op_layer_seed,), disabled=state.cv_op_layer_source != "random", width="stretch")
    c_in, c_out = state.cv_op_c_in, state.cv_op_c_out
    x = layer_inputs(image, c_in)
    weights = layer_kernels(c_in, c_out, state.cv_op_layer_source, state.cv_op_layer_seed)
    out = ops.conv_layer(x, weights, None, p, s, d)
    counts = ops.layer_params(c_in, c_out, 3, 8, 8, p, s, d)
    inputs = "the digit" + (", its sobel x and sobel y maps" if c_in > 1 else "")
    st.caption(f"Row c: input map c ({inputs}) and the kernels that read it; column o: output map o's kernels, one "
               "per input map, and under them output map o, the sum of those kernels slid over their input maps "
               "with the padding, stride and dilation above (biases 0 here). Orange negative, blue positive, each "
               "map on its own scale.")
    st.plotly_chart(layer_figure(x, weights, out), key="cv_op_layer", config=CHART)
    st.markdown(layer_sentence(c_in, c_out, 3, counts))


def _transposed(image: np.ndarray, kernel: np.ndarray) -> None:
    state = st.session_state
    st.markdown("**Transposed convolution: a small map spread into a larger one** (a decoder's, or a "
                "deconvolutional network's, way up)")
    c = st.columns([1.6, 1, 1])
    c[0].radio("Small map", list(TR_INPUTS), format_func=TR_INPUTS.get, key="cv_op_tr_input", horizontal=True)
    c[1].selectbox("Spreading kernel", list(TR_KERNELS), format_func=TR_KERNELS.get, key="cv_op_tr_kernel")
    c[2].slider("Spreading stride", 1, 2, key="cv_op_tr_stride")
    x = transposed_input(state.cv_op_tr_input, image)
    spread = transposed_kernel(state.cv_op_tr_kernel, kernel)
    stride, k = state.cv_op_tr_stride, spread.shape[0]
    out = ops.conv_transpose2d(x, spread, stride)
    counts = ops.overlap_counts(x.shape, k, stride)
    c = st.columns([0.8, 0.7, 1.2, 1.2])
    figures = [(x, f"Small map {x.shape[0]}×{x.shape[1]}", False), (spread, f"Kernel {k}×{k}", True),
               (out, f"Output {out.shape[0]}×{out.shape[1]}", True), (counts, "Copies overlapping each cell", False)]
    for column, (values, title, diverging), name in zip(c, figures, ("in", "k", "out", "counts")):
        column.plotly_chart(grid_figure(values, title, digits=2 if name == "k" else 0 if values.shape[1] > 8 else 1,
                                               diverging=diverging,
                                               height=280, key=f"op_tr_{name}"), key=f"cv_op_tr_{name}", config=CHART)
    st.markdown(f"Each cell of the small map adds a copy of the kernel, scaled by its value, into the output, "
                f"{stride} cell{'s' if stride > 1 else ''} on from the last: `out = (n − 1)·s + k = "
                f"({x.shape[0]} − 1)·{stride} + {k} = {ops.transposed_output_size(x.shape[0], k, stride)}`. "
                + checkerboard_sentence(k, stride, counts))


def operation_section() -> None:
    """The "One kernel" tab, drawn where it is called (inside the page's first tab)."""
    state = st.session_state
    for key, value in OP_DEFAULTS.items():
        state.setdefault(key, value)
    state.setdefault(PLAYING, False)
    state.update(corrections(state))  # a value no widget can show goes back to its default
    st.caption("A convolution slides one small kernel over the image; each output cell is the sum of the "
               "kernel's weights times the input cells under it. Step it over a digit, cell by cell.")
    _settings()
    image, _ = test_digit(state.cv_op_digit, state.cv_op_example)
    try:
        setup = operation_setup(state)
    except ValueError as e:  # the kernel does not fit: the engine's sentence says what to change
        state[PLAYING] = False
        st.warning(f"{e}.", icon="📐")
        setup = None
    if setup is not None:
        ticking = bool(state[PLAYING])
        st.fragment(run_every=PLAY_INTERVAL_S if ticking else None)(_stepping_view)(setup, ticking)
        st.divider()
        _pooling(setup.output)
    st.divider()
    _layer(image, state.cv_op_padding, state.cv_op_stride, state.cv_op_dilation)
    st.divider()
    _transposed(image, chosen_kernel(state))
