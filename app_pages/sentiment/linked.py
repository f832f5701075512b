"""The test split's results with a confusion matrix that takes a click: the texts of the cell
clicked (true class × predicted class) are listed under it, with the probabilities the network
gave them.

Drawn when training stands still (the page shows the test results only then), in a fragment: a
click reruns this part alone, not the page's data preparation and sentence explanation. Texts and
class names are the user's (an uploaded CSV): the table shows them as plain text, and the heading
escapes them (md_escape)."""
from __future__ import annotations

import weakref

import numpy as np
import streamlit as st

from app_pages.common.live_plotly import static_chart_config
from app_pages.common.text import md_escape
from viz.linked import CELL_CLICK, PREDICTED_FIELD, TRUE_FIELD, confusion_cells_chart
from viz.sentiment import per_class_figure

CELL_KEY = "sn_confusion_cells"
MAX_LISTED = 500           # texts listed for one click; a diagonal cell of all tweets holds thousands
_CACHE_KEY = "sn_cells_probabilities"


def picked_cells(selection, class_names: list[str]) -> list[tuple[int, int]]:
    """(true, predicted) class indices of the clicked cells, in click order, from what
    st.altair_chart returns under .selection; cells of classes no longer there are dropped."""
    picked = (selection or {}).get(CELL_CLICK) or []
    if isinstance(picked, dict):  # Vega's other form: {field: [values]}, one value per cell
        picked = [dict(zip(picked, values)) for values in zip(*picked.values())]
    index = {str(name): i for i, name in enumerate(class_names)}
    cells = []
    for point in picked:
        true, predicted = index.get(str(point.get(TRUE_FIELD))), index.get(str(point.get(PREDICTED_FIELD)))
        if true is not None and predicted is not None and (true, predicted) not in cells:
            cells.append((true, predicted))
    return cells


def cell_rows(texts: list[str], y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str],
              cells: list[tuple[int, int]], limit: int = MAX_LISTED) -> tuple[list[dict], int]:
    """The rows of the test split whose (true class, predicted class) is one of `cells`, the most
    confident prediction first, at most `limit` of them; and how many there are in all.
    texts (N,), y_true (N,) class indices, probabilities (N, classes); predicted = the argmax."""
    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    predicted = probabilities.argmax(1)
    inside = np.zeros(len(y_true), dtype=bool)
    for true, guess in cells:
        inside |= (y_true == true) & (predicted == guess)
    rows = np.flatnonzero(inside)
    confidence = probabilities[rows, predicted[rows]]
    rows = rows[np.argsort(-confidence, kind="stable")]
    listed = [{"text": texts[i], "true": class_names[y_true[i]], "predicted": class_names[predicted[i]],
               "P(predicted)": float(probabilities[i, predicted[i]]), "P(true)": float(probabilities[i, y_true[i]])}
              for i in rows[:limit]]
    return listed, len(rows)


def test_probabilities(trainer) -> np.ndarray:
    """(test rows, classes) probabilities of the network as it stands, computed once per step:
    a click on another cell reads them again. Kept by a weak reference to the trainer, so a
    replaced network is not held in memory for them."""
    cached = st.session_state.get(_CACHE_KEY)
    if cached and cached[0]() is trainer and cached[1] == trainer.step_count:
        return cached[2]
    probabilities = trainer.evaluate(trainer.data.splits["test"])[2]
    st.session_state[_CACHE_KEY] = (weakref.ref(trainer), trainer.step_count, probabilities)
    return probabilities


@st.fragment
def test_split_view(trainer, report: dict) -> None:
    """The confusion matrix (click a cell) and the per-class scores side by side, the clicked
    cell's texts below."""
    names = report["classes"]
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Confusion matrix**")
        event = st.altair_chart(confusion_cells_chart(report["confusion"], names), key=CELL_KEY, on_select="rerun",
                                selection_mode=[CELL_CLICK], width="stretch")
        st.caption("Click a cell to read its test texts below (shift-click adds cells, double-click clears). Each "
                   "row is a true class; the diagonal holds the hits and the colour is the share of the row. Look "
                   "at where neutral goes: neutral tweets share most of their words with the others, and the "
                   "annotators themselves agreed least on them.")
    with right:
        st.markdown("**Precision, recall and F1 per class**")
        st.plotly_chart(per_class_figure(report), key="sn_per_class", config=static_chart_config("per-class"))
        st.caption("Precision: of the texts called this class, the share that are. Recall: of the texts of this "
                   "class, the share found. The smallest class usually has the lowest recall.")
    cells = picked_cells(event.selection if event else None, names)
    if not cells:
        return
    test = trainer.data.splits["test"]
    rows, total = cell_rows([trainer.data.texts[i] for i in test], trainer.data.y[test], test_probabilities(trainer),
                            names, cells)
    where = "; ".join(f"true “{md_escape(names[t])}”, predicted “{md_escape(names[p])}”" for t, p in cells)
    if not total:
        st.markdown(f"**No test text** — {where}")
        return
    shown = f" (the {len(rows)} most confident listed)" if len(rows) < total else ""
    st.markdown(f"**{total:,} test text{'s' if total != 1 else ''}** — {where}{shown}")
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"text": st.column_config.TextColumn(width="large"),
                                "P(predicted)": st.column_config.NumberColumn(format="%.3f"),
                                "P(true)": st.column_config.NumberColumn(format="%.3f")})
