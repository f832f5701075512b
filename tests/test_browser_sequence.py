"""The Sequence models page in the real server and Debian's Chromium: it opens with its four
charts and a sample per model, Play trains every model, the step count, the loss curves and
the samples move, no exception box."""
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


def samples(page) -> list[str]:
    return page.locator('[data-testid="stCode"]').all_inner_texts()


def loss_points(page) -> int:
    """Points of the first training-loss line as plotly holds them."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el._fullData || []).find(t => (t.name || '').endsWith('(train)'));
            if (t) return t.x.length;
        }
        return -1;
    }""")


def test_play_trains_the_models_and_the_samples_change(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 2600})  # Streamlit scrolls inside its own container
    # The first visit builds four models and draws four charts: room for a slow, shared machine.
    goto_page(page, app_server, "sequence", timeout_ms=120_000)
    assert_no_exception(page)
    assert metric(page, "Step") == "0"
    expect(page.locator('.js-plotly-plot')).to_have_count(4, timeout=60_000)
    expect(page.locator('[data-testid="stCode"]')).to_have_count(4, timeout=60_000)
    first = samples(page)
    assert len(first) == 4 and all(s.startswith("The ") for s in first)

    page.get_by_role("button", name=re.compile("Play")).click()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # samples are redrawn as training goes, one model per frame
        time.sleep(1)
        now = samples(page)
        if len(now) == 4 and sum(a != b for a, b in zip(now, first)) >= 2 and loss_points(page) > 1:
            break
    steps = int(metric(page, "Step").replace(",", ""))
    print(f"sequence page: {steps} steps after {90 - (deadline - time.monotonic()):.0f} s of Play, "
          f"{metric(page, 'Steps / s')} steps/s shown")
    now = samples(page)
    assert steps > 0 and sum(a != b for a, b in zip(now, first)) >= 2, (steps, now)
    assert loss_points(page) > 1
    assert_no_exception(page)

    page.get_by_role("button", name=re.compile("Pause")).click(timeout=60_000)
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=30_000)
    page.mouse.move(5, 5)  # no button tooltip over the page in the screenshot
    page.wait_for_timeout(3000)  # paused: let the last frame's charts finish drawing for the screenshot
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "sequence.png"), full_page=True)
