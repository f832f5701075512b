"""What the browser benchmarks do in a page: wait for Streamlit to be idle, and measure the
Playground's live view (P3), the Convolutions page's live view (C3), the Attention explorer's
Enter -> heatmaps (P5), a visit of every page in one session (P6) and the other live pages (LV).
Timestamps are taken in the page (performance.now()), so the round trips between Python and the
browser do not count."""
from __future__ import annotations

import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LOAD_TIMEOUT_MS = 180_000   # a first visit on a busy 2-core machine (the attention page loads a model)

IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
RUNNING_ICON = '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]'

# True when the app is connected, no script runs, and the main heading contains `title`.
RENDERED = """([idle, running, title]) => {
    if (!document.querySelector(idle) || document.querySelector(running)) return false;
    const h1 = document.querySelector('[data-testid="stMain"] h1');
    return !!h1 && h1.textContent.includes(title);
}"""


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def wait_rendered(page, title: str = "", timeout_ms: int = LOAD_TIMEOUT_MS, settle_s: float = 0.75,
                  poll_ms: int = 25) -> float:
    """Wait until the page shows `title` in its heading and the app is idle, and stays so for
    `settle_s` (a run can be followed at once by another). Return the perf_counter time at
    which the state was first reached (the settling time does not count)."""
    deadline = time.perf_counter() + timeout_ms / 1000
    args = [IDLE, RUNNING_ICON, title]
    while True:
        left_ms = max(1_000, int((deadline - time.perf_counter()) * 1000))
        page.wait_for_function(RENDERED, arg=args, polling=poll_ms, timeout=left_ms)
        reached = time.perf_counter()
        settled = True
        while time.perf_counter() < reached + settle_s:
            if not page.evaluate(RENDERED, args):
                settled = False
                break
            page.wait_for_timeout(50)
        if settled:
            return reached
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{page.url} did not settle within {timeout_ms} ms")


# ---------- P3: the Playground's live view ----------
# Tracks, with page timestamps: the shown Epoch (when it last changed, how often), the boundary
# canvas's redraws (its own count of new pictures drawn: a frame whose output map and points
# equal the last one's does not count), the label of the Play/Pause button, and the moment
# the button was clicked.
LIVE_PROBE = """() => {
    const w = window.__bench = {epoch: null, epochAt: null, frames: 0, redraws: 0, redrawAt: null,
                                label: null, labelAt: null, clickAt: null};
    const epochText = () => {
        for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
            const label = m.querySelector('[data-testid="stMetricLabel"]');
            if (label && label.textContent.trim() === 'Epoch') {
                const value = m.querySelector('[data-testid="stMetricValue"]');
                return value ? value.textContent.trim() : null;
            }
        }
        return null;
    };
    const check = () => {
        const now = performance.now();
        const epoch = epochText();
        if (epoch !== null && epoch !== w.epoch) { w.epoch = epoch; w.epochAt = now; w.frames += 1; }
        // The boundary's canvas counts the new pictures it has drawn (assets/plane_canvas.js).
        const plane = document.querySelector('.st-key-pg_boundary .np-plane');
        const draws = plane ? Number(plane.dataset.draws) : null;
        if (draws !== null && draws !== w.redraws) { w.redraws = draws; w.redrawAt = now; }
        const button = document.querySelector('.st-key-pg_play button, .st-key-pg_pause button');
        const label = button ? button.textContent.trim() : null;
        if (label !== w.label) { w.label = label; w.labelAt = now; }
    };
    new MutationObserver(check).observe(document.querySelector('[data-testid="stMain"]'),
                                        {subtree: true, childList: true, characterData: true, attributes: true});
    document.addEventListener('click', e => {
        if (e.target.closest('.st-key-pg_play, .st-key-pg_pause')) w.clickAt = performance.now();
    }, {capture: true});
    check();
}"""
LIVE_STATE = "() => Object.assign({now: performance.now()}, window.__bench)"


