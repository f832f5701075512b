"""docs/screenshots.py (`make screenshots`) without a browser or a server: its table of shots,
its --help, and its refusal of an unknown --only name."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from app_pages.registry import PAGES

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "docs" / "screenshots.py"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
REQUIRED = {"playground": "playground", "vanishing": "vanishing", "autoencoders": "autoencoders",
            "attention": "attention"}


@pytest.fixture(scope="module")
def screenshots():
    """The script as a module (importing it starts nothing)."""
    spec = importlib.util.spec_from_file_location("docs_screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_the_table_names_the_required_pages_with_their_url_paths_and_files(screenshots):
    shots = {shot.name: shot for shot in screenshots.SHOTS}
    assert len(shots) == len(screenshots.SHOTS), "two shots share a name (and so a file)"
    for name, url_path in REQUIRED.items():
        assert shots[name].url_path == url_path
        assert shots[name].file_name == f"{name}.png"
        assert callable(shots[name].prepare)


def test_every_url_path_is_a_page_of_the_app(screenshots):
    """The router's own list is the oracle; "" is the default page (Home)."""
    known = {p.url_path for p in PAGES} | {""}
    assert {shot.url_path.split("?")[0] for shot in screenshots.SHOTS} <= known  # a shot may name a tab


def test_help_works():
    run = subprocess.run([PYTHON, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "--only" in run.stdout and "--out" in run.stdout
    for name in REQUIRED:
        assert name in run.stdout


def test_only_rejects_an_unknown_name_clearly():
    run = subprocess.run([PYTHON, str(SCRIPT), "--only", "playground", "nosuchpage"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "unknown shot nosuchpage" in run.stderr
    assert "choose from" in run.stderr and "attention" in run.stderr


def test_only_accepts_known_names(screenshots):
    args = screenshots.parse_args(["--only", "attention", "home", "--out", "/tmp/x"])
    assert args.only == ["attention", "home"] and args.out == Path("/tmp/x")
