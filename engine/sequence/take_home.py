"""Take the Sequence models home: a charlm or markov config -> the pieces of a notebook (or script).

charlm: the notebook trains every model of the config side by side on the same batches, as the
page does (one notebook for the page's comparison, not one per model: the batches are shared, so
the curves are comparable only when trained together). markov: the n-gram chain counts its text
chunk by chunk, as its trainer does. Both carry their text inside as a string (the app's corpora
are files of this project), use the engine's own vocabulary, split, models and scoring (inlined
with source_of), and print the numbers their trainer's snapshots report, checked in
tests/test_take_home_sequence.py.
"""
from __future__ import annotations

import json

from ..core.registries import make_optimizer
from ..core.take_home import CURVE_POINTS, SHOW_SOURCE, check_steps, code, config_json_lines, markdown, source_of
from .config import CharLMConfig
from .markov import _CountTable, fixed_windows
from .markov_config import MarkovConfig
from .models import (Block, CausalSelfAttention, Corpus, RecurrentLM, TransformerLM, build_char_model, generate,
                     pick_next, sinusoidal_positions, split_blocks)
from .trainer import corpus_text

TEXT_LINE = 100           # characters of the text per line of the TEXT literal
PROMPT, SAMPLE_CHARS = "The ", 160  # the page's default prompt and length
ARCH_COLORS = {"rnn": "#d62728", "lstm": "#0877bd", "gru": "#2ca02c", "transformer": "#f59322"}  # the page's
CORPUS_WORDS = {"guides": "this app's page guides", "readme": "this app's README",
                "tweets": "the sentiment lab's tweets, one a line", "text": "your pasted text"}


def text_literal(text: str) -> str:
    """TEXT = (...): the text as adjacent string literals, one line of it (at most TEXT_LINE characters) each."""
    parts = []
    for line in text.splitlines(keepends=True):
        parts += [line[i:i + TEXT_LINE] for i in range(0, len(line), TEXT_LINE)]
    return "TEXT = (\n" + "".join(f"    {p!r}\n" for p in parts) + ")"


def _shared_head(config, steps: int, every: int, constants: list[str]) -> list:
    return [
        code("setup",
             "from __future__ import annotations  # the app's functions below name its types in their signatures",
             "",
             "import json",
             "import math",
             "from collections import Counter",
             "from dataclasses import dataclass",
             "",
             "import numpy as np",
             "import torch",
             "import torch.nn.functional as F",
             "from torch import nn",
             "",
             f"SEED = {config.seed}",
             f"STEPS = {steps}",
             f"EVERY = {every}  # report every EVERY steps",
             f"CONTEXT = {config.context}  # characters per window: the held-out blocks and positions depend on it",
             f"VAL_FRACTION = {config.val_fraction!r}  # share of the text held out",
             *constants,
             "MAX_VOCAB = 256          # distinct characters kept; rarer ones become REPLACEMENT",
             'REPLACEMENT = "\\ufffd"  # "�"',
             "VAL_WINDOWS = 32         # fixed held-out windows the score is measured on",
             "", "", SHOW_SOURCE),
        markdown("text-intro", "## 1. The text", "",
                 f"The text is {CORPUS_WORDS[config.corpus]}"
                 + (f", cut to at most {config.corpus_chars:,} characters" if config.corpus != "text" else "")
                 + ": here it is, as the page reads it, so the notebook needs no file."),
        code("text", text_literal(corpus_text(config))),
        markdown("vocabulary-text", "## 2. Characters as numbers, and the held-out text", "",
                 "Each distinct character gets an id (sorted order; beyond 256 distinct characters the rarest "
                 "become �). The text is cut into blocks of max(256, 4 × context) characters and every k-th "
                 "block (k = 1 / held-out fraction) is held out, so the held-out text comes from all over the "
                 "text. The score is measured on 32 fixed windows of it, evenly spread."),
        code("vocabulary", "\n\n\n".join([source_of(Corpus, split_blocks), source_of(fixed_windows)])),
    ]