def _epoch(text: str) -> int:
    return int(text.replace(",", ""))


def measure_live(browser, base_url: str, warmup_s: float = 1.0, window_s: float = 8.0, still_s: float = 2.0) -> dict:
    """Open the Playground (its default task), press Play, and over `window_s` seconds count
    the epochs shown and the boundary's redraws; then press Pause and time the answer: until
    the button reads Play again and the shown epoch has stopped (checked for `still_s`)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1900})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/playground", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        wait_rendered(page, "Playground")
        page.wait_for_selector(".st-key-pg_boundary .np-plane canvas", timeout=60_000)
        page.evaluate(LIVE_PROBE)
        page.locator(".st-key-pg_play").get_by_role("button").click()
        page.wait_for_function("() => (window.__bench.label || '').includes('Pause')", timeout=30_000)
        time.sleep(warmup_s)  # the first frames include the rerun that turned Play into Pause
        start = page.evaluate(LIVE_STATE)
        time.sleep(window_s)
        end = page.evaluate(LIVE_STATE)
        shown_rate = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .filter(m => m.textContent.includes('Epochs / s'))
            .map(m => m.querySelector('[data-testid="stMetricValue"]').textContent)[0] || null""")

        page.locator(".st-key-pg_pause").get_by_role("button").click()  # Play and Pause: two buttons, two keys
        page.wait_for_function("() => (window.__bench.label || '').includes('Play')", timeout=30_000)
        wait_rendered(page, "Playground", timeout_ms=30_000)
        time.sleep(still_s)
        paused = page.evaluate(LIVE_STATE)
        if paused["now"] - paused["epochAt"] < still_s * 1000:
            raise RuntimeError(f"the epoch still moved after Pause (last change {paused['now'] - paused['epochAt']:.0f} ms ago)")
        answered_at = max(paused["labelAt"], paused["epochAt"])
        return {
            "epochs_per_s": (_epoch(end["epoch"]) - _epoch(start["epoch"])) / ((end["epochAt"] - start["epochAt"]) / 1000),
            "redraws_per_s": (end["redraws"] - start["redraws"]) / ((end["now"] - start["now"]) / 1000),
            "epoch_changes_per_s": (end["frames"] - start["frames"]) / ((end["now"] - start["now"]) / 1000),
            "pause_s": (answered_at - paused["clickAt"]) / 1000,
            "epoch_at_end": _epoch(paused["epoch"]),
            "page_epochs_per_s": shown_rate,
        }
    finally:
        context.close()


# ---------- C3: the Convolutions page's live view ----------
# Tracks, with page timestamps: the live view's metrics (a frame drawn = their values changed, as
# P3 counts the Epoch), the Step shown (when it last changed, how often), the draws of the feature
# maps' chart and of all the view's charts (each chart counts the new figures it draws in a
# `data-draws` attribute, assets/live_plotly.js; a figure equal to the last one does not count),
# the charts mounted anew, the label of the Play/Pause button, and the main thread's long tasks
# (stretches of 50 ms or more).
CNN_PROBE = """() => {
    const w = window.__cnn = {values: null, frames: 0, step: null, stepAt: null, stepChanges: 0,
                              mapDraws: 0, chartDraws: 0, mounts: 0, label: null, busy: 0, changedAt: null};
    const FRAME_GAP_MS = 50;
    const seen = new WeakMap();  // chart -> the draws it had counted
    new PerformanceObserver(list => { for (const e of list.getEntries()) w.busy += e.duration; })
        .observe({type: 'longtask'});
    const value = m => { const v = m.querySelector('[data-testid="stMetricValue"]');
                         return v ? v.textContent.trim() : ''; };
    const check = () => {
        const now = performance.now();
        const metrics = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]')];
        const values = metrics.map(value).join('|');
        if (metrics.length && values !== w.values) {
            // One frame's metrics can reach the page in more than one render: changes closer together
            // than FRAME_GAP_MS count as one frame (the live view asks for one every 250 ms or more).
            if (w.changedAt === null || now - w.changedAt >= FRAME_GAP_MS) w.frames += 1;
            w.values = values; w.changedAt = now;
        }
        for (const m of metrics) {
            const label = m.querySelector('[data-testid="stMetricLabel"]');
            if (label && label.textContent.trim() === 'Step' && value(m) !== w.step) {
                w.step = value(m); w.stepAt = now; w.stepChanges += 1;
            }
        }
        // A chart mounted anew (a full rerun of the page) counts from 0 again: add up what each one drew.
        for (const el of document.querySelectorAll('[data-testid="stMain"] .np-plotly')) {
            const draws = Number(el.dataset.draws || 0), before = seen.get(el);
            if (before === undefined) w.mounts += 1;
            if (draws > (before || 0)) {
                w.chartDraws += draws - (before || 0);
                if (el.closest('.st-key-cv_maps')) w.mapDraws += draws - (before || 0);
            }
            seen.set(el, draws);
        }
        const button = document.querySelector('.st-key-cv_play button, .st-key-cv_pause button');
        w.label = button ? button.textContent.trim() : null;
    };
    new MutationObserver(check).observe(document.querySelector('[data-testid="stMain"]'),
                                        {subtree: true, childList: true, characterData: true, attributes: true});
    check();
}"""
CNN_STATE = "() => Object.assign({now: performance.now()}, window.__cnn)"


