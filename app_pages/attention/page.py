"""Attention explorer: the real attention of a pretrained encoder on the sentence you type,
and the mechanism step by step from the model's own weights."""
import numpy as np
import streamlit as st

from app_pages.attention.state import (MAX_ADDRESS_TEXT, MEAN, TABS, EncoderCache, SentenceCache, default_widgets,
                                       head_view, left_out_of_address, line_token_problem, line_view_start,
                                       one_head_problem, parse_sentences, toy_arrays, toy_table_text,
                                       widgets_from_query, widgets_to_query)
from app_pages.common.address import read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import static_chart_config
from app_pages.common.shell import ensure_global_seed
from app_pages.common.text import md_escape
from engine.attention.self_attention import (TextError, all_heads_by_hand, cosine_matrix, entropy_bits, head_by_hand,
                                             learned_position_embeddings, similarity_by_distance, sinusoidal_encoding,
                                             toy_attention, weights_against_scale)
from engine.core.pretrained import MAX_TOKENS, MODEL_NAME, load_minilm
from viz.attention import (attention_heatmap_figure, cosine_figure, encoding_figure, grid_tile, head_grid_figure,
                           line_view_figure, matrix_figure, similarity_by_distance_figure, weights_against_scale_figure)

state = st.session_state
CHART = static_chart_config("attention")  # a PNG button on hover

ensure_global_seed()
# Streamlit forgets a widget's value when another page (or tab) is shown; writing it back keeps it.
for key in [*default_widgets(), "att_from"]:
    if key in state:
        state[key] = state[key]
# The session's first visit: a shared address may carry the sentences and every tab's settings.
first_visit = "att_address_read" not in state
address_problems = read_address_once(state, st.query_params, "att_address_read", widgets_from_query)
if first_visit:
    address_problems += one_head_problem(st.query_params, state)
for key, value in default_widgets().items():
    state.setdefault(key, value)
if "att_toy" not in state:  # the toy's editor was not drawn last run, so it holds no edits: it starts from
    state.att_toy_start = state.att_toy_table  # the table as last edited (or as the address gave it)


@st.cache_resource(show_spinner=f"Loading {MODEL_NAME} (once per server)…")
def minilm():
    """(tokenizer, model), shared by every session and used read-only."""
    return load_minilm()


def on_grid_click() -> None:
    """A click on a tile of the heads grid selects that layer and head. The grid's click
    markers are its second trace, one per head in layer-major order."""
    points = state.get("att_grid", {}).get("selection", {}).get("points", [])
    heads = minilm()[1].config.num_attention_heads
    for p in points:
        if p.get("curve_number") == 1 and isinstance(p.get("point_index"), int):
            state.att_layer, state.att_head = divmod(p["point_index"], heads)


page_title("🔍 Attention explorer", "attention")
st.caption(f"Type a sentence and see how **{MODEL_NAME.split('/')[-1]}**, a pretrained 6-layer BERT-style encoder "
           "with 12 attention heads per layer, spreads each token's attention over the others — then rebuild one "
           "head by hand from the model's own weights: queries, keys, values, scores, √d, softmax, A·V.")
address_notes = st.container()  # filled once the sentence is read: a line-view token is checked against it

tokenizer, model = minilm()
L, H = model.config.num_hidden_layers, model.config.num_attention_heads

c = st.columns([3, 2])
c[0].text_input("Sentence", key="att_text",
                help=f"Press Enter to run the model. It reads at most {MAX_TOKENS} tokens ([CLS] and [SEP] "
                     "included); longer text is cut there. What you type is only ever shown as text.")
c[1].text_input("Second sentence (optional)", key="att_pair",
                help="For attention across two sentences: the model reads [CLS] first [SEP] second [SEP]")
left_out = left_out_of_address(state, ("att_text", "att_pair"))
if left_out:
    st.caption(f"Your {' and '.join(left_out)} {'is' if len(left_out) == 1 else 'are'} not in the page's address (it "
               f"holds texts of up to {MAX_ADDRESS_TEXT} characters): a copied link opens with the example.")

cache: EncoderCache = state.setdefault("att_cache", EncoderCache())
run, problem = None, None
try:
    run = cache.get(tokenizer, model, state.att_text, state.att_pair)
except TextError as e:
    problem = str(e)
if first_visit and run is not None:
    address_problems += line_token_problem(st.query_params, state, run.tokens)
for address_problem in address_problems:  # the address's text is the visitor's, shown as text
    address_notes.warning(f"The address: {md_escape(address_problem)}.", icon="🔗")

if problem:
    st.info(f"Nothing to show: {problem[0].upper() + problem[1:]}.", icon="✍️")
