# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage side of the local backend: schema, SQL, rows, audit entries. FOR INTERNAL COLLECTION USE ONLY.

Schema and ordered migrations, connections, the row codec, find filters as SQL, audit entries and
the small value checks local.py shares. Only stdlib ``sqlite3`` and SQL that SQLite 3.24 understands
(no RETURNING, no JSON functions), so the store works with the SQLite of every controller Python.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import random
import sqlite3
import time
import typing as t

from .. import _records as records
from .._errors import ItsmError, ItsmStorageError, ItsmTransientError, ItsmValidationError
from .._records import CHANGE, CHANGE_WRITABLE, INCIDENT, INCIDENT_WRITABLE

Row = dict[str, t.Any]

TABLES = {CHANGE: "changes", INCIDENT: "incidents"}
PREFIXES = records.NUMBER_PREFIXES
NUMBER_DIGITS = 7

# The columns of a record table come from these lists: one TEXT column per canonical writable field
# (_records), plus the read-only ones. ``fields`` is the JSON object of backend-specific extras;
# ``approval_round`` counts approval requests (internal, never returned).
_COMMON = ("id", "number", "state", "active", "opened_at", "updated_at", "closed_at")
_OWN = {CHANGE: ("approval", "template", "approval_round"), INCIDENT: ("priority", "reopen_count")}
_WRITABLE = {CHANGE: CHANGE_WRITABLE, INCIDENT: INCIDENT_WRITABLE}
_DECLARATIONS = {
    "id": "TEXT NOT NULL UNIQUE", "number": "TEXT NOT NULL UNIQUE", "state": "TEXT NOT NULL",
    "active": "INTEGER NOT NULL", "opened_at": "TEXT NOT NULL", "updated_at": "TEXT NOT NULL",
    "approval_round": "INTEGER NOT NULL DEFAULT 0", "reopen_count": "INTEGER NOT NULL DEFAULT 0",
    "fields": "TEXT NOT NULL DEFAULT '{}'",
}
_CI_SEPARATOR = "\x1f"


def columns(kind: str) -> tuple[str, ...]:
    return _COMMON + _OWN[kind] + _WRITABLE[kind] + ("fields",)


# -- migrations ----------------------------------------------------------------------------------

def _v1(conn: sqlite3.Connection) -> None:
    for kind, table in TABLES.items():
        declared = ", ".join(f"{name} {_DECLARATIONS.get(name, 'TEXT')}" for name in columns(kind))
        conn.execute(f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, {declared})")
        conn.execute(f"CREATE INDEX {table}_correlation ON {table} (correlation_id)")
        conn.execute(f"CREATE INDEX {table}_state ON {table} (state)")
    # One by one: executescript() would COMMIT the migration's transaction half-way.
    for statement in _V1_STATEMENTS:
        conn.execute(statement)
    conn.executemany("INSERT INTO counters (name, value) VALUES (?, 0)", [(p,) for p in PREFIXES.values()])