def measure_cnn(browser, base_url: str, cpu_seconds=None, warmup_s: float = 2.0, window_s: float = 8.0) -> dict:
    """Open the Convolutions page's training tab (the default network, no step limit), press Play,
    and over `window_s` seconds count the frames drawn (the live view's metrics changed), the
    redraws of the feature maps' chart and of all its charts, the steps shown per second (the
    Step metric, between the moments its two values appeared), the browser's main thread in long
    tasks, and the server's CPU time per second when `cpu_seconds()` reads it; then press Pause."""
    context = browser.new_context(viewport={"width": 1500, "height": 2600})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/cnn?tab=train&steps=0", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        wait_rendered(page, "Convolutions")
        page.wait_for_selector(".st-key-cv_maps .np-plotly .main-svg", timeout=60_000)
        page.evaluate(CNN_PROBE)
        page.locator(".st-key-cv_play").get_by_role("button").click()
        page.wait_for_function("() => (window.__cnn.label || '').includes('Pause')", timeout=30_000)
        time.sleep(warmup_s)  # the first frames include the rerun that turned Play into Pause
        cpu = cpu_seconds or (lambda: 0.0)
        start, cpu_start, wall_start = page.evaluate(CNN_STATE), cpu(), time.perf_counter()
        time.sleep(window_s)
        end, cpu_end, wall_end = page.evaluate(CNN_STATE), cpu(), time.perf_counter()
        page.locator(".st-key-cv_pause").get_by_role("button").click()
        page.wait_for_function("() => (window.__cnn.label || '').includes('Play')", timeout=30_000)
        seconds = (end["now"] - start["now"]) / 1000
        if end["stepAt"] <= start["stepAt"]:
            raise RuntimeError(f"the Step shown did not move in {window_s:g} s of Play (it read {end['step']})")
        result = {
            "frames_per_s": (end["frames"] - start["frames"]) / seconds,
            "maps_redraws_per_s": (end["mapDraws"] - start["mapDraws"]) / seconds,
            "chart_draws_per_s": (end["chartDraws"] - start["chartDraws"]) / seconds,
            "steps_per_s": (_epoch(end["step"]) - _epoch(start["step"])) / ((end["stepAt"] - start["stepAt"]) / 1000),
            "step_changes_per_s": (end["stepChanges"] - start["stepChanges"]) / seconds,
            "step_at_end": _epoch(end["step"]),
            "browser_busy_ms_per_s": (end["busy"] - start["busy"]) / seconds,
            "charts_mounted": end["mounts"] - start["mounts"],
        }
        if cpu_seconds:  # over the wall time between the two readings, taken here and not in the page
            result["server_cpu_percent"] = 100 * (cpu_end - cpu_start) / (wall_end - wall_start)
        return result
    finally:
        context.close()


