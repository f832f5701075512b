"""Reservoirs: fixed random networks with a trained read-out. An extreme learning machine beside an MLP
trained by backprop, an echo state network predicting a chaotic series, and a liquid of spiking
neurons reading digits row by row, beside the echo state network on the same rows."""
import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.reservoirs.state import TABS, default_widgets, page_from_query, page_query
from app_pages.reservoirs.tabs import elm_section, esn_section, lsm_section

state = st.session_state

ensure_global_seed()
defaults = default_widgets()
for key in defaults:  # Streamlit forgets a widget's value when another page is shown; writing it back keeps it
    if key in state:
        state[key] = state[key]
address_problems = read_address_once(state, st.query_params, "rs_address_read", page_from_query)
for key, value in defaults.items():
    state.setdefault(key, value)

page_title("🌊 Reservoirs", "reservoirs")
st.caption("A random network that is never trained, and a linear read-out fitted in one solve: "
           "W = Y Hᵀ (H Hᵀ + λI)⁻¹. An extreme learning machine's random hidden layer against an MLP trained "
           "by backprop; an echo state network's random recurrent reservoir predicting a chaotic series; "
           "a liquid of spiking neurons reading digits row by row.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")

elm_tab, esn_tab, lsm_tab = st.tabs(list(TABS.values()), key="rs_tab", on_change="rerun")
device = app_device()
with elm_tab:
    if elm_tab.open:
        elm_section(device)
with esn_tab:
    if esn_tab.open:
        esn_section(device)
with lsm_tab:
    if lsm_tab.open:
        lsm_section(device)
write_address(st.query_params, page_query(state, state.global_seed))  # copy the address to share this setup

with st.expander("How it works, and the limits"):
    st.markdown(
        "**Read-out**: ridge regression with an unpenalised intercept, solved exactly (float64): the same "
        "weights as scikit-learn's `Ridge`. Only the read-out learns; the random weights never change.\n\n"
        "**Extreme learning machine**: h = g(A x + c) with A, c random (x scaled from [−6, 6] to [−1, 1]); "
        "the sweep uses the first w units of one random layer. The MLP beside it (8 + 8 tanh units, Adam) "
        "trains on the very same points.\n\n"
        "**Echo state network**: x(t) = (1 − a) x(t−1) + a tanh(W_in [1; u(t)] + W x(t−1)), W sparse (10 %) "
        "and scaled to the spectral radius ρ. The read-out predicts the next value from the state; "
        "free-running, its output is fed back as the next input. Mackey–Glass is integrated with RK4 "
        "(step 0.1) and sampled once per time unit.\n\n"
        "**Liquid state machine**: leaky integrate-and-fire neurons (τ = 20 ms, threshold 1, reset 0), "
        "80 % excitatory, 10 % connectivity; the read-out sees each neuron's spike count in four windows of "
        "the digit's presentation.\n\n"
        "**Limits**: up to 1,000 ELM units on the page (2,000 in the engine), reservoirs of up to 500 units "
        "and liquids of up to 500 neurons here (1,000 in the engine).")
