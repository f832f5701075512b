"""Self-attention in the pretrained encoder all-MiniLM-L6-v2 (6 layers × 12 heads), read back
as plain data, and one head rebuilt by hand: Q = XW_q, K = XW_k, V = XW_v,
A = softmax(QKᵀ/√d), output = AV, checked against the model's own attention weights.
"""

from .self_attention import EncoderRun, head_by_hand, run_encoder
