"""The linked views in the real server and Debian's Chromium, driven with the mouse: a brush
dragged over the codes of the test digits draws those digits beside their reconstructions; a
brush dragged over the loss curve draws every network's gradient heatmap of those steps; a click
on a cell of the confusion matrix lists that cell's texts, and a click on another cell lists
another's. The numbers the views show are checked against the page's own data in
tests/test_linked_views.py; here, that a real drag or click reaches them."""
import re

import pytest
from browser_helpers import assert_no_exception, goto_page, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def plot_box(page, key: str) -> dict:
    """The bounding box of the marks of the Altair chart drawn with `key`, scrolled into view."""
    chart = page.locator(f".st-key-{key}")
    chart.scroll_into_view_if_needed()
    marks = chart.locator(".marks").first
    expect(marks).to_be_visible(timeout=20_000)
    return marks.bounding_box()


def inspect_area(page):
    """The page's Inspect expander, where its linked views are."""
    return page.get_by_test_id("stExpander").filter(has_text="Inspect")


def drag(page, box: dict, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at `start` and release at `end`, both as fractions of `box`, through a few moves."""
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def test_brushes_and_clicks_drive_the_linked_views(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1100})

    # Autoencoders: brush a box of the code plane.
    goto_page(page, app_server, "autoencoders")  # the untrained network's codes will do
    expect(page.get_by_text("No digits brushed yet")).to_be_visible()
    assert page.locator(".st-key-ae_brushed_pairs").count() == 0
    drag(page, plot_box(page, "ae_codes_brush"), (0.25, 0.2), (0.6, 0.6))
    brushed = page.get_by_text(re.compile(r"^\d+ digits? brushed"))
    expect(brushed).to_be_visible(timeout=20_000)
    shown = min(24, int(brushed.inner_text().split()[0]))
    # each digit and its reconstruction: two pictures per digit shown
    expect(inspect_area(page).locator('[aria-roledescription="image mark"]')).to_have_count(2 * shown)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "linked-autoencoders.png"))

    # Vanishing gradients: two steps more, then brush a range of the three on the loss curve.
    goto_page(page, app_server, "vanishing")
    for _ in range(2):
        page.get_by_role("button", name=re.compile("Step")).click()
        wait_for_app(page)
    expect(page.get_by_text("No steps brushed yet")).to_be_visible()
    drag(page, plot_box(page, "vg_steps_brush"), (0.3, 0.6), (0.95, 0.6))
    expect(page.get_by_text(re.compile(r"^Steps? \d+( to \d+)?:"))).to_be_visible(timeout=20_000)
    wait_for_app(page)
    networks = page.locator('.st-key-vg_steps_brush [aria-roledescription="line mark"]').count()
    without = page.get_by_text("no step recorded in this range").count()  # one diverged before the range
    assert networks > 1 and without < networks
    # the loss curve, then a heatmap for each network with steps in the range
    expect(inspect_area(page).get_by_test_id("stVegaLiteChart")).to_have_count(1 + networks - without)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "linked-vanishing.png"))

    # Sentiment lab: click two cells of the confusion matrix.
    goto_page(page, app_server, "sentiment?rows=1000")
    page.get_by_role("button", name=re.compile("Step")).click()
    expect(page.get_by_text(re.compile("^Test accuracy"))).to_be_visible(timeout=60_000)
    wait_for_app(page)
    heading = page.get_by_text(re.compile(r"^(No test text|[\d,]+ test texts?) — true “"))
    assert heading.count() == 0
    plot_box(page, "sn_confusion_cells")
    for true, predicted in (("negative", "neutral"), ("positive", "negative")):
        cell = page.locator(f'.st-key-sn_confusion_cells [aria-label*="true: {true}; predicted: {predicted};"]')
        box = cell.first.bounding_box()  # its centre, where the count is written: a click there selects the cell
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        expect(heading).to_have_text(re.compile(f"true “{true}”, predicted “{predicted}”"), timeout=20_000)
        wait_for_app(page)
        listed = re.match(r"[\d,]+ test text", heading.inner_text())
        # the cell's table comes between the encoding table and the mistakes' table, when the cell holds texts
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(3 if listed else 2)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "linked-sentiment.png"))
