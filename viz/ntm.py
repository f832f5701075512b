"""Figures of the Neural Turing machine page: the training curves of the NTM and the LSTM, one sequence
as bit images (input, target, each model's output), the NTM's write and read weightings over time, its
memory at one step, and the bit error on sequences longer than any trained on.

Panels that share an axis are tiled into one heatmap with NaN gaps rather than drawn as subplots, so a
live frame stays cheap; each figure is built from plain dicts (see viz/cnn.py)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, DIVERGING, ORANGE

NTM_COLOR, LSTM_COLOR = BLUE, ORANGE
BITS = [[0.0, "#ffffff"], [1.0, "#1b1b1b"]]             # 0 white, 1 black: a bit image
WEIGHTS = [[0.0, "#ffffff"], [0.3, "#9ecae1"], [1.0, "#08306b"]]
TRAINED_BAND = "rgba(8, 119, 189, 0.08)"
CHART_FONT = dict(size=12)


def _figure(data: list[dict], height: int, uirevision: str, **layout) -> go.Figure:
    base = dict(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", font=CHART_FONT,
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left"), uirevision=uirevision)
    return go.Figure(data=data, layout={**base, **layout})


def _axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), showgrid=True, gridcolor="#eeeeee", zeroline=False, **kw)


def curves_figure(history: list[dict], kind: str, height: int = 260) -> go.Figure:
    """Both models' curves against the step: kind "loss" (cross-entropy per bit, log scale) or
    "bit_error" (share of wrong bits, in %)."""
    if kind not in ("loss", "bit_error"):
        raise ValueError(f"kind must be 'loss' or 'bit_error', got {kind!r}")
    steps = [p["step"] for p in history]
    scale = 100.0 if kind == "bit_error" else 1.0
    mode = "lines" if len(steps) > 2 else "lines+markers"   # a single point has no line to show
    data = [dict(type="scatter", mode=mode, x=steps, y=[p[key] * scale for p in history], name=name,
                 line=dict(color=color, width=2),
                 hovertemplate=f"{name} step %{{x}}: %{{y:.3g}}" + ("%" if scale != 1 else "") + "<extra></extra>")
            for name, key, color in (("NTM", kind, NTM_COLOR), ("LSTM", f"lstm_{kind}", LSTM_COLOR))]
    yaxis = _axis("wrong bits (%)", rangemode="tozero") if kind == "bit_error" else _axis("loss", type="log")
    return _figure(data, height, f"ntm-{kind}", xaxis=_axis("step", rangemode="tozero"), yaxis=yaxis)


def _stack(panels: list[np.ndarray]) -> tuple[np.ndarray, list[float]]:
    """Panels of equal width one under another with a NaN row between them, and each panel's middle row."""
    rows, middles, top = [], [], 0
    for i, panel in enumerate(panels):
        if i:
            rows.append(np.full((1, panel.shape[1]), np.nan))
            top += 1
        rows.append(panel)
        middles.append(top + (panel.shape[0] - 1) / 2)
        top += panel.shape[0]
    return np.vstack(rows), middles


def bits_figure(inputs: np.ndarray, target: np.ndarray, outputs: dict[str, np.ndarray], height: int = 300,
                key: str = "ntm-bits") -> go.Figure:
    """One sequence on a shared time axis: the input (bits + 1 rows, the delimiter last) over all 2T + 1
    steps, then the target and each model's output probabilities under the T answer steps.
    inputs (2T + 1, bits + 1), target (T, bits), outputs {name: (T, bits)}."""
    inputs, target = np.asarray(inputs, dtype=float), np.asarray(target, dtype=float)
    steps, length = inputs.shape[0], target.shape[0]
    if steps != 2 * length + 1 or inputs.shape[1] != target.shape[1] + 1:
        raise ValueError(f"inputs must be (2T + 1, bits + 1) for a target (T, bits); got {inputs.shape} and "
                         f"{target.shape}")

    def answer_panel(values: np.ndarray) -> np.ndarray:
        panel = np.full((values.shape[1], steps), np.nan)
        panel[:, length + 1:] = np.asarray(values, dtype=float).T
        return panel

    names = ["input", "target", *outputs]
    z, middles = _stack([inputs.T, answer_panel(target), *(answer_panel(v) for v in outputs.values())])
    heat = dict(type="heatmap", z=z, colorscale=BITS, zmin=0, zmax=1, showscale=False, hoverongaps=False, xgap=1,
                ygap=1, hovertemplate="step %{x}: %{z:.2f}<extra></extra>")
    shapes = [dict(type="line", xref="x", yref="paper", x0=length + 0.5, x1=length + 0.5, y0=0, y1=1,
                   line=dict(color="#d62728", width=1, dash="dot"))]
    return _figure([heat], height, key, plot_bgcolor="#f4f4f4", shapes=shapes,
                   margin=dict(l=10, r=10, t=10, b=36),
                   xaxis=dict(title=dict(text="time step (the red line: the delimiter, then the answer)"),
                              showgrid=False, zeroline=False, constrain="domain"),
                   yaxis=dict(autorange="reversed", showgrid=False, zeroline=False, tickmode="array",
                              tickvals=middles, ticktext=names))


