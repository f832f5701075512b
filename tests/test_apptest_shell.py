"""The app shell and each page under streamlit.testing.v1.AppTest (no browser, no server).

app.py is the router: it draws the shared sidebar (device, seed) and runs the chosen page.
Each page is run through the router (AppTest.from_file("app.py") then switch_page), the
only way people reach it: a page file run on its own is not a supported entry point
(st.page_link only knows pages that st.navigation registered, so Home alone raises
StreamlitPageNotFoundError, and pages read the seed the router's sidebar sets).
app_pages/playground/page.py's own behaviour is tested in its own file.
"""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.registry import LEARNING_PATH, PAGES  # importable: conftest puts the repo root on sys.path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The first run imports torch and builds the engine; a slow 2-core CI machine needs room.
RUN_TIMEOUT_S = 30
# Tested by its own AppTest file: it trains, so it needs its own set-up.
OWN_TESTS = {"app_pages/playground/page.py"}
SIMPLE_PAGES = [p for p in PAGES if p.path not in OWN_TESTS]


def _run(script: str) -> AppTest:
    # from_file resolves relative paths against the calling file; anchor them to the repo root.
    at = AppTest.from_file(str(REPO_ROOT / script), default_timeout=RUN_TIMEOUT_S)
    return at.run()


def _exceptions(at: AppTest) -> str:
    return "\n".join(e.value for e in at.exception)


def _all_text(at: AppTest) -> str:
    """Every piece of text the main area shows: titles, markdown, captions, page-link labels."""
    texts = []
    for node in at.main:  # depth-first over the element tree
        proto = getattr(node, "proto", None)
        text = getattr(proto, "body", None) or getattr(proto, "label", None) or getattr(node, "value", None)
        if isinstance(text, str):
            texts.append(text)
    return "\n".join(texts)


def test_app_shell_runs_and_draws_the_shared_sidebar():
    at = _run("app.py")
    assert not at.exception, _exceptions(at)
    assert any(c.value.startswith("Device:") for c in at.sidebar.caption), \
        [c.value for c in at.sidebar.caption]
    seeds = [n for n in at.sidebar.number_input if n.label == "Seed"]
    assert len(seeds) == 1
    assert seeds[0].value == 0


def test_seed_input_sets_the_global_seed():
    at = _run("app.py")
    seed = next(n for n in at.sidebar.number_input if n.label == "Seed")
    seed.set_value(1234).run()
    assert not at.exception, _exceptions(at)
    assert at.session_state["global_seed"] == 1234
    assert next(n for n in at.sidebar.number_input if n.label == "Seed").value == 1234


@pytest.mark.parametrize("info", SIMPLE_PAGES, ids=[p.url_path for p in SIMPLE_PAGES])
def test_page_runs_through_the_router(info):
    at = _run("app.py")
    at.switch_page(info.path).run()
    assert not at.exception, _exceptions(at)
    assert at.title, f"{info.path} shows no title under the router"
    assert any(n.label == "Seed" for n in at.sidebar.number_input)


def test_home_lists_the_learning_path():
    at = _run("app.py")  # Home is the default page
    assert not at.exception, _exceptions(at)
    assert "Neural Playground" in at.title[0].value
    text = _all_text(at)
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    for number, (step, url_path) in enumerate(LEARNING_PATH, start=1):
        label = f"{number}. {step}"
        assert label in text, f"learning-path step {number} ({step!r}) missing from Home"
        if url_path is None:
            assert label not in links, f"step {number} has no page yet but Home links it"
        else:  # a step whose page has landed is a link to that page
            assert links.get(label) == url_path, f"step {number} should link to /{url_path}: {links}"


def test_home_opens_without_pytorch_and_loads_it_in_the_background():
    """The first page a visitor sees must not wait for `import torch`; the engine is imported
    in a background thread afterwards, so the next page opens without that wait. Run in a
    fresh interpreter: this test process imported torch long ago."""
    import subprocess
    import sys
    script = (
        "import sys, time\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=60).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "import app_pages.common.shell as common\n"
        "assert common.TORCH_BEFORE_WARM_UP is False, 'Home imported torch'\n"
        "assert any(c.value.startswith('Device:') for c in at.sidebar.caption)\n"
        "deadline = time.monotonic() + 60\n"
        "while 'engine.mlp.trainer' not in sys.modules and time.monotonic() < deadline:\n"
        "    time.sleep(0.1)\n"
        "assert 'engine.mlp.trainer' in sys.modules, 'no background import of the engine'\n"
        "at.switch_page('app_pages/playground/page.py').run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "assert any('cpu' in c.value or 'cuda' in c.value for c in at.sidebar.caption)\n"
        "import torch\n"
        "print('ok', torch.get_num_threads())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout + done.stderr
