# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder's outbox: records that could not be delivered yet, sent exactly once. FOR INTERNAL COLLECTION USE ONLY.

An item is a plain dict made by _recorder (``type`` change / incident / resolve, a unique ``id``, a
``marker`` and a ``correlation_id``). Exactly once rests on two things:

- ``deliver`` is idempotent: a record is found by its correlation id before one is created, and every
  note and description an item writes carries the item's marker, so re-sending an item whose reply
  was lost (the write landed, the answer did not) finds the marker and writes nothing twice;
- the store hands each pending item to one flusher at a time (a lease taken under the store's write lock:
  SQLite's ``BEGIN IMMEDIATE``, or on PostgreSQL a transaction-scoped advisory lock) and marks it delivered when
  the backend confirmed it. The lease is short (LEASE_SECONDS) and
  renewed while the flush works, so a flusher that dies (kill -9) leaves a lease that ends soon; the next
  one re-sends, which the first point makes harmless. A flush says how many items another flush holds, and
  until when.

Items are kept per ``target`` (backend and URL or database, never a credential) and only sent to the
system they were meant for.

Where (issue 17): the ``outbox`` option takes what ``local_db`` takes (_local_db.read), the path of an SQLite file
or a PostgreSQL URL. An AWX / Automation Platform job's container goes with the job, and a file in it with the
container; a table on a PostgreSQL server (``outbox_items`` in the URL's schema, beside the local store's tables
when they share the URL) outlives it (_job_environment). Its password: with the ``local`` backend the ``password``
option (as for local_db), else the URL's own, else libpq's (``PGPASSWORD``, a ``.pgpass`` file).

Whatever a send raises, the item stays in the store (issue 12): an error about the connection (an outage, a
refused credential, a setting the transport cannot use) or one nobody foresaw keeps it ``pending`` and stops
the flush, so the next flush sends it once the cause is gone; an error about the item itself (a change that
does not exist, a value the backend refuses) marks it ``failed``, for good: no flush sends it again unless
asked to (``retry_failed``), and every flush says it is there. Each item keeps the last error, so a list shows
why it waits.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sqlite3
import threading
import time
import typing as t
import uuid

from . import _local_db as local_db
from . import _lookup, _private_files as private_files, _recurring as recurring, _workflow as workflow
from ._errors import (ItsmAuthError, ItsmConflictError, ItsmError, ItsmNotFoundError, ItsmSettingsError,
                      ItsmStorageError, ItsmTransientError, ItsmTransitionError, ItsmUnavailableError,
                      ItsmUnexpectedResponseError, ItsmValidationError)
from ._lookup import JournalTexts
from ._options import ConnectionSettings, default_local_db
from ._records import CHANGE, CLOSED_CHANGE_STATES, INCIDENT, created, utcnow, format_datetime
from ._recorder import redact
from .backends._base import ItsmBackend, Record

try:  # a runtime dependency only when the outbox is a PostgreSQL URL
    import psycopg
    from psycopg.rows import dict_row
except ImportError:
    psycopg = None
    dict_row = None

#: errors that say "the system of record cannot be reached or used right now": keep the item, retry later
OUTAGE_ERRORS = (ItsmTransientError, ItsmUnavailableError, ItsmStorageError, ItsmAuthError, ItsmSettingsError,
                 ItsmUnexpectedResponseError)
#: errors about the item itself: sending it again as it is cannot succeed
_ITEM_ERRORS = (ItsmNotFoundError, ItsmValidationError, ItsmConflictError, ItsmTransitionError)
#: HTTP answers that refuse this one request (a bad value, no right to this record), not the connection
_REFUSING_STATUSES = frozenset({400, 403, 404, 405, 409, 410, 413, 422})
OUTBOX_ENV = "ITSM_OUTBOX"
STATES = ("pending", "delivered", "failed")
#: how long a flush holds its items without renewing: a flusher that dies (kill -9) gives them back this soon
LEASE_SECONDS = 30.0
#: how often a working flush renews its lease (a few renewals per lease: a slow disk does not lose it)
RENEW_SECONDS = LEASE_SECONDS / 3
_BEFORE_IMPLEMENT = ("new", "assess", "authorize", "scheduled")

_COLUMNS = ("id TEXT NOT NULL UNIQUE, target TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, "
            "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL, "
            "last_error TEXT, result TEXT, lease_owner TEXT")
#: the items table of each database: its name, and its statements ({table} names it)
_SQLITE_TABLE = "items"
_POSTGRESQL_TABLE = local_db.OUTBOX_TABLE  # beside the local store's tables when the two share a schema
_SQLITE_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, {_COLUMNS}, lease_until REAL)",
    "CREATE INDEX IF NOT EXISTS items_pending ON items (target, state, seq)",
)
# lease_until is seconds since the epoch: DOUBLE PRECISION (PostgreSQL's REAL would round it to minutes).
_POSTGRESQL_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_POSTGRESQL_TABLE} (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    f"{_COLUMNS}, lease_until DOUBLE PRECISION)",
    f"CREATE INDEX IF NOT EXISTS {_POSTGRESQL_TABLE}_pending ON {_POSTGRESQL_TABLE} (target, state, seq)",
)


