"""The Markov chain part of the Sequence models page: its settings, what it has counted, its samples,
its order-1 transition matrix and the orders compared (the logic is in markov_state.py)."""
from __future__ import annotations

import math

import streamlit as st

from app_pages.common.live_plotly import live_plotly, static_chart_config
from app_pages.sequence.markov_state import ORDERS, SMOOTHINGS, MarkovBaseline, baseline_for
from app_pages.sequence.state import SequenceLab
from viz.markov import order_figure, transition_figure

TOP_CHARACTERS = 20   # rows and columns of the transition matrix: the most frequent characters
REFRESH_SECONDS = 3.0  # the counts, the sample and the matrix redraw this often while the networks train

state = st.session_state


def markov_tab(lab: SequenceLab) -> None:
    """The tab's settings (a change redraws the whole page: the loss chart's line too) and its views."""
    st.caption("The oldest language model: predict the next character from the **n characters before it** "
               "alone, by counting. p(c | context) = (N(context, c) + k) / (N(context) + k·V), with N the counts "
               "of the training text, V the number of distinct characters and k a small add-k smoothing that "
               "keeps unseen continuations possible. It reads the same training text as the networks, as many "
               "characters as they have been fed, and is scored on the same held-out positions: the dashed line "
               "on the loss chart is the baseline a network must beat.")
    c = st.columns([1.1, 1, 1.3])
    c[0].toggle("Count and draw it", key="sq_markov_on", help="The dashed line on the loss chart")
    c[1].select_slider("Order (characters of context)", ORDERS, key="sq_markov_order",
                       help="Longer contexts predict better where they were seen, and are seen ever more rarely")
    c[2].select_slider("Add-k smoothing k", SMOOTHINGS, key="sq_markov_k", format_func=lambda v: f"{v:g}",
                       help="Added to every count: larger k moves probability to characters never seen there")
    baseline = baseline_for(state, lab.trainer)
    if baseline is None:
        st.info("Switched off: turn on *Count and draw it* to see the chain.")
        return
    markov_live(baseline, lab.playing)
    st.markdown("**Every order, the whole training text counted** (bits per character, k = "
                f"{baseline.trainer.config.smoothing:g})")
    sweep = baseline.order_sweep()
    st.plotly_chart(order_figure(sweep["orders"], sweep["test"], sweep["train"]), key="sq_markov_orders",
                    width="stretch", config=static_chart_config("markov-orders"))
    best = sweep["orders"][min(range(len(sweep["test"])), key=sweep["test"].__getitem__)]
    st.caption(f"Order {best} predicts the held-out text best here. Beyond it the training text's bits keep "
               "falling while the held-out ones rise: a long context is mostly seen once, so the chain recites "
               "its training text and meets held-out contexts it never saw (there it guesses among all "
               "characters). That is over-fitting by memorising, the same gap the networks' curves open.")
    chain_downloads(baseline.trainer.config, baseline.trainer)


def chain_downloads(config, chain) -> None:
    """⬇ notebook and ⬇ script of this chain, counting its whole training text (nothing to save: counting
    it again takes a second). Built when clicked, and a click does not rerun the page."""
    steps = max(1, math.ceil(len(chain.train_data) / config.chunk_chars))

    def make(fmt: str) -> str:
        from engine.export import export  # the exporters are imported on a click, not on every run
        return export(config, fmt, steps)

    c = st.columns(3)
    c[0].download_button("⬇ Download as notebook", lambda: make("ipynb"), "markov.ipynb", "application/x-ipynb+json",
                         key="sq_markov_dl_notebook", on_click="ignore", width="stretch",
                         help="A Jupyter notebook that counts this chain's text chunk by chunk, prints the bits per "
                              "character shown here and draws them (torch, numpy and plotly, offline)")
    c[1].download_button("⬇ Download as script", lambda: make("py"), "markov.py", "text/x-python",
                         key="sq_markov_dl_script", on_click="ignore", width="stretch",
                         help="The same code as one Python file: `python markov.py` prints the numbers and writes "
                              "the plot to an HTML file")


def markov_live(baseline: MarkovBaseline, playing: bool) -> None:
    @st.fragment(run_every=REFRESH_SECONDS if playing else None)
    def view() -> None:
        current = state.get("sq_markov")
        chain = current if current is not None and current.key == baseline.key else baseline
        t = chain.trainer
        snap = t.snapshot()
        m = st.columns(4)
        m[0].metric("Held out: bits/char", f"{snap.test_bits_per_char:.2f}",
                    help="-mean log₂ p on the very positions the networks' held-out loss is measured on")
        m[1].metric("Training text: bits/char", f"{snap.train_bits_per_char:.2f}",
                    help="The same on windows of the training text: far lower once the chain has memorised it")
        m[2].metric("Characters counted", f"{snap.train_chars_seen:,} of {snap.train_chars:,}",
                    help="As many as each network has been fed (batch × context per step), up to the whole text")
        m[3].metric("Contexts seen", f"{snap.contexts:,}",
                    help=f"Of the {snap.vocab_size}^{snap.order} = {snap.vocab_size ** snap.order:.3g} possible; "
                         f"{snap.table_entries:,} (context, next) counts stored")
        if snap.train_chars_seen == 0:
            st.info("Nothing counted yet: press **Play** or **⏭ 10 steps**, and the chain counts as much text as "
                    "the networks read.")
        prompt, length = state.get("sq_prompt", ""), int(state.get("sq_length", 160))
        c = st.columns([3, 1])
        c[1].slider("Temperature", 0.0, 2.0, step=0.1, key="sq_markov_temperature",
                    help="0 always picks the most likely next character; 1 draws from the counts as they are")
        text = chain.sample(prompt, state.sq_markov_temperature, length)
        with c[0]:
            st.markdown(f"**What the chain writes** after the prompt above · {snap.train_chars_seen:,} characters "
                        "counted")
            # plain text: nothing in it is interpreted; characters of the prompt not in the text are left
            # out as for the networks, whose samples above say which
            st.code(prompt + text, language=None, wrap_lines=True)
        chars, probs, _ = t.transition_matrix(TOP_CHARACTERS)
        st.markdown(f"**Order-1 transitions** among the {len(chars)} most frequent characters: p(next | character)")
        live_plotly(transition_figure(chars, probs), key="sq_markov_matrix")
        known = (f"Uniform rows mean nothing counted yet: every character has p = 1/{t.vocab_size}."
                 if snap.train_chars_seen == 0 else
                 f"A table of {t.vocab_size}² cells is all an order-1 chain knows; order {snap.order} has "
                 f"{snap.table_entries:,} non-zero counts of {float(t.vocab_size) ** (snap.order + 1):.2g} possible.")
        st.caption("Each row is a character read, each column the one that follows; a row's dark cells are where "
                   "the chain goes next (␣ is a space, ↵ a new line). A row does not add up to 1: rarer characters "
                   "take the rest. " + known)

    view()
