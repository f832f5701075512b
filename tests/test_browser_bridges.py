"""The Bridges page and the architecture map in the real server and Debian's Chromium: both
models of a pair drawn with their scores, the self-organising map unfolds on Play, the map's
nodes list the module the app builds; no exception box anywhere."""
import re
import time

import pytest

from browser_helpers import assert_no_exception, choose, goto_page, pause_unless_stopped, wait_for_app

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def som_grid_points(page) -> list:
    """The SOM grid's x coordinates as plotly holds them (the trace named 'map grid')."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el._fullData || []).find(t => t.name === 'map grid');
            if (t) return Array.from(t.x).filter(v => v !== null).slice(0, 20);
        }
        return [];
    }""")


def test_bridges_pairs_and_the_map_unfolding(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 2000})
    goto_page(page, app_server, "bridges", timeout_ms=120_000)  # the first fit imports scikit-learn
    assert_no_exception(page)
    assert metric(page, "Logistic regression: test").endswith("%") and metric(page, "Neuron: test").endswith("%")
    page.screenshot(path=str(screenshot_dir / "bridges_logistic.png"), full_page=True)

    page.get_by_role("tab", name=re.compile("RBF SVM")).click()  # only the open tab runs: this one fits now
    wait_for_app(page, timeout_ms=90_000)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "bridges_rbf.png"), full_page=True)

    page.get_by_role("tab", name=re.compile("k-means")).click()
    wait_for_app(page, timeout_ms=90_000)
    before = som_grid_points(page)
    assert before and metric(page, "Step") == "0"
    page.get_by_role("button", name=re.compile("Play")).click()
    time.sleep(5)
    steps = int(metric(page, "Step").replace(",", ""))
    after = som_grid_points(page)
    print(f"bridges page: the map saw {steps} points after 5 s of Play")
    assert steps > 0 and after != before  # the grid moved
    pause_unless_stopped(page)  # the map's schedule (4,000 points) can be over already
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=15_000)
    wait_for_app(page)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "bridges_som.png"), full_page=True)


def test_architecture_map(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 2100})  # Streamlit scrolls inside its own container
    goto_page(page, app_server, "zoo")
    assert_no_exception(page)
    assert metric(page, "Parameters") == "49"  # the RBF network the Bridges page trains
    choose(page, "Architecture", re.compile(r"Long short-term memory"))
    wait_for_app(page)
    # The rerun the choice starts can begin after the app looked idle: wait for the new value.
    deadline = time.monotonic() + 30
    while metric(page, "Parameters") == "49" and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    wait_for_app(page)
    assert_no_exception(page)
    assert int(metric(page, "Parameters").replace(",", "")) > 1000
    page.screenshot(path=str(screenshot_dir / "zoo.png"), full_page=True)