def permanent(error: BaseException) -> bool:
    """Whether the backend refused the item for good: sending it again unchanged cannot succeed (the change it
    names does not exist, a value is refused, the account may not write that record). An outage, a refused
    credential, a setting the transport cannot use, or any error nobody foresaw is not: the item waits."""
    if isinstance(error, ItsmUnexpectedResponseError) and error.details.get("status") in _REFUSING_STATUSES:
        return True
    return isinstance(error, _ITEM_ERRORS) and not isinstance(error, OUTAGE_ERRORS)


def error_text(error: BaseException, secrets: t.Iterable[str] = ()) -> str:
    """The message kept with an item and shown in warnings; an error from outside the collection says its kind
    (it carries no option), with the connection's secrets masked."""
    text = error.message if isinstance(error, ItsmError) else f"unexpected {type(error).__name__}: {error}"
    return redact(text, secrets)


def describe(item: t.Mapping[str, t.Any]) -> str:
    """An item in words a person recognises (its id is for machines)."""
    if item.get("type") == "change":
        which = f"change {item['number']}" if item.get("number") else f"the run's change ({item.get('correlation_id')})"
        return f"the {'end' if item.get('note') is not None else 'start'} of {which}"
    if item.get("type") == "incident":
        return f"incident {(item.get('fields') or {}).get('short_description')!r}"
    if item.get("type") == "problem":
        return f"the problem of recurring incident {item.get('correlation_id')}"
    return f"resolving incident {item.get('correlation_id')}"


def default_path() -> str:
    """``ITSM_OUTBOX``, else ``opsgate_itsm/outbox.sqlite`` beside the local backend's default store."""
    return os.environ.get(OUTBOX_ENV) or os.path.join(os.path.dirname(default_local_db()), "outbox.sqlite")


def target_of(settings: ConnectionSettings) -> str:
    """Which system an item is for: the backend and its URL or database file (no credential)."""
    if settings.backend == "local":
        return "local:" + local_db.shown(settings.local_db or default_local_db())
    return f"{settings.backend}:{(settings.url or '').rstrip('/')}"


def password_of(settings: ConnectionSettings) -> str | None:
    """The password a PostgreSQL outbox uses over its URL's own: the ``local`` backend's ``password`` is its
    database's (as for local_db); another backend's password is for that system, never sent to a database."""
    return settings.password if settings.backend == "local" else None


