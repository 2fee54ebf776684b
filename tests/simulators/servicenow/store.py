"""SQLite storage: one table per table family, one TEXT column per field, every value a string.

Columns use ``COLLATE NOCASE`` so ``=``, ``LIKE``, ``STARTSWITH`` and ordering are
case-insensitive, as on MariaDB-backed instances.  A single connection guarded by a lock serves
all request threads; business rules run inside one transaction per request.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .schema import Schema, Table


def new_sys_id() -> str:
    return uuid.uuid4().hex


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """Row access for every table family plus small internal tables (counters, blobs, tiny URLs)."""

    def __init__(self, path: str, schema: Schema) -> None:
        self.path = path
        self.schema = schema
        self.lock = threading.RLock()
        self.created = not os.path.exists(path)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-65536")
        self._columns: dict[str, list[str]] = {}
        self._create()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _create(self) -> None:
        cur = self.conn
        for table in self.schema.roots():
            columns = list(self.schema.storage_columns(table.name))
            self._columns[table.name] = columns
            existing = {row[1] for row in cur.execute(f"PRAGMA table_info({quote(table.storage)})")}
            if not existing:
                defs = ", ".join(
                    f"{quote(col)} TEXT NOT NULL DEFAULT '' COLLATE NOCASE" + (" PRIMARY KEY" if col == "sys_id" else "")
                    for col in columns)
                cur.execute(f"CREATE TABLE {quote(table.storage)} ({defs})")
            else:
                for col in columns:
                    if col not in existing:
                        cur.execute(f"ALTER TABLE {quote(table.storage)} ADD COLUMN {quote(col)} "
                                    "TEXT NOT NULL DEFAULT '' COLLATE NOCASE")
            self._create_indexes(table)
        cur.executescript(
            "CREATE TABLE IF NOT EXISTS _counters (prefix TEXT PRIMARY KEY, next INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS _credentials (user_name TEXT PRIMARY KEY COLLATE NOCASE, "
            "password TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS _blobs (sys_id TEXT PRIMARY KEY, data BLOB NOT NULL);"
            "CREATE TABLE IF NOT EXISTS _tiny (id TEXT PRIMARY KEY, query TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")

    def _index_columns(self, root: Table) -> list[str]:
        columns = set(root.indexes)
        for name in self.schema.descendants(root.name):
            columns.update(self.schema[name].indexes)
        return sorted(columns)

    def _index_names(self, root: Table) -> list[str]:
        names = ["ix_" + root.name + "_" + col for col in self._index_columns(root)]
        if "sys_class_name" in self._columns[root.name]:
            names.append(f"ix_{root.name}_sys_id_class")
        return names

    def _create_indexes(self, root: Table) -> None:
        for col in self._index_columns(root):
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {quote('ix_' + root.name + '_' + col)} "
                              f"ON {quote(root.storage)} ({quote(col)})")
        if "sys_class_name" in self._columns[root.name]:
            # sys_id order with the class beside it: a deep OFFSET page of a class skips rows in this index
            # alone instead of reading every skipped row (1M CIs: about 4 s -> 0.1 s for the last page).
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(f'ix_{root.name}_sys_id_class')} "
                              f"ON {quote(root.storage)} (sys_id, sys_class_name)")

    def wipe(self) -> None:
        """Drop every table so the instance can be re-seeded."""
        with self.lock:
            names = [row[0] for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            for name in names:
                self.conn.execute(f"DROP TABLE {quote(name)}")
            self._create()
            self.created = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            if self.conn.in_transaction:
                yield
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- reads -----------------------------------------------------------------------------

    def class_filter(self, table: Table, alias: str = "t") -> tuple[str, list[str]]:
        """SQL restricting a family table to the classes visible through ``table``."""
        if table.name == table.root:
            return "1", []
        classes = self.schema.descendants(table.name)
        marks = ",".join("?" * len(classes))
        # Unary "+" keeps SQLite off the class index: a class is usually most of its family
        # (100k servers in cmdb_ci), where that index turns paging into a full sort.
        return f"+{alias}.sys_class_name IN ({marks})", classes

    def get(self, table: Table, sys_id: str) -> dict | None:
        where, params = self.class_filter(table)
        with self.lock:
            row = self.conn.execute(
                f"SELECT * FROM {quote(table.storage)} t WHERE t.sys_id = ? AND {where}",
                [sys_id, *params]).fetchone()
        return dict(row) if row else None

    def select(self, table: Table, where: str, params: list, order: str = "", limit: int | None = None,
               offset: int = 0, columns: str = "t.*") -> list[dict]:
        cls_sql, cls_params = self.class_filter(table)
        # sys_id is the primary key, so an order ending with it is total and needs no rowid tie-break (which
        # would also keep SQLite from walking an index in that order).
        last = order.rsplit(",", 1)[-1].strip().removesuffix(" DESC")
        order_by = f" ORDER BY {order}" if last == 't."sys_id"' else f" ORDER BY {order + ', ' if order else ''}t.rowid"
        source = f"FROM {quote(table.storage)} t WHERE ({cls_sql}) AND ({where}){order_by}"
        sql = f"SELECT {columns} {source}"
        args = [*cls_params, *params]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
            if offset > 0:
                # The same rows in the same order, but the skipped rows are counted on rowids alone, which an
                # index such as ix_cmdb_ci_sys_id_class covers: a deep page no longer reads every row before it.
                sql = (f"SELECT {columns} FROM {quote(table.storage)} t WHERE t.rowid IN "
                       f"(SELECT t.rowid {source} LIMIT ? OFFSET ?){order_by}")
        with self.lock:
            return [dict(row) for row in self.conn.execute(sql, args)]

    def count(self, table: Table, where: str, params: list) -> int:
        cls_sql, cls_params = self.class_filter(table)
        sql = f"SELECT COUNT(*) FROM {quote(table.storage)} t WHERE ({cls_sql}) AND ({where})"
        with self.lock:
            return int(self.conn.execute(sql, [*cls_params, *params]).fetchone()[0])

    def find(self, table: Table, **equals: str) -> list[dict]:
        where = " AND ".join(f"t.{quote(k)} = ?" for k in equals) or "1"
        return self.select(table, where, list(equals.values()))

    def execute(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, list(params)).fetchall()

    # -- writes ----------------------------------------------------------------------------

    def columns(self, root: str) -> list[str]:
        return self._columns[root]

    def insert(self, table: Table, row: dict[str, str]) -> None:
        cols = [c for c in self._columns[table.root] if c in row]
        sql = (f"INSERT INTO {quote(table.storage)} ({', '.join(quote(c) for c in cols)}) "
               f"VALUES ({', '.join('?' * len(cols))})")
        with self.lock:
            self.conn.execute(sql, [row[c] for c in cols])

    def insert_many(self, table: Table, rows: list[dict[str, str]], bulk: bool = False) -> None:
        """Insert many rows sharing the first row's keys; ``bulk`` rebuilds the indexes afterwards,
        which is several times faster for the 100k-row CMDB seed."""
        if not rows:
            return
        cols = [c for c in self._columns[table.root] if c in rows[0]]
        sql = (f"INSERT INTO {quote(table.storage)} ({', '.join(quote(c) for c in cols)}) "
               f"VALUES ({', '.join('?' * len(cols))})")
        root = self.schema[table.root]
        with self.lock:
            if bulk:
                for name in self._index_names(root):
                    self.conn.execute(f"DROP INDEX IF EXISTS {quote(name)}")
            self.conn.executemany(sql, ([row[c] for c in cols] for row in rows))
            if bulk:
                self._create_indexes(root)

    def update(self, table: Table, sys_id: str, changes: dict[str, str]) -> None:
        cols = [c for c in changes if c in self._columns[table.root] and c != "sys_id"]
        if not cols:
            return
        sql = (f"UPDATE {quote(table.storage)} SET {', '.join(quote(c) + ' = ?' for c in cols)} "
               "WHERE sys_id = ?")
        with self.lock:
            self.conn.execute(sql, [changes[c] for c in cols] + [sys_id])

    def delete(self, table: Table, sys_id: str) -> None:
        with self.lock:
            self.conn.execute(f"DELETE FROM {quote(table.storage)} WHERE sys_id = ?", [sys_id])

    def next_number(self, prefix: str, start: int) -> str:
        with self.lock:
            row = self.conn.execute("SELECT next FROM _counters WHERE prefix = ?", [prefix]).fetchone()
            value = row[0] if row else start
            self.conn.execute("INSERT OR REPLACE INTO _counters (prefix, next) VALUES (?, ?)", [prefix, value + 1])
        return f"{prefix}{value:07d}"

    def analyze(self) -> None:
        with self.lock:
            self.conn.execute("PRAGMA analysis_limit=1000")
            self.conn.execute("ANALYZE")

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Seeding mode: no rollback journal, no fsync (the data can always be re-seeded)."""
        with self.lock:
            self.conn.execute("PRAGMA journal_mode=OFF")
            self.conn.execute("PRAGMA synchronous=OFF")
            try:
                with self.transaction():
                    yield
            finally:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")

    # -- internal key/value tables ---------------------------------------------------------

    def set_password(self, user_name: str, password: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO _credentials VALUES (?, ?)", [user_name, password])

    def password(self, user_name: str) -> str | None:
        rows = self.execute("SELECT password FROM _credentials WHERE user_name = ?", [user_name])
        return rows[0][0] if rows else None

    def put_blob(self, sys_id: str, data: bytes) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO _blobs VALUES (?, ?)", [sys_id, data])

    def blob(self, sys_id: str) -> bytes | None:
        rows = self.execute("SELECT data FROM _blobs WHERE sys_id = ?", [sys_id])
        return bytes(rows[0][0]) if rows else None

    def delete_blob(self, sys_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM _blobs WHERE sys_id = ?", [sys_id])

    def put_tiny(self, tiny_id: str, query: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO _tiny VALUES (?, ?)", [tiny_id, query])

    def tiny(self, tiny_id: str) -> str | None:
        rows = self.execute("SELECT query FROM _tiny WHERE id = ?", [tiny_id])
        return rows[0][0] if rows else None