# ---------- P5: the Attention explorer ----------
# 20 words each; the marker word (a single word-piece of the encoder's vocabulary) tells
# this sentence's charts from the previous one's.
MARKERS = ["zebra", "elephant", "penguin", "tiger", "rabbit", "dolphin", "monkey", "turtle", "eagle", "wolf",
           "horse", "lion"]
SENTENCE = "The {} walked slowly across the dusty plain while the sun set behind the distant hills and the birds sang"

# True once every chart on the page shows the sentence that contains `word`; records when.
ALL_DRAWN = """(word) => {
    const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
    if (plots.length < 3) return false;
    const drawn = plots.every(el => el._fullLayout && el._fullLayout.meta && el._fullLayout.meta.tokens &&
                                    el._fullLayout.meta.tokens.includes(word) && el.querySelector('.main-svg') !== null);
    if (drawn && window.__drawnAt === undefined) window.__drawnAt = performance.now();
    return drawn;
}"""
# Records the Enter key, and the first moment after it that a script run has finished.
ENTER_PROBE = """([idle]) => {
    window.__enterAt = undefined; window.__drawnAt = undefined; window.__idleAt = undefined;
    let ran = false;
    const app = document.querySelector('[data-testid="stApp"]');
    const observer = new MutationObserver(() => {
        if (window.__enterAt === undefined) return;
        const state = app.getAttribute('data-test-script-state');
        if (state !== 'notRunning') ran = true;
        else if (ran && window.__idleAt === undefined && document.querySelector(idle)) {
            window.__idleAt = performance.now(); observer.disconnect();
        }
    });
    observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state', 'data-test-connection-state']});
    document.addEventListener('keydown', e => {
        if (e.key === 'Enter' && window.__enterAt === undefined) window.__enterAt = performance.now();
    }, {capture: true, once: true});
}"""


def sentence(i: int) -> tuple[str, str]:
    """The i-th 20-word sentence and its marker word."""
    word = MARKERS[i % len(MARKERS)]
    text = SENTENCE.format(word)
    if len(text.split()) != 20:
        raise ValueError(f"the P5 sentence must have 20 words, it has {len(text.split())}: {text!r}")
    return text, word


def _enter_sentence(page, text: str, word: str) -> dict:
    box = page.get_by_label("Sentence", exact=True)
    box.fill(text)
    page.evaluate(ENTER_PROBE, [IDLE])
    box.press("Enter")
    page.wait_for_function(ALL_DRAWN, arg=word, polling="raf", timeout=60_000)
    page.wait_for_function("() => window.__idleAt !== undefined", timeout=60_000)
    t = page.evaluate("() => [window.__enterAt, window.__drawnAt, window.__idleAt]")
    drawn, idle = (t[1] - t[0]) / 1000, (t[2] - t[0]) / 1000
    return {"drawn_s": drawn, "idle_s": idle, "answered_s": max(drawn, idle)}


