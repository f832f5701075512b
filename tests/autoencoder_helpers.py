"""What the autoencoder engine's tests (test_autoencoder_engine.py, test_autoencoder_kinds.py)
share: one torch thread while they run, and a small config."""
from __future__ import annotations

import pytest
import torch

from engine.autoencoders.trainer import AutoencoderConfig


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """As the app and the CLI run: on a busy 2-core machine two threads fight over the cores
    (measured: the linear test took 180 s with PyTorch's default threads, 3 s with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(**kw) -> AutoencoderConfig:
    return AutoencoderConfig.build(**{"hidden": 32, **kw})
