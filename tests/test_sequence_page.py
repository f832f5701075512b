"""AppTest of the Sequence models page, and its run-state object as plain Python: the page
renders its charts and samples, widgets reach the config (hot ones keep the progress), Play
trains every model, pasted text is checked against its limits, and user text is only ever
shown as text."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as hst
from streamlit.testing.v1 import AppTest

from app_pages.common.frame_interval import LiveRuns
from app_pages.sequence.state import (SAMPLE_REFRESH_STEPS, SequenceLab, config_from_widgets, default_widgets,
                                      text_limits_message)
from engine.core.registries import OPTIMIZERS
from engine.sequence.trainer import MAX_TEXT, MIN_TEXT, CharLMConfig, CharModelConfig
from tests.chart_helpers import charts, live_keys

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "sequence" / "page.py")
HOSTILE = "<script>alert(1)</script> <b>bold</b> שלום עולם 🙂 مرحبا "


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def open_page(**widgets) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for k, v in widgets.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_renders_every_view_for_four_models():
    at = open_page()
    m = metrics(at)
    assert m["Step"] == "0"
    assert [k for k in m if k.endswith("bits/char")] == [f"{n}: bits/char" for n in ("RNN", "LSTM", "GRU",
                                                                                     "Transformer")]
    assert float(m["LSTM: bits/char"]) > 5  # untrained: about log2 of the vocabulary
    assert len(live_keys(at)) == 4  # loss, gradient through time, attention, hidden state
    assert len(at.code) == 4 and all(c.value.startswith("The ") for c in at.code)  # one sample per model
    assert not at.error


def test_widgets_reach_the_config_step_and_hot_changes_keep_progress():
    at = open_page(sq_models=["lstm", "transformer"], sq_context=16)
    at.select_slider(key="sq_lstm_hidden").set_value(32).run()
    at.selectbox(key="sq_transformer_heads").set_value(2).run()
    at.radio(key="sq_transformer_positions").set_value("sinusoidal").run()
    at.select_slider(key="sq_batch").set_value(16).run()
    assert not at.exception, [e.value for e in at.exception]
    config = at.session_state.sq_lab.trainer.config
    assert [m.arch for m in config.models] == ["lstm", "transformer"] and config.context == 16
    assert config.models[0].hidden == 32 and config.models[1].heads == 2
    assert config.models[1].positions == "sinusoidal" and config.batch_size == 16
    at.button(key="sq_step").click().run()
    trainer = at.session_state.sq_lab.trainer
    assert trainer.step_count == 10 and metrics(at)["Step"] == "10"
    at.select_slider(key="sq_lstm_lr").set_value(0.003).run()
    at.select_slider(key="sq_clip").set_value(5.0).run()
    assert at.session_state.sq_lab.trainer is trainer and trainer.step_count == 10
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.003 and trainer.config.clip_grad_norm == 5.0
    at.multiselect(key="sq_models").set_value(["gru", "transformer"]).run()  # structural: asks first (trained)
    assert at.session_state.sq_lab.trainer is trainer and asking(at)
    at.button(key="sq_replace").click().run()
    assert at.session_state.sq_lab.trainer is not trainer and at.session_state.sq_lab.labels == ["GRU", "Transformer"]
    at.multiselect(key="sq_models").set_value([]).run()
    assert any("at least one model" in e.value for e in at.error) and not at.exception


def asking(at: AppTest) -> bool:
    return any("needs new models" in w.value for w in at.warning)


def test_a_structural_change_asks_before_discarding_trained_models():
    at = open_page(sq_models=["rnn"], sq_corpus="text", sq_context=8, sq_batch=8, sq_rnn_hidden=16)
    at.button(key="sq_step").click().run()
    lab = at.session_state.sq_lab
    trainer, history = lab.trainer, list(lab.trainer.history)
    assert trainer.step_count == 10
    at.slider(key="sq_rnn_layers").set_value(2).run()
    assert not at.exception, [e.value for e in at.exception]
    assert asking(at) and any("models[0].layers" in w.value and "10 steps" in w.value for w in at.warning)
    assert at.session_state.sq_lab is lab and trainer.step_count == 10 and trainer.history == history
    at.select_slider(key="sq_rnn_lr").set_value(0.003).run()  # hot: still reaches the models that keep running
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.003 and trainer.config.models[0].layers == 1

    at.button(key="sq_keep").click().run()
    assert at.slider(key="sq_rnn_layers").value == 1 and at.select_slider(key="sq_rnn_lr").value == 0.003
    assert not asking(at) and at.session_state.sq_lab is lab and trainer.step_count == 10

    at.text_area(key="sq_text").set_value("a new text to read, and to read again. " * 3).run()  # deliberate
    assert not at.exception and not asking(at)
    assert at.session_state.sq_lab is not lab and at.session_state.sq_lab.trainer.step_count == 0

    at.button(key="sq_step").click().run()  # the buttons act on the new models at once
    assert at.session_state.sq_lab.trainer.step_count == 10
    at.slider(key="sq_rnn_layers").set_value(2).run()
    assert asking(at)
    at.button(key="sq_replace").click().run()
    fresh = at.session_state.sq_lab.trainer
    assert not asking(at) and fresh.config.models[0].layers == 2 and fresh.step_count == 0


def test_play_trains_every_model_and_pause_stops():
    at = open_page(sq_models=["rnn", "transformer"], sq_context=16, sq_batch=8)
    at.button(key="sq_play").click().run()
    assert at.session_state.sq_lab.playing
    at.run()
    lab = at.session_state.sq_lab
    assert lab.trainer.step_count > 0 and lab.trainer.loss_steps().shape[1] == 2
    assert np.all(np.isfinite(lab.trainer.loss_steps()))
    at.button(key="sq_pause").click().run()  # Pause
    assert not at.session_state.sq_lab.playing
    at.button(key="sq_reset").click().run()
    assert metrics(at)["Step"] == "0" and at.session_state.sq_lab is not lab


def test_pasted_text_limits_and_user_text_shown_as_text_only():
    at = open_page(sq_models=["lstm", "transformer"], sq_context=16)
    at.radio(key="sq_corpus").set_value("text").run()
    lab = at.session_state.sq_lab
    at.text_area(key="sq_text").set_value("too short").run()
    assert any("at least 20" in e.value for e in at.error)
    assert at.session_state.sq_lab is lab  # the last valid models are kept
    at.text_area(key="sq_text").set_value(HOSTILE * 5).run()
    at.text_input(key="sq_prompt").set_value("<b>x</b> 🙂 Ωmega").run()
    at.text_input(key="sq_probe").set_value("שלום <script> 🙂 Ω").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state.sq_lab.trainer.config.text == HOSTILE * 5
    warnings = " ".join(w.value for w in at.warning)
    assert "GREEK CAPITAL LETTER OMEGA" in warnings  # Ω is not in the pasted text: named and left out
    assert all(c.value.startswith("<b>x</b> 🙂 Ωmega") for c in at.code)  # the prompt, verbatim, as code
    for md in at.markdown:  # nothing the user typed reaches Markdown
        assert "<script>" not in md.value and "<b>" not in md.value
    assert len(charts(at)) == 4


def test_too_long_text_is_refused_with_the_limit():
    assert "200,000" in text_limits_message("x" * (MAX_TEXT + 1))
    assert text_limits_message("x" * 50) is None and "at least" in text_limits_message("abc")


def test_config_from_widgets_and_the_run_state_without_streamlit():
    widgets = default_widgets() | {"sq_models": ["transformer", "rnn"], "sq_context": 8, "sq_rnn_hidden": 16}
    config = config_from_widgets(widgets, seed=5)
    assert [m.arch for m in config.models] == ["rnn", "transformer"] and config.seed == 5  # page order
    lab = SequenceLab.build(CharLMConfig(corpus="text", text="abcabd " * 20, context=8, batch_size=8,
                                         models=[CharModelConfig("rnn", hidden=16),
                                                 CharModelConfig("transformer", hidden=16, heads=2)]))
    assert set(lab.samples) == {0, 1} and len(lab.gtt) == 2 and lab.tick() == 0.0  # paused: nothing trains
    lab.play()
    for _ in range(4):
        lab.tick(budget_s=0.05)
    assert lab.trainer.step_count > 0 and lab.steps_per_second > 0
    lab.trainer.step(SAMPLE_REFRESH_STEPS)
    before = dict(lab.samples)
    lab.refresh_one_sample()  # one model per frame, round robin
    assert sum(lab.samples[i] != before[i] for i in before) == 1
    lab.set_sampling("ab", 0.0, 0, 30)
    assert all(s[0] == lab.trainer.step_count and len(s[1]) == 30 for s in lab.samples.values())
    assert len(lab.forgetting_summary()) == 2


def test_the_labs_pacer_starts_and_stops_with_play_and_gives_each_tick_its_budget():
    lab = SequenceLab.build(CharLMConfig(corpus="text", text="abcabd " * 20, context=8, batch_size=8,
                                         models=[CharModelConfig("rnn", hidden=16)]))
    lab.pace.runs = runs = LiveRuns()  # its own registry: the server-wide one is shared with other tests
    assert lab.pace.run_every(False) is None  # paused: the live view asks for no frames
    events = []
    lab.trainer.train_for = lambda budget: events.append(("train", round(budget, 6)))
    lab.play()
    lab.pace.frame_started()
    assert runs.ticked(0) == 2  # the lab and the asking run
    assert lab.pace.run_every(True) == 1.5  # the page's own pace while its frames fit in it
    lab.tick(trained=lambda: events.append(("drawing starts",)))
    assert events == [("train", 0.825), ("drawing starts",)]  # 75 % of 1.5 s, less 0.3 s of drawing
    lab.pace.draw_seconds = 1.0  # a slow drawing leaves less of the frame to train
    lab.pace.run_every(True)
    lab.tick()
    assert events[-1] == ("train", 0.125)
    lab.pause()
    assert runs.ticked(0) == 1  # paused: no longer a share of the server
    lab.play()
    assert lab.pace._frames_since_play == 0  # Play measures the browser's pace afresh
    lab.pace.frame_started()

    def fail(budget):
        raise RuntimeError("out of luck")
    lab.trainer.train_for = fail
    lab.tick()
    assert not lab.playing and "out of luck" in lab.message
    assert runs.ticked(0) == 1  # stopped by itself: the pacer left the server's count too


def test_figures_escape_typed_characters_show_the_mask_and_check_shapes():
    from viz.sequence import attention_figure, hidden_state_figure, loss_figure
    w = np.tril(np.ones((1, 2, 3, 3)))
    w /= w.sum(-1, keepdims=True)
    fig = attention_figure(w, "<b ")
    assert list(fig.layout.xaxis.ticktext) == ["&lt;", "b", "␣"]  # escaped for plotly, space made visible
    z = np.array(fig.data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and np.isnan(z[1, 2]) and z[2, 0] == pytest.approx(1 / 3)  # the mask: no future
    with pytest.raises(ValueError, match="layers, heads, T, T"):
        attention_figure(np.ones((2, 3, 3)), "abc")
    with pytest.raises(ValueError, match="T, units"):
        hidden_state_figure(np.ones((4, 8)), "abc")
    fig = loss_figure(["RNN", "LSTM"], ["rnn", "lstm"], np.full((50, 2), 2.0), [1, 50], [[2.1, 2.2], [1.9, 2.0]])
    left, right = fig.layout.yaxis.range, fig.layout.yaxis2.range
    assert right[1] == pytest.approx(left[1] * np.log(2))  # the same curve in nats on the right


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_and_a_custom_setup():
    from app_pages.sequence.state import MAX_ADDRESS_TEXT, widgets_from_query, widgets_to_query
    defaults = default_widgets()
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    custom = {**defaults, "sq_models": ["transformer", "gru"], "sq_corpus": "text", "sq_text": " " + HOSTILE * 3 + "\n",
              "sq_context": 96, "sq_batch": 8, "sq_clip": 0.25, "sq_gru_hidden": 16, "sq_gru_layers": 3,
              "sq_gru_dropout": 0.35, "sq_gru_optimizer": "sgd", "sq_gru_lr": 0.3, "sq_transformer_heads": 8,
              "sq_transformer_positions": "sinusoidal", "sq_rnn_lr": 0.0003}  # rnn's tab: set, though not trained
    none = {**defaults, "sq_models": [], "sq_corpus": "readme"}
    for values in (custom, none):
        query = widgets_to_query(values, 11)
        restored, problems = widgets_from_query(query)
        assert not problems and {**defaults, **restored} == values, query
    assert widgets_to_query(none, 11) == {"models": "", "corpus": "readme", "train.seed": "11"}
    assert widgets_to_query(custom, 1)["gru.dropout"] == "0.35" and widgets_to_query(custom, 1)["rnn.lr"] == "0.0003"
    # A pasted text longer than the address takes is left out (the page says so); so is a text of another corpus.
    long_text = {**custom, "sq_text": "x" * (MAX_ADDRESS_TEXT + 1)}
    assert "text" not in widgets_to_query(long_text, 1) and widgets_to_query(long_text, 1)["corpus"] == "text"
    assert "text" not in widgets_to_query({**custom, "sq_corpus": "tweets"}, 1)


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.sequence.state import widgets_from_query
    values, problems = widgets_from_query({"models": "lstm,cnn", "corpus": "text", "text": "short", "context": "20",
                                           "lstm.layers": "2", "lstm.dropout": "0.33", "gru.dropout": "0.1",
                                           "transformer.heads": "3", "rnn.lr": "0.01", "clip": "off"})
    assert values == {"sq_corpus": "text", "sq_lstm_layers": 2, "sq_gru_dropout": 0.1, "sq_rnn_lr": 0.01}
    assert problems == ["models='lstm,cnn' was ignored: no model named 'cnn'",
                        "text='short' was ignored: a text of 20 to 200,000 characters",
                        "context='20' was ignored: not one of 8, 16, 24, 32, 48, 64, 96, 128",
                        "clip='off' was ignored: not one of 0, 0.25, 1, 5",
                        "lstm.dropout='0.33' was ignored: a number from 0 to 0.5 in steps of 0.05",
                        "transformer.heads='3' was ignored: not one of 1, 2, 4, 8"]


def address_warnings(at: AppTest) -> list[str]:
    # the pasted text has no "T": the prompt's is named in another warning
    return [w.value for w in at.warning if w.value.startswith("The address")]


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    text = "the cat and the hat and the bat. " * 4
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update({"models": "lstm,transformer", "corpus": "text", "text": text, "context": "16",
                            "lstm.hidden": "32", "transformer.heads": "3", "train.seed": "2"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert address_warnings(at) == [
        "The address: " + md_escape("transformer.heads='3' was ignored: not one of 1, 2, 4, 8") + "."]
    assert at.multiselect(key="sq_models").value == ["lstm", "transformer"]
    assert at.text_area(key="sq_text").value == text
    config = at.session_state.sq_lab.trainer.config
    assert ([m.arch for m in config.models], config.text, config.context, config.models[0].hidden, config.seed) == (
        ["lstm", "transformer"], text, 16, 32, 2)
    assert at.query_params == {"models": "lstm,transformer", "corpus": "text", "text": text, "context": "16",
                               "lstm.hidden": "32", "train.seed": "2"}
    at.select_slider(key="sq_transformer_lr").set_value(0.003).run()
    assert at.query_params["transformer.lr"] == "0.003" and not address_warnings(at)  # the warning is shown once
    at.text_area(key="sq_text").set_value("a much longer text, " * 30).run()
    assert "text" not in at.query_params and any("not in the page's address" in c.value for c in at.caption)


# ---------- any setup the address can carry opens; hostile values are each named ----------
@hst.composite
def address_setups(draw) -> tuple[dict, int]:
    """Widget values from the whole domain the page's address carries, and a seed."""
    from app_pages.sequence.state import (ARCHS, BATCH_SIZES, CLIP_NORMS, CONTEXTS, CORPUS_LABELS, DROPOUT_STEP, HEADS,
                                          HIDDEN_SIZES, LEARNING_RATES, MAX_ADDRESS_TEXT, MAX_DROPOUT, MAX_LAYERS,
                                          POSITIONS)
    values = {**default_widgets(), "sq_models": draw(hst.lists(hst.sampled_from(ARCHS), unique=True)),
              "sq_corpus": draw(hst.sampled_from(list(CORPUS_LABELS))), "sq_context": draw(hst.sampled_from(CONTEXTS)),
              "sq_batch": draw(hst.sampled_from(BATCH_SIZES)), "sq_clip": draw(hst.sampled_from(CLIP_NORMS)),
              "sq_transformer_heads": draw(hst.sampled_from(HEADS)),
              "sq_transformer_positions": draw(hst.sampled_from(POSITIONS))}
    if values["sq_corpus"] == "text":
        values["sq_text"] = draw(hst.text(min_size=20, max_size=MAX_ADDRESS_TEXT))
    for a in ARCHS:
        values.update({f"sq_{a}_hidden": draw(hst.sampled_from(HIDDEN_SIZES)),
                       f"sq_{a}_layers": draw(hst.integers(1, MAX_LAYERS)),
                       f"sq_{a}_dropout": round(draw(hst.integers(0, round(MAX_DROPOUT / DROPOUT_STEP))) * DROPOUT_STEP,
                                                2),
                       f"sq_{a}_optimizer": draw(hst.sampled_from(list(OPTIMIZERS))),
                       f"sq_{a}_lr": draw(hst.sampled_from(LEARNING_RATES))})
    return values, draw(hst.integers(0, 2**31 - 1))


