"""The networked session store: the SessionStore interface (session_store.py) on a PostgreSQL server,
for a class served by several replicas behind a load balancer. When a replica dies, its students'
browsers reconnect through the balancer to another replica, which reads their last saves from here.

Why PostgreSQL rather than Redis: entries are checkpoints of up to 20 MB that must survive a restart
of the store itself, and eviction needs "this session's entries, newest first, by size": PostgreSQL
keeps them durably on disk by default and answers that with one indexed query, where Redis keeps
everything in memory and would need its persistence configured and the eviction written as a script.

One connection per server process, used one call at a time (a lock), as the SQLite store does; a
connection the server dropped (a restart, a network blip) is opened again once before a call fails.
Plain Python: no Streamlit here.
"""
from __future__ import annotations

import threading
import time

import psycopg

from app_pages.common.session_store import MAX_AGE_SECONDS, MAX_SESSION_BYTES, MAX_TOTAL_BYTES, Entry

SCHEMA = ("CREATE TABLE IF NOT EXISTS np_entries (session TEXT NOT NULL, name TEXT NOT NULL, data BYTEA NOT NULL, "
          "size INTEGER NOT NULL, saved_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session, name))")
SCHEMA_LOCK = 4_242_001  # an advisory lock: replicas starting together create the table once


class PostgresStore:
    def __init__(self, url: str, max_session_bytes: int = MAX_SESSION_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES,
                 max_age_s: float = MAX_AGE_SECONDS, connect_timeout_s: int = 5):
        self.url, self.connect_timeout_s = url, connect_timeout_s
        self.max_session_bytes, self.max_total_bytes, self.max_age_s = max_session_bytes, max_total_bytes, max_age_s
        self._lock = threading.Lock()
        self._db: psycopg.Connection | None = None
        with self._lock:
            self._call(self._create_schema)

    # ---- the interface ----
    def put(self, session: str, name: str, data: bytes) -> None:
        if len(data) > self.max_session_bytes:
            raise ValueError(f"{len(data):,} bytes is more than a session may keep ({self.max_session_bytes:,})")

        def put(db: psycopg.Connection) -> None:
            with db.transaction():
                db.execute("INSERT INTO np_entries VALUES (%s, %s, %s, %s, %s) ON CONFLICT (session, name) DO UPDATE "
                           "SET data = EXCLUDED.data, size = EXCLUDED.size, saved_at = EXCLUDED.saved_at",
                           (session, name, bytes(data), len(data), time.time()))
                self._evict_over_limits(db, session)
        with self._lock:
            self._call(put)

    def get(self, session: str, name: str) -> bytes | None:
        with self._lock:
            row = self._call(lambda db: db.execute("SELECT data FROM np_entries WHERE session = %s AND name = %s",
                                                   (session, name)).fetchone())
        return bytes(row[0]) if row else None

    def list(self, session: str | None = None) -> list[Entry]:
        query, args = "SELECT session, name, size, saved_at FROM np_entries", ()
        if session is not None:
            query, args = query + " WHERE session = %s", (session,)
        with self._lock:
            rows = self._call(lambda db: db.execute(query + " ORDER BY saved_at", args).fetchall())
        return [Entry(*row) for row in rows]

    def evict(self, session: str | None = None, name: str | None = None) -> int:
        where, args = [], []
        if session is not None:
            where.append("session = %s")
            args.append(session)
        if name is not None:
            where.append("name = %s")
            args.append(name)
        query = "DELETE FROM np_entries" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            return self._call(lambda db: db.execute(query, args).rowcount)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ---- the connection ----
    def _connection(self) -> psycopg.Connection:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s)
        return self._db

    def _call(self, work):
        """work(connection), once more on a fresh connection if the server had dropped this one."""
        try:
            return work(self._connection())
        except psycopg.OperationalError:
            if self._db is not None:
                self._db.close()
            self._db = None
            return work(self._connection())

    @staticmethod
    def _create_schema(db: psycopg.Connection) -> None:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            db.execute(SCHEMA)

    def _evict_over_limits(self, db: psycopg.Connection, session: str) -> None:
        """Oldest first: entries past the age limit, then this session's past its share, then any past the total."""
        db.execute("DELETE FROM np_entries WHERE saved_at < %s", (time.time() - self.max_age_s,))
        for where, args, limit in ((" WHERE session = %s", (session,), self.max_session_bytes),
                                   ("", (), self.max_total_bytes)):
            # The running total, newest first: whatever lies past the limit goes.
            db.execute("DELETE FROM np_entries e USING (SELECT session, name, SUM(size) OVER (ORDER BY saved_at DESC, "
                       f"session, name) AS kept FROM np_entries{where}) k WHERE e.session = k.session AND "
                       "e.name = k.name AND k.kept > %s", (*args, limit))
