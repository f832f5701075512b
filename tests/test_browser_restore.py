"""Nothing lost, in the real server and Chromium: the Playground trained past epoch 50 comes back
after a reload at the epoch of its last save, and again after the server is killed with SIGKILL
and started anew (the session store is SQLite on disk; the browser keeps its key in a cookie)."""
import os
import re
import signal
import time

import pytest

from browser_helpers import assert_no_exception, goto_page, wait_for_app
from conftest import streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def metric(page, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return int(box.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def wait_for_epoch(page, at_least: int, timeout_s: float = 90) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            epoch = metric(page, "Epoch")
            if epoch >= at_least:
                return epoch
        except (ValueError, Exception):  # noqa: BLE001 - the metric is being redrawn
            pass
        page.wait_for_timeout(250)
    raise AssertionError(f"the epoch did not reach {at_least} in {timeout_s} s")


def restored_epoch(page) -> int:
    notice = page.get_by_text(re.compile(r"Restored your network at epoch [\d,]+"))
    notice.first.wait_for(timeout=60_000)
    return int(re.search(r"epoch ([\d,]+)", notice.first.inner_text()).group(1).replace(",", ""))


def test_a_reload_and_a_killed_server_bring_the_trained_network_back(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    procs = []
    try:
        with streamlit_server(started=procs.append) as first:
            goto_page(page, first, "playground")
            page.get_by_role("button", name=re.compile("Play")).click()
            wait_for_epoch(page, 55)
            time.sleep(6)  # past one autosave interval while it plays
            before_reload = metric(page, "Epoch")
            page.reload()
            epoch = restored_epoch(page)
            assert_no_exception(page)
            assert 50 <= epoch <= before_reload
            assert metric(page, "Epoch") == epoch
            page.get_by_role("button", name=re.compile("Play")).click()  # Play goes on from there
            wait_for_epoch(page, epoch + 5)
            page.get_by_role("button", name=re.compile("Pause")).click()  # a pause saves at once
            # The epoch is read once the paused page is drawn: a frame that was training when Pause was
            # clicked finishes first, and a busy machine draws the page after it a while later.
            page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=30_000)
            wait_for_app(page)
            paused_at = metric(page, "Epoch")
            os.killpg(procs[0].pid, signal.SIGKILL)  # no goodbye: only what is on disk survives
            procs[0].wait(timeout=10)
        with streamlit_server() as second:  # a new process on another port; the cookie is the host's
            goto_page(page, second, "playground")
            assert restored_epoch(page) == paused_at
            assert_no_exception(page)
            page.get_by_role("button", name=re.compile("Play")).click()
            wait_for_epoch(page, paused_at + 3)
    finally:
        context.close()
