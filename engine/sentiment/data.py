"""Text data for the sentiment task: the labelled tweets (or an uploaded CSV), filtered,
deduplicated and split by class; tokens; a vocabulary; bag-of-words and TF-IDF features.

Everything here is NumPy and the standard library. Features are kept sparse (CSR arrays:
indptr, indices, values), because 30k tweets x 5,000 words would be 600 MB dense; the model
reads them through an EmbeddingBag, which is exactly a sparse matrix product.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

TWEET_CLASSES_3 = ("negative", "neutral", "positive")
TWEET_CLASSES_2 = ("negative", "positive")
PAD, UNK = 0, 1                      # ids of the sequence models; vocabulary word i has id i + 2
MAX_UPLOAD_BYTES = 5_000_000         # an uploaded CSV larger than this is refused
MAX_UPLOAD_ROWS = 50_000
MAX_UPLOAD_CLASSES = 10
MIN_UPLOAD_ROWS = 20
MAX_TEXT_CHARS = 2_000               # longer texts (rows or typed sentences) are cut here
MAX_LABEL_CHARS = 40                 # a label is a class name; longer ones are cut
MINILM_MAX_ROWS = 1_500              # MiniLM vectors are computed for at most this many texts per setting (CPU time)

# A token: a web address, an @mention or #hashtag, a word (with inner apostrophes), or any
# other single non-space character (punctuation, an emoji).
TOKEN_RE = re.compile(r"https?://\S+|www\.\S+|[@#]?\w+(?:'\w+)*|[^\w\s]", re.UNICODE)


def normalise_token(raw: str) -> str | None:
    """The vocabulary form of a raw token: lower case, one symbol for every link and every
    @mention (they carry no sentiment of their own); None for the replacement character
    left by the corpus's broken bytes."""
    if raw.startswith(("http://", "https://", "www.")):
        return "<url>"
    if raw.startswith("@") and len(raw) > 1:
        return "@user"
    if raw == "\ufffd" or raw == "_":
        return None
    return raw.lower()


