"""AppTest of the Sentiment lab: it renders the class balance and the curves, widgets reach the
config (hot ones keep the run), Step and Play train and bring the test results, an uploaded
CSV trains, and typed text (empty, long, emoji, HTML) is shown safely."""
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as hst
from streamlit.testing.v1 import AppTest

from app_pages.sentiment.state import SentimentLab, numbers_in_words, read_upload
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.sentiment.trainer import SentimentConfig
from tests.chart_helpers import charts, live_keys
from viz.sentiment import highlight_html


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the app and the CLI run: small models on one CPU thread (two threads only fight)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "sentiment" / "page.py")


def open_page(**widgets) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["sn_max_rows"] = 1000  # a small stratified sample keeps the test fast
    for key, value in widgets.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def html_bodies(at: AppTest) -> list[str]:
    return [el.proto.body for el in at.get("html")]


def test_page_renders_steps_and_shows_the_test_results():
    at = open_page()
    assert metrics(at)["Epoch"] == "0.00"
    # balance, loss, accuracy, probabilities, attributions; the live curves drawn in place
    assert len(charts(at)) == 5 and live_keys(at) == {"sn_loss_curve", "sn_acc_curve"}
    assert not at.error
    lab = at.session_state.sn_lab
    assert lab.trainer.config.data.max_rows == 1000 and lab.trainer.class_names == ["negative", "neutral", "positive"]
    at.button(key="sn_step").click().run()
    assert not at.exception
    t = lab.trainer
    assert t.step_count == min(t._check_marks) and metrics(at)["Epoch"] == f"{t.step_count / t.steps_per_epoch:.2f}"
    assert len(charts(at)) == 6  # + per-class bars (Plotly)
    assert [c.key for c in at.get("vega_lite_chart")] == ["sn_confusion_cells"]  # the clickable matrix (Altair)
    text = " ".join(md.value for md in at.markdown)
    assert "Test accuracy" in text and "always answering" in text
    assert len(at.dataframe) == 2  # how a text becomes numbers, misclassified examples


def test_widgets_reach_the_config_and_hot_ones_keep_the_run():
    at = open_page()
    at.selectbox(key="sn_rep").set_value("bow").run()
    at.slider(key="sn_depth").set_value(0).run()
    at.radio(key="sn_classes").set_value(2).run()
    at.selectbox(key="sn_loss").set_value("hinge").run()
    assert not at.exception
    config = at.session_state.sn_lab.trainer.config
    assert config.model.representation == "bow" and config.model.hidden == [] and config.data.n_classes == 2
    assert config.train.loss == "hinge" and at.session_state.sn_lab.trainer.class_names == ["negative", "positive"]
    at.button(key="sn_step").click().run()
    trainer = at.session_state.sn_lab.trainer
    steps = trainer.step_count
    at.select_slider(key="sn_lr").set_value(0.01).run()
    at.slider(key="sn_epochs").set_value(9).run()
    assert at.session_state.sn_lab.trainer is trainer and trainer.step_count == steps
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01 and trainer.config.train.epochs == 9
    # a linear classifier on bag of words: the page says the parts add up exactly
    assert any("exact" in c.value for c in at.caption)


def test_play_trains_live_and_pause_stops():
    at = open_page()
    at.button(key="sn_play").click().run()
    lab = at.session_state.sn_lab
    assert lab.playing or lab.message.startswith("Done")  # a quiet machine can finish the epochs in one frame
    for _ in range(2):
        at.run()
    assert at.session_state.sn_lab.trainer.step_count > 0
    if at.session_state.sn_lab.playing:
        at.button(key="sn_pause").click().run()  # Pause
    assert not at.session_state.sn_lab.playing and not at.exception


def test_typed_text_is_shown_as_text_never_run():
    at = open_page()
    at.text_area(key="sn_sentence").set_value("").run()
    assert any("Type a sentence" in i.value for i in at.info)
    evil = "<script>alert('x')</script> <img src=x onerror=alert(1)> I love it 😀 " + "very " * 300
    at.text_area(key="sn_sentence").set_value(evil[:2000]).run()
    assert not at.exception
    body = html_bodies(at)[0]
    assert "<script" not in body and "<img" not in body
    assert "&lt;</span>" in body and "😀" in body  # the brackets are shown as text
    at.radio(key="sn_method").set_value("occlusion").run()
    at.selectbox(key="sn_target").set_value("positive").run()
    assert not at.exception and "Occlusion" in " ".join(c.value for c in at.caption)


