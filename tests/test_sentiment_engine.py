"""The sentiment engine: the real corpus and a stratified split, features against
scikit-learn, a trained model against the majority-class baseline, attributions that add up
to the logit difference, resumable training, config and CSV errors that say what to fix."""
import io
import json
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from engine.core.config import ConfigError
from engine.core.corpora import sentiment_rows
from engine.sentiment.data import (count_rows, dedup_key, deduplicate, inverse_document_frequency, parse_labelled_csv,
                                   stratified_split, tfidf_rows, tokenize, tokenize_with_spans)
from engine.sentiment.models import SparseLinear, minilm_vectors, sparse_batch
from engine.sentiment.trainer import SentimentConfig, SentimentTrainer, prepared_text


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the app and the CLI run: small models on one CPU thread (two threads only fight)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL = {"data": {"max_rows": 3000}, "model": {"vocab_size": 1500, "hidden": [32]},
         "train": {"epochs": 2, "batch_size": 64, "seed": 0}}


def small_config(**sections) -> SentimentConfig:
    d = json.loads(json.dumps(SMALL))
    for name, values in sections.items():
        d.setdefault(name, {}).update(values)
    return SentimentConfig.from_dict(d)


def upload_rows(n_per_class: int = 15) -> list[list[str]]:
    good = ["great fun", "love it", "so happy", "wonderful day", "best ever"]
    bad = ["awful mess", "hate it", "so sad", "terrible day", "worst ever"]
    return [[f"{good[i % 5]} and nice {i}", "pos"] for i in range(n_per_class)] + \
           [[f"{bad[i % 5]} and nasty {i}", "neg"] for i in range(n_per_class)]


# ---------------- data ----------------

def test_the_real_corpus_is_read_and_the_split_is_stratified():
    config = SentimentConfig()
    data = prepared_text(config)
    rows = sentiment_rows()
    assert data.class_names == ["negative", "neutral", "positive"]
    assert 30_000 < len(data.texts) < len(rows)  # deduplication removed the retweets
    assert data.texts[0] == rows[0].text         # file order, nothing invented
    train, val, test = (data.splits[k] for k in ("train", "val", "test"))
    assert len(set(train) | set(val) | set(test)) == len(data.y) == len(train) + len(val) + len(test)
    overall = np.bincount(data.y) / len(data.y)
    for idx, share in ((val, 0.1), (test, 0.1)):
        counts = np.bincount(data.y[idx], minlength=3)
        expected = np.bincount(data.y, minlength=3) * share
        assert np.all(np.abs(counts - expected) <= 1)  # each class cut in the same proportion
        assert np.allclose(counts / counts.sum(), overall, atol=0.002)
    # the vocabulary is learned from the training split only
    train_words = Counter(t for i in train for t in data.tokens[i])
    assert all(train_words[w] >= 2 for w in data.vocab)


def test_split_depends_on_the_seed_only():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    a = stratified_split(y, 0.2, 0.1, np.random.default_rng(7))
    b = stratified_split(y, 0.2, 0.1, np.random.default_rng(7))
    c = stratified_split(y, 0.2, 0.1, np.random.default_rng(8))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(np.sort(a[2]), np.sort(c[2]))
    assert [np.bincount(y[a[2]]).tolist(), np.bincount(y[a[1]]).tolist()] == [[5, 3, 2], [10, 6, 4]]


def test_two_classes_and_minimum_confidence_filter_the_rows():
    config = SentimentConfig.from_dict({"data": {"n_classes": 2, "min_confidence": 0.9, "dedup": False}})
    data = prepared_text(config)
    expected = [r for r in sentiment_rows() if r.sentiment != "neutral" and r.confidence is not None
                and r.confidence >= 0.9 and r.text.strip()]
    assert data.class_names == ["negative", "positive"] and len(data.texts) == len(expected)


def test_retweets_and_copies_are_deduplicated():
    texts = ["Self-driving cars are great http://t.co/x", "RT @bob: self-driving cars are GREAT!",
             "self driving cars are great", "something else"]
    kept, labels, dropped = deduplicate(texts, ["a", "a", "b", "c"])
    assert kept == [texts[0], texts[3]] and labels == ["a", "c"] and dropped == 2
    assert dedup_key("RT @x: Hello, world!") == dedup_key("hello world")


