"""The Attention explorer's logic, free of Streamlit: defaults, the last encoder run kept per
session (so moving a slider does not run the model again), the view of one head or the mean
of a layer's heads with [CLS]/[SEP] optionally left out, sentences, the toy's table, and the
page's address."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import Param, flag, format_value, number, one_of, whole_number
from engine.attention.self_attention import MAX_SENTENCES, EncoderRun, run_encoder

DEFAULT_TEXT = "The animal didn't cross the street because it was too tired to walk any further that night."
DEFAULT_SENTENCES = "\n".join([
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar.",
    "The stock market fell sharply this morning.",
    "Shares dropped at the opening bell.",
    "A cat is sleeping on the sofa.",
])
SPECIAL_TOKENS = ("[CLS]", "[SEP]")
MEAN = "mean"   # the head selector's value for "mean of the layer's heads"

# Toy self-attention: 2-D queries and keys set by hand. "sat" asks for a noun and finds "cat"
# and "mat"; "cat" asks for a verb and finds "sat"; "the" asks for nothing in particular.
TOY_DEFAULT = [
    {"token": "the", "q1": 0.3, "q2": 0.3, "k1": 0.2, "k2": 0.1},
    {"token": "cat", "q1": 0.1, "q2": 1.0, "k1": 1.0, "k2": 0.2},
    {"token": "sat", "q1": 1.0, "q2": 0.0, "k1": 0.1, "k2": 1.0},
    {"token": "on", "q1": 0.2, "q2": 0.2, "k1": 0.0, "k2": 0.3},
    {"token": "mat", "q1": 0.1, "q2": 0.8, "k1": 0.8, "k2": 0.3},
]


@dataclass
class EncoderCache:
    """The last encoder run of this session, keyed by the text it was run on."""
    key: tuple | None = None
    run: EncoderRun | None = None
    seconds: float = 0.0

    def get(self, tokenizer, model, text: str, pair: str) -> EncoderRun:
        """The run for (text, pair); the model runs only when they changed. Over 512 tokens
        the text is cut to 512 (run.truncated says so); empty text raises TextError."""
        import time
        key = (text, pair)
        if key != self.key or self.run is None:
            start = time.perf_counter()
            self.run = run_encoder(tokenizer, model, text, pair or None, truncate=True)
            self.key, self.seconds = key, time.perf_counter() - start
        return self.run


def head_view(run: EncoderRun, layer: int, head, hide_special: bool) -> tuple[np.ndarray, list[str], list[int]]:
    """(weights (T', T'), tokens, their positions in the sentence) of one head, or of the
    mean of the layer's heads (head == MEAN). With hide_special, [CLS] and [SEP] are left
    out and each row is renormalised to sum to 1, so the rest of the pattern is visible."""
    a = run.attentions[layer]
    weights = a.mean(axis=0) if head == MEAN else a[int(head)]
    keep = shown_positions(run.tokens, hide_special)
    w = weights[np.ix_(keep, keep)].astype(np.float64)
    if len(keep) < len(run.tokens):
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return w, [run.tokens[i] for i in keep], keep


def shown_positions(tokens: list[str], hide_special: bool) -> list[int]:
    """The positions of the tokens the Heads tab shows: all, or all but [CLS] and [SEP]."""
    keep = [i for i, t in enumerate(tokens) if not (hide_special and t in SPECIAL_TOKENS)]
    return keep or list(range(len(tokens)))   # only special tokens: nothing left to hide them from


def default_from_token(tokens: list[str]) -> int:
    """The token the line view starts from: 'it' when the sentence has one (the classic
    coreference example), else the first word after [CLS]."""
    for i, t in enumerate(tokens):
        if t == "it":
            return i
    return 1 if len(tokens) > 1 else 0


def line_view_start(tokens: list[str], hide_special: bool) -> int:
    """The token the line view shows until another is chosen: default_from_token's, or the first
    token shown when that one is hidden."""
    positions = shown_positions(tokens, hide_special)
    start = default_from_token(tokens)
    return start if start in positions else positions[0]


def parse_sentences(text: str) -> tuple[list[str], str | None]:
    """One sentence per non-empty line, at most MAX_SENTENCES; (sentences, a warning or None)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_SENTENCES:
        return lines[:MAX_SENTENCES], f"Only the first {MAX_SENTENCES} of your {len(lines)} sentences are compared."
    return lines, None


