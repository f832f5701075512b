"""Helpers for the browser tests: wait for Streamlit to finish a run, spot exception boxes.

Streamlit marks its root element with the state of the script run
(`data-test-script-state`: initial, running, notRunning, rerunRequested, ...) and of the
websocket (`data-test-connection-state`). Streamlit's own end-to-end tests wait on these
attributes; they are steadier than watching the "Running..." status widget, which only
appears after a delay and can be missed in both directions.
"""
import re
import time

from playwright.sync_api import Page, TimeoutError as PlaywrightTimeout, expect

# Generous: CI machines have two slow cores, and the first run of a page imports torch.
APP_TIMEOUT_MS = 45_000

_IDLE_SELECTOR = (
    '[data-testid="stApp"]'
    '[data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)


def wait_for_app(page: Page, timeout_ms: int = APP_TIMEOUT_MS, settle_s: float = 0.75) -> None:
    """Wait until the app is connected and its script run has finished, and stays finished.

    A run can be followed at once by another (a widget's first value, st.rerun, a page
    switch), so the idle state must hold for `settle_s` without the running indicator
    coming back before we call the page rendered. While a `run_every` fragment is ticking
    (training on Play), the app never stays idle: wait for the element you expect instead.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    page.wait_for_selector('[data-testid="stApp"]', state="attached", timeout=timeout_ms)
    while True:
        left_ms = max(1_000, int((deadline - time.monotonic()) * 1000))
        page.wait_for_selector(_IDLE_SELECTOR, state="attached", timeout=left_ms)
        settled_until = time.monotonic() + settle_s
        still_idle = True
        while time.monotonic() < settled_until:
            running = page.locator('[data-testid="stStatusWidgetRunningIcon"], '
                                   '[data-testid="stStatusWidgetRunningManIcon"]').count()
            if running or page.locator(_IDLE_SELECTOR).count() == 0:
                still_idle = False
                break
            page.wait_for_timeout(100)
        if still_idle:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Streamlit app did not settle within {timeout_ms} ms at {page.url}")


def assert_no_exception(page: Page) -> None:
    """Fail with the exception's text when the page shows a Streamlit exception box."""
    boxes = page.locator('[data-testid="stException"]')
    count = boxes.count()
    if count:
        texts = "\n---\n".join(boxes.nth(i).inner_text() for i in range(count))
        raise AssertionError(f"{count} exception box(es) on {page.url}:\n{texts}")


# Streamlit reports app-level problems (an unknown page URL, a lost connection, a script
# that failed to compile) in a modal, not in an stException box. The app's own st.dialog
# uses the same container, so only headings that read as errors count.
_ERROR_DIALOG_HEADING = re.compile(r"not found|error|failed|unable", re.IGNORECASE)


def assert_no_error_dialog(page: Page) -> None:
    """Fail when Streamlit shows an error modal such as "Page not found"."""
    headings = page.locator('[data-testid="stDialog"] [role="dialog"] h2').all_inner_texts()
    errors = [h for h in headings if _ERROR_DIALOG_HEADING.search(h)]
    if errors:
        body = page.locator('[data-testid="stDialog"] [role="dialog"]').first.inner_text()
        raise AssertionError(f"error dialog on {page.url}: {body}")


def goto_page(page: Page, base_url: str, url_path: str = "", timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Open `{base_url}/{url_path}` and wait until the app has rendered it."""
    url = f"{base_url.rstrip('/')}/{url_path.lstrip('/')}"
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    wait_for_app(page, timeout_ms=timeout_ms)
    expect(page.get_by_test_id("stMain")).to_be_visible(timeout=timeout_ms)


def choose(page: Page, label: str, option, tries: int = 3) -> None:
    """Pick `option` (text or regex) in the select box `label`, as a user does, and make sure it took.

    On a loaded machine the click on an option can land while the list is still opening,
    while a rerun redraws the box, or while a long list scrolls the option into view; the box
    then keeps its old value. Check the shown value, and pick again when it did not change:
    once the app is idle, typing the option's text first so that the list is short.
    """
    box = page.get_by_role("combobox", name=label)  # an input whose value is the shown option
    pattern = option if isinstance(option, re.Pattern) else re.compile(re.escape(option))
    text = option.pattern if isinstance(option, re.Pattern) else option
    for attempt in range(tries):
        if attempt:
            wait_for_app(page)
        box.click()
        if attempt and not re.search(r"[.^$*+?{}\[\]\\|()]", text):  # plain text: narrow the list to it
            page.keyboard.type(text)
        page.get_by_role("option", name=option).first.click()
        try:
            expect(box).to_have_value(pattern, timeout=10_000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def pause_unless_stopped(page: Page, timeout_ms: int = 5_000) -> None:
    """Click Pause, unless the run has stopped by itself (a step or epoch limit, early stopping):
    on a quick machine a short default run can end before the test gets to Pause, and the
    button then reads Play again."""
    try:
        page.get_by_role("button", name=re.compile("Pause")).first.click(timeout=timeout_ms)
    except PlaywrightTimeout:
        expect(page.get_by_role("button", name=re.compile("Play")).first).to_be_visible()


def download(page: Page, button: str, tries: int = 2, timeout_ms: int = 30_000):
    """Click the download button named `button` (a regex) once the app is idle; returns the
    Download. A button whose file is built when clicked can miss a click that lands while the
    page is still rerunning (the button is replaced); then it is clicked again."""
    for attempt in range(tries):
        wait_for_app(page)
        try:
            with page.expect_download(timeout=timeout_ms) as info:
                page.get_by_role("button", name=re.compile(button)).click()
            return info.value
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