_V1_STATEMENTS = (
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE journal (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, record_id TEXT NOT NULL, "
    "type TEXT NOT NULL, field TEXT, old_value TEXT, new_value TEXT, text TEXT, author TEXT NOT NULL, "
    "created TEXT NOT NULL)",
    "CREATE INDEX journal_record ON journal (kind, record_id, seq)",
    "CREATE TABLE approvals (seq INTEGER PRIMARY KEY, change_id TEXT NOT NULL, approver TEXT NOT NULL, "
    "state TEXT NOT NULL, comments TEXT, stage TEXT NOT NULL, round INTEGER NOT NULL, decided_at TEXT NOT NULL)",
    "CREATE INDEX approvals_change ON approvals (change_id, seq)",
    "CREATE TABLE affected_cis (change_id TEXT NOT NULL, ci_name TEXT NOT NULL, PRIMARY KEY (change_id, ci_name))",
    "CREATE INDEX affected_cis_name ON affected_cis (ci_name)",
    "CREATE TABLE cis (name TEXT PRIMARY KEY, ci_class TEXT, fields TEXT NOT NULL DEFAULT '{}', "
    "updated_at TEXT NOT NULL)",
    "CREATE TABLE blackouts (name TEXT PRIMARY KEY, start_at TEXT NOT NULL, end_at TEXT NOT NULL, reason TEXT)",
    "CREATE TABLE templates (name TEXT PRIMARY KEY, fields TEXT NOT NULL, updated_at TEXT NOT NULL)",
    # The audit trail is append-only: the database itself refuses to rewrite history.
    "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals "
    "BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END",
    "CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals "
    "BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END",
)


def _v2(conn: sqlite3.Connection) -> None:
    """CMDB relationships (``source`` -- ``type`` --> ``target``, by CI name) for the inventory's relation groups."""
    conn.execute("CREATE TABLE ci_relations (source TEXT NOT NULL, type TEXT NOT NULL, target TEXT NOT NULL, "
                 "PRIMARY KEY (source, type, target))")
    conn.execute("CREATE INDEX ci_relations_target ON ci_relations (target)")


def _v3(conn: sqlite3.Connection) -> None:
    """Attachments of changes and incidents: the file's bytes in the store, found by record and name."""
    conn.execute("CREATE TABLE attachments (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
                 "record_id TEXT NOT NULL, name TEXT NOT NULL, content_type TEXT, size INTEGER NOT NULL, "
                 "sha256 TEXT NOT NULL, content BLOB NOT NULL, created TEXT NOT NULL)")
    conn.execute("CREATE INDEX attachments_record ON attachments (kind, record_id, name)")


# Ordered: MIGRATIONS[n - 1] takes a store from version n - 1 to n. A version 4 is one more function.
MIGRATIONS: tuple[t.Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int | None:
    """The store's schema version; 0 for an empty database, None for someone else's database."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" in names:
        return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    return 0 if not names else None


def _missing_columns(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Writable fields added to _records after the store was created (added as plain TEXT columns)."""
    missing = []
    for kind, table in TABLES.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        missing.extend((table, name) for name in columns(kind) if name not in present)
    return missing


def migrate(conn: sqlite3.Connection, path: str) -> None:
    version = _version(conn)
    if version == SCHEMA_VERSION and not _missing_columns(conn):
        return
    with write_transaction(conn):
        # Re-read under the write lock: a concurrent process may have migrated meanwhile.
        version = _version(conn)
        if version is None:
            raise ItsmStorageError(f"local_db: {path} is an SQLite database of another application, not an "
                                   "opsgate.itsm store; point local_db at a new file", option="local_db")
        if version > SCHEMA_VERSION:
            raise ItsmStorageError(f"local_db: {path} has schema version {version}, newer than the {SCHEMA_VERSION} "
                                   "this opsgate.itsm understands; upgrade the collection", option="local_db")
        if version == 0:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[number - 1](conn)
            conn.execute("INSERT INTO schema_version VALUES (?, datetime('now'))", (number,))
        for table, name in _missing_columns(conn):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} TEXT")


# -- connections ---------------------------------------------------------------------------------

class write_transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error, so nothing is half-written.

    IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so two writers never
    both read and then fail to upgrade their lock, which is what "database is locked" comes from.
    """

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
        finally:
            # Reached with an error from the body or from COMMIT itself.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")


class read_transaction:
    """``BEGIN`` ... ``COMMIT`` around reads: they all see one snapshot of the store (WAL), so a COUNT
    and the rows read with it agree even while other processes write."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


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


# -- rows ----------------------------------------------------------------------------------------

def select_sql(kind: str) -> str:
    """SELECT of whole records; a change's affected CIs come in the same statement (no query per record)."""
    selected = ", ".join(f"r.{name}" for name in columns(kind))
    if kind == CHANGE:
        selected += (", (SELECT group_concat(a.ci_name, char(31)) FROM affected_cis AS a "
                     "WHERE a.change_id = r.id) AS configuration_items")
    return f"SELECT r.seq, {selected} FROM {TABLES[kind]} AS r"


def count_rows(conn: sqlite3.Connection, kind: str, clauses: list[str], params: list[t.Any]) -> int:
    """How many records match ``clauses`` (as translate_filters gives them, on the alias ``r``)."""
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return conn.execute(f"SELECT COUNT(*) FROM {TABLES[kind]} AS r{where}", params).fetchone()[0]


def decode_row(kind: str, row: sqlite3.Row) -> Row:
    decoded = {name: row[name] for name in ("seq",) + columns(kind)}
    decoded["active"] = bool(decoded["active"])
    decoded["fields"] = json.loads(decoded["fields"] or "{}")
    if kind == CHANGE:
        joined = row["configuration_items"]
        decoded["configuration_items"] = sorted(joined.split(_CI_SEPARATOR)) if joined else []
    return decoded


def _encode(name: str, value: t.Any) -> t.Any:
    if name == "fields":
        return json.dumps(value or {}, sort_keys=True)
    if name == "active":
        return int(bool(value))
    return value


def insert_row(conn: sqlite3.Connection, kind: str, row: Row) -> None:
    names = [name for name in columns(kind) if name in row]
    conn.execute(f"INSERT INTO {TABLES[kind]} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                 [_encode(name, row[name]) for name in names])


def update_row(conn: sqlite3.Connection, kind: str, record_id: str, changes: Row) -> None:
    names = [name for name in columns(kind) if name in changes]
    if names:
        assignments = ", ".join(f"{name} = ?" for name in names)
        conn.execute(f"UPDATE {TABLES[kind]} SET {assignments} WHERE id = ?",
                     [_encode(name, changes[name]) for name in names] + [record_id])


def replace_cis(conn: sqlite3.Connection, change_id: str, names: t.Iterable[str]) -> None:
    conn.execute("DELETE FROM affected_cis WHERE change_id = ?", (change_id,))
    conn.executemany("INSERT INTO affected_cis (change_id, ci_name) VALUES (?, ?)",
                     [(change_id, name) for name in names])


def next_number(conn: sqlite3.Connection, kind: str) -> str:
    """The next number, inside the caller's write transaction: unique, and gapless because a rollback undoes it."""
    prefix = PREFIXES[kind]
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (prefix,))
    value = conn.execute("SELECT value FROM counters WHERE name = ?", (prefix,)).fetchone()[0]
    return f"{prefix}{value:0{NUMBER_DIGITS}d}"


def add_events(conn: sqlite3.Connection, kind: str, record_id: str, author: str, created: str,
               events: t.Iterable[Row]) -> None:
    """Append audit entries ``{type, field, old, new, text}``; values are stored as JSON."""
    conn.executemany(
        "INSERT INTO journal (kind, record_id, type, field, old_value, new_value, text, author, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(kind, record_id, event["type"], event.get("field"), _json_or_none(event, "old"),
          _json_or_none(event, "new"), event.get("text"), author, created) for event in events],
    )


