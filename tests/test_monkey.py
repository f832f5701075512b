"""Monkey test per page (issue: reliability): 1,000 seeded random widget interactions on
each page of the app (four sessions of 250) through AppTest, hostile texts and junk uploads included, and not one
exception shown. The count can be raised for a longer soak with MONKEY_INTERACTIONS=N."""
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.registry import PAGES
from monkey import run_monkey

ROOT = Path(__file__).resolve().parent.parent
INTERACTIONS = int(os.environ.get("MONKEY_INTERACTIONS", "1000"))
# Each page's interactions are split over sessions of their own (seeded apart), so that the
# test processes share the heavier pages instead of one process running them all.
SESSIONS_PER_PAGE = 4


@pytest.mark.parametrize("session", range(SESSIONS_PER_PAGE))
@pytest.mark.parametrize("page", [p for p in PAGES if p.url_path != "home"], ids=lambda p: p.url_path)
def test_monkey_on_page(page, session):
    at = AppTest.from_file(str(ROOT / page.path), default_timeout=120)
    start = time.perf_counter()
    log = run_monkey(at, -(-INTERACTIONS // SESSIONS_PER_PAGE), seed=sum(map(ord, page.url_path)) * 10 + session)
    seconds = time.perf_counter() - start
    print(f"{page.url_path}: {log.interactions} interactions in {log.reruns} reruns, {seconds:.0f} s; "
          f"by type {dict(sorted(log.by_type.items()))}; {len(log.messages)} distinct messages shown; "
          f"slowest rerun {log.slowest[0]:.1f} s after {log.slowest[1]}")
    assert log.interactions * SESSIONS_PER_PAGE >= INTERACTIONS
    # The monkey reached more than one kind of widget: a page it cannot drive is not tested.
    assert len(log.by_type) >= 2, log.by_type
