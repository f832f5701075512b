"""Bad uploads in the real page: each is refused with a message, and the network stays."""
import re
import time

import pytest

from browser_helpers import assert_no_exception, download, goto_page

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


def _open_custom_data(page, app_server):
    page.set_viewport_size({"width": 1500, "height": 1900})
    goto_page(page, app_server, "playground")
    page.get_by_label("Data set").click()
    page.get_by_role("option", name="Your own data").click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Upload CSV")
    uploader.wait_for(timeout=20000)
    return uploader.locator('input[type="file"]').first


def test_malformed_csv_is_refused(app_server, page):
    _open_custom_data(page, app_server).set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}])
    page.get_by_text(re.compile("Could not use bad.csv")).wait_for(timeout=20000)
    assert_no_exception(page)


def test_a_good_csv_loads(app_server, page, screenshot_dir):
    rows = "x1,x2,label\n" + "\n".join(f"{x},{y},{int(x * y > 0)}" for x in range(-5, 6) for y in (-3, -1, 2, 4))
    _open_custom_data(page, app_server).set_input_files(
        files=[{"name": "quadrants.csv", "mimeType": "text/csv", "buffer": rows.encode()}])
    page.get_by_text(re.compile("Loaded 44 points from quadrants.csv")).wait_for(timeout=20000)
    time.sleep(1)
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "playground-custom-data.png"), full_page=True)


def test_exported_script_reproduces_the_page_and_checkpoint_round_trips(app_server, page, tmp_path):
    """Train two epochs in the page, download 'Export as PyTorch', run it: its last line
    matches the page's Train loss. Download the checkpoint and load it back: same epoch."""
    import json
    import subprocess
    import sys

    page.set_viewport_size({"width": 1500, "height": 1900})
    goto_page(page, app_server, "playground")
    for expected in ("1", "2"):
        page.get_by_role("button", name=re.compile("Step")).click()
        page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{expected}$")).first.wait_for()
    train_loss = float(page.locator('[data-testid="stMetric"]').filter(has_text="Train loss")
                       .locator('[data-testid="stMetricValue"]').inner_text())
    open_share_panel(page)
    script = tmp_path / "train.py"
    download(page, "Export as PyTorch").save_as(script)
    result = subprocess.run([sys.executable, str(script), "--every", "1000"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["step"] == 50 and last["epoch"] == 2  # 250 training points, batches of 10
    assert round(last["train_loss"], 3) == pytest.approx(train_loss, abs=0.0011)

    checkpoint = tmp_path / "playground.pt"
    download(page, "Checkpoint").save_as(checkpoint)
    page.get_by_role("button", name=re.compile("Reset")).click()
    page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile("^0$")).first.wait_for()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Load a checkpoint")
    uploader.locator('input[type="file"]').first.set_input_files(str(checkpoint))
    page.get_by_text(re.compile("Loaded the checkpoint playground.pt")).wait_for(timeout=20000)
    epoch = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile("^Epoch$")))
    epoch.filter(has_text=re.compile("2$")).first.wait_for(timeout=20000)  # the restored progress
    assert_no_exception(page)
