"""Twenty people on one server: each browser session trains its own network, sees only its
own run, makes progress, and the server's memory stays bounded and is given back for reuse
when the sessions close.

One server, started with a short disconnected-session TTL so that closed sessions are
cleaned up within seconds rather than the default two minutes. Twenty Playwright contexts
(separate cookies and websockets, as separate people) open the Playground with their own
seed and data set in the URL and press Play at once.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from browser_helpers import APP_TIMEOUT_MS, assert_no_exception, wait_for_app
from conftest import streamlit_server

# Twenty Chromium pages and their server need more than CI's two cores can give in the
# suite's time budget: run with `make test-slow` (pytest -m slow).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

SESSIONS = int(os.environ.get("SOAK_SESSIONS", "20"))  # fewer to try the soak out on a small machine
DATA_SETS = ["circle", "xor", "gauss", "spiral", "moons"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server starts none, but be safe)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def watch_websockets(page) -> list[str]:
    """What happened to the page's websockets, with times: a lost click is explained (or not) by them."""
    events: list[str] = []
    start = time.monotonic()

    def opened(ws) -> None:
        events.append(f"{time.monotonic() - start:6.1f} s open {ws.url.rsplit('/', 1)[-1]}")
        ws.on("close", lambda _: events.append(f"{time.monotonic() - start:6.1f} s closed"))
    page.on("websocket", opened)
    return events


def open_sessions(browser, base_url: str, first_seed: int) -> list:
    sessions = []
    for i in range(SESSIONS):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.ws_events = watch_websockets(page)
        seed, data = first_seed + i, DATA_SETS[i % len(DATA_SETS)]
        page.goto(f"{base_url}/playground?train.seed={seed}&data.name={data}", wait_until="domcontentloaded",
                  timeout=APP_TIMEOUT_MS)
        sessions.append((context, page, seed, data))
    for _, page, _, _ in sessions:
        wait_for_app(page, timeout_ms=120_000)
        assert_no_exception(page)
    return sessions


def play_all(sessions) -> None:
    for _, page, _, _ in sessions:
        page.get_by_role("button", name=re.compile("Play")).click()


def check_each_sees_its_own_run(sessions, screenshot_dir: Path) -> list[float]:
    """Read every session while all keep training (each page must answer within its own ticks)."""
    epochs = []
    for i, (_, page, seed, data) in enumerate(sessions):
        try:
            page.get_by_role("button", name=re.compile("Pause")).wait_for(timeout=120_000)
        except Exception:
            page.screenshot(path=str(screenshot_dir / f"sessions-stuck-{i}.png"))
            raise AssertionError(f"session {i} (seed {seed}) still shows Play; its websockets: "
                                 f"{page.ws_events}") from None
        assert_no_exception(page)
        # The page writes its own config into the URL on every run: another session's seed
        # or data set here would mean shared state.
        assert f"train.seed={seed}" in page.url and f"data.name={data}" in page.url, page.url
        assert page.get_by_test_id("stSidebarUserContent").get_by_test_id("stNumberInputField").input_value() == str(seed)
        epochs.append(float(metric(page, "Epoch").replace(",", "")))
    return epochs


def close_all(sessions) -> None:
    for context, _, _, _ in sessions:
        context.close()


def test_twenty_sessions_train_apart_and_memory_is_bounded(browser, screenshot_dir):
    start = time.monotonic()

    def progress(what: str) -> None:  # a soak takes minutes: say where it is (make test-slow runs with -s)
        print(f"[{time.monotonic() - start:5.0f} s] {what}", flush=True)

    procs = []
    with streamlit_server(("--server.disconnectedSessionTTL", "2"), started=procs.append) as base_url:
        pid = procs[0].pid
        # Warm the server up with one visit (imports, first page) so the baseline is the app itself.
        warm = browser.new_context()
        warm_page = warm.new_page()
        warm_page.goto(f"{base_url}/playground", wait_until="domcontentloaded", timeout=APP_TIMEOUT_MS)
        wait_for_app(warm_page, timeout_ms=120_000)
        warm.close()
        time.sleep(4)
        baseline = rss_mb(pid)

        progress(f"server up, baseline RSS {baseline:.0f} MB; opening {SESSIONS} sessions")
        first = open_sessions(browser, base_url, first_seed=100)
        progress("all open; Play in each")
        play_all(first)
        time.sleep(15)
        epochs = check_each_sees_its_own_run(first, screenshot_dir)
        progress(f"each sees its own run; epochs {min(epochs):.0f}..{max(epochs):.0f}")
        first[0][1].screenshot(path=str(screenshot_dir / "sessions-one-of-twenty.png"))
        peak_first = rss_mb(pid)
        close_all(first)
        progress(f"closed (peak RSS {peak_first:.0f} MB)")
        time.sleep(6)  # past the 2 s TTL: the server drops the sessions
        after_close = rss_mb(pid)

        # A second wave of twenty reuses the memory the first gave back.
        progress(f"RSS after closing {after_close:.0f} MB; a second wave of {SESSIONS}")
        second = open_sessions(browser, base_url, first_seed=500)
        play_all(second)
        time.sleep(5)
        check_each_sees_its_own_run(second, screenshot_dir)
        peak_second = rss_mb(pid)
        progress(f"second wave trains apart too (RSS {peak_second:.0f} MB)")
        close_all(second)

    grow_first, grow_second = peak_first - baseline, peak_second - baseline
    print(f"server RSS: baseline {baseline:.0f} MB, 20 sessions {peak_first:.0f} MB, after closing {after_close:.0f} MB, "
          f"second 20 sessions {peak_second:.0f} MB; epochs per session when read: "
          f"min {min(epochs):.0f}, max {max(epochs):.0f}")
    assert min(epochs) > 0, epochs                       # every session made progress
    assert grow_first / SESSIONS < 50, grow_first       # bounded: well under 50 MB a session
    # Released: the second wave fits mostly in what the first gave back, instead of stacking on top.
    assert peak_second < peak_first + 0.5 * max(grow_first, 100), (peak_first, peak_second)
