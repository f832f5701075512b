"""The class deployment, proved on this machine (make test-deploy): Debian's HAProxy on loopback, with
deploy/haproxy.cfg as shipped, in front of three replicas of the app that share a real PostgreSQL
session store; all started here and stopped after.

Six students (browser contexts, each its own cookies) open the Playground through the balancer, each
with a setup of their own, and press Play. Each stays on one replica (the balancer's cookie), and
the balancer spreads them over all three. Then one replica is killed with SIGKILL: its students'
pages reconnect through the balancer to the other replicas and restore their network from the store,
within seconds, at the step of their last save (nothing lost beyond the save interval), with their
own settings (no student sees another's model), and train on; the other students never notice."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from browser_helpers import assert_no_exception, wait_for_app
from conftest import streamlit_server
from servers import free_port, haproxy_bin, postgres_server, wait_for_port
from test_browser_restore import metric, wait_for_epoch

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
STUDENTS = 6
COOKIE_SECRET = "deploy-test-secret-shared-by-every-replica"


@contextlib.contextmanager
def balancer(replicas: list[str]):
    port = free_port()
    env = {**os.environ, "NP_BIND": f"127.0.0.1:{port}", "NP_MAXCONN": "40", "NP_ERRORS": str(ROOT / "deploy" / "errors"),
           **{f"NP_APP{i + 1}": address for i, address in enumerate(replicas)}}
    proc = subprocess.Popen([haproxy_bin(), "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, 20)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def replica_of(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "NP_REPLICA")


def restored_step(page) -> int:
    notice = page.get_by_text(re.compile(r"Restored your network at epoch [\d,]+ \(step [\d,]+\)"))
    notice.first.wait_for(timeout=60_000)
    return int(re.search(r"step ([\d,]+)", notice.first.inner_text()).group(1).replace(",", ""))


def seed_shown(page) -> int:
    return int(page.get_by_test_id("stSidebarUserContent").get_by_test_id("stNumberInputField").input_value())


@pytest.mark.skipif(haproxy_bin() is None, reason="HAProxy is not installed (Debian package haproxy: make servers)")
def test_students_stay_on_their_replica_and_survive_its_death(browser, monkeypatch):
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_server())
        monkeypatch.setenv("NP_STORE_URL", url)
        monkeypatch.setenv("STREAMLIT_SERVER_COOKIE_SECRET", COOKIE_SECRET)  # as deploy/compose.yaml sets it
        procs: list[subprocess.Popen] = []
        addresses = [stack.enter_context(streamlit_server(started=procs.append)) for _ in range(3)]
        front = stack.enter_context(balancer([a.removeprefix("http://") for a in addresses]))
        from app_pages.common.pg_store import PostgresStore
        store = PostgresStore(url)

        students = []
        for i in range(STUDENTS):
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            stack.callback(context.close)
            page = context.new_page()
            seed = 101 + i
            page.goto(f"{front}/playground?train.seed={seed}", timeout=90_000)
            wait_for_app(page, 90_000)
            page.get_by_role("button", name=re.compile("Play")).click()
            students.append({"context": context, "page": page, "seed": seed, "replica": replica_of(context)})
        replicas = [s["replica"] for s in students]
        assert sorted(set(replicas)) == ["app1", "app2", "app3"], replicas  # least connections spreads them

        for s in students:
            wait_for_epoch(s["page"], 20, timeout_s=180)
        time.sleep(6)  # past one save interval while they play
        for s in students:  # each stays on its replica while it trains
            assert replica_of(s["context"]) == s["replica"]
            assert seed_shown(s["page"]) == s["seed"]

        victim = "app1"
        doomed = [s for s in students if s["replica"] == victim]
        others = [s for s in students if s["replica"] != victim]
        before = {id(s): metric(s["page"], "Epoch") for s in others}
        shown = {id(s): metric(s["page"], "Epoch") for s in doomed}  # what they saw just before
        keys = {id(s): next(c["value"] for c in s["context"].cookies() if c["name"] == "np_session") for s in students}
        os.killpg(procs[0].pid, signal.SIGKILL)  # no goodbye: only what the store holds survives
        procs[0].wait(timeout=10)
        killed_at = time.monotonic()
        saved = {}
        for s in doomed:  # what the store held for each of them when their replica died
            data = store.get(keys[id(s)], "playground")
            assert data is not None
            from engine import Trainer
            saved[id(s)] = Trainer.from_checkpoint(data, "cpu")

        print(f"\nstudents per replica: { {r: replicas.count(r) for r in sorted(set(replicas))} }; killed {victim}")
        for s in doomed:
            step = restored_step(s["page"])
            print(f"seed {s['seed']}: restored at epoch {saved[id(s)].epoch} (step {step}) "
                  f"{time.monotonic() - killed_at:.1f} s after the kill; it showed epoch {shown[id(s)]} just before; "
                  f"now on {replica_of(s['context'])}")
            assert time.monotonic() - killed_at < 60
            assert step == saved[id(s)].step_count  # the last save, nothing older
            assert seed_shown(s["page"]) == s["seed"]  # their own network, not a neighbour's
            assert replica_of(s["context"]) != victim
            assert_no_exception(s["page"])
            s["page"].get_by_role("button", name=re.compile("Play")).click()
        for s in doomed:
            wait_for_epoch(s["page"], saved[id(s)].epoch + 5, timeout_s=120)  # and they train on
        for s in others:  # the other students kept their replica and kept training
            assert replica_of(s["context"]) == s["replica"]
            wait_for_epoch(s["page"], before[id(s)] + 5, timeout_s=120)
            assert seed_shown(s["page"]) == s["seed"]
            assert_no_exception(s["page"])
        store.close()
