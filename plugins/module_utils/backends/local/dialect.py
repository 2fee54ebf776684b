# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two databases of the local store, SQLite and PostgreSQL: all they do differently. FOR INTERNAL COLLECTION USE ONLY.

Every other file of the local backend writes one SQL for both, with ``?`` placeholders, rows read by name or
position, and ``INSERT ... ON CONFLICT (key) DO UPDATE`` for upserts (SQLite 3.24 and PostgreSQL 9.5 both
understand it). What differs lives here, in two objects of one shape, SQLITE and POSTGRESQL:

- opening: an SQLite file (created 0600 with its directory 0700 on the first write, WAL) or a psycopg 3 connection
  (autocommit; imported only when a PostgreSQL URL is given, so SQLite users need no driver);
- a few words of SQL: the key column, the binary type, text columns (PostgreSQL's ``COLLATE "C"`` compares and
  sorts bytes as SQLite does, whatever the database's locale), string aggregation, the catalogue, and the
  append-only triggers;
- the write lock. SQLite: ``BEGIN IMMEDIATE`` (the file's one write lock, waiting up to the busy timeout).
  PostgreSQL: ``BEGIN`` and a transaction-scoped advisory lock on the store's schema, waiting up to
  ``lock_timeout``: writers of one store take turns exactly as on SQLite, so each write re-reads what it
  changes under the lock (a correlation id's holder, the number counter) in READ COMMITTED and a shared
  correlation id still yields one record; numbers come from the same counters table, unique and gapless;
- reads that must agree (a page and its COUNT): one snapshot, WAL on SQLite, REPEATABLE READ on PostgreSQL;
- driver errors turned into one sentence naming ``local_db`` (a URL is shown without its password).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
import typing as t

from ... import _private_files as private_files
from ..._errors import (ItsmAuthError, ItsmError, ItsmStorageError, ItsmTransientError, ItsmUnavailableError)
from ..._local_db import LocalDb

try:  # a runtime dependency only when local_db is a PostgreSQL URL
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
except ImportError:
    psycopg = None
    pg_errors = None
    TransactionStatus = None

Connection = t.Any  # an sqlite3.Connection or a PgConnection: execute, executemany, in_transaction, close
# Connections opened before a fork, kept referenced so the child's garbage collection never closes them.
_INHERITED: list[t.Any] = []


class SqliteConnection(sqlite3.Connection):
    """An sqlite3 connection that knows its dialect (schema.py asks a connection for it)."""

    dialect: "Dialect"


class Dialect:
    """What one database does its own way; see the module docstring."""

    name = ""
    key_column = ""
    blob = ""
    text = "TEXT"
    read_begin = "BEGIN"
    #: the driver's exceptions, which LocalStore turns into error()
    errors: tuple[type[BaseException], ...] = ()

    def open(self, where: LocalDb, password: str | None, timeout: float, create: bool) -> Connection | None:
        raise NotImplementedError

    def write_begin(self, timeout: float) -> tuple[str, ...]:
        raise NotImplementedError

    def string_agg(self, expression: str) -> str:
        """The values of ``expression`` joined with the unit separator (character 31)."""
        raise NotImplementedError

    def table_names(self, conn: Connection) -> set[str]:
        raise NotImplementedError

    def column_names(self, conn: Connection, table: str) -> set[str]:
        raise NotImplementedError

    def append_only(self, table: str, what: str) -> tuple[str, ...]:
        """Triggers that refuse UPDATE and DELETE on ``table`` ("``what`` is append-only")."""
        raise NotImplementedError

    def error(self, where: LocalDb, exc: Exception, timeout: float) -> ItsmError:
        raise NotImplementedError

    def must_exist_to_read(self) -> bool:
        """True when a connection opens whether the store exists or not (a server), so a read must ask."""
        return False


# -- SQLite ----------------------------------------------------------------------------------------

class Sqlite(Dialect):
    name = "sqlite"
    key_column = "INTEGER PRIMARY KEY"
    blob = "BLOB"
    errors = (sqlite3.Error,)

    def open(self, where: LocalDb, password: str | None, timeout: float, create: bool) -> Connection | None:
        """The file's connection in autocommit mode, or None when it is missing and ``create`` is false."""
        path = where.path
        if not os.path.exists(path):
            if not create:
                return None
            directory = os.path.dirname(path)
            try:
                private_files.make_directories(directory)  # 0700
            except OSError as exc:
                raise ItsmStorageError(f"local_db: cannot create the directory {directory} for {path}: "
                                       f"{exc.strerror or exc}", option="local_db") from None
            try:  # 0600 before SQLite writes a byte (SQLite gives its -wal and -shm the file's mode)
                private_files.create_file(path)
            except OSError as exc:
                raise ItsmStorageError(f"local_db: cannot create {path}: {exc.strerror or exc}",
                                       option="local_db") from None
        if os.path.isdir(path):
            raise ItsmStorageError(f"local_db: {path} is a directory; give the path of a database file",
                                   option="local_db")
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False,
                               factory=SqliteConnection)
        conn.dialect = self
        try:
            conn.row_factory = sqlite3.Row
            _enable_wal(conn, timeout)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def write_begin(self, timeout: float) -> tuple[str, ...]:
        # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so two writers never both
        # read and then fail to upgrade their lock, which is what "database is locked" comes from.
        return ("BEGIN IMMEDIATE",)

    def string_agg(self, expression: str) -> str:
        return f"group_concat({expression}, char(31))"

    def table_names(self, conn: Connection) -> set[str]:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def column_names(self, conn: Connection, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}

    def append_only(self, table: str, what: str) -> tuple[str, ...]:
        return tuple(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                     f"BEGIN SELECT RAISE(ABORT, '{what} append-only'); END" for verb in ("UPDATE", "DELETE"))

    def error(self, where: LocalDb, exc: Exception, timeout: float) -> ItsmError:
        """One sentence naming the file and the problem, instead of sqlite3's bare message."""
        path = where.shown
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


def is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# -- PostgreSQL ------------------------------------------------------------------------------------

class PgRow(tuple):
    """A row read by position or by column name, and ``dict(row)``-able, as sqlite3.Row."""

    names: dict[str, int]

    def __new__(cls, values: t.Sequence[t.Any], names: dict[str, int]) -> "PgRow":
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        return super().__getitem__(self.names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self.names)


def _pg_rows(cursor: t.Any) -> t.Callable[[t.Sequence[t.Any]], PgRow]:
    names = {column.name: index for index, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, names)


def _placeholders(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (the store's SQL has no ``?`` in a literal)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection with the sqlite3 calls the store makes (execute, executemany, in_transaction)."""

    dialect: "Dialect"

    def __init__(self, raw: t.Any, dialect: "Dialect"):
        self.raw, self.dialect = raw, dialect

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> t.Any:
        cursor = self.raw.cursor()
        if params is None:
            cursor.execute(sql)  # nothing bound: psycopg reads no placeholder, a % is a %
        else:
            cursor.execute(_placeholders(sql), list(params))
        return cursor

    def executemany(self, sql: str, seq: t.Iterable[t.Sequence[t.Any]]) -> None:
        rows = [list(row) for row in seq]
        if rows:
            self.raw.cursor().executemany(_placeholders(sql), rows)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()


class PostgreSql(Dialect):
    name = "postgresql"
    key_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    blob = "BYTEA"
    errors = (psycopg.Error,) if psycopg is not None else ()
    # Byte order, as SQLite compares: keyset paging by name and the canonical-time comparisons of text
    # columns then mean the same on both databases, whatever the database's locale.
    text = 'TEXT COLLATE "C"'
    read_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def open(self, where: LocalDb, password: str | None, timeout: float, create: bool) -> Connection | None:
        if psycopg is None:
            raise ItsmUnavailableError(
                f"local_db: {where.shown} is a PostgreSQL URL, which needs the Python package psycopg 3 on the "
                "controller (pip install 'psycopg[binary]'); or give local_db the path of an SQLite file",
                option="local_db")
        options: dict[str, t.Any] = {"autocommit": True, "row_factory": _pg_rows}
        if password:
            options["password"] = password  # the password option, else the URL's own
        if "connect_timeout=" not in where.url:
            options["connect_timeout"] = max(2, int(timeout + 0.999))
        if "application_name=" not in where.url:
            options["application_name"] = "opsgate.itsm"
        return PgConnection(psycopg.connect(where.url, **options), self)

    def write_begin(self, timeout: float) -> tuple[str, ...]:
        # One writer per store at a time, as SQLite's BEGIN IMMEDIATE: the lock is keyed by the store's schema
        # (two stores in one database do not wait for each other) and ends with the transaction.
        return ("BEGIN", f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}",
                "SELECT pg_advisory_xact_lock(hashtextextended('opsgate.itsm local store ' || "
                "coalesce(current_schema(), ''), 0))")

    def string_agg(self, expression: str) -> str:
        return f"string_agg({expression}, chr(31))"

    def table_names(self, conn: Connection) -> set[str]:
        return {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def column_names(self, conn: Connection, table: str) -> set[str]:
        return {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?", [table])}

    def append_only(self, table: str, what: str) -> tuple[str, ...]:
        function = f"{table}_append_only"
        return (f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{what} append-only'; END $$",
                f"CREATE TRIGGER {table}_no_rewrite BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()")

    def must_exist_to_read(self) -> bool:
        return True

    def error(self, where: LocalDb, exc: Exception, timeout: float) -> ItsmError:
        """One sentence naming the database (without its password) and the problem."""
        said = _mask(" ".join(str(exc).split()), where.secrets)
        store = f"local_db: {where.shown}"
        if isinstance(exc, pg_errors.LockNotAvailable):
            return ItsmTransientError(f"{store} stayed locked by other writers for the whole timeout of {timeout:g} "
                                      "seconds; retry, or raise timeout", option="local_db")
        if isinstance(exc, (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)):
            return ItsmTransientError(f"{store}: the transaction was cancelled by a concurrent one; retry "
                                      f"(postgresql: {said})", option="local_db")
        if isinstance(exc, pg_errors.InvalidPassword) or "authentication failed" in said:
            return ItsmAuthError(f"{store}: the server refused the credentials; check the user in the URL and "
                                 f"the password (the password option, ITSM_PASSWORD or the URL) (postgresql: {said})",
                                 option="local_db")
        if isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None:
            return ItsmTransientError(f"{store}: cannot reach the database server; check the host and port and "
                                      f"that the server runs (postgresql: {said})", option="local_db")
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            problem = "cannot be written with this user's privileges; grant it the schema or use another database"
        else:
            problem = "cannot be used"
        return ItsmStorageError(f"{store} {problem} (postgresql: {said})", option="local_db")


def _mask(text: str, secrets: t.Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


SQLITE = Sqlite()
POSTGRESQL = PostgreSql()


def of(where: LocalDb) -> Dialect:
    """The dialect of the store ``where`` names (_local_db.read)."""
    return POSTGRESQL if where.is_postgresql else SQLITE


def of_connection(conn: Connection) -> Dialect:
    """The dialect of an open connection; a plain sqlite3 connection (a test's, say) is SQLite."""
    return getattr(conn, "dialect", SQLITE)


def keep_after_fork(conn: Connection | None) -> None:
    """A connection must not be used, nor closed, on this side of a fork (SQLite "How To Corrupt", 2.6; a libpq
    socket shared with the parent): keep a reference so garbage collection never closes it here."""
    _INHERITED.append(conn)