class Outbox:
    """A small queue of items in an SQLite file or a PostgreSQL database; reading one that does not exist yet
    creates nothing. Every call opens its own connection (a flush's lease renewal runs in another thread)."""

    def __init__(self, path: str | None = None, timeout: float = 10.0, warn: t.Callable[[str], None] | None = None,
                 password: str | None = None, option: str = "outbox"):
        """``path``: a file or a PostgreSQL URL (``option`` names it when refused); ``password``: password_of."""
        self.where = local_db.read(path or default_path(), option=option)
        #: how messages name the outbox: the file's absolute path, or the URL without its password
        self.path = self.where.shown
        self.timeout = timeout
        #: says (once per path) that the file is readable by others
        self.warn = warn
        self.password = password
        self.secrets = tuple(secret for secret in (*self.where.secrets, password) if secret)
        self.table = _POSTGRESQL_TABLE if self.where.is_postgresql else _SQLITE_TABLE

    def _connect(self, write: bool) -> t.ContextManager[t.Any]:
        return self._postgresql(write) if self.where.is_postgresql else self._sqlite(write)

    def _execute(self, conn: t.Any, sql: str, params: t.Sequence[t.Any] = ()) -> t.Any:
        """One statement written for both databases: ``{table}`` and ``?`` placeholders (psycopg's are ``%s``);
        the cursor (rowcount, fetchone, fetchall; rows read by column name on both)."""
        sql = sql.format(table=self.table)
        if self.where.is_postgresql:
            return conn.execute(sql.replace("?", "%s"), list(params))
        return conn.execute(sql, list(params))

    @contextlib.contextmanager
    def _sqlite(self, write: bool) -> t.Iterator[sqlite3.Connection | None]:
        path = self.where.path
        if not write and not os.path.exists(path):
            yield None
            return
        try:
            if write and not os.path.exists(path):
                private_files.create_file(path)  # 0600 in a 0700 directory: it holds recorder payloads
            conn = sqlite3.connect(path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from None
        private_files.warn_if_readable(path, "outbox", self.warn)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SQLITE_SCHEMA:
                conn.execute(statement)
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    @contextlib.contextmanager
    def _postgresql(self, write: bool) -> t.Iterator[t.Any]:
        """A connection in autocommit; a write runs in one transaction holding the outbox's advisory lock (keyed by
        the schema, so writers take turns as on SQLite), which also makes the table on the first write. A read of a
        database without the table yields None, as a missing file does."""
        if psycopg is None:
            raise ItsmStorageError(f"outbox: {self.path} is a PostgreSQL URL, which needs the Python package psycopg 3 "
                                   "on the controller (pip install 'psycopg[binary]'); or point the outbox "
                                   f"({OUTBOX_ENV}) at an SQLite file", option="outbox", value=self.path)
        options: dict[str, t.Any] = {"autocommit": True, "row_factory": dict_row, "application_name": "opsgate.itsm"}
        if self.password:
            options["password"] = self.password  # the password option over the URL's own, as for local_db
        if "connect_timeout=" not in (self.where.url or ""):
            options["connect_timeout"] = max(2, int(self.timeout + 0.999))
        try:
            conn = psycopg.connect(self.where.url, **options)
        except psycopg.Error as exc:
            raise self._error(exc) from None
        try:
            if write:
                conn.execute("BEGIN")
                conn.execute(f"SET LOCAL lock_timeout = {max(1, int(self.timeout * 1000))}")
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('opsgate.itsm outbox ' || "
                             "coalesce(current_schema(), ''), 0))")
            missing = conn.execute("SELECT to_regclass(%s) IS NULL AS missing", [self.table]).fetchone()["missing"]
            if missing and not write:
                yield None
                return
            # Made once, under the lock; a table a DBA made beforehand needs only row rights, not CREATE.
            for statement in _POSTGRESQL_SCHEMA if missing else ():
                conn.execute(statement)
            yield conn
            if write:
                conn.execute("COMMIT")
        except psycopg.Error as exc:
            raise self._error(exc) from None
        finally:
            conn.close()  # a transaction still open (an error) is rolled back with the connection

    def _error(self, exc: Exception) -> ItsmStorageError:
        said = redact(" ".join(str(exc).split()), self.secrets)
        if self.where.is_postgresql:
            return ItsmStorageError(f"outbox: {self.path} cannot be used (postgresql: {said}); check that the server "
                                    "runs and the URL, the user and its password are right, or point the outbox "
                                    f"({OUTBOX_ENV}) at another database or a writable file",
                                    option="outbox", value=self.path)
        return ItsmStorageError(f"outbox: {self.path} cannot be used ({said}); point the outbox path "
                                f"({OUTBOX_ENV}) at a writable file", option="outbox", value=self.path)

    def put(self, items: t.Iterable[t.Mapping[str, t.Any]], target: str, state: str = "pending",
            error: str | None = None) -> int:
        """Queue items for ``target``; an item whose id is already queued is not queued twice.

        ``state="failed"`` keeps an item the backend refused for good (with ``error``): ``list`` shows it, only
        a flush with ``retry_failed`` sends it again.
        """
        now = format_datetime(utcnow())
        with self._connect(write=True) as conn:
            return sum(self._execute(
                conn, "INSERT INTO {table} (id, target, type, payload, state, created, updated, last_error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (item["id"], target, item["type"], json.dumps(item, sort_keys=True), state, now, now, error)).rowcount
                for item in items)

    def list(self, states: t.Sequence[str] = ("pending", "failed"), target: str | None = None) -> list[Record]:
        with self._connect(write=False) as conn:
            if conn is None:
                return []
            sql = f"SELECT * FROM {{table}} WHERE state IN ({', '.join('?' * len(states))})"
            params: list[t.Any] = list(states)
            if target:
                sql += " AND target = ?"
                params.append(target)
            return [_public(row) for row in self._execute(conn, sql + " ORDER BY seq", params).fetchall()]

    def claim(self, target: str, owner: str, retry_failed: bool = False,
              lease: float | None = None) -> list[dict[str, t.Any]]:
        """Take the lease (``lease`` seconds, LEASE_SECONDS by default) on every sendable item for ``target``,
        oldest first; returns their payloads."""
        states = ("pending", "failed") if retry_failed else ("pending",)
        lease = LEASE_SECONDS if lease is None else lease
        now = time.time()
        with self._connect(write=True) as conn:
            self._execute(
                conn, f"UPDATE {{table}} SET lease_owner = ?, lease_until = ? WHERE target = ? AND state IN "
                f"({', '.join('?' * len(states))}) AND (lease_until IS NULL OR lease_until < ?)",
                [owner, now + lease, target, *states, now])
            rows = self._execute(conn, "SELECT payload FROM {table} WHERE lease_owner = ? AND lease_until > ? "
                                 "AND target = ? ORDER BY seq", (owner, now, target)).fetchall()
            return [json.loads(row["payload"]) for row in rows]

    def finish(self, item_id: str, owner: str, state: str, error: str | None = None,
               result: t.Any = None) -> None:
        """Record the outcome of one send and drop the lease."""
        with self._connect(write=True) as conn:
            self._execute(conn, "UPDATE {table} SET state = ?, attempts = attempts + 1, updated = ?, last_error = ?, "
                          "result = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                          (state, format_datetime(utcnow()), error,
                           json.dumps(result, sort_keys=True) if result is not None else None, item_id))

    def renew(self, owner: str, lease: float | None = None) -> int:
        """Extend ``owner``'s leases to ``lease`` seconds (LEASE_SECONDS) from now, a flush still working; returns
        how many."""
        until = time.time() + (LEASE_SECONDS if lease is None else lease)
        with self._connect(write=True) as conn:
            return self._execute(conn, "UPDATE {table} SET lease_until = ? WHERE lease_owner = ? "
                                 "AND lease_until IS NOT NULL", (until, owner)).rowcount

    def leased_elsewhere(self, target: str, owner: str = "",
                         states: t.Sequence[str] = ("pending",)) -> tuple[int, str | None]:
        """How many sendable items for ``target`` another flush holds right now, and when the last lease ends."""
        with self._connect(write=False) as conn:
            if conn is None:
                return 0, None
            row = self._execute(
                conn, f"SELECT count(*) AS leased, max(lease_until) AS until FROM {{table}} WHERE target = ? AND "
                f"state IN ({', '.join('?' * len(states))}) AND lease_until >= ? "
                "AND (lease_owner IS NULL OR lease_owner <> ?)",
                [target, *states, time.time(), owner]).fetchone()
            return row["leased"], _utc(row["until"])

    def release(self, owner: str) -> None:
        with self._connect(write=True) as conn:
            self._execute(conn, "UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
                          (owner,))

    def purge(self, ids: t.Sequence[str] | None = None, states: t.Sequence[str] = ("delivered",),
              check_mode: bool = False) -> list[str]:
        """Remove items (by id, else by state); returns the ids removed."""
        with self._connect(write=False) as conn:
            if conn is None:  # nothing queued yet: nothing to remove, and nothing created
                return []
        with self._connect(write=True) as conn:
            if ids:
                sql, params = f"id IN ({', '.join('?' * len(ids))})", list(ids)
            else:
                sql, params = f"state IN ({', '.join('?' * len(states))})", list(states)
            gone = [row["id"] for row in
                    self._execute(conn, f"SELECT id FROM {{table}} WHERE {sql} ORDER BY seq", params).fetchall()]
            if not check_mode:
                self._execute(conn, f"DELETE FROM {{table}} WHERE {sql}", params)
            return gone


def _public(row: t.Mapping[str, t.Any]) -> Record:
    payload = json.loads(row["payload"])
    return dict(id=row["id"], type=row["type"], target=row["target"], state=row["state"], attempts=row["attempts"],
                created=row["created"], updated=row["updated"], last_error=row["last_error"],
                permanent=row["state"] == "failed", description=describe(payload),
                correlation_id=payload.get("correlation_id"), number=payload.get("number"),
                result=json.loads(row["result"]) if row["result"] else None, leased_until=_lease_end(row))


def _lease_end(row: t.Mapping[str, t.Any]) -> str | None:
    """When the flush holding the item gives it back, None when no flush holds it."""
    until = row["lease_until"]
    return _utc(until) if until is not None and until >= time.time() else None


def _utc(timestamp: float | None) -> str | None:
    return format_datetime(datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)) if timestamp else None


