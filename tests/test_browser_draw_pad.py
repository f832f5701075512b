"""The drawing pad (app_pages/common/draw_pad.py): its plain helpers, and the component itself in
Debian's Chromium: a tiny Streamlit script shows the grid Python receives; a vertical stroke drawn
with the mouse comes back high in the middle columns and dark at the edges, once, when the stroke
ends (not while it is drawn), and Clear empties it. The screenshot goes to screenshot_dir."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from app_pages.common.draw_pad import _checked_grid, grid_is_empty, grid_to_input
from browser_helpers import assert_no_exception, wait_for_app

REPO_ROOT = Path(__file__).resolve().parents[1]

# The script the server runs: the pad, the grid it returns as JSON, and a count of script runs
# (one more per stroke, not one per mouse move).
SCRIPT = """
import json
import streamlit as st
from app_pages.common.draw_pad import draw_pad, grid_is_empty

st.session_state.runs = st.session_state.get("runs", 0) + 1
grid = draw_pad("pad")
st.code(json.dumps({"runs": st.session_state.runs, "empty": grid_is_empty(grid), "grid": grid}), language="json")
"""


# ---- the plain helpers ----------------------------------------------------------------------

def test_grid_to_input_clips_and_flattens_row_major():
    grid = [[(r * 8 + c) / 32 - 0.5 for c in range(8)] for r in range(8)]
    x = grid_to_input(grid)
    assert x.shape == (64,) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0 and x[3 * 8 + 2] == pytest.approx(26 / 32 - 0.5)
    np.testing.assert_array_equal(grid_to_input(x), x)  # 64 values in, the same out
    np.testing.assert_array_equal(grid_to_input(None), np.zeros(64))
    assert grid_to_input([[float("nan")] * 8] * 8).max() == 0.0
    with pytest.raises(ValueError, match="8×8 values or 64 values"):
        grid_to_input([[0.5] * 7] * 8)


def test_empty_means_no_grid_or_only_faint_cells():
    assert grid_is_empty(None)
    assert grid_is_empty([[0.0] * 8] * 8) and grid_is_empty([[0.01] * 8] * 8)
    assert not grid_is_empty([[0.0] * 7 + [0.4]] + [[0.0] * 8] * 7)


def test_what_the_browser_sends_is_checked():
    good = [[0.5] * 8 for _ in range(8)]
    assert _checked_grid(good) == good
    assert _checked_grid([[2.0, -1.0] + [0.0] * 6] + good[1:])[0][:2] == [1.0, 0.0]
    for bad in (None, "grid", good[:7], [[0.5] * 9] * 8, [["a"] * 8] * 8, [[True] * 8] * 8,
                [[float("inf")] * 8] * 8):
        assert _checked_grid(bad) is None


# ---- the component in the browser -------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _tiny_app(script: Path):
    """`streamlit run script` from the repository root (its .streamlit/config.toml, its packages
    importable); yields the base URL and stops the server afterwards."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the draw pad's test app did not start:\n{log.read().decode(errors='replace')[-4000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def _shown(page) -> dict:
    return json.loads(page.locator('[data-testid="stCode"] code').inner_text())


def _wait_shown(page, check, timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        value = _shown(page)
        if check(value) or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(100)


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_a_drawn_stroke_reaches_python_as_an_8x8_grid(page, screenshot_dir, tmp_path):
    script = tmp_path / "draw_pad_app.py"
    script.write_text(SCRIPT)
    with _tiny_app(script) as base_url:
        page.goto(base_url, wait_until="domcontentloaded")
        wait_for_app(page)
        canvas = page.locator(".np-draw-pad-board canvas")
        expect(canvas).to_be_visible()
        first = _shown(page)
        assert first["grid"] is None and first["empty"] is True

        box = canvas.bounding_box()
        x, top, bottom = box["x"] + box["width"] / 2, box["y"] + 0.1 * box["height"], box["y"] + 0.9 * box["height"]
        page.mouse.move(x, top)
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(x, top + (bottom - top) * step / 20)
        page.wait_for_timeout(500)  # mid-stroke: nothing is sent yet
        assert _shown(page)["runs"] == first["runs"]
        page.mouse.up()

        drawn = _wait_shown(page, lambda v: v["grid"] is not None)
        wait_for_app(page)
        assert _shown(page)["runs"] == first["runs"] + 1  # one rerun for the whole stroke
        grid = np.array(drawn["grid"])
        assert grid.shape == (8, 8) and drawn["empty"] is False
        assert grid[1:7, 3:5].mean() > 0.25 and grid[1:7, 3:5].min() > 0.1  # the stroke: middle columns
        assert grid[:, [0, 1, 6, 7]].max() < 0.02  # the paper either side of it
        assert_no_exception(page)
        page.screenshot(path=str(screenshot_dir / "draw_pad.png"))

        page.get_by_role("button", name="Clear").click()
        cleared = _wait_shown(page, lambda v: v["grid"] is None)
        assert cleared["grid"] is None and cleared["empty"] is True
        assert_no_exception(page)