else:
    if run.truncated:
        st.warning(f"Your text has {run.n_text_tokens:,} tokens; the model reads at most {MAX_TOKENS} (its position "
                   f"embeddings end there), so only the first {MAX_TOKENS} are shown.", icon="✂️")
    st.markdown(f"**{len(run.tokens)} tokens**, as the tokenizer splits them (`##` marks a piece that continues "
                "a word; characters it does not know, such as most emoji, become `[UNK]`):")
    st.code("  ".join(run.tokens), language=None, wrap_lines=True)

tabs = st.tabs(list(TABS.values()), key="att_tab", on_change="rerun")

# ---------------------------------------------------------------- heads
with tabs[0]:
    if tabs[0].open and run is not None:
        if state.att_head != MEAN and not 0 <= int(state.att_head) < H:
            state.att_head = 0
        c = st.columns([1, 1.4, 1.2, 2])
        c[0].selectbox("Layer", list(range(L)), key="att_layer", format_func=lambda i: f"{i + 1}")
        c[1].selectbox("Head", list(range(H)) + [MEAN], key="att_head",
                       format_func=lambda h: f"mean of {H} heads" if h == MEAN else f"{h + 1}")
        with c[2]:
            st.toggle("Hide [CLS] / [SEP]", key="att_hide_special",
                      help="They soak up much of the attention. Hidden, each row is rescaled to sum to 1.")
        weights, tokens, positions = head_view(run, state.att_layer, state.att_head, state.att_hide_special)
        if state.get("att_from") not in positions:
            state.att_from = line_view_start(run.tokens, state.att_hide_special)
        c[3].selectbox("Line view from token", positions, key="att_from",
                       format_func=lambda i: f"{i}: {run.tokens[i]}")
        name = f"layer {state.att_layer + 1}, " + (f"mean of {H} heads" if state.att_head == MEAN
                                                   else f"head {state.att_head + 1}")
        left, right = st.columns([1.35, 1], gap="medium")
        with left:
            st.markdown(f"**Attention of {name}**")
            st.plotly_chart(attention_heatmap_figure(weights, tokens), key="att_heatmap", config=CHART)
            st.caption("Row = the token that attends (query), column = the token it reads from (key); each row "
                       "sums to 1. Look for a bright diagonal (itself), a stripe beside it (the next or previous "
                       "token) or a bright column ([SEP], [CLS], punctuation: a place to park attention).")
        with right:
            sel = positions.index(state.att_from)
            st.markdown(f"**Line view: where “{md_escape(run.tokens[state.att_from])}” looks** ({name})")
            st.plotly_chart(line_view_figure(weights, tokens, sel), key="att_lines", config=CHART)
            top = np.argsort(weights[sel])[::-1][:3]
            st.caption("Lines are as opaque as the weight. Most attended: " +
                       ", ".join(f"{md_escape(tokens[j])} ({weights[sel, j]:.2f})" for j in top) + ".")
        st.markdown(f"**All {L} × {H} heads** — click a head to enlarge it above")
        st.plotly_chart(head_grid_figure(run.attentions, run.tokens,
                                         None if state.att_head == MEAN else (state.att_layer, state.att_head)),
                        key="att_grid", config=CHART, on_select=on_grid_click, selection_mode="points")
        n, _ = grid_tile(len(run.tokens))
        st.caption("Each tile is one head, its colours scaled to its own largest weight"
                   + (f"; with {len(run.tokens)} tokens each tile averages blocks of tokens to {n} × {n} cells"
                      if n < len(run.tokens) else "") +
                   ". Heads of the same layer read the same input yet learn different patterns: some look at "
                   "the next word, some at the previous, many at [SEP] or [CLS].")
    elif tabs[0].open:
        st.caption("Type a sentence above to see its attention.")

