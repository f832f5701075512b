"""The character Markov chain against independent computations: its counts against a plain
collections.Counter over the same training characters (read in one go or chunk by chunk), its
smoothed probabilities summing to 1 for every context, its held-out bits per character against
-mean log₂ p recomputed by hand over the very windows the CharLM trainer scores its networks on,
the order that fits the guides best and the order that memorises them, and its sampling."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from engine.core.config import ConfigError
from engine.sequence.markov import MarkovConfig, MarkovTrainer
from engine.sequence.trainer import CharLMConfig, CharLMTrainer, CharModelConfig

TEXT = ("the cat sat on the mat; the dog sat on the log. a cat saw a dog, and the dog saw a cat. "
        "then the cat ran off the mat and the dog ran off the log! ") * 12  # ~1,700 characters, 4 held-out blocks


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One thread: the tensors here are small, and the test machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(**kw) -> MarkovConfig:
    return MarkovConfig(**{"corpus": "text", "text": TEXT, "context": 16, "val_fraction": 0.25, "order": 3,
                           "smoothing": 0.5, "chunk_chars": 97, **kw})


def train_text(trainer: MarkovTrainer) -> str:
    return trainer.corpus.decode(trainer.train_data.tolist())


def counter_of(text: str, n: int) -> Counter:
    return Counter((text[i - n:i], text[i]) for i in range(n, len(text)))


@pytest.fixture(scope="module")
def read_small() -> MarkovTrainer:
    trainer = MarkovTrainer(small(), "cpu")
    trainer.step(10_000)
    return trainer


def test_counts_equal_a_counter_over_the_training_text_in_one_go_and_chunk_by_chunk(read_small):
    assert read_small.finished and read_small.train_chars_seen == len(read_small.train_data)
    text = train_text(read_small)
    assert len(text) < len(TEXT)  # the held-out blocks are not counted
    for n in (1, 2, 3):
        assert read_small.ngram_counts(n) == counter_of(text, n), n
    whole = MarkovTrainer(small(chunk_chars=10**6), "cpu")
    whole.step(1)
    assert whole.step_count == 1 and whole.ngram_counts() == read_small.ngram_counts()
    half = MarkovTrainer(small(chunk_chars=50), "cpu")
    half.step(5)  # the first 250 characters only
    assert half.train_chars_seen == 250 and half.ngram_counts(2) == counter_of(text[:250], 2)


def test_probabilities_sum_to_one_for_every_context_and_follow_the_add_k_formula(read_small):
    text, k, V = train_text(read_small), read_small.config.smoothing, read_small.vocab_size
    pairs, contexts = counter_of(text, 3), Counter(text[i - 3:i] for i in range(3, len(text)))
    for context in [*sorted(contexts)[:40], "zzz", "q", ""]:  # seen, unseen, shorter than the order, none
        p = read_small.next_char_probabilities(context)
        assert p.shape == (V,) and np.all(p > 0) and p.sum() == pytest.approx(1.0, abs=1e-12), context
        if len(context) == 3 and context in contexts:
            expected = [(pairs[(context, c)] + k) / (contexts[context] + k * V) for c in read_small.corpus.chars]
            np.testing.assert_allclose(p, expected, rtol=1e-12)
        if context in ("zzz", ""):
            np.testing.assert_allclose(p, 1 / V)  # nothing known: every character alike


def test_held_out_bits_per_char_is_minus_mean_log2_p_over_the_charlm_trainers_own_windows(read_small):
    c = read_small.config
    charlm = CharLMTrainer(CharLMConfig(corpus="text", text=TEXT, context=c.context, val_fraction=c.val_fraction,
                                        batch_size=2, models=[CharModelConfig("rnn", hidden=8)]), "cpu")
    assert torch.equal(charlm.train_data, read_small.train_data) and torch.equal(charlm.val_data, read_small.val_data)
    windows = [charlm.corpus.decode(w) for w in charlm._val_windows.tolist()]  # the networks' scored windows
    text, k, V = train_text(read_small), c.smoothing, read_small.vocab_size
    counts = {n: counter_of(text, n) for n in (1, 2, 3)}
    totals = {n: Counter(text[i - n:i] for i in range(n, len(text))) for n in (1, 2, 3)}
    logs = []
    for w in windows:
        for t in range(1, len(w)):  # each position predicted from at most 3 characters of its own window
            ctx = w[max(0, t - 3):t]
            n = len(ctx)
            logs.append(math.log2((counts[n][(ctx, w[t])] + k) / (totals[n][ctx] + k * V)))
    assert len(logs) == charlm._val_windows[:, 1:].numel()  # the positions behind the networks' val_loss
    snap = read_small.snapshot()
    assert snap.test_bits_per_char == pytest.approx(-np.mean(logs), rel=1e-12)


def test_bits_per_char_falls_as_it_reads_and_lower_orders_agree_with_their_own_chains(read_small):
    fresh = MarkovTrainer(small(), "cpu")
    first = fresh.step(1).test_bits_per_char
    assert fresh.history[-1]["train_chars_seen"] == 97
    assert read_small.snapshot().test_bits_per_char < first - 0.5
    for n in (1, 2):  # an order-3 chain scored at order n is the order-n chain: the same tables
        own = MarkovTrainer(small(order=n), "cpu")
        own.step(10_000)
        assert own.bits_per_char() == pytest.approx(read_small.bits_per_char(n), rel=1e-12)


def test_on_the_guides_order_3_beats_orders_1_and_2_and_order_5_memorises():
    trainer = MarkovTrainer(MarkovConfig(order=5, chunk_chars=10**6), "cpu")  # the whole text in one chunk
    snap = trainer.step(5)
    assert snap.finished and snap.step == 1 and snap.train_chars_seen == snap.train_chars > 80_000
    test = {n: trainer.bits_per_char(n)[0] for n in range(1, 6)}
    train = {n: trainer.bits_per_char(n)[1] for n in range(1, 6)}
    assert test[1] > test[2] > test[3], test
    assert train[5] < test[5] - 1.5 and test[5] > test[3], (train, test)  # it has memorised its text
    assert snap.contexts > 10 * trainer.summary()["vocab_size"] and trainer.summary()["possible_contexts"] > 10**9


def test_sampling_temperature_zero_takes_the_most_likely_character_and_a_seed_repeats(read_small):
    text, chars = train_text(read_small), read_small.corpus.chars
    pairs = counter_of(text, 3)
    got, unknown = read_small.sample("the Q", 40, temperature=0.0)
    assert unknown == ["Q"]
    context = "the "[-3:]
    for c in got:  # the argmax by the plain counts (ties: the first character in the vocabulary)
        expected = max(chars, key=lambda x: (pairs[(context, x)], -chars.index(x)))
        assert c == expected
        context = (context + c)[-3:]
    assert read_small.sample("the ", 60, 0.8, seed=3) == read_small.sample("the ", 60, 0.8, seed=3)
    assert read_small.sample("the ", 60, 0.8, seed=3) != read_small.sample("the ", 60, 0.8, seed=4)
    with pytest.raises(ValueError, match="temperature"):
        read_small.sample("the ", 5, temperature=-1)


def test_transition_matrix_rows_are_order_1_probabilities_of_the_most_frequent_characters(read_small):
    chars, probs, freq = read_small.transition_matrix(top=5)
    text, k, V = train_text(read_small), read_small.config.smoothing, read_small.vocab_size
    read = Counter(text[1:])  # every character that followed another; ties in vocabulary order
    assert chars == sorted(read, key=lambda c: (-read[c], read_small.corpus.chars.index(c)))[:5]
    assert list(freq) == [read[c] for c in chars]
    pairs, totals = counter_of(text, 1), Counter(text[:-1])
    for i, a in enumerate(chars):
        for j, b in enumerate(chars):
            assert probs[i, j] == pytest.approx((pairs[(a, b)] + k) / (totals[a] + k * V), rel=1e-12)


def test_config_round_trips_and_refuses_bad_values_naming_the_field():
    c = small(order=5, seed=4)
    assert MarkovConfig.from_json(c.to_json()) == c
    charlm = CharLMConfig(corpus="readme", context=64, val_fraction=0.2, seed=9)
    m = MarkovConfig.for_charlm(charlm, order=2, smoothing=0.1)
    assert (m.corpus, m.context, m.val_fraction, m.order, m.smoothing, m.seed) == ("readme", 64, 0.2, 2, 0.1, 9)
    for field, value in [("order", 0), ("order", 6), ("order", True), ("smoothing", 0.0), ("smoothing", math.nan),
                         ("chunk_chars", 2.5), ("corpus", ["text"]), ("text", 3), ("context", 10**30)]:
        with pytest.raises(ConfigError) as e:
            MarkovConfig.from_dict({field: value})
        assert e.value.field == field
    with pytest.raises(ConfigError) as e:
        MarkovConfig.from_dict({"orders": 2})
    assert e.value.field == "orders"
