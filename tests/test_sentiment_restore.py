"""The Sentiment lab saves its network as it trains and brings it back for the same browser (a
reload, a server restart): the autosave clock, a network too large to keep, the address rule (a
shared link wins), the restore itself, the seed and an uploaded CSV kept, Reset forgetting, a
damaged entry. AppTest."""
import torch
from streamlit.testing.v1 import AppTest

from app_pages.sentiment.state import SentimentLab, restored_widgets, widgets_to_query
from engine.sentiment.trainer import SentimentConfig, SentimentTrainer
from tests.test_sentiment_page import PAGE, one_thread  # noqa: F401 (a fixture)

SMALL = {"rows": "1000", "vocab": "500", "width": "16"}  # a small sample and network: each step is cheap
CSV = b"text,label\n" + b"".join(b"good day %d,pos\nbad day %d,neg\n" % (i, i) for i in range(15))


def _small_config(**train) -> SentimentConfig:
    return SentimentConfig.from_dict({"data": {"max_rows": 1000}, "model": {"vocab_size": 500, "hidden": [16]},
                                      "train": {"batch_size": 64, **train}})


def test_autosave_every_few_seconds_while_playing_and_once_when_stopped():
    from app_pages.common.autosave import AUTOSAVE_SECONDS
    lab = SentimentLab.build(_small_config(), "cpu")
    saved = []
    assert not lab.autosave(saved.append, now=0.0)  # nothing trained: nothing to save
    lab.play()
    lab.tick(budget_s=0.02)
    assert lab.autosave(saved.append, now=1.0) and len(saved) == 1
    lab.tick(budget_s=0.02)
    assert not lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS / 2)  # too soon while playing
    assert lab.autosave(saved.append, now=1.0 + AUTOSAVE_SECONDS) and len(saved) == 2
    lab.pause()
    lab.step()  # the Step button pauses and trains: saved at once, and only once
    assert lab.autosave(saved.append, now=100.0) and not lab.autosave(saved.append, now=200.0)
    back = SentimentTrainer.from_checkpoint(saved[-1], "cpu")
    assert back.step_count == lab.trainer.step_count and back.history == lab.trainer.history


def test_a_network_too_large_to_keep_is_not_written_and_the_page_says_so(monkeypatch):
    import app_pages.sentiment.state as sentiment_state
    lab = SentimentLab.build(_small_config(), "cpu")
    lab.step()
    monkeypatch.setattr(sentiment_state, "MAX_SESSION_BYTES", lab.trainer.approximate_checkpoint_bytes() - 1)
    saved = []
    assert not lab.autosave(saved.append, now=0.0) and not saved
    assert "too large to keep for a reload" in lab.save_note and "not saved" in lab.save_note


def test_restore_follows_the_address_a_shared_link_wins():
    config = _small_config(lr=0.01, seed=3)
    values = restored_widgets(config, {})  # an empty address: the nav menu, a bookmark
    assert values["sn_lr"] == 0.01 and values["sn_vocab"] == 500 and "sn_upload_rows" not in values
    own = widgets_to_query(values, 3)  # what the page writes for it, and a reload sends back
    assert restored_widgets(config, own) == values
    asked = restored_widgets(config, {**own, "text": "so happy", "method": "occlusion"})  # views: kept
    assert (asked["sn_sentence"], asked["sn_method"]) == ("so happy", "occlusion")
    for other in ({**own, "train.seed": "4"}, {**own, "lr": "0.1"}, {"representation": "bow"}, {**own, "x": "1"},
                  {**own, "epochs": "nan"}):
        assert restored_widgets(config, other) is None, other
    odd = _small_config(batch_size=100)  # a batch size no widget offers: not shown, so not restored
    assert restored_widgets(odd, {}) is None


def _open_as(browser_key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["np_session_key"] = browser_key
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notices(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def trainer(at: AppTest) -> SentimentTrainer:
    return at.session_state.sn_lab.trainer


def _same_weights(a: SentimentTrainer, b: SentimentTrainer) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_the_page_restores_the_network_this_browser_trained():
    key = "a" * 32
    at = _open_as(key, **SMALL)
    at.button(key="sn_step").click().run()  # to the next check; paused, so saved
    at.select_slider(key="sn_lr").set_value(0.01).run()  # hot: in the address and the next save
    at.button(key="sn_step").click().run()
    step = trainer(at).step_count
    assert step > 0

    back = _open_as(key, **at.query_params)  # a reload: a new session of the same browser, the page's address
    restored = trainer(back)
    assert restored.step_count == step and _same_weights(restored, trainer(at))
    assert restored.history == trainer(at).history
    assert restored.config == trainer(at).config and restored.config.train.lr == 0.01
    assert f"Restored your network at step {step:,}, as last saved. Press Play to go on." in _notices(back)
    back.button(key="sn_step").click().run()  # both train on from there, as the uninterrupted run does
    at.button(key="sn_step").click().run()
    assert trainer(back).step_count == trainer(at).step_count > step and _same_weights(trainer(at), trainer(back))
    assert trainer(back).history == trainer(at).history and "Restored" not in _notices(back)  # shown once

    assert trainer(_open_as("b" * 32, **SMALL)).step_count == 0  # another browser starts afresh
    shared = _open_as(key, **{**SMALL, "representation": "bow", "train.seed": "5"})  # a shared address wins
    assert trainer(shared).step_count == 0 and trainer(shared).config.model.representation == "bow"
    assert trainer(shared).config.train.seed == 5 and "Restored" not in _notices(shared)


def test_an_uploaded_csv_and_the_seed_come_back_and_reset_forgets():
    from app_pages.common.saved_runs import session_store
    key = "c" * 32
    at = _open_as(key, data="csv", val="0.2", test="0.2", **{"train.seed": "7"})
    at.file_uploader(key="sn_upload").upload("mine.csv", CSV, "text/csv").run()
    at.button(key="sn_step").click().run()
    step = trainer(at).step_count

    back = _open_as(key)  # an empty address: the saved run comes back, its rows and its seed with it
    assert trainer(back).step_count == step and trainer(back).class_names == ["neg", "pos"]
    assert back.session_state.sn_upload_rows == trainer(at).config.data.rows and back.session_state.global_seed == 7
    assert back.radio(key="sn_source").value == "upload" and "30 rows" in " ".join(c.value for c in back.caption)
    back.run()  # the widgets describe the restored network exactly: no question, no new network
    assert trainer(back).step_count == step and not any("needs a new network" in w.value for w in back.warning)
    assert trainer(_open_as(key, **back.query_params)).step_count == step  # its own address (data=csv) too

    back.button(key="sn_reset").click().run()
    assert trainer(back).step_count == 0 and session_store().get(key, "sentiment") is None
    again = _open_as(key, **SMALL)  # a reload after Reset: nothing saved, the address's setup
    assert trainer(again).step_count == 0 and trainer(again).config.data.source == "tweets"


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "d" * 32
    session_store().put(key, "sentiment", b"not a checkpoint")
    at = _open_as(key, **SMALL)
    assert [w.value for w in at.warning] == ["Your saved network could not be read (ValueError); starting afresh."]
    assert trainer(at).step_count == 0 and session_store().get(key, "sentiment") is None  # and it is gone
    at.button(key="sn_step").click().run()
    assert SentimentTrainer.from_checkpoint(session_store().get(key, "sentiment"), "cpu").step_count > 0