# -- sending -------------------------------------------------------------------------------------

def flush(outbox: Outbox, backend: ItsmBackend, target: str, warn: t.Callable[[str], None],
          retry_failed: bool = False, report_refused: bool = True) -> dict[str, t.Any]:
    """Send every pending item for ``target`` in order; stop at the first outage (the rest stay queued).

    Items refused for good before are left alone (``retry_failed`` sends them too) and, with ``report_refused``,
    named in one warning: nothing waits for ever without saying so.
    """
    owner = uuid.uuid4().hex
    delivered: list[Record] = []
    refused: list[Record] = []
    outage = None
    renewal = _Renewal(outbox, owner)  # keeps the lease short: renewed while this flush works
    try:
        renewal.start()
        for item in outbox.claim(target, owner, retry_failed):
            try:
                result = deliver(backend, item, warn)
            except Exception as error:  # pylint: disable=broad-exception-caught  # whatever it was, the item is kept
                text = error_text(error, backend.settings.secrets())
                if not permanent(error):
                    outbox.finish(item["id"], owner, "pending", error=text)
                    outage = text
                    break
                outbox.finish(item["id"], owner, "failed", error=text)
                refused.append(dict(id=item["id"], error=text))
                warn(f"outbox: the {backend.name} backend refused {describe(item)} for good ({text}); it is kept as "
                     f"failed in {outbox.path} and not sent again unless a flush has retry_failed")
                continue
            outbox.finish(item["id"], owner, "delivered", result=result)
            delivered.append(dict(id=item["id"], **result))
    finally:
        renewal.stop()
        outbox.release(owner)
    waiting = outbox.list(("failed",), target)
    earlier = [item for item in waiting if item["id"] not in {entry["id"] for entry in refused}]
    if earlier and report_refused:
        warn(refused_text(earlier, backend.name, outbox.path))
    # Items another flush holds were not sent: say so, and when they come back (issue 14: a killed flush's items
    # waited 300 s without a word).
    leased, leased_until = outbox.leased_elsewhere(target, owner, ("pending", "failed") if retry_failed else ("pending",))
    if leased:
        warn(leased_text(leased, leased_until, outbox.path))
    # "refused", not "failed": a result key "failed" holding a list would fail the outbox module's task.
    return dict(delivered=delivered, refused=refused, outage=outage, permanent_failures=len(waiting),
                remaining=len(outbox.list(("pending",), target)), leased=leased, leased_until=leased_until)


