"""The architecture map: the neural network zoo; each architecture this app builds links to its
page and shows the PyTorch module it builds, layer by layer."""
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_pages import registry
from app_pages.common.address import read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import static_chart_config
from app_pages.common.shell import ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.zoo.state import (FLIPPED_STEP, HOPFIELD_DIGITS, KEYS, MAX_FLIPPED, MAX_NOISE_SEED, default_widgets,
                                 widgets_from_query, widgets_to_query)
from engine.zoo import hopfield
from engine.zoo.chart import EDGES, FAMILIES, HEAVY, NODES, node, node_summary
from viz.zoo import energy_figure, hopfield_figure, zoo_figure

state = st.session_state
CHART = static_chart_config("architecture-map")  # a PNG button on hover
# Titles of the pages that may not be listed yet in this build (the link works once they are).
PAGE_TITLES = {"foundations": "Foundations", "playground": "Playground", "vanishing": "Vanishing gradients",
               "autoencoders": "Autoencoders", "gan": "GAN lab", "sequence": "Sequence models",
               "attention": "Attention explorer", "sentiment": "Sentiment lab", "bridges": "Classical ML bridges",
               "zoo": "Architecture map"}
PAGE_TITLES.update({p.url_path: p.title for p in registry.PAGES})
PAGE_FILES = {p.url_path: p.path for p in registry.PAGES}

ensure_global_seed()  # the address carries the seed to the pages linked from here
if "zoo_node" in state:
    state.zoo_node = state.zoo_node  # keep the choice when another page was shown
# The session's first visit: a shared address may name a node (node=LSTM) and the Hopfield settings.
address_problems = read_address_once(state, st.query_params, "zoo_address_read", widgets_from_query)
# Widgets take their first value from here, not from value=: the address sets them too, and
# Streamlit warns when a widget gets both.
for key, first_value in default_widgets().items():
    state.setdefault(key, first_value)


# A click on the map selects that node (handled before the select box is drawn).
def on_map_click() -> None:
    points = (state.get("zoo_map") or {}).get("selection", {}).get("points", [])
    if points:
        key = points[0].get("customdata")
        key = key[0] if isinstance(key, list) else key
        if key in KEYS:
            state.zoo_node = key


@st.cache_data(show_spinner="Building the module…", max_entries=64)
def cached_summary(key: str) -> dict:
    return node_summary(key)


def _page_link(url_path: str, title: str, query: dict[str, str]) -> None:
    """A link to the page, opening the architecture's own setup there (its address parameters)."""
    try:  # within the app: a link that switches page without reloading
        st.page_link(PAGE_FILES[url_path], label=f"Open the page: {title}", icon="➡️", query_params=query or None)
    except (KeyError, StreamlitAPIException):  # the page is not listed in this build, or no navigation
        address = f"/{url_path}" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        st.markdown(f"➡️ [Open the page: {title}]({address})")


def summary_frame(summary: dict) -> pd.DataFrame:
    return pd.DataFrame([{"layer": "  " * max(0, r["depth"] - 1) + r["name"], "type": r["type"],
                          "output shape": r["output_shape"], "parameters": r["params"]} for r in summary["rows"]])


page_title("🗺️ Architecture map", "zoo")
st.caption("The neural network zoo (after the Asimov Institute's chart): the families of architectures and how they "
           "descend from one another. **Filled** nodes are built by this app — pick one to open its page and see the "
           "PyTorch module it trains, layer by layer. **Hollow** ones are not built here, and the map says so.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")

left, right = st.columns([1.6, 1], gap="medium")
with left:
    st.plotly_chart(zoo_figure(NODES, EDGES, state.zoo_node, PAGE_TITLES), key="zoo_map", on_select=on_map_click,
                    selection_mode="points", config=CHART)
    st.caption("Lines join an architecture to the ones built on it. Hover for the name; click a node to inspect it.")
with right:
    st.selectbox("Architecture", KEYS, key="zoo_node", format_func=lambda k: f"{node(k).name} ({k})")
    n = node(state.zoo_node)
    st.markdown(f"### {n.name}\n*{n.family}* — {n.about}")
    if n.page is None:
        st.info(f"This app does not build a {n.name}. It is on the map to show where the architectures the app "
                "does build come from and what lies beyond them.", icon="ℹ️")
    else:
        title = PAGE_TITLES.get(n.page, n.page)
        if n.page == "zoo":
            st.markdown("⬇️ Built on this page: see it recall a noisy digit below the map.")
        else:
            _page_link(n.page, title, n.query)

