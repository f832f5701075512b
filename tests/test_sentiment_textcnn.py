"""The Sentiment lab's text CNN (engine/sentiment/textcnn.py): it learns the tweets above the
majority class; its n-gram view is exact (each reported window and activation against the
convolution written out by hand over that window, the pushes adding up to the logits); short and
empty texts; config errors and the JSON contract; a checkpoint that trains on bit for bit; the page
with the text CNN chosen (from its address), its n-grams for a typed sentence, and its restore."""
import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app_pages.common.text import md_escape
from engine.core.config import ConfigError
from engine.sentiment.data import tokenize
from engine.sentiment.models import target_score
from engine.sentiment.textcnn import EMPTY_TEXT, top_ngrams
from engine.sentiment.trainer import SentimentConfig, SentimentTrainer
from tests.chart_helpers import charts
from tests.test_sentiment_page import PAGE, one_thread  # noqa: F401 (a fixture)

LONG = tokenize("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen")
TEXTCNN = {"representation": "textcnn", "vocab_size": 1500, "embed_dim": 32, "filters_per_width": 16}


def config(data=None, model=None, train=None) -> SentimentConfig:
    return SentimentConfig.from_dict({"data": {"max_rows": 3000, **(data or {})}, "model": {**TEXTCNN, **(model or {})},
                                      "train": {"epochs": 2, "lr": 0.01, **(train or {})}})


@pytest.fixture(scope="module")
def trained(one_thread) -> SentimentTrainer:  # noqa: F811 (the fixture imported above)
    trainer = SentimentTrainer(config(), "cpu")
    trainer.step(10**6)
    return trainer


def test_the_text_cnn_beats_the_majority_class(trained):
    snap = trained.snapshot()
    _, baseline = trained.majority_baseline()
    print(f"text CNN: test accuracy {snap.test['accuracy']:.3f} after {snap.step} steps "
          f"({trained.seconds_training:.1f} s), majority class {baseline:.3f}")
    assert snap.finished and snap.test["accuracy"] > baseline + 0.12
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]
    assert sorted(k.split(".")[2] for k in trained.model.state_dict() if k.startswith("encoder.convs")) == [
        "0", "0", "1", "1", "2", "2"]  # a weight and a bias per width, and no hidden layer in the head
    assert [type(m).__name__ for m in trained.model.head] == ["Dropout", "Linear"]


def windows_by_hand(trainer: SentimentTrainer, sentence: str, width_index: int) -> np.ndarray:
    """(filters, windows) responses b + sum_j W[:, :, j] . x[i + j], written out in float64 over the
    sentence's own word vectors, padded with zero vectors to at least one window."""
    enc = trainer.model.encoder
    ids = trainer.encode([tokenize(sentence)])["ids"][0]
    x = enc.embed.weight.detach().double()[ids].numpy()                     # (n, d)
    conv = enc.convs[width_index]
    w = enc.widths[width_index]
    weight, bias = conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy()  # (F, d, w), (F,)
    x = np.vstack([x, np.zeros((max(0, w - len(x)), x.shape[1]))])
    starts = range(max(len(ids) - w, 0) + 1)
    return np.stack([bias + np.einsum("fdj,jd->f", weight, x[i:i + w]) for i in starts], axis=1)


def eval_logits(trainer: SentimentTrainer, token_lists: list[list[str]]) -> torch.Tensor:
    trainer.model.eval()
    try:
        with torch.no_grad():
            return trainer.model(trainer.encode(token_lists))
    finally:
        trainer.model.train()