def test_tokens_keep_their_spans_and_emoji():
    text = "I LOVE it 😀 <script>alert(1)</script> @Bob https://x.y/z"
    spans = tokenize_with_spans(text)
    assert [t for t, _, _ in spans] == tokenize(text)
    assert all(text[a:b].lower() == t for t, a, b in spans if t not in ("@user", "<url>"))
    assert "😀" in tokenize(text) and "@user" in tokenize(text) and "<url>" in tokenize(text)


def test_bag_of_words_and_tfidf_match_scikit_learn():
    docs = ["the cat sat on the mat", "the dog sat", "a cat and a dog", "nothing known here", ""]
    tokens = [tokenize(d) for d in docs]
    vocab = ["the", "cat", "sat", "dog", "a", "mat"]
    index = {w: i for i, w in enumerate(vocab)}
    counts = count_rows(tokens, index)
    sk_counts = CountVectorizer(vocabulary=vocab, tokenizer=tokenize, lowercase=False, token_pattern=None)
    assert np.array_equal(counts.dense(), sk_counts.fit_transform(docs).toarray())
    ours = tfidf_rows(counts, inverse_document_frequency(counts)).dense()
    sk = TfidfVectorizer(vocabulary=vocab, tokenizer=tokenize, lowercase=False, token_pattern=None).fit_transform(docs)
    assert np.allclose(ours, sk.toarray(), atol=1e-6)


def test_sparse_linear_is_a_linear_layer_on_the_dense_rows():
    counts = count_rows([["a", "b", "b"], [], ["c"]], {"a": 0, "b": 1, "c": 2})
    layer = SparseLinear(3, 4)
    dense = torch.from_numpy(counts.dense()) @ layer.bag.weight + layer.bias  # the bag's table is (in, out)
    out = layer(**sparse_batch(counts, torch.device("cpu")))
    assert torch.allclose(out, dense, atol=1e-6)


# ---------------- training ----------------

def test_a_few_epochs_beat_the_majority_class_on_the_test_split():
    trainer = SentimentTrainer(small_config(), "cpu")
    snap = trainer.step(10_000)
    assert snap.finished and snap.test is not None
    name, baseline = trainer.majority_baseline()
    assert name == "negative" and 0.35 < baseline < 0.5
    print(f"test accuracy {snap.test['accuracy']:.3f} against the majority class {baseline:.3f}")
    assert snap.test["accuracy"] > baseline + 0.15
    cm = np.array(snap.test["confusion"])
    assert cm.sum() == len(trainer.data.splits["test"]) and np.trace(cm) / cm.sum() == pytest.approx(snap.test["accuracy"])
    assert trainer.history[0]["step"] == 0 and trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]
    wrong = trainer.misclassified(10)
    assert wrong and all(w["label"] != w["predicted"] for w in wrong)
    assert json.loads(json.dumps(snap.to_json_dict()))["test"]["classes"] == trainer.class_names


@pytest.mark.parametrize("representation", ["embedding_bag", "transformer"])
def test_the_embedding_models_learn(representation):
    config = small_config(model={"representation": representation, "embed_dim": 16, "max_tokens": 16},
                          train={"epochs": 1, "lr": 0.01})
    trainer = SentimentTrainer(config, "cpu")
    snap = trainer.step(10_000)
    assert snap.val_accuracy > trainer.majority_baseline()[1] + 0.05


def test_step_5_then_5_equals_step_10():
    config = small_config(model={"dropout": 0.3}, train={"evals_per_epoch": 20})
    a, b = SentimentTrainer(config, "cpu"), SentimentTrainer(config, "cpu")
    a.step(5)
    snap_a = a.step(5)
    snap_b = b.step(10)
    assert snap_a.to_json_dict() == snap_b.to_json_dict() and a.history == b.history
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_a_non_finite_loss_keeps_the_last_finite_weights(monkeypatch):
    trainer = SentimentTrainer(small_config(), "cpu")
    trainer.step(3)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    import engine.sentiment.trainer as sentiment
    monkeypatch.setattr(sentiment, "loss_of", lambda logits, y, name: logits.sum() * float("nan"))
    snap = trainer.step(5)
    assert snap.diverged and trainer.step_count == 3
    assert all(torch.equal(p, q) for p, q in zip(before, trainer.model.parameters()))
    assert json.loads(json.dumps(snap.to_json_dict()))["diverged"] is True


