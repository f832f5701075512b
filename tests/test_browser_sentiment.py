"""The Sentiment lab in the real server and Debian's Chromium: Play trains on the tweets and the
curves grow, Pause brings the test results, and a typed sentence with markup is shown as text
(its script never runs)."""
import re
import time

import pytest
from playwright.sync_api import expect

from browser_helpers import assert_no_exception, goto_page, pause_unless_stopped, wait_for_app

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def curve_points(page) -> int:
    """Points of the validation loss line as plotly holds them."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const line = (el._fullData || []).find(t => t.name === 'validation' && t.yaxis === 'y');
            if (line && el.layout && el.layout.yaxis && el.layout.yaxis.title
                && el.layout.yaxis.title.text === 'loss') return line.x.length;
        }
        return -1;
    }""")


def test_play_trains_on_tweets_and_typed_markup_stays_text(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 3200})  # Streamlit scrolls inside its own container
    goto_page(page, app_server, "sentiment")
    assert_no_exception(page)
    expect(page.get_by_text("Class balance in each split")).to_be_visible(timeout=60_000)
    assert metric(page, "Epoch") == "0.00"
    # The chart's element can be on the page before plotly has drawn its data into it.
    deadline = time.monotonic() + 30
    while curve_points(page) == -1 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert curve_points(page) == 1

    page.get_by_role("button", name=re.compile("Play")).click()
    start = time.monotonic()
    time.sleep(6)
    # A loaded CI machine can be slow to reach the first validation check: wait for it, up to a limit.
    while (float(metric(page, "Epoch")) == 0 or curve_points(page) < 3) and time.monotonic() - start < 60:
        time.sleep(1)
    epoch, points = float(metric(page, "Epoch")), curve_points(page)
    print(f"sentiment page: epoch {epoch} after {time.monotonic() - start:.0f} s of Play, {points} points on the "
          f"loss curve, validation accuracy {metric(page, 'Validation accuracy')}")
    assert epoch > 0 and points >= 3
    pause_unless_stopped(page)  # the default run (4 epochs) can end within seconds
    expect(page.get_by_text(re.compile("^Test accuracy"))).to_be_visible(timeout=60_000)
    assert_no_exception(page)

    # The test results push the rest of the page down: while that rerun is drawn, Streamlit can
    # show the old and the new sentence box at once. Type once it has finished.
    wait_for_app(page)
    box = page.get_by_label("Your sentence")
    box.fill("<script>window.__sentimentInjected = 1</script><b>bold?</b> I love this car 😀")
    box.press("Control+Enter")
    expect(page.get_by_text("window", exact=True).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.__sentimentInjected === undefined")
    assert page.locator('[data-testid="stMain"] b', has_text="bold?").count() == 0
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "sentiment.png"), full_page=True)
