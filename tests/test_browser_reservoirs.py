"""The Reservoirs page in the real server and Debian's Chromium: Play on the echo state network drives
its reservoir live (the training steps seen rise and the test NRMSE appears), and the liquid state
machine's tab draws its raster and reads digits, with no exception box."""
import re

import pytest
from browser_helpers import assert_no_exception, goto_page, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def metric_value(page, label: str):
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]')


def test_the_echo_state_network_trains_live_and_the_liquid_reads_digits(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1800})
    goto_page(page, app_server, "reservoirs?tab=esn")
    expect(metric_value(page, "Training steps seen")).to_have_text("0")
    page.get_by_role("button", name="▶ Play").click()
    expect(metric_value(page, "Training steps seen")).to_have_text("2,000", timeout=60_000)   # all of it, live
    expect(metric_value(page, "Test NRMSE (one step)")).to_have_text(re.compile(r"^0\.00\d+$"), timeout=30_000)
    wait_for_app(page)
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible()   # stopped by itself at the end
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "reservoirs_esn.png"), full_page=True)

    page.get_by_role("tab", name=re.compile("Liquid state machine")).click()
    wait_for_app(page)
    page.get_by_role("button", name="⏭ 100 digits").click()
    expect(metric_value(page, "Digits seen")).to_have_text("100", timeout=30_000)
    expect(metric_value(page, "LSM test accuracy")).to_have_text(re.compile(r"^[5-9]\d\.\d%$"), timeout=30_000)
    expect(page.get_by_text(re.compile(r"Spike raster of test digit 0"))).to_be_visible()
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "reservoirs_lsm.png"), full_page=True)
