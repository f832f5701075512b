"""Reservoirs: fixed random networks with a trained linear read-out.

A random network that is never trained turns each input into many features; only the read-out,
a linear map from those features to the answer, is fitted, and in one solve. With the features of
N samples as the columns of H and the targets as the columns of Y, ridge regression gives

    W = Y Hᵀ (H Hᵀ + λ I)⁻¹                       (engine/reservoirs/ridge.py; the intercept unpenalised)

- **Extreme learning machine** (elm.py): one random hidden layer, h = g(A x + c), on the Playground's
  2-D data sets. Too few units underfit; about as many units as training points with λ ≈ 0 fit the
  noise (on the default spiral the test accuracy falls from 98 % at 100 units to 74 % at 1,000); λ
  brings it back. An MLP of 8 + 8 units trained by backprop on the same points is its twin on the page.
- **Echo state network** (esn.py): a random recurrent reservoir driven by the input,

      x(t) = (1 − a) x(t−1) + a tanh(W_in [1; u(t)] + W x(t−1)),   y(t) = W_out x(t) + b,

  W sparse and scaled to a spectral radius ρ. With ρ < 1 the reservoir has the echo-state property: its
  state depends on the recent input alone, two different initial states driven by the same input
  converge (below 1e-11 within 300 steps by default). Well above 1 they need not. The default (200
  units, ρ = 0.9, a = 0.3) predicts Mackey–Glass (τ = 17) one step ahead with an NRMSE of 0.006.
- **Liquid state machine** (lsm.py): leaky integrate-and-fire neurons, τ dv/dt = −v + I, spiking at a
  threshold, reset and held for a refractory period; sparse random excitatory (positive) and
  inhibitory (negative) weights. The digits enter row by row as spike trains on 8 input neurons; a
  ridge read-out on the spike counts classifies them (87 % on the test digits with Poisson spikes,
  91 % with threshold spikes, where the ESN fed the same rows as analog values reaches 97 %).

ELMConfig / ELMTrainer (task "elm"), ESNConfig / ESNTrainer ("esn"), LSMConfig / LSMTrainer ("lsm"):
trainer.step(n) fits n more sweep widths (ELM) or drives n more chunks of training data and refits
(ESN, LSM), returning a snapshot of plain data. Each trainer's `model` is an nn.Module (ELM,
EchoStateNetwork, LiquidStateMachine) holding the fixed weights and the read-out as buffers.
trainer.checkpoint_bytes() and Trainer.from_checkpoint(data) save and resume a run bit for bit, the twin
beside an ELM (an MLP) or an LSM (an ESN) inside it (checkpoint.py).
"""

from .config import ELMConfig, ESNConfig, LSMConfig
from .elm import ELM, ELMSnapshot, ELMTrainer
from .esn import ESNSnapshot, ESNTrainer, EchoStateNetwork
from .lsm import LSMSnapshot, LSMTrainer, LiquidStateMachine

__all__ = ["ELMConfig", "ESNConfig", "LSMConfig", "ELM", "ELMSnapshot", "ELMTrainer", "EchoStateNetwork",
           "ESNSnapshot", "ESNTrainer", "LiquidStateMachine", "LSMSnapshot", "LSMTrainer"]
