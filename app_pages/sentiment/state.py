"""The Sentiment lab's logic, free of Streamlit so it is unit-tested as plain Python: widget
values -> config, the run kept between reruns (Play/Pause/Step, a time-boxed tick), the
uploaded CSV, the tables the page shows (how a text becomes numbers, mistakes), and the page's
address."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import Param, flag, number, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from app_pages.common.session_store import MAX_SESSION_BYTES
from app_pages.common.text import md_escape
from app_pages.sentiment.ngrams import FILTER_CHOICES, widths_param
from engine import ConfigError
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.sentiment.config import SEQUENCE_REPRESENTATIONS
from engine.sentiment.data import MAX_TEXT_CHARS, MINILM_MAX_ROWS, TWEET_CLASSES_3, parse_labelled_csv, tokenize
from engine.sentiment.trainer import HOT_FIELDS, SentimentConfig, SentimentTrainer, structural_changes

TICK_SECONDS = 0.5           # the live view redraws twice a second when its frames fit in that
FRAME_TRAIN_SECONDS = 0.3    # at most this much training per frame; drawing the charts takes the rest
REPRESENTATIONS = {
    "tfidf": "TF-IDF (bag of words, weighted)",
    "bow": "Bag of words (counts)",
    "embedding_bag": "Learned embeddings, averaged (EmbeddingBag)",
    "transformer": "Small Transformer encoder",
    "textcnn": "Text CNN: convolutions over the words, max-pooled",
    "minilm": f"Frozen MiniLM sentence vectors ({MINILM_MAX_ROWS:,}-row sample)",
}
ROW_LIMITS = [1000, 2000, 5000, 10000, 20000, 0]   # 0 = all
VOCAB_SIZES = [500, 1000, 2000, 3000, 5000, 10000, 20000]
EMBED_DIMS = [16, 32, 64, 128]
MAX_TOKENS = [16, 24, 32, 40, 64, 128]
HEADS = [1, 2, 4, 8]
WIDTHS = [8, 16, 32, 64, 128, 256, 512]
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [8, 16, 32, 64, 128, 256, 512]
SHARES = [0.05, 0.1, 0.15, 0.2, 0.3]
L2_RATES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
MAX_LAYERS, MAX_DEPTH, MAX_EPOCHS, MAX_PATIENCE = 4, 4, 50, 10
MAX_DROPOUT, DROPOUT_STEP, CONFIDENCE_STEP = 0.8, 0.1, 0.05
METHODS = {"gradient": "gradient × input", "occlusion": "occlusion"}
PREDICTED = "predicted"      # the class explained: the one the network predicts
LOSS_NAMES = {"ce": "cross-entropy", "mse": "squared error (probabilities)", "hinge": "hinge (multi-class margin)"}
EXAMPLE_SENTENCE = "The flight was late again, but the crew were wonderful!"
SAVE_NAME = "sentiment"      # this page's entry in the session store (app_pages/common/saved_runs.py)


def long_text_note(text: str) -> str:
    """One line for the sentence box when the text is longer than the model reads; "" otherwise."""
    if len(text) <= MAX_TEXT_CHARS:
        return ""
    return f"Your text has {len(text):,} characters; only the first {MAX_TEXT_CHARS:,} are read."


def default_widgets() -> dict:
    """Widget key -> default value; the defaults train to about 75 % test accuracy (the
    majority class: 43 %) in about 15 s on one CPU thread."""
    return {"sn_source": "tweets", "sn_classes": 3, "sn_min_conf": 0.0, "sn_dedup": True, "sn_max_rows": 0,
            "sn_val": 0.1, "sn_test": 0.1, "sn_rep": "tfidf", "sn_vocab": 3000, "sn_embed": 64, "sn_max_tokens": 40,
            "sn_layers": 1, "sn_heads": 2, "sn_ngram_widths": [2, 3, 4], "sn_filters": 32, "sn_depth": 1,
            "sn_width": 64, "sn_activation": "relu", "sn_dropout": 0.2,
            "sn_loss": "ce", "sn_optimizer": "adam", "sn_lr": 0.003, "sn_batch": 64, "sn_epochs": 4,
            "sn_patience": 0, "sn_l2": 0.0, "sn_sentence": EXAMPLE_SENTENCE, "sn_method": "gradient",
            "sn_target": PREDICTED}


def config_from_widgets(state, seed: int, upload_rows: list | None = None) -> SentimentConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    upload = state["sn_source"] == "upload"
    return SentimentConfig.from_dict({
        "task": "sentiment",
        "data": {"source": state["sn_source"], "n_classes": int(state["sn_classes"]),
                 "min_confidence": float(state["sn_min_conf"]), "dedup": bool(state["sn_dedup"]),
                 "max_rows": int(state["sn_max_rows"]), "val_fraction": float(state["sn_val"]),
                 "test_fraction": float(state["sn_test"]), "rows": list(upload_rows or []) if upload else []},
        "model": {"representation": state["sn_rep"], "vocab_size": int(state["sn_vocab"]),
                  "embed_dim": int(state["sn_embed"]), "max_tokens": int(state["sn_max_tokens"]),
                  "layers": int(state["sn_layers"]), "heads": int(state["sn_heads"]),
                  "ngram_widths": sorted(int(w) for w in state["sn_ngram_widths"]),
                  "filters_per_width": int(state["sn_filters"]),
                  "hidden": [int(state["sn_width"])] * int(state["sn_depth"]), "activation": state["sn_activation"],
                  "dropout": float(state["sn_dropout"])},
        "train": {"loss": state["sn_loss"], "optimizer": state["sn_optimizer"], "lr": float(state["sn_lr"]),
                  "batch_size": int(state["sn_batch"]), "epochs": int(state["sn_epochs"]),
                  "early_stopping": int(state["sn_patience"]), "l2": float(state["sn_l2"]), "seed": int(seed)}})


def widgets_from_config(config: SentimentConfig) -> dict:
    """The widget values (and the uploaded rows) that describe `config`, the seed aside; with no
    hidden layer the width widget keeps its value."""
    d, m, t = config.data, config.model, config.train
    w = {"sn_source": d.source, "sn_classes": d.n_classes, "sn_min_conf": d.min_confidence, "sn_dedup": d.dedup,
         "sn_max_rows": d.max_rows, "sn_val": d.val_fraction, "sn_test": d.test_fraction, "sn_rep": m.representation,
         "sn_vocab": m.vocab_size, "sn_embed": m.embed_dim, "sn_max_tokens": m.max_tokens, "sn_layers": m.layers,
         "sn_heads": m.heads, "sn_ngram_widths": list(m.ngram_widths), "sn_filters": m.filters_per_width,
         "sn_depth": len(m.hidden), "sn_activation": m.activation, "sn_dropout": m.dropout,
         "sn_loss": t.loss, "sn_optimizer": t.optimizer, "sn_lr": t.lr, "sn_batch": t.batch_size,
         "sn_epochs": t.epochs, "sn_patience": t.early_stopping, "sn_l2": t.l2}
    if d.source == "upload":
        w["sn_upload_rows"] = [list(r) for r in d.rows]
    if m.hidden:
        w["sn_width"] = m.hidden[0]
    return w


def hot_config(running: SentimentConfig, wanted: SentimentConfig) -> SentimentConfig:
    """`running` with the hot settings of `wanted` (learning rate, momentum, L2, epochs, patience)."""
    sections: dict[str, dict] = {}
    for section, k in HOT_FIELDS:
        sections.setdefault(section, {})[k] = getattr(getattr(wanted, section), k)
    return running.replace(**sections)


def read_upload(data: bytes) -> tuple[list[list[str]] | None, str, list[str]]:
    """(rows, error, notes) of an uploaded CSV: rows is None and error says what to fix when
    the file cannot be used. The error and the notes are plain text that can quote the file:
    show them through md_escape."""
    try:
        rows, notes = parse_labelled_csv(data)
    except ValueError as e:
        return None, f"This file cannot be used: {e}", []
    return rows, "", [n[0].upper() + n[1:] for n in notes]


# ---------------- the address ----------------
# The page's address holds its setup under short names (see app_pages/common/address.py): only what
# differs from the defaults, and the seed. An uploaded CSV cannot be in it (data=csv opens the upload
# box, with the other settings), and a typed sentence goes in only while it is short: the page says
# when either is left out.
MAX_ADDRESS_TEXT = 500
SOURCES = {"tweets": "tweets", "csv": "upload"}   # address word -> the Texts radio's value
ROW_WORDS = {"all" if n == 0 else str(n): n for n in ROW_LIMITS}


def _short_text(text: str) -> str:
    if len(text) > MAX_ADDRESS_TEXT:
        raise ValueError(f"a text of at most {MAX_ADDRESS_TEXT} characters")
    return text


URL_PARAMS = [
    one_of("data", "sn_source", SOURCES), one_of("classes", "sn_classes", [3, 2], int),
    number("min_conf", "sn_min_conf", 0.0, 1.0, CONFIDENCE_STEP), flag("dedup", "sn_dedup"),
    one_of("rows", "sn_max_rows", ROW_WORDS), one_of("val", "sn_val", SHARES, float),
    one_of("test", "sn_test", SHARES, float), one_of("representation", "sn_rep", list(REPRESENTATIONS)),
    one_of("vocab", "sn_vocab", VOCAB_SIZES, int), one_of("embedding", "sn_embed", EMBED_DIMS, int),
    one_of("tokens", "sn_max_tokens", MAX_TOKENS, int), whole_number("layers", "sn_layers", 1, MAX_LAYERS),
    one_of("heads", "sn_heads", HEADS, int), widths_param("ngrams", "sn_ngram_widths"),
    one_of("filters", "sn_filters", FILTER_CHOICES, int), whole_number("depth", "sn_depth", 0, MAX_DEPTH),
    one_of("width", "sn_width", WIDTHS, int), one_of("activation", "sn_activation", list(ACTIVATIONS)),
    number("dropout", "sn_dropout", 0.0, MAX_DROPOUT, DROPOUT_STEP), one_of("loss", "sn_loss", list(LOSS_NAMES)),
    one_of("optimizer", "sn_optimizer", list(OPTIMIZERS)), one_of("lr", "sn_lr", LEARNING_RATES, float),
    one_of("batch", "sn_batch", BATCH_SIZES, int), whole_number("epochs", "sn_epochs", 1, MAX_EPOCHS),
    whole_number("patience", "sn_patience", 0, MAX_PATIENCE), one_of("l2", "sn_l2", L2_RATES, float),
    Param("text", "sn_sentence", _short_text, str, strip=False), one_of("method", "sn_method", list(METHODS)),
    one_of("explain", "sn_target", [PREDICTED, *TWEET_CLASSES_3])]


def sentence_in_address(values) -> bool:
    """Whether the address holds the typed sentence: only a short one."""
    return len(values.get("sn_sentence") or "") <= MAX_ADDRESS_TEXT


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the
    seed. A class of your CSV to explain is left out: the address holds no CSV."""
    defaults = default_widgets()
    current = {p.key: values[p.key] for p in URL_PARAMS if p.key in values}
    if not sentence_in_address(current):
        current["sn_sentence"] = defaults["sn_sentence"]  # left out: the page says so
    if current.get("sn_target", PREDICTED) not in (PREDICTED, *TWEET_CLASSES_3):
        current["sn_target"] = PREDICTED
    return address.widgets_to_query(URL_PARAMS, current, defaults, seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used, a
    class to explain that two classes do not have included."""
    values, problems = address.widgets_from_query(URL_PARAMS, query)
    classes = values.get("sn_classes", default_widgets()["sn_classes"])
    if classes == 2 and values.get("sn_target") == "neutral":
        values.pop("sn_target")
        problems.append(f"explain={query['explain']!r} was ignored: with 2 classes there is no neutral class")
    return values, problems


def restored_widgets(config: SentimentConfig, query: dict) -> dict | None:
    """The widget values (and uploaded rows) that show a restored model, or None where it must not
    be restored: the address (`query`, name -> text) describes another setup (a shared link wins
    over the saved run), or the widgets cannot show the model. An empty address, or the one the
    page wrote for this very setup (a reload), restores; the sentence and the explanation the
    address asks for are kept. An upload's address says data=csv: its rows are the saved ones."""
    values = {**default_widgets(), **widgets_from_query(query)[0], **widgets_from_config(config)}
    own = widgets_to_query(values, config.train.seed)
    if (config_from_widgets(values, config.train.seed, values.get("sn_upload_rows")) != config
            or widgets_from_query(own)[1]):
        return None  # settings that no widget offers (only a file not written by this page has them)
    return values if not query or dict(query) == own else None


@dataclass
class SentimentLab:
    """What the page keeps between reruns: the trainer, whether it plays, the last message."""
    trainer: SentimentTrainer
    playing: bool = False
    message: str = ""
    texts_per_second: float = 0.0
    save_note: str = ""           # why the run is not saved, when it is too large to keep
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=FRAME_TRAIN_SECONDS),
                             repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: SentimentConfig, device="cpu") -> "SentimentLab":
        return cls(SentimentTrainer(config, device))

    def tick(self, budget_s: float | None = None) -> None:
        """One frame of the live view: train for about budget_s (what the pacer leaves of the frame
        unless given) when playing."""
        if not self.playing:
            return
        t = self.trainer
        budget = self.pace.training_budget() if budget_s is None else budget_s
        before, start = t.step_count, time.perf_counter()
        if not train_guarded(self, lambda: t.train_for(budget)):
            self.pace.stop()  # paused by the failure: no longer a share of the server
            return
        elapsed = time.perf_counter() - start
        if elapsed > 0 and t.step_count > before:
            self.texts_per_second = (t.step_count - before) * t.config.train.batch_size / elapsed
        self._check_stop()

    def _check_stop(self) -> None:
        t = self.trainer
        if t.diverged:
            self.playing = False
            self.message = ("The loss became NaN or infinite, so training paused and kept the last finite weights "
                            "and curves. Lower the learning rate (a new one lets training go on) or use Adam.")
        elif t.stopped_early:
            self.playing = False
            best = min(t.history, key=lambda h: h["val_loss"])
            self.message = (f"Early stopping: the validation loss has not improved for {t.config.train.early_stopping} "
                            f"checks, so training stopped and went back to the best weights (epoch {best['epoch']:.2f}).")
        elif t.finished:
            self.playing = False
            self.message = f"Done: {t.config.train.epochs} epoch(s). Raise *Epochs* and press Play to train on."
        else:
            self.message = ""
        if not self.playing:
            self.pace.stop()

    def play(self) -> None:
        if self.trainer.finished or self.trainer.diverged:
            self._check_stop()
            return
        self.playing = True
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint when one is due (common/autosave.py); True if it saved.
        A network too large for a session's room in the store is not written at all: the store
        would refuse it, after the work of writing it every few seconds."""
        size = self.trainer.approximate_checkpoint_bytes()
        if size > MAX_SESSION_BYTES:
            self.save_note = (f"This network is too large to keep for a reload (about {size / 2**20:,.0f} MB; a "
                              f"browser's saved runs may take {MAX_SESSION_BYTES / 2**20:,.0f} MB): it is not saved. "
                              "A smaller vocabulary or narrower layers are.")
            return False
        self.save_note = ""
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def step(self) -> None:
        """Train to the next validation check (a fraction of an epoch set by the checks per epoch)."""
        t = self.trainer
        spe = t.steps_per_epoch
        r = t.step_count % spe
        marks = sorted(t._check_marks)
        nxt = next((m for m in marks if m > r), spe + marks[0])
        if train_guarded(self, lambda: t.step(nxt - r)):
            self._check_stop()

    @property
    def has_trained(self) -> bool:
        return self.trainer.step_count >= 1

    def changes(self, config: SentimentConfig) -> list[str]:
        """The settings that differ from the running model's and need a new one."""
        return structural_changes(self.trainer.config, config)

    def apply_hot(self, config: SentimentConfig) -> None:
        """Only the hot settings of `config` reach the running model; its structure stays (the
        page asks before a structural change replaces it)."""
        try:
            hot = hot_config(self.trainer.config, config)
        except ConfigError:
            return
        self.apply(hot)

    def apply(self, config: SentimentConfig) -> bool:
        """Hot changes go to the running trainer; False when the change needs a new run."""
        if structural_changes(self.trainer.config, config):
            return False
        if self.trainer.config != config:
            self.trainer.apply(config)
            self._check_stop() if not self.playing else None
            if self.message.startswith("Done") and not self.trainer.finished:
                self.message = ""
        return True


