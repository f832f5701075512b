"""The live views' in-place Plotly charts (app_pages/common/live_plotly.py): the figure as plotly.js gets
it, plotly.js put in the static folder Streamlit serves, its address, and the theme."""
import base64
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit as st

from app_pages.common import live_plotly
from app_pages.common.live_plotly import figure_json


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_the_figure_goes_without_a_template_and_as_strict_json_with_typed_arrays():
    fig = go.Figure(go.Scatter(x=np.arange(3), y=np.array([1.0, np.nan, np.inf]), name="diverged"))
    fig.add_trace(go.Scatter(x=[1, 2], y=[float("nan"), 2.0], name="plain list"))
    fig.update_layout(height=300, uirevision="keep")
    spec = _strict(figure_json(fig))  # JSON.parse in the browser would fail on NaN
    assert "template" not in spec["layout"]  # the component puts the Streamlit theme there
    assert spec["layout"]["height"] == 300 and spec["layout"]["uirevision"] == "keep"
    typed = spec["data"][0]["y"]
    values = np.frombuffer(base64.b64decode(typed["bdata"]), dtype=typed["dtype"])
    assert values[0] == 1.0 and np.isnan(values[1]) and np.isinf(values[2])  # plotly.js decodes these itself
    assert spec["data"][1]["y"] == [None, 2.0]


def test_plotly_js_is_copied_into_the_static_folder_once(tmp_path, monkeypatch):
    monkeypatch.setattr(live_plotly, "STATIC", tmp_path / "static")
    assert live_plotly._static_plotly_js()
    copied = tmp_path / "static" / live_plotly.PLOTLY_JS
    source = Path(live_plotly.plotly.__file__).parent / "package_data" / live_plotly.PLOTLY_JS
    assert copied.read_bytes() == source.read_bytes()
    stamp = copied.stat().st_mtime_ns
    assert live_plotly._static_plotly_js() and copied.stat().st_mtime_ns == stamp  # the same file: left alone
    copied.write_text("an older plotly.js")
    assert live_plotly._static_plotly_js() and copied.stat().st_size == source.stat().st_size  # replaced


def test_an_unwritable_static_folder_falls_back_to_st_plotly_chart(tmp_path, monkeypatch):
    blocker = tmp_path / "static"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setattr(live_plotly, "STATIC", blocker)
    assert live_plotly._static_plotly_js() is False


@pytest.mark.parametrize("base, src", [("", "/app/static/plotly.min.js"),
                                       ("/lab/", "/lab/app/static/plotly.min.js"),
                                       ("lab/np", "/lab/np/app/static/plotly.min.js")])
def test_the_script_address_follows_the_server_base_path(monkeypatch, base, src):
    monkeypatch.setattr(st, "get_option", lambda name: base if name == "server.baseUrlPath" else None)
    assert live_plotly._script_src() == src


def test_static_serving_is_on_and_the_static_folder_is_not_committed():
    root = live_plotly.ROOT
    assert "enableStaticServing = true" in (root / ".streamlit" / "config.toml").read_text()
    assert "static/" in (root / ".gitignore").read_text().split()


def test_the_theme_is_streamlits_light_chart_theme():
    theme = json.loads((live_plotly.ASSETS / "plotly_theme.json").read_text())
    layout = theme["layout"]
    assert layout["font"]["family"].startswith('"Source Sans"')
    assert layout["colorway"][0] == "#0068c9" and layout["paper_bgcolor"] == "#FFFFFF"
    assert theme["data"]["heatmap"][0]["colorscale"][0] == [0, "#e4f5ff"]
    assert "#0000" not in json.dumps(theme)  # no placeholder colour of Streamlit's Python template is left


def test_without_the_static_copy_the_live_charts_are_plain_plotly_charts(monkeypatch):
    """The fallback (an unwritable app folder, or NP_PLOTLY_IN_PLACE=0 for the benchmark's
    baseline): the same figures through st.plotly_chart, and the page still works."""
    from streamlit.testing.v1 import AppTest

    from tests.chart_helpers import charts, live_keys

    monkeypatch.setattr(live_plotly, "SERVED", False)
    at = AppTest.from_file(str(live_plotly.ROOT / "app_pages" / "vanishing" / "page.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not live_keys(at)
    assert set(charts(at)) == {"vg_depth_chart", "vg_heatmap", "vg_activations", "vg_loss"}


def test_each_live_chart_gets_its_figure_its_height_and_the_script_address():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(live_plotly.ROOT / "app_pages" / "vanishing" / "page.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    sent = {e.proto.id.split("-")[-1]: json.loads(e.proto.json) for e in at.get("bidi_component")
            if e.proto.component_name == "neural_playground.live_plotly"}
    assert set(sent) == {"vg_depth_chart", "vg_heatmap", "vg_activations", "vg_loss"}
    for data in sent.values():
        figure = _strict(data["figure"])
        assert data["height"] == figure["layout"].get("height", live_plotly.DEFAULT_HEIGHT) > 100
        assert data["src"] == "/app/static/plotly.min.js" and data["clickable"] is False
