"""User text shown as text: what a user typed, uploaded or put in an address never becomes
Markdown, HTML or LaTeX on a page (an image link in someone's shared file would make every
reader's browser fetch that address)."""


def md_escape(text: str) -> str:
    """User text made literal inside st.markdown (and st.warning, st.caption, ...): Markdown and
    LaTeX ($) marks escaped, so a token such as '*' or '$' prints as itself. (HTML is never
    enabled on these pages.)"""
    return "".join("\\" + ch if ch in "\\`*_{}[]()<>#+-.!|~$:" else ch for ch in str(text))
