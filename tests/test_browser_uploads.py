"""Bad uploads in the real page: each is refused with a message, and the network stays."""
import re
import time

import pytest

from browser_helpers import assert_no_exception, goto_page

pytestmark = pytest.mark.browser


def open_share_panel(page):
    page.get_by_text("Share, save and export").click()
    page.get_by_text("Load a checkpoint").wait_for()


@pytest.mark.parametrize("name, payload, message", [
    ("broken.pt", b"this is not a checkpoint", "Could not load broken.pt"),
    ("config.json", b'{"model": {"hidden": [0]}}', "model.hidden[0]"),
])
def test_bad_config_or_checkpoint_is_refused_with_a_message(app_server, page, name, payload, message):
    page.set_viewport_size({"width": 1500, "height": 1900})
    goto_page(page, app_server, "playground")
    open_share_panel(page)
    label = "Load a checkpoint" if name.endswith(".pt") else "Load a config"
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    uploader.locator('input[type="file"]').first.set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": payload}])
    page.get_by_text(re.compile(re.escape(message))).first.wait_for(timeout=20000)
    assert page.locator('[data-testid="stAlertContentError"]').count() >= 1
    assert_no_exception(page)


def test_malformed_csv_is_refused_and_a_good_one_loads(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 1900})
    goto_page(page, app_server, "playground")
    page.get_by_label("Data set").click()
    page.get_by_role("option", name="Your own data").click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Upload CSV")
    uploader.wait_for(timeout=20000)
    uploader.locator('input[type="file"]').first.set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}])
    page.get_by_text(re.compile("Could not use bad.csv")).wait_for(timeout=20000)
    rows = "x1,x2,label\n" + "\n".join(f"{x},{y},{int(x * y > 0)}" for x in range(-5, 6) for y in (-3, -1, 2, 4))
    uploader.locator('input[type="file"]').first.set_input_files(
        files=[{"name": "quadrants.csv", "mimeType": "text/csv", "buffer": rows.encode()}])
    page.get_by_text(re.compile("Loaded 44 points from quadrants.csv")).wait_for(timeout=20000)
    time.sleep(1)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "playground-custom-data.png"), full_page=True)
