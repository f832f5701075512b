"""Take it home: one row under a lab's run with ⬇ notebook, ⬇ script, ⬇ Save and Load.

The notebook and the script come from engine/export.py for the run's config (as many steps as
trained so far, or the lab's default before any training); Save is the run's checkpoint (the same
bytes the session store keeps), and Load hands an uploaded file to the page's own loader, which
reads it with the safe loader (torch.load(weights_only=True)). A file that does not load is one
line on the page and the run on screen stays as it was.

Files are built when clicked (a callable), and a click does not rerun the page (on_click="ignore"):
a rerun would register the file again while the browser is still fetching it.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from app_pages.common.text import md_escape
from engine.core.config import ConfigError

state = st.session_state
LOAD_ERRORS = (ValueError, ConfigError, KeyError, TypeError, RuntimeError, EOFError, OSError)


def take_home_row(config, *, key: str, what: str, steps: int, checkpoint: Callable[[], bytes] | None = None,
                  on_load: Callable[[bytes], str] | None = None, make: Callable[[str], str] | None = None) -> None:
    """config: the run's config (its task picks the exporter); key: a page-unique prefix, also the
    files' name; what: the run in words ("autoencoder"); steps: how many steps the exports train;
    checkpoint: the run's checkpoint bytes (None while there is nothing trained to save);
    on_load(data) -> the success line, raising ValueError/ConfigError naming what is wrong;
    make(fmt) -> the export's text, where the lab's export is not engine/export.py's for its config.
    `checkpoint` and `make` run when the button is clicked, after the page's run and in a thread
    without the session's state: they must close over the run object, never read st.session_state."""
    if make is None:
        def make(fmt: str) -> str:
            from engine.export import export  # the exporters are imported on a click, not on every run
            return export(config, fmt, steps)

    cols = st.columns(4 if on_load else 3)
    with cols[0]:
        st.download_button("⬇ Download as notebook", lambda: make("ipynb"), f"{key}.ipynb",
                           "application/x-ipynb+json", key=f"{key}_dl_notebook", on_click="ignore",
                           width="stretch",
                           help=f"A Jupyter notebook that rebuilds this {what} in plain PyTorch, one step a cell with "
                                f"what it does and why, trains it for {steps:,} steps, prints the loss curve the page "
                                "shows for this seed and draws the page's main plot (offline)")
    with cols[1]:
        st.download_button("⬇ Download as script", lambda: make("py"), f"{key}.py", "text/x-python",
                           key=f"{key}_dl_script", on_click="ignore", width="stretch",
                           help="The same code as one Python file: `python " + key + ".py` prints the curve and "
                                "writes the plot to an HTML file")
    with cols[2]:
        st.download_button("⬇ Save", checkpoint if checkpoint is not None else b"", f"{key}.pt",
                           "application/octet-stream", key=f"{key}_dl_checkpoint", on_click="ignore",
                           disabled=checkpoint is None, width="stretch",
                           help=f"The {what}'s checkpoint: config, weights, optimiser and progress; Load it here "
                                "later to go on where it stopped" if checkpoint is not None else
                                "Nothing is trained yet: press Play or Step first")
    if on_load:
        with cols[3]:
            st.file_uploader(f"Load a saved {what}", type=["pt"], key=f"{key}_upload", on_change=_loaded,
                             args=(key, on_load), label_visibility="collapsed",
                             help="A .pt file saved here with ⬇ Save. Read with torch.load(weights_only=True): "
                                  "a file that carries code is refused")
    notice = state.pop(f"{key}_notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])


def _loaded(key: str, on_load: Callable[[bytes], str]) -> None:
    upload = state.get(f"{key}_upload")
    if upload is None:
        return
    name = md_escape(upload.name)
    try:
        message = on_load(upload.getvalue())
    except LOAD_ERRORS as e:
        state[f"{key}_notice"] = ("error", f"Could not load {name}: {md_escape(str(e)[:300])}. "
                                           "Your current run is unchanged.")
        return
    state[f"{key}_notice"] = ("success", f"Loaded {name}: {message}")