def test_an_uploaded_csv_is_used_and_a_bad_one_is_explained():
    good = b"text,label\n" + b"".join(b"good day %d,pos\nbad day %d,neg\n" % (i, i) for i in range(15))
    assert read_upload(b"name,score\nx,1\n")[1].startswith("This file cannot be used: the header must name")
    at = open_page(sn_source="upload", sn_val=0.2, sn_test=0.2)
    assert any("Upload a CSV" in i.value for i in at.info) and "sn_lab" not in at.session_state
    at.file_uploader(key="sn_upload").upload("mine.csv", good, "text/csv").run()
    assert not at.exception and not at.error
    trainer = at.session_state.sn_lab.trainer
    assert trainer.class_names == ["neg", "pos"] and len(trainer.data.y) == 30
    for bad, words in ((b"", "empty"), (b"words,score\nhi,1\n", "header must name"),
                       (b"text,label\n" + b"x,y\n" * 40, "one class")):
        at.file_uploader(key="sn_upload").upload("bad.csv", bad, "text/csv").run()
        assert not at.exception and any(words in e.value for e in at.error), [e.value for e in at.error]
        assert at.session_state.sn_lab.trainer is trainer  # the last good file and its run are kept
    at.button(key="sn_step").click().run()
    assert trainer.step_count > 0
    other = good.replace(b"day", b"night")
    at.file_uploader(key="sn_upload").upload("other.csv", other, "text/csv").run()  # deliberate: no question
    assert not at.exception and not any("needs a new network" in w.value for w in at.warning)
    assert at.session_state.sn_lab.trainer is not trainer and at.session_state.sn_lab.trainer.step_count == 0
    assert "good night 0" in at.session_state.sn_lab.trainer.data.texts


def test_the_transformer_trains_and_a_structural_change_starts_a_new_run():
    at = open_page(sn_rep="transformer", sn_embed=16, sn_max_tokens=16)
    lab = at.session_state.sn_lab
    at.button(key="sn_step").click().run()
    assert not at.exception and lab.trainer.step_count > 0
    assert any(row for row in at.dataframe[0].value.to_dict("records") if row["word"])  # the ids table
    at.select_slider(key="sn_heads").set_value(8).run()
    assert not at.exception and at.session_state.sn_lab is lab and asking(at)  # it has trained: asks first
    at.button(key="sn_replace").click().run()
    assert not at.exception and at.session_state.sn_lab is not lab
    assert at.session_state.sn_lab.trainer.config.model.heads == 8


def asking(at: AppTest) -> bool:
    return any("needs a new network" in w.value for w in at.warning)


def test_a_structural_change_asks_before_discarding_a_trained_model():
    at = open_page()
    at.button(key="sn_step").click().run()
    lab = at.session_state.sn_lab
    trainer, steps, history = lab.trainer, lab.trainer.step_count, list(lab.trainer.history)
    assert steps > 0
    at.selectbox(key="sn_activation").set_value("tanh").run()
    assert not at.exception, [e.value for e in at.exception]
    assert asking(at) and any("model.activation" in w.value and f"{steps} steps" in w.value for w in at.warning)
    assert at.session_state.sn_lab is lab and trainer.step_count == steps and trainer.history == history
    assert trainer.config.model.activation == "relu"
    at.select_slider(key="sn_lr").set_value(0.01).run()  # hot: still reaches the model that keeps running
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01 and trainer.config.train.lr == 0.01

    at.button(key="sn_keep").click().run()
    assert at.selectbox(key="sn_activation").value == "relu" and at.select_slider(key="sn_lr").value == 0.01
    assert not asking(at) and at.session_state.sn_lab is lab and trainer.step_count == steps

    at.selectbox(key="sn_activation").set_value("tanh").run()
    at.button(key="sn_replace").click().run()
    assert not at.exception and not asking(at)
    fresh = at.session_state.sn_lab.trainer
    assert fresh is not trainer and fresh.config.model.activation == "tanh" and fresh.step_count == 0
    assert fresh.config.train.lr == 0.01


def test_lab_step_and_stop_messages_without_streamlit():
    config = SentimentConfig.from_dict({"data": {"max_rows": 1000}, "train": {"epochs": 1}})
    lab = SentimentLab.build(config)
    lab.step()
    assert lab.trainer.step_count == round(lab.trainer.steps_per_epoch / 4)
    lab.play()
    while lab.playing:
        lab.tick(0.5)
    assert lab.trainer.finished and lab.message.startswith("Done")
    assert "&lt;b&gt;" in highlight_html("<b>hi</b>", [(3, 5)], [1.0])


