"""The Vanishing gradients page in the real server and Debian's Chromium: a preset loads, Play
trains every network compared, the Step metric and the heatmap move, no exception box; the
address carries the setup both ways."""
import re
import time

import pytest

from browser_helpers import assert_no_exception, choose, goto_page

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def heatmap_columns(page) -> int:
    """Columns of the gradient heatmap as plotly holds them (one per recorded step, thinned)."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            // _fullData holds the decoded arrays (plotly.py sends NumPy arrays as base64)
            const hm = (el._fullData || []).find(t => t.type === 'heatmap');
            if (hm) return hm.x.length;
        }
        return -1;
    }""")


def test_preset_trains_live_and_the_heatmap_grows(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 2300})  # Streamlit scrolls inside its own container
    goto_page(page, app_server, "vanishing")
    assert_no_exception(page)
    # Load the "tanh ×20" preset through the select box, as a user does.
    choose(page, "Preset", "tanh ×20")
    page.wait_for_timeout(1500)
    assert_no_exception(page)
    assert metric(page, "Step") == "1"
    columns_before = heatmap_columns(page)
    assert columns_before == 1

    page.get_by_role("button", name=re.compile("Play")).click()
    time.sleep(6)
    steps = int(metric(page, "Step").replace(",", ""))
    columns = heatmap_columns(page)
    print(f"vanishing page: {steps} steps after 6 s of Play, heatmap {columns} columns, "
          f"{metric(page, 'Steps / s')} steps/s shown")
    assert steps > 20 and columns > columns_before
    assert metric(page, "Layer 1 / last layer") not in ("—", "")
    page.screenshot(path=str(screenshot_dir / "vanishing.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Pause")).click()
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=5000)
    assert_no_exception(page)


def test_the_address_carries_the_setup_both_ways(app_server, page):
    """A shared link opens its setup; a widget changed on the page shows in the address."""
    page.set_viewport_size({"width": 1500, "height": 1600})
    goto_page(page, app_server, "vanishing?depth=6&activation=tanh&compare=&train.seed=3")
    assert_no_exception(page)
    page.get_by_text(re.compile(r"Your network.*layer 1 receives .* of the gradient of layer 6")).wait_for(
        timeout=20_000)
    assert page.get_by_role("radiogroup").count() == 0  # compare= : the network alone, no picker between networks
    choose(page, "Preset", "ReLU + He ×20")
    page.wait_for_function("() => location.search.includes('activation=relu') && location.search.includes('init=he')",
                           timeout=20_000)
    params = dict(p.split("=", 1) for p in page.evaluate("location.search").lstrip("?").split("&"))
    # 20 layers is the page's default again: left out of the address
    assert "depth" not in params and params["train.seed"] == "3" and params["compare"] == ""
    assert_no_exception(page)


def test_a_chart_whose_plotly_js_fails_to_load_says_so_and_recovers(app_server, page):
    """While plotly.js cannot be loaded, the live charts say they could not be drawn; once it
    can, the next rerun (a Step) loads it and draws them."""
    blocked = {"on": True, "refused": 0}

    def block_while_on(route):
        if blocked["on"]:
            blocked["refused"] += 1
            route.abort()
        else:
            route.continue_()

    page.route("**/app/static/plotly.min.js", block_while_on)
    page.set_viewport_size({"width": 1500, "height": 1600})
    goto_page(page, app_server, "vanishing")
    page.get_by_text(re.compile("This chart could not be drawn")).first.wait_for(timeout=20_000)
    assert blocked["refused"] >= 1 and page.locator(".np-plotly .main-svg").count() == 0
    blocked["on"] = False
    page.get_by_role("button", name=re.compile("Step")).click()
    page.wait_for_function("() => document.querySelectorAll('.np-plotly .main-svg').length >= 4", timeout=30_000)
    assert page.get_by_text(re.compile("This chart could not be drawn")).count() == 0
    assert_no_exception(page)