def _open_address(query: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _plain(notes: list[str]) -> list[str]:
    """The lines as the reader sees them (the address's text in them is escaped Markdown), each one line."""
    assert all("\n" not in n and len(n) < 600 for n in notes), notes
    return [re.sub(r"\\(.)", r"\1", n) for n in notes]


# Each example opens the page (a second or more): a failure is reported as drawn, not shrunk for minutes.
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(address_setups())
def test_any_setup_the_address_carries_opens_as_asked_or_names_what_it_uses(setup):
    from app_pages.sequence.state import URL_PARAMS, widgets_to_query
    values, seed = setup
    query = widgets_to_query(values, seed)
    at = _open_address(query)
    notes = _plain(address_warnings(at) + [e.value for e in at.error])
    assert at.session_state.global_seed == seed
    for p in URL_PARAMS:  # each widget shows what the address asked, or a line names what it could not
        if p.name in query and at.session_state[p.key] != values[p.key]:
            assert any(p.name in n for n in notes), (p.name, notes)
    lab = at.session_state["sq_lab"] if "sq_lab" in at.session_state else None
    if lab is not None:  # the models built are those the widgets show; otherwise one line says why not
        assert lab.trainer.config == config_from_widgets(at.session_state, seed)
    else:
        assert at.error or not values["sq_models"], notes


# Streamlit drops a whole query string longer than 524,288 characters: the long string below goes
# into ten parameters at once and stays under that.
HOSTILE_VALUES = {"a 5,000-digit number": "9" * 5000, "a superscript two": "²", "nan": "nan", "inf": "inf",
                  "-inf": "-inf", "empty": "", "an unknown name": "cnn", "a very long string": "x" * 40_000}
TARGETS = ["context", "batch", "clip", "lstm.layers", "gru.dropout", "transformer.heads", "rnn.optimizer", "corpus"]


@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
def test_hostile_address_values_are_each_one_line_and_the_others_apply(kind):
    """Each value in several parameters at once: every one is named in its own line (quoting at most
    200 characters of it), the seed falls back to 0, and the sound parameters beside them apply."""
    from app_pages.sequence.state import CORPUS_LABELS
    bad = HOSTILE_VALUES[kind]
    query = {**{name: bad for name in TARGETS}, "train.seed": bad, "models": "rnn,gru", "rnn.hidden": "16",
             "gru.hidden": "16", "text": bad}
    at = _open_address(query)
    notes = _plain(address_warnings(at))
    for name in TARGETS:
        assert sum(n.startswith(f"The address: {name}=") for n in notes) == 1, (name, notes)
    text_refused = not MIN_TEXT <= len(bad) <= MAX_TEXT  # as a pasted text, a long string is a fine one
    assert len(notes) == len(TARGETS) + text_refused
    assert text_refused == any(n.startswith("The address: text=") for n in notes)
    assert at.session_state.global_seed == 0 and "seed_warning" in at.session_state
    assert at.session_state.sq_corpus in CORPUS_LABELS
    assert at.session_state.sq_context == default_widgets()["sq_context"]
    config = at.session_state.sq_lab.trainer.config
    assert [m.arch for m in config.models] == ["rnn", "gru"] and [m.hidden for m in config.models] == [16, 16]