def read_events(conn: sqlite3.Connection, kind: str, record_id: str, types: t.Sequence[str] | None) -> list[Row]:
    sql = ("SELECT type, field, old_value, new_value, text, author, created FROM journal "
           "WHERE kind = ? AND record_id = ?")
    params: list[t.Any] = [kind, record_id]
    if types:
        sql += f" AND type IN ({', '.join('?' * len(types))})"
        params.extend(types)
    return [
        {"type": row["type"], "field": row["field"], "old": _loads(row["old_value"]), "new": _loads(row["new_value"]),
         "text": row["text"], "author": row["author"], "created": row["created"]}
        for row in conn.execute(sql + " ORDER BY seq", params)
    ]


# Ids per statement of read_notes: well under SQLite's oldest limit of 999 bound parameters.
_IDS_PER_STATEMENT = 500


def read_notes(conn: sqlite3.Connection, kind: str, record_ids: list[str]) -> list[Row]:
    """The notes of many records, oldest first: ``{record_id, field, text, author, created}``; one statement
    per 500 ids (record_id IN, served by the journal_record index)."""
    found: list[Row] = []
    for start in range(0, len(record_ids), _IDS_PER_STATEMENT):
        chunk = record_ids[start:start + _IDS_PER_STATEMENT]
        found.extend(dict(row) for row in conn.execute(
            "SELECT record_id, field, text, author, created FROM journal WHERE kind = ? AND type = 'note' "
            f"AND record_id IN ({', '.join('?' * len(chunk))}) ORDER BY seq", [kind, *chunk]))
    return found


def _json_or_none(event: Row, key: str) -> str | None:
    return json.dumps(event[key], sort_keys=True) if key in event else None


def _loads(text: str | None) -> t.Any:
    return None if text is None else json.loads(text)


# -- audit entries -------------------------------------------------------------------------------

