# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store: one SQLite file, its connection and transactions. FOR INTERNAL COLLECTION USE ONLY.

The client of the local backend, under every feature file (records, approvals, blackouts, templates,
attachments, cmdb), which take a LocalStore. It opens and migrates the file, keeps one connection per
process (a connection is never used on both sides of a fork), runs reads and ``BEGIN IMMEDIATE`` write
transactions, and turns sqlite3 errors into one sentence naming the file.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
import typing as t

from ..._errors import ItsmError, ItsmNotFoundError, ItsmStorageError, ItsmTransientError, ItsmValidationError
from ..._records import CHANGE
from . import schema
from .schema import Record, Row

#: records or CIs per page of a lazy read (find, iter_cis); LocalStore.page_size starts at it
PAGE_SIZE = 200
# Connections opened before a fork, kept referenced so the child's garbage collection never closes them.
_INHERITED: list[sqlite3.Connection | None] = []


class LocalStore:
    """The SQLite file at ``path``: written by ``actor``, waiting up to ``timeout`` seconds for a lock."""

    def __init__(self, path: str, timeout: float, actor: str):
        self.path = path
        #: how messages name the store (_input.unknown_name)
        self.where = f"local_db {path}"
        self.timeout = timeout
        self.actor = actor
        self.page_size = PAGE_SIZE
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()

    def connection(self, create: bool) -> sqlite3.Connection | None:
        """This process's connection; None when the file does not exist and ``create`` is false."""
        if self._pid != os.getpid():
            # Forked: a connection must not be used, nor closed, on this side of a fork (SQLite "How To
            # Corrupt", 2.6); keep a reference so garbage collection never closes it here.
            _INHERITED.append(self._conn)
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            self._conn = open_store(self.path, self.timeout, create)
        return self._conn

    @contextlib.contextmanager
    def read(self) -> t.Iterator[sqlite3.Connection | None]:
        """A connection to read with (autocommit), None when there is no file yet."""
        try:
            yield self.connection(create=False)
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc, self.timeout) from None

    @contextlib.contextmanager
    def write(self, check_mode: bool) -> t.Iterator[sqlite3.Connection | None]:
        """A write transaction, or in check mode a read connection (None when there is no file yet)."""
        try:
            if check_mode:
                yield self.connection(create=False)
            else:
                with write_transaction(self.connection(create=True)) as conn:
                    yield conn
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc, self.timeout) from None

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    # -- rows of records -----------------------------------------------------------------------------

    def row_for(self, conn: sqlite3.Connection | None, kind: str, record: Record) -> Row:
        """The stored row of ``record`` (by id, else number); a check-mode record never stored is its own row."""
        key = "id" if record.get("id") else "number"
        if not record.get(key):
            if record.get("state") not in schema.STATES[kind]:
                raise ItsmValidationError("record", record, f"expected a {kind} record with an id or number")
            return schema.row_from_record(kind, record)
        rows = schema.select_rows(conn, kind, [f"r.{key} = ?"], [record[key]]) if conn else []
        if not rows:
            raise ItsmNotFoundError(f"{kind} {record[key]} does not exist in local_db {self.path}",
                                    option=key, value=record[key])
        return rows[0]

    def record_id(self, conn: sqlite3.Connection, kind: str, record: Record) -> str | None:
        """The stored id of ``record``, read by number when it carries none."""
        if record.get("id") or not record.get("number"):
            return record.get("id")
        return self.row_for(conn, kind, record)["id"]

    def fetch(self, conn: sqlite3.Connection, kind: str, record_id: str) -> Record:
        """The record with this id, as stored (what a write returns)."""
        return schema.record_of(kind, schema.select_rows(conn, kind, ["r.id = ?"], [record_id])[0])

    def write_record(self, conn: sqlite3.Connection, kind: str, old: Row, new: Row, events: list[Row],
                     now: str) -> None:
        """Store the values of ``new`` that differ from ``old`` and append ``events`` to the audit trail."""
        schema.update_row(conn, kind, old["id"], {name: new[name] for name in schema.columns(kind)
                                                  if new.get(name) != old.get(name)})
        if kind == CHANGE and new["configuration_items"] != old["configuration_items"]:
            schema.replace_cis(conn, old["id"], new["configuration_items"])
        schema.add_events(conn, kind, old["id"], self.actor, now, events)

    def put_row(self, select: str, upsert: str, wanted: tuple, check_mode: bool, *stamp: str) -> bool:
        """Make the row keyed by ``wanted[0]`` hold ``wanted`` (plus ``stamp``); True when something changed."""
        with self.write(check_mode) as conn:
            row = conn.execute(select, wanted[:1]).fetchone() if conn else None
            if row is not None and tuple(row) == wanted:
                return False
            if not check_mode:
                conn.execute(upsert, wanted + stamp)
            return True


