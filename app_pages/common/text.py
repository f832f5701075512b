"""User text shown as text: what a user typed, uploaded or put in an address never becomes
Markdown, HTML or LaTeX on a page (an image link in someone's shared file would make every
reader's browser fetch that address)."""
import re

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GitHub's extensions find bare addresses (http://..., www...., a@b.c) and :emoji: shortcodes in the
# text once the escapes are resolved, so escaping cannot stop them; an invisible word joiner
# inside each of those patterns does, and the text still reads the same.
WORD_JOINER = "\u2060"
_AUTOLINK_AND_SHORTCODE = re.compile(r"(?i)(?<=http)(?=:)|(?<=https)(?=:)|(?<=www)(?=\.)|(?<=@)|(?<=:)(?=[\w+-])")


def md_escape(text) -> str:
    """`text` (a row of a CSV, a label, a file name, a typed sentence, an address parameter, an
    error quoting them) made safe to put into anything Streamlit renders as Markdown (st.markdown,
    captions, alerts, headings): it reads as written, and an image link in a shared file never
    makes a reader's browser fetch its address. Line breaks and runs of white space become one
    space, so that no line of the text can start a block (a heading, a list, code)."""
    text = _AUTOLINK_AND_SHORTCODE.sub(WORD_JOINER, " ".join(str(text).split()))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
