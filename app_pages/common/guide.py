"""Each page's title with a small "Guide" link under it that opens the page's guide
(docs/pages/<url path>.md) in a dialog, so the manual is one click away and works offline."""
import re
from pathlib import Path

import streamlit as st

GUIDES_DIR = Path(__file__).resolve().parents[2] / "docs" / "pages"
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z]+:)[^)]*\)")


def guide_path(name: str) -> Path:
    return GUIDES_DIR / f"{name}.md"


def guide_markdown(name: str) -> str:
    """The guide as the dialog shows it: images dropped and links into the repository turned
    into their text (inside the app they would lead nowhere); web links are kept."""
    text = guide_path(name).read_text(encoding="utf-8")
    return _RELATIVE_LINK.sub(r"\1", _IMAGE.sub("", text))


@st.dialog("Guide", width="large")
def _show_guide(name: str) -> None:
    st.markdown(guide_markdown(name))


def page_title(title: str, guide: str) -> None:
    """st.title, then the "📖 Guide" link to docs/pages/<guide>.md."""
    st.title(title)
    if st.button("📖 Guide", key=f"guide_{guide}", type="tertiary",
                 help=f"This page's guide (docs/pages/{guide}.md): what it shows, how to read it, its limits"):
        _show_guide(guide)
