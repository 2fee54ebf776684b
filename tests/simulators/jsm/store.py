"""SQLite document storage: each object is a JSON document of a kind, with an optional parent id.

One connection guarded by a re-entrant lock serves all request threads; the app holds ``lock`` for the
whole of a request, so a request's writes are one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Store:
    def __init__(self, path: str) -> None:
        self.lock = threading.RLock()
        self.created = not os.path.exists(path)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '',"
            " data TEXT NOT NULL, PRIMARY KEY (kind, id));"
            "CREATE INDEX IF NOT EXISTS ix_docs_parent ON docs (kind, parent);"
            "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, next INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def get(self, kind: str, doc_id: str) -> dict | None:
        with self.lock:
            row = self.conn.execute("SELECT data FROM docs WHERE kind = ? AND id = ?", (kind, str(doc_id))).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, doc_id: str, doc: dict, parent: str = "") -> None:
        with self.lock:
            self.conn.execute("INSERT INTO docs (kind, id, parent, data) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id)"
                              " DO UPDATE SET data = excluded.data, parent = excluded.parent",
                              (kind, str(doc_id), str(parent), json.dumps(doc, separators=(",", ":"))))

    def put_many(self, kind: str, docs: list[tuple[str, str, dict]]) -> None:
        """Bulk insert of ``(id, parent, doc)`` (seeding)."""
        with self.lock:
            self.conn.executemany("INSERT OR REPLACE INTO docs (kind, id, parent, data) VALUES (?, ?, ?, ?)",
                                  [(kind, str(i), str(p), json.dumps(d, separators=(",", ":"))) for i, p, d in docs])

    def delete(self, kind: str, doc_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, str(doc_id)))

    def all(self, kind: str, parent: str | None = None) -> list[dict]:
        """Every document of a kind (optionally of one parent) in insertion order."""
        sql, args = "SELECT data FROM docs WHERE kind = ?", [kind]
        if parent is not None:
            sql, args = sql + " AND parent = ?", [kind, str(parent)]
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY rowid", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count(self, kind: str, parent: str) -> int:
        with self.lock:
            return self.conn.execute("SELECT COUNT(*) FROM docs WHERE kind = ? AND parent = ?",
                                     (kind, str(parent))).fetchone()[0]

    def next_id(self, name: str, start: int) -> int:
        with self.lock:
            row = self.conn.execute("SELECT next FROM counters WHERE name = ?", (name,)).fetchone()
            value = row[0] if row else start
            self.conn.execute("INSERT OR REPLACE INTO counters (name, next) VALUES (?, ?)", (name, value + 1))
        return value

    def set_counter(self, name: str, value: int) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO counters (name, next) VALUES (?, ?)", (name, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        with self.lock:
            self.conn.executescript("DELETE FROM docs; DELETE FROM counters; DELETE FROM meta;")