class _Renewal:
    """A thread that renews a flush's leases every RENEW_SECONDS while it works, so the lease itself can be short:
    the items of a flusher that dies come back LEASE_SECONDS after its last renewal."""

    def __init__(self, outbox: Outbox, owner: str):
        self.outbox, self.owner = outbox, owner
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="opsgate-itsm-outbox-lease", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(RENEW_SECONDS):
            try:
                self.outbox.renew(self.owner)
            except ItsmStorageError:  # the file stayed locked this once: the next renewal comes before the lease ends
                pass


def leased_text(leased: int, until: str | None, path: str) -> str:
    """The warning about items another flush holds: not sent now, and when they come back."""
    one = leased == 1
    return (f"outbox: {count_of(leased)} in {path} {'is' if one else 'are'} leased by another flush until {until} and "
            f"{'was' if one else 'were'} not sent now; if that flush was killed, a flush after {until} sends "
            f"{'it' if one else 'them'}")


def count_of(count: int) -> str:
    """"1 item", "2 items": counts in the outbox's messages."""
    return f"{count} item" if count == 1 else f"{count} items"


def refused_text(items: t.Sequence[Record], backend_name: str, path: str) -> str:
    """The warning about items the backend refused for good earlier, with why (the first few)."""
    shown = "; ".join(f"{item['description']}: {item['last_error']}" for item in items[:3])
    more = f"; and {len(items) - 3} more" if len(items) > 3 else ""
    verb = "was" if len(items) == 1 else "were"
    return (f"outbox: {count_of(len(items))} in {path} {verb} refused for good by the {backend_name} backend and "
            f"are not sent again ({shown}{more}); fix the cause and flush with retry_failed, or remove them with the "
            "outbox module (action=purge, states=[failed])")


