"""Sequence models: train a character-level RNN, LSTM, GRU and Transformer on the same text, live,
and compare how they learn, what they write, how far back they look and what they attend to."""
import math

import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.take_home import take_home_row
from app_pages.common.text import md_escape
from app_pages.sequence.markov import markov_tab
from app_pages.sequence.markov_state import VIEWS, baseline_for
from app_pages.sequence.saving import load_models
from app_pages.sequence.state import (ARCHS, ARCH_LABELS, BATCH_SIZES, CLIP_NORMS, CONTEXTS, CORPUS_LABELS,
                                      DROPOUT_STEP, HEADS, HIDDEN_SIZES, LEARNING_RATES, MAX_ADDRESS_TEXT, MAX_DROPOUT,
                                      MAX_LAYERS, POSITIONS, PROBE_LIMIT, SAVE_NAME, SequenceLab, config_from_widgets,
                                      default_widgets, describe_chars, restored_widgets, text_in_address,
                                      text_limits_message, widgets_from_config, widgets_from_query, widgets_to_query)
from engine import ConfigError
from engine.core.registries import OPTIMIZERS
from engine.sequence.trainer import MAX_TEXT, MAX_VOCAB, MIN_TEXT, REPLACEMENT, CharLMConfig, CharLMTrainer
from viz.markov import add_markov_line
from viz.sequence import attention_figure, gradient_time_figure, hidden_state_figure, loss_figure

state = st.session_state
EXPORT_STEPS = 1000  # what a notebook of models not yet trained trains
INSPECT_SECONDS = 5.0  # the attention and hidden-state views redraw this often while training