# ---------------------------------------------------------------- step by step
with tabs[1]:
    if tabs[1].open and run is not None:
        c = st.columns([1, 1, 3])
        c[0].selectbox("Layer", list(range(L)), key="att_layer", format_func=lambda i: f"{i + 1}")
        if state.att_head == MEAN:
            state.att_head = 0   # one head is computed here, not the mean
        c[1].selectbox("Head", list(range(H)), key="att_head", format_func=lambda h: f"{h + 1}")
        layer, head = state.att_layer, state.att_head
        steps = head_by_hand(model, run.hidden_states, layer, head, run.attention_mask)
        model_a = run.attentions[layer, head]
        model_out = run.contexts[layer][:, head * steps.d_head:(head + 1) * steps.d_head]
        every = np.abs(all_heads_by_hand(model, run.hidden_states, run.attention_mask) - run.attentions).max()
        m = st.columns(3)
        m[0].metric("max |A by hand − model's A|", f"{np.abs(steps.weights - model_a).max():.1e}",
                    help="This head: the softmax weights computed here against output_attentions")
        m[1].metric(f"… over all {L * H} heads", f"{every:.1e}")
        m[2].metric("max |A·V by hand − model's|", f"{np.abs(steps.output - model_out).max():.1e}",
                    help="The head's output against the model's self-attention output, read by a hook")
        st.caption("Differences of about 1e-7 are float32 rounding: the page computes in float64, the model in "
                   "float32. The hand computation is the model's.")
        toks = run.tokens
        st.latex(r"Q = XW_Q + b_Q,\quad K = XW_K + b_K,\quad V = XW_V + b_V,\quad "
                 r"A = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d}}\right),\quad \text{output} = AV")
        st.plotly_chart(matrix_figure(steps.X, toks, f"1. X: the input of layer {layer + 1} ({len(toks)} × "
                                      f"{steps.X.shape[1]})", "dimension"), key="att_x", config=CHART)
        st.caption("Layer 1's input is the word + position + segment embedding after LayerNorm; a later layer's "
                   "is the previous layer's output. Every head of the layer reads this same X.")
        c = st.columns(3)
        for col, (name, mat) in zip(c, (("Q = XW<sub>Q</sub> + b<sub>Q</sub>", steps.Q),
                                        ("K = XW<sub>K</sub> + b<sub>K</sub>", steps.K),
                                        ("V = XW<sub>V</sub> + b<sub>V</sub>", steps.V))):
            col.plotly_chart(matrix_figure(mat, toks, f"2. {name} ({mat.shape[0]} × {mat.shape[1]})",
                                           f"dimension of head {head + 1}"), key=f"att_{name[0]}", config=CHART)
        st.caption(f"Each head projects X to d = {steps.d_head} dimensions ({model.config.hidden_size} / {H}): "
                   "what a token looks for (Q), what it offers (K) and what it passes on (V).")
        c = st.columns(3)
        c[0].plotly_chart(matrix_figure(steps.scores, toks, "3. scores QKᵀ", "key", col_labels=toks),
                          key="att_scores", config=CHART)
        c[1].plotly_chart(matrix_figure(steps.scaled, toks, f"4. scaled by 1/√{steps.d_head}", "key",
                                        col_labels=toks), key="att_scaled", config=CHART)
        c[2].plotly_chart(matrix_figure(steps.weights, toks, "5. softmax of each row: A", "key", col_labels=toks,
                                        weights=True), key="att_softmax", config=CHART)
        st.caption(f"Dividing by √{steps.d_head} ≈ {np.sqrt(steps.d_head):.2f} keeps the scores' spread near 1 "
                   f"(here {steps.scaled[np.isfinite(steps.scaled)].std():.2f}), so softmax does not saturate "
                   "into one-hot rows whose gradients vanish.")
        st.plotly_chart(matrix_figure(steps.output, toks, f"6. output = A·V ({steps.output.shape[0]} × "
                                      f"{steps.output.shape[1]})", f"dimension of head {head + 1}"),
                        key="att_output", config=CHART)
        st.caption(f"Each token's output is the mix of the value vectors it attends to. The {H} heads' outputs "
                   f"are put side by side ({model.config.hidden_size} numbers) and projected back.")
    elif tabs[1].open:
        st.caption("Type a sentence above to see its attention.")

# ---------------------------------------------------------------- positions
with tabs[2]:
    if tabs[2].open:
        st.slider("Positions shown", 8, MAX_TOKENS, key="att_positions", step=8)
        P, d = state.att_positions, model.config.hidden_size
        sinus = sinusoidal_encoding(P, d)
        learned = learned_position_embeddings(model, P)
        c = st.columns(2)
        c[0].plotly_chart(encoding_figure(sinus, f"Sinusoidal encoding ({P} × {d}), Vaswani et al. 2017"),
                          key="att_sinus", config=CHART)
        c[0].caption("PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(…): fast waves in the first dimensions, "
                     "slow ones in the last. Nothing is learned; any length works.")
        c[1].plotly_chart(encoding_figure(learned, f"{MODEL_NAME.split('/')[-1]}'s learned position embeddings "
                                                   f"({P} × {d})"), key="att_learned", config=CHART)
        c[1].caption(f"One learned vector per position, added to each word's embedding: the model has {MAX_TOKENS} "
                     "of them, which is why it cannot read longer texts.")
        curves = {"sinusoidal": similarity_by_distance(sinus), "learned (this model)": similarity_by_distance(learned)}
        st.markdown("**How alike are two positions, against their distance?**")
        st.plotly_chart(similarity_by_distance_figure(curves), key="att_distance", config=CHART)
        s, l_ = curves["sinusoidal"], curves["learned (this model)"]
        far = min(P - 1, 50)
        st.caption(f"Mean cosine similarity of positions i and i + k. Neighbours are alike in both (distance 1: "
                   f"{s[1]:.2f} sinusoidal, {l_[1]:.2f} learned) and far positions less so (distance {far}: "
                   f"{s[far]:.2f}, {l_[far]:.2f}): the model learned on its own an encoding where nearness shows, "
                   "as the sinusoids have by construction (their dot product depends only on the distance).")

