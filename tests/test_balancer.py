"""deploy/haproxy.cfg as shipped, in Debian's HAProxy on loopback, in front of three small HTTP servers
that say who they are (the app's replicas take minutes to start three of; make test-deploy runs the
real ones). A new browser gets a replica and a cookie that keeps it there; a replica that fails its
health check leaves the pool and its browsers are sent to another; past the cap on every replica, a
student gets the "class is full, retrying" page, which reloads itself."""
from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import free_port, haproxy_bin, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(haproxy_bin() is None, reason="HAProxy is not installed (make servers)")


class Replica:
    """Answers /_stcore/health with ok while healthy, / with its name, /hold by holding the connection."""

    def __init__(self, name: str):
        self.name, self.healthy, self.release = name, True, threading.Event()
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/_stcore/health":
                    code, body = (200, b"ok") if replica.healthy else (503, b"down")
                else:
                    if self.path == "/hold":
                        replica.release.wait(20)
                    code, body = 200, replica.name.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def balancer(replicas: list[Replica], maxconn: int = 40):
    port = free_port()
    env = {**os.environ, "NP_BIND": f"127.0.0.1:{port}", "NP_MAXCONN": str(maxconn),
           "NP_ERRORS": str(ROOT / "deploy" / "errors"),
           **{f"NP_APP{i + 1}": r.address for i, r in enumerate(replicas)}}
    proc = subprocess.Popen([haproxy_bin(), "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 20)
        time.sleep(2.5)  # two health checks a second apart mark the replicas up
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(port: int, path: str = "/", cookie: str | None = None, timeout: float = 30) -> tuple[int, str, str | None]:
    """(status, body, the NP_REPLICA cookie the balancer set, if any)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path, headers={"Cookie": f"NP_REPLICA={cookie}"} if cookie else {})
    resp = conn.getresponse()
    body = resp.read().decode()
    set_cookie = resp.getheader("Set-Cookie") or ""
    conn.close()
    value = set_cookie.split("NP_REPLICA=", 1)[1].split(";", 1)[0] if "NP_REPLICA=" in set_cookie else None
    return resp.status, body, value


@pytest.fixture
def replicas():
    made = [Replica(f"app{i}") for i in (1, 2, 3)]
    yield made
    for r in made:
        r.close()


def test_the_shipped_config_is_valid():
    env = {**os.environ, "NP_BIND": "127.0.0.1:1", "NP_MAXCONN": "28", "NP_ERRORS": str(ROOT / "deploy" / "errors"),
           "NP_APP1": "127.0.0.1:2", "NP_APP2": "127.0.0.1:3", "NP_APP3": "127.0.0.1:4"}
    out = subprocess.run([haproxy_bin(), "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_browser_stays_on_its_replica_and_moves_when_it_fails(replicas):
    with balancer(replicas) as port:
        status, body, cookie = get(port)
        assert status == 200 and cookie == body  # the cookie names the replica that answered
        for _ in range(5):
            assert get(port, cookie=cookie)[:2] == (200, body)  # and keeps the browser there
        firsts = {get(port)[1] for _ in range(6)}
        assert len(firsts) >= 2  # new browsers are spread over the replicas
        gone = next(r for r in replicas if r.name == body)
        gone.healthy = False  # it fails its health check: out of the pool within two checks
        time.sleep(3)
        status, moved, new_cookie = get(port, cookie=cookie)
        assert status == 200 and moved != body and new_cookie == moved  # redispatched, with a new cookie


def test_past_the_cap_a_student_gets_the_class_is_full_page(replicas):
    with balancer(replicas, maxconn=1) as port:
        held = [threading.Thread(target=get, args=(port, "/hold"), daemon=True) for _ in replicas]
        for t in held:
            t.start()
        time.sleep(1)  # one held connection on each replica: all full
        start = time.monotonic()
        status, body, _ = get(port)
        waited = time.monotonic() - start
        assert status == 503 and "The class is full, retrying" in body
        assert '<meta http-equiv="refresh" content="5">' in body  # the page tries again by itself
        assert 4 <= waited <= 10  # after the queue's 5 s, not at once and not never
        for r in replicas:
            r.release.set()
        for t in held:
            t.join(timeout=10)
        assert get(port)[0] == 200  # a place is free again
