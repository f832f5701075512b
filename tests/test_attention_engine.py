"""engine.attention.self_attention against independent computations: the hand-computed attention against the
model's own output_attentions (every layer, every head) and against PyTorch's
scaled_dot_product_attention; the embedding X against the model's tables and LayerNorm; the
sinusoidal encoding against its closed form; sentence embeddings batched (padded) against one
at a time; the toy against torch.softmax; and the `python -m engine attention` CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.attention.self_attention import (TextError, all_heads_by_hand, check_attentions, cosine_matrix, encode,
                                             entropy_bits, head_by_hand, learned_position_embeddings, run_encoder,
                                             sentence_embeddings, similarity_by_distance, sinusoidal_encoding,
                                             toy_attention, weights_against_scale)
from engine.core.pretrained import MAX_TOKENS, MODEL_NAME, load_minilm

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "The animal didn't cross the street because it was too tired."
PAIR = "It was raining."


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


@pytest.fixture(scope="module")
def run(minilm):
    return run_encoder(*minilm, SENTENCE, PAIR)


def test_run_has_the_documented_shapes_and_rows_sum_to_one(run, minilm):
    tokenizer, model = minilm
    T = len(run.tokens)
    assert run.attentions.shape == (6, 12, T, T) and run.attentions.dtype == np.float32
    assert run.hidden_states.shape == (7, T, 384) and run.contexts.shape == (6, T, 384)
    np.testing.assert_allclose(run.attentions.sum(-1), 1.0, atol=1e-5)
    assert not isinstance(run.attentions, torch.Tensor)
    # tokens are the tokenizer's own pieces, with [CLS] a [SEP] b [SEP]
    assert run.tokens == ["[CLS]"] + tokenizer.tokenize(SENTENCE) + ["[SEP]"] + tokenizer.tokenize(PAIR) + ["[SEP]"]
    n_first = len(tokenizer.tokenize(SENTENCE)) + 2
    assert run.token_type_ids.tolist() == [0] * n_first + [1] * (T - n_first)
    assert run.model == MODEL_NAME


def test_hand_computation_equals_the_models_attentions_for_every_layer_and_head(run, minilm):
    _, model = minilm
    by_hand = all_heads_by_hand(model, run.hidden_states, run.attention_mask)
    assert by_hand.shape == run.attentions.shape
    assert np.abs(by_hand - run.attentions).max() < 1e-5
    for layer in range(6):
        for head in range(12):
            steps = head_by_hand(model, run.hidden_states, layer, head)
            assert np.abs(steps.weights - run.attentions[layer, head]).max() < 1e-5, (layer, head)
            # A·V against the layer's self-attention output, read by a hook inside the model
            model_out = run.contexts[layer][:, head * 32:(head + 1) * 32]
            assert np.abs(steps.output - model_out).max() < 1e-5, (layer, head)


def test_each_step_is_what_it_says(run, minilm):
    _, model = minilm
    s = head_by_hand(model, run.hidden_states, 2, 5)
    q_lin = model.encoder.layer[2].attention.self.query
    with torch.no_grad():
        q_model = q_lin(torch.from_numpy(run.hidden_states[2])).numpy()[:, 5 * 32:6 * 32]
    np.testing.assert_allclose(s.Q, q_model, atol=1e-5)
    np.testing.assert_allclose(s.scores, s.Q @ s.K.T, atol=1e-9)
    np.testing.assert_allclose(s.scaled, s.scores / np.sqrt(32), atol=1e-12)
    np.testing.assert_allclose(s.weights, torch.softmax(torch.from_numpy(s.scaled), -1).numpy(), atol=1e-12)


def test_one_head_matches_torch_scaled_dot_product_attention(run, minilm):
    _, model = minilm
    s = head_by_hand(model, run.hidden_states, 4, 9)
    q, k, v = (torch.from_numpy(m)[None, None] for m in (s.Q, s.K, s.V))   # (1, 1, T, 32)
    sdpa = torch.nn.functional.scaled_dot_product_attention(q, k, v)[0, 0].numpy()
    np.testing.assert_allclose(s.output, sdpa, atol=1e-10)


def test_padding_is_masked_as_the_model_masks_it(minilm):
    tokenizer, model = minilm
    enc = tokenizer(["Short one.", "A much longer sentence that needs every position it has."], padding=True,
                    return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True, output_hidden_states=True)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy()            # the short sentence, padded
    mask = enc["attention_mask"][0].numpy()
    assert mask.sum() < len(mask)
    model_att = check_attentions([a[:1] for a in out.attentions])
    by_hand = all_heads_by_hand(model, hidden, mask)
    assert np.abs(by_hand - model_att).max() < 1e-5
    assert np.all(by_hand[..., mask == 0] == 0)                       # padding gets no attention at all


def test_layer_one_input_is_the_embedding_sum_after_layernorm(run, minilm):
    tokenizer, model = minilm
    ids = tokenizer.convert_tokens_to_ids(run.tokens)
    emb = model.embeddings
    x = (emb.word_embeddings.weight[ids] + learned_position_embeddings_tensor(model, len(ids))
         + emb.token_type_embeddings.weight[torch.from_numpy(run.token_type_ids)])
    with torch.no_grad():
        x = torch.nn.functional.layer_norm(x, (384,), emb.LayerNorm.weight, emb.LayerNorm.bias, eps=1e-12)
    np.testing.assert_allclose(run.hidden_states[0], x.numpy(), atol=1e-5)


def learned_position_embeddings_tensor(model, n):
    table = learned_position_embeddings(model, n)
    np.testing.assert_array_equal(table, model.embeddings.position_embeddings.weight[:n].detach().double().numpy())
    return torch.from_numpy(table).float()


def test_check_attentions_refuses_wrong_shapes_with_a_fix():
    good = [torch.full((1, 2, 3, 3), 1 / 3) for _ in range(4)]
    assert check_attentions(good).shape == (4, 2, 3, 3)
    assert check_attentions(np.full((4, 2, 3, 3), 1 / 3), n_tokens=3).shape == (4, 2, 3, 3)
    with pytest.raises(ValueError, match="batch of 2"):
        check_attentions([torch.zeros(2, 2, 3, 3)])
    with pytest.raises(ValueError, match=r"\(layers, heads, T, T\)"):
        check_attentions(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="T queries and T keys"):
        check_attentions(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="5 tokens were given"):
        check_attentions(np.zeros((1, 2, 3, 3)), n_tokens=5)
    with pytest.raises(ValueError, match="NaN"):
        check_attentions(np.full((1, 1, 2, 2), np.nan))


def test_bad_text_is_refused_or_cut(minilm):
    tokenizer, model = minilm
    for empty in ("", "   \n"):
        with pytest.raises(TextError, match="empty"):
            encode(tokenizer, empty)
    long = "word " * 2000   # 10,000 characters
    with pytest.raises(TextError, match="2002 tokens.*at most 512"):
        encode(tokenizer, long)
    cut = run_encoder(tokenizer, model, long, truncate=True)
    assert cut.truncated and cut.n_text_tokens == 2002 and len(cut.tokens) == MAX_TOKENS
    assert cut.tokens[-1] == "[SEP]" and cut.attentions.shape == (6, 12, MAX_TOKENS, MAX_TOKENS)


def test_emoji_rtl_and_html_become_plain_tokens(minilm):
    r = run_encoder(*minilm, "I love 🍕! مرحبا שלום <script>alert(1)</script>")
    assert "[UNK]" in r.tokens                                    # the emoji is not in the vocabulary
    assert "script" in r.tokens and "<" in r.tokens              # HTML is just characters to the tokenizer
    assert any("\u0590" <= t[-1] <= "\u06ff" for t in r.tokens)   # Hebrew / Arabic pieces survive
    np.testing.assert_allclose(r.attentions.sum(-1), 1.0, atol=1e-5)


def test_sinusoidal_encoding_closed_form_and_distance():
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], 8))
    p, i = 7, 3
    assert pe[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / 16)))
    assert pe[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / 16)))
    dots = pe @ pe.T
    # sin a sin b + cos a cos b = cos(a - b): the dot product depends on the distance only
    np.testing.assert_allclose(dots[3, 10], dots[20, 27], atol=1e-9)
    curve = similarity_by_distance(pe)
    assert curve[0] == pytest.approx(1.0) and curve[1] > curve[20]
    with pytest.raises(ValueError):
        sinusoidal_encoding(10, 7)


def test_learned_positions_are_alike_when_near(minilm):
    _, model = minilm
    curve = similarity_by_distance(learned_position_embeddings(model, 128))
    assert curve[0] == pytest.approx(1.0) and curve[1] > curve[50]
    with pytest.raises(ValueError, match="1..512"):
        learned_position_embeddings(model, 513)


def test_sentence_embeddings_batched_equal_one_at_a_time(minilm):
    tokenizer, model = minilm
    sentences = ["A man is playing a guitar.", "Someone plays music on a guitar.", "Stocks fell sharply today.",
                 "The market dropped at the opening bell, and kept dropping all day long."]
    emb, cut = sentence_embeddings(tokenizer, model, sentences)
    assert emb.shape == (4, 384) and cut == [False] * 4
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    for i, s in enumerate(sentences):   # no padding: the mean of the last hidden states, normalised
        last = run_encoder(tokenizer, model, s).hidden_states[-1].astype(np.float64).mean(0)
        np.testing.assert_allclose(emb[i], last / np.linalg.norm(last), atol=1e-5)
    sim = cosine_matrix(emb)
    assert sim[0, 1] > sim[0, 2] and sim[2, 3] > sim[1, 3]   # paraphrases closer than unrelated pairs
    with pytest.raises(TextError):
        sentence_embeddings(tokenizer, model, ["", "  "])


def test_toy_attention_sharpens_with_scale():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    k = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    scores, w0 = toy_attention(q, k, 0.0)
    np.testing.assert_allclose(w0, 1 / 3)
    _, w = toy_attention(q, k, 1.3)
    np.testing.assert_allclose(w, torch.softmax(torch.from_numpy(1.3 * q @ k.T), -1).numpy(), atol=1e-12)
    _, sharp = toy_attention(q, k, 50.0)
    np.testing.assert_allclose(sharp[0], [1, 0, 0], atol=1e-12)
    ent = [entropy_bits(toy_attention(q, k, s)[1])[0] for s in (0.0, 1.0, 3.0, 10.0)]
    assert ent[0] == pytest.approx(np.log2(3)) and all(a > b for a, b in zip(ent, ent[1:]))
    curve = weights_against_scale(q[0], k, np.array([0.0, 1.3]))
    np.testing.assert_allclose(curve[1], w[0])
    with pytest.raises(ValueError, match="same d"):
        toy_attention(q, k[:, :1], 1.0)


# ---------------------------------------------------------------- CLI

def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "engine", "attention", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def test_cli_prints_one_json_object_of_attentions(minilm):
    tokenizer, _ = minilm
    proc = cli("--text", "Hello 🙂 world, <b>bold</b>", "--text-pair", "שלום")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    out = json.loads(proc.stdout)
    assert set(out) == {"model", "tokens", "attentions"} and out["model"] == MODEL_NAME
    assert out["tokens"] == ["[CLS]"] + tokenizer.tokenize("Hello 🙂 world, <b>bold</b>") + ["[SEP]"] + \
        tokenizer.tokenize("שלום") + ["[SEP]"]
    a = np.array(out["attentions"])
    T = len(out["tokens"])
    assert a.shape == (6, 12, T, T)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-4)   # six decimals per weight


def test_cli_refuses_empty_and_too_long_text(minilm, capsys):
    # In-process (the model is loaded already): the same main() that `python -m engine` runs.
    from engine.__main__ import main
    assert main(["attention", "--text", "   "]) == 2
    err = capsys.readouterr()
    assert "empty" in err.err and err.out == ""
    assert main(["attention", "--text", "word " * 600]) == 2
    err = capsys.readouterr()
    assert "602 tokens" in err.err and "512" in err.err and err.out == ""
    torch.set_num_threads(os.cpu_count() or 1)   # main() set one thread for the CLI; give the rest back


def test_engine_attention_imports_no_ui_library():
    code = ("import sys, engine.attention.self_attention; "
            "print([m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly', 'altair')])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
