"""The app's shell, shared by every page: the sidebar (device and global seed), the engine's
device, and PyTorch's import (in the foreground for a lab, in the background after Home)."""
import gc
import re
import sys
import threading
from functools import lru_cache

import streamlit as st

from app_pages.common.text import md_escape


@lru_cache(maxsize=1)
def app_device():
    """The device the engine picked for this process (CUDA, then MPS, then CPU)."""
    from engine import pick_device
    return pick_device("auto")


def prepare_engine() -> None:
    """Import PyTorch (once per process) and run this script thread's CPU ops on one thread:
    the networks here are tiny, and with OpenMP the setting belongs to the calling thread."""
    from engine.core.device import use_one_cpu_thread
    use_one_cpu_thread()
    _freeze_imports()


@lru_cache(maxsize=1)
def _freeze_imports() -> None:
    """Once the engine's libraries are imported, move their objects (about half a million)
    out of the garbage collector's sight: they live as long as the server, and a full
    collection that walks them all takes a quarter of a second, a dropped frame."""
    import engine  # noqa: F401
    gc.collect()
    gc.freeze()


_warm_up_lock = threading.Lock()
TORCH_BEFORE_WARM_UP: bool | None = None  # whether PyTorch was already imported when the warm-up began


def warm_up_engine() -> None:
    """Import the engine (PyTorch) in a background thread, once, so the next page opens fast."""
    def work() -> None:
        app_device()
        _freeze_imports()

    global TORCH_BEFORE_WARM_UP
    with _warm_up_lock:
        if "engine.mlp.trainer" not in sys.modules and not any(t.name == "engine-warm-up" for t in threading.enumerate()):
            TORCH_BEFORE_WARM_UP = "torch" in sys.modules
            threading.Thread(target=work, name="engine-warm-up", daemon=True).start()


MAX_SEED = 2**31 - 1


def seed_from_address(text: str | None) -> int | None:
    """The seed an address parameter holds: a whole number 0..2³¹-1 written in ASCII digits;
    None for anything else ("²" passes str.isdigit but not int(), and a 5,000-digit number
    exceeds Python's integer-string limit: neither may reach int())."""
    if text is None or not re.fullmatch(r"[0-9]{1,10}", text.strip()):
        return None
    seed = int(text.strip())
    return seed if seed <= MAX_SEED else None


def ensure_global_seed() -> None:
    """Start the session's seed from the address (train.seed) when a shared link carries one;
    a seed it cannot use is named in a warning and 0 is used."""
    if "pending_global_seed" in st.session_state:  # a page restored a model trained with another seed
        st.session_state.global_seed = st.session_state.pop("pending_global_seed")
    if "global_seed" not in st.session_state:
        text = st.query_params.get("train.seed")
        seed = seed_from_address(text)
        if seed is None and text is not None:
            shown = md_escape(text if len(text) <= 20 else text[:20] + "…")
            st.session_state.seed_warning = (f"The address's seed train.seed={shown} is not a whole number from 0 "
                                             f"to {MAX_SEED:,}; the seed is 0.")
        st.session_state.global_seed = seed or 0


def sidebar() -> None:
    ensure_global_seed()
    with st.sidebar:
        if "torch" in sys.modules:
            from engine import describe_device
            st.caption(f"Device: **{describe_device(app_device())}**")
        else:
            st.caption("Device: chosen when PyTorch has loaded (CUDA, then Apple MPS, then CPU)")
        if "seed_warning" in st.session_state:
            st.warning(st.session_state.pop("seed_warning"), icon="⚠️")
        st.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key="global_seed",
                        help="Seeds the data, the initial weights, the batch order and dropout. Same seed, same run.")
