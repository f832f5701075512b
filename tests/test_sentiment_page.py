"""AppTest of the Sentiment lab: it renders the class balance and the curves, widgets reach the
config (hot ones keep the run), Step and Play train and bring the test results, an uploaded
CSV trains, and typed text (empty, long, emoji, HTML) is shown safely."""
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.sentiment.state import SentimentLab, numbers_in_words, read_upload
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
    assert len(charts(at)) == 7  # + confusion matrix and per-class bars
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
                       (b"text,label\n" + b"x,y\n" * 40, "at least 2 labels")):
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