def deliver(backend: ItsmBackend, item: t.Mapping[str, t.Any], warn: t.Callable[[str], None]) -> Record:
    """Apply one item; safe to repeat. Returns ``{type, number, outcome}``."""
    handler = {"change": _deliver_change, "incident": _deliver_incident, "resolve": _deliver_resolve,
               "problem": _deliver_problem}[item["type"]]
    return handler(backend, item, warn)


def _deliver_problem(backend: ItsmBackend, item: t.Mapping[str, t.Any], warn: t.Callable[[str], None]) -> Record:
    """The problem of a recurring failure (_recurring: raised past the run's ``problem_after``, else updated), after
    the incident item of the same signature; the note names the run's change (its number, once it has one)."""
    if "problems" not in backend.capabilities:
        # Waiting would not help: this backend keeps no problems (jsm, until Jira's problem type lands).
        warn(f"recorder: problem_after: the {backend.name} backend keeps no problem records; none is raised")
        return dict(type="problem", number=None, outcome="not available")
    threshold = recurring.Threshold(item["problem_after"], item["problem_window"])
    change = _change_number(backend, item.get("change") or {})
    done = recurring.raise_or_update(backend, item["correlation_id"], threshold, summary=item["summary"],
                                     statement=item["statement"],
                                     note=recurring.change_note(change, item["what"]) + f" [{item['marker']}]")
    return dict(type="problem", number=(done or {}).get("number"), outcome=(done or {}).get("outcome", "not raised"))


