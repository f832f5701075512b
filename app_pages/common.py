"""Pieces every page shares: the sidebar (device and global seed) and the engine's device."""
import streamlit as st

from engine import describe_device, pick_device


@st.cache_resource
def app_device():
    """The device the engine picked for this process (CUDA, then MPS, then CPU)."""
    return pick_device("auto")


def ensure_global_seed() -> None:
    """Start the session's seed from the address (train.seed) when a shared link carries one."""
    if "global_seed" not in st.session_state:
        seed = st.query_params.get("train.seed", "0")
        st.session_state.global_seed = int(seed) if seed.isdigit() and int(seed) < 2**31 else 0


def sidebar() -> None:
    ensure_global_seed()
    with st.sidebar:
        st.caption(f"Device: **{describe_device(app_device())}**")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="global_seed",
                        help="Seeds the data, the initial weights, the batch order and dropout. Same seed, same run.")
