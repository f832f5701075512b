"""The Sentiment lab in the real server and Debian's Chromium: Play trains on the tweets and the
curves grow, Pause brings the test results, and a typed sentence with markup is shown as text
(its script never runs); a shared CSV whose texts, labels and name hold Markdown and HTML is
shown as written, and the browser fetches no address taken from it."""
import re
import time

import pytest
from playwright.sync_api import expect

from browser_helpers import assert_no_exception, goto_page, pause_unless_stopped, wait_for_app

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def curve_points(page) -> int:
    """Points of the validation loss line as plotly holds them."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const line = (el._fullData || []).find(t => t.name === 'validation' && t.yaxis === 'y');
            if (line && el.layout && el.layout.yaxis && el.layout.yaxis.title
                && el.layout.yaxis.title.text === 'loss') return line.x.length;
        }
        return -1;
    }""")


def test_play_trains_on_tweets_and_typed_markup_stays_text(app_server, page, screenshot_dir):
    page.set_viewport_size({"width": 1500, "height": 3200})  # Streamlit scrolls inside its own container
    goto_page(page, app_server, "sentiment")
    assert_no_exception(page)
    expect(page.get_by_text("Class balance in each split")).to_be_visible(timeout=60_000)
    assert metric(page, "Epoch") == "0.00"
    # The chart's element can be on the page before plotly has drawn its data into it.
    deadline = time.monotonic() + 30
    while curve_points(page) == -1 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert curve_points(page) == 1

    page.get_by_role("button", name=re.compile("Play")).click()
    start = time.monotonic()
    time.sleep(6)
    # A loaded CI machine can be slow to reach the first validation check: wait for it, up to a limit.
    while (float(metric(page, "Epoch")) == 0 or curve_points(page) < 3) and time.monotonic() - start < 60:
        time.sleep(1)
    epoch, points = float(metric(page, "Epoch")), curve_points(page)
    print(f"sentiment page: epoch {epoch} after {time.monotonic() - start:.0f} s of Play, {points} points on the "
          f"loss curve, validation accuracy {metric(page, 'Validation accuracy')}")
    assert epoch > 0 and points >= 3
    pause_unless_stopped(page)  # the default run (4 epochs) can end within seconds
    expect(page.get_by_text(re.compile("^Test accuracy"))).to_be_visible(timeout=60_000)
    assert_no_exception(page)

    # The test results push the rest of the page down: while that rerun is drawn, Streamlit can
    # show the old and the new sentence box at once. Type once it has finished.
    wait_for_app(page)
    box = page.get_by_label("Your sentence")
    box.fill("<script>window.__sentimentInjected = 1</script><b>bold?</b> I love this car 😀")
    box.press("Control+Enter")
    expect(page.get_by_text("window", exact=True).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.__sentimentInjected === undefined")
    assert page.locator('[data-testid="stMain"] b', has_text="bold?").count() == 0
    assert_no_exception(page)
    page.screenshot(path=str(screenshot_dir / "sentiment.png"), full_page=True)


TRAP_HOST, TRAP_PORT = "127.0.0.1", 9  # nothing listens there: any request to it is a leak
PAYLOADS = ["![img](http://127.0.0.1:9/x.png)", "<img src=x>", "**bold**", "$x^2$", "[link](http://127.0.0.1:9)"]
LABELS = ["![img](http://127.0.0.1:9/x.png)", "<img src=x> **bold** $x^2$", "[link](http://127.0.0.1:9)"]


def hostile_csv() -> bytes:
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["text", "label"])
    for c, label in enumerate(LABELS):
        for i in range(8):
            writer.writerow([f"{['sunny happy', 'rainy grey', 'windy loud'][c]} {i} {' '.join(PAYLOADS)}", label])
    return buf.getvalue().encode()


def leaked(url: str) -> bool:
    """A request to the trap address, or to the relative `x` of `<img src=x>` on the app's own server."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    return (parts.hostname == TRAP_HOST and parts.port == TRAP_PORT) or parts.path.rstrip("/").endswith("/x")


def test_a_shared_csv_with_markup_is_shown_as_text_and_fetches_nothing(app_server, page, screenshot_dir):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_viewport_size({"width": 1500, "height": 3200})
    goto_page(page, app_server, "sentiment")
    page.get_by_text("Your CSV", exact=True).click()
    # The CSV's uploader; the page's other one (Load, under the trained network) takes checkpoints.
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="CSV up to")
    uploader.wait_for(timeout=30_000)
    expect(uploader).to_contain_text("CSV up to 5 MB and 50,000 rows")
    uploader.locator('input[type="file"]').first.set_input_files(
        files=[{"name": "**bold** <img src=x>.csv", "mimeType": "text/csv", "buffer": hostile_csv()}])
    expect(page.get_by_text("Class balance in each split")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    page.get_by_role("button", name=re.compile("Step")).click()
    expect(page.get_by_text(re.compile("^Test accuracy"))).to_be_visible(timeout=60_000)
    wait_for_app(page)
    box = page.get_by_label("Your sentence")
    box.fill(" ".join(PAYLOADS) + " sunny happy")
    box.press("Control+Enter")
    expect(page.get_by_text(re.compile("^Words for"))).to_be_visible(timeout=30_000)
    wait_for_app(page)
    page.wait_for_timeout(1500)  # let the browser make any request a rendered image would make
    assert_no_exception(page)

    assert [url for url in requests if leaked(url)] == []
    # No element anywhere loads or links the trap address (img src, a href, svg xlink:href, a CSS
    # url()); plotly keeps each label's source text in data-unformatted, which does neither.
    carriers = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap(el => [...el.attributes]
        .filter(a => /^(src|srcset|href|xlink:href|poster|action|formaction|data|background|style)$/.test(a.name))
        .filter(a => /127\\.0\\.0\\.1:9(\\/|$|")/.test(a.value) || (a.name === 'src' && a.value === 'x'))
        .map(a => el.tagName + ' ' + a.name + '=' + a.value))""")
    assert carriers == [], "\n".join(carriers)
    main = page.get_by_test_id("stMain")
    assert main.locator("strong", has_text=re.compile(r"^bold$")).count() == 0
    assert main.locator(".katex").count() == 0
    text = main.inner_text().replace("\u2060", "")  # the invisible word joiners that keep addresses from linking
    assert "Using **bold** <img src=x>.csv: 24 rows." in text  # the file name, as written
    assert "![img](http://127.0.0.1:9/x.png)" in text  # the example text and the class names, as written
    page.screenshot(path=str(screenshot_dir / "sentiment-shared-csv.png"), full_page=True)