@pytest.mark.parametrize("sentence", ["The flight was late again, but the crew were wonderful and so kind!", "meh"])
def test_the_reported_ngrams_are_the_convolution_over_that_window(trained, sentence):
    model = trained.model
    out = trained.model.head[-1]
    for target in (None, 0, 2):
        result = top_ngrams(model, trained.data.index, sentence, k=3, target=target, max_tokens=40)
        assert result["message"] == "" and len(result["filters"]) == 3 * 16
        t = result["target"]
        logits = eval_logits(trained, [tokenize(sentence), LONG])[0]  # as training reads it: in a padded batch
        assert result["score"] == pytest.approx(float(target_score(logits, t)), abs=1e-5)
        assert np.allclose(result["probabilities"], trained.predict(sentence), atol=1e-5)
        assert sum(r["push"] for r in result["filters"]) + result["bias"] == pytest.approx(result["score"], abs=1e-9)
        by_hand = [windows_by_hand(trained, sentence, g) for g in range(3)]
        spans = result["spans"]
        for r in result["filters"]:
            c = by_hand[model.encoder.widths.index(r["width"])][r["filter"]]
            assert r["start"] == int(np.argmax(c))                      # the window that won the filter
            assert r["activation"] == pytest.approx(max(0.0, c.max()), abs=1e-5)
            v = out.weight.detach().double()[:, model.encoder.widths.index(r["width"]) * 16 + r["filter"]]
            assert r["per_class"] == pytest.approx((v * r["activation"]).tolist(), abs=1e-5)
            assert r["push"] == pytest.approx(r["per_class"][t] - np.mean(np.delete(r["per_class"], t)), abs=1e-9)
            assert r["end"] - r["start"] + r["padding"] == r["width"]
            assert r["text"] == sentence[spans[r["start"]][0]:spans[r["end"] - 1][1]]
        assert [abs(r["push"]) for r in result["filters"]] == sorted((abs(r["push"]) for r in result["filters"]),
                                                                     reverse=True)
        assert sorted((r["width"] for r in result["top"])) == [2, 2, 2, 3, 3, 3, 4, 4, 4]  # k of each width
    short = top_ngrams(model, trained.data.index, "meh", k=3)
    assert all(r["start"] == 0 and r["text"] == "meh" and r["padding"] == r["width"] - 1 for r in short["filters"])


def test_short_texts_are_padded_in_any_batch_and_empty_text_is_a_message(trained):
    for words in (["good"], ["so", "good"], []):
        alone = eval_logits(trained, [words])[0]
        beside = eval_logits(trained, [words, LONG])[0]  # padded further by the batch: the same answer
        assert torch.allclose(alone, beside, atol=1e-6), words
    for text in ("", "   ", "_ \ufffd"):
        result = top_ngrams(trained.model, trained.data.index, text, k=3)
        assert result["message"] == EMPTY_TEXT and result["top"] == [] and result["filters"] == []
    assert top_ngrams(trained.model, trained.data.index, "zzqx qqzz", k=1)["top"]  # unknown words: UNK's vector
    cut = top_ngrams(trained.model, trained.data.index, "word " * 60, k=1, max_tokens=40)
    assert len(cut["tokens"]) == 40 and cut["total"] == 60 and max(r["end"] for r in cut["filters"]) <= 40


def test_config_fields_are_checked_by_name_and_the_json_contract_holds():
    textcnn = SentimentConfig.from_dict({"model": {"representation": "textcnn", "ngram_widths": [1, 5],
                                                   "filters_per_width": 8}})
    assert SentimentConfig.from_json(textcnn.to_json()) == textcnn
    old = SentimentConfig.from_dict({"model": {"representation": "tfidf", "vocab_size": 500}})  # written before
    assert old.model.ngram_widths == [2, 3, 4] and old.model.filters_per_width == 32
    cases = [({"ngram_widths": []}, "model.ngram_widths"), ({"ngram_widths": "3"}, "model.ngram_widths"),
             ({"ngram_widths": [2, 0]}, "model.ngram_widths[1]"), ({"ngram_widths": [11]}, "model.ngram_widths[0]"),
             ({"ngram_widths": [3, 3]}, "model.ngram_widths"), ({"ngram_widths": [1, 2, 3, 4, 5, 6, 7]},
                                                                 "model.ngram_widths"),
             ({"filters_per_width": 0}, "model.filters_per_width"), ({"filters_per_width": 2.5},
                                                                      "model.filters_per_width"),
             ({"representation": "cnn"}, "model.representation")]
    for model, name in cases:
        with pytest.raises(ConfigError) as err:
            SentimentConfig.from_dict({"model": {"representation": "textcnn", **model}})
        assert err.value.field == name, (model, str(err.value))


