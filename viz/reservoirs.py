"""Figures of the Reservoirs page: the ELM's accuracy against its width, the learning curves as data
arrives, a series with its one-step and free-running predictions, reservoir states as a heatmap, the
echo-state property (two initial states' distance), and a liquid's spike raster with membrane traces.
The decision boundaries come from viz/bridges.side_figure (the Playground's plane)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import BLUE, DIVERGING, ORANGE

GREEN, GREY, RED, INK = "#2ca02c", "#8c8c8c", "#d62728", "#333333"
FONT = dict(size=12)


def _figure(data: list, height: int, key: str, **layout) -> go.Figure:
    base = dict(height=height, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white", font=FONT,
                legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, xanchor="left"), uirevision=key)
    return go.Figure(data=data, layout={**base, **layout})


def _axis(title: str = "", **kw) -> dict:
    return dict(title=dict(text=title), showgrid=True, gridcolor="#eeeeee", zeroline=False, **kw)


def _finite(values) -> list:
    return [None if v is None or not np.isfinite(v) else float(v) for v in values]


def sweep_figure(widths: list[int], train: list[float], test: list[float], hidden: int, height: int = 300) -> go.Figure:
    """Train and test accuracy against the hidden width (log axis); a dotted line at the ELM's own width."""
    data = [go.Scatter(x=widths, y=_finite(train), name="train", mode="lines+markers", line=dict(color=BLUE)),
            go.Scatter(x=widths, y=_finite(test), name="test", mode="lines+markers", line=dict(color=ORANGE))]
    fig = _figure(data, height, "sweep", xaxis=_axis("hidden units (log scale)", type="log"),
                  yaxis=_axis("accuracy", range=[0, 1.03], tickformat=".0%"))
    fig.add_vline(x=hidden, line=dict(color=GREY, dash="dot"))
    return fig


def learning_figure(history: list[dict], x: str, lines: dict[str, tuple[str, str]], y_title: str, log_y: bool = False,
                    percent: bool = False, height: int = 260, key: str = "learning") -> go.Figure:
    """Curves of a run's history: lines = {history key: (legend name, colour)} against history key `x`."""
    xs = [h[x] for h in history]
    data = [go.Scatter(x=xs, y=_finite([h.get(k) for h in history]), name=name, mode="lines+markers",
                       line=dict(color=color)) for k, (name, color) in lines.items()]
    y = _axis(y_title, type="log" if log_y else "linear")
    if percent:
        y.update(range=[0, 1.03], tickformat=".0%")
    return _figure(data, height, key, xaxis=_axis(x.replace("_", " ")), yaxis=y)


def series_figure(time: np.ndarray, truth: np.ndarray, one_step: np.ndarray, free_run: np.ndarray,
                  height: int = 300) -> go.Figure:
    """The test stretch: the truth, the one-step-ahead prediction and the free-running continuation."""
    data = [go.Scatter(x=time, y=truth, name="truth", line=dict(color=INK, width=3)),
            go.Scatter(x=time, y=_finite(one_step), name="one step ahead", line=dict(color=BLUE, width=1.5)),
            go.Scatter(x=time[:len(free_run)], y=_finite(free_run), name="free-running", line=dict(color=ORANGE,
                                                                                                   dash="dash"))]
    return _figure(data, height, "series", xaxis=_axis("time step"), yaxis=_axis("value"))


def states_figure(states: np.ndarray, height: int = 260) -> go.Figure:
    """(units, steps) reservoir states as a heatmap of each unit's deviation from its own mean: a unit's
    offset (its bias) is larger than its movement, and would hide it."""
    moving = states - states.mean(axis=1, keepdims=True)
    bound = float(np.abs(moving).max()) or 1.0
    data = [go.Heatmap(z=moving, colorscale=DIVERGING, zmin=-bound, zmax=bound, colorbar=dict(thickness=10),
                       customdata=states, hovertemplate="unit %{y}, step %{x}: %{customdata:.3f}<extra></extra>")]
    return _figure(data, height, "states", xaxis=_axis("test time step"), yaxis=_axis("unit", autorange="reversed"))


def echo_figure(curves: dict[str, np.ndarray], height: int = 260) -> go.Figure:
    """‖x_a(t) − x_b(t)‖ of two initial states driven by the same input, per setting (log scale)."""
    colors = [BLUE, RED, GREEN]
    data = [go.Scatter(y=np.maximum(d, 1e-17), name=name, line=dict(color=colors[i % 3]))
            for i, (name, d) in enumerate(curves.items())]
    return _figure(data, height, "echo", xaxis=_axis("time step"),
                   yaxis=_axis("distance between the two states", type="log", exponentformat="power"))


def raster_figure(inputs: np.ndarray, spikes: np.ndarray, n_excitatory: int, steps_per_row: int,
                  height: int = 360) -> go.Figure:
    """A spike raster: the 8 input neurons at the bottom (rows of the digit), the liquid above
    (excitatory blue, inhibitory orange); dotted lines where a new row starts."""
    t_in, n_in = np.nonzero(inputs)
    t, n = np.nonzero(spikes)
    exc = n < n_excitatory
    marker = dict(symbol="line-ns-open", size=5)
    data = [go.Scatter(x=t_in, y=n_in - 10, mode="markers", name="input (8 columns)", marker={**marker, "color": INK}),
            go.Scatter(x=t[exc], y=n[exc], mode="markers", name="excitatory", marker={**marker, "color": BLUE}),
            go.Scatter(x=t[~exc], y=n[~exc], mode="markers", name="inhibitory", marker={**marker, "color": ORANGE})]
    fig = _figure(data, height, "raster", xaxis=_axis("time step", range=[-1, len(spikes)]),
                  yaxis=_axis("neuron (inputs below 0)", range=[-11, spikes.shape[1] + 1]))
    for row in range(1, len(spikes) // max(1, steps_per_row)):
        fig.add_vline(x=row * steps_per_row - 0.5, line=dict(color=GREY, dash="dot", width=1))
    return fig


def potential_figure(potential: np.ndarray, spikes: np.ndarray, neurons: list[int], threshold: float,
                     height: int = 240) -> go.Figure:
    """Membrane potential of a few neurons over time; a spike is drawn as a stroke up to 1.5 θ."""
    colors = [BLUE, ORANGE, GREEN, RED]
    data = []
    for i, n in enumerate(neurons):
        v = potential[:, n].copy()
        fired = np.nonzero(spikes[:, n])[0]
        v[fired] = 1.5 * threshold
        data.append(go.Scatter(y=v, name=f"neuron {n}", line=dict(color=colors[i % 4], width=1.5)))
    fig = _figure(data, height, "potential", xaxis=_axis("time step"), yaxis=_axis("membrane potential"))
    fig.add_hline(y=threshold, line=dict(color=GREY, dash="dot"), annotation_text="threshold")
    return fig


def accuracy_bars_figure(results: dict[str, float | None], colors: list[str] | None = None,
                         height: int = 220) -> go.Figure:
    """Test accuracy of the models side by side (chance: 10 %)."""
    names = list(results)
    values = _finite(list(results.values()))
    data = [go.Bar(x=names, y=values, marker_color=(colors or [BLUE, ORANGE, GREEN])[:len(names)],
                   text=["—" if v is None else f"{v:.1%}" for v in values], textposition="outside")]
    fig = _figure(data, height, "bars", yaxis=_axis("test accuracy", range=[0, 1.1], tickformat=".0%"),
                  showlegend=False)
    fig.add_hline(y=0.1, line=dict(color=GREY, dash="dot"), annotation_text="chance")
    return fig
