"""A session's trained models saved as it goes, and restored when the same browser comes back.

The session's key lives in a cookie (np_session), not in the address: the address is what a user
copies to share a setup, and a shared link must not hand someone else's trained model over.
A cookie is per browser, survives a reload, a laptop's sleep and a server restart, and the
server reads it on the first script run of a new session (st.context.cookies), so the page can
restore before it draws anything. Tabs of one browser share it: the last save of a page wins.
"""
from __future__ import annotations

import re
import uuid

import streamlit as st

from app_pages.common.session_store import SessionStore, open_store, store_address
from app_pages.common.text import md_escape

COOKIE = "np_session"
COOKIE_DAYS = 30
_KEY = re.compile(r"[0-9a-f]{32}")


@st.cache_resource(show_spinner=False)
def _store(address: str) -> SessionStore:
    """One store per server process and address (it serialises its own writes)."""
    return open_store(address)


def session_store() -> SessionStore:
    return _store(store_address())


def _cookie() -> str:
    try:
        value = st.context.cookies.get(COOKIE, "")
    except Exception:  # noqa: BLE001 - no browser behind this run (a bare script)
        return ""
    return value if isinstance(value, str) else ""  # AppTest's context holds mocks


def session_key() -> str:
    """This browser's key: read from its cookie, or made now and written to it."""
    state = st.session_state
    if "np_session_key" not in state:
        cookie = _cookie()
        state.np_session_key = cookie if _KEY.fullmatch(cookie) else uuid.uuid4().hex
    if _cookie() != state.np_session_key and not state.get("np_cookie_written"):
        state.np_cookie_written = True
        st.html(f"<script>document.cookie = '{COOKIE}={state.np_session_key}; path=/; "
                f"max-age={COOKIE_DAYS * 86400}; SameSite=Lax';</script>", unsafe_allow_javascript=True)
    return state.np_session_key


def save_run(name: str, data: bytes) -> str | None:
    """Save a page's checkpoint; None, or the one line to show when it could not be saved."""
    try:
        session_store().put(session_key(), name, data)
    except Exception as e:  # noqa: BLE001 - a full disk or a locked file must not stop training
        return f"Your progress could not be saved ({type(e).__name__}: {str(e)[:120]}); training goes on."
    return None


def load_run(name: str) -> bytes | None:
    """The page's last saved checkpoint for this browser, or None."""
    try:
        return session_store().get(session_key(), name)
    except Exception:  # noqa: BLE001 - an unreadable store is a fresh start, never an exception
        return None


def forget_run(name: str) -> None:
    try:
        session_store().evict(session_key(), name)
    except Exception:  # noqa: BLE001
        pass


def saved_trainer(name: str, from_checkpoint, what: str):
    """(the trainer this browser last saved under `name`, None) or (None, the one line to show
    when its entry could not be read: it is then forgotten, and the page starts afresh)."""
    data = load_run(name)
    if data is None:
        return None, None
    try:
        return from_checkpoint(data), None
    except Exception as e:  # noqa: BLE001 - a damaged entry is a fresh start, never an exception
        forget_run(name)
        return None, f"Your saved {what} could not be read ({md_escape(type(e).__name__)}); starting afresh."


def use_seed(seed: int) -> None:
    """Give the sidebar's seed a restored model's seed: it is drawn before the page, so the value
    is set before it on a rerun (shell.ensure_global_seed reads pending_global_seed)."""
    if seed != st.session_state.get("global_seed"):
        st.session_state.pending_global_seed = seed
        st.rerun()