# -- transactions ----------------------------------------------------------------------------------

class Transaction:
    """``BEGIN`` ... ``COMMIT`` on ``conn``, rolled back on any error (from the body or from COMMIT itself)."""

    def __init__(self, conn: sqlite3.Connection, begin: str):
        self.conn, self.begin = conn, begin

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute(self.begin)
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")


def write_transaction(conn: sqlite3.Connection) -> Transaction:
    """``BEGIN IMMEDIATE``: nothing is half-written. IMMEDIATE takes the write lock up front (waiting up to the
    busy timeout), so two writers never both read and then fail to upgrade their lock, which is what "database
    is locked" comes from."""
    return Transaction(conn, "BEGIN IMMEDIATE")


def read_transaction(conn: sqlite3.Connection) -> Transaction:
    """``BEGIN`` around reads: they all see one snapshot of the store (WAL), so a COUNT and the rows read with
    it agree even while other processes write."""
    return Transaction(conn, "BEGIN")


# -- opening the file ------------------------------------------------------------------------------

def open_store(path: str, timeout: float, create: bool) -> sqlite3.Connection | None:
    """A migrated connection in autocommit mode, or None when the file is missing and ``create`` is false."""
    if not os.path.exists(path):
        if not create:
            return None
        directory = os.path.dirname(path)
        if directory:
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as exc:
                raise ItsmStorageError(f"local_db: cannot create the directory {directory} for {path}: "
                                       f"{exc.strerror or exc}", option="local_db") from None
    if os.path.isdir(path):
        raise ItsmStorageError(f"local_db: {path} is a directory; give the path of a database file",
                               option="local_db")
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        _enable_wal(conn, timeout)
        migrate(conn, path)
    except (sqlite3.Error, ItsmError):
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the store to schema.SCHEMA_VERSION (and add the columns of new writable fields)."""
    version = schema.stored_version(conn)
    if version == schema.SCHEMA_VERSION and not schema.missing_columns(conn):
        return
    with write_transaction(conn):
        # Re-read under the write lock: a concurrent process may have migrated meanwhile.
        version = schema.stored_version(conn)
        if version is None:
            raise ItsmStorageError(f"local_db: {path} is an SQLite database of another application, not an "
                                   "opsgate.itsm store; point local_db at a new file", option="local_db")
        if version > schema.SCHEMA_VERSION:
            raise ItsmStorageError(f"local_db: {path} has schema version {version}, newer than the "
                                   f"{schema.SCHEMA_VERSION} this opsgate.itsm understands; upgrade the collection",
                                   option="local_db")
        if version == 0:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        for number in range(version + 1, schema.SCHEMA_VERSION + 1):
            schema.MIGRATIONS[number - 1](conn)
            conn.execute("INSERT INTO schema_version VALUES (?, datetime('now'))", (number,))
        for table, name in schema.missing_columns(conn):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} TEXT")


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    # Switching a new file to WAL needs an exclusive lock and SQLite does not call the busy
    # handler for it: when several processes create the store at once, retry within the timeout.
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.05)


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def storage_error(path: str, exc: sqlite3.Error, timeout: float) -> ItsmError:
    """One sentence naming the file and the problem, instead of sqlite3's bare message."""
    if is_busy(exc):
        return ItsmTransientError(f"local_db: {path} stayed locked by other writers for the whole timeout of "
                                  f"{timeout:g} seconds; retry, or raise timeout", option="local_db")
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        problem = "is not an SQLite database or is corrupt; move it aside or point local_db at another file"
    elif code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        problem = "cannot be opened for writing; check that the file and its directory are writable"
    elif code == sqlite3.SQLITE_FULL:
        problem = "cannot grow: the disk is full"
    else:
        problem = "cannot be used"
    return ItsmStorageError(f"local_db: {path} {problem} (sqlite: {exc})", option="local_db")