def test_early_stopping_goes_back_to_the_best_weights():
    config = small_config(model={"hidden": [64], "dropout": 0.0},
                          train={"epochs": 30, "lr": 0.03, "evals_per_epoch": 2, "early_stopping": 2})
    trainer = SentimentTrainer(config, "cpu")
    snap = trainer.step(100_000)
    assert snap.stopped_early and snap.finished and trainer.epoch < 30
    val = trainer.data.splits["val"]
    assert trainer.evaluate(val[:2000])[0] == pytest.approx(trainer.best_val_loss, rel=1e-5)
    assert min(h["val_loss"] for h in trainer.history) == pytest.approx(trainer.best_val_loss)


def test_hot_changes_keep_the_progress():
    config = small_config()
    trainer = SentimentTrainer(config, "cpu")
    trainer.step(4)
    assert trainer.apply(config.replace(train={"lr": 0.01, "epochs": 9})) == []
    assert trainer.step_count == 4 and trainer.optimizer.param_groups[0]["lr"] == 0.01
    assert trainer.apply(config.replace(model={"hidden": [8]})) == ["model.hidden"]


# ---------------- checkpoints (engine/sentiment/checkpoint.py) ----------------
RESUMABLE = {
    "tfidf, early stopping": {"model": {"dropout": 0.3}, "train": {"early_stopping": 3, "lr": 0.03}},  # stops at 30
    "embeddings, momentum": {"model": {"representation": "embedding_bag", "embed_dim": 16, "max_tokens": 16},
                             "train": {"optimizer": "momentum"}},
    "transformer, adagrad": {"model": {"representation": "transformer", "embed_dim": 16, "max_tokens": 16,
                                       "dropout": 0.2}, "train": {"optimizer": "adagrad"}},
}


@pytest.mark.parametrize("kind", list(RESUMABLE))
def test_step_save_load_step_is_the_straight_run_bit_for_bit(kind):
    sections = RESUMABLE[kind]
    config = small_config(data={"max_rows": 1000}, model={"vocab_size": 500, "hidden": [16], **sections["model"]},
                          train={"epochs": 3, "batch_size": 32, "evals_per_epoch": 20, **sections["train"]})
    straight = SentimentTrainer(config, "cpu")
    straight.step(11)
    later = straight.step(40)  # past an epoch's end: the next epoch's order comes from the saved generator

    paused = SentimentTrainer(config, "cpu")
    paused.step(11)
    data = paused.checkpoint_bytes()
    torch.manual_seed(99), torch.rand(50)  # the global generator between save and load changes nothing
    resumed = SentimentTrainer.from_checkpoint(data, "cpu")
    assert resumed.config == config and resumed.step_count == 11 and resumed.history == paused.history
    assert resumed.step(40).to_json_dict() == later.to_json_dict() and resumed.history == straight.history
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), straight.model.parameters()))
    assert resumed.stopped_early == straight.stopped_early == (kind == "tfidf, early stopping")
    assert resumed.epoch == straight.epoch and resumed.best_val_loss == straight.best_val_loss
    assert 0.5 < paused.approximate_checkpoint_bytes() / len(data) < 1.5


def test_an_uploaded_csv_comes_back_with_its_checkpoint():
    config = SentimentConfig.from_dict({"data": {"source": "upload", "rows": upload_rows(), "val_fraction": 0.2,
                                                 "test_fraction": 0.2}, "model": {"vocab_size": 100},
                                        "train": {"epochs": 30, "batch_size": 8}})
    trainer = SentimentTrainer(config, "cpu")
    trainer.step(5)
    resumed = SentimentTrainer.from_checkpoint(trainer.checkpoint_bytes(), "cpu")
    assert resumed.config.data.rows == upload_rows() and resumed.class_names == ["neg", "pos"]
    assert resumed.step(7) == trainer.step(7)


