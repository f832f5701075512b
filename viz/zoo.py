"""The architecture map: the neural network zoo as an interactive plotly figure."""
from __future__ import annotations

import plotly.graph_objects as go

from .colors import BLUE, CLASS_COLORS, ORANGE

FAMILY_COLORS = {
    "feed-forward": BLUE, "kernel & competitive": ORANGE, "recurrent": CLASS_COLORS[2], "autoencoder": CLASS_COLORS[4],
    "generative": CLASS_COLORS[3], "attention": CLASS_COLORS[7], "energy & memory": CLASS_COLORS[5],
    "convolutional": "#7f7f7f", "reservoir": CLASS_COLORS[6],
}


def zoo_figure(nodes, edges, selected: str | None = None, page_titles: dict[str, str] | None = None,
               height: int = 560) -> go.Figure:
    """Nodes at their positions, coloured by family; a filled node is one the app builds (its
    page in the hover), a hollow one it does not. Edges join an architecture to its descendants.
    Each node's key is its customdata, so a click can select it."""
    page_titles = page_titles or {}
    where = {n.key: (n.x, n.y) for n in nodes}
    ex, ey = [], []
    for a, b in edges:
        ex += [where[a][0], where[b][0], None]
        ey += [where[a][1], where[b][1], None]
    fig = go.Figure(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#c8c8c8", width=1.5), hoverinfo="skip",
                               showlegend=False))
    for family, color in FAMILY_COLORS.items():
        members = [n for n in nodes if n.family == family]
        if not members:
            continue
        built = [n.page is not None for n in members]
        hover = [f"<b>{n.name}</b><br>" + (f"built on the page “{page_titles.get(n.page, n.page)}”" if n.page else
                                           "not built by this app") for n in members]
        fig.add_trace(go.Scatter(
            x=[n.x for n in members], y=[n.y for n in members], mode="markers+text", name=family,
            text=[n.key for n in members], textposition="middle center", customdata=[n.key for n in members],
            textfont=dict(size=10, color=["white" if b else color for b in built]),
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(size=[44 if n.key == selected else 36 for n in members],
                        color=[color if b else "white" for b in built],
                        line=dict(color=["#222222" if n.key == selected else color for n in members],
                                  width=[4 if n.key == selected else 2 for n in members]))))
    xs, ys = [n.x for n in nodes], [n.y for n in nodes]
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, title_text="family: "),
                      clickmode="event+select", dragmode=False, uirevision="zoo")
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 0.6])
    fig.update_yaxes(visible=False, range=[min(ys) - 0.6, max(ys) + 0.6])
    return fig


def hopfield_figure(images: list, titles: list[str], height: int = 230) -> go.Figure:
    """A row of ±1 8×8 states (ink = +1, as the digits' bright strokes; paper = -1), titles above."""
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles, horizontal_spacing=0.02)
    for i, img in enumerate(images, start=1):
        fig.add_trace(go.Heatmap(z=(img.reshape(8, 8) + 1) / 2, colorscale="Greys", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=1, col=i)
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=i)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    return fig


def energy_figure(energies: list[float], stored_energy: float, height: int = 230) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(range(len(energies))), y=energies, mode="lines+markers", name="energy",
                               line=dict(color=BLUE, width=2)))
    fig.add_hline(y=stored_energy, line=dict(color="#888888", dash="dash"), annotation_text="the stored digit",
                  annotation_position="top right")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=20, b=10), plot_bgcolor="white",
                      xaxis_title="sweep (every unit updated once)", yaxis_title="energy −½ sᵀWs")
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", dtick=1)
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig
