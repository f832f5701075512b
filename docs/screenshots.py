"""Screenshots of the app for the README and the page guides: `make screenshots`.

Starts the real server (`streamlit run app.py`, headless, on a free loopback port), drives it
with Playwright in Debian's Chromium, brings each page to a state that shows what it is for
(trained a little, heatmaps drawn) and writes one PNG per page:

    .venv/bin/python docs/screenshots.py [--out docs/images] [--only NAME ...]

A page that shows an exception box or an error dialog stops its shot with a message naming
the page, and the script exits non-zero. The server is stopped at the end, whatever happened.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
# bench.server starts the app; tests/browser_helpers.py knows how to wait for it (as the browser tests do).
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from bench.server import streamlit_server  # noqa: E402
from browser_helpers import (assert_no_error_dialog, assert_no_exception, choose, goto_page,  # noqa: E402
                             pause_unless_stopped, wait_for_app)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WIDTH = 1400
# Streamlit scrolls inside its own container, so a "full page" shot holds only the viewport: the
# viewport is made tall enough for every page, and each PNG is clipped below the last thing it shows.
TALL = 2400
FIRST_LOAD_MS = 120_000  # the first page to import PyTorch, or to load the attention model, on two slow cores


@dataclass(frozen=True)
class Shot:
    name: str                        # the PNG is <name>.png
    url_path: str                    # "" is the default page (Home); an address may follow ("energy?tab=rbm")
    prepare: Callable[[Page], None]  # prepare(page) brings the opened page to the state worth showing
    until: str                       # CSS selector of the last element shown (its last match): the PNG ends below it

    @property
    def file_name(self) -> str:
        return f"{self.name}.png"


# ---------- what each page is brought to ----------

def metric(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def number(text: str) -> float:
    try:
        return float(text.replace(",", "").rstrip("%"))
    except ValueError:  # "—" before the first step
        return float("nan")


def train_live(page: Page, done: Callable[[], bool], seconds: float, what: str) -> None:
    """Press Play, poll `done()` until it holds (or `seconds` pass: then say so and go on with
    what there is), press Pause and wait for the page to finish drawing."""
    page.get_by_role("button", name=re.compile("Play")).first.click()
    start = time.monotonic()
    page.wait_for_timeout(1_000)
    while not done():
        assert_no_exception(page)
        if time.monotonic() - start > seconds:
            print(f"  note: {what} not reached after {seconds:.0f} s of Play; shooting it as it is", file=sys.stderr)
            break
        page.wait_for_timeout(500)
    pause_unless_stopped(page)
    page.get_by_role("button", name=re.compile("Play")).first.wait_for(timeout=30_000)
    wait_for_app(page)


def fewest_steps(page: Page, key: str) -> float:
    """Where the shortest curve of the live chart `key` ends (its last x)."""
    return page.evaluate("""(key) => {
        const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
        const ends = ((el && el._fullData) || []).map(t => t.x && t.x.length ? t.x[t.x.length - 1] : 0);
        return ends.length ? Math.min(...ends) : 0;
    }""", key)


def playground(page: Page) -> None:
    """Play on the default two circles, one epoch per frame (on Fast a frame trains ~100
    epochs and the loss curve, one point per frame, is a few straight segments), until the
    test accuracy is high: the boundary has bent into a ring and the loss curve has fallen."""
    choose(page, "Speed", "1 epoch per frame")
    wait_for_app(page)
    train_live(page, lambda: number(metric(page, "Epoch")) >= 80 and number(metric(page, "Test accuracy")) >= 95,
               seconds=90, what="epoch 80 at test accuracy 95 %")


def vanishing(page: Page) -> None:
    """Play the default comparison (20 sigmoids against ReLU + He and residual + LayerNorm)
    until even the slowest network has 150 steps (each gets the same time per frame, and the
    50-layer one does fewer steps in it): the depth chart, the heatmap and the loss curves
    have filled in, the sigmoid network's loss flat, the others' falling."""
    train_live(page, lambda: fewest_steps(page, "vg_loss") >= 150, seconds=60, what="150 steps for every network")


def autoencoders(page: Page) -> None:
    """Play the default 2-number MLP autoencoder until its codes have spread into digit
    clusters, then click the code plane so the decoder draws that point too."""
    train_live(page, lambda: number(metric(page, "Step")) >= 1500, seconds=60, what="step 1500")
    plane = page.locator(".st-key-ae_scatter .nsewdrag").first.bounding_box()
    page.mouse.click(plane["x"] + plane["width"] * 0.3, plane["y"] + plane["height"] * 0.6)
    page.get_by_text(re.compile(r"Decoded at \(")).wait_for(timeout=45_000)
    wait_for_app(page)


def cnn(page: Page) -> None:
    """The Convolutions page's training tab: the default CNN played to its 300-step limit (about 98 %
    of the test digits, about 95 % moved by a pixel), then conv3's maps shown and one of their cells
    clicked, so its receptive field is outlined on the digit beside its saliency map."""
    page.get_by_role("tab", name=re.compile("Train a CNN")).click()
    wait_for_app(page)
    page.get_by_role("button", name=re.compile("Play")).first.click()
    page.get_by_text(re.compile(r"Reached the step limit")).wait_for(timeout=180_000)
    wait_for_app(page)
    choose(page, "Stage", re.compile("^conv3"))
    wait_for_app(page)
    maps = page.locator(".st-key-cv_maps .nsewdrag").first.bounding_box()
    page.mouse.click(maps["x"] + maps["width"] * 0.1, maps["y"] + maps["height"] * 0.15)
    page.get_by_text(re.compile(r"depends on input rows")).wait_for(timeout=45_000)
    wait_for_app(page)


def energy(page: Page) -> None:
    """The RBM tab played to 3,000 steps: filters with strokes, reconstructions close to the digits,
    dreams that look like digits, and the free energy of test digits far below random images'."""
    train_live(page, lambda: number(metric(page, "Step")) >= 3000, seconds=90, what="step 3000")


