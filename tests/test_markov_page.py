"""The Markov chain part of the Sequence models page. AppTest: the address opens its tab, it renders
its counts, a sample and its two charts, its line joins the networks' loss chart at their step with
the held-out bits per character an independent chain gives after reading as many characters; a new
order, switching it off and a restored run. Plain Python: keeping in step, Reset, the flat end."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.sequence.markov_state import MarkovBaseline, baseline_for, markov_label
from engine.sequence.markov import MarkovConfig, MarkovTrainer
from engine.sequence.trainer import CharLMConfig, CharLMTrainer, CharModelConfig
from tests.chart_helpers import charts
from tests.test_sequence_page import PAGE, metrics, one_thread  # noqa: F401 (a fixture)

SMALL = {"models": "gru", "corpus": "readme", "context": "16", "batch": "8", "gru.hidden": "16", "tab": "markov"}


def _open(key: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    if key:
        at.session_state["np_session_key"] = key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markov_lines(at: AppTest) -> list[dict]:
    return [d for d in charts(at)["sq_loss"]["data"] if (d.get("name") or "").startswith("Markov chain")]


def test_the_tab_renders_and_its_line_is_an_independent_chain_after_as_many_characters():
    at = _open(**SMALL)
    assert at.session_state.sq_view == "Markov chain baseline"
    assert {"sq_loss", "sq_markov_matrix", "sq_markov_orders"} <= set(charts(at)) and len(at.code) == 2
    assert metrics(at)["Characters counted"].startswith("0 of ")
    at.button(key="sq_step").click().run()  # 10 steps of 8 windows of 16 characters
    trainer = at.session_state.sq_lab.trainer
    assert metrics(at)["Characters counted"].startswith("1,280 of ")
    (line,) = markov_lines(at)
    assert line["name"] == "Markov chain (order 3)" and line["x"][0] == 0 and line["x"][-1] == 10
    alone = MarkovTrainer(MarkovConfig.for_charlm(trainer.config, 3, 0.01, chunk_chars=1280), "cpu")
    expected = alone.step(1).test_bits_per_char  # the same 1,280 characters counted in one go
    assert line["y"][-1] == pytest.approx(expected, rel=1e-12)
    assert metrics(at)["Held out: bits/char"] == f"{expected:.2f}"
    sample = at.code[1].value  # the networks' sample first, then the chain's
    assert sample.startswith("The ") and len(sample) == len("The ") + 160

    at.select_slider(key="sq_markov_order").set_value(5).run()
    assert [d["name"] for d in markov_lines(at)] == [markov_label(5)] and at.query_params["markov.order"] == "5"
    assert metrics(at)["Characters counted"].startswith("1,280 of ")  # refitted at once to the same point
    at.toggle(key="sq_markov_on").set_value(False).run()
    assert not markov_lines(at) and at.query_params["markov"] == "false" and not at.exception


def test_the_chain_comes_back_with_restored_networks():
    key = "m" * 32
    at = _open(key, **{**SMALL, "markov.order": "2"})
    at.button(key="sq_step").click().run()
    back = _open(key, **at.query_params)  # a reload: the networks restored, the chain counted again
    assert back.session_state.sq_lab.trainer.step_count == 10 and back.session_state.sq_markov_order == 2
    assert metrics(back)["Characters counted"] == metrics(at)["Characters counted"]
    assert markov_lines(back) == markov_lines(at)


def test_baseline_keeps_in_step_starts_afresh_after_reset_and_runs_flat_once_read():
    config = CharLMConfig(corpus="text", text="the cat sat on the mat. " * 60, context=8, batch_size=8,
                          models=[CharModelConfig("gru", hidden=8)])
    charlm = CharLMTrainer(config, "cpu")
    state = {"sq_markov_on": True, "sq_markov_order": 2, "sq_markov_k": 0.1}
    charlm.step(3)
    baseline = baseline_for(state, charlm)
    assert baseline.trainer.train_chars_seen == 3 * 64 and baseline.curve(3)[0] == [0.0, 3.0]
    charlm.step(100)  # more than the whole training text
    assert baseline_for(state, charlm) is baseline and baseline.trainer.finished
    xs, ys = baseline.curve(charlm.step_count)
    assert xs[-1] == 103 and ys[-1] == ys[-2] and np.all(np.diff(xs) > 0)
    fresh = CharLMTrainer(config, "cpu")  # Reset: new networks at step 0
    again = baseline_for(state, fresh)
    assert again is not baseline and again.trainer.train_chars_seen == 0
    assert baseline_for({**state, "sq_markov_on": False}, fresh) is None
    sweep = MarkovBaseline(charlm, 2, 0.1).order_sweep()  # one order-5 count, scored at every order
    own = MarkovTrainer(MarkovConfig.for_charlm(config, 2, 0.1), "cpu")
    own.step(10**6)
    assert sweep["orders"] == [1, 2, 3, 4, 5] and (sweep["test"][1], sweep["train"][1]) == pytest.approx(
        own.bits_per_char(), rel=1e-12)


def test_transition_figure_escapes_characters_and_checks_its_shape():
    from viz.markov import transition_figure
    fig = transition_figure(["<", " ", "1"], np.eye(3))
    assert list(fig.data[0].x) == ["&lt; ", "␣ ", "1 "] and fig.layout.xaxis.type == "category"
    with pytest.raises(ValueError, match="characters, characters"):
        transition_figure(["a", "b"], np.eye(3))
