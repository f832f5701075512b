"""Real servers from Debian's packages, started by the test that uses them and stopped after it:
PostgreSQL (the networked session store) and HAProxy (the class's load balancer). Each listens on
loopback only, on a free port, with its files in a temporary folder removed afterwards.

PostgreSQL refuses to run as root: where the tests run as root (CI), its folder belongs to the
`postgres` user that Debian's package creates, and its programs run as that user (runuser)."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def haproxy_bin() -> str | None:
    return shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy") or None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server():
    """A fresh PostgreSQL cluster on 127.0.0.1; yields its URL (user np, database np, trust on loopback)."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL's server is not installed (Debian package postgresql: make servers)")
    folder = Path(tempfile.mkdtemp(prefix="np-pg-"))
    data, port = folder / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    try:
        subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "np", "--auth=trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
        subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                                     "-t", "60", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                                     "-c fsync=off -c max_connections=50", "start"]),
                       check=True, capture_output=True, timeout=90)
        subprocess.run(_as_postgres([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "np",
                                     "np"]), check=True, capture_output=True, timeout=60)
        yield f"postgresql://np@127.0.0.1:{port}/np"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                         "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
