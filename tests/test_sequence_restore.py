"""The Sequence models page saves all its models as one entry as they train and brings them back
for the same browser (a reload, a server restart): the autosave clock, a run too large to keep,
the address rule (a shared link wins), the restore itself, the seed and a long pasted text kept,
Reset forgetting, a damaged entry. AppTest."""
import torch
from streamlit.testing.v1 import AppTest

from app_pages.sequence.state import MAX_ADDRESS_TEXT, SequenceLab, restored_widgets, widgets_to_query
from engine.sequence.trainer import CharLMConfig, CharLMTrainer, CharModelConfig
from tests.test_sequence_page import PAGE, asking, metrics, one_thread  # noqa: F401 (a fixture)

# Two small models with dropout on a short built-in text: each step is cheap, and the generators matter.
SMALL = {"models": "gru,transformer", "corpus": "readme", "context": "16", "batch": "8", "gru.hidden": "16",
         "gru.dropout": "0.1", "transformer.hidden": "16", "transformer.layers": "1"}


def _small_config(**kw) -> CharLMConfig:
    return CharLMConfig(**{"corpus": "text", "text": "the cat sat on the mat. " * 10, "context": 8, "batch_size": 8,
                           "models": [CharModelConfig("gru", hidden=16)], **kw})


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    lab = SequenceLab.build(_small_config())
    saved = []
    assert not lab.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    lab.play()
    lab.tick(budget_s=0.02)
    assert lab.autosave(saved.append, now=1.0) and len(saved) == 1
    lab.tick(budget_s=0.02)
    assert not lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    lab.pause()
    lab.step(3)  # the Step button pauses and trains: saved at once, and only once
    assert lab.autosave(saved.append, now=100.0) and not lab.autosave(saved.append, now=200.0)
    back = CharLMTrainer.from_checkpoint(saved[-1], "cpu")
    assert back.step_count == lab.trainer.step_count and back.history == lab.trainer.history


def test_models_too_large_to_keep_are_not_written_and_the_page_says_so(monkeypatch):
    import app_pages.sequence.state as sequence_state
    lab = SequenceLab.build(_small_config())
    lab.step(2)
    monkeypatch.setattr(sequence_state, "MAX_SESSION_BYTES", lab.trainer.approximate_checkpoint_bytes() - 1)
    saved = []
    assert not lab.autosave(saved.append, now=0.0) and not saved
    assert "too large to keep for a reload" in lab.save_note and "not saved" in lab.save_note


def test_restore_follows_the_address_a_shared_link_wins():
    config = _small_config(seed=3, models=[CharModelConfig("gru", hidden=16, lr=0.003),
                                           CharModelConfig("transformer", hidden=32, heads=4, lr=0.005)])
    values = restored_widgets(config, {})  # an empty address: the nav menu, a bookmark
    assert values["sq_models"] == ["gru", "transformer"] and values["sq_text"] == config.text
    own = widgets_to_query(values, 3)  # what the page writes for it, and a reload sends back
    assert restored_widgets(config, own) == values
    other_tab = {**own, "rnn.lr": "0.3"}  # a model not trained: the address keeps its tab, and still restores
    assert restored_widgets(config, other_tab)["sq_rnn_lr"] == 0.3
    for other in ({**own, "train.seed": "4"}, {**own, "gru.hidden": "32"}, {"models": "lstm"}, {**own, "x": "1"},
                  {**own, "context": "junk"}):
        assert restored_widgets(config, other) is None, other
    long_text = _small_config(text="x" * (MAX_ADDRESS_TEXT + 1))  # too long for the address: left out of it
    own = widgets_to_query(restored_widgets(long_text, {}), 0)
    assert "text" not in own and restored_widgets(long_text, own)["sq_text"] == long_text.text
    odd = _small_config(models=[CharModelConfig("gru", hidden=100)])  # a size no widget offers: not restored
    assert restored_widgets(odd, {}) is None


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def trainer(at: AppTest) -> CharLMTrainer:
    return at.session_state.sq_lab.trainer


