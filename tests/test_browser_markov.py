"""The Markov chain baseline in the real server and Debian's Chromium: the address opens its tab, Play
makes it count as the network reads, its dashed line grows on the loss chart, its transition matrix
and its order comparison are drawn, no exception box."""
import re
import time

import pytest
from playwright.sync_api import expect

from browser_helpers import assert_no_exception, goto_page

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def markov_points(page) -> int:
    """Points of the Markov chain's line on the loss chart, as plotly holds them."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el._fullData || []).find(t => (t.name || '').startsWith('Markov chain'));
            if (t) return t.x.length;
        }
        return -1;
    }""")


def test_the_markov_tab_counts_while_the_network_trains(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 2400})
    goto_page(page, app_server, "sequence?tab=markov&models=gru&gru.hidden=16&batch=64", timeout_ms=120_000)
    assert_no_exception(page)
    expect(page.get_by_test_id("stMetricLabel").filter(has_text=re.compile("^Characters counted$"))).to_be_visible(
        timeout=60_000)
    assert metric(page, "Characters counted").startswith("0 of ")
    expect(page.locator('.js-plotly-plot')).to_have_count(4, timeout=60_000)  # loss, gradients, matrix, orders
    assert markov_points(page) == 1

    page.get_by_role("button", name=re.compile("Play")).click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and markov_points(page) < 4:
        time.sleep(1)
    assert markov_points(page) >= 4
    page.get_by_role("button", name=re.compile("Pause")).click(timeout=60_000)
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=30_000)
    steps = int(metric(page, "Step").replace(",", ""))
    deadline = time.monotonic() + 15  # paused: the tab's own view catches up with the last frame
    while True:
        counted, total = (int(n.replace(",", "")) for n in metric(page, "Characters counted").split(" of "))
        if counted == min(steps * 64 * 32, total) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert 0 < counted == min(steps * 64 * 32, total), (counted, total, steps)  # as much as the network read
    assert_no_exception(page)
    page.mouse.move(5, 5)
    page.screenshot(path=str(screenshot_dir / "sequence_markov.png"), full_page=True)