if n.page is not None:
    if n.builder in HEAVY and not state.get(f"zoo_loaded_{n.key}"):
        st.button("Load the pretrained model and list its layers (a few seconds)", key=f"zoo_load_{n.key}",
                  on_click=lambda k=n.key: state.update({f"zoo_loaded_{k}": True}))
    else:
        try:
            summary = cached_summary(n.key)
        except Exception as e:  # another page's engine may be missing or changed: say so, keep the map
            st.warning(f"The module of the {PAGE_TITLES.get(n.page, n.page)} page could not be built here "
                       f"({type(e).__name__}: {e}).", icon="⚠️")
        else:
            m = st.columns(3)
            m[0].metric("Parameters", f"{summary['total_params']:,}")
            m[1].metric("Trainable", f"{summary['trainable_params']:,}")
            m[2].metric("Layers listed", len(summary["rows"]))
            st.markdown(f"**The module the app builds for the {n.name}**, at its page's default size: each layer in "
                        "the order the forward pass runs it, with the shape of its output and its own parameters.")
            st.dataframe(summary_frame(summary), hide_index=True, key="zoo_table",
                         column_config={"parameters": st.column_config.NumberColumn(format="localized")})
            st.caption("Output shapes come from forward hooks on one example input (batch of 1); a layer called "
                       "twice is listed twice, its parameters counted once. Shape (B, T, d): batch, time steps, "
                       "width.")

st.subheader("A Hopfield network recalls a noisy digit")
st.caption("64 units, one per pixel of an 8×8 digit (±1), store the mean image of six digits. Flip some pixels of one "
           "of them and let the units update one at a time to the sign of their input: the energy −½ sᵀWs can only "
           "go down, and the state rolls into the nearest stored digit.")
c = st.columns([1, 1.4, 1.2, 1])
digit = c[0].selectbox("Digit", HOPFIELD_DIGITS, key="zoo_hn_digit")
noise = c[1].slider("Pixels flipped", 0.0, MAX_FLIPPED, step=FLIPPED_STEP, key="zoo_hn_noise", format="%.2f",
                    help="Share of the 64 pixels turned to their opposite")
rule = c[2].selectbox("Storage rule", hopfield.RULES, key="zoo_hn_rule",
                      format_func=lambda r: {"projection": "projection (pseudo-inverse)", "hebbian": "Hebb"}[r])
noise_seed = c[3].number_input("Noise seed", 0, MAX_NOISE_SEED, key="zoo_hn_seed")
write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup
patterns = hopfield.digit_patterns(HOPFIELD_DIGITS)
k = HOPFIELD_DIGITS.index(digit)
w = hopfield.weights(patterns, rule)
noisy = hopfield.corrupt(patterns[k], noise, int(noise_seed))
result = hopfield.recall(w, noisy, seed=int(noise_seed))
end = result["states"][-1]
found, overlap = hopfield.nearest_pattern(patterns, end)
shown = result["states"][1:6]
left, right = st.columns([1.3, 1], gap="medium")
left.plotly_chart(hopfield_figure([patterns[k], noisy] + shown,
                                  ["stored", f"{noise:.0%} flipped"] + [f"sweep {i}" for i in range(1, len(shown) + 1)],
                                  height=180), key="zoo_hn_states", config=CHART)
right.plotly_chart(energy_figure(result["energies"], hopfield.energy(w, patterns[k]), height=200),
                   key="zoo_hn_energy", config=CHART)
with left:
    wrong = int((end != patterns[k]).sum())
    if found == k and overlap == 1.0:
        st.success(f"Recalled the {digit} exactly after {len(result['states']) - 1} sweeps.", icon="✅")
    else:
        st.warning(f"Ended {'on' if overlap == 1.0 else 'nearest to'} the stored {HOPFIELD_DIGITS[found]} "
                   f"({wrong} of 64 pixels differ from the {digit}).", icon="⚠️")
    st.markdown("The six digits overlap a lot (mean images share many pixels). **Hebb's rule** W = (1/n) Σ x xᵀ "
                "then mixes them into spurious minima — try it. The **projection rule** W = X⁺X makes every stored "
                "digit a fixed point however correlated they are, within the limit of fewer patterns than units.")

with st.expander("Every architecture on the map"):
    st.dataframe(pd.DataFrame([{"key": x.key, "architecture": x.name, "family": x.family,
                                "built by this app": PAGE_TITLES.get(x.page, x.page) if x.page else "no"}
                               for x in sorted(NODES, key=lambda x: (FAMILIES.index(x.family), x.x, -x.y))]),
                 hide_index=True, key="zoo_all")