def _tampered(data: bytes, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_damaged_checkpoints_are_one_line_value_errors():
    trainer = SentimentTrainer(small_config(data={"max_rows": 1000}, model={"vocab_size": 200, "hidden": [8]}), "cpu")
    trainer.step(3)
    data = trainer.checkpoint_bytes()
    weights = dict(trainer.model.state_dict())
    name = next(iter(weights))
    cases = {
        b"": "not a Sentiment lab checkpoint: the file is empty",
        _tampered(data, format=None): "this app reads format 1",
        _tampered(data, config='{"model": {"representation": "lstm"}}'): "invalid config",
        _tampered(data, state_dict={**weights, name: weights[name][:1]}): "do not fit its config",
        _tampered(data, state_dict={**weights, name: weights[name] * math.nan}): "not all finite",
        _tampered(data, order=torch.arange(5)): "order must be a permutation",
        _tampered(data, best_state={"x": torch.zeros(1)}): "best_state does not fit",
        _tampered(data, history=[{"step": 1.5}]): "history must be a list",
        _tampered(data, dropout_rng=torch.zeros(4, dtype=torch.uint8)): "generator state does not fit",
        _tampered(data, optimizer={"state": {}, "param_groups": []}): "not that of this model's optimiser",
        _tampered(data, diverged="no"): "diverged must be true or false",
    }
    for bad, says in cases.items():
        with pytest.raises(ValueError) as info:
            SentimentTrainer.from_checkpoint(bad, "cpu")
        message = str(info.value)
        assert type(info.value) is ValueError and says in message, (says, message)
        assert "weights_only" not in message and "\n" not in message, message


# ---------------- attributions ----------------

@pytest.mark.parametrize("representation", ["bow", "tfidf"])
def test_linear_attributions_add_up_to_the_logit_difference(representation):
    config = small_config(model={"representation": representation, "hidden": []}, train={"epochs": 1})
    trainer = SentimentTrainer(config, "cpu")
    trainer.step(10_000)
    text = "I love love this car, but the traffic is awful! 😀 <b>zzqx</b>"
    for target in range(3):
        e = trainer.explain(text, "gradient", target=target)
        # independent: the logit difference from the probabilities (log p_c - mean log p_k = z_c - mean z_k)
        logp = np.log(np.array(trainer.predict(text), dtype=np.float64))
        diff = logp[target] - np.delete(logp, target).mean()
        assert e["score"] == pytest.approx(diff, abs=1e-4)
        assert sum(e["scores"]) + e["empty_score"] == pytest.approx(e["score"], abs=1e-5)
    e = trainer.explain(text, "gradient")
    assert e["target"] == int(np.argmax(e["probabilities"]))
    tokens = [t for t, _, _ in e["tokens"]]
    assert e["scores"][tokens.index("zzqx")] == 0.0  # an unknown word cannot push anything
    assert e["scores"][1] == pytest.approx(e["scores"][2])  # "love" twice: its part shared equally


def test_occlusion_equals_gradient_x_input_for_a_linear_bag_of_words():
    config = small_config(model={"representation": "bow", "hidden": []}, train={"epochs": 1})
    trainer = SentimentTrainer(config, "cpu")
    trainer.step(10_000)
    text = "what a great and happy day for a drive"
    grad, occ = trainer.explain(text, "gradient", target=2), trainer.explain(text, "occlusion", target=2)
    assert np.allclose(grad["scores"], occ["scores"], atol=1e-5)


def test_sequence_attributions_mark_words_beyond_the_window():
    config = small_config(model={"representation": "embedding_bag", "max_tokens": 8}, train={"epochs": 1})
    trainer = SentimentTrainer(config, "cpu")
    e = trainer.explain("one two three four five six seven eight nine ten", "gradient")
    assert e["read"] == 8 and e["scores"][8:] == [None, None]
    assert trainer.explain("", "occlusion")["tokens"] == []


# ---------------- config, CSV, CLI ----------------

def test_config_round_trips_and_errors_name_the_field():
    config = small_config(model={"representation": "transformer"})
    assert SentimentConfig.from_json(config.to_json()) == config
    cases = [({"model": {"vocab_size": 5}}, "model.vocab_size"), ({"model": {"heads": 3}}, "model.heads"),
             ({"data": {"val_fraction": 0.9}}, "data.val_fraction"), ({"train": {"loss": "bce"}}, "train.loss"),
             ({"model": {"hidden": [0]}}, "model.hidden[0]"), ({"colour": 1}, "colour"),
             ({"data": {"source": "upload", "rows": [["a", "x"]] * 30}}, "data.rows"),
             ({"train": {"epochs": 0}}, "train.epochs")]
    for d, name in cases:
        with pytest.raises(ConfigError) as err:
            SentimentConfig.from_dict(d)
        assert err.value.field == name, (d, str(err.value))


@pytest.mark.parametrize("data,message", [
    (b"", "empty"), (b"text,label\n" + b"x" * 6_000_000, "limit"), (b"\xff\xfe\x00bad", "UTF-8"),
    (b"words,score\nhello,1\n", "header must name"), (b"text,label\n" + b"\"unclosed,pos\n" * 30, "usable row"),
    (b"text,label\n" + b"fine,pos\n" * 30, r"one class \(pos\): a classifier needs at least two"),
    (b"text,label\nonly one field\n", "field"),
])
def test_bad_uploads_get_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        parse_labelled_csv(data)


def test_an_uploaded_csv_trains():
    body = "label,text,extra\n" + "".join(f'{lab},"{t}",x\n' for t, lab in upload_rows()) + ",,\n"
    rows, notes = parse_labelled_csv(body.encode())
    assert len(rows) == 30 and notes == ["other columns are ignored: extra."]
    config = SentimentConfig.from_dict({"data": {"source": "upload", "rows": rows, "val_fraction": 0.2,
                                                 "test_fraction": 0.2}, "model": {"vocab_size": 100},
                                        "train": {"epochs": 30, "batch_size": 8, "lr": 0.05}})
    trainer = SentimentTrainer(config, "cpu")
    assert trainer.class_names == ["neg", "pos"]
    snap = trainer.step(10_000)
    assert snap.finished and snap.test["accuracy"] == 1.0


def test_minilm_features_are_the_mean_of_the_real_tokens():
    from engine.core.pretrained import load_minilm
    tokenizer, model = load_minilm()
    texts = ["a short one", "a rather longer sentence about cars"]
    enc = tokenizer(texts[0], return_tensors="pt")
    with torch.no_grad():
        alone = model(**enc).last_hidden_state[0].mean(0).numpy()
    together = minilm_vectors(texts)  # padded to the longer text: the mask must drop the padding
    assert together.shape == (2, 384) and np.allclose(together[0], alone, atol=1e-5)
    config = SentimentConfig.from_dict({"data": {"source": "upload", "rows": upload_rows(10), "val_fraction": 0.2,
                                                 "test_fraction": 0.2},
                                        "model": {"representation": "minilm", "vocab_size": 100}})
    trainer = SentimentTrainer(config, "cpu")
    trainer.step(3)
    e = trainer.explain("so happy today", "gradient")
    assert e["method"] == "occlusion" and len(e["scores"]) == 3
    # Its checkpoint holds the classifier alone: MiniLM's weights come from the installed model.
    data = trainer.checkpoint_bytes()
    assert {k.split(".")[0] for k in torch.load(io.BytesIO(data), weights_only=True)["state_dict"]} == {"head"}
    assert SentimentTrainer.from_checkpoint(data, "cpu").step(2) == trainer.step(2)


def test_cli_trains_a_sentiment_config(tmp_path):
    path = tmp_path / "sentiment.json"
    path.write_text(small_config(train={"epochs": 1}).to_json())
    proc = subprocess.run([sys.executable, "-m", "engine", "train", str(path), "--steps", "30", "--every", "10"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["step"] for line in lines[:-1]] == [10, 20, 30] and lines[-1]["done"] and lines[-1]["steps"] == 30
    assert all(math.isfinite(line["train_loss"]) for line in lines[:-1])
    bad = subprocess.run([sys.executable, "-m", "engine", "validate", "-"], capture_output=True, text=True,
                         input='{"task": "sentiment", "model": {"representation": "lstm"}}', timeout=120)
    assert bad.returncode == 2 and "model.representation" in bad.stderr