def reservoirs(page: Page) -> None:
    """The echo state network played to the end of its training stretch (2,000 steps of Mackey–Glass):
    the prediction on the truth, the error falling as data arrives, the two starts converging."""
    train_live(page, lambda: number(metric(page, "Training steps seen")) >= 2000, seconds=90, what="2,000 steps")


def ntm(page: Page) -> None:
    """The default NTM and LSTM played to 600 steps: the NTM copies (its write and read heads drawn as
    diagonal bands), the LSTM does not, and on longer sequences the gap widens."""
    train_live(page, lambda: number(metric(page, "Step")) >= 600, seconds=120, what="step 600")


def attention(page: Page) -> None:
    """The default sentence with layer 4, head 2 chosen: in that head "it" reads mostly from
    "animal" (0.61), which the heatmap and the line view (from "it") both show; below, the grid
    of all heads."""
    choose(page, "Layer", re.compile("^4$"))
    choose(page, "Head", re.compile("^2$"))
    wait_for_app(page)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
        .filter(el => el._fullData && el.querySelector('.main-svg')).length >= 3""", timeout=FIRST_LOAD_MS)


def home(page: Page) -> None:
    """Nothing to do: the learning path, as it opens."""


# Home is the default page: Streamlit serves it at "/", and answers "/home" with "Page not found".
SHOTS = [
    Shot("home", "", home, '[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]'),
    Shot("playground", "playground", playground, ".st-key-pg_loss_chart"),
    Shot("vanishing", "vanishing", vanishing, ".st-key-vg_loss"),
    Shot("cnn", "cnn", cnn, ".st-key-cv_confusion"),
    Shot("autoencoders", "autoencoders", autoencoders, ".st-key-ae_rows"),
    Shot("energy", "energy?tab=rbm", energy, ".st-key-en_rbm_histogram"),
    Shot("ntm", "ntm", ntm, ".st-key-nt_longer"),
    Shot("reservoirs", "reservoirs?tab=esn", reservoirs, ".st-key-rs_states"),
    Shot("attention", "attention", attention, ".st-key-att_grid"),
]


# ---------- taking them ----------

def charts_drawn(page: Page, timeout_ms: int = 30_000) -> None:
    """Streamlit reports a run finished before plotly.js and the canvases have drawn: wait until
    every live chart holds a drawing and none says it could not be drawn."""
    page.wait_for_function("""() => [...document.querySelectorAll('.np-plotly')].every(el => el.querySelector('.main-svg'))
        && [...document.querySelectorAll('.np-plane, .np-curves')].every(el => el.querySelector('canvas'))""",
                           timeout=timeout_ms)
    if page.get_by_text(re.compile("This chart could not be drawn")).count():
        raise AssertionError("a chart says it could not be drawn")
    page.wait_for_timeout(500)  # the last frame's paint


def take(page: Page, base_url: str, shot: Shot, out: Path) -> Path:
    goto_page(page, base_url, shot.url_path, timeout_ms=FIRST_LOAD_MS)
    assert_no_error_dialog(page)
    assert_no_exception(page)
    shot.prepare(page)
    wait_for_app(page)
    charts_drawn(page)
    assert_no_error_dialog(page)
    assert_no_exception(page)
    # No tooltip, hover label or focus ring left from the last action: the mouse goes to an empty
    # spot below the picture, the focus nowhere.
    page.mouse.move(WIDTH - 2, TALL - 2)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(500)
    box = page.locator(shot.until).last.bounding_box()
    if box is None:
        raise AssertionError(f"{shot.until} is not on the page")
    bottom = min(TALL, int(box["y"] + box["height"] + 10))
    path = out / shot.file_name
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": WIDTH, "height": bottom})
    return path


def parse_args(argv=None) -> argparse.Namespace:
    names = [s.name for s in SHOTS]
    parser = argparse.ArgumentParser(description="Start the app and write a PNG of each page in a state that "
                                     "shows what it is for: " + ", ".join(names) + ".")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images",
                        help="folder for the PNGs (default: docs/images)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="take only these shots: " + ", ".join(names))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown shot {', '.join(unknown)}; choose from {', '.join(names)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} not found: install Debian's chromium (make chromium)", file=sys.stderr)
        return 1
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)

    failed = []
    with streamlit_server() as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for shot in shots:
                # A context per page: no session state carried from one page to the next.
                context = browser.new_context(viewport={"width": WIDTH, "height": TALL})
                started = time.monotonic()
                try:
                    path = take(context.new_page(), server.base_url, shot, args.out)
                    print(f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
                          f"{path.stat().st_size / 1024:.0f} KB ({time.monotonic() - started:.0f} s)", flush=True)
                except Exception as error:  # noqa: BLE001 - reported with the page's name, then the next page
                    failed.append(shot.name)
                    print(f"FAILED {shot.name} (/{shot.url_path}): {type(error).__name__}: {error}", file=sys.stderr)
                finally:
                    context.close()
        finally:
            browser.close()
    if failed:
        print(f"screenshots failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