def test_overfitting_is_named_only_when_the_curves_show_it():
    class Run:
        def __init__(self, val, train):
            self.history = [{"epoch": i / 2, "val_loss": v, "train_loss": t, "train_accuracy": 0.8,
                             "val_accuracy": 0.7} for i, (v, t) in enumerate(zip(val, train))]
    assert numbers_in_words(Run([1.1, 0.6, 0.55, 0.6, 0.64], [1.1, 0.6, 0.5, 0.4, 0.3])).startswith("**Overfitting**")
    assert "lowest at epoch 1.00" in numbers_in_words(Run([1.1, 0.6, 0.55, 0.6, 0.64], [1.1, 0.6, 0.5, 0.4, 0.3]))
    assert "still falling" in numbers_in_words(Run([1.1, 0.6, 0.55, 0.54, 0.53], [1.1, 0.6, 0.5, 0.4, 0.3]))


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_and_a_custom_setup():
    import re

    from app_pages.sentiment.state import URL_PARAMS, default_widgets, widgets_from_query, widgets_to_query
    names, keys = [p.name for p in URL_PARAMS], [p.key for p in URL_PARAMS]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)?", n) and len(n) <= 24
                                                 for n in names)
    assert not {"embed", "embed_options"} & set(names)  # Streamlit's own parameters: a page cannot set them
    assert set(keys) <= set(default_widgets())
    defaults = default_widgets()
    assert all(p.parse(p.format(defaults[p.key])) == defaults[p.key] for p in URL_PARAMS)
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    values = {**defaults, "sn_source": "upload", "sn_classes": 2, "sn_min_conf": 0.85, "sn_dedup": False,
              "sn_max_rows": 5000, "sn_val": 0.2, "sn_test": 0.05, "sn_rep": "transformer", "sn_vocab": 500,
              "sn_embed": 16, "sn_max_tokens": 128, "sn_layers": 3, "sn_heads": 8, "sn_ngram_widths": [1, 5],
              "sn_filters": 128, "sn_depth": 0, "sn_width": 512,
              "sn_activation": "tanh", "sn_dropout": 0.7, "sn_loss": "hinge", "sn_optimizer": "rmsprop",
              "sn_lr": 0.0001, "sn_batch": 8, "sn_epochs": 50, "sn_patience": 3, "sn_l2": 1e-5,
              "sn_sentence": "  Not bad\nat all :)", "sn_method": "occlusion", "sn_target": "positive"}
    query = widgets_to_query(values, 11)
    assert query == {"data": "csv", "classes": "2", "min_conf": "0.85", "dedup": "false", "rows": "5000", "val": "0.2",
                     "test": "0.05", "representation": "transformer", "vocab": "500", "embedding": "16",
                     "tokens": "128", "layers": "3", "heads": "8", "ngrams": "1,5", "filters": "128", "depth": "0",
                     "width": "512", "activation": "tanh",
                     "dropout": "0.7", "loss": "hinge", "optimizer": "rmsprop", "lr": "0.0001", "batch": "8",
                     "epochs": "50", "patience": "3", "l2": "1e-05", "text": "  Not bad\nat all :)",
                     "method": "occlusion", "explain": "positive", "train.seed": "11"}
    restored, problems = widgets_from_query(query)
    assert not problems and {**defaults, **restored} == values
    assert widgets_from_query({"rows": "all", "dropout": "0"}) == ({"sn_max_rows": 0, "sn_dropout": 0.0}, [])
    # A long sentence, and a class of someone's CSV, are not in the address.
    assert widgets_to_query({**defaults, "sn_sentence": "so good " * 70, "sn_target": "pos"}, 0) == {"train.seed": "0"}


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.sentiment.state import widgets_from_query
    values, problems = widgets_from_query({
        "data": "upload", "classes": "2", "min_conf": "0.33", "dedup": "no", "rows": "3000", "representation": "bow",
        "embedding": "100", "layers": "5", "depth": "2", "dropout": "0.9", "lr": "0.02", "epochs": "0", "l2": "0.001",
        "text": "x" * 600, "method": "lime", "explain": "neutral", "heads.layer": "2"})
    assert values == {"sn_classes": 2, "sn_rep": "bow", "sn_depth": 2, "sn_l2": 0.001}
    assert problems == [
        "data='upload' was ignored: not one of tweets, csv",
        "min_conf='0.33' was ignored: a number from 0 to 1 in steps of 0.05",
        "dedup='no' was ignored: not one of true, false",
        "rows='3000' was ignored: not one of 1000, 2000, 5000, 10000, 20000, all",
        "embedding='100' was ignored: not one of 16, 32, 64, 128",
        "layers='5' was ignored: a whole number from 1 to 4",
        "dropout='0.9' was ignored: a number from 0 to 0.8 in steps of 0.1",
        "lr='0.02' was ignored: not one of 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1",
        "epochs='0' was ignored: a whole number from 1 to 50",
        f"text='{'x' * 200}…' was ignored: a text of at most 500 characters",
        "method='lime' was ignored: not one of gradient, occlusion",
        "explain='neutral' was ignored: with 2 classes there is no neutral class"]


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    from app_pages.common.text import md_escape
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.query_params.update({"classes": "2", "rows": "1000", "representation": "bow", "depth": "0", "lr": "0.01",
                            "batch": "100", "text": "What a lovely crew", "explain": "positive", "train.seed": "5"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The address: " + md_escape("batch='100' was ignored: not one of 8, 16, 32, 64, 128, 256, 512") + "."]
    assert at.radio(key="sn_classes").value == 2 and at.selectbox(key="sn_rep").value == "bow"
    assert at.slider(key="sn_depth").value == 0 and at.text_area(key="sn_sentence").value == "What a lovely crew"
    assert at.selectbox(key="sn_target").value == "positive"
    config = at.session_state.sn_lab.trainer.config
    assert (config.data.n_classes, config.data.max_rows, config.model.representation, config.model.hidden,
            config.train.lr, config.train.batch_size, config.train.seed) == (2, 1000, "bow", [], 0.01, 64, 5)
    assert at.query_params == {"classes": "2", "rows": "1000", "representation": "bow", "depth": "0", "lr": "0.01",
                               "text": "What a lovely crew", "explain": "positive", "train.seed": "5"}
    at.selectbox(key="sn_activation").set_value("gelu").run()
    assert at.query_params["activation"] == "gelu" and not at.warning  # the warning is shown once
    at.radio(key="sn_source").set_value("upload").run()
    assert at.query_params["data"] == "csv" and any("CSV is not in the page's address" in c.value for c in at.caption)


# ---------- any setup the address can carry opens; hostile values are each named ----------
@hst.composite
def address_setups(draw) -> tuple[dict, int]:
    """Widget values from the whole domain the page's address carries, and a seed. With MiniLM the
    address asks for your CSV: its vectors for a 1,500-row sample of the tweets take most of a
    minute on one CPU thread (the engine's tests build it on a small upload), and the upload box
    waits for a file while every widget still shows what the address asked."""
    from app_pages.sentiment.ngrams import FILTER_CHOICES, NGRAM_WIDTH_CHOICES
    from app_pages.sentiment.state import (BATCH_SIZES, CONFIDENCE_STEP, DROPOUT_STEP, EMBED_DIMS, HEADS, L2_RATES,
                                           LEARNING_RATES, LOSS_NAMES, MAX_ADDRESS_TEXT, MAX_DEPTH, MAX_DROPOUT,
                                           MAX_EPOCHS, MAX_LAYERS, MAX_PATIENCE, MAX_TOKENS, METHODS, PREDICTED,
                                           REPRESENTATIONS, ROW_LIMITS, SHARES, VOCAB_SIZES, WIDTHS, default_widgets)
    from engine.sentiment.data import TWEET_CLASSES_3

    def grid(high: float, step: float) -> float:
        return round(draw(hst.integers(0, round(high / step))) * step, 2)
    rep = draw(hst.sampled_from(list(REPRESENTATIONS)))
    values = {
        **default_widgets(), "sn_source": "upload" if rep == "minilm" else draw(hst.sampled_from(["tweets", "upload"])),
        "sn_classes": draw(hst.sampled_from([3, 2])), "sn_min_conf": grid(1.0, CONFIDENCE_STEP),
        "sn_dedup": draw(hst.booleans()), "sn_max_rows": draw(hst.sampled_from(ROW_LIMITS)),
        "sn_val": draw(hst.sampled_from(SHARES)), "sn_test": draw(hst.sampled_from(SHARES)), "sn_rep": rep,
        "sn_vocab": draw(hst.sampled_from(VOCAB_SIZES)), "sn_embed": draw(hst.sampled_from(EMBED_DIMS)),
        "sn_max_tokens": draw(hst.sampled_from(MAX_TOKENS)), "sn_layers": draw(hst.integers(1, MAX_LAYERS)),
        "sn_heads": draw(hst.sampled_from(HEADS)), "sn_depth": draw(hst.integers(0, MAX_DEPTH)),
        "sn_ngram_widths": sorted(draw(hst.lists(hst.sampled_from(NGRAM_WIDTH_CHOICES), min_size=1, unique=True))),
        "sn_filters": draw(hst.sampled_from(FILTER_CHOICES)),
        "sn_width": draw(hst.sampled_from(WIDTHS)), "sn_activation": draw(hst.sampled_from(list(ACTIVATIONS))),
        "sn_dropout": grid(MAX_DROPOUT, DROPOUT_STEP), "sn_loss": draw(hst.sampled_from(list(LOSS_NAMES))),
        "sn_optimizer": draw(hst.sampled_from(list(OPTIMIZERS))), "sn_lr": draw(hst.sampled_from(LEARNING_RATES)),
        "sn_batch": draw(hst.sampled_from(BATCH_SIZES)), "sn_epochs": draw(hst.integers(1, MAX_EPOCHS)),
        "sn_patience": draw(hst.integers(0, MAX_PATIENCE)), "sn_l2": draw(hst.sampled_from(L2_RATES)),
        "sn_sentence": draw(hst.text(max_size=MAX_ADDRESS_TEXT)), "sn_method": draw(hst.sampled_from(list(METHODS))),
        "sn_target": draw(hst.sampled_from([PREDICTED, *TWEET_CLASSES_3]))}
    return values, draw(hst.integers(0, 2**31 - 1))


def _open_address(query: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
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
    from app_pages.sentiment.state import URL_PARAMS, config_from_widgets, widgets_to_query
    values, seed = setup
    query = widgets_to_query(values, seed)
    at = _open_address(query)
    notes = _plain([w.value for w in at.warning if w.value.startswith("The address")] + [e.value for e in at.error])
    assert at.session_state.global_seed == seed
    for p in URL_PARAMS:  # each widget shows what the address asked, or a line names what it could not
        if p.name in query and at.session_state[p.key] != values[p.key]:
            assert any(f"{p.name}=" in n for n in notes), (p.name, notes)
    lab = at.session_state["sn_lab"] if "sn_lab" in at.session_state else None
    if lab is not None:  # the network built is the one the widgets show; otherwise a line says why not
        assert lab.trainer.config == config_from_widgets(at.session_state, seed)
    else:
        assert at.error or (values["sn_source"] == "upload" and any("Upload a CSV" in i.value for i in at.info))


# Streamlit drops a whole query string longer than 524,288 characters: the long string below goes
# into twelve parameters at once and stays under that.
HOSTILE_VALUES = {"a 5,000-digit number": "9" * 5000, "a superscript two": "²", "nan": "nan", "inf": "inf",
                  "-inf": "-inf", "empty": "", "an unknown name": "lstm", "a very long string": "x" * 40_000}
TARGETS = ["data", "classes", "min_conf", "dedup", "representation", "layers", "dropout", "lr", "epochs", "explain"]


@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
def test_hostile_address_values_are_each_one_line_and_the_others_apply(kind):
    """Each value in several parameters at once: every one is named in its own line (quoting at most
    200 characters of it), the seed falls back to 0, and the sound parameters beside them apply."""
    from app_pages.sentiment.state import MAX_ADDRESS_TEXT, default_widgets
    bad = HOSTILE_VALUES[kind]
    at = _open_address({**{name: bad for name in TARGETS}, "train.seed": bad, "text": bad, "rows": "1000",
                        "vocab": "500", "width": "16", "batch": "32"})
    notes = _plain([w.value for w in at.warning if w.value.startswith("The address")])
    for name in TARGETS:
        assert sum(n.startswith(f"The address: {name}=") for n in notes) == 1, (name, notes)
    text_refused = len(bad) > MAX_ADDRESS_TEXT  # a short one is a fine sentence to try
    assert len(notes) == len(TARGETS) + text_refused
    assert text_refused == any(n.startswith("The address: text=") for n in notes)
    assert at.session_state.global_seed == 0 and "seed_warning" in at.session_state
    assert at.session_state.sn_rep == default_widgets()["sn_rep"]
    config = at.session_state.sn_lab.trainer.config
    assert (config.data.max_rows, config.model.vocab_size, config.model.hidden, config.train.batch_size) == (
        1000, 500, [16], 32)
