"""The Sentiment lab against what users bring: Markdown, HTML and TeX in a shared CSV (texts,
labels, its file name) and in a typed sentence are shown as written, never rendered, and no
address in them ends up in a live image or link; a long paste, an oversized file, a single
class or numeric labels each get one line that says what happens; an unsafe checkpoint is
refused without advice to switch the protection off."""
import html
import io
import os
import pickle
import re
import string
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.text import WORD_JOINER, md_escape
from app_pages.sentiment.state import long_text_note, read_upload
from engine.sentiment.data import (MAX_TEXT_CHARS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, label_notes, label_order,
                                   parse_labelled_csv)
from engine.sentiment.trainer import SentimentConfig, SentimentTrainer
from tests.chart_helpers import charts
from viz.sentiment import attribution_figure, confusion_figure, plotly_text

markdown_it = pytest.importorskip("markdown_it")  # an independent CommonMark renderer, the oracle below

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "app_pages" / "sentiment" / "page.py")
TRAP = "http://127.0.0.1:9"  # nothing listens on port 9: a request there is a leak, never an answer
PAYLOADS = [f"![img]({TRAP}/x.png)", "<img src=x>", "**bold**", "$x^2$", f"[link]({TRAP})"]
# Three classes whose names are the payloads themselves (each at most 40 characters).
LABELS = [f"![img]({TRAP}/x.png)", "<img src=x> **bold** $x^2$", f"[link]({TRAP})"]
FILE_NAME = "**bold** <img src=x>.csv"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hostile_csv(per_class: int = 8) -> bytes:
    import csv
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["text", "label"])
    words = ["sunny happy", "rainy grey", "windy loud"]
    for c, label in enumerate(LABELS):
        for i in range(per_class):
            writer.writerow([f"{words[c]} {i} {' '.join(PAYLOADS)}\n# heading? {TRAP}", label])
    return buf.getvalue().encode()


def rendered(markdown: str) -> str:
    return markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def live_parts(markdown: str) -> list[str]:
    """What a Markdown renderer would make live of this source: images, links, headings,
    emphasis of the payloads; and what Streamlit's extensions find in the text once escapes are
    resolved (GitHub's bare-address links, :emoji: shortcodes) or in the source ($formulas$)."""
    out = rendered(markdown)
    found = re.findall(r"<img[^>]*>|<a [^>]*>|<strong>bold</strong>|<h\d>", out)
    shown = html.unescape(re.sub(r"<[^>]+>", "", out))
    found += re.findall(r"(?i)https?://|www\.|[\w.+-]@[\w-]|:[\w+-]+:", shown)
    unescaped = re.sub(r"\\.", "", markdown)  # the source without its escaped characters
    found += [m for m in ("$", "<img") if m in unescaped]
    return found


# ---------------- the helpers, against an independent renderer ----------------

@pytest.mark.parametrize("text", PAYLOADS + LABELS + [
    string.punctuation, "# title\n\n- item\n1. first\n    code", "a\\*b\\", "www.example.com and me@example.com, https://x.y",
    ":smile: :red[text] :material/home:", "&lt;b&gt; &amp; &#36;", "| a | b |\n|---|---|", "~~gone~~ <b>hi</b>"])
def test_md_escape_reads_as_written_and_nothing_is_live(text):
    safe = md_escape(text)
    assert live_parts(safe) == []
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered(safe))).strip()
    # the reader sees the characters typed (white space folded; the word joiners are invisible)
    assert shown.replace(WORD_JOINER, "") == " ".join(text.split())


