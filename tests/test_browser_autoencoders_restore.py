"""Nothing lost on the Autoencoders page, in the real server and Chromium: an autoencoder trained
past 300 steps comes back after a reload at the step of its last save and Play goes on from
there; after the server is killed with SIGKILL and started anew, the same step comes back (the
session store is SQLite on disk; the browser keeps its key in a cookie).

"The last save" is read from the store itself (the servers share this test run's NP_DATA_DIR):
the step on screen just before a reload is no bound, since the page keeps training while the
browser fetches the new one."""
import io
import os
import re
import signal
import time

import pytest

from app_pages.common.saved_runs import COOKIE
from app_pages.common.session_store import SQLiteStore, default_store_path
from browser_helpers import assert_no_exception, goto_page
from conftest import streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def metric(page, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return int(box.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def wait_for_step(page, at_least: int, timeout_s: float = 90) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            step = metric(page, "Step")
            if step >= at_least:
                return step
        except Exception:  # noqa: BLE001 - the metric is being redrawn
            pass
        page.wait_for_timeout(250)
    raise AssertionError(f"the step did not reach {at_least} in {timeout_s} s")


def restored_step(page) -> int:
    notice = page.get_by_text(re.compile(r"Restored your autoencoder at step [\d,]+, as last saved"))
    notice.first.wait_for(timeout=60_000)
    return int(re.search(r"step ([\d,]+)", notice.first.inner_text()).group(1).replace(",", ""))


def saved_step(context) -> int:
    """The step of this browser's saved autoencoder, as the store holds it now."""
    import torch
    key = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
    store = SQLiteStore(default_store_path())
    try:
        data = store.get(key, "autoencoders")
    finally:
        store.close()
    assert data is not None, "nothing saved for this browser"
    return torch.load(io.BytesIO(data), weights_only=True)["step"]


def test_a_reload_and_a_killed_server_bring_the_trained_autoencoder_back(browser, screenshot_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    procs = []
    try:
        with streamlit_server(started=procs.append) as first:
            goto_page(page, first, "autoencoders")
            page.get_by_role("button", name=re.compile("Play")).click()
            wait_for_step(page, 300)
            # Past one autosave interval (5 s) while it plays, plus a slow frame's worth (up to 3 s).
            time.sleep(9)
            page.reload()
            step = restored_step(page)
            assert_no_exception(page)
            assert step >= 300  # saved while it played, not only at the start
            assert metric(page, "Step") == step
            page.wait_for_timeout(1500)  # the old page's last frame, if one was still running, has ended
            assert saved_step(context) == step  # restored at the last save
            page.get_by_role("button", name=re.compile("Play")).click()  # Play goes on from there
            wait_for_step(page, step + 100)
            page.get_by_role("button", name=re.compile("Pause")).click()  # a pause saves at once
            page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=20_000)
            page.wait_for_timeout(1500)
            paused_at = metric(page, "Step")
            assert paused_at >= step + 100 and saved_step(context) == paused_at
            os.killpg(procs[0].pid, signal.SIGKILL)  # no goodbye: only what is on disk survives
            procs[0].wait(timeout=10)
        with streamlit_server() as second:  # a new process on another port; the cookie is the host's
            goto_page(page, second, "autoencoders")
            assert restored_step(page) == paused_at
            assert metric(page, "Step") == paused_at
            assert_no_exception(page)
            page.screenshot(path=str(screenshot_dir / "autoencoders_restored.png"))
            page.get_by_role("button", name=re.compile("Play")).click()
            wait_for_step(page, paused_at + 50)
            assert_no_exception(page)
    finally:
        context.close()
