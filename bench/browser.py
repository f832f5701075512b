"""python -m bench.browser [--repeats N] [--json PATH] [--only p3,c3,p5,p6,lv]: the browser benchmarks.

The issue's browser and server targets, measured on the real server (`streamlit run app.py`)
in Debian's Chromium, each as median (min..max) over the repeats against its target.

P3  Playground, default task, Play for 8 s: epochs per second of wall time shown by the
    page's Epoch, boundary redraws per second, then Pause -> Play shown and the epoch still.
    Targets: >= 180 epochs/s, >= 4 redraws/s, Pause answered <= 0.5 s.
C3  Convolutions, training tab, default network without its step limit, Play for 8 s: frames
    drawn per second (the live view's metrics changed), the feature maps' and all the view's
    chart redraws per second, steps per second shown by the page's Step, the browser's main
    thread in long tasks and the server's CPU time per second of wall time. Target: >= 4 frames
    drawn per second on CPU.
P5  Attention explorer, model loaded, after a warm-up sentence: Enter on a 20-word sentence
    -> every heatmap drawn for it and the app idle. Target <= 0.5 s.
P6  Launch of `streamlit run app.py` -> Home rendered and idle in a browser already open
    (target <= 3 s); then that one session visits every page; the server's resident memory
    (it and its children) after the visits (target < 1.5 GB), its peak, and after the session
    has closed.
LV  Vanishing gradients, GAN lab, Autoencoders and Sequence models, Play for 8 s each: the
    browser's main thread in long tasks (ms per second) and the Plotly charts mounted anew per
    second, on the app as it is (charts updated in place) and on a baseline server started with
    NP_PLOTLY_IN_PLACE=0 (the same charts drawn by st.plotly_chart). Target: the baseline keeps
    the main thread at least twice as busy.

Each repeat of P3 and C3 is a new browser session on one server, the P5 repeats are sentences in
one session, each repeat of P6 starts a new server. Nothing fails on a threshold except a
measurement that could not be taken (exit status 1).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

from app_pages.registry import PAGES

from .pages import (LIVE_PAGES, compare_live_charts, launch_chromium, measure_attention, measure_cnn, measure_live,
                    visit_every_page, wait_rendered)
from .server import _children, streamlit_server

GB_IN_MIB = 1e9 / 2**20  # /proc counts in KiB; the target's 1.5 GB is 1.5e9 bytes
# (key, what, unit, target, True when more is better)
TARGETS = {
    "p3": [("epochs_per_s", "epochs per second of wall time shown", "epochs/s", 180, True),
           ("redraws_per_s", "boundary redraws per second", "/s", 4, True),
           ("pause_s", "Pause -> Play shown, epoch still", "s", 0.5, False)],
    "c3": [("frames_per_s", "frames drawn per second (metrics changed)", "/s", 4, True),
           ("maps_redraws_per_s", "    feature maps' chart redrawn per second", "/s", None, True),
           ("chart_draws_per_s", "    chart redraws per second, all charts of the view", "/s", None, True),
           ("steps_per_s", "    training steps per second shown (Step)", "steps/s", None, True),
           ("step_changes_per_s", "    Step shown changed, per second", "/s", None, True),
           ("browser_busy_ms_per_s", "    browser main thread in long tasks", "ms/s", None, False),
           ("charts_mounted", "    charts mounted anew in those 8 s (a rerun of the page)", "charts", None, False),
           ("server_cpu_percent", "    server CPU time per second of wall time", "%", None, False)],
    "p5": [("answered_s", "Enter -> all heatmaps drawn, app idle", "s", 0.5, False),
           ("drawn_s", "    Enter -> all heatmaps drawn", "s", None, False),
           ("idle_s", "    Enter -> script run finished", "s", None, False)],
    "p6": [("interactive_s", "launch -> Home rendered, app idle", "s", 3.0, False),
           ("healthy_s", "    launch -> /_stcore/health ok", "s", None, False),
           ("rss_after_visits_mb", "server RSS after visiting every page", "MiB", 1.5 * GB_IN_MIB, False),
           ("rss_peak_mb", "    peak RSS during the visits", "MiB", None, False),
           ("rss_after_close_mb", "    RSS once the session has closed", "MiB", None, False),
           ("visit_all_s", "    one session visits every page", "s", None, False)],
    "lv": [row for path, _ in LIVE_PAGES for row in (
        (f"{path}_busy_ratio", f"{path}: main thread busy, st.plotly_chart / in place", "x", 2, True),
        (f"{path}_busy_ms_per_s", f"    {path}: in long tasks, in place", "ms/s", None, False),
        (f"{path}_baseline_busy_ms_per_s", f"    {path}: in long tasks, st.plotly_chart", "ms/s", None, False),
        (f"{path}_mounts_per_s", f"    {path}: charts mounted anew, in place", "/s", None, False),
        (f"{path}_baseline_mounts_per_s", f"    {path}: charts mounted anew, st.plotly_chart", "/s", None,
         False))],
}
TITLES = {"p3": "P3 Playground live view, default task (Play for 8 s)",
          "c3": "C3 Convolutions live view, default network (Play for 8 s)",
          "p5": "P5 Attention explorer, 20-word sentence (model warm)",
          "p6": "P6 server start and memory, one session on every page",
          "lv": "LV the other live pages (Play for 8 s each)"}
SESSION_TTL_S = 2   # the server forgets a closed session after this long (default 120 s)


def spread(values: list[float]) -> dict[str, float]:
    """min, median and max, as bench.timing.seconds_stats reports them."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