def diff_events(kind: str, old: Row, new: Row) -> list[Row]:
    """Audit events, old -> new, for every stored value that differs."""
    events = []
    for name in columns(kind):
        if name not in ("id", "number", "updated_at", "approval_round", "fields") and old.get(name) != new.get(name):
            events.append({"type": "state" if name == "state" else "field", "field": name,
                           "old": old.get(name), "new": new.get(name)})
    old_extras, new_extras = old.get("fields") or {}, new.get("fields") or {}
    for key in sorted(set(old_extras) | set(new_extras)):
        if old_extras.get(key) != new_extras.get(key):
            events.append({"type": "field", "field": f"fields.{key}", "old": old_extras.get(key),
                           "new": new_extras.get(key)})
    if kind == CHANGE and old["configuration_items"] != new["configuration_items"]:
        added = sorted(set(new["configuration_items"]) - set(old["configuration_items"]))
        removed = sorted(set(old["configuration_items"]) - set(new["configuration_items"]))
        events.append({"type": "field", "field": "configuration_items", "old": old["configuration_items"],
                       "new": new["configuration_items"],
                       "text": f"added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'}"})
    return events


# -- find filters ---------------------------------------------------------------------------------

def _one_of(column: str, allowed: t.Sequence[str] | None = None) -> t.Callable[[t.Any], tuple[str, list]]:
    def clause(value: t.Any) -> tuple[str, list]:
        values = [value] if isinstance(value, str) else list(value)
        for item in values if allowed else ():
            records.require_choice(column, item, allowed)
        return f"r.{column} IN ({', '.join('?' * len(values))})", values
    return clause


def _equal(column: str) -> t.Callable[[t.Any], tuple[str, list]]:
    return lambda value: (f"r.{column} = ?", [value])


def _date_compared(sql: str, option: str) -> t.Callable[[t.Any], tuple[str, list]]:
    return lambda value: (sql, [records.normalise_datetime(value, option)])


_COMMON_FILTERS = {
    "number": _one_of("number"), "correlation_id": _equal("correlation_id"),
    "active": lambda value: ("r.active = ?", [int(bool(value))]), "assignment_group": _equal("assignment_group"),
    # opened_at is stored in the canonical form, so the text comparison is a time comparison.
    "opened_after": _date_compared("r.opened_at >= ?", "opened_after"),
    "opened_before": _date_compared("r.opened_at <= ?", "opened_before"),
}
_FILTERS = {
    CHANGE: dict(
        _COMMON_FILTERS, state=_one_of("state", records.CHANGE_STATES), type=_one_of("type", records.CHANGE_TYPES),
        approval=_one_of("approval", records.APPROVAL_STATES),
        configuration_item=lambda value: (
            "EXISTS (SELECT 1 FROM affected_cis AS a WHERE a.change_id = r.id AND a.ci_name = ?)", [value]),
        # Overlap of [start_date, end_date] with the range; a change without an end lasts an instant.
        window_start=_date_compared("COALESCE(r.end_date, r.start_date) > ?", "window_start"),
        window_end=_date_compared("r.start_date < ?", "window_end"),
    ),
    INCIDENT: dict(
        _COMMON_FILTERS, state=_one_of("state", records.INCIDENT_STATES),
        configuration_item=_equal("configuration_item"), caused_by=_equal("caused_by"),
    ),
}


def translate_filters(kind: str, filters: t.Mapping[str, t.Any]) -> tuple[list[str], list[t.Any]]:
    clauses: list[str] = []
    params: list[t.Any] = []
    for key, value in filters.items():
        if key not in _FILTERS[kind]:
            raise ItsmValidationError("filters", key, f"not a filter of {kind}s; expected one of: "
                                      + ", ".join(_FILTERS[kind]))
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        clause, values = _FILTERS[kind][key](value)
        clauses.append(clause)
        params.extend(values)
    if filters.get("window_start") and filters.get("window_end"):
        window(filters["window_start"], filters["window_end"], "window_start", "window_end")
    return clauses, params


def open_clause(kind: str) -> str:
    """Open records: not closed or canceled; an incident also not resolved (_records.OPEN_INCIDENT_STATES)."""
    if kind == INCIDENT:
        return "r.state IN (" + ", ".join(f"'{state}'" for state in records.OPEN_INCIDENT_STATES) + ")"
    return "r.state NOT IN (" + ", ".join(f"'{state}'" for state in records.CLOSED_CHANGE_STATES) + ")"