def _marked(backend: ItsmBackend, kind: str, record: Record, marker: str) -> bool:
    """Whether an earlier send of the item reached ``record``: its description or a journal entry carries the
    item's marker (the journal is read only when the description does not)."""
    if marker in (record.get("description") or ""):
        return True
    return _carries(backend.journal(kind, record), marker)


def _carries(journal: t.Iterable[Record], marker: str) -> bool:
    return any(marker in (entry.get("text") or "") for entry in journal)


def _find_change(backend: ItsmBackend, item: t.Mapping[str, t.Any]) -> Record | None:
    if item.get("number"):
        record = backend.get(CHANGE, number=item["number"])
        if record is None:
            raise ItsmNotFoundError(f"change: {item['number']} does not exist on the {backend.name} backend "
                                    f"({target_of(backend.settings)})", option="change", value=item["number"])
        return record
    # The one look-up rule: the open holder is the run's change; a settled one is not the run's to reuse...
    marker = item["marker"]
    found = backend.lookup(CHANGE, correlation_id=item["correlation_id"], include={"journal"})
    if found is None or _lookup.is_open(CHANGE, found.record):
        return found.record if found else None
    # ...unless an earlier send of this same run attempt closed it already: the newest holder, or (a later run's
    # change came after it) an older one. A template may replace the description (ServiceNow keeps the
    # template's): the notes carry the marker too.
    if marker in (found.record.get("description") or "") or (found.notes is not None and found.notes.mentions(marker)):
        return found.record
    for candidate in workflow.records_holding(backend, CHANGE, item["correlation_id"]):
        if candidate["id"] != found.record["id"] and _marked(backend, CHANGE, candidate, marker):
            return candidate
    return None


def _deliver_change(backend: ItsmBackend, item: t.Mapping[str, t.Any], warn: t.Callable[[str], None]) -> Record:
    """Returns the change's number, state and ``outcome``, what happened to it in words: ``created`` or ``found``
    at the start; at the end ``closed <close code>``, ``moved to review`` or ``left in <state>`` (issue 12: not
    "updated" for a change that was closed unsuccessful), after ``created and`` when the end created it."""
    record = _find_change(backend, item)
    outcome = "found"
    if record is None:
        fields = dict(item["create"], correlation_id=item["correlation_id"])
        if fields.get("template") and backend.template(fields["template"]) is None:
            fields.pop("template")  # no such template on this system: a plain standard change
        if fields.get("template"):
            # The template describes the change (ServiceNow keeps its description whatever is sent, with a
            # warning each run); the run's marker reaches the change in its notes.
            fields.pop("type")
            fields.pop("description", None)
        record = created(backend.create(CHANGE, fields))[0]
        outcome = "created"
    label = record["number"]
    if record["state"] in _BEFORE_IMPLEMENT:
        record = _walk(backend, record, "implement", {}, warn, f"{label} stays in {record['state']}")
    journal = backend.journal(CHANGE, record) if item.get("note") else []
    if item.get("note") and not any(item["marker"] in text or text == item["note"]
                                    for text in (entry.get("text") or "" for entry in journal)):
        backend.add_journal(CHANGE, record, "work_notes", item["note"], known_notes=JournalTexts.from_entries(journal))
    end = item.get("end_state")
    if end and record["state"] not in CLOSED_CHANGE_STATES and record["state"] != end:
        fields = {"close_code": item["close_code"], "close_notes": item["close_notes"]} if end == "closed" else {}
        record = _walk(backend, record, end, fields, warn, f"{label} was not moved to {end}")
    if item.get("note") is not None:
        outcome = ("created and " if outcome == "created" else "") + _ended(record)
    return dict(type="change", number=label, state=record["state"], outcome=outcome)


def _ended(record: Record) -> str:
    if record["state"] == "closed":
        return f"closed {record.get('close_code') or 'without a close code'}"
    if record["state"] == "review":
        return "moved to review"
    if record["state"] == "canceled":
        return "canceled"
    return f"left in {record['state']}"


