"""Shared fixtures: the repo root on sys.path, the real Streamlit server, Debian's Chromium.

The browser is /usr/bin/chromium (make test installs it with apt); nothing here downloads
a browser. Screenshots land in test-artifacts/screenshots (git-ignored) for a person to look at.
"""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Pages import `app_pages.common.shell`, `engine`, `viz`: make the repo root importable for AppTest
# and for the tests themselves, whatever directory pytest was started from.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Saved sessions (app_pages/common/session_store.py) go to a folder of this test run, not the
# repository's .data/: the AppTests and every server started here inherit it.
os.environ.setdefault("NP_DATA_DIR", tempfile.mkdtemp(prefix="np-test-data-"))

# Property tests draw the same examples on every run (seeded, like the rest of the suite), so the run
# that lands is the run that was tested. HYPOTHESIS_PROFILE=explore draws new ones each run: a search
# for bugs, e.g. `HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest tests/test_address_properties.py`.
settings.register_profile("seeded", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "seeded"))

SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_log(log_file) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read().decode("utf-8", errors="replace")[-8000:]


@contextlib.contextmanager
def streamlit_server(extra_args: tuple[str, ...] = (), started=None):
    """Start `streamlit run app.py` on a free port; yield its base URL; stop it afterwards.
    `extra_args` go to streamlit (e.g. server options); `started(proc)` sees the process."""
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py",
           "--server.headless", "true",
           "--server.port", str(port),
           "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", *extra_args]
    log_file = tempfile.TemporaryFile()
    # Own process group, so that stopping it also stops anything the server started.
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    if started is not None:
        started(proc)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {proc.returncode} before it was healthy:\n"
                            f"{_server_log(log_file)}")
            try:
                with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200 and resp.read().decode().strip() == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit was not healthy after {SERVER_START_TIMEOUT_S} s:\n"
                            f"{_server_log(log_file)}")
            time.sleep(0.25)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:  # a test server owes nobody a graceful shutdown; do not let it eat the budget
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log_file.close()


@pytest.fixture(scope="session")
def app_server():
    """The real server, one for the whole session; yields its base URL."""
    with streamlit_server() as base_url:
        yield base_url


@pytest.fixture
def fresh_app_server():
    """A server of its own that no browser has visited yet, for tests of a cold start."""
    with streamlit_server() as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright's sync API; one for the session."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (make test does it)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test, 1400x1000, so no state leaks between tests."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


_screenshots_used = False


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """test-artifacts/screenshots under the repo root (git-ignored); its path is printed at the end."""
    global _screenshots_used
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    _screenshots_used = True
    return SCREENSHOT_DIR


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _screenshots_used:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"screenshots saved in {SCREENSHOT_DIR}")


def pytest_collection_modifyitems(config, items):
    """The monkey tests (up to a minute each) run first, the short tests after them: the two
    test processes then end together, instead of one waiting out a long test at the end."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_monkey.py")


@pytest.fixture(scope="session")
def kernel_root(tmp_path_factory):
    """A Jupyter kernel spec of the project's venv, in a folder of this run: the exported notebooks run in it."""
    from tests.notebook_kernel import make_kernel_root
    return make_kernel_root(tmp_path_factory.mktemp("jupyter"))


@pytest.fixture
def one_thread():
    """One torch thread for the test, as the app and the exported notebooks' kernel run."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