def tokenize_with_spans(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for each token of `text`, spans into the original string, so a
    page can highlight exactly the characters a token came from."""
    out = []
    for m in TOKEN_RE.finditer(text):
        tok = normalise_token(m.group(0))
        if tok is not None:
            out.append((tok, m.start(), m.end()))
    return out


def tokenize(text: str) -> list[str]:
    """The tokens of tokenize_with_spans, without the spans (the fast path for a corpus)."""
    out = []
    for raw in TOKEN_RE.findall(text):
        if raw[0] in "hw@\ufffd_":  # rare: let normalise_token decide
            tok = normalise_token(raw)
            if tok is not None:
                out.append(tok)
        else:
            out.append(raw.lower())
    return out


_DEDUP_DROP = re.compile(r"^rt\s+@\w+:?|https?://\S+|www\.\S+|@\w+|[^\w]+")


def dedup_key(text: str) -> str:
    """Two tweets with the same key are the same text: a retweet ("RT @someone: ...") or a
    copy that differs only in links, mentions, case and punctuation."""
    return _DEDUP_DROP.sub(" ", text.lower()).strip()


# ---------------- reading ----------------

def tweet_rows(n_classes: int, min_confidence: float) -> tuple[list[str], list[str]]:
    """Texts and labels of the tweet corpus with at least this annotator agreement (rows
    without a confidence value are kept only when min_confidence is 0)."""
    from ..core.corpora import sentiment_rows
    keep = TWEET_CLASSES_3 if n_classes == 3 else TWEET_CLASSES_2
    texts, labels = [], []
    for r in sentiment_rows():
        if r.sentiment not in keep or not r.text.strip():
            continue
        if min_confidence > 0 and (r.confidence is None or r.confidence < min_confidence):
            continue
        texts.append(r.text[:MAX_TEXT_CHARS])
        labels.append(r.sentiment)
    return texts, labels


def parse_labelled_csv(data: bytes) -> tuple[list[list[str]], list[str]]:
    """An uploaded CSV with a header naming a `text` column and a `label` column (or
    `sentiment`), any order, other columns ignored. Returns ([[text, label], ...], notes):
    the notes say in words what was read in a way the user might not expect (which column
    holds the labels, labels that are numbers, texts cut, rows skipped). Raises ValueError
    with one line that says what to fix. Messages and notes are plain text that may quote
    the file (its header, its labels): a page shows them as text, never as Markdown."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the file is {len(data) / 1e6:.2f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB "
                         f"(about {MAX_UPLOAD_ROWS:,} short texts). Upload a sample of it.")
    if not data.strip():
        raise ValueError('the file is empty. Upload a CSV with a header line "text,label" and one row per text.')
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"the file is not UTF-8 text (byte {e.start} cannot be read). Save it as CSV UTF-8.") from None
    if "\x00" in text:
        raise ValueError("the file contains NUL bytes: it looks binary, not a CSV. Save it as CSV UTF-8.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError('the file has no header line; the first line must be "text,label".')
        names = [h.strip().lower() for h in header]
        if "text" not in names or not ({"label", "sentiment"} & set(names)):
            raise ValueError(f'the header must name a "text" column and a "label" column, found: '
                             f"{', '.join(repr(h[:40]) for h in header[:8]) or 'nothing'}.")
        ti = names.index("text")
        li = names.index("label") if "label" in names else names.index("sentiment")
        rows, skipped, texts_cut, labels_cut = [], 0, 0, 0
        for rec in reader:
            if len(rows) >= MAX_UPLOAD_ROWS:
                raise ValueError(f"the file has more than {MAX_UPLOAD_ROWS:,} rows; upload a sample of it.")
            if not rec or not any(c.strip() for c in rec):
                continue
            if len(rec) <= max(ti, li):
                raise ValueError(f"line {reader.line_num} has {len(rec)} field(s) but the header has {len(header)}: "
                                 "quote texts that contain commas (\"like, this\").")
            t, lab = rec[ti].strip(), rec[li].strip()
            if not t or not lab:
                skipped += 1
                continue
            texts_cut += len(t) > MAX_TEXT_CHARS
            labels_cut += len(lab) > MAX_LABEL_CHARS
            rows.append([t[:MAX_TEXT_CHARS], lab[:MAX_LABEL_CHARS]])
    except csv.Error as e:
        if "field limit" in str(e):  # Python's csv module stops at fields of 131,072 characters
            raise ValueError(f"line {reader.line_num} holds a field longer than {csv.field_size_limit():,} "
                             f"characters; only the first {MAX_TEXT_CHARS:,} characters of a text are read, so "
                             "shorten it (or check its quotes).") from None
        raise ValueError(f"the file is not valid CSV at line {reader.line_num} ({e}).") from None
    if len(rows) < MIN_UPLOAD_ROWS and skipped:
        raise ValueError(f"the file has {len(rows)} usable row(s) ({skipped:,} more have an empty text or label); at "
                         f"least {MIN_UPLOAD_ROWS} are needed.")
    check_labelled_rows(rows)
    notes = [f'the column "{header[li].strip()}" is read as the labels.'] if names[li] != "label" else []
    others = [h.strip()[:40] for i, h in enumerate(header) if i not in (ti, li) and h.strip()]
    if others:
        notes.append(f"other columns are ignored: {', '.join(others[:5])}{' and more' if len(others) > 5 else ''}.")
    if skipped:
        notes.append(f"{skipped:,} row(s) with an empty text or label were skipped.")
    if texts_cut:
        notes.append(f"{texts_cut:,} text(s) longer than {MAX_TEXT_CHARS:,} characters are cut to their first "
                     f"{MAX_TEXT_CHARS:,}.")
    if labels_cut:
        notes.append(f"{labels_cut:,} label(s) longer than {MAX_LABEL_CHARS} characters are cut to their first "
                     f"{MAX_LABEL_CHARS}; labels that then read the same are one class.")
    return rows, notes + label_notes([r[1] for r in rows])


def label_order(labels) -> list[str]:
    """The class names of these labels in the order the page lists them: by value when every
    label is a number ("2" before "10"), else alphabetically."""
    names = set(labels)
    if all(_number(s) is not None for s in names):
        return sorted(names, key=lambda s: (_number(s), s))
    return sorted(names)


def label_notes(labels: list[str]) -> list[str]:
    """What the page should say about how the labels are read, when it may surprise: numbers
    are class names, not amounts; spellings that differ only in case are different classes."""
    names = label_order(labels)
    notes = []
    if all(_number(s) is not None for s in names):
        notes.append(f"the labels are numbers ({', '.join(names)}): each value is read as the name of a class, not as "
                     "an amount to predict.")
    spellings: dict[str, list[str]] = {}
    for s in names:
        spellings.setdefault(s.casefold(), []).append(s)
    same = [v for v in spellings.values() if len(v) > 1]
    if same:
        notes.append(f"the labels {' and '.join(same[0])} differ only in case and are read as different classes; "
                     "write each class one way if they are one.")
    return notes


def _number(s: str) -> float | None:
    try:
        value = float(s)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_labelled_rows(rows: list[list[str]]) -> None:
    """Enough rows and 2..10 classes, each with at least 3 rows (one per split)."""
    if len(rows) < MIN_UPLOAD_ROWS:
        raise ValueError(f"the file has {len(rows)} usable row(s); at least {MIN_UPLOAD_ROWS} are needed.")
    counts = Counter(r[1] for r in rows)
    if len(counts) < 2:
        raise ValueError(f"the label column has one class ({next(iter(counts))}): a classifier needs at least two.")
    if len(counts) > MAX_UPLOAD_CLASSES:
        if all(_number(s) is not None for s in counts):  # a score or a rating: regression, which this lab does not do
            raise ValueError(f"the label column holds {len(counts)} different numbers: this lab sorts texts into 2 to "
                             f"{MAX_UPLOAD_CLASSES} classes and does not predict amounts; give each row a class.")
        raise ValueError(f"the file has {len(counts)} different labels; at most {MAX_UPLOAD_CLASSES} are allowed "
                         "(is the label column really the class?).")
    small = [lab for lab, c in counts.items() if c < 3]
    if small:
        raise ValueError(f"the label(s) {', '.join(repr(s) for s in small[:5])} have fewer than 3 rows; every label "
                         "needs at least 3 (one for training, validation and test).")


# ---------------- dedup, subsample, split ----------------

def deduplicate(texts: list[str], labels: list[str]) -> tuple[list[str], list[str], int]:
    """The first row of each dedup_key (empty keys are kept); returns the number dropped."""
    seen: set[str] = set()
    out_t, out_l = [], []
    for t, lab in zip(texts, labels):
        key = dedup_key(t)
        if key and key in seen:
            continue
        seen.add(key)
        out_t.append(t)
        out_l.append(lab)
    return out_t, out_l, len(texts) - len(out_t)


def stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of about n rows, keeping each class's share; sorted (file order kept)."""
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(3, int(round(len(idx) * n / len(y))))
        keep.append(rng.permutation(idx)[:k])
    return np.sort(np.concatenate(keep))


def stratified_split(y: np.ndarray, val_fraction: float, test_fraction: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices; each class is shuffled and cut in the same proportions,
    at least one row of every class in each split."""
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = max(1, int(round(len(idx) * test_fraction)))
        n_val = max(1, int(round(len(idx) * val_fraction)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)  # type: ignore[return-value]


# ---------------- vocabulary and features ----------------

def build_vocabulary(token_lists: list[list[str]], size: int, min_count: int = 2) -> list[str]:
    """The `size` most frequent tokens (ties by spelling, so the order is deterministic)."""
    counts = Counter(t for toks in token_lists for t in toks)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return ranked[:size]


@dataclass
class SparseRows:
    """A CSR matrix (rows, n_cols): row i has columns indices[indptr[i]:indptr[i+1]]."""
    indptr: np.ndarray   # (rows + 1,) int64
    indices: np.ndarray  # (nnz,) int64
    values: np.ndarray   # (nnz,) float32
    n_cols: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def dense(self) -> np.ndarray:
        out = np.zeros((len(self), self.n_cols), dtype=np.float32)
        for i in range(len(self)):
            a, b = self.indptr[i], self.indptr[i + 1]
            out[i, self.indices[a:b]] = self.values[a:b]
        return out

    def rows(self, idx: np.ndarray) -> "SparseRows":
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        lengths = ends - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        take = np.arange(indptr[-1]) - np.repeat(indptr[:-1] - starts, lengths)  # each row's slice, back to back
        return SparseRows(indptr, self.indices[take], self.values[take], self.n_cols)


def count_rows(token_lists: list[list[str]], index: dict[str, int]) -> SparseRows:
    """Bag of words: how often each vocabulary word occurs in each text (others dropped)."""
    indptr, indices, values = [0], [], []
    for toks in token_lists:
        c = Counter(index[t] for t in toks if t in index)
        cols = sorted(c)
        indices.extend(cols)
        values.extend(c[k] for k in cols)
        indptr.append(len(indices))
    return SparseRows(np.array(indptr, np.int64), np.array(indices, np.int64), np.array(values, np.float32), len(index))


def inverse_document_frequency(counts: SparseRows) -> np.ndarray:
    """Smoothed idf of each column, as scikit-learn computes it: ln((1 + n) / (1 + df)) + 1."""
    df = np.bincount(counts.indices, minlength=counts.n_cols)
    return (np.log((1 + len(counts)) / (1 + df)) + 1).astype(np.float32)


def tfidf_rows(counts: SparseRows, idf: np.ndarray) -> SparseRows:
    """count x idf, each row scaled to unit length (an all-zero row stays zero)."""
    values = counts.values * idf[counts.indices]
    lengths = np.diff(counts.indptr)
    row_of = np.repeat(np.arange(len(counts)), lengths)  # the row of each stored value
    sq = np.bincount(row_of, weights=values.astype(np.float64) ** 2, minlength=len(counts))
    norms = np.sqrt(sq[row_of])
    return SparseRows(counts.indptr, counts.indices, (values / np.where(norms > 0, norms, 1)).astype(np.float32),
                      counts.n_cols)


def sequence_ids(token_lists: list[list[str]], index: dict[str, int], max_tokens: int) -> np.ndarray:
    """(rows, max_tokens) int64: the first max_tokens tokens as ids (unknown words UNK),
    padded with PAD; an empty text gets one UNK so that every row has a token."""
    out = np.full((len(token_lists), max_tokens), PAD, dtype=np.int64)
    for i, toks in enumerate(token_lists):
        ids = [index.get(t, UNK - 2) + 2 for t in toks[:max_tokens]] or [UNK]
        out[i, :len(ids)] = ids
    return out


# ---------------- everything a trainer needs, built once per data/vocabulary setting ----------------

@dataclass
class PreparedText:
    """The kept rows, their split and their numbers. Arrays cover every kept row; a split is
    an index array into them. Shared read-only by every trainer built on the same setting."""
    class_names: list[str]
    texts: list[str]
    y: np.ndarray                       # (rows,) int64 class index
    splits: dict[str, np.ndarray]       # train / val / test -> row indices
    tokens: list[list[str]]
    vocab: list[str]                    # feature j (bow/tfidf) is vocab[j]; sequence id j + 2
    index: dict[str, int]
    idf: np.ndarray | None              # (vocab,) for tfidf
    features: SparseRows | np.ndarray   # sparse rows (bow, tfidf), (rows, T) ids, or (rows, 384) MiniLM vectors
    notes: list[str]

    def class_counts(self) -> dict[str, list[int]]:
        """split -> number of rows of each class, in class_names order."""
        k = len(self.class_names)
        return {name: np.bincount(self.y[idx], minlength=k).tolist() for name, idx in self.splits.items()}


def prepare_text(data, model, seed: int, minilm_features=None) -> PreparedText:
    """Rows -> filter -> dedup -> subsample -> stratified split -> tokens -> vocabulary
    (from the training split only, so validation and test words stay unseen) -> features.

    `data` and `model` are the config sections (SentimentDataConfig, SentimentModelConfig);
    minilm_features(texts) -> (rows, 384) array is passed in for the MiniLM representation."""
    notes = []
    if data.source == "tweets":
        texts, labels = tweet_rows(data.n_classes, data.min_confidence)
        class_names = list(TWEET_CLASSES_3 if data.n_classes == 3 else TWEET_CLASSES_2)
    else:
        texts, labels = [r[0][:MAX_TEXT_CHARS] for r in data.rows], [r[1] for r in data.rows]
        class_names = label_order(labels)
    if data.dedup:
        texts, labels, dropped = deduplicate(texts, labels)
        notes.append(f"{dropped:,} duplicate(s) and retweets removed.")
    pos = {c: i for i, c in enumerate(class_names)}
    y = np.array([pos[lab] for lab in labels], dtype=np.int64)
    present = np.bincount(y, minlength=len(class_names))
    if (present < 3).any():
        missing = [c for c, n in zip(class_names, present) if n < 3]
        raise ValueError(f"after filtering, class(es) {', '.join(missing)} have fewer than 3 rows: lower the "
                         "minimum confidence or turn deduplication off")
    rng = np.random.default_rng(seed)
    limit = data.max_rows
    if model.representation == "minilm":
        if not limit or limit > MINILM_MAX_ROWS:
            limit = MINILM_MAX_ROWS
            notes.append(f"MiniLM features are computed for a stratified sample of {MINILM_MAX_ROWS:,} rows only "
                         "(on a CPU that takes a minute or more; then they are kept for this process).")
    keep = stratified_subsample(y, limit, rng)
    if len(keep) < len(y):
        notes.append(f"a stratified sample of {len(keep):,} of the {len(y):,} rows is used.")
    texts, y = [texts[i] for i in keep], y[keep]
    train, val, test = stratified_split(y, data.val_fraction, data.test_fraction, rng)
    tokens = [tokenize(t) for t in texts]
    vocab = build_vocabulary([tokens[i] for i in train], model.vocab_size)
    index = {w: i for i, w in enumerate(vocab)}
    idf = None
    rep = model.representation
    if rep in ("bow", "tfidf"):
        counts = count_rows(tokens, index)
        features: SparseRows | np.ndarray = counts
        if rep == "tfidf":
            idf = inverse_document_frequency(counts.rows(train))
            features = tfidf_rows(counts, idf)
    elif rep == "minilm":
        features = minilm_features(texts)
    else:  # the sequence models (embedding_bag, transformer, textcnn) read word ids
        features = sequence_ids(tokens, index, model.max_tokens)
    return PreparedText(class_names, texts, y, {"train": train, "val": val, "test": test}, tokens, vocab, index,
                        idf, features, notes)