def row_from_record(kind: str, record: Row) -> Row:
    """A row made from a record that was never stored (check mode), to plan further changes on."""
    row = {name: record.get(name) for name in columns(kind)}
    row.update(fields=dict(record.get("fields") or {}), approval_round=0,
               reopen_count=record.get("reopen_count") or 0)
    if kind == CHANGE:
        row["configuration_items"] = list(record.get("configuration_items") or [])
    return row


def note_events(notes: list[tuple[str, str]]) -> list[Row]:
    return [{"type": "note", "field": field, "text": text} for field, text in notes]


# -- caller input ----------------------------------------------------------------------------------

NOTE_FIELDS = ("work_notes", "comments")
# A template makes standard changes, and a correlation id shared by all its changes would merge them.
TEMPLATE_FIELDS = tuple(name for name in CHANGE_WRITABLE if name not in ("type", "correlation_id"))
_CHOICES: dict[str, dict[str, t.Sequence[str]]] = {
    CHANGE: {"type": records.CHANGE_TYPES, "risk": records.RISKS, "impact": records.LEVELS,
             "close_code": records.CHANGE_CLOSE_CODES},
    INCIDENT: {"impact": records.LEVELS, "urgency": records.LEVELS, "close_code": records.INCIDENT_CLOSE_CODES,
               "hold_reason": records.HOLD_REASONS},
}
_INPUT_EXTRAS = {CHANGE: ("configuration_items", "fields") + NOTE_FIELDS, INCIDENT: ("fields",) + NOTE_FIELDS}


@dataclasses.dataclass
class Input:
    """Caller's fields, validated and sorted by where they go."""

    values: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    extras: dict[str, t.Any] | None = None
    notes: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    cis: list[str] | None = None
    template: str | None = None


def parse_input(kind: str, fields: t.Mapping[str, t.Any], creating: bool = False,
                allowed: tuple[str, ...] | None = None) -> Input:
    """Validate the caller's fields (names, choices, dates) and sort them into an Input."""
    if allowed is None:
        allowed = _WRITABLE[kind] + _INPUT_EXTRAS[kind] + (("template",) if creating and kind == CHANGE else ())
    parsed = Input()
    for key, value in fields.items():
        if key not in allowed:
            raise ItsmValidationError(key, value, f"not a field of {kind}s that can be set here; expected one "
                                      "of: " + ", ".join(allowed))
        if key in NOTE_FIELDS:
            parsed.notes.extend([(key, require_text(key, value))] if value else [])
        elif key == "fields":
            json_extras(value)
            parsed.extras = dict(value)
        elif key == "configuration_items":
            parsed.cis = ci_names(value)
        elif key == "template":
            parsed.template = require_text("template", value)
        else:
            parsed.values[key] = _clean(kind, key, value)
    return parsed


def _clean(kind: str, key: str, value: t.Any) -> t.Any:
    if value is None or value == "":
        return None
    if key in records.DATE_FIELDS:
        return records.normalise_datetime(value, key)
    if key in _CHOICES[kind]:
        return records.require_choice(key, value, _CHOICES[kind][key])
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ItsmValidationError(key, value, "expected text")
    return str(value)


# -- values --------------------------------------------------------------------------------------

def require_text(option: str, value: t.Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ItsmValidationError(option, value, "expected non-empty text")
    return value


def ci_names(names: t.Any) -> list[str]:
    names = [names] if isinstance(names, str) else list(names or [])
    return sorted({require_text("configuration_items", name).strip() for name in names})


def json_extras(value: t.Any) -> str:
    if not isinstance(value, t.Mapping):
        raise ItsmValidationError("fields", value, "expected a dict of backend-specific extras")
    try:
        return json.dumps(dict(value), sort_keys=True)
    except (TypeError, ValueError):
        raise ItsmValidationError("fields", value, "expected values that JSON can hold (text, numbers, "
                                  "booleans, lists, dicts)") from None


def window(start: t.Any, end: t.Any, start_option: str, end_option: str) -> tuple[str, str]:
    start = records.normalise_datetime(start, start_option)
    end = records.normalise_datetime(end, end_option)
    if start is None or end is None:
        missing = start_option if start is None else end_option
        raise ItsmValidationError(missing, None, "expected an ISO 8601 date and time with a timezone")
    if end < start:
        raise ItsmValidationError(end_option, end, f"the end must not be before {start_option} {start}")
    return start, end


def now() -> str:
    return records.format_datetime(records.utcnow())


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"
