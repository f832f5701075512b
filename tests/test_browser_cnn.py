"""The Convolutions page in the real server and Debian's Chromium: the kernel view steps cell by
cell, Play trains the CNN live (the step counter and the test accuracy rise), a click on a feature
map outlines that cell's receptive field, and a digit drawn on the pad gets the network's answer."""
import re

import pytest

from browser_helpers import assert_no_exception, goto_page, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_kernel_steps_training_plays_and_a_drawn_digit_is_read(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 2400})
    goto_page(page, app_server, "cnn")
    position = page.get_by_text(re.compile(r"Position: output cell \(0, 0\), 1 of 64"))
    expect(position).to_be_visible()
    page.get_by_role("button", name="Next ▶").click()
    expect(page.get_by_text(re.compile(r"Position: output cell \(0, 1\), 2 of 64"))).to_be_visible(timeout=20_000)
    assert_no_exception(page)

    page.get_by_role("tab", name=re.compile("Train a CNN")).click()
    wait_for_app(page)
    assert metric(page, "Step") == "0"
    page.get_by_role("button", name="▶ Play").click()
    step = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile("^Step$")))
    expect(step.locator('[data-testid="stMetricValue"]')).not_to_have_text("0", timeout=30_000)
    accuracy = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile("^Test accuracy$")))
    expect(accuracy.locator('[data-testid="stMetricValue"]')).to_have_text(re.compile(r"^(8|9)\d\.\d%$|^100"),
                                                                           timeout=90_000)
    page.get_by_role("button", name="⏸ Pause").click()
    wait_for_app(page)
    assert int(metric(page, "Step").replace(",", "")) < 300  # paused before the step limit
    page.screenshot(path=str(screenshot_dir / "cnn_trained.png"), full_page=True)

    pad = page.locator(".np-draw-pad-board canvas")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.5 * w, y + 0.15 * h)  # a "1": one vertical stroke
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + 0.5 * w, y + (0.15 + 0.7 * i / 20) * h)
    page.mouse.up()
    expect(page.get_by_text(re.compile(r"Read as \d \(\d+%\)"))).to_be_visible(timeout=30_000)
    wait_for_app(page)
    page.get_by_text("Drawing", exact=True).click()  # its feature maps and saliency, above
    expect(page.get_by_text(re.compile(r"Your drawing, read as \d"))).to_be_visible(timeout=30_000)
    wait_for_app(page)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "cnn_drawn.png"), full_page=True)
