# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store: its database, connection and transactions. FOR INTERNAL COLLECTION USE ONLY.

The client of the local backend, under every feature file (records, approvals, blackouts, templates,
attachments, cmdb), which take a LocalStore. It opens and migrates the database (an SQLite file or a
PostgreSQL database, as ``local_db`` says: _local_db.read; what the two do differently is dialect.py),
keeps one connection per process (a connection is never used on both sides of a fork), runs reads and
write transactions that take the store's write lock up front, and turns driver errors into one sentence
naming local_db.
"""

from __future__ import annotations

import contextlib
import os
import typing as t

from ... import _input as inputs, _private_files as private_files
from ..._errors import ItsmError, ItsmNotFoundError, ItsmStorageError, ItsmValidationError
from ..._local_db import LocalDb
from ..._local_db import read as read_local_db
from ..._records import CHANGE
from . import dialect as dialects
from . import schema
from .dialect import Connection
from .schema import Record, Row

#: records or CIs per page of a lazy read (find, iter_cis); LocalStore.page_size starts at it
PAGE_SIZE = 200


class LocalStore:
    """The store ``local_db`` names (a file path or a PostgreSQL URL): written by ``actor``, waiting up to ``timeout``
    seconds for the write lock; ``password`` (the password option) logs in to PostgreSQL, over the URL's own."""

    def __init__(self, local_db: str, timeout: float, actor: str, password: str | None = None,
                 warn: t.Callable[[str], None] | None = None):
        self.location: LocalDb = read_local_db(local_db)
        self.dialect = dialects.of(self.location)
        #: the file's absolute path, or the URL as given
        self.path = self.location.path or self.location.url
        #: how messages name the store (_input.unknown_name): never with a password
        self.where = f"local_db {self.location.shown}"
        self.timeout = timeout
        self.actor = actor
        self.page_size = PAGE_SIZE
        self._password = password
        self._warn = warn
        self._conn: Connection | None = None
        self._migrated = False
        self._pid = os.getpid()
        #: inside task(): whether a task is open, and its transaction once its first write began it
        self._task_open = False
        self._task_conn: Connection | None = None
        self._task_pid = self._pid

    def connection(self, create: bool) -> Connection | None:
        """This process's migrated connection; None when the store does not exist and ``create`` is false."""
        if self._pid != os.getpid():
            dialects.keep_after_fork(self._conn)
            self._conn, self._migrated, self._pid = None, False, os.getpid()
        if self._conn is None:
            self._conn = self.dialect.open(self.location, self._password, self.timeout, create)
            if self._conn is None:
                return None
            if self.location.path:
                private_files.warn_if_readable(self.location.path, "local_db", self._warn)
        if not self._migrated:
            # A file that exists is a store to migrate; a server's database is one only once a write made it so.
            wanted = create or not self.dialect.must_exist_to_read()
            self._migrated = migrate(self._conn, self.location, wanted, self.timeout)
            if not self._migrated:
                return None
        return self._conn

    @contextlib.contextmanager
    def read(self) -> t.Iterator[Connection | None]:
        """A connection to read with (autocommit), None when there is no store yet."""
        try:
            yield self.connection(create=False)
        except self.dialect.errors as exc:
            raise self._storage_error(exc) from None

    @contextlib.contextmanager
    def write(self, check_mode: bool) -> t.Iterator[Connection | None]:
        """A write transaction, or in check mode a read connection (None when there is no store yet). Inside
        task() the first write begins the task's transaction and every write joins it (a savepoint each)."""
        try:
            if check_mode:
                yield self.connection(create=False)
            elif self._task_open and self._task_pid == os.getpid():
                if self._task_conn is None:
                    conn = self.connection(create=True)
                    begin(conn, self.dialect.write_begin(self.timeout))  # committed by task()
                    self._task_conn = conn
                with Savepoint(self._task_conn) as conn:
                    yield conn
            else:
                with write_transaction(self.connection(create=True), self.timeout) as conn:
                    yield conn
        except self.dialect.errors as exc:
            raise self._storage_error(exc) from None

    @contextlib.contextmanager
    def task(self) -> t.Iterator[None]:
        """One task's writes as one transaction (issue 14): begun by its first write, which takes the write lock,
        committed when the task ends, so a process killed mid-task leaves all of it or none of it. A task that
        ends with an ItsmError commits what it wrote, as its result reports it; any other exception rolls back."""
        if self._task_open:  # already inside a task: this one is part of it
            yield
            return
        self._task_open, self._task_conn, self._task_pid = True, None, os.getpid()
        try:
            yield
        except ItsmError:
            self._end_task(commit=True)
            raise
        except BaseException:
            self._end_task(commit=False)
            raise
        self._end_task(commit=True)

    def _end_task(self, commit: bool) -> None:
        conn, self._task_open, self._task_conn = self._task_conn, False, None
        if conn is None or not conn.in_transaction:
            return
        try:
            if commit:
                conn.execute("COMMIT")
        except self.dialect.errors as exc:
            raise self._storage_error(exc) from None
        finally:
            if conn.in_transaction and not getattr(conn, "broken", False):  # a lost server rolled it back itself
                conn.execute("ROLLBACK")

    def _storage_error(self, exc: Exception) -> ItsmError:
        if getattr(self._conn, "broken", False):  # a lost server connection: open a new one next time
            self._conn, self._migrated = None, False
        return self.dialect.error(self.location, exc, self.timeout)

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn, self._migrated = None, False

    # -- rows of records -----------------------------------------------------------------------------

    def row_for(self, conn: Connection | None, kind: str, record: Record) -> Row:
        """The stored row of ``record`` (by id, else number); a check-mode record never stored is its own row."""
        key = "id" if record.get("id") else "number"
        if not record.get(key):
            if record.get("state") not in schema.STATES[kind]:
                raise ItsmValidationError("record", record, f"expected a {kind} record with an id or number")
            return schema.row_from_record(kind, record)
        rows = schema.select_rows(conn, kind, [f"r.{key} = ?"], [record[key]]) if conn else []
        if not rows:
            raise ItsmNotFoundError(f"{kind} {record[key]} does not exist in {self.where}",
                                    option=key, value=record[key])
        return rows[0]

    def record_id(self, conn: Connection, kind: str, record: Record) -> str | None:
        """The stored id of ``record``, read by number when it carries none."""
        if record.get("id") or not record.get("number"):
            return record.get("id")
        return self.row_for(conn, kind, record)["id"]

    def fetch(self, conn: Connection, kind: str, record_id: str) -> Record:
        """The record with this id, as stored (what a write returns)."""
        return schema.record_of(kind, schema.select_rows(conn, kind, ["r.id = ?"], [record_id])[0])

    def write_record(self, conn: Connection, kind: str, old: Row, new: Row, events: list[Row],
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
    """``begin`` ... ``COMMIT`` on ``conn``, rolled back on any error (from the body or from COMMIT itself)."""

    def __init__(self, conn: Connection, begin: t.Sequence[str]):
        self.conn, self.begin = conn, begin

    def __enter__(self) -> Connection:
        begin(self.conn, self.begin)
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")


def begin(conn: Connection, statements: t.Sequence[str]) -> None:
    """Run a transaction's ``statements`` (BEGIN, the lock); rolled back when one of them fails."""
    try:
        for statement in statements:
            conn.execute(statement)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def write_transaction(conn: Connection, timeout: float = 30.0) -> Transaction:
    """A write transaction that takes the store's one write lock up front (waiting up to ``timeout``): nothing is
    half-written, and what a write re-reads under the lock no other writer changes before it commits."""
    return Transaction(conn, dialects.of_connection(conn).write_begin(timeout))


def read_transaction(conn: Connection) -> t.ContextManager[Connection]:
    """Reads that all see one snapshot of the store, so a COUNT and the rows read with it agree even while other
    processes write; inside a task's write transaction (which holds the write lock) that transaction is one."""
    if conn.in_transaction:
        return contextlib.nullcontext(conn)
    return Transaction(conn, (dialects.of_connection(conn).read_begin,))


class Savepoint:
    """A write inside a task's transaction: undone alone when it fails (and on PostgreSQL the transaction stays
    usable), kept with the task's when it succeeds."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        self.conn.execute("SAVEPOINT itsm_write")
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None and self.conn.in_transaction:
            self.conn.execute("ROLLBACK TO SAVEPOINT itsm_write")
        if self.conn.in_transaction:
            self.conn.execute("RELEASE SAVEPOINT itsm_write")


# -- opening and migrating -------------------------------------------------------------------------

def open_store(path: str, timeout: float, create: bool) -> Connection | None:
    """A migrated connection to the SQLite file ``path`` in autocommit mode, or None when it is missing and
    ``create`` is false."""
    where = read_local_db(path)
    conn = dialects.SQLITE.open(where, None, timeout, create)
    if conn is not None:
        try:
            migrate(conn, where, True, timeout)
        except Exception:
            conn.close()
            raise
    return conn


def migrate(conn: Connection, where: LocalDb, create: bool, timeout: float = 30.0) -> bool:
    """Bring the store to schema.SCHEMA_VERSION (and add the columns of new writable fields); False, changing
    nothing, when the database holds no store yet and ``create`` is false."""
    dialect = dialects.of_connection(conn)
    version = schema.stored_version(conn)
    if version == schema.SCHEMA_VERSION and not schema.missing_columns(conn):
        return True
    if version == 0 and not create:
        return False
    with write_transaction(conn, timeout):
        # Re-read under the write lock: a concurrent process may have migrated meanwhile.
        version = schema.stored_version(conn)
        if version is None:
            raise ItsmStorageError(f"local_db: {where.shown} is a database of another application, not an "
                                   "opsgate.itsm store; point local_db at a new file or an empty database",
                                   option="local_db")
        if version > schema.SCHEMA_VERSION:
            raise ItsmStorageError(f"local_db: {where.shown} has schema version {version}, newer than the "
                                   f"{schema.SCHEMA_VERSION} this opsgate.itsm understands; upgrade the collection",
                                   option="local_db")
        if version == 0:
            conn.execute(f"CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at {dialect.text} NOT NULL)")
        for number in range(version + 1, schema.SCHEMA_VERSION + 1):
            schema.MIGRATIONS[number - 1](conn)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (number, inputs.now()))
        for table, name in schema.missing_columns(conn):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {dialect.text}")
    return True