def toy_arrays(rows: list[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tokens, Q (n, 2), K (n, 2)) from the toy table; rows with a blank or non-numeric cell
    are refused with ValueError naming the row."""
    tokens, q, k = [], [], []
    for i, row in enumerate(rows):
        if all(row.get(c) in (None, "") for c in ("token", "q1", "q2", "k1", "k2")):
            continue   # a row just added and not filled in yet
        try:
            values = [float(row[c]) for c in ("q1", "q2", "k1", "k2")]
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"row {i + 1} needs four numbers q1, q2, k1, k2") from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"row {i + 1}: every number must be finite")
        tokens.append(str(row.get("token") or f"token {i + 1}"))
        q.append(values[:2])
        k.append(values[2:])
    if len(tokens) < 2:
        raise ValueError("the toy needs at least two tokens")
    return tokens, np.array(q), np.array(k)


@dataclass
class SentenceCache:
    """The last sentence embeddings of this session, keyed by the sentences."""
    key: tuple = ()
    embeddings: np.ndarray | None = None
    cut: list[bool] = field(default_factory=list)

    def get(self, tokenizer, model, sentences: list[str]):
        from engine.attention.self_attention import sentence_embeddings
        if tuple(sentences) != self.key or self.embeddings is None:
            self.embeddings, self.cut = sentence_embeddings(tokenizer, model, sentences)
            self.key = tuple(sentences)
        return self.embeddings, self.cut


# ---------------- the address ----------------
# The page's address holds what is typed and every tab's settings under short names (see
# app_pages/common/address.py): only what differs from the defaults, and the seed. A text goes in
# only while it is short: a longer one would make an address too long to share, and the page says
# it is left out. Layers, heads and the toy's rows are numbered as the page shows them: layer 1 is
# the first, the line view's tokens and the toy's rows count from 0.
MODEL_LAYERS, MODEL_HEADS = 6, 12   # all-MiniLM-L6-v2's; the page's test checks them against the model
MAX_ADDRESS_TEXT = 500              # characters of a text the address holds
MAX_POSITIONS, POSITIONS_STEP = 512, 8
MAX_SCALE, SCALE_STEP = 10.0, 0.1
TABS = {"heads": "Heads", "steps": "Step by step", "positions": "Positions", "similarity": "Sentence similarity",
        "toy": "Toy attention"}
TOY_COLUMNS = ("token", "q1", "q2", "k1", "k2")
TEXT_KEYS = {"att_text": "sentence", "att_pair": "second sentence", "att_sentences": "sentences to compare"}


def default_widgets() -> dict:
    """Widget key -> first value. att_toy_table is the toy's table as last edited (the editor's own
    state is a list of edits, kept only while its tab is open)."""
    return {"att_tab": TABS["heads"], "att_text": DEFAULT_TEXT, "att_pair": "", "att_layer": 0, "att_head": 0,
            "att_hide_special": False, "att_positions": 128, "att_sentences": DEFAULT_SENTENCES,
            "att_toy_table": [dict(row) for row in TOY_DEFAULT], "att_scale": 1.0, "att_toy_query": 2}


def _short_text(text: str) -> str:
    if len(text) > MAX_ADDRESS_TEXT:
        raise ValueError(f"a text of at most {MAX_ADDRESS_TEXT} characters")
    return text


def _counted_from_one(name: str, key: str, count: int, extra: dict | None = None) -> Param:
    """A layer or head: written as the page shows it (1..count), kept as its index (0..count-1);
    `extra` maps more words to values ("mean")."""
    words = dict(extra or {})
    whole = whole_number(name, key, 1, count).parse

    def parse(text: str):
        if text in words:
            return words[text]
        try:
            return whole(text) - 1
        except ValueError:
            raise ValueError(f"a whole number from 1 to {count}" + "".join(f" or {w}" for w in words)) from None
    return Param(name, key, parse, lambda v: next((w for w, x in words.items() if x == v), None) or str(int(v) + 1))


def toy_table_text(rows: list[dict]) -> str | None:
    """The toy's table as the address writes it, "the,0.3,0.3,0.2,0.1;cat,..." (a row per token:
    its name, q1, q2, k1, k2); None when it cannot be written: a table the page refuses, a
    token with "," or ";" in it, or a text too long."""
    try:
        toy_arrays(rows)
    except ValueError:
        return None
    cells = []
    for row in rows:
        if all(row.get(c) in (None, "") for c in TOY_COLUMNS):
            continue
        token = str(row.get("token") or "")
        if "," in token or ";" in token:
            return None
        cells.append(",".join([token] + [format_value(float(row[c])) for c in TOY_COLUMNS[1:]]))
    text = ";".join(cells)
    return text if len(text) <= MAX_ADDRESS_TEXT else None


def _parse_toy_table(text: str) -> list[dict]:
    rows = []
    for i, cells in enumerate(_short_text(text).split(";")):
        parts = cells.split(",")
        try:
            if len(parts) != len(TOY_COLUMNS):
                raise ValueError
            rows.append({"token": parts[0], **{c: float(v) for c, v in zip(TOY_COLUMNS[1:], parts[1:])}})
        except ValueError:
            raise ValueError(f"row {i + 1} is not a token and four numbers (rows token,q1,q2,k1,k2 separated "
                             "by ;)") from None
    toy_arrays(rows)  # at least two tokens, every number finite
    return rows


URL_PARAMS = [
    Param("text", "att_text", _short_text, str, strip=False),
    Param("pair", "att_pair", _short_text, str, strip=False),
    one_of("tab", "att_tab", TABS),
    _counted_from_one("layer", "att_layer", MODEL_LAYERS),
    _counted_from_one("head", "att_head", MODEL_HEADS, {MEAN: MEAN}),
    flag("heads.hide_special", "att_hide_special"),
    whole_number("heads.from", "att_from", 0, MAX_POSITIONS - 1),
    whole_number("positions.shown", "att_positions", POSITIONS_STEP, MAX_POSITIONS, POSITIONS_STEP),
    Param("similarity.text", "att_sentences", _short_text, str, strip=False),
    Param("toy.table", "att_toy_table", _parse_toy_table, toy_table_text),
    number("toy.scale", "att_scale", 0.0, MAX_SCALE, SCALE_STEP),
    whole_number("toy.query", "att_toy_query", 0, 99)]


def left_out_of_address(values, keys=tuple(TEXT_KEYS)) -> list[str]:
    """The names of the texts among `keys` that are too long for the address (they are left out)."""
    return [TEXT_KEYS[k] for k in keys if len(values.get(k) or "") > MAX_ADDRESS_TEXT]


def widgets_to_query(values, seed: int, tokens: list[str] | None = None) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the
    seed. `tokens` are the sentence's, as the model read it: the line view's token is written
    when it is one the Heads tab shows and not the one it starts from (and never without them)."""
    defaults = default_widgets()
    current = {p.key: values[p.key] for p in URL_PARAMS if p.key in values}
    for key in TEXT_KEYS:
        if key in current and len(current[key] or "") > MAX_ADDRESS_TEXT:
            current[key] = defaults[key]  # left out: the page says so
    if "att_toy_table" in current and toy_table_text(current["att_toy_table"]) in (
            None, toy_table_text(defaults["att_toy_table"])):
        current["att_toy_table"] = defaults["att_toy_table"]  # the default's, or left out: the page says so
    hide = bool(current.get("att_hide_special"))
    if tokens and not left_out_of_address(values, ("att_text", "att_pair")) and \
            current.get("att_from") in shown_positions(tokens, hide):
        defaults["att_from"] = line_view_start(tokens, hide)
    else:  # no sentence read, the link opens another one, or a token the page does not show
        current.pop("att_from", None)
    return address.widgets_to_query(URL_PARAMS, current, defaults, seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used,
    a toy query row the toy's table does not have included. (A line-view token the sentence
    does not have is found once the model has read it: line_token_problem.)"""
    values, problems = address.widgets_from_query(URL_PARAMS, query)
    rows = len(values.get("att_toy_table", TOY_DEFAULT))
    if values.get("att_toy_query", 0) >= rows:
        values.pop("att_toy_query")
        problems.append(f"toy.query={query['toy.query']!r} was ignored: the toy's table has {rows} rows, numbered "
                        f"0 to {rows - 1}")
    return values, problems


def one_head_problem(query, values) -> list[str]:
    """On the first visit: a sentence for the address's head=mean when the tab it opens is Step by step,
    which computes one head at a time and shows head 1 instead (a hand-made link: the page never
    writes both); [] otherwise."""
    if values.get("att_tab") != TABS["steps"] or values.get("att_head") != MEAN or "head" not in query:
        return []
    return [f"head={query['head']!r} was ignored: the {TABS['steps']} tab computes one head at a time; it shows head 1"]


def line_token_problem(query, values, tokens: list[str]) -> list[str]:
    """On the first visit, once the sentence is read: a sentence for the address's line-view token
    (heads.from) when the Heads tab does not show that token; [] otherwise."""
    text, index = query.get("heads.from"), values.get("att_from")
    positions = shown_positions(tokens, bool(values.get("att_hide_special")))
    if text is None or not isinstance(index, int) or index in positions:
        return []
    return [f"heads.from={text!r} was ignored: the tokens shown are numbered {positions[0]} to {positions[-1]}"]
