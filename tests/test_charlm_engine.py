"""The character-level language models (task "charlm") against independent computations:
each model learns a repetitive text, the Transformer's mask hides the future (and its
hand-written attention equals PyTorch's fused kernel), gradient through time equals
central finite differences, temperature 0 is argmax, runs are reproducible and resumable."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.core.config import ConfigError
from engine.sequence.models import (ARCHITECTURES, build_char_model, generate, gradient_through_time, hidden_states,
                                    sinusoidal_positions)
from engine.sequence.trainer import (MAX_TEXT, MAX_VOCAB, REPLACEMENT, CharLMConfig, CharLMTrainer, CharModelConfig,
                                     Corpus, split_blocks)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the app and the CLI run: tiny models on one CPU thread (two threads only fight)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
CYCLE = "abcdefghij" * 6  # each character fixes the next one: a perfect model reaches loss 0


def tiny_models(**kw) -> list[CharModelConfig]:
    return [CharModelConfig(a, hidden=32, layers=1, heads=2, lr=0.02, **kw) for a in ARCHITECTURES]


def test_every_architecture_learns_a_repetitive_text_on_the_same_batches():
    config = CharLMConfig(corpus="text", text=CYCLE, context=8, batch_size=16, models=tiny_models())
    trainer = CharLMTrainer(config, "cpu")
    first = trainer.step(1)
    snap = trainer.step(150)
    assert trainer.val_data is None  # 60 characters: too short to hold any out
    for before, after in zip(first.models, snap.models):
        assert before.val_loss > 1.5  # ~ln 10 at the start
        assert after.val_loss < 0.05, (after.label, after.val_loss)
        assert after.bits_per_char == pytest.approx(after.val_loss / np.log(2))
    assert [m.label for m in snap.models] == ["RNN", "LSTM", "GRU", "Transformer"]
    assert trainer.loss_steps().shape == (151, 4)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_at_t_ignores_every_character_after_t(arch):
    torch.manual_seed(0)
    model = build_char_model(arch, vocab_size=12, hidden=16, layers=2, dropout=0.0, context=10, heads=4).eval()
    idx = torch.randint(0, 12, (3, 10))
    changed = idx.clone()
    t = 4
    changed[:, t + 1:] = (idx[:, t + 1:] + 1 + torch.randint(0, 10, (3, 5))) % 12  # every later character differs
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=1e-6)
    assert (a[:, t + 1:] - b[:, t + 1:]).abs().max() > 1e-3  # the later outputs do read their inputs


def test_hand_written_attention_equals_pytorchs_fused_causal_attention():
    torch.manual_seed(1)
    model = build_char_model("transformer", 9, hidden=16, layers=2, dropout=0.0, context=12, heads=4).eval()
    attn = model.blocks[0].attn
    x = torch.randn(2, 7, 16)
    y, weights = attn(x)
    q, k, v = attn.c_attn(x).split(16, dim=2)
    q, k, v = (z.view(2, 7, 4, 4).transpose(1, 2) for z in (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, 7, 16)
    torch.testing.assert_close(y, attn.c_proj(ref), rtol=1e-5, atol=1e-6)
    assert weights.shape == (2, 4, 7, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 7))
    assert torch.all(weights.triu(diagonal=1) == 0)  # nothing above the diagonal: the mask


def test_sinusoidal_positions_are_the_formula():
    table = sinusoidal_positions(5, 6)
    pos, i = 3, 2  # dimension 2i = 4 -> sin, 2i + 1 = 5 -> cos
    assert table[pos, 4] == pytest.approx(np.sin(pos / 10000 ** (4 / 6)), abs=1e-6)
    assert table[pos, 5] == pytest.approx(np.cos(pos / 10000 ** (4 / 6)), abs=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_gradient_through_time_equals_finite_differences(arch):
    torch.manual_seed(2)
    model = build_char_model(arch, 6, hidden=8, layers=1, dropout=0.0, context=6, heads=2,
                             positions="sinusoidal").double().eval()
    idx, targets = torch.randint(0, 6, (2, 6)), torch.randint(0, 6, (2, 6))
    got = gradient_through_time(model, idx, targets).numpy()

    def last_loss(x):  # the loss at the last position of every sequence, summed
        logits = model.forward_embedded(x)[0]
        return float(F.cross_entropy(logits[:, -1], targets[:, -1], reduction="sum"))

    x0 = model.embed_tokens(idx).detach()
    eps, fd = 1e-6, np.zeros((2, 6, 8))
    with torch.no_grad():
        for b in range(2):
            for t in range(6):
                for e in range(8):
                    up, down = x0.clone(), x0.clone()
                    up[b, t, e] += eps
                    down[b, t, e] -= eps
                    fd[b, t, e] = (last_loss(up) - last_loss(down)) / (2 * eps)
    expected = np.linalg.norm(fd, axis=2).mean(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    assert got[-1] > 0 and np.all(got > 0)


def test_a_vanilla_rnn_with_small_recurrent_weights_forgets_and_the_transformer_does_not():
    torch.manual_seed(3)
    rnn = build_char_model("rnn", 6, hidden=16, layers=1, dropout=0.0, context=24)
    with torch.no_grad():
        rnn.rnn.weight_hh_l0.mul_(0.2)  # contraction: each step back multiplies the gradient by < 1
    idx = torch.randint(0, 6, (4, 24))
    curve = gradient_through_time(rnn, idx, idx).numpy()
    assert curve[0] < 1e-6 * curve[-1]
    tr = build_char_model("transformer", 6, hidden=16, layers=1, dropout=0.0, context=24, heads=2)
    curve = gradient_through_time(tr, idx, idx).numpy()
    assert curve[0] > 1e-3 * curve[-1]  # attention reaches the first character directly


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_temperature_zero_and_top_k_one_are_argmax(arch):
    torch.manual_seed(4)
    model = build_char_model(arch, 7, hidden=16, layers=1, dropout=0.0, context=16, heads=2).eval()
    prompt = [1, 2, 3]
    greedy = list(prompt)
    with torch.no_grad():
        for _ in range(10):  # the oracle: reread the whole sequence, take the most likely character
            greedy.append(int(model(torch.tensor([greedy]))[0, -1].argmax()))
    expected = greedy[3:]
    assert generate(model, prompt, 10, temperature=0.0, context=16) == expected
    gen = torch.Generator().manual_seed(0)
    assert generate(model, prompt, 10, temperature=1e-4, generator=gen, context=16) == expected
    assert generate(model, prompt, 10, temperature=1.5, top_k=1, generator=gen, context=16) == expected


def test_hidden_states_are_the_lstm_outputs_and_end_in_its_final_state():
    torch.manual_seed(5)
    model = build_char_model("lstm", 5, hidden=8, layers=2, dropout=0.0, context=8).eval()
    idx = torch.randint(0, 5, (1, 9))
    states = hidden_states(model, idx)
    _, (h_n, _) = model.rnn(model.embed(idx))
    assert states.shape == (9, 8)
    torch.testing.assert_close(states[-1], h_n[-1, 0])


def test_same_seed_same_run_and_chunks_resume_exactly():
    models = [CharModelConfig("lstm", hidden=16, dropout=0.2), CharModelConfig("transformer", hidden=16, heads=2,
                                                                                dropout=0.2)]
    config = CharLMConfig(corpus="text", text="the cat sat on the mat. " * 20, context=12, batch_size=8,
                          models=models, seed=3)
    a, b = CharLMTrainer(config, "cpu"), CharLMTrainer(config, "cpu")
    a.step(5)
    snap_a = a.step(5)
    snap_b = b.step(10)
    np.testing.assert_array_equal(a.loss_steps(), b.loss_steps())
    assert snap_a.models[0].val_loss == snap_b.models[0].val_loss and snap_a.step == 10
    for ma, mb in zip(a.models, b.models):
        for pa, pb in zip(ma.parameters(), mb.parameters()):
            assert torch.equal(pa, pb)
    assert a.sample(0, "the ", 30, 0.8) == b.sample(0, "the ", 30, 0.8)
    other = CharLMTrainer(CharLMConfig.from_dict({**config.to_dict(), "seed": 4}), "cpu")
    other.step(10)
    assert not np.array_equal(other.loss_steps(), a.loss_steps())


def test_config_round_trip_and_errors_name_the_field():
    config = CharLMConfig(corpus="text", text="héllo wörld 🙂 " * 3, models=[CharModelConfig("gru", label="mine")],
                          context=8)
    assert CharLMConfig.from_json(config.to_json()) == config
    cases = [({"corpus": "text", "text": "short"}, "text"),
             ({"corpus": "text", "text": "x" * (MAX_TEXT + 1)}, "text"),
             ({"models": [{"arch": "transformer", "hidden": 30, "heads": 4}]}, "models[0].heads"),
             ({"models": [{"arch": "cnn"}]}, "models[0].arch"),
             ({"models": []}, "models"),
             ({"models": [{"arch": "rnn", "colour": 1}]}, "models[0].colour"),
             ({"context": 2}, "context"),
             ({"corpus": "text", "text": "a" * 30, "context": 40}, "context"),
             ({"bogus": 1}, "bogus")]
    for d, field in cases:
        with pytest.raises(ConfigError) as e:
            CharLMConfig.from_dict(d)
        assert e.value.field == field, (d, str(e.value))
    assert CharLMConfig(models=[CharModelConfig("lstm"), CharModelConfig("lstm")]).labels() == ["LSTM 1", "LSTM 2"]


def test_vocabulary_keeps_the_commonest_characters_and_reports_unknown_ones():
    text = "".join(chr(0x4E00 + i) * (1 + i % 3) for i in range(400)) + "ab😀"
    corpus = Corpus.from_text(text)
    assert len(corpus.chars) == MAX_VOCAB and REPLACEMENT in corpus.chars
    assert corpus.replaced > 0 and len(corpus.text) == len(text)
    ids, unknown = Corpus.from_text("hello <b>world</b> 🙂").encode("hi 🙂 שלום")
    assert unknown == ["i", "ש", "ל", "ו", "ם"] and len(ids) == 4  # "h", " ", "🙂", " " are known


def test_held_out_blocks_come_from_all_over_the_text():
    data = torch.arange(5000)
    train, val = split_blocks(data, 0.1, 32)
    assert len(train) + len(val) == 5000 and 0.05 < len(val) / 5000 < 0.15
    assert val.min() < 2000 and val.max() > 3500  # not only the end
    assert split_blocks(torch.arange(500), 0.1, 32)[1] is None


def test_learning_rate_changes_keep_progress_and_a_blown_up_model_stops_alone():
    config = CharLMConfig(corpus="text", text=CYCLE, context=8, batch_size=4,
                          models=[CharModelConfig("rnn", hidden=8), CharModelConfig("gru", hidden=8)])
    trainer = CharLMTrainer(config, "cpu")
    trainer.step(3)
    hot = CharLMConfig.from_dict({**config.to_dict(), "models": [{"arch": "rnn", "hidden": 8, "lr": 0.05},
                                                                 {"arch": "gru", "hidden": 8}]})
    assert trainer.apply(hot) == [] and trainer.optimizers[0].param_groups[0]["lr"] == 0.05
    cold = CharLMConfig.from_dict({**config.to_dict(), "context": 6})
    assert trainer.apply(cold) == ["context"] and trainer.step_count == 3
    with torch.no_grad():
        trainer.models[0].embed.weight.fill_(float("inf"))  # the next loss is NaN
    snap = trainer.step(4)
    assert snap.models[0].diverged and not snap.models[1].diverged and not snap.diverged
    assert np.isnan(trainer.loss_steps()[-1, 0]) and np.isfinite(trainer.loss_steps()[-1, 1])
    assert snap.step == 7


def test_trainer_probes_read_typed_text():
    config = CharLMConfig(corpus="text", text="hello world, hello there. " * 4, context=10,
                          models=[CharModelConfig("transformer", hidden=16, heads=2, layers=2),
                                  CharModelConfig("lstm", hidden=12)])
    trainer = CharLMTrainer(config, "cpu")
    weights, used, unknown = trainer.attention(0, "hello 🙂 world and more text")
    assert weights.shape == (2, 2, 10, 10) and used == "hello  wor" and "🙂" in unknown
    states, used, unknown = trainer.hidden_states(1, "hello")
    assert states.shape == (5, 12) and unknown == []
    assert trainer.gradient_through_time(0).shape == (10,)
    with pytest.raises(ValueError):
        trainer.attention(1, "hello")
    text, unknown = trainer.sample(1, "hi", 20, temperature=0.7, top_k=5)
    assert len(text) == 20 and set(text) <= set(trainer.corpus.chars)
    assert json.loads(json.dumps(trainer.snapshot().to_json_dict()))["vocab_size"] == len(trainer.corpus.chars)


def test_cli_trains_a_charlm_config_without_ui_libraries(tmp_path):
    cfg = tmp_path / "charlm.json"
    cfg.write_text(json.dumps({"task": "charlm", "corpus": "text", "text": CYCLE, "context": 8, "batch_size": 8,
                               "models": [{"arch": "lstm", "hidden": 16}, {"arch": "transformer", "hidden": 16}]}))
    # The CLI's own entry point in a fresh interpreter, which then lists what it imported.
    script = ("import json, sys; from engine.__main__ import main; "
              f"rc = main(['train', {str(cfg)!r}, '--steps', '6', '--every', '3']); "
              "print(json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("step") for line in lines[:2]] == [3, 6] and lines[2]["done"]
    assert [m["label"] for m in lines[1]["models"]] == ["LSTM", "Transformer"]
    assert lines[-1]["rc"] == 0 and "engine.sequence.trainer" in lines[-1]["modules"]
    assert not [m for m in lines[-1]["modules"] if m.split(".")[0] in ("streamlit", "plotly", "altair")]


def test_built_in_corpora_are_cut_to_length():
    from engine.core.corpora import sentiment_rows
    from engine.sequence.trainer import corpus_text
    tweets = corpus_text(CharLMConfig(corpus="tweets", corpus_chars=5000))
    assert len(tweets) == 5000 and tweets.startswith(sentiment_rows()[0].text.replace("\n", " "))
    assert tweets.count("\n") > 10  # one tweet per line
    readme = corpus_text(CharLMConfig(corpus="readme", corpus_chars=1000))
    assert len(readme) == 1000 and readme.startswith("# Neural Playground")
    guides = corpus_text(CharLMConfig(corpus_chars=1000))  # the default corpus: the page guides
    assert len(guides) == 1000 and guides.startswith("# ")


# ---------- checkpoints (engine/sequence/checkpoint.py) ----------
def _every_kind_of_model() -> CharLMConfig:
    """Every architecture and optimiser, with dropout: each piece of the saved state matters."""
    kinds = [("rnn", "sgd"), ("lstm", "momentum"), ("gru", "adagrad"), ("transformer", "adam"), ("rnn", "rmsprop"),
             ("gru", "nesterov")]
    return CharLMConfig(corpus="text", text="the cat sat on the mat. " * 20, context=12, batch_size=8, seed=3,
                        models=[CharModelConfig(a, hidden=16, heads=2, dropout=0.2, optimizer=o) for a, o in kinds])


def _same_models(a: CharLMTrainer, b: CharLMTrainer) -> bool:
    return all(torch.equal(p, q) for ma, mb in zip(a.models, b.models) for p, q in zip(ma.parameters(),
                                                                                      mb.parameters()))


def test_step_save_load_step_is_the_straight_run_bit_for_bit():
    config = _every_kind_of_model()
    straight = CharLMTrainer(config, "cpu")
    straight.step(7)
    with torch.no_grad():
        straight.models[0].embed.weight.fill_(float("inf"))  # the RNN blows up: it stands still from here
    straight.step(3)
    later = straight.step(8)

    paused = CharLMTrainer(config, "cpu")
    paused.step(7)
    with torch.no_grad():
        paused.models[0].embed.weight.fill_(float("inf"))
    paused.step(3)
    data = paused.checkpoint_bytes()
    torch.manual_seed(99), torch.rand(50)  # the global generator between save and load changes nothing
    resumed = CharLMTrainer.from_checkpoint(data, "cpu")
    assert resumed.config == config and resumed.step_count == 10 and resumed.model_diverged == paused.model_diverged
    assert resumed.corpus.chars == paused.corpus.chars and resumed.history == paused.history
    np.testing.assert_array_equal(resumed.loss_steps(), paused.loss_steps())  # NaN where the RNN stood still
    assert resumed.step(8) == later and resumed.history == straight.history
    np.testing.assert_array_equal(resumed.loss_steps(), straight.loss_steps())
    assert _same_models(resumed, straight) and resumed.seconds_training >= paused.seconds_training
    assert resumed.sample(3, "the ", 30, 0.8) == straight.sample(3, "the ", 30, 0.8)
    assert 0.5 < paused.approximate_checkpoint_bytes() / len(data) < 1.5


def test_a_built_in_text_is_kept_in_the_checkpoint_so_an_edited_readme_changes_nothing(monkeypatch):
    import engine.core.corpora as corpora
    config = CharLMConfig(corpus="readme", corpus_chars=2000, context=16, batch_size=4,
                          models=[CharModelConfig("gru", hidden=8)])
    trainer = CharLMTrainer(config, "cpu")
    trainer.step(3)
    data = trainer.checkpoint_bytes()
    monkeypatch.setattr(corpora, "readme_text", lambda: "ΩΩ a README rewritten since " * 100)  # new characters
    resumed = CharLMTrainer.from_checkpoint(data, "cpu")
    assert resumed.corpus.text == trainer.corpus.text and resumed.step(2) == trainer.step(2)
    assert CharLMTrainer(config, "cpu").corpus.text != trainer.corpus.text  # a new run reads the new README


def _tampered(data: bytes, **changes) -> bytes:
    import io
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_damaged_checkpoints_are_one_line_value_errors():
    config = CharLMConfig(corpus="text", text=CYCLE, context=8, batch_size=4,
                          models=[CharModelConfig("lstm", hidden=8), CharModelConfig("transformer", hidden=8)])
    trainer = CharLMTrainer(config, "cpu")
    trainer.step(3)
    data = trainer.checkpoint_bytes()
    weights = [dict(m.state_dict()) for m in trainer.models]
    nan_weights = [{**weights[0], "embed.weight": torch.full_like(weights[0]["embed.weight"], float("nan"))},
                   weights[1]]
    adam = trainer.optimizers[0].state_dict()
    cases = {
        b"": "not a Sequence models checkpoint: the file is empty",
        b"not a checkpoint": "not a file written by torch.save",
        _tampered(data, format=2): "this app reads format 1",
        _tampered(data, config="{"): "invalid config",
        _tampered(data, models=weights[:1]): "lists of 2",
        _tampered(data, models=[weights[1], weights[0]]): "do not fit its config",
        _tampered(data, models=nan_weights): "not all finite",
        _tampered(data, optimizers=[{"state": {0: {"exp_avg": torch.zeros(1)}}, "param_groups": adam["param_groups"]},
                                    trainer.optimizers[1].state_dict()]): "not that of Adam",
        _tampered(data, corpus={"text": "xyz", "chars": ["a"], "replaced": 0}): "outside its vocabulary",
        _tampered(data, losses=torch.zeros(2, 2)): "losses must be a (3, 2) float32 tensor",
        _tampered(data, history=[{"step": 1}]): "history must be a list",
        _tampered(data, step=-1): "step must be a whole number",
        _tampered(data, batch_generator=torch.zeros(3, dtype=torch.uint8)): "generator state does not fit",
        _tampered(data, model_diverged=[False]): "model_diverged must be 2 flags",
    }
    for bad, says in cases.items():
        with pytest.raises(ValueError) as info:
            CharLMTrainer.from_checkpoint(bad, "cpu")
        message = str(info.value)
        assert type(info.value) is ValueError and says in message, (says, message)
        assert "weights_only" not in message and "\n" not in message, message