def measure_attention(browser, base_url: str, repeats: int) -> list[dict]:
    """Open the Attention explorer (the model loads on the first visit), enter one warm-up
    sentence, then time `repeats` 20-word sentences: Enter -> every heatmap drawn for the
    new sentence and the app idle again."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/attention", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        wait_rendered(page, "Attention explorer")
        text, word = sentence(len(MARKERS) - 1)
        _enter_sentence(page, text, word)  # warm-up
        wait_rendered(page, "Attention explorer", timeout_ms=60_000)
        runs = []
        for i in range(repeats):
            text, word = sentence(i)
            runs.append(_enter_sentence(page, text, word))
            wait_rendered(page, "Attention explorer", timeout_ms=60_000)
        return runs
    finally:
        context.close()


# ---------- P6: every page in one session ----------
def visit_every_page(page, pages) -> dict[str, float]:
    """From the page already open, click each page of the sidebar's navigation in turn and
    wait for it to render; return the seconds each took, by url_path."""
    seconds = {}
    links = page.get_by_test_id("stSidebarNavLink")
    # The session starts on the default page: visit the others in the sidebar's order, then it again.
    order = [i for i, info in enumerate(pages) if not info.default] + [i for i, info in enumerate(pages) if info.default]
    for i in order:
        info = pages[i]
        title = "Neural Playground" if info.default else info.title
        start = time.perf_counter()
        links.nth(i).click()
        page.wait_for_function("(path) => location.pathname.replace(/\\/$/, '').endsWith(path)",
                               arg="" if info.default else info.url_path, timeout=30_000)
        seconds[info.url_path] = wait_rendered(page, title) - start
    return seconds


# ---------- LV: the other live pages ----------
# (url path, heading) of the pages whose live views redraw Plotly charts in place.
LIVE_PAGES = (("vanishing", "Vanishing gradients"), ("gan", "GAN lab"), ("autoencoders", "Autoencoders"),
              ("sequence", "Sequence models"))
# From now on: the main thread's long tasks (ms, the browser busy for 50 ms or more at a
# stretch) and the Plotly charts mounted anew (an SVG root added to the page).
CHART_WATCH = """() => {
    window.__lv = {busy: 0, mounted: 0, since: performance.now()};
    new MutationObserver(records => { for (const r of records) for (const n of r.addedNodes)
        if (n.nodeType === 1 && (n.matches('.main-svg') || n.querySelector('.main-svg'))) window.__lv.mounted += 1; })
        .observe(document.body, {subtree: true, childList: true});
    new PerformanceObserver(list => { for (const e of list.getEntries()) window.__lv.busy += e.duration; })
        .observe({type: 'longtask'});
}"""


def _live_page_load(browser, base_url: str, path: str, title: str, warmup_s: float, window_s: float) -> dict:
    """Press Play on one page and, over `window_s` seconds, the main thread's long tasks (ms per
    second) and the charts mounted anew per second."""
    context = browser.new_context(viewport={"width": 1500, "height": 2300})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{path}", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        wait_rendered(page, title)
        page.wait_for_selector(".main-svg", timeout=60_000)
        page.get_by_role("button", name="▶ Play").first.click()
        page.get_by_role("button", name="⏸ Pause").first.wait_for(timeout=30_000)
        time.sleep(warmup_s)
        page.evaluate(CHART_WATCH)
        time.sleep(window_s)
        seen = page.evaluate("() => ({...window.__lv, now: performance.now()})")
        page.get_by_role("button", name="⏸ Pause").first.click()
        seconds = (seen["now"] - seen["since"]) / 1000
        return {"busy_ms_per_s": seen["busy"] / seconds, "mounts_per_s": seen["mounted"] / seconds}
    finally:
        context.close()


def compare_live_charts(browser, baseline_url: str, base_url: str, warmup_s: float = 2.0,
                        window_s: float = 8.0) -> dict:
    """Each live page on the baseline server (its charts drawn by st.plotly_chart) and then on
    the app as it is (charts updated in place), one after the other."""
    result = {}
    for path, title in LIVE_PAGES:
        before = _live_page_load(browser, baseline_url, path, title, warmup_s, window_s)
        now = _live_page_load(browser, base_url, path, title, warmup_s, window_s)
        result.update({f"{path}_busy_ms_per_s": now["busy_ms_per_s"],
                       f"{path}_baseline_busy_ms_per_s": before["busy_ms_per_s"],
                       f"{path}_busy_ratio": before["busy_ms_per_s"] / max(now["busy_ms_per_s"], 1.0),
                       f"{path}_mounts_per_s": now["mounts_per_s"],
                       f"{path}_baseline_mounts_per_s": before["mounts_per_s"]})
    return result
