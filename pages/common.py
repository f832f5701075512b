"""Pieces every page shares: the sidebar (device and global seed) and the engine's device."""
import streamlit as st

from engine import describe_device, pick_device


@st.cache_resource
def app_device():
    """The device the engine picked for this process (CUDA, then MPS, then CPU)."""
    return pick_device("auto")


def sidebar() -> None:
    with st.sidebar:
        st.caption(f"Device: **{describe_device(app_device())}**")
        if "global_seed" not in st.session_state:
            st.session_state.global_seed = 0
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="global_seed",
                        help="Seeds the data, the initial weights, the batch order and dropout. Same seed, same run.")
