"""The session stores: put / get / list / evict, bounded per session, in total and by age, oldest
evicted first, shared by threads; each test runs on the embedded one (a real SQLite file in WAL
mode) and on the networked one (a real PostgreSQL server, started for this module and stopped
after it). And the Playground saving as it trains and restoring for the same browser (AppTest)."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common.pg_store import PostgresStore
from app_pages.common.session_store import SQLiteStore, default_store_path, open_store, store_address
from tests.servers import postgres_server

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "playground" / "page.py")


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request, tmp_path):
    """make_store(**limits) -> a fresh, empty store of the kind under test; closed afterwards."""
    made = []

    def make(**limits):
        if request.param == "sqlite":
            s = SQLiteStore(tmp_path / "data" / f"sessions{len(made)}.sqlite3", **limits)
        else:
            s = PostgresStore(request.getfixturevalue("postgres_url"), **limits)
            s.evict()  # one server for the module: each test starts from an empty table
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture
def store(make_store):
    return make_store(max_session_bytes=1000, max_total_bytes=2500)


def test_put_get_list_evict(store):
    assert store.get("a", "playground") is None
    store.put("a", "playground", b"one")
    store.put("a", "playground", b"two")  # a later save replaces the earlier one
    store.put("b", "autoencoders", b"x" * 10)
    assert store.get("a", "playground") == b"two"
    assert [(e.session, e.name, e.size) for e in store.list()] == [("a", "playground", 3), ("b", "autoencoders", 10)]
    assert [e.name for e in store.list("b")] == ["autoencoders"]
    assert store.evict("a") == 1 and store.get("a", "playground") is None and store.get("b", "autoencoders")
    assert store.evict("b", "other") == 0 and store.evict() == 1 and store.list() == []


def test_the_embedded_store_is_sqlite_in_wal_mode_in_its_data_folder(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "sessions.sqlite3")
    assert (tmp_path / "data").is_dir()  # the data folder is made on first use
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_a_session_keeps_its_share_and_the_oldest_goes_first(store):
    store.put("a", "one", b"1" * 400)
    time.sleep(0.01)
    store.put("a", "two", b"2" * 400)
    time.sleep(0.01)
    store.put("a", "three", b"3" * 400)  # 1,200 bytes > 1,000: "one", the oldest, goes
    assert [e.name for e in store.list("a")] == ["two", "three"]
    with pytest.raises(ValueError, match="more than a session may keep"):
        store.put("a", "huge", b"h" * 1001)
    assert store.get("a", "two")  # a refused put changes nothing


def test_the_store_keeps_its_total_and_drops_old_entries(store, make_store):
    for i, session in enumerate("abcd"):
        store.put(session, "p", b"x" * 800)
        time.sleep(0.01)
    assert [e.session for e in store.list()] == ["b", "c", "d"]  # 3,200 > 2,500: the oldest session went
    old = make_store(max_age_s=0.05)
    old.evict()
    old.put("a", "p", b"1")
    time.sleep(0.1)
    old.put("b", "p", b"2")  # a save drops what was not saved for longer than the age limit
    assert [e.session for e in old.list()] == ["b"]


def test_threads_share_one_store(store):
    errors = []

    def work(n):
        try:
            for i in range(30):
                store.put(f"s{n}", "p", bytes([i]) * 20)
                assert store.get(f"s{n}", "p") == bytes([i]) * 20
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(store.list()) == 4


def test_the_data_folder_and_the_networked_store_come_from_the_environment(monkeypatch, tmp_path, postgres_url):
    monkeypatch.setenv("NP_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("NP_STORE_URL", raising=False)
    assert default_store_path() == tmp_path / "elsewhere" / "sessions.sqlite3"
    assert isinstance(open_store(store_address()), SQLiteStore)
    monkeypatch.setenv("NP_STORE_URL", postgres_url)
    assert isinstance(open_store(store_address()), PostgresStore)


def test_two_replicas_share_the_networked_store_and_it_survives_a_dropped_connection(postgres_url):
    """What a replica saved, another reads; a connection the server closed is opened again."""
    one, two = PostgresStore(postgres_url), PostgresStore(postgres_url)
    one.evict()
    one.put("student", "playground", b"weights")
    assert two.get("student", "playground") == b"weights"
    one._db.close()  # as if the server had dropped it: the next call reconnects
    assert one.get("student", "playground") == b"weights"
    admin = PostgresStore(postgres_url)
    admin._db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                      "AND datname = current_database()")
    assert two.get("student", "playground") == b"weights"  # its connection was killed by the server
    for s in (one, two, admin):
        s.close()


# ---------- the Playground saves as it goes and comes back ----------
def _open(key: str, **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["np_session_key"] = key
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.success, *at.warning, *at.error])


def test_the_playground_restores_the_network_this_browser_trained():
    key = "1" * 32
    at = _open(key)
    for _ in range(3):
        at.button(key="pg_step").click().run()  # one epoch each; paused, so each is saved
    trainer = at.session_state.pg_run.trainer
    epoch, step, weights = trainer.epoch, trainer.step_count, [p.detach().clone() for p in trainer.model.parameters()]
    assert epoch == 3

    back = _open(key)  # a reload: a new session of the same browser
    restored = back.session_state.pg_run.trainer
    assert (restored.epoch, restored.step_count) == (epoch, step)
    assert all((a == b).all() for a, b in zip(weights, restored.model.parameters()))
    assert "Restored your network at epoch 3" in _texts(back)
    back.button(key="pg_step").click().run()  # and it trains on from there
    assert back.session_state.pg_run.trainer.epoch == 4

    other = _open("2" * 32)  # another browser starts afresh
    assert other.session_state.pg_run.trainer.epoch == 0
    shared = _open(key, **{"data.name": "xor", "train.seed": "5"})  # a shared address wins over the saved run
    assert shared.session_state.pg_run.trainer.epoch == 0 and shared.session_state.pg_dataset == "xor"


def test_a_restored_network_with_another_seed_keeps_it():
    key = "3" * 32
    at = _open(key, **{"train.seed": "7", "data.name": "moons"})
    at.button(key="pg_step").click().run()
    back = _open(key)  # the address is empty now (the nav menu, a bookmark): the saved run comes back
    assert back.session_state.pg_run.trainer.epoch == 1 and back.session_state.global_seed == 7
    back.run()  # the widgets describe the restored network exactly: no question, no new network
    assert back.session_state.pg_run.trainer.epoch == 1 and "You changed" not in _texts(back)
    assert back.session_state.pg_run.trainer.config.train.seed == 7


def test_a_damaged_saved_entry_is_one_line_and_a_fresh_start():
    from app_pages.common.saved_runs import session_store
    key = "4" * 32
    session_store().put(key, "playground", b"not a checkpoint")
    at = _open(key)
    assert "could not be read" in _texts(at) and at.session_state.pg_run.trainer.epoch == 0
    assert session_store().get(key, "playground") is None  # and it is gone