# ---------------------------------------------------------------- sentence similarity
with tabs[3]:
    if tabs[3].open:
        st.text_area("Sentences, one per line", key="att_sentences", height=150,
                     help="Press Ctrl+Enter or click outside the box to compare them.")
        if left_out_of_address(state, ("att_sentences",)):
            st.caption(f"Your sentences are not in the page's address (it holds texts of up to {MAX_ADDRESS_TEXT} "
                       "characters): a copied link opens with the example sentences.")
        sentences, note = parse_sentences(state.att_sentences)
        if note:
            st.warning(note)
        if len(sentences) < 2:
            st.info("Type at least two sentences, one per line, to compare them.", icon="✍️")
        else:
            embeddings, cut = state.setdefault("att_sentence_cache", SentenceCache()).get(tokenizer, model, sentences)
            if any(cut):
                st.warning(f"Sentences {', '.join(str(i + 1) for i, x in enumerate(cut) if x)} are longer than "
                           f"{MAX_TOKENS} tokens; only their first {MAX_TOKENS} tokens are read.", icon="✂️")
            sim = cosine_matrix(embeddings)
            st.plotly_chart(cosine_figure(sim, sentences), key="att_cosine", config=CHART)
            off = np.where(np.eye(len(sim), dtype=bool), -np.inf, sim)
            i, j = np.unravel_index(np.argmax(off), off.shape)
            st.caption(f"Each sentence becomes the mean of its tokens' last hidden states (a 384-number unit vector); "
                       f"cosine 1 = same direction. The closest pair here is {i + 1} and {j + 1} ({sim[i, j]:.2f}): "
                       "paraphrases land close even with no word in common.")

# ---------------------------------------------------------------- toy
with tabs[4]:
    if tabs[4].open:
        st.markdown("Set each token's 2-D **query** (what it looks for) and **key** (what it offers). "
                    "Attention = softmax(scale · Q Kᵀ).")
        c = st.columns([1.2, 1])
        rows = c[0].data_editor(state.att_toy_start, key="att_toy", num_rows="dynamic", width="stretch")
        state.att_toy_table = [dict(row) for row in rows]
        c[1].slider("Scale", 0.0, 10.0, key="att_scale", step=0.1,
                    help=f"The Transformer uses 1/√d; here d = 2, so 1/√2 ≈ {1 / np.sqrt(2):.2f}")
        try:
            toks, q, k = toy_arrays(rows)
        except ValueError as e:
            st.error(f"The table cannot be used: {md_escape(e)}.", icon="🚫")
        else:
            if toy_table_text(rows) is None:
                c[0].caption(f"This table is not in the page's address (it holds tables of up to {MAX_ADDRESS_TEXT} "
                             "characters, tokens without , or ;): a copied link opens with the example table.")
            scores, weights = toy_attention(q, k, state.att_scale)
            ent = entropy_bits(weights)
            c[1].metric("Mean entropy of a row", f"{ent.mean():.2f} bits",
                        help=f"{np.log2(len(toks)):.2f} bits = spread evenly over {len(toks)} tokens; 0 = all on one")
            if state.get("att_toy_query", 0) >= len(toks):
                state.att_toy_query = 0   # its row was deleted
            query = c[1].selectbox("Query for the chart below", list(range(len(toks))), key="att_toy_query",
                                   format_func=lambda i: toks[i])
            c = st.columns(2)
            with c[0]:
                st.plotly_chart(attention_heatmap_figure(weights, toks, height=360), key="att_toy_weights",
                                config=CHART)
                st.caption("The toy's attention matrix at your scale.")
            with c[1]:
                scales = np.linspace(0, 10, 101)
                st.plotly_chart(weights_against_scale_figure(scales, weights_against_scale(q[query], k, scales),
                                                             toks, state.att_scale, {"1/√2": 1 / np.sqrt(2)}),
                                key="att_toy_scale", config=CHART)
                st.caption(f"“{md_escape(toks[query])}”'s weights as the scale grows: at 0 every token gets "
                           f"1/{len(toks)}; the larger the scale, the more the largest score takes all. Large dot "
                           "products (big d without the 1/√d) push softmax there.")

write_address(st.query_params, widgets_to_query(state, state.global_seed, run.tokens if run is not None else None))
