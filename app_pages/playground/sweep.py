"""The spread view for the Playground: the current network trained 16 times at once (16
seeds) or once per learning rate, all in one batched computation, loss curves overlaid.

The page calls `spread_section(config)` with its current config. Plain MLPs only (no
dropout, norms, skips, penalties or clipping: engine.mlp.batched_mlp says why when it refuses).
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.common.live_plotly import static_chart_config
from engine import ExperimentConfig
from engine.mlp.batched_mlp import train_spread
from viz.sweep import final_loss_figure, spread_caption, spread_figure

SEEDS = list(range(16))
SWEEP_LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
EPOCH_CHOICES = [5, 10, 20, 50, 100]
MAX_TOTAL_STEPS = 20_000  # per variant; at 16 variants of a small net this is a few seconds on one CPU thread


def _steps_per_epoch(config: ExperimentConfig) -> int:
    n_train = config.data.n_samples - round(config.data.n_samples * config.data.test_fraction)
    if config.data.name == "custom":
        n_train = len(config.data.points) - round(len(config.data.points) * config.data.test_fraction)
    return max(1, -(-n_train // max(1, min(config.train.batch_size, n_train or 1))))


def run_spread(config: ExperimentConfig, vary: str, epochs: int):
    """Train the variants; returns (SpreadResult or None, message or None)."""
    if epochs * _steps_per_epoch(config) > MAX_TOTAL_STEPS:
        epochs = max(1, MAX_TOTAL_STEPS // _steps_per_epoch(config))
    try:
        if vary == "seeds":
            result = train_spread(config, seeds=[config.train.seed + s for s in SEEDS], epochs=epochs)
        else:
            result = train_spread(config, lrs=SWEEP_LRS, epochs=epochs)
    except ValueError as e:
        return None, f"The spread view cannot train this network: {e}."
    return result, None


def spread_section(config: ExperimentConfig, key: str = "pg_spread") -> None:
    """An expander with the spread view of `config`; results are kept per config in session state."""
    with st.expander("🎲 Spread: train 16 seeds at once, or sweep the learning rate", expanded=False):
        st.caption("One batched computation trains every variant side by side (torch.bmm over a variant axis). "
                   "Seeds change the initial weights and the batch order; the data stay the same. "
                   f"Plain networks only (no dropout, norms, skip connections, penalties or clipping); "
                   f"at most {MAX_TOTAL_STEPS:,} steps per variant.")
        cols = st.columns([2, 2, 1])
        vary = cols[0].radio("Vary", ["seeds", "learning rate"], horizontal=True, key=f"{key}_vary",
                             format_func=lambda v: "16 seeds" if v == "seeds" else "learning rate (8 values)")
        epochs = cols[1].select_slider("Epochs per variant", EPOCH_CHOICES, value=20, key=f"{key}_epochs")
        asked = cols[2].button("▶ Train all", key=f"{key}_run", width="stretch")
        wanted = (config.to_json(), vary, epochs)
        if asked:
            with st.spinner("Training every variant at once..."):
                result, message = run_spread(config, vary, epochs)
            st.session_state[key] = (wanted, result, message)
        saved = st.session_state.get(key)
        if saved is None:
            st.info("Press **Train all** to train every variant of the current network at once.")
            return
        (saved_config, saved_vary, saved_epochs), result, message = saved
        if message:
            st.warning(message + " Turn those options off to compare seeds or learning rates.")
            return
        if (saved_config, saved_vary, saved_epochs) != wanted:
            st.caption("These curves are for an earlier setting; press **Train all** to redo them.")
        which = "test" if np.isfinite(result.test_loss).any() and st.toggle(
            "Show the test loss", key=f"{key}_test") else "train"
        st.plotly_chart(spread_figure(result, which), key=f"{key}_curves", config=static_chart_config("spread"))
        st.caption(spread_caption(result) + f" ({len(result.labels)} variants trained in {result.seconds:.2f} s.)")
        st.plotly_chart(final_loss_figure(result), key=f"{key}_final", config=static_chart_config("final-loss"))
        st.caption("Each point is one variant's train loss at the end. "
                   + ("A tight cluster means the result does not hang on luck."
                      if result.varied == "seed" else "Look for the widest range of rates that ends low."))
