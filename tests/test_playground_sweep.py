"""The spread view (app_pages/playground/sweep.py + viz/sweep.py): it renders, trains every
variant on Train all, draws the curves, and refuses networks it cannot batch with a warning."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine import ExperimentConfig
from engine.mlp.batched_mlp import SpreadResult, train_spread
from viz.sweep import final_loss_figure, spread_caption, spread_figure


def _open(config: ExperimentConfig) -> AppTest:
    source = ("from app_pages.playground.sweep import spread_section\n"
              "from engine import ExperimentConfig\n"
              f"spread_section(ExperimentConfig.from_json({config.to_json(indent=None)!r}))\n")
    at = AppTest.from_string(source, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


SMALL = ExperimentConfig.from_dict({"data": {"n_samples": 200}, "model": {"hidden": [4, 2]}})


def test_train_all_draws_sixteen_seeds_then_a_learning_rate_sweep():
    at = _open(SMALL)
    assert not at.get("plotly_chart") and "Train all" in at.info[0].value
    at.select_slider(key="pg_spread_epochs").set_value(5)
    at.button(key="pg_spread_run").click().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    result = at.session_state.pg_spread[1]
    assert result.labels[0] == "seed 0" and len(result.labels) == 16 and result.epochs[-1] == 5
    assert "16 seeds, 5 epochs each" in " ".join(c.value for c in at.caption)
    at.radio(key="pg_spread_vary").set_value("learning rate").run()
    assert "earlier setting" in " ".join(c.value for c in at.caption)
    at.button(key="pg_spread_run").click().run()
    assert at.session_state.pg_spread[1].varied == "lr" and not at.exception


def test_a_network_with_dropout_gets_a_warning_not_a_traceback():
    at = _open(SMALL.replace(model={"dropout": 0.2}))
    at.button(key="pg_spread_run").click().run()
    assert not at.exception and "dropout" in at.warning[0].value


def test_figures_say_what_happened():
    result = train_spread(SMALL, seeds=[0, 1, 2, 3], epochs=2, points=5)
    fig = spread_figure(result)
    assert len(fig.data) == 1 + 4 + 1  # band, one line per seed, the median
    assert fig.layout.yaxis.title.text == "train loss"
    median = np.median(result.train_loss, axis=0)
    np.testing.assert_allclose(fig.data[-1].y, median)
    assert spread_figure(result, "test").layout.yaxis.title.text == "test loss"
    assert "4 seeds, 2 epochs each" in spread_caption(result)

    sweep = SpreadResult(labels=["lr 0.1", "lr 10"], varied="lr", values=[0.1, 10.0], steps=[0, 5], epochs=[0, 1],
                         train_loss=np.array([[0.7, 0.3], [0.7, np.nan]]), test_loss=np.full((2, 2), np.nan))
    assert spread_figure(sweep).layout.yaxis.type == "log"
    assert "lr 0.1 ends lowest" in spread_caption(sweep) and "1 diverged" in spread_caption(sweep)
    assert [t.name for t in final_loss_figure(sweep).data] == ["final train loss", "diverged (NaN/inf)"]
    with pytest.raises(ValueError, match="which"):
        spread_figure(result, "validation")
