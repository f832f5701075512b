"""The browser benchmarks' bookkeeping (bench/browser.py), without a browser: a run's numbers
become median (min..max) rows with a ratio to each target, --only names the targets, and the
server's CPU time is read from /proc."""
import os
import time

import pytest

from bench.browser import TARGETS, main, process_cpu_seconds, summarise, table, tree_cpu_seconds
from bench.pages import LIVE_PAGES


def _live_run(busy_now: float, busy_before: float) -> dict:
    run = {}
    for path, _ in LIVE_PAGES:
        run.update({f"{path}_busy_ms_per_s": busy_now, f"{path}_baseline_busy_ms_per_s": busy_before,
                    f"{path}_busy_ratio": busy_before / busy_now, f"{path}_mounts_per_s": 0.0,
                    f"{path}_baseline_mounts_per_s": 30.0})
    return run


def test_live_pages_are_compared_with_their_baseline_as_a_ratio():
    results = summarise({"lv": [_live_run(200, 800), _live_run(100, 800), _live_run(400, 600)]})
    ratio = results["lv"]["vanishing_busy_ratio"]
    assert ratio["median"] == 4.0 and ratio["min"] == 1.5 and ratio["max"] == 8.0
    assert ratio["target"] == 2 and ratio["ratio"] == 2.0 and ratio["meets"]
    assert "target" not in results["lv"]["vanishing_busy_ms_per_s"]  # reported, not judged
    rows = table(results)
    assert rows[0][0].startswith("LV the other live pages") and rows[0][0].endswith("3 runs")
    judged = [r for r in rows if r[2]]
    assert len(judged) == 1 + len(LIVE_PAGES)  # the header, and one ratio per page
    assert judged[1][1] == "4.0 x (1.5..8.0)" and judged[1][3] == "2.00 meets"


def test_a_baseline_that_is_not_twice_as_busy_misses():
    results = summarise({"lv": [_live_run(500, 800)]})
    assert not results["lv"]["gan_busy_ratio"]["meets"]


def test_only_names_the_known_targets(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "p3,p9"])
    assert exit_info.value.code == 2
    assert "unknown target(s) p9; choose from " + ", ".join(TARGETS) in capsys.readouterr().err


def _cnn_run(frames: float, cpu: float = 95.0) -> dict:
    return {"frames_per_s": frames, "maps_redraws_per_s": frames, "chart_draws_per_s": 3 * frames,
            "steps_per_s": 40.0, "step_changes_per_s": frames, "browser_busy_ms_per_s": 300.0, "charts_mounted": 0,
            "server_cpu_percent": cpu, "step_at_end": 400}


def test_the_convolutions_live_view_is_judged_on_its_frames_per_second():
    results = summarise({"c3": [_cnn_run(4.4), _cnn_run(3.2), _cnn_run(4.1)]})
    frames = results["c3"]["frames_per_s"]
    assert frames["median"] == 4.1 and frames["target"] == 4 and frames["meets"]
    assert "target" not in results["c3"]["server_cpu_percent"]  # reported, not judged
    rows = table(results)
    assert rows[0][0].startswith("C3 Convolutions") and rows[0][0].endswith("3 runs")
    assert [r[3] for r in rows if r[2]] == ["ratio", "1.02 meets"]  # the header, then the one target
    assert not summarise({"c3": [_cnn_run(3.9)]})["c3"]["frames_per_s"]["meets"]


def test_cpu_seconds_of_a_process_grow_with_its_work():
    before = tree_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert tree_cpu_seconds(os.getpid()) - before >= 0.2  # clock ticks: coarser than process_time
    assert process_cpu_seconds(2**22 + 7) == 0.0  # a process that is not there
