"""Edit a weight, as in TensorFlow Playground: a click on an edge of the network diagram opens a box for
that weight, a click on a neuron one for its bias; the typed value is written into the network, training
goes on from it, and the diagram and the boundary are drawn from it at once."""
from __future__ import annotations

import streamlit as st

from engine.mlp.trainer import MAX_TYPED_WEIGHT

state = st.session_state


def layer_names(n_hidden: int) -> list[str]:
    return ["input"] + [f"hidden{i + 1}" for i in range(n_hidden)] + ["output"]


def target_of_click(customdata) -> tuple[tuple[int, int] | None, tuple[int, int, int | None] | None]:
    """(neuron to enlarge, parameter to edit) for a click on the diagram: an edge's midpoint carries
    ["w", layer, to, from]; a neuron [column, index], whose bias is the parameter (none for an input)."""
    if not customdata:
        return None, None
    if customdata[0] == "w":
        _, layer, row, column = customdata
        return None, (int(layer), int(row), int(column))
    column, index = int(customdata[0]), int(customdata[1])
    return (column, index), ((column - 1, index, None) if column >= 1 else None)


def editor_key(target: tuple[int, int, int | None]) -> str:
    layer, row, column = target
    return f"pg_edit_value_{layer}_{row}_{'b' if column is None else column}"


def on_diagram_click(point: dict) -> None:
    """A click on the network diagram (before the rerun it starts): choose what to enlarge and edit."""
    neuron, target = target_of_click(point.get("customdata"))
    if neuron is not None:
        state.pg_selected_neuron = neuron
    state.pg_edit_target = target
    if target is not None:
        state.pop(editor_key(target), None)  # the box opens on the parameter's value now, not an old typed one


def describe(target: tuple[int, int, int | None], n_hidden: int) -> str:
    layer, row, column = target
    names = layer_names(n_hidden)
    if column is None:
        return f"bias of {names[layer + 1]}[{row}]"
    return f"weight {names[layer]}[{column}] → {names[layer + 1]}[{row}]"


def current_value(weights: list, target: tuple[int, int, int | None]) -> float | None:
    """The parameter's value in this network; None when the network has since changed shape."""
    layer, row, column = target
    if layer >= len(weights):
        return None
    w, b = weights[layer]
    if row >= w.shape[0] or (column is not None and column >= w.shape[1]):
        return None
    return float(b[row] if column is None else w[row, column])


def weight_editor(run) -> None:
    """The box for the chosen weight or bias, below the diagram."""
    target = state.get("pg_edit_target")
    if target is None:
        return
    trainer = run.trainer
    value = current_value(trainer.weights(), target)
    if value is None:  # the network was rebuilt with another shape
        state.pg_edit_target = None
        return
    name = describe(target, len(trainer.config.model.hidden))
    key = editor_key(target)
    state.setdefault(key, round(value, 3) if abs(value) <= MAX_TYPED_WEIGHT else 0.0)
    with st.form("pg_edit_form", border=True):
        st.markdown(f"**Edit the {name}** — now {value:+.3f}. Type a value and press *Set*: training goes on from it.")
        c = st.columns([2, 1, 1], vertical_alignment="bottom")
        typed = c[0].number_input(name, -MAX_TYPED_WEIGHT, MAX_TYPED_WEIGHT, step=0.1, format="%.3f", key=key,
                                  label_visibility="collapsed")
        chosen = c[1].form_submit_button("Set", type="primary", use_container_width=True)
        closed = c[2].form_submit_button("Close", use_container_width=True)
    if closed:
        state.pg_edit_target = None
        st.rerun()
    if chosen:
        try:
            old = run.edit_parameter(*target, float(typed))
        except ValueError as e:  # the widget keeps the range; an engine refusal is still said in one line
            st.warning(f"That value was not set: {e}.", icon="✋")
            return
        state.pg_edit_note = f"The {name} was {old:+.3f}; now {float(typed):+.3f}. Training goes on from it."
        st.rerun()  # the diagram above and the boundary are drawn from the new weight
    if state.get("pg_edit_note"):
        st.caption(state.pop("pg_edit_note"))
