"""The architecture map's links in the real server and Debian's Chromium: a node of the course's chart
opens the page that trains it, on that very setup (its tab), with no exception box."""
import re

import pytest

from browser_helpers import assert_no_exception, goto_page, wait_for_app
from engine.zoo.chart import node

pytestmark = pytest.mark.browser

# node -> the tab (its label) that its page must show selected
OPENS = {"RBM": "RBM", "ESN": "Echo state network", "MC": "Markov chain baseline", "NTM": None}


@pytest.mark.parametrize("key", list(OPENS))
def test_a_node_of_the_chart_opens_its_page_on_its_setup(app_server, page, key):
    n = node(key)
    goto_page(page, app_server, f"zoo?node={key}", timeout_ms=120_000)
    assert_no_exception(page)
    link = page.get_by_role("link", name=re.compile("Open the page"))
    link.click()
    page.wait_for_url(re.compile(f"/{n.page}(\\?|$)"), timeout=60_000)
    wait_for_app(page, timeout_ms=120_000)
    assert_no_exception(page)
    for name, value in n.query.items():
        assert f"{name}={value}" in page.url
    if OPENS[key]:
        selected = page.get_by_role("tab", selected=True, name=re.compile(re.escape(OPENS[key])))
        assert selected.count() >= 1, f"{key}: the {OPENS[key]} tab is not the one open"
