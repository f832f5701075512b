"""The ntm lab's default run, trained on (make test-slow): with the default config and seed 0 the NTM
copies the training lengths 1..8 with under 1 % wrong bits after 1,000 steps (it gets there at step
400) and keeps copying sequences three times as long, where the LSTM of as many parameters gets
nearly half the bits wrong. About 20 s on one CPU thread."""
import pytest
import torch

from engine.ntm import NTMConfig, NTMTrainer

pytestmark = pytest.mark.slow


def test_the_default_ntm_copies_three_times_the_trained_length():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = NTMTrainer(NTMConfig.build(max_steps=0), "cpu")
        snap = trainer.step(1000)
        assert snap.bit_error < 0.01 and snap.lstm_bit_error > 0.1, snap
        longer = trainer.try_longer([16, 24])
        assert max(longer.ntm_bit_error) < 0.05 and min(longer.lstm_bit_error) > 0.35, longer
    finally:
        torch.set_num_threads(threads)