# ---------------------------------------------------------------- charlm
def charlm_pieces(config: CharLMConfig, steps: int) -> list:
    if not isinstance(config, CharLMConfig):
        raise ValueError(f"the character-model exporter takes a CharLMConfig, not {type(config).__name__}")
    check_steps(steps)
    if config.max_steps:
        steps = min(steps, config.max_steps)
    every = max(1, steps // CURVE_POINTS)
    labels = config.labels()
    models = [{"label": label, **{k: v for k, v in m.__dict__.items() if k != "label"}}
              for label, m in zip(labels, config.models)]
    names = ", ".join(f"{label} ({m.hidden} wide, {m.layers} layer{'s' if m.layers > 1 else ''})"
                      for label, m in zip(labels, config.models))
    return [
        markdown("intro", "# Character-level language models", "",
                 f"This notebook trains the Sequence page's models, {names}, side by side on the same batches "
                 f"of the same text, in plain PyTorch, for {steps:,} steps. Each learns to predict the next "
                 "character from the ones before it. It prints the numbers the page shows for the same seed "
                 "(training and held-out loss of each model), draws the curves in bits per character and "
                 "prints what each model writes.",
                 "",
                 "It needs `torch`, `numpy` and `plotly`. The config it came from (`python -m engine train` and "
                 "`python -m engine export` read it):", "", "```json", *config_json_lines(config), "```"),
        *_shared_head(config, steps, every, [
            f"BATCH_SIZE = {config.batch_size}  # windows per step, the same batches for every model",
            f"CLIP_GRAD_NORM = {config.clip_grad_norm!r}  # each model's gradient rescaled to at most this; 0 = off",
            "# The models, trained side by side (change one, add one: each is built from its settings).",
            "MODELS = [",
            *[f"    {json.dumps(m)}," for m in models],
            "]",
            f"PROMPT, SAMPLE_CHARS, TEMPERATURE = {PROMPT!r}, {SAMPLE_CHARS}, 0.8  # the page's sampling defaults",
        ]),
        markdown("models-text", "## 3. The models", "",
                 "The app's own model code. A recurrent model (RNN, LSTM, GRU) embeds each character, reads "
                 "them one at a time carrying a hidden state forward, and scores every character of the "
                 "vocabulary as the next one at each position. The Transformer (nanoGPT's design at toy size) "
                 "lets every position attend to every earlier one through causal self-attention, with position "
                 "embeddings to tell them apart. `generate` writes text one character at a time."),
        code("models", "\n\n\n".join([
            'ARCHITECTURES = ("rnn", "lstm", "gru", "transformer")\nRECURRENT = ("rnn", "lstm", "gru")',
            source_of(RecurrentLM, CausalSelfAttention, Block, sinusoidal_positions, TransformerLM,
                      build_char_model, pick_next, generate, make_optimizer)])),
        markdown("loop-text", "## 4. The training loop", "",
                 f"Each model starts from its own seed (SEED × 1000 + 1 + its index), so adding a model leaves "
                 f"the others' weights alone. Each step draws {config.batch_size} random windows of "
                 f"{config.context} + 1 characters of the training text (from a generator seeded with SEED + 2), "
                 "and every model takes one optimiser step on the same windows: the cross-entropy of each next "
                 "character, in nats"
                 + (f", the gradient clipped to norm {config.clip_grad_norm!r}" if config.clip_grad_norm else "")
                 + ". Every `every` steps `train` prints one JSON line: the mean training loss of the steps since "
                 "the last line and the held-out loss, one value per model in the order of MODELS (bits per "
                 "character = loss / ln 2)."),
        code("loop", _charlm_loop()),
        markdown("train-text", "## 5. Train", "",
                 f"The next cell trains for {steps:,} steps and prints a line every {every}: the numbers the page "
                 "shows for the same config and seed."),
        code("train", "history, models, corpus, train_data = train(STEPS, EVERY)"),
        markdown("plot-text", "### What the plot shows", "",
                 "The loss of every model in bits per character: solid lines the training batches, dotted the "
                 f"held-out text. A model that has learnt nothing scores log₂ of the vocabulary size (one guess "
                 "among all the characters); below about 2 bits words start to form. A dotted line that turns up "
                 "while the solid one still falls is a model memorising its text. Below the plot, what each "
                 f"model writes after {PROMPT!r}."),
        code("plot", _charlm_plot()),
    ]


def _charlm_loop() -> str:
    return "\n".join([
        "def validation_losses(models, windows):",
        '    """Each model\'s cross-entropy on the fixed held-out windows (W, T + 1), dropout off."""',
        "    out = []",
        "    with torch.no_grad():",
        "        for model in models:",
        "            model.eval()",
        "            logits = model(windows[:, :-1])  # (W, T, V)",
        "            model.train()",
        "            out.append(float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), windows[:, 1:].reshape(-1))))",
        "    return out",
        "",
        "",
        "def train(steps=STEPS, every=EVERY):",
        "    corpus = Corpus.from_text(TEXT)",
        "    data = torch.tensor(corpus.encode(corpus.text)[0], dtype=torch.long)",
        "    train_data, val_data = split_blocks(data, VAL_FRACTION, CONTEXT)",
        "    V, T, B = len(corpus.chars), CONTEXT, BATCH_SIZE",
        "    models, optimizers = [], []",
        "    for i, m in enumerate(MODELS):",
        "        torch.manual_seed(SEED * 1000 + 1 + i)  # each model its own reproducible init",
        '        model = build_char_model(m["arch"], V, m["hidden"], m["layers"], m["dropout"], T, m["heads"],',
        '                                 m["positions"])',
        "        models.append(model)",
        '        optimizers.append(make_optimizer(m["optimizer"], model.parameters(), m["lr"], 0.0))',
        "    batch_gen = torch.Generator().manual_seed(SEED + 2)  # the windows of every step",
        "    torch.manual_seed(SEED + 3)  # dropout's draws",
        "    val_windows = fixed_windows(val_data if val_data is not None else train_data, T)",
        "    diverged = [False] * len(models)",
        "    since_report = [[] for _ in models]",
        "    history = []",
        "    for step in range(1, steps + 1):",
        "        starts = torch.randint(0, len(train_data) - T, (B,), generator=batch_gen)",
        "        window = train_data[starts[:, None] + torch.arange(T + 1)]  # (B, T + 1)",
        "        x, y = window[:, :-1], window[:, 1:]                        # inputs, next characters",
        "        for i, (model, opt) in enumerate(zip(models, optimizers)):",
        "            if diverged[i]:",
        "                continue",
        "            logits = model(x)  # (B, T, V)",
        "            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))",
        "            if not torch.isfinite(loss):",
        "                diverged[i] = True  # this model stops; the others go on",
        "                continue",
        "            opt.zero_grad(set_to_none=True)",
        "            loss.backward()",
        "            if CLIP_GRAD_NORM > 0:",
        "                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD_NORM)",
        "            opt.step()",
        "            since_report[i].append(loss.item())",
        "        if step % every and step != steps:",
        "            continue",
        "        val = [v if math.isfinite(v) else None for v in validation_losses(models, val_windows)]",
        '        report = {"step": step, "passes": step * B * T / len(train_data), "vocab_size": V,',
        '                  "train_loss": [float(np.mean(s)) if s else None for s in since_report],',
        '                  "val_loss": val, "bits_per_char": [v / math.log(2) if v is not None else None for v in val]}',
        "        since_report = [[] for _ in models]",
        "        history.append(report)",
        "        print(json.dumps(report), flush=True)",
        "    return history, models, corpus, train_data",
    ])


def _charlm_plot() -> str:
    return "\n".join([
        "import plotly.graph_objects as go",
        "",
        f"COLORS = {ARCH_COLORS!r}",
        'steps = [h["step"] for h in history]',
        "fig = go.Figure()",
        "for i, m in enumerate(MODELS):",
        '    color = COLORS[m["arch"]]',
        '    for key, dash, what in (("train_loss", "solid", "training"), ("val_loss", "dot", "held out")):',
        "        fig.add_scatter(x=steps, y=[h[key][i] / math.log(2) if h[key][i] is not None else None for h in history],",
        '                        name=f"{m[\'label\']}, {what}", line={"color": color, "width": 2, "dash": dash})',
        'fig.update_layout(xaxis_title="step", yaxis_title="bits per character", template="plotly_white", height=420,',
        '                  legend={"orientation": "h", "y": 1.15})',
        'show(fig, "charlm_loss")',
        "",
        "prompt, _ = corpus.encode(PROMPT)",
        "for i, (m, model) in enumerate(zip(MODELS, models)):",
        "    ids = prompt or [int(train_data[0])]",
        "    text = corpus.decode(generate(model, ids, SAMPLE_CHARS, TEMPERATURE, 0,",
        "                                  torch.Generator().manual_seed(SEED + 7 + i), CONTEXT))",
        '    print(f"--- {m[\'label\']} writes:\\n{corpus.decode(ids)}{text}\\n")',
    ])


# ---------------------------------------------------------------- markov
def markov_pieces(config: MarkovConfig, steps: int) -> list:
    if not isinstance(config, MarkovConfig):
        raise ValueError(f"the Markov chain exporter takes a MarkovConfig, not {type(config).__name__}")
    check_steps(steps)
    if config.max_steps:
        steps = min(steps, config.max_steps)
    every = max(1, steps // CURVE_POINTS)
    n, k = config.order, config.smoothing
    return [
        markdown("intro", f"# A character Markov chain of order {n}", "",
                 f"This notebook builds the Sequence page's baseline: a chain that predicts the next character "
                 f"from the {n} before it, by counting. It reads its text {config.chunk_chars:,} characters a "
                 f"step for up to {steps:,} steps (or until the training text is read), prints the held-out and "
                 "training bits per character the page shows as it goes, draws how they fall as more text "
                 "is counted, and prints what the chain writes.",
                 "",
                 "It needs `torch`, `numpy` and `plotly`. The config it came from (`python -m engine train` and "
                 "`python -m engine export` read it):", "", "```json",
                 *config_json_lines(config), "```"),
        *_shared_head(config, steps, every, [
            f"ORDER = {n}  # characters of context",
            f"SMOOTHING = {k!r}  # add-k: p = (N(context, c) + k) / (N(context) + k·V)",
            f"CHUNK_CHARS = {config.chunk_chars}  # training characters counted per step",
            f"MAX_STEPS = {config.max_steps}  # 0: until the training text is read",
            f"PROMPT, SAMPLE_CHARS, TEMPERATURE = {PROMPT!r}, {SAMPLE_CHARS}, 0.5  # the page's sampling defaults",
        ]),
        markdown("chain-text", "## 3. Counting and scoring", "",
                 "p(c | s) = (N(s, c) + k) / (N(s) + k·V): N(s, c) counts how often the context s was followed by "
                 "c in the text read so far, V is the number of distinct characters, k keeps every probability "
                 "above zero (an unseen context gives 1/V to every character). Counts are kept as sorted keys "
                 "(context id · V + next id) with their counts; a context id holds the most recent character in "
                 "its lowest digit, base V. A window's first positions have fewer characters before them, so "
                 "they use the lower orders' tables, counted alongside: the chain is scored on exactly the "
                 "positions the networks' held-out loss is measured on."),
        code("chain", source_of(_CountTable).replace("_CountTable", "CountTable") + "\n\n\n" + _chain_code()),
        markdown("loop-text", "## 4. Reading the text", "",
                 "Each step counts the next chunk of the training text, then `train` scores the chain on the "
                 "held-out windows and on windows of the training text and prints one JSON line. The held-out "
                 "bits fall as more text is counted; the training bits fall further, because the chain has seen "
                 "those very contexts."),
        code("loop", _markov_loop()),
        markdown("train-text", "## 5. Count", "", "The next cell counts and prints a line per report."),
        code("train", "history, chain, corpus, train_data = train(STEPS, EVERY)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Bits per character against characters counted: held out (orange) and training text (blue, "
                 "dotted). log₂ V is knowing nothing. A long context is mostly seen once, so at high orders the "
                 "training bits keep falling while the held-out ones stall or rise: memorising, the same gap "
                 "the networks' curves open. Below the plot, what the chain writes."),
        code("plot", _markov_plot()),
    ]


def _chain_code() -> str:
    return "\n".join([
        "class MarkovChain:",
        '    """Counts of every order 1..ORDER; order j scores window position j (the engine\'s MarkovTrainer)."""',
        "",
        "    def __init__(self, train_data, vocab_size):",
        "        self.train_data, self.V = train_data, vocab_size",
        '        self.pairs = [CountTable(torch.device("cpu")) for _ in range(ORDER)]',
        '        self.contexts = [CountTable(torch.device("cpu")) for _ in range(ORDER)]',
        "        self.seen = 0",
        "",
        "    def context_ids(self, text, positions):",
        '        """For each order j, the id of the j characters before each position."""',
        "        ids, ctx = [], torch.zeros_like(positions)",
        "        for j in range(1, ORDER + 1):",
        "            ctx = ctx + text[(positions - j).clamp(min=0)] * self.V ** (j - 1)",
        "            ids.append(ctx)",
        "        return ids",
        "",
        "    def read(self, n_chars):",
        "        lo, hi = self.seen, min(len(self.train_data), self.seen + n_chars)",
        "        positions = torch.arange(max(lo, 1), hi)  # the characters predicted",
        "        if len(positions):",
        "            following = self.train_data[positions]",
        "            for j, ctx in enumerate(self.context_ids(self.train_data, positions), start=1):",
        "                keep = positions >= j  # a full j-character context exists",
        "                self.pairs[j - 1].add(ctx[keep] * self.V + following[keep])",
        "                self.contexts[j - 1].add(ctx[keep])",
        "        self.seen = hi",
        "",
        "    def bits_per_char(self, windows):",
        '        """-mean log2 p of each window\'s characters 1..T, each from at most ORDER characters before it."""',
        "        W, T1 = windows.shape",
        "        flat = windows.reshape(-1)",
        "        t = torch.arange(1, T1)",
        "        positions = (torch.arange(W)[:, None] * T1 + t).reshape(-1)",
        "        ids = self.context_ids(flat, positions)",
        "        used = torch.clamp(t, max=ORDER).repeat(W)  # the order each position uses",
        "        pair_counts, ctx_counts = torch.zeros_like(positions), torch.zeros_like(positions)",
        "        following = flat[positions]",
        "        for j in range(1, ORDER + 1):",
        "            here = used == j",
        "            pair_counts = torch.where(here, self.pairs[j - 1].lookup(ids[j - 1] * self.V + following), pair_counts)",
        "            ctx_counts = torch.where(here, self.contexts[j - 1].lookup(ids[j - 1]), ctx_counts)",
        "        p = (pair_counts.double() + SMOOTHING) / (ctx_counts.double() + SMOOTHING * self.V)",
        "        return float(-torch.log2(p).mean())",
        "",
        "    def next_probabilities(self, ids):",
        "        if not ids:",
        "            return torch.full((self.V,), 1.0 / self.V, dtype=torch.float64)",
        "        ctx = sum(c * self.V ** i for i, c in enumerate(reversed(ids)))  # the most recent character lowest",
        "        counts = self.pairs[len(ids) - 1].lookup(ctx * self.V + torch.arange(self.V)).double()",
        "        return (counts + SMOOTHING) / (counts.sum() + SMOOTHING * self.V)",
        "",
        "    def sample(self, ids, length, temperature, gen):",
        "        out = []",
        "        for _ in range(length):",
        "            p = self.next_probabilities((ids + out)[-ORDER:])",
        "            if temperature < 1e-6:",
        "                out.append(int(torch.argmax(p)))",
        "            else:",
        "                logits = torch.log(p) / temperature",
        "                out.append(int(torch.multinomial(torch.softmax(logits - logits.max(), 0), 1, generator=gen)))",
        "        return out",
    ])


def _markov_loop() -> str:
    return "\n".join([
        "def train(steps=STEPS, every=EVERY):",
        "    corpus = Corpus.from_text(TEXT)",
        "    data = torch.tensor(corpus.encode(corpus.text)[0], dtype=torch.long)",
        "    train_data, val_data = split_blocks(data, VAL_FRACTION, CONTEXT)",
        "    val_windows = fixed_windows(val_data if val_data is not None else train_data, CONTEXT)",
        "    train_windows = fixed_windows(train_data, CONTEXT)",
        "    chain = MarkovChain(train_data, len(corpus.chars))",
        "    history = []",
        "    for step in range(1, steps + 1):",
        "        chain.read(CHUNK_CHARS)",
        "        finished = chain.seen >= len(train_data) or 0 < MAX_STEPS <= step",
        "        if step % every and step != steps and not finished:",
        "            continue",
        '        report = {"step": step, "train_chars_seen": chain.seen, "train_chars": len(train_data),',
        '                  "test_bits_per_char": chain.bits_per_char(val_windows),',
        '                  "train_bits_per_char": chain.bits_per_char(train_windows),',
        '                  "contexts": len(chain.contexts[-1].keys), "table_entries": len(chain.pairs[-1].keys),',
        '                  "finished": finished}',
        "        history.append(report)",
        "        print(json.dumps(report), flush=True)",
        "        if finished:",
        "            break",
        "    return history, chain, corpus, train_data",
    ])


def _markov_plot() -> str:
    return "\n".join([
        "import plotly.graph_objects as go",
        "",
        'seen = [h["train_chars_seen"] for h in history]',
        "fig = go.Figure()",
        'fig.add_scatter(x=seen, y=[h["test_bits_per_char"] for h in history], name="held out",',
        '                line={"color": "#f59322", "width": 2})',
        'fig.add_scatter(x=seen, y=[h["train_bits_per_char"] for h in history], name="training text",',
        '                line={"color": "#0877bd", "width": 2, "dash": "dot"})',
        'fig.update_layout(xaxis_title="characters counted", yaxis_title="bits per character", template="plotly_white",',
        '                  height=400, legend={"orientation": "h", "y": 1.12})',
        'show(fig, "markov_bits")',
        "",
        "prompt, _ = corpus.encode(PROMPT)",
        "ids = prompt or [int(train_data[0])]",
        "text = corpus.decode(chain.sample(ids, SAMPLE_CHARS, TEMPERATURE, torch.Generator().manual_seed(SEED + 7)))",
        'print(f"The chain writes:\\n{corpus.decode(ids)}{text}")',
    ])