class RssSampler:
    """Samples a server's resident memory every `interval_s` in a thread; keeps the peak."""

    def __init__(self, server, interval_s: float = 0.2):
        self.server, self.interval_s, self.peak = server, interval_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss_mb())


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process so far, in seconds (0 if it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its living descendants, in seconds."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            total += process_cpu_seconds(p)
            todo += _children(p)
    return total


def start_and_visit(browser) -> dict:
    """One repeat of P6 on a new server; the browser is open before the launch."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        with streamlit_server(("--server.disconnectedSessionTTL", str(SESSION_TTL_S)), wait=False) as server:
            healthy = server.wait_healthy(poll_s=0.02)
            page.goto(server.base_url, wait_until="commit", timeout=60_000)
            interactive = wait_rendered(page, "Neural Playground")
            with RssSampler(server) as sampler:
                start = time.perf_counter()
                seconds = visit_every_page(page, PAGES)
                visit_all = time.perf_counter() - start
                time.sleep(1.0)
                after_visits = server.rss_mb()
            context.close()
            time.sleep(SESSION_TTL_S + 4)  # past the TTL: the server drops the session
            return {"healthy_s": healthy - server.launched_at, "interactive_s": interactive - server.launched_at,
                    "rss_after_visits_mb": after_visits, "rss_peak_mb": sampler.peak,
                    "rss_after_close_mb": server.rss_mb(), "visit_all_s": visit_all, "page_s": seconds}
    finally:
        context.close()  # a second close is a no-op


def run(targets: list[str], repeats: int) -> tuple[dict, list[str]]:
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[dict]] = {t: [] for t in targets}
    errors = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            if "p6" in targets:  # first: its servers must start cold and see one session only
                for _ in range(repeats):
                    _attempt(errors, "p6", lambda: runs["p6"].append(start_and_visit(browser)))
            if {"p3", "c3", "p5", "lv"} & set(targets):
                with streamlit_server() as server:
                    if "p3" in targets:
                        for _ in range(repeats):
                            _attempt(errors, "p3", lambda: runs["p3"].append(measure_live(browser, server.base_url)))
                    if "c3" in targets:
                        for _ in range(repeats):
                            _attempt(errors, "c3", lambda: runs["c3"].append(measure_cnn(
                                browser, server.base_url, cpu_seconds=lambda: tree_cpu_seconds(server.pid))))
                    if "p5" in targets:
                        _attempt(errors, "p5", lambda: runs["p5"].extend(measure_attention(browser, server.base_url,
                                                                                           repeats)))
                    if "lv" in targets:
                        with streamlit_server(env={"NP_PLOTLY_IN_PLACE": "0"}) as baseline:
                            for _ in range(repeats):
                                _attempt(errors, "lv", lambda: runs["lv"].append(
                                    compare_live_charts(browser, baseline.base_url, server.base_url)))
        finally:
            browser.close()
    return runs, errors


def _attempt(errors: list[str], target: str, fn) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report the failed measurement and go on with the others
        errors.append(f"{target}: {type(e).__name__}: {e}")
        traceback.print_exc()


def summarise(runs: dict[str, list[dict]]) -> dict:
    results = {}
    for target, measured in runs.items():
        if not measured:
            continue
        entry = {"repeats": len(measured), "runs": measured}
        for key, _, unit, goal, more_is_better in TARGETS[target]:
            stats = spread([m[key] for m in measured])
            entry[key] = {**stats, "unit": unit}
            if goal is not None:
                ratio = stats["median"] / goal if more_is_better else goal / stats["median"]
                entry[key].update(target=goal, more_is_better=more_is_better, ratio=ratio, meets=ratio >= 1)
        results[target] = entry
    return results


def _fmt(value: float, unit: str) -> str:
    if unit == "MiB":
        return f"{value:,.0f}"
    return f"{value:.2f}" if unit == "s" else f"{value:.1f}"


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """(what, median (min..max) unit, target, ratio to the target: >= 1 meets it) rows."""
    rows = []
    for target, entry in results.items():
        rows.append((f"{TITLES[target]}, {entry['repeats']} runs", "median (min..max)", "target", "ratio"))
        for key, what, unit, goal, more_is_better in TARGETS[target]:
            s = entry[key]
            measured = f"{_fmt(s['median'], unit)} {unit} ({_fmt(s['min'], unit)}..{_fmt(s['max'], unit)})"
            if goal is None:
                rows.append((f"    {what.strip()}", measured, "", ""))
                continue
            sign = ">=" if more_is_better else ("<" if unit == "MiB" else "<=")
            verdict = "meets" if s["meets"] else "misses"
            rows.append((f"  {what}", measured, f"{sign} {_fmt(goal, unit)} {unit}", f"{s['ratio']:.2f} {verdict}"))
    return rows


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (min/median/max)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--only", default=",".join(TARGETS), help=f"comma-separated subset of {','.join(TARGETS)}")
    args = parser.parse_args(argv)
    targets = [t.strip().lower() for t in args.only.split(",") if t.strip()]
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if unknown := [t for t in targets if t not in TARGETS]:
        parser.error(f"--only: unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if not os.access("/usr/bin/chromium", os.X_OK):
        print("/usr/bin/chromium not found: install Debian's chromium (make chromium)", file=sys.stderr)
        return 1

    before = machine()
    start = time.perf_counter()
    runs, errors = run(targets, args.repeats)
    results = summarise(runs)
    seconds = time.perf_counter() - start
    after = machine()
    print(f"Neural Playground browser benchmarks: {before['cores']} x {before['cpu']}, Chromium headless, "
          f"Python {before['python']}")
    print("load average (1, 5, 15 min): before " + ", ".join(f"{x:.2f}" for x in before["load_average"])
          + "; after " + ", ".join(f"{x:.2f}" for x in after["load_average"]))
    rows = table(results)
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for what, measured, goal, ratio in rows:
            print(f"{what:{widths[0]}}  {measured:>{widths[1]}}  {goal:>{widths[2]}}  {ratio}".rstrip())
    if "p6" in results:
        pages = {path: spread([r["page_s"][path] for r in results["p6"]["runs"]])["median"]
                 for path in results["p6"]["runs"][0]["page_s"]}
        print("P6 seconds per page in that session (median): "
              + ", ".join(f"{path} {s:.1f}" for path, s in pages.items()))
    print(f"({seconds:.1f} s)")
    for e in errors:
        print(f"FAILED {e}", file=sys.stderr)
    if args.json:
        meta = {"machine": before, "load_average_after": after["load_average"], "repeats": args.repeats,
                "seconds": seconds, "errors": errors}
        Path(args.json).write_text(json.dumps({"meta": meta, **results}, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if errors or not results else 0


if __name__ == "__main__":
    sys.exit(main())
