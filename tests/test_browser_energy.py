"""The Energy models page in the real server and Debian's Chromium: the RBM tab, opened from its address,
trains live on Play (the step counter moves and the reconstruction error falls), and pauses."""
import re

import pytest
from browser_helpers import assert_no_exception, goto_page, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def metric_value(page, label: str):
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]')


def test_the_rbm_trains_live_and_its_reconstruction_error_falls(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 2000})
    goto_page(page, app_server, "energy?tab=rbm")
    assert metric_value(page, "Step").inner_text() == "0"
    start_error = float(metric_value(page, "Reconstruction error").inner_text())
    page.get_by_role("button", name="▶ Play").click()
    expect(metric_value(page, "Step")).not_to_have_text("0", timeout=30_000)
    expect(metric_value(page, "Epoch")).not_to_have_text(re.compile(r"^[0-4]$"), timeout=60_000)  # 5 passes or more
    page.get_by_role("button", name="⏸ Pause").click()
    wait_for_app(page)
    assert float(metric_value(page, "Reconstruction error").inner_text()) < 0.7 * start_error
    expect(page.get_by_text(re.compile(r"Dreams.*after \d+ rounds"))).to_be_visible()
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "energy_rbm.png"), full_page=True)