def test_plotly_text_leaves_no_tag_and_no_formula():
    for text in PAYLOADS + LABELS + ['<a href="http://127.0.0.1:9">x</a>', "<b>b</b> & <br>"]:
        safe = plotly_text(text)
        assert "<" not in safe and ">" not in safe and "$" not in safe
        assert html.unescape(safe) == text  # plotly.js turns the entities back into these characters
    fig = confusion_figure([[1, 0], [0, 1]], ["<b>x</b>", "$y$"])
    assert list(fig.data[0].x) == ["&lt;b&gt;x&lt;/b&gt;", "&#36;y&#36;"]
    fig = attribution_figure(["<", "&"], [1.0, -1.0], "<img src=x>")
    assert "<" not in str(fig.layout.xaxis.title.text) and all("<" not in y for y in fig.data[0].y)


# ---------------- the page, given a hostile CSV ----------------

def markdown_sources(at: AppTest) -> list[str]:
    """The source of everything on the page that Streamlit renders as Markdown."""
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "subheader", "header", "title"):
        out += [el.value for el in at.get(kind)]
    for kind in ("selectbox", "radio", "text_area", "file_uploader", "slider", "select_slider", "button"):
        out += [el.label for el in at.get(kind) if getattr(el, "label", None)]
    return out


def open_page(**widgets) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    for key, value in {"sn_source": "upload", "sn_val": 0.2, "sn_test": 0.2, **widgets}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_hostile_csv_is_shown_as_text_everywhere():
    at = open_page()
    at.file_uploader(key="sn_upload").upload(FILE_NAME, hostile_csv(), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    trainer = at.session_state.sn_lab.trainer
    assert trainer.class_names == sorted(LABELS)
    at.button(key="sn_step").click().run()
    at.selectbox(key="sn_target").set_value(LABELS[1]).run()
    at.text_area(key="sn_sentence").set_value(" ".join(PAYLOADS) + " sunny happy").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Test accuracy" in md.value for md in at.markdown)  # the test results are on the page

    sources = markdown_sources(at)
    leaks = {s: live_parts(s) for s in sources if live_parts(s)}
    assert not leaks
    # The user's text is on the page, escaped: the file name, the example text, the class explained.
    assert any(md_escape(FILE_NAME) in s for s in sources)
    example = [s for s in sources if s.startswith("**How a text becomes numbers**")]
    assert len(example) == 1 and md_escape(PAYLOADS[0]) in example[0]
    assert any(s.startswith("**Words for") and md_escape(LABELS[1]) in s for s in sources)
    # Plotly labels: entities, never tags or formulas.
    for key, fig in charts(at).items():
        labels = [str(v) for trace in fig["data"] for axis in ("x", "y", "name") if axis in trace
                  for v in (trace[axis] if isinstance(trace[axis], list) else [trace[axis]])]
        assert not [v for v in labels if "<" in v or "$" in v], (key, labels)
    # The shaded sentence (st.html) is escaped by highlight_html.
    body = at.get("html")[0].proto.body
    assert "<img" not in body and "<a " not in body and "&lt;" in body


def test_bad_uploads_say_why_in_one_line_and_quote_the_file_as_text():
    at = open_page()
    header = f"text,{LABELS[0]}\nhello,1\n".encode()
    at.file_uploader(key="sn_upload").upload("bad.csv", header, "text/csv").run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "header must name" in errors[0] and "\n" not in errors[0]
    assert not live_parts(errors[0]) and md_escape(LABELS[0]) in errors[0]


def test_the_uploader_states_its_limits_and_oversized_files_are_refused():
    at = open_page()
    label = at.file_uploader(key="sn_upload").label
    assert "CSV up to 5 MB and 50,000 rows" in label and MAX_UPLOAD_BYTES == 5_000_000
    # Streamlit lets through up to 5 MiB (5,242,880 bytes) from Windows browsers: the page explains the rest.
    big = b"text,label\n" + b"x" * (MAX_UPLOAD_BYTES + 100_000)
    at.file_uploader(key="sn_upload").upload("big.csv", big, "text/csv").run()
    assert [e.value for e in at.error] == [md_escape("This file cannot be used: the file is 5.10 MB; the limit "
                                                         "is 5 MB (about 50,000 short texts). Upload a sample of it.")]
    rows = b"text,label\n" + b"".join(b"t%d,%d\n" % (i, i % 2) for i in range(MAX_UPLOAD_ROWS + 1))
    at.file_uploader(key="sn_upload").upload("long.csv", rows, "text/csv").run()
    assert [e.value for e in at.error] == [md_escape("This file cannot be used: the file has more than 50,000 "
                                                         "rows; upload a sample of it.")]
    assert "sn_lab" not in at.session_state


def test_a_long_paste_is_kept_and_the_page_says_what_is_read():
    at = open_page(sn_source="tweets", sn_max_rows=1000)
    assert at.text_area(key="sn_sentence").proto.max_chars == 0  # no limit in the browser: nothing cut silently
    assert not [c for c in at.caption if "only the first" in c.value]
    long = "I love this car. " * 200  # 3,400 characters
    at.text_area(key="sn_sentence").set_value(long).run()
    assert not at.exception
    notes = [c.value for c in at.caption if "only the first" in c.value]
    assert notes == [f"Your text has {len(long):,} characters; only the first {MAX_TEXT_CHARS:,} are read."]
    assert long_text_note(long[:MAX_TEXT_CHARS]) == ""
    body = at.get("html")[0].proto.body
    assert body.count("car") == long[:MAX_TEXT_CHARS].count("car")  # the shaded text is what the model read


# ---------------- labels: one class, numbers, spellings ----------------

def csv_of(rows: list[tuple[str, str]], header: str = "text,label") -> bytes:
    return (header + "\n" + "".join(f"{t},{lab}\n" for t, lab in rows)).encode()


def test_a_single_class_is_refused_with_its_name():
    with pytest.raises(ValueError) as err:
        parse_labelled_csv(csv_of([(f"text {i}", "0") for i in range(30)]))
    assert str(err.value) == "the label column has one class (0): a classifier needs at least two."
    at = open_page()
    at.file_uploader(key="sn_upload").upload("zeros.csv", csv_of([(f"text {i}", "0") for i in range(30)]),
                                             "text/csv").run()
    assert [e.value for e in at.error] == [md_escape("This file cannot be used: the label column has one "
                                                         "class (0): a classifier needs at least two.")]


def test_numeric_labels_are_classes_in_numeric_order_and_the_page_says_so():
    rows = [(f"text number {i}", str([1, 2, 10][i % 3])) for i in range(30)]
    parsed, notes = parse_labelled_csv(csv_of(rows))
    assert label_order(r[1] for r in parsed) == ["1", "2", "10"]
    assert notes == ["the labels are numbers (1, 2, 10): each value is read as the name of a class, not as an "
                     "amount to predict."]
    with pytest.raises(ValueError, match="holds 30 different numbers: this lab sorts texts into 2 to 10 classes"):
        parse_labelled_csv(csv_of([(f"text {i}", f"{i / 10}") for i in range(30)]))
    at = open_page()
    at.file_uploader(key="sn_upload").upload("numbers.csv", csv_of(rows), "text/csv").run()
    assert not at.exception and at.session_state.sn_lab.trainer.class_names == ["1", "2", "10"]
    assert md_escape("The labels are numbers (1, 2, 10): each value is read as the name of a class, not as an "
                         "amount to predict.") in [c.value for c in at.caption]


def test_other_surprises_in_a_csv_are_stated():
    rows = [(f"text {i}", ["Positive", "positive", "neg"][i % 3]) for i in range(30)]
    body = "sentiment,text,id\n" + "".join(f"{lab},{t},{i}\n" for i, (t, lab) in enumerate(rows))
    _, notes = parse_labelled_csv(body.encode())
    assert notes[0] == 'the column "sentiment" is read as the labels.'
    assert notes[1] == "other columns are ignored: id."
    assert "the labels Positive and positive differ only in case" in notes[2]
    long_rows = [("w " * 1500 + str(i), "ab"[i % 2] * 50) for i in range(30)] + [("", "a")]
    _, notes = parse_labelled_csv(csv_of(long_rows))
    assert notes == ["1 row(s) with an empty text or label were skipped.",
                     f"30 text(s) longer than {MAX_TEXT_CHARS:,} characters are cut to their first "
                     f"{MAX_TEXT_CHARS:,}.",
                     "30 label(s) longer than 40 characters are cut to their first 40; labels that then read the "
                     "same are one class."]
    with pytest.raises(ValueError, match=r"has 5 usable row\(s\) \(25 more have an empty text or label\)"):
        parse_labelled_csv(csv_of([("t", "a")] * 5 + [("t", "")] * 25))
    with pytest.raises(ValueError, match="holds a field longer than 131,072 characters"):
        parse_labelled_csv(csv_of([("x" * 140_000, "a")] + [("t", "b")] * 30))
    assert read_upload(csv_of(rows))[2][0].startswith("The labels")  # notes begin as sentences on the page
    assert label_notes(["a", "b"]) == []


def test_uploaded_numeric_classes_train_in_numeric_order():
    rows = [[f"{['good', 'bad', 'meh'][i % 3]} text {i}", str([1, 2, 10][i % 3])] for i in range(30)]
    config = SentimentConfig.from_dict({"data": {"source": "upload", "rows": rows, "val_fraction": 0.2,
                                                 "test_fraction": 0.2}, "model": {"vocab_size": 100}})
    assert SentimentTrainer(config, "cpu").class_names == ["1", "2", "10"]


# ---------------- unsafe checkpoints ----------------

class RunsACommand:
    """Unpickling this would call os.system: what a hostile checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Custom:
    """An object of a class of its own: not tensors and plain data."""

    def __init__(self):
        self.value = 1


def unsafe_files(marker) -> dict[str, bytes]:
    out = {"a plain pickle running a command": pickle.dumps(RunsACommand(marker)),
           "a protocol-2 pickle running a command": pickle.dumps({"config": "{}", "x": RunsACommand(marker)},
                                                                  protocol=2)}
    for name, value in (("a checkpoint running a command", RunsACommand(marker)), ("a custom object", Custom())):
        buf = io.BytesIO()
        torch.save({"config": "{}", "state_dict": value, "G": value}, buf)
        out[name] = buf.getvalue()
    return out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the plain pickle: expected
@pytest.mark.parametrize("kind", ["playground", "gan", "sequence", "sentiment"])
def test_unsafe_checkpoints_are_refused_without_advice_to_switch_the_protection_off(kind, tmp_path):
    from engine import Trainer
    from engine.gan import GANTrainer
    from engine.sequence import CharLMTrainer
    load = {"playground": Trainer, "gan": GANTrainer, "sequence": CharLMTrainer,
            "sentiment": SentimentTrainer}[kind].from_checkpoint
    marker = tmp_path / "ran"
    for name, data in unsafe_files(marker).items():
        with pytest.raises(ValueError) as err:
            load(data, "cpu")
        message = str(err.value)
        assert "refused as unsafe" in message and "code or objects other than tensors and plain data" in message, name
        assert "weights_only" not in message and "False" not in message and "\n" not in message, (name, message)
    for junk in (b"", b"not a checkpoint", b"\x80\x02garbage" * 10):  # not unsafe, just not a checkpoint
        with pytest.raises(ValueError) as err:
            load(junk, "cpu")
        assert "weights_only" not in str(err.value)
    assert not marker.exists()


def test_no_message_in_the_app_suggests_loading_with_weights_only_false():
    sources = [p for d in ("engine", "app_pages", "viz") for p in (REPO / d).rglob("*.py")]
    offenders = [str(p) for p in sources if re.search(r"weights_only\s*=\s*False", p.read_text())]
    assert not offenders
