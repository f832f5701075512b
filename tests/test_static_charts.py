"""Plots to keep: a chart drawn once (st.plotly_chart, not a live one) shows, on hover, one tool that
saves it as a PNG made in the browser by plotly.js, named after the chart; no chart hides its toolbar.
(The live charts' PNG and SVG buttons are tested in test_browser_downloads.py.)"""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common.live_plotly import static_chart_config

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["foundations", "zoo", "bridges"]


@pytest.mark.parametrize("page", PAGES)
def test_every_static_chart_offers_a_png(page):
    at = AppTest.from_file(str(ROOT / "app_pages" / page / "page.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    charts = at.get("plotly_chart")
    assert charts, f"{page} draws no static chart"
    for chart in charts:
        config = json.loads(chart.proto.config)
        assert config["displayModeBar"] == "hover" and config["modeBarButtons"] == [["toImage"]]
        assert config["toImageButtonOptions"]["format"] == "png" and config["toImageButtonOptions"]["filename"]


def test_no_page_hides_a_charts_toolbar():
    hidden = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "app_pages").rglob("*.py"))
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if re.search(r"""["']displayModeBar["']\s*:\s*False""", line)]
    assert hidden == []


def test_the_config_names_the_file():
    assert static_chart_config("loss")["toImageButtonOptions"] == {"format": "png", "filename": "loss", "scale": 2}
