"""Character-level language models (task "charlm"): RNN, LSTM, GRU and a Transformer
trained side by side to predict the next character, p(c_t | c_<t), with the cross-entropy
in bits per character. The Transformer uses causal self-attention softmax(QKᵀ/√d + mask)V
and sinusoidal or learned positions; the recurrent models carry a hidden state h_t =
f(h_{t-1}, x_t), whose gradient through time shows how far back they remember.

Beside them (task "markov"), the baseline they must beat: a character n-gram, p(c_t | c_{t-n..t-1}) =
(count(context, c_t) + k) / (count(context) + kV), counted from the same text and scored the same way.
"""

from .config import CharLMConfig, CharModelConfig
from .trainer import CharLMSnapshot, CharLMTrainer
from .markov import MarkovSnapshot, MarkovTrainer
from .markov_config import MarkovConfig