def restore_saved_models() -> None:
    """The models this browser last trained here, all of them (a reload, a laptop's sleep, a server
    restart), unless the address describes another setup: a shared link wins."""
    with st.spinner("Restoring your models…"):
        trainer, problem = saved_trainer(SAVE_NAME, lambda data: CharLMTrainer.from_checkpoint(data, app_device()),
                                         "models")
    if problem:
        state.sq_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_widgets(trainer.config, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    state.sq_address_read = True  # the address is empty or describes this very setup: nothing more to read
    state.sq_lab = SequenceLab.of(trainer)
    state.sq_lab.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.sq_notice = ("success", f"Restored your models at step {trainer.step_count:,}, as last saved. "
                                  "Press Play to go on.")
    use_seed(trainer.config.seed)


ensure_global_seed()
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in default_widgets():
    if key in state:
        state[key] = state[key]
if "sq_address_read" not in state and "sq_lab" not in state:  # the session's first visit
    restore_saved_models()
# The session's first visit: a shared address may carry a setup (models, text, settings, the seed).
address_problems = read_address_once(state, st.query_params, "sq_address_read", widgets_from_query)
for key, value in default_widgets().items():
    state.setdefault(key, value)


# Button callbacks take the state they were drawn for (a click can arrive twice while a fragment ticks).
def on_play_pause(play: bool) -> None:
    lab = state.get("sq_lab")
    if lab is not None:
        lab.play() if play else lab.pause()


def on_step(step_drawn: int) -> None:
    lab = state.get("sq_lab")
    if lab is not None and (lab.playing or lab.trainer.step_count == step_drawn):
        lab.pause()
        lab.step(10)


def on_reset() -> None:
    state.pop("sq_lab", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings new models, not the ones thrown away


def save_models(checkpoint: bytes) -> None:
    state.sq_save_problem = save_run(SAVE_NAME, checkpoint)


def on_text_change() -> None:
    state.sq_replace_ok = True  # pasting a text is asking for models that read it


def widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained ones" puts them back."""
    config = CharLMConfig.from_json(config_json)
    return {**widgets_from_config(config), "global_seed": config.seed}


page_title("🔤 Sequence models", "sequence")
st.caption("Four ways to predict the next character. A recurrent network (RNN, LSTM, GRU) reads the text one "
           "character at a time and carries a state forward; what it read long ago must survive many steps to "
           "matter. A Transformer looks at every earlier character at once through attention. Press **Play**: "
           "the models chosen train side by side on the same batches of the same text, and you watch their loss, "
           "what they write, how far back their gradient reaches, and what the Transformer attends to.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "sq_notice" in state:
    kind, text = state.pop("sq_notice")
    (st.success if kind == "success" else st.warning)(text)

lab: SequenceLab | None = state.get("sq_lab")
bar = st.columns([1, 1, 1, 4])  # the buttons are drawn into it once the models are up to date
bar[3].multiselect("Models trained side by side", ARCHS, key="sq_models", format_func=ARCH_LABELS.get,
                   help="Each is trained on exactly the same batches, from the same seed")

left, right = st.columns([1.1, 1], gap="medium")
with left:
    st.radio("Text", list(CORPUS_LABELS), key="sq_corpus", format_func=CORPUS_LABELS.get, horizontal=True)
    if state.sq_corpus == "text":
        st.text_area("Your text", key="sq_text", height=120, on_change=on_text_change,
                     help=f"{MIN_TEXT:,} to {MAX_TEXT:,} characters; any script, emoji included")
        st.caption(f"{len(state.sq_text):,} characters (limits: {MIN_TEXT:,}–{MAX_TEXT:,}). Up to {MAX_VOCAB} "
                   f"distinct characters are kept; rarer ones become {REPLACEMENT}.")
        if not text_in_address(state):
            st.caption(f"Your text is not in the page's address (it holds pasted texts of up to {MAX_ADDRESS_TEXT} "
                       "characters): a copied link opens with the example text.")
    elif state.sq_corpus == "tweets":
        st.caption("The texts of the sentiment corpus' tweets, one per line, the first 100,000 characters.")
    elif state.sq_corpus == "readme":
        st.caption("This app's README: short (about ten thousand characters), so the models memorise it within "
                   "minutes — watch the held-out curve part from the training curve.")
    else:
        st.caption("This app's own page guides, joined: small (a few tens of thousands of characters), so the "
                   "models soon start to memorise them — watch the held-out curve part from the training curve.")
    c = st.columns(3)
    c[0].select_slider("Context (characters)", CONTEXTS, key="sq_context",
                       help="Length of each training window; the Transformer sees at most this many characters")
    c[1].select_slider("Batch size", BATCH_SIZES, key="sq_batch")
    c[2].select_slider("Clip gradient norm", CLIP_NORMS, key="sq_clip", format_func=lambda v: f"{v:g}" if v else "off",
                       help="Rescale each model's gradient to at most this norm; applied at once")
with right:
    tabs = st.tabs([ARCH_LABELS[a] for a in ARCHS])
    for a, tab in zip(ARCHS, tabs):
        with tab:
            c = st.columns(3)
            c[0].select_slider("Hidden size", HIDDEN_SIZES, key=f"sq_{a}_hidden",
                               help="Width of the hidden state (the Transformer's model width)")
            c[1].slider("Layers", 1, MAX_LAYERS, key=f"sq_{a}_layers")
            c[2].slider("Dropout", 0.0, MAX_DROPOUT, step=DROPOUT_STEP, key=f"sq_{a}_dropout")
            c = st.columns(3)
            c[0].selectbox("Optimiser", OPTIMIZERS, key=f"sq_{a}_optimizer")
            c[1].select_slider("Learning rate", LEARNING_RATES, key=f"sq_{a}_lr", help="Applied at once")
            if a == "transformer":
                c[2].selectbox("Heads", HEADS, key="sq_transformer_heads")
                st.radio("Positions", POSITIONS, key="sq_transformer_positions", horizontal=True,
                         help="learned: a trained vector per position; sinusoidal: fixed sines and cosines")
            if a not in state.sq_models:
                st.caption("Not trained now: add it under *Models trained side by side*.")

write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup

# ---------- widgets -> the models ----------
config, problem = None, None
if not state.sq_models:
    problem = "Choose at least one model to train."
elif state.sq_corpus == "text" and text_limits_message(state.sq_text):
    problem = text_limits_message(state.sq_text)
else:
    try:
        config = config_from_widgets(state, state.global_seed)
    except ConfigError as e:
        problem = f"This setting is not possible: {e}."
if problem:
    st.error(problem + (" The models trained so far keep their progress." if lab else ""), icon="🚫")
# Pasting a new text (or Reset) asks for new models at once; another widget change that would
# throw away trained models asks first, and until the user chooses they run on with the hot settings.
replace_ok = replace_allowed("sq_replace_ok", config.to_json() if config is not None else "")
changed = lab.changes(config) if lab is not None and config is not None else []
if changed and lab.has_trained and not replace_ok:
    lab.apply_hot(config)
    ask_before_replacing(None, changed, f"{lab.trainer.step_count:,} steps", "sq", wanted_json=config.to_json(),
                         running_json=lab.trainer.config.to_json(), flag_key="sq_replace_ok", widgets_for=widgets_of,
                         thing="model", plural=True)
elif config is not None and (lab is None or not lab.apply(config)):
    was_playing = lab is not None and lab.playing
    try:
        with st.spinner("Reading the text and building the models…"):
            new = SequenceLab.build(config, app_device(), sampling=lab.sampling if lab else None)
        if lab is not None:
            forget_run(SAVE_NAME)  # the trained ones were thrown away: a reload must not bring them back
            new.pace = lab.pace  # the same live view goes on (playing if it was): its pacer, as measured, too
        lab = state.sq_lab = new
        lab.playing = was_playing
    except (ConfigError, OSError) as e:
        st.error(f"Could not build the models: {e}", icon="🚫")
# Drawn for the models as they are now: a Step click right after a rebuild acts on the new ones.
playing = lab is not None and lab.playing
play_pause_button(bar[0], "sq", playing, on_play_pause, help="Train every model chosen, live")
bar[1].button("⏭ 10 steps", key="sq_step", on_click=on_step, args=(lab.trainer.step_count if lab else 0,),
              use_container_width=True, help="Ten optimisation steps for every model, then pause")
bar[2].button("↺ Reset", key="sq_reset", on_click=on_reset, use_container_width=True,
              help="New initial weights, history cleared")
if lab is None:
    st.info("Pick a text and at least one model to start.")
    st.stop()
corpus = lab.trainer.corpus
if corpus.replaced:
    st.info(f"The text has more than {MAX_VOCAB} distinct characters: the {corpus.replaced:,} occurrences of the "
            f"rarest ones are written as {REPLACEMENT}.")


# ---------- the live view ----------
@st.fragment(run_every=lab.pace.run_every(lab.playing))
def live_view() -> None:
    lab: SequenceLab = state.sq_lab
    with lab.pace.frame(lab.playing) as frame:
        if lab.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        lab.tick(trained=frame.trained)
        draw_live_view(lab)
    if not lab.playing and playing:
        st.rerun()  # stopped by itself: redraw the Play button
    if lab.playing and lab.pace.interval_is_stale():
        st.rerun()  # the live view again with an interval that fits its frames


def draw_live_view(lab: SequenceLab) -> None:
    if lab.message:
        st.warning(lab.message, icon="⏸")
    t = lab.trainer
    snap_models = t.history[-1]
    m = st.columns(2 + len(lab.labels))
    m[0].metric("Step", f"{t.step_count:,}")
    m[1].metric("Steps / s", f"{lab.steps_per_second:,.1f}" if lab.playing else "—")
    for i, label in enumerate(lab.labels):
        v = snap_models["val_loss"][i]
        m[2 + i].metric(f"{label}: bits/char", f"{v / math.log(2):.2f}" if v is not None else "—",
                        help="Held-out loss in bits per character. A model that has learned nothing scores "
                             f"log₂ {len(corpus.chars)} = {math.log2(len(corpus.chars)):.1f} (one guess among "
                             "all the characters of the text)")
    st.markdown("**Loss of every model, in bits per character**")
    figure = loss_figure(lab.labels, lab.archs, t.loss_steps(), [h["step"] for h in t.history],
                         [h["val_loss"] for h in t.history])
    baseline = baseline_for(state, t)  # counts as much text as the networks have read
    if baseline is not None:
        add_markov_line(figure, baseline.label, *baseline.curve(t.step_count))
    live_plotly(figure, key="sq_loss")
    st.caption("Solid: the training batches (smoothed); dotted: held-out text. Below about 2 bits per character "
               "words start to form. When the dotted line turns up while the solid one goes down, the model is "
               "memorising its text rather than learning the language."
               + (" Dashed grey: a Markov chain that counted as many characters, scored on the same held-out "
                  "positions (its tab is below)." if baseline is not None else ""))

    st.markdown("**What each model writes** — refreshed as it trains")
    c = st.columns([2, 1, 1, 1])
    prompt = c[0].text_input("Prompt", key="sq_prompt", max_chars=200)
    temperature = c[1].slider("Temperature", 0.0, 2.0, step=0.1, key="sq_temperature",
                              help="0 always picks the most likely character; higher is more adventurous")
    top_k = c[2].slider("Top-k (0 = all)", 0, 20, key="sq_topk", help="Draw only from the k most likely characters")
    length = c[3].slider("Characters", 40, 400, step=20, key="sq_length")
    lab.set_sampling(prompt, temperature, top_k, length)
    if lab.prompt_unknown:
        st.warning("Not in this text's vocabulary, left out of the prompt: " + describe_chars(lab.prompt_unknown),
                   icon="🔡")
    cols = st.columns(min(2, len(lab.labels)))
    for i, label in enumerate(lab.labels):
        step, text = lab.samples.get(i, (0, ""))
        with cols[i % len(cols)]:
            st.markdown(f"**{label}** · step {step:,}")
            st.code(prompt + text, language=None, wrap_lines=True)  # plain text: nothing in it is interpreted

    st.markdown("**Gradient through time**: how much the last prediction depends on each earlier character")
    live_plotly(gradient_time_figure(lab.labels, lab.archs, lab.gtt), key="sq_gtt")
    st.caption(f"‖∂loss / ∂input‖ at step {lab.gtt_step:,}, averaged over held-out windows, against how many "
               "characters back the input is (log scale). A line falling steeply to the right is a model whose "
               "memory fades: a vanilla RNN's gradient shrinks with every step back, LSTM and GRU gates keep more "
               "of it, and attention reaches every earlier character directly.")
    for line in lab.forgetting_summary():
        st.markdown(line)
    lab.autosave(save_models)
    if lab.save_note or state.get("sq_save_problem"):
        st.caption(lab.save_note or state.sq_save_problem)


live_view()


def export_models(trainer: CharLMTrainer, fmt: str) -> str:
    """The notebook or script of the models as they are when the button is clicked (they may have trained on).
    Streamlit builds the file outside the page's run, where session_state cannot be read: `trainer` is held."""
    from engine.export import export  # the exporters are imported on a click, not on every run
    return export(trainer.config, fmt, trainer.step_count or EXPORT_STEPS)


with st.expander("Take it home: notebook, script, save and load"):
    st.caption("The notebook trains every model chosen side by side on the same batches, as here, and prints the "
               "numbers above for the same seed; Save keeps them all, to Load here later.")
    trained = lab.trainer
    take_home_row(trained.config, key="sequence", what="models", steps=trained.step_count or EXPORT_STEPS,
                  checkpoint=trained.checkpoint_bytes if trained.step_count else None, on_load=load_models,
                  make=lambda fmt: export_models(trained, fmt))


@st.fragment(run_every=INSPECT_SECONDS if lab.playing else None)
def inspect_view() -> None:
    lab: SequenceLab = state.sq_lab
    st.subheader("Look inside on a string you type")
    typed = st.text_input("Your string", key="sq_probe", max_chars=400,
                          help="Characters that are not in the text's vocabulary are left out")
    unknown = lab.trainer.corpus.encode(typed)[1]
    if unknown:
        st.warning("Not in this text's vocabulary, left out: " + describe_chars(unknown), icon="🔡")
    with st.container():
        tr = lab.transformer_indices()
        if not tr:
            st.info("Add the Transformer to the models to see its attention.")
        else:
            weights, used, _ = lab.trainer.attention(tr[0], typed)
            st.markdown(f"**Transformer attention** on the first {len(used)} characters (its context is "
                        f"{lab.trainer.config.context}), step {lab.trainer.step_count:,}")
            if used:
                live_plotly(attention_figure(weights, used), key="sq_attention")
                st.caption("Each row is a position predicting the next character, each column a character it "
                           "reads; grey above the diagonal is the causal mask — no position sees the future. "
                           "Untrained heads spread their attention evenly; as training goes on, some learn to "
                           "look at the previous character, others at the start of the word.")
            else:
                st.info("Type some characters that occur in the text.")
    with st.container():
        rec = lab.recurrent_indices()
        if not rec:
            st.info("Add an RNN, LSTM or GRU to the models to see a hidden state.")
        else:
            names = [lab.labels[i] for i in rec]
            if state.get("sq_hidden_model") not in names:
                state.sq_hidden_model = names[min(1, len(names) - 1)]
            pick = st.radio("Hidden state of", names, key="sq_hidden_model", horizontal=True)
            states, used, _ = lab.trainer.hidden_states(rec[names.index(pick)], typed, PROBE_LIMIT)
            st.markdown(f"**{pick} hidden units** over the first {len(used)} characters, step "
                        f"{lab.trainer.step_count:,}")
            if used:
                live_plotly(hidden_state_figure(states, used), key="sq_hidden")
                st.caption("Each row is one unit of the last layer's hidden state after reading each character "
                           "(orange −1, blue +1; with more than 32 units, the 32 that vary most along the string). After some training, "
                           "look for units that switch on at spaces, inside quotes or brackets, or along a URL.")
            else:
                st.info("Type some characters that occur in the text.")


# Only the open tab runs: the Markov chain's views cost nothing while the networks are inspected, and back.
views = st.tabs(list(VIEWS.values()), key="sq_view", on_change="rerun")
with views[0]:
    if views[0].open:
        inspect_view()
with views[1]:
    if views[1].open:
        markov_tab(lab)

with st.expander("How these models differ"):
    st.markdown(
        "All four turn each character into a vector (an embedding) and end with a layer that scores every "
        "character of the vocabulary as the next one; the loss is the cross-entropy of the true next character, "
        "in nats, or divided by ln 2, in bits. A **vanilla RNN** computes hₜ = tanh(W·hₜ₋₁ + U·xₜ): the "
        "gradient reaching a character k steps back is multiplied by k Jacobians of that map, and it shrinks "
        "(or explodes) geometrically. The **LSTM** (Hochreiter & Schmidhuber, 1997) adds a cell state updated by "
        "gates, a path along which the gradient can pass almost unchanged; the **GRU** (Cho et al., 2014) does "
        "the same with fewer gates. The **Transformer** (Vaswani et al., 2017) has no recurrence: causal "
        "self-attention lets every position read every earlier one in one step, with position embeddings to "
        "tell them apart, at a cost that grows with the square of the context.\n\n"
        f"Limits: pasted text {MIN_TEXT:,}–{MAX_TEXT:,} characters; up to {MAX_VOCAB} distinct characters; "
        "context 8–128 characters; the typed string's first "
        f"{PROBE_LIMIT} characters (the Transformer reads at most its context).")
