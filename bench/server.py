"""The real server for the browser benchmarks: `streamlit run app.py` on a free port, and
its resident memory read from /proc (the server and any process it started)."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90


class ServerError(RuntimeError):
    pass


class Server:
    """A started `streamlit run app.py`: its process, base URL and log."""

    def __init__(self, proc: subprocess.Popen, base_url: str, log_file, launched_at: float):
        self.proc, self.base_url, self.log_file, self.launched_at = proc, base_url, log_file, launched_at

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        self.log_file.flush()
        self.log_file.seek(0)
        return self.log_file.read().decode("utf-8", errors="replace")[-chars:]

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise ServerError(f"streamlit exited with code {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=2) as resp:
                return resp.status == 200 and resp.read().decode().strip() == "ok"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S, poll_s: float = 0.05) -> float:
        """Block until /_stcore/health answers ok; return the perf_counter time it did."""
        deadline = time.perf_counter() + timeout_s
        while not self.healthy():
            if time.perf_counter() > deadline:
                raise ServerError(f"streamlit was not healthy after {timeout_s:g} s:\n{self.log_tail()}")
            time.sleep(poll_s)
        return time.perf_counter()

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(extra_args: tuple[str, ...] = (), wait: bool = True, env: dict[str, str] | None = None):
    """Start `streamlit run app.py` (headless, on a free port, with `env` added to the
    environment) and yield a Server; stop it afterwards. With wait=False the caller waits for
    health itself (to time the start)."""
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(env or {}))
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", *extra_args]
    log_file = tempfile.TemporaryFile()
    launched_at = time.perf_counter()
    # Own process group, so that stopping it also stops anything the server started.
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}", log_file, launched_at)
    try:
        if wait:
            server.wait_healthy()
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log_file.close()


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def process_rss_mb(pid: int) -> float:
    """VmRSS of one process, in MiB (0 if it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB. (Pages shared between
    a parent and a forked child count twice: an upper bound.)"""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += process_rss_mb(p)
        todo += _children(p)
    return total
