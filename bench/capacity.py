"""python -m bench.capacity [--sessions 1,2,4,8,12,16] [--page playground|autoencoders] [--window 10] [--json PATH]:
how many students one core holds.

One server (`streamlit run app.py`) pinned to one core; the students (bench/students.py: sessions that
speak Streamlit's websocket protocol as a browser does, without drawing, as each student's own
computer draws for them) on the other core. For each count N, N students open the page with a seed
of their own and press Play. After a warm-up, over `window` seconds:
  - each session's progress, read from what the page sends (Epoch on the Playground, Step elsewhere),
    per second;
  - the server's CPU time (all its threads) per second of wall time, and per session;
  - the server's resident memory, and what each session added to it;
then a few students, one after another while the others play on, click Pause and then Play, each
click timed until the page has drawn its answer (the other button) and finished: the slowest is what
a student waits for. The sessions close before the next count. Sessions per core: the largest N whose
every session still shows >= 100 epochs/s (the Playground's floor for a live lesson) with every click
answered within 1 s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from .browser import tree_cpu_seconds
from .server import streamlit_server, tree_rss_mb
from .students import Student

PAGES = {  # page -> (url path, progress metric)
    "playground": ("playground", "Epoch"),
    "autoencoders": ("autoencoders", "Step"),
}
PLAY, PAUSE = "▶ Play", "⏸ Pause"
FLOOR_PER_S = 100     # epochs per second a Playground session must keep
CLICK_LIMIT_S = 1.0   # every click answered within this
TIMED_CLICKS = 3      # students whose Pause and Play are timed at each count


def progress(student: Student, label: str) -> int:
    return int(student.metrics.get(label, "0").replace(",", ""))


async def measure(base_url: str, pid: int, n: int, page_name: str, window_s: float, warmup_s: float) -> dict:
    path, label = PAGES[page_name]
    rss_before = tree_rss_mb(pid)
    students = [Student(base_url, path, f"train.seed={1000 + i}") for i in range(n)]
    try:
        await asyncio.gather(*(s.open() for s in students))
        await asyncio.gather(*(s.wait_finished(300) for s in students))
        await asyncio.gather(*(s.answered(PLAY, PAUSE, 300) for s in students))
        await asyncio.sleep(warmup_s)
        first = [progress(s, label) for s in students]
        cpu0, t0 = tree_cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu1, t1 = tree_cpu_seconds(pid), time.perf_counter()
        last = [progress(s, label) for s in students]
        rss = tree_rss_mb(pid)
        answers = []
        for s in students[:TIMED_CLICKS]:  # one student at a time, the others training on
            answers.append(await s.answered(PAUSE, PLAY))
            answers.append(await s.answered(PLAY, PAUSE))
        errors = [e for s in students for e in s.errors]
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    if errors:
        raise RuntimeError(f"the page raised: {errors[0]}")
    rates = [(b - a) / (t1 - t0) for a, b in zip(first, last)]
    cores = (cpu1 - cpu0) / (t1 - t0)
    return {"sessions": n, "per_s_min": min(rates), "per_s_median": statistics.median(rates),
            "server_cores": cores, "cores_per_session": cores / n, "rss_mb": rss,
            "mb_per_session": (rss - rss_before) / n, "click_answer_max_s": max(answers),
            "click_answer_median_s": statistics.median(answers)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,2,4,8,12,16", help="session counts to measure, comma separated")
    parser.add_argument("--page", choices=list(PAGES), default="playground")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured at each count")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds of Play before the window")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    counts = [int(c) for c in args.sessions.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    server_core, student_cores = cores[0], set(cores[1:]) or {cores[0]}
    rows = []
    os.sched_setaffinity(0, student_cores)
    with streamlit_server(("--server.disconnectedSessionTTL", "2")) as server:
        # Every thread of the server on one core: threads made later inherit the mask of the one making them.
        for task in Path(f"/proc/{server.pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {server_core})
        unit = "epochs/s" if args.page == "playground" else "steps/s"
        print(f"{args.page}: server on core {server_core}, students on {sorted(student_cores)}; "
              f"{args.window:g} s window after {args.warmup:g} s of Play")
        print(f"{'sessions':>8} {unit + ' min':>13} {'median':>8} {'server cores':>12} {'cores/session':>13} "
              f"{'RSS MB':>7} {'MB/session':>10} {'click max s':>11} {'median':>7}")
        asyncio.run(measure(server.base_url, server.pid, 1, args.page, 1.0, 1.0))  # imports, caches: not counted
        time.sleep(4)
        for n in counts:
            row = asyncio.run(measure(server.base_url, server.pid, n, args.page, args.window, args.warmup))
            rows.append(row)
            print(f"{n:>8} {row['per_s_min']:>13,.0f} {row['per_s_median']:>8,.0f} {row['server_cores']:>12.2f} "
                  f"{row['cores_per_session']:>13.3f} {row['rss_mb']:>7,.0f} {row['mb_per_session']:>10.1f} "
                  f"{row['click_answer_max_s']:>11.2f} {row['click_answer_median_s']:>7.2f}", flush=True)
            time.sleep(4)  # past the TTL: the closed sessions are dropped before the next count
    if args.page == "playground":
        fits = [r["sessions"] for r in rows if r["per_s_min"] >= FLOOR_PER_S
                and r["click_answer_max_s"] <= CLICK_LIMIT_S]
        print(f"sessions per core with >= {FLOOR_PER_S} epochs/s each and every click answered within "
              f"{CLICK_LIMIT_S:g} s: {max(fits) if fits else 'none of those measured'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"page": args.page, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
