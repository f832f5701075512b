"""Pieces every page shares: the sidebar (device and global seed), the engine's device, and the
question a page asks before a structural change throws away a trained model."""
import gc
import sys
import threading
from functools import lru_cache

import streamlit as st


@lru_cache(maxsize=1)
def app_device():
    """The device the engine picked for this process (CUDA, then MPS, then CPU)."""
    from engine import pick_device
    return pick_device("auto")


def prepare_engine() -> None:
    """Import PyTorch (once per process) and run this script thread's CPU ops on one thread:
    the networks here are tiny, and with OpenMP the setting belongs to the calling thread."""
    from engine.device import use_one_cpu_thread
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
        if "engine.trainer" not in sys.modules and not any(t.name == "engine-warm-up" for t in threading.enumerate()):
            TORCH_BEFORE_WARM_UP = "torch" in sys.modules
            threading.Thread(target=work, name="engine-warm-up", daemon=True).start()


def ensure_global_seed() -> None:
    """Start the session's seed from the address (train.seed) when a shared link carries one."""
    if "global_seed" not in st.session_state:
        seed = st.query_params.get("train.seed", "0")
        st.session_state.global_seed = int(seed) if seed.isdigit() and int(seed) < 2**31 else 0


def sidebar() -> None:
    ensure_global_seed()
    with st.sidebar:
        if "torch" in sys.modules:
            from engine import describe_device
            st.caption(f"Device: **{describe_device(app_device())}**")
        else:
            st.caption("Device: chosen when PyTorch has loaded (CUDA, then Apple MPS, then CPU)")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="global_seed",
                        help="Seeds the data, the initial weights, the batch order and dropout. Same seed, same run.")


def play_pause_button(where, key: str, playing: bool, on_click, args: tuple | None = None, help: str = "") -> None:
    """The primary ▶ Play / ⏸ Pause button of a live page, calling on_click(*args) (default:
    on_click(not playing)). Two keys, `{key}_play` and `{key}_pause`, not one toggle: a click
    the browser delivers again after the rerun it asked for then meets a button that is gone,
    instead of undoing itself."""
    where.button("⏸ Pause" if playing else "▶ Play", key=f"{key}_pause" if playing else f"{key}_play",
                 on_click=on_click, args=(not playing,) if args is None else args, type="primary",
                 width="stretch", help=help)


def describe_changes(changed: list[str], limit: int = 4) -> str:
    """'model.hidden, train.optimizer and 3 more': the changed settings, readable in a sentence."""
    names = list(dict.fromkeys(changed))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def replace_allowed(flag_key: str, wanted: str) -> bool:
    """Take the page's one-shot permission to replace its trained model without asking.

    A deliberate action (a preset, an upload, new data) stores True: replace whatever the
    widgets now say. The "Start the new ..." button stores the config it was drawn for, so a
    click that the browser delivers twice cannot later let an unrelated change through."""
    allowed = st.session_state.pop(flag_key, False)
    return allowed is True or (isinstance(allowed, str) and allowed == wanted)


def ask_before_discard(where, changed: list[str], trained: str, on_replace, on_keep, key: str, *,
                       thing: str = "network", plural: bool = False, replace_args: tuple = (),
                       keep_args: tuple = ()) -> None:
    """Ask before a structural change throws away a model that has trained.

    Draws, into `where` (a placeholder or container; None: here), what changed and how far the
    model on screen has come, and two buttons: "Start the new <thing>" (`{key}_replace`,
    calls on_replace(*replace_args)) and "Keep the trained one" (`{key}_keep`, calls
    on_keep(*keep_args), which should put the widgets back to the running model's settings).
    Until the user chooses, the page goes on with the trained model (hot settings still
    reach it)."""
    new = f"new {thing}s" if plural else f"a new {thing}"
    old = "the ones on screen have" if plural else "the one on screen has"
    keeps = "They keep" if plural else "It keeps"
    with (where if where is not None else st).container(border=True):
        st.warning(f"You changed **{describe_changes(changed)}**: that needs {new}, and {old} trained for "
                   f"{trained}. {keeps} running until you choose.", icon="❓")
        a, b, _ = st.columns([1.3, 1.3, 2])
        a.button(f"Start the new {thing}{'s' if plural else ''}", key=f"{key}_replace", type="primary",
                 on_click=on_replace, args=replace_args, width="stretch")
        b.button(f"Keep the trained one{'s' if plural else ''}", key=f"{key}_keep", on_click=on_keep,
                 args=keep_args, width="stretch")