def _walk(backend: ItsmBackend, record: Record, target: str, fields: dict[str, t.Any],
          warn: t.Callable[[str], None], what: str) -> Record:
    """Move along the model; a refusal (approval pending, wrong state) is a warning, not a lost item."""
    try:
        path = workflow.plan(CHANGE, record, target, fields, backend)
        return workflow.move(backend, CHANGE, record, path, fields, check_mode=False)
    except ItsmTransitionError as error:
        warn(f"recorder: {what}: {error.message}")
        return backend.get(CHANGE, id=record["id"]) or record


def _deliver_incident(backend: ItsmBackend, item: t.Mapping[str, t.Any], warn: t.Callable[[str], None]) -> Record:
    marker = item["marker"]
    # The one look-up rule, open holders only: a resolved incident does not absorb a new failure. Every holder is
    # read (one request, as a look-up): a settled one whose description carries the marker was this item's.
    holders = workflow.records_holding(backend, INCIDENT, item["correlation_id"])
    existing = _lookup.choose(INCIDENT, item["correlation_id"], holders, open_only=True)
    if existing is not None:
        if marker in (existing.get("description") or ""):
            return dict(type="incident", number=existing["number"], outcome="unchanged")
        # The marker names this run's occurrence (the note carries it): a delivery retried is not counted again.
        recurrence = backend.record_recurrence(existing, item["note"], once_key=marker)
        outcome = "recurred" if recurrence.counted else "unchanged"
        return dict(type="incident", number=existing["number"], outcome=outcome)
    for candidate in holders:
        if marker in (candidate.get("description") or ""):
            return dict(type="incident", number=candidate["number"], outcome="unchanged")
    fields = dict(item["fields"], correlation_id=item["correlation_id"])
    caused_by = _change_number(backend, item.get("change") or {})
    if caused_by:
        fields["caused_by"] = caused_by
    # A host that is no CI of the backend's CMDB, a change that does not exist (ITSM_CHANGE naming none): the
    # incident is raised without that reference (both are in its description) rather than refused for ever.
    record = None
    while record is None:  # each pass either creates, raises, or drops one of the two references
        try:
            record = backend.create(INCIDENT, fields)
            record, made = created(record)
        except ItsmNotFoundError as error:
            option = error.details.get("option")
            if option not in _DROPPABLE_REFERENCES or option not in fields:
                raise
            warn(f"recorder: {error.message}; the incident is raised without {_DROPPABLE_REFERENCES[option]}")
            fields.pop(option)
    if not made:  # another run's delivery created it a moment ago: this run's failure is one more occurrence
        if marker in (record.get("description") or ""):
            return dict(type="incident", number=record["number"], outcome="unchanged")
        counted = backend.record_recurrence(record, item["note"], once_key=marker).counted
        return dict(type="incident", number=record["number"], outcome="recurred" if counted else "unchanged")
    return dict(type="incident", number=record["number"], outcome="created")


_DROPPABLE_REFERENCES = {"configuration_item": "a configuration item", "caused_by": "the change that caused it"}


def _change_number(backend: ItsmBackend, change: t.Mapping[str, t.Any]) -> str | None:
    if change.get("number"):
        return change["number"]
    if not change.get("correlation_id"):
        return None
    found = workflow.find_existing(backend, CHANGE, None, change["correlation_id"])
    return found.record["number"] if found else None


def _deliver_resolve(backend: ItsmBackend, item: t.Mapping[str, t.Any], warn: t.Callable[[str], None]) -> Record:
    found = workflow.find_existing(backend, INCIDENT, None, item["correlation_id"], open_only=True)
    if found is None:
        return dict(type="resolve", number=None, outcome="unchanged")
    existing = found.record
    fields = {"close_code": "solution_provided", "close_notes": item["close_notes"]}
    path = workflow.plan(INCIDENT, existing, "resolved", fields)
    record = workflow.move(backend, INCIDENT, existing, path, fields, check_mode=False)
    return dict(type="resolve", number=record["number"], outcome="resolved")