def test_a_checkpoint_trains_on_bit_for_bit(one_thread):  # noqa: F811
    c = config(data={"max_rows": 1000}, model={"vocab_size": 500, "embed_dim": 16, "filters_per_width": 8,
                                               "ngram_widths": [1, 3], "dropout": 0.3},
               train={"epochs": 3, "batch_size": 32, "evals_per_epoch": 20, "optimizer": "momentum"})
    straight = SentimentTrainer(c, "cpu")
    straight.step(11)
    later = straight.step(40)  # past an epoch's end
    paused = SentimentTrainer(c, "cpu")
    paused.step(11)
    data = paused.checkpoint_bytes()
    torch.manual_seed(99), torch.rand(50)  # the global generator between save and load changes nothing
    resumed = SentimentTrainer.from_checkpoint(data, "cpu")
    assert resumed.config == c and resumed.model.encoder.widths == (1, 3)
    assert resumed.step(40).to_json_dict() == later.to_json_dict() and resumed.history == straight.history
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), straight.model.parameters()))


def test_the_page_opens_the_text_cnn_from_its_address_and_shows_the_ngrams():
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["np_session_key"] = "t" * 32
    query = {"representation": "textcnn", "rows": "1000", "vocab": "500", "embedding": "16", "ngrams": "1,3",
             "filters": "8", "text": "not **good** <b>at</b> all", "train.seed": "2"}
    at.query_params.update(query)
    at.run()
    assert not at.exception and not at.warning, [e.value for e in [*at.exception, *at.warning]]
    m = at.session_state.sn_lab.trainer.config.model
    assert (m.representation, m.ngram_widths, m.filters_per_width, m.embed_dim) == ("textcnn", [1, 3], 8, 16)
    assert at.multiselect(key="sn_ngram_widths").value == [1, 3] and at.slider(key="sn_depth").disabled
    at.button(key="sn_step").click().run()
    assert not at.exception and at.session_state.sn_lab.trainer.step_count > 0
    table = at.dataframe[-1].value
    assert len(table) == 2 * 4 and set(table["width"]) == {1, 3} and "→ positive" in table.columns
    assert all(cell in "not **good** <b>at</b> all" for cell in table["n-gram"])  # the sentence's own text
    assert "sn_ngrams" in charts(at)
    assert any("max-over-time pooling" in c.value for c in at.caption)
    assert dict(at.query_params) == query

    back = AppTest.from_file(PAGE, default_timeout=180)  # a reload of the same browser: the network comes back
    back.session_state["np_session_key"] = "t" * 32
    back.query_params.update(query)
    back.run()
    restored, trained = back.session_state.sn_lab.trainer, at.session_state.sn_lab.trainer
    assert not back.exception and restored.step_count == trained.step_count
    assert all(torch.equal(p, q) for p, q in zip(restored.model.parameters(), trained.model.parameters()))

    at.text_area(key="sn_sentence").set_value("_").run()  # a text without a word
    assert not at.exception and any(EMPTY_TEXT == i.value for i in at.info)
    wrong = AppTest.from_file(PAGE, default_timeout=180)
    wrong.query_params.update({**query, "ngrams": "2,9"})
    wrong.run()
    problem = "ngrams='2,9' was ignored: different widths from 1 to 5, separated by commas"
    assert [w.value for w in wrong.warning] == [f"The address: {md_escape(problem)}."]
