"""The neural Turing machine (Graves, Wayne and Danihelka, 2014) on the copy task, beside an LSTM.

An LSTM controller is given an external memory M of N rows of M numbers, and two heads that read and
write it through weightings w (N numbers ≥ 0 that sum to 1) rather than at one address, so that every
step is differentiable and the whole machine trains by backpropagation. Each step the controller emits,
for each head, a key k, a strength β > 0, a gate g ∈ (0, 1), shift weights s over −1, 0, +1 and a
sharpening γ ≥ 1, and the head's weighting is found in four stages:

    content     w_c[i] = softmax_i(β · K(k, M_i)),  K the cosine similarity   (look up by what is stored)
    interpolate w_g = g · w_c + (1 − g) · w_{t−1}                              (or stay where it was)
    shift       w̃[i] = Σ_j w_g[j] · s[(i − j) mod N]                          (move by a slot: iterate)
    sharpen     w[i] = w̃[i]^γ / Σ_j w̃[j]^γ                                   (undo the blur of the shift)

The read head returns r = Σ_i w[i] M_i. The write head also emits an erase vector e ∈ (0, 1)^M and an
add vector a, and every row is changed in proportion to its weight:

    M_i ← M_i ∘ (1 − w[i] e) + w[i] a

On the copy task (random bit vectors, a delimiter, then the same vectors asked back) a trained NTM
writes each vector to the next slot and then reads them back in order: its write and read weightings
over time are two diagonal bands. Because that is a procedure rather than a memorised pattern, it keeps
working on sequences longer than any it was trained on, where the LSTM of as many parameters fails.

NTMConfig (data, model and train sections, task "ntm") and NTMTrainer(config, device).step(n) ->
NTMSnapshot; the addressing functions are in engine/ntm/model.py, the task in engine/ntm/copy_task.py.
"""

from .config import NTMConfig
from .trainer import CopyExample, LengthTest, NTMSnapshot, NTMTrainer

__all__ = ["CopyExample", "LengthTest", "NTMConfig", "NTMSnapshot", "NTMTrainer"]
