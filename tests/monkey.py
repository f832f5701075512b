"""A seeded monkey for AppTest: random interactions with whatever widgets a page shows.

Every widget on the page is a candidate; each interaction picks one and gives it a random
value a browser user could give it (any option, any slider position, a hostile text, a junk
upload, a click). Up to 25 interactions are applied before each rerun (a click reruns at
once, as in the browser), as a user changes settings before the page catches up: a rerun of
the heavier pages costs seconds, and the suite has a time budget. Every rerun must end with
no exception shown.

Select-type widgets are set by their displayed option text (what the browser sends), so
pages that show labels through format_func are driven the same way as the rest.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

HOSTILE_TEXTS = [
    "", " ", "\n\n", "a", "hello world", "The cat sat on the mat.",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** $x^2$ `code`",
    "😀🔥🧠 emoji only", "مرحبا بالعالم", "שלום עולם", "中文文本测试", "Ünïcödé ß ø",
    "0", "-1", "nan", "inf", "1e309", "null", "{}", "x1,x2,label\n1,2,0",
    "word " * 2_000, "z" * 10_000,
]

JUNK_UPLOADS = [
    ("empty.csv", b"", "text/csv"),
    ("garbage.csv", bytes(range(256)) * 8, "text/csv"),
    ("wrong_columns.csv", b"a,b\n1\n2,3,4\n", "text/csv"),
    ("letters.csv", b"x1,x2,label\nfoo,bar,baz\n", "text/csv"),
    ("nan.csv", b"x1,x2,label\nnan,inf,0\n1,2,1\n", "text/csv"),
    ("config.json", b'{"task": "classify2d", "model": {"hidden": [0]}}', "application/json"),
    ("broken.json", b'{"task": ', "application/json"),
    # A pickle whose loading would run os.system: must be refused, never executed.
    ("evil.pt", b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x07echo hi\x94\x85\x94R\x94.",
     "application/octet-stream"),
    ("text.txt", "good movie,positive\nawful,negative\n".encode(), "text/plain"),
]

SELECT_TYPES = ("selectbox", "radio", "multiselect", "select_slider")


_CHOSEN: dict[int, object] = {}  # id(widget) -> displayed text(s) to send on the next run


def _patch_select_widgets() -> None:
    """Let select-type widgets send a displayed option text chosen by the monkey.

    AppTest maps a value set on such a widget through the page's format_func, which needs
    the raw option; the monkey only knows the displayed options, which is what a browser
    sends anyway. The patch applies only to widgets in _CHOSEN, so other tests see no change."""
    from streamlit.testing.v1 import element_tree as et
    for cls in (et.Selectbox, et.Radio, et.Multiselect, et.SelectSlider):
        original = cls.__dict__["_widget_state"]
        if getattr(original.fget, "_monkey", False):
            continue

        def widget_state(self, _original=original):
            if id(self) not in _CHOSEN:
                return _original.fget(self)
            ws = WidgetState()
            ws.id = self.id
            chosen = _CHOSEN[id(self)]
            if self.type in ("selectbox", "radio"):
                ws.string_value = chosen
            else:
                ws.string_array_value.data[:] = chosen
            return ws

        prop = property(widget_state)
        prop.fget._monkey = True
        cls._widget_state = prop


def _choose_text(widget, chosen) -> None:
    _patch_select_widgets()
    _CHOSEN[id(widget)] = chosen


@dataclass
class MonkeyLog:
    interactions: int = 0
    reruns: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    messages: set[str] = field(default_factory=set)   # error/warning texts seen (for the report)
    slowest: tuple[float, str] = (0.0, "")             # the slowest rerun and what preceded it


def _widgets(at: AppTest) -> list:
    from streamlit.testing.v1.element_tree import Widget
    found = []
    for node in at._tree:
        if not isinstance(node, Widget) or getattr(node, "id", None) is None:
            continue
        if getattr(node.proto, "disabled", False):
            continue
        if node.type in ("download_button", "color_picker", "date_input", "time_input", "camera_input",
                         "audio_input", "feedback", "datetime_input"):
            continue
        found.append(node)
    return found


def _interact(widget, rng: random.Random) -> bool:
    """Give one widget a random value; False when there is nothing to do with it."""
    t = widget.type
    if t in SELECT_TYPES:
        options = list(widget.options)
        if not options:
            return False
        if t == "multiselect":
            k = rng.randint(0, min(len(options), 4))
            _choose_text(widget, rng.sample(options, k))
        elif t == "select_slider":
            _choose_text(widget, [rng.choice(options)])
        else:
            _choose_text(widget, rng.choice(options))
    elif t in ("checkbox", "toggle"):
        widget.set_value(not widget.value)
    elif t == "button":
        widget.click()
    elif t == "slider":
        lo, hi, step = widget.min, widget.max, widget.step
        if isinstance(widget.value, (list, tuple)) or not isinstance(lo, (int, float)):
            return False
        if isinstance(lo, int) and isinstance(step, int):
            value = rng.choice([lo, hi, rng.randrange(lo, hi + 1, max(1, step))])
        else:
            n = max(1, round((hi - lo) / step)) if step else 100
            value = rng.choice([lo, hi, lo + rng.randint(0, n) * (hi - lo) / n])
        widget.set_value(value)
    elif t == "number_input":
        lo, hi = widget.min, widget.max
        current = widget.value if widget.value is not None else 0
        integer = isinstance(widget.step, int) and isinstance(current, int)
        if lo is None or hi is None:
            lo = current - 1_000 if lo is None else lo
            hi = current + 1_000 if hi is None else hi
        value = rng.choice([lo, hi, rng.uniform(lo, hi)])
        widget.set_value(int(round(value)) if integer else float(value))
    elif t in ("text_input", "text_area", "chat_input"):
        text = rng.choice(HOSTILE_TEXTS)
        max_chars = getattr(widget, "max_chars", 0) or 0
        widget.set_value(text[:max_chars] if max_chars else text)
    elif t == "file_uploader":
        choice = rng.choice(JUNK_UPLOADS + [None])
        allowed = [a.lstrip(".") for a in widget.allowed_type]
        if choice is not None and allowed and choice[0].rsplit(".", 1)[-1] not in allowed:
            # The browser's file picker only offers the allowed types: junk content, allowed name.
            choice = (f"{choice[0].rsplit('.', 1)[0]}.{rng.choice(allowed)}", choice[1], choice[2])
        widget.set_value(choice)
    elif t == "pagination":
        return False
    else:
        return False
    return True


def run_monkey(at: AppTest, interactions: int, seed: int, per_rerun: int = 25) -> MonkeyLog:
    """Drive the page with `interactions` random interactions; fail on the first exception."""
    rng = random.Random(seed)
    log = MonkeyLog()
    _CHOSEN.clear()
    at.run()
    _check(at, "the first run", log)
    while log.interactions < interactions:
        done = []
        for _ in range(per_rerun):
            widgets = _widgets(at)
            if not widgets:
                break
            widget = rng.choice(widgets)
            if _interact(widget, rng):
                done.append(f"{widget.type}:{widget.key or widget.label}")
                log.by_type[widget.type] = log.by_type.get(widget.type, 0) + 1
                if widget.type == "button":
                    break  # a click is one event; the browser reruns at once
        if not done:
            raise AssertionError("the page shows no widget the monkey can use")
        log.interactions += len(done)
        started = time.perf_counter()
        at.run()
        # The run has sent every chosen value; the next tree has new widget objects (whose
        # id() may reuse an old one's), so forget the choices.
        _CHOSEN.clear()
        log.reruns += 1
        log.slowest = max(log.slowest, (time.perf_counter() - started, ", ".join(done)))
        _check(at, ", ".join(done), log)
    return log


def _check(at: AppTest, what: str, log: MonkeyLog) -> None:
    if at.exception:
        details = "\n".join(e.value + "\n" + "\n".join(e.stack_trace or []) for e in at.exception)
        raise AssertionError(f"exception after {what} (interaction {log.interactions}):\n{details}")
    for box in list(at.error) + list(at.warning):
        log.messages.add(str(box.value)[:120])
