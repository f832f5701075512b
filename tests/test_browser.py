"""End-to-end: the real server (`streamlit run app.py`) in Debian's Chromium.

Every page in the registry loads at its own URL through the router (app.py): the sidebar
lists the registry's pages and marks this one as current, the shared sidebar (device,
seed) is there, the page shows its title and no exception box. A full-page screenshot of
each is saved for a person to look at (the path is printed in the terminal summary).
"""
import re

import pytest
from playwright.sync_api import expect

from browser_helpers import assert_no_error_dialog, assert_no_exception, goto_page
from app_pages.registry import HOME, PAGES

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

# goto_page has already waited for the run to finish; what is missing now stays missing.
SETTLED_TIMEOUT_MS = 10_000


def _ends_with(text):
    return re.compile(rf"{re.escape(text)}\s*$")


def _page_url(base_url, info):
    # Streamlit serves the default page at the root and nowhere else: /home would show a
    # "Page not found" modal and then Home (st.Page ignores url_path when default=True).
    return f"{base_url}/" if info.default else f"{base_url}/{info.url_path}"


def _check_routed_page(page, base_url, info):
    """The router (app.py) drew this page: registry navigation, shared sidebar, page title."""
    assert_no_exception(page)
    assert_no_error_dialog(page)
    nav_links = page.get_by_test_id("stSidebarNavLink")
    expect(nav_links).to_have_count(len(PAGES), timeout=SETTLED_TIMEOUT_MS)
    # A link's text is its icon then its title ("🧪Playground"); its href is the URL we test.
    expect(nav_links).to_have_text([_ends_with(p.title) for p in PAGES])
    assert [link.get_attribute("href") for link in nav_links.all()] == [_page_url(base_url, p) for p in PAGES]
    current = page.locator('[data-testid="stSidebarNavLink"][aria-current="page"]')
    expect(current).to_have_text(_ends_with(info.title))
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Device:")
    expect(sidebar.get_by_label("Seed", exact=True)).to_be_visible()
    # The Home page's heading is the app's name; every other page leads with its title.
    heading = page.locator('[data-testid="stMain"] h1').first
    expect(heading).to_be_visible(timeout=SETTLED_TIMEOUT_MS)
    expect(heading).to_contain_text("Neural Playground" if info.default else info.title)


def _full_page_screenshot(page, path):
    # Streamlit scrolls inside its own container, so the document is one viewport tall and
    # `full_page=True` alone would cut a long page off. Grow the viewport to the content's
    # height for the shot, then restore it.
    viewport = page.viewport_size
    content_height = page.evaluate(
        """() => {
            const heights = [document.documentElement.scrollHeight];
            const main = document.querySelector('[data-testid="stMain"]');
            if (main) heights.push(main.scrollHeight);
            const block = document.querySelector('[data-testid="stMainBlockContainer"]');
            if (block) heights.push(block.getBoundingClientRect().height + 120);
            return Math.ceil(Math.max(...heights));
        }"""
    )
    page.set_viewport_size({"width": viewport["width"],
                            "height": min(max(viewport["height"], content_height), 8000)})
    try:
        page.wait_for_timeout(300)  # charts re-lay themselves out at the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(viewport)


@pytest.mark.parametrize("info", PAGES, ids=[p.url_path for p in PAGES])
def test_page_renders_without_exception(app_server, page, screenshot_dir, info):
    goto_page(page, app_server, "" if info.default else info.url_path)
    _check_routed_page(page, app_server, info)
    _full_page_screenshot(page, screenshot_dir / f"{info.url_path}.png")
    # Again: a late error (a chart, a fragment) shows after the first paint.
    assert_no_exception(page)
    assert_no_error_dialog(page)


def test_deep_link_on_a_cold_server_goes_through_the_router(fresh_app_server, page):
    """A shared link to a page, opened first after a restart, must still run app.py.

    Guards the folder name app_pages/: with a folder named `pages/` beside app.py, Streamlit
    (1.67, PagesManager.uses_pages_directory) stays in its old multipage mode until some run
    has called st.navigation, so a first visit to /<page> ran that page file alone (no
    set_page_config, no device/seed sidebar: KeyError 'global_seed') and listed every .py in
    pages/ (common, registry, ...) as a page, for every visitor until someone opened `/`.
    """
    target = next(p for p in PAGES if not p.default)
    goto_page(page, fresh_app_server, target.url_path)
    _check_routed_page(page, fresh_app_server, target)


def test_home_by_its_name_leads_to_home(app_server, page):
    """/home, Home's address in the page list, is not a dead end: it leads to the default page."""
    goto_page(page, app_server, HOME)
    page.wait_for_url(re.compile(rf"{re.escape(app_server)}/?$"), timeout=SETTLED_TIMEOUT_MS)
    _check_routed_page(page, app_server, next(p for p in PAGES if p.default))
