"""Where a session's trained models wait for the same browser to come back: after a reload, a
laptop that slept past the reconnect window, or a server restart.

A store keeps bytes (a checkpoint made with torch.save, read back with weights_only=True) under
a session's key and a name ("playground"). It is one small interface, put / get / list / evict,
so that a networked backend can stand beside the embedded one. The embedded one is SQLite in a
data folder (NP_DATA_DIR, default .data/ beside app.py, created on first use) in WAL mode, so
that the server's threads read while one writes. It is bounded: a session keeps at most
MAX_SESSION_BYTES and the store MAX_TOTAL_BYTES; past either, the least recently saved entries
are evicted first. Plain Python: no Streamlit here.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DATA_DIR_ENV = "NP_DATA_DIR"
STORE_URL_ENV = "NP_STORE_URL"  # postgresql://user@host:port/db: the networked store, shared by replicas
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".data"
MAX_SESSION_BYTES = 20 * 2**20    # a Playground checkpoint is tens of kilobytes, an autoencoder's about 1 MB
MAX_TOTAL_BYTES = 512 * 2**20     # a class of 200, each with a few labs saved
MAX_AGE_SECONDS = 30 * 24 * 3600  # entries not saved for a month are dropped


@dataclass(frozen=True)
class Entry:
    session: str
    name: str
    size: int
    saved_at: float   # time.time() of the last put


class SessionStore(Protocol):
    def put(self, session: str, name: str, data: bytes) -> None: ...
    def get(self, session: str, name: str) -> bytes | None: ...
    def list(self, session: str | None = None) -> list[Entry]: ...
    def evict(self, session: str | None = None, name: str | None = None) -> int: ...


class SQLiteStore:
    """The embedded store: one SQLite file, one row per (session, name)."""

    def __init__(self, path: str | Path, max_session_bytes: int = MAX_SESSION_BYTES,
                 max_total_bytes: int = MAX_TOTAL_BYTES, max_age_s: float = MAX_AGE_SECONDS):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_session_bytes, self.max_total_bytes, self.max_age_s = max_session_bytes, max_total_bytes, max_age_s
        self._lock = threading.Lock()  # one connection shared by the server's threads, used one at a time
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps the file consistent; a crash loses the last save at most
        self._db.execute("CREATE TABLE IF NOT EXISTS entries (session TEXT NOT NULL, name TEXT NOT NULL, "
                         "data BLOB NOT NULL, size INTEGER NOT NULL, saved_at REAL NOT NULL, "
                         "PRIMARY KEY (session, name))")

    def put(self, session: str, name: str, data: bytes) -> None:
        if len(data) > self.max_session_bytes:
            raise ValueError(f"{len(data):,} bytes is more than a session may keep ({self.max_session_bytes:,})")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                                 (session, name, sqlite3.Binary(data), len(data), time.time()))
                self._evict_over_limits(session)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get(self, session: str, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM entries WHERE session = ? AND name = ?", (session, name)).fetchone()
        return bytes(row[0]) if row else None

    def list(self, session: str | None = None) -> list[Entry]:
        query = "SELECT session, name, size, saved_at FROM entries"
        args: tuple = ()
        if session is not None:
            query, args = query + " WHERE session = ?", (session,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY saved_at", args).fetchall()
        return [Entry(*row) for row in rows]

    def evict(self, session: str | None = None, name: str | None = None) -> int:
        """Remove the entries of a session (one name, or all of them; every session when None)."""
        where, args = [], []
        if session is not None:
            where.append("session = ?")
            args.append(session)
        if name is not None:
            where.append("name = ?")
            args.append(name)
        with self._lock:
            cursor = self._db.execute("DELETE FROM entries" + (" WHERE " + " AND ".join(where) if where else ""),
                                      args)
        return cursor.rowcount

    def _evict_over_limits(self, session: str) -> None:
        """Oldest first: entries past the age limit, then this session's past its share, then any past the total."""
        self._db.execute("DELETE FROM entries WHERE saved_at < ?", (time.time() - self.max_age_s,))
        for where, args, limit in ((" WHERE session = ?", (session,), self.max_session_bytes),
                                   ("", (), self.max_total_bytes)):
            rows = self._db.execute(f"SELECT session, name, size FROM entries{where} ORDER BY saved_at DESC",
                                    args).fetchall()
            kept = 0
            for s, n, size in rows:
                kept += size
                if kept > limit:
                    self._db.execute("DELETE FROM entries WHERE session = ? AND name = ?", (s, n))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def default_store_path() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "sessions.sqlite3"


def store_address() -> str:
    """Where this server keeps its sessions: NP_STORE_URL (a PostgreSQL server that several replicas
    share) when set, else the embedded SQLite file in the data folder."""
    return os.environ.get(STORE_URL_ENV) or str(default_store_path())


def open_store(address: str) -> SessionStore:
    if address.startswith(("postgresql://", "postgres://")):
        from app_pages.common.pg_store import PostgresStore  # psycopg is loaded only where it is used
        return PostgresStore(address)
    return SQLiteStore(address)
