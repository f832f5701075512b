"""The Neural Turing machine page in the real server and Debian's Chromium: Play trains both models live
(the step counter moves, the wrong-bit figures change), Pause stops them, and every view draws with no
exception box."""
import re

import pytest
from browser_helpers import assert_no_exception, goto_page, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def metric_value(page, label: str):
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]')


def test_play_trains_both_models_live_and_every_view_draws(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 2600})
    goto_page(page, app_server, "ntm?bits=3&lengths=1-4&controller=16&slots=16&width=6")
    expect(metric_value(page, "Step")).to_have_text("0")
    before = metric_value(page, "NTM wrong bits").inner_text()
    page.get_by_role("button", name="▶ Play").click()
    expect(metric_value(page, "Step")).not_to_have_text("0", timeout=30_000)
    expect(metric_value(page, "NTM wrong bits")).not_to_have_text(before, timeout=30_000)
    page.get_by_role("button", name="⏸ Pause").click()
    wait_for_app(page)
    steps = int(metric_value(page, "Step").inner_text().replace(",", ""))
    assert steps > 0
    expect(page.get_by_text(re.compile(r"At length 12: NTM \d+\.\d% wrong, LSTM \d+\.\d%"))).to_be_visible()
    assert page.locator("iframe").count() + page.locator(".js-plotly-plot").count() >= 6
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "ntm_trained.png"), full_page=True)
