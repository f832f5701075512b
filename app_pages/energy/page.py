"""Energy models: a Boltzmann machine learning bars and stripes with its exact KL divergence, an RBM
dreaming digits by contrastive divergence, and a deep belief net pretrained greedily, then fine-tuned
against the same network from scratch as the labelled digits grow from 50 to all."""
import streamlit as st

from app_pages.common.address import read_address_once, widgets_from_query, widgets_to_query, write_address
from app_pages.common.guide import page_title
from app_pages.common.shell import ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.energy.boltzmann_tab import boltzmann_section
from app_pages.energy.dbn_tab import dbn_section
from app_pages.energy.rbm_tab import rbm_section
from app_pages.energy.saving import restore_saved_runs, show_notices
from app_pages.energy.state import TABS, URL_PARAMS, default_widgets, run_key

state = st.session_state

ensure_global_seed()
defaults = default_widgets()
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in defaults:
    if key in state:
        state[key] = state[key]
if "en_address_read" not in state and not any(run_key(task) in state for task in TABS):  # the first visit
    restore_saved_runs()
address_problems = read_address_once(state, st.query_params, "en_address_read",
                                     lambda query: widgets_from_query(URL_PARAMS, query))
for key, value in defaults.items():
    state.setdefault(key, value)

page_title("🔋 Energy models", "energy")
st.caption("A network of random binary units that gives every state an energy and every energy a probability, "
           "p ∝ exp(−E). Learning digs valleys where the data are and fills in the valleys the network dreams up "
           "elsewhere. A Boltzmann machine small enough that every state can be listed, an RBM that learns "
           "scikit-learn's 8×8 digits, and a deep belief net: RBMs stacked, then fine-tuned as a classifier.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
show_notices()

bm_tab, rbm_tab, dbn_tab = st.tabs(list(TABS.values()), key="en_tab", on_change="rerun")
with bm_tab:
    if bm_tab.open:
        boltzmann_section()
with rbm_tab:
    if rbm_tab.open:
        rbm_section()
with dbn_tab:
    if dbn_tab.open:
        dbn_section()
write_address(st.query_params, widgets_to_query(URL_PARAMS, state, defaults, state.global_seed))

with st.expander("How it works, and the limits"):
    st.markdown(
        "**Energy and probability**: E(v, h) = −½ sᵀWs − bᵀs over the units s = (v, h), p(v, h) = exp(−E(v, h)) / Z "
        "with Z the sum over every state. The gradient of log p(data) for a weight is ⟨s_i s_j⟩ with the visible "
        "units clamped to the data (positive phase) minus ⟨s_i s_j⟩ with the network running free (negative "
        "phase), both estimated by Gibbs sampling.\n\n"
        "**Exact numbers**: the Boltzmann machine has at most 20 units, so Z, p(v) and KL(data ‖ model) are "
        "computed by listing all 2ⁿ states; sampling only trains it.\n\n"
        "**RBM**: no links within a layer, so a whole layer is sampled at once and the hidden units sum out: the "
        "free energy F(v) = −bᵀv − Σ_j log(1 + exp(c_j + v·W_:j)). CD-k runs k rounds v → h → v from the data; "
        "persistent CD keeps its chains from update to update. Digits are binarised: a pixel is on at half the "
        "brightest ink or more.\n\n"
        "**Deep belief net**: each RBM learns the hidden probabilities of the one below, without labels; then the "
        "stack becomes a sigmoid network with a softmax head, fine-tuned by backprop (Adam) on 50, 100, 500 and "
        "all labelled digits (the same number of each digit), beside the same network from random "
        "initialisation trained on the same batches.\n\n"
        "**Limits**: the seed in the sidebar fixes the data split, the weights and every sample. The settings are "
        "chosen from lists; learning rate, momentum, k, Gibbs sweeps and the step limit reach a running model at "
        "once, the rest starts a new one after asking.\n\n"
        "**Nothing lost**: each tab's model is saved every 5 seconds while it plays and once when it stops; a "
        "reload or a server restart brings it back in the same browser, unless the address describes another "
        "setup. Reset forgets it.")