def encoding_table(trainer: SentimentTrainer, text: str, limit: int = 12) -> tuple[list[dict], str]:
    """How `text` becomes the model's input, as table rows, and one sentence about it."""
    rep = trainer.config.model.representation
    d = trainer.data
    tokens = tokenize(text)
    if rep in ("bow", "tfidf"):
        batch = trainer.encode([tokens])
        values = dict(zip(batch["indices"].tolist(), batch["weights"].tolist()))
        rows = []
        for t in dict.fromkeys(tokens):
            j = d.index.get(t)
            row = {"word": t, "column": j, "count": tokens.count(t)}  # column None: not in the vocabulary
            if rep == "tfidf":
                row["idf"] = round(float(d.idf[j]), 3) if j is not None else None
            row["value"] = round(values.get(j, 0.0), 4) if j is not None else 0.0
            rows.append(row)
        what = ("a vector of counts" if rep == "bow" else "counts × idf (rare words weigh more), scaled to length 1")
        return rows[:limit], (f"The text becomes {what} with {len(d.vocab):,} columns, one per vocabulary word; "
                              f"all but {len(values)} are zero. A word without a column is not in the vocabulary.")
    if rep in SEQUENCE_REPRESENTATIONS:
        ids = trainer.encode([tokens])["ids"][0].tolist()
        rows = [{"position": i, "word": t, "id": ids[i] if i < len(ids) else None,  # None: beyond the window
                 "known": t in d.index} for i, t in enumerate(tokens)]
        m = trainer.config.model
        how = {"embedding_bag": "averaged into one vector, and the classifier reads that",
               "transformer": "mixed by self-attention with their positions, then averaged, and the classifier "
                              "reads that",
               "textcnn": f"read {' / '.join(map(str, m.ngram_widths))} at a time by {m.filters_per_width} filters "
                          "per width, each filter keeps its largest response in the text, and one linear layer "
                          "reads those"}[rep]
        return rows[:limit], (f"Each word becomes an id (unknown words share id 1), each id a learned vector of "
                              f"{m.embed_dim} numbers; the vectors are {how}.")
    return [], ("MiniLM (6 layers, pretrained, frozen) reads the text and its 384-number output, averaged over the "
                "tokens, is the classifier's input; only the classifier learns.")


