"""Figures of the Convolutions page's "One kernel" tab, built on viz/cnn.py's number grid: the padded
digit with the kernel's window on it, the output map filled in up to the current cell, the max
pool's winners, and a whole layer as one grid (input maps, kernels, output maps). Plain dicts, as
viz/cnn.py."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .cnn import CELL, WINDOW, number_grid_figure
from .colors import DIVERGING

NOT_YET = "#f1f1f1"      # output cells the kernel has not reached yet (padding is a darker grey)
POOL_WINDOW = "#888888"  # the 2×2 windows of a pooling


def _cell_box(row: float, col: float, color: str, width: float = 2, rows: int = 1, cols: int = 1,
              dash: str = "solid") -> dict:
    """A rectangle around `rows`×`cols` cells from (row, col), cell centres on whole numbers."""
    return dict(type="rect", xref="x", yref="y", x0=col - 0.5, x1=col + cols - 0.5, y0=row - 0.5,
                y1=row + rows - 0.5, line=dict(color=color, width=width, dash=dash), fillcolor="rgba(0,0,0,0)")


def grid_figure(values: np.ndarray, title: str, **kw) -> go.Figure:
    """viz.cnn.number_grid_figure with no tick marks and no "−0" (a zero weight times a negative one)."""
    fig = number_grid_figure(values, title, **kw)
    # −0.04 shown with one decimal, or 0 times a negative weight, would read "-0"
    fig.data[0].text = [["0" if text == "-0" else text for text in row] for row in fig.data[0].text]
    fig.update_xaxes(ticks="")
    fig.update_yaxes(ticks="")
    return fig


def window_input_figure(padded: np.ndarray, border: np.ndarray, rows: np.ndarray, cols: np.ndarray, title: str,
                        height: int = 330, key: str = "op_input") -> go.Figure:
    """The padded input with its numbers (padding grey) and the kernel's window outlined: its whole
    span in red and, when dilated, each cell it reads (the cells between are skipped)."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    fig = grid_figure(padded, title, digits=0, mask=border, height=height, key=key,
                             window=(int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])))
    if len(rows) > 1 and rows[1] - rows[0] > 1:
        fig.update_layout(shapes=[*fig.layout.shapes, *[_cell_box(r, c, WINDOW, 1.5, dash="dot")
                                                       for r in rows for c in cols]])
    return fig


def output_so_far_figure(shown: np.ndarray, full: np.ndarray, cell: tuple[int, int], title: str,
                         height: int = 330, key: str = "op_output") -> go.Figure:
    """The output map with the cells computed so far (the others NaN, blank), the current one
    outlined; coloured on the scale of the whole map, so a cell's colour does not change as the
    others fill in."""
    fig = grid_figure(shown, title, digits=1, diverging=True, height=height, key=key,
                             window=(cell[0], cell[1], cell[0], cell[1]))
    finite = np.abs(np.asarray(full, dtype=np.float64))
    scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig.update_traces(zmin=-scale, zmax=scale)
    fig.update_layout(plot_bgcolor=NOT_YET)
    return fig


def pooling_figure(values: np.ndarray, winners: np.ndarray, size: int, title: str, height: int = 300,
                   key: str = "op_pool_input") -> go.Figure:
    """The map being pooled: its size×size windows outlined in grey, the cell each max came from in
    green. winners is (H', W', 2), as ops.max_pool_winners gives it."""
    fig = grid_figure(values, title, digits=1, diverging=True, height=height, key=key)
    out_rows, out_cols = winners.shape[:2]
    windows = [_cell_box(i * size, j * size, POOL_WINDOW, 1.5, size, size, "dash")
               for i in range(out_rows) for j in range(out_cols)]
    won = [_cell_box(int(r), int(c), CELL, 3) for r, c in winners.reshape(-1, 2)]
    fig.update_layout(shapes=windows + won)
    return fig


def _scaled(m: np.ndarray) -> np.ndarray:
    peak = float(np.abs(m).max()) if m.size else 0.0
    return m / peak if peak > 0 else m


def _tile(values: np.ndarray, x: float, y: float, name: str, colorscale) -> dict:
    """One map drawn into the unit square at (x, y), each map scaled by its own largest |value|."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64)) + 0.0
    rows, cols = values.shape
    return dict(type="heatmap", z=_scaled(values), x0=x + 0.5 / cols, dx=1 / cols, y0=y + 0.5 / rows, dy=1 / rows,
                zmin=-1, zmax=1, colorscale=colorscale, showscale=False, xgap=0.5, ygap=0.5,
                text=[[f"{v:.3g}" for v in row] for row in values],
                hovertemplate=f"{name}: %{{text}}<extra></extra>")


def layer_figure(inputs: np.ndarray, weights: np.ndarray, outputs: np.ndarray, width: float = 1000,
                 key: str = "op_layer") -> go.Figure:
    """A conv layer as one grid: row c holds input map c and the kernels that read it; column o the
    kernels of output map o and, under them, output map o (their sums). Every map gets the same
    square, whatever its size, so a column's kernels stand right over the map they make."""
    c_out, c_in = weights.shape[:2]
    gap, left = 0.15, 1.4  # between squares; the kernels' first column, after the input maps
    out_y = c_in * (1 + gap) + 0.3
    data = [_tile(inputs[c], 0, c * (1 + gap), f"input map {c + 1}", DIVERGING) for c in range(c_in)]
    for o in range(c_out):
        x = left + o * (1 + gap)
        data += [_tile(weights[o, c], x, c * (1 + gap), f"kernel {c + 1}→{o + 1}", DIVERGING) for c in range(c_in)]
        data.append(_tile(outputs[o], x, out_y, f"output map {o + 1}", DIVERGING))
    right, bottom = left + c_out * (1 + gap) - gap, out_y + 1
    xticks = [0.5] + [left + o * (1 + gap) + 0.5 for o in range(c_out)]
    yticks = [c * (1 + gap) + 0.5 for c in range(c_in)] + [out_y + 0.5]
    axis = dict(showgrid=False, zeroline=False, ticks="")
    height = int(np.clip(width * (bottom + 0.3) / (right + 0.1), 150, 640))
    return go.Figure(data=data, layout=dict(
        height=height, margin=dict(l=70, r=10, t=26, b=10), plot_bgcolor="white", uirevision=key,
        font=dict(size=12), showlegend=False,
        xaxis=dict(**axis, range=[-0.05, right + 0.05], side="top", tickvals=xticks,
                   ticktext=["input"] + [f"out {o + 1}" for o in range(c_out)], constrain="domain"),
        yaxis=dict(**axis, range=[bottom + 0.05, -0.05], tickvals=yticks, scaleanchor="x", scaleratio=1,
                   ticktext=[f"in {c + 1}" for c in range(c_in)] + ["outputs"], constrain="domain")))
