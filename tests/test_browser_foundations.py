"""The Foundations page in the real server and Debian's Chromium: it loads at /foundations
with no exception, every tab opens, Train draws the trained neuron's boundary.
Screenshots (the first tab after training, and each other tab) go to screenshot_dir."""
import re

import pytest
from playwright.sync_api import expect

from browser_helpers import assert_no_error_dialog, assert_no_exception, goto_page, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TABS = ["One neuron", "Activations", "Losses", "Gradient descent", "Backprop"]


def test_foundations_tabs_render_and_train(app_server, page, screenshot_dir):
    # Streamlit scrolls inside its own container: a tall viewport gets the whole tab in one shot.
    page.set_viewport_size({"width": 1400, "height": 2400})
    goto_page(page, app_server, "foundations")
    assert_no_exception(page)
    assert_no_error_dialog(page)
    expect(page.locator('[data-testid="stMain"] h1').first).to_contain_text("Foundations")

    page.get_by_role("button", name=re.compile(r"\+20 epochs")).click()
    wait_for_app(page)
    epoch = page.locator('[data-testid="stMetric"]').filter(has_text="Epoch").locator('[data-testid="stMetricValue"]')
    expect(epoch.first).to_have_text("20", timeout=30_000)
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("Play")).click()  # live: the epoch keeps rising
    expect(epoch.first).not_to_have_text("20", timeout=15_000)
    page.get_by_role("button", name=re.compile("Pause")).click()
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=10_000)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "foundations.png"))

    for name in TABS[1:]:
        page.get_by_role("tab", name=re.compile(name)).click()
        wait_for_app(page)
        panel = page.locator('[role="tabpanel"]:visible')  # Streamlit keeps the other tabs' panels hidden
        expect(panel.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=15_000)
        assert_no_exception(page)
        page.screenshot(path=str(screenshot_dir / f"foundations-{name.lower().replace(' ', '-')}.png"))