def heads_figure(write_weights: np.ndarray, read_weights: np.ndarray, height: int = 320,
                 key: str = "ntm-heads") -> go.Figure:
    """The write and the read weighting at every step side by side (x: time step, y: memory slot):
    a learned copy shows two diagonal bands. Each (T, N)."""
    write_weights, read_weights = np.asarray(write_weights, dtype=float), np.asarray(read_weights, dtype=float)
    if write_weights.ndim != 2 or write_weights.shape != read_weights.shape:
        raise ValueError(f"write and read weightings must both be (T, N), got {write_weights.shape} and "
                         f"{read_weights.shape}")
    steps = write_weights.shape[0]
    gap = np.full((write_weights.shape[1], 2), np.nan)
    z = np.hstack([write_weights.T, gap, read_weights.T])
    custom = [["write"] * steps + ["", ""] + ["read"] * steps] * write_weights.shape[1]
    heat = dict(type="heatmap", z=z, colorscale=WEIGHTS, zmin=0, zmax=1, hoverongaps=False, customdata=custom,
                colorbar=dict(thickness=10, len=0.8, title=dict(text="w")),
                hovertemplate="%{customdata} head, slot %{y}: %{z:.2f}<extra></extra>")
    ticks = list(range(0, steps, max(1, steps // 6)))
    tickvals = ticks + [steps + 2 + t for t in ticks]
    titles = [dict(text=f"<b>{name}</b> weighting", x=(offset + steps / 2 - 0.5), y=-0.5, xref="x", yref="y",
                   showarrow=False, yanchor="bottom", font=dict(size=12))
              for name, offset in (("Write", 0), ("Read", steps + 2))]
    return _figure([heat], height, key, margin=dict(l=10, r=10, t=26, b=36), annotations=titles,
                   xaxis=dict(title=dict(text="time step"), showgrid=False, zeroline=False, tickmode="array",
                              tickvals=tickvals, ticktext=[str(t) for t in ticks] * 2),
                   yaxis=dict(title=dict(text="memory slot"), autorange="reversed", showgrid=False, zeroline=False))


def memory_figure(memory: np.ndarray, step: int, height: int = 320, key: str = "ntm-memory") -> go.Figure:
    """The memory (N, M) after one step: a row per slot, orange negative, blue positive."""
    memory = np.asarray(memory, dtype=float)
    if memory.ndim != 2:
        raise ValueError(f"memory must be (N, M), got {memory.shape}")
    scale = float(np.abs(memory).max()) or 1.0
    heat = dict(type="heatmap", z=memory, colorscale=DIVERGING, zmin=-scale, zmax=scale, xgap=1, ygap=1,
                colorbar=dict(thickness=10, len=0.8),
                hovertemplate="slot %{y}, column %{x}: %{z:.2f}<extra></extra>")
    return _figure([heat], height, key, margin=dict(l=10, r=10, t=26, b=36),
                   title=dict(text=f"Memory after step {step}", font=dict(size=12), x=0.5, xanchor="center"),
                   xaxis=dict(title=dict(text="column"), showgrid=False, zeroline=False),
                   yaxis=dict(title=dict(text="memory slot"), autorange="reversed", showgrid=False, zeroline=False))


def longer_figure(lengths: list[int], ntm: list[float], lstm: list[float], trained: tuple[int, int],
                  slots: int | None = None, height: int = 280) -> go.Figure:
    """Bit error (%) of both models against the sequence length; the trained lengths shaded, and the
    length past which the NTM's memory wraps round marked."""
    if not len(lengths) == len(ntm) == len(lstm):
        raise ValueError(f"lengths and both error lists must be as long, got {len(lengths)}, {len(ntm)}, {len(lstm)}")
    data = [dict(type="scatter", mode="lines+markers", x=list(lengths), y=[100 * e for e in errors], name=name,
                 line=dict(color=color, width=2), hovertemplate=f"{name}, length %{{x}}: %{{y:.1f}}%<extra></extra>")
            for name, errors, color in (("NTM", ntm, NTM_COLOR), ("LSTM", lstm, LSTM_COLOR))]
    shapes = [dict(type="rect", xref="x", yref="paper", x0=trained[0] - 0.5, x1=trained[1] + 0.5, y0=0, y1=1,
                   fillcolor=TRAINED_BAND, line=dict(width=0), layer="below")]
    notes = [dict(text="trained", x=(trained[0] + trained[1]) / 2, y=0, xref="x", yref="paper", showarrow=False,
                  yanchor="bottom", font=dict(size=11, color=NTM_COLOR))]
    if slots is not None and lengths and slots < max(lengths):
        shapes.append(dict(type="line", xref="x", yref="paper", x0=slots + 0.5, x1=slots + 0.5, y0=0, y1=1,
                           line=dict(color="#888888", width=1, dash="dot")))
        notes.append(dict(text="memory full", x=slots + 0.5, y=0, xref="x", yref="paper", showarrow=False,
                          xanchor="left", yanchor="bottom", font=dict(size=11, color="#666666")))
    return _figure(data, height, "ntm-longer", shapes=shapes, annotations=notes,
                   xaxis=_axis("sequence length", rangemode="tozero"),
                   yaxis=_axis("wrong bits (%)", rangemode="tozero"))
