"""The browser benchmarks' bookkeeping (bench/browser.py), without a browser: a run's numbers
become median (min..max) rows with a ratio to each target, and --only names the targets."""
import pytest

from bench.browser import TARGETS, main, summarise, table
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
