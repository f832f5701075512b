"""Reservoirs: fixed random networks with a trained read-out. An extreme learning machine beside an MLP
trained by backprop, an echo state network predicting a chaotic series, and a liquid of spiking
neurons reading digits row by row, beside the echo state network on the same rows."""
from functools import partial

import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.saved_runs import saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.reservoirs import state as rs
from app_pages.reservoirs.runs import run_from_checkpoint
from app_pages.reservoirs.state import TABS, default_widgets, page_from_query, page_query
from app_pages.reservoirs.tabs import elm_section, esn_section, lsm_section

state = st.session_state


def restore_saved_runs() -> None:
    """Each tab's run this browser last trained here (a reload, a laptop's sleep, a server restart),
    unless the address describes another run of that tab: a shared link wins. The sidebar has one seed:
    a run saved with another seed than the first one restored stays saved, and the tab starts afresh."""
    query, device = st.query_params.to_dict(), app_device()
    notices, seed, first = [], None, None
    for tab in rs.restore_order(query):
        with st.spinner(f"Restoring your {rs.RUN_NAMES[tab]}…"):
            run, problem = saved_trainer(rs.SAVE_NAMES[tab], partial(run_from_checkpoint, tab, device=device),
                                         rs.RUN_NAMES[tab])
        if problem:
            notices.append(("warning", problem))
        if run is None or seed not in (None, run.config.seed):
            continue
        values = rs.restored_widgets(tab, run.config, query)
        if values is None:
            continue
        state.update(values)
        state[f"rs_{tab}_run"] = run
        run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
        seed, first = run.config.seed, first or tab
        notices.append(("success", f"Restored your {rs.RUN_NAMES[tab]} after {run.progress()}, as last saved. "
                                   "Press Play to go on."))
    if first and "tab" not in query:
        state.rs_tab = TABS[first]  # the nav menu's address names no tab: open the restored one
    state.rs_notices = notices
    if seed is not None:
        use_seed(seed)


ensure_global_seed()
defaults = default_widgets()
for key in defaults:  # Streamlit forgets a widget's value when another page is shown; writing it back keeps it
    if key in state:
        state[key] = state[key]
if "rs_address_read" not in state and not any(f"rs_{tab}_run" in state for tab in TABS):  # the first visit
    restore_saved_runs()
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
for kind, text in state.pop("rs_notices", []):
    (st.success if kind == "success" else st.warning)(text)

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
        "**Saved as it trains**: each tab's run every 5 seconds while it plays and when it stops, for this "
        "browser; a reload or a server restart brings it back. Reset forgets it.\n\n"
        "**Limits**: up to 1,000 ELM units on the page (2,000 in the engine), reservoirs of up to 500 units "
        "and liquids of up to 500 neurons here (1,000 in the engine).")