def numbers_in_words(trainer: SentimentTrainer) -> str:
    """One sentence about overfitting, from the curves on screen."""
    h = trainer.history
    if len(h) < 3:
        return "Press **Play**: the curves start at chance level and fall as the network learns."
    best = min(range(len(h)), key=lambda i: h[i]["val_loss"])
    gap = h[-1]["train_accuracy"] - h[-1]["val_accuracy"]
    if (best <= len(h) - 3 and h[-1]["val_loss"] > h[best]["val_loss"] * 1.005
            and h[-1]["train_loss"] < h[best]["train_loss"]):
        return (f"**Overfitting**: the validation loss was lowest at epoch {h[best]['epoch']:.2f} "
                f"({h[best]['val_loss']:.3f}) and has risen to {h[-1]['val_loss']:.3f} while the training loss keeps "
                f"falling; the training accuracy is {gap:.0%} above the validation accuracy. More dropout, L2, a "
                "smaller network or early stopping help.")
    return (f"The validation loss is still falling (best {h[best]['val_loss']:.3f}); training accuracy is "
            f"{gap:+.0%} against validation.")


def misclassified_rows(trainer: SentimentTrainer, limit: int = 30) -> list[dict]:
    return [{"text": r["text"], "label": r["label"], "predicted": r["predicted"],
             "confidence": round(r["confidence"], 3)} for r in trainer.misclassified(limit)]


def explanation_sentence(e: dict, class_names: list[str], linear: bool) -> str:
    """What the attribution numbers add up to (Markdown; the class name escaped)."""
    target = md_escape(class_names[e["target"]])
    total = float(np.nansum([s for s in e["scores"] if s is not None]))
    if e["method"] == "gradient":
        text = (f"Gradient × input: each word's part of z({target}) − mean of the other logits = **{e['score']:.3f}**. "
                f"The parts add up to {total:.3f}; the empty text scores {e['empty_score']:.3f}")
        if linear:
            text += (f", and {total:.3f} + {e['empty_score']:.3f} = {total + e['empty_score']:.3f}: exact, because "
                     "this classifier is linear in the word features.")
        else:
            text += (". With hidden layers or embeddings the parts are a first-order estimate and need not add up "
                     "exactly.")
        return text
    return (f"Occlusion: how much z({target}) − mean of the other logits (**{e['score']:.3f}**) drops when that word is "
            "removed from the text.")