def _same_weights(a: CharLMTrainer, b: CharLMTrainer) -> bool:
    return all(torch.equal(p, q) for ma, mb in zip(a.models, b.models) for p, q in zip(ma.parameters(),
                                                                                      mb.parameters()))


def test_the_page_restores_every_model_this_browser_trained():
    key = "a" * 32
    at = _open_as(key, **SMALL)
    at.button(key="sq_step").click().run()  # 10 steps; paused, so saved
    at.select_slider(key="sq_transformer_lr").set_value(0.01).run()  # hot: in the address and the next save
    at.button(key="sq_step").click().run()
    assert trainer(at).step_count == 20

    back = _open_as(key, **at.query_params)  # a reload: a new session of the same browser, the page's address
    restored = trainer(back)
    assert restored.step_count == 20 and _same_weights(restored, trainer(at))
    assert restored.history == trainer(at).history
    assert [m.arch for m in restored.config.models] == ["gru", "transformer"] and restored.config.models[1].lr == 0.01
    assert "Restored your models at step 20, as last saved. Press Play to go on." in _notices(back)
    assert metrics(back)["Step"] == "20" and back.multiselect(key="sq_models").value == ["gru", "transformer"]
    back.button(key="sq_step").click().run()  # both train on from there, as the uninterrupted run does
    at.button(key="sq_step").click().run()
    assert trainer(back).step_count == trainer(at).step_count == 30 and _same_weights(trainer(at), trainer(back))
    assert "Restored" not in _notices(back) and not asking(back)  # the notice is shown once; no question

    assert trainer(_open_as(key)).step_count == 30  # an empty address (the menu, a bookmark) restores too
    assert trainer(_open_as("b" * 32, **SMALL)).step_count == 0  # another browser starts afresh
    shared = _open_as(key, **{**SMALL, "models": "lstm", "train.seed": "5"})  # a shared address wins
    assert trainer(shared).step_count == 0 and [m.arch for m in trainer(shared).config.models] == ["lstm"]
    assert trainer(shared).config.seed == 5 and "Restored" not in _notices(shared)


def test_a_pasted_text_and_the_seed_come_back_and_reset_forgets():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    text = "a pasted text, longer than an address holds. " * 12
    assert len(text) > MAX_ADDRESS_TEXT
    at = _open_as(key, **{**SMALL, "train.seed": "7"})
    at.radio(key="sq_corpus").set_value("text").run()
    at.text_area(key="sq_text").set_value(text).run()
    at.button(key="sq_step").click().run()
    assert "text" not in at.query_params and trainer(at).config.text == text

    back = _open_as(key, **at.query_params)  # the page's own address, which leaves the text out
    assert trainer(back).step_count == 10 and trainer(back).config.text == text
    assert back.text_area(key="sq_text").value == text and back.session_state.global_seed == 7
    back.run()  # the widgets describe the restored models exactly: no question, no new models
    assert trainer(back).step_count == 10 and not asking(back)

    back.button(key="sq_reset").click().run()
    assert trainer(back).step_count == 0 and session_store().get(key, "sequence") is None
    again = _open_as(key, **SMALL)  # a reload after Reset: nothing saved, so the address's setup
    assert trainer(again).step_count == 0 and again.radio(key="sq_corpus").value == "readme"


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, "sequence", b"not a checkpoint")
    at = _open_as(key, **SMALL)
    assert [w.value for w in at.warning] == ["Your saved models could not be read (ValueError); starting afresh."]
    assert trainer(at).step_count == 0 and session_store().get(key, "sequence") is None  # and it is gone
    at.button(key="sq_step").click().run()
    assert CharLMTrainer.from_checkpoint(session_store().get(key, "sequence"), "cpu").step_count == 10

