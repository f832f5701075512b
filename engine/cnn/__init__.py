"""Convolutional networks on the 8×8 digits, and the dense network they are compared with.

A convolution slides one small kernel over the picture: output cell (i, j) of channel c is
b_c + Σ_{c', u, v} w[c, c', u, v] · x[c', i·s − p + d·u, j·s − p + d·v], the same weights at every
position. Neighbouring pixels are read together, and a pattern is found wherever it is; pooling
and a global maximum at the end make the answer care less about where. On each axis an n-cell
map becomes

    out = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1

cells (kernel k, padding p, stride s, dilation d; 2×2 pooling is k = s = 2, p = 0). A cell's
receptive field, the input pixels it depends on, grows by d(k−1) input steps per layer, times the
strides below it (engine/cnn/geometry.py).

Weight sharing is why a convolution is cheap: a conv layer has C_in·C_out·k² + C_out parameters,
whatever the map's size, where a dense layer has F_in·F_out + F_out. The first layer of the
default network (8 kernels of 3×3) has 80; a dense layer from the 64 pixels to 64 units has 4,160.

The default network (preset "global_pool": three 3×3 conv layers of 8, 16 and 32 channels with
padding 2 and batch norm, no strided pooling, a global-max head) reaches 98.3 % test accuracy in
its 300 Adam steps (seed 0) and keeps 95.6 % on the test digits moved by one pixel. With the same
training a LeNet-style network (conv, pool, conv, pool, dense) drops from 93 % to 53 % on the moved
digits, and a dense network with as many parameters from 94 % to 46 %: a 2×2 pooling with stride 2
sees a one-pixel move as a different picture, and a dense layer has a weight of its own per position.

CNNConfig (model and train sections, task "cnn", presets in PRESETS) and
CNNTrainer(config, device).step(n) -> CNNSnapshot, with inspection methods for the page.
"""

from .config import PRESETS, CNNConfig, preset
from .trainer import CNNSnapshot, CNNTrainer

__all__ = ["PRESETS", "CNNConfig", "CNNSnapshot", "CNNTrainer", "preset"]
