"""The Sentiment lab's text CNN, in plain Python: the widths and filter counts its widgets offer, the
address parameter of the widths, and the n-gram view's table and sentence (from
engine.sentiment.textcnn.top_ngrams)."""
from __future__ import annotations

from app_pages.common.address import Param
from app_pages.common.text import md_escape

NGRAM_WIDTH_CHOICES = [1, 2, 3, 4, 5]
FILTER_CHOICES = [8, 16, 32, 64, 128]
TOP_PER_WIDTH = 4    # the n-gram view lists this many filters of each width, the strongest pushes first


def parse_widths(text: str) -> list[int]:
    """"2,3,4" -> [2, 3, 4]: different widths among the widget's options, in increasing order."""
    allowed = f"different widths from {NGRAM_WIDTH_CHOICES[0]} to {NGRAM_WIDTH_CHOICES[-1]}, separated by commas"
    parts = [p.strip() for p in text.split(",")]
    if not all(p in {str(w) for w in NGRAM_WIDTH_CHOICES} for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(allowed)
    return sorted(int(p) for p in parts)


def widths_param(name: str, key: str) -> Param:
    return Param(name, key, parse_widths, lambda widths: ",".join(str(w) for w in sorted(widths)))


def ngram_rows(result: dict, class_names: list[str]) -> list[dict]:
    """The n-gram view's table: one row per filter of result["top"], strongest push first. The
    n-gram is the sentence's own characters (shown by st.dataframe as text); each class's column is
    that filter's weight in the output layer x its activation."""
    target = class_names[result["target"]]
    rows = []
    for rank, r in enumerate(result["top"], 1):
        ngram = r["text"] + " ·" * r["padding"]  # a dot per padding position: the sentence is shorter than the filter
        row = {"rank": rank, "width": r["width"], "n-gram": ngram, "filter": r["filter"],
               "activation": round(r["activation"], 3), f"push toward {target}": round(r["push"], 3)}
        row.update({f"→ {name}": round(v, 3) for name, v in zip(class_names, r["per_class"])})
        rows.append(row)
    return rows


def max_pooling_sentence(result: dict, class_names: list[str]) -> str:
    """What max-over-time pooling is, and that the pushes add up (Markdown; the class name escaped)."""
    target = md_escape(class_names[result["target"]])
    n = len(result["filters"])
    total = sum(r["push"] for r in result["filters"])
    padded = any(r["padding"] for r in result["top"])
    return (f"Each filter slides over every window of its width and keeps only its largest response anywhere in the "
            f"sentence (**max-over-time pooling**): the n-gram listed is where that maximum was, and no other window "
            f"of the sentence counts for that filter. Its push is its weight in the output layer × that response, "
            f"toward “{target}” against the mean of the other classes. The pushes of all {n} filters add up to "
            f"{total:.3f}, and with the output layer's bias ({result['bias']:.3f}) to the score "
            f"{result['score']:.3f} = z({target}) − mean of the other logits: exact, since one linear layer reads "
            "the pooled filters." + (" A dot (·) marks padding: the sentence is shorter than that filter, which "
                                     "reads it whole." if padded else ""))
