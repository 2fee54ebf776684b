# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store's tables, migrations, row codec and audit entries. FOR INTERNAL COLLECTION USE ONLY.

Functions of an open connection (SQLite or PostgreSQL), no state: what the tables are, how a record is stored
in and read back from its row, and how its audit trail is written. One SQL for both databases: what SQLite 3.24
understands (no RETURNING, no JSON functions), so the store works with the SQLite of every controller Python;
the few words that differ (key column, text and binary types, string aggregation, catalogue, triggers) come
from the connection's dialect (dialect.py).
"""

from __future__ import annotations

import json
import typing as t

from ... import _pipeline as pipeline
from ... import _records as records
from ..._local_db import OUTBOX_TABLE
from ..._records import CHANGE, INCIDENT, PROBLEM
from .dialect import Connection, Dialect, of_connection

Row = dict[str, t.Any]
Record = dict[str, t.Any]

#: the value of the ``backend`` option that selects the local backend, as its records carry it
NAME = "local"
TABLES = {CHANGE: "changes", INCIDENT: "incidents", PROBLEM: "problems"}
PREFIXES = records.NUMBER_PREFIXES
NUMBER_DIGITS = 7
STATES = records.STATES
OUTPUT_FIELDS = records.OUTPUT_FIELDS

# The columns of a record table come from these lists: one TEXT column per canonical writable field
# (_records), plus the read-only ones. ``fields`` is the JSON object of backend-specific extras;
# ``approval_round`` counts approval requests (internal, never returned).
_COMMON = ("id", "number", "state", "active", "opened_at", "updated_at", "closed_at")
_OWN = {CHANGE: ("approval", "template", "approval_round"), INCIDENT: ("priority", "reopen_count"),
        PROBLEM: ("priority",)}
_WRITABLE = records.WRITABLE
# ``TEXT`` stands for the dialect's text type.
_DECLARATIONS = {
    "id": "TEXT NOT NULL UNIQUE", "number": "TEXT NOT NULL UNIQUE", "state": "TEXT NOT NULL",
    "active": "INTEGER NOT NULL", "opened_at": "TEXT NOT NULL", "updated_at": "TEXT NOT NULL",
    "approval_round": "INTEGER NOT NULL DEFAULT 0", "reopen_count": "INTEGER NOT NULL DEFAULT 0",
    "fields": "TEXT NOT NULL DEFAULT '{}'",
}
_CI_SEPARATOR = "\x1f"


# Extras (``fields`` keys) kept in columns of their own, so SQL can read them: a change's CI pipeline (issue 19,
# _pipeline.extras). A row read back has them in ``fields`` (its own key None), as any other extra.
STORED_EXTRAS = {CHANGE: tuple(pipeline.EXTRA_PREFIX + key for key in pipeline.KEYS)}


def columns(kind: str) -> tuple[str, ...]:
    return _COMMON + _OWN[kind] + _WRITABLE[kind] + STORED_EXTRAS.get(kind, ()) + ("fields",)


# -- migrations ----------------------------------------------------------------------------------

def _ddl(dialect: Dialect, statement: str) -> str:
    """A statement of the migrations in ``dialect``: ``seq KEY`` is the row key column, ``TEXT`` and ``BLOB`` the
    dialect's types."""
    return (statement.replace("seq KEY,", f"seq {dialect.key_column},").replace("TEXT", dialect.text)
            .replace("BLOB", dialect.blob))


def _run(conn: Connection, statements: t.Iterable[str]) -> None:
    # One by one: executescript() would COMMIT the migration's transaction half-way.
    dialect = of_connection(conn)
    for statement in statements:
        conn.execute(_ddl(dialect, statement))


def _record_table(conn: Connection, kind: str) -> None:
    """The table of one kind of record (its columns as of now: later writable fields are added by migrate), with
    its number counter."""
    table = TABLES[kind]
    declared = ", ".join(f"{name} {_DECLARATIONS.get(name, 'TEXT')}" for name in columns(kind))
    _run(conn, (f"CREATE TABLE {table} (seq KEY, {declared})",
                f"CREATE INDEX {table}_correlation ON {table} (correlation_id)",
                f"CREATE INDEX {table}_state ON {table} (state)"))
    conn.execute("INSERT INTO counters (name, value) VALUES (?, 0)", (PREFIXES[kind],))


def _v1(conn: Connection) -> None:
    dialect = of_connection(conn)
    _run(conn, _V1_STATEMENTS)
    for kind in (CHANGE, INCIDENT):
        _record_table(conn, kind)
    # The audit trail is append-only: the database itself refuses to rewrite history.
    for statement in dialect.append_only("journal", "journal is") + dialect.append_only("approvals", "approvals are"):
        conn.execute(statement)


_V1_STATEMENTS = (
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE journal (seq KEY, kind TEXT NOT NULL, record_id TEXT NOT NULL, "
    "type TEXT NOT NULL, field TEXT, old_value TEXT, new_value TEXT, text TEXT, author TEXT NOT NULL, "
    "created TEXT NOT NULL)",
    "CREATE INDEX journal_record ON journal (kind, record_id, seq)",
    "CREATE TABLE approvals (seq KEY, change_id TEXT NOT NULL, approver TEXT NOT NULL, "
    "state TEXT NOT NULL, comments TEXT, stage TEXT NOT NULL, round INTEGER NOT NULL, decided_at TEXT NOT NULL)",
    "CREATE INDEX approvals_change ON approvals (change_id, seq)",
    "CREATE TABLE affected_cis (change_id TEXT NOT NULL, ci_name TEXT NOT NULL, PRIMARY KEY (change_id, ci_name))",
    "CREATE INDEX affected_cis_name ON affected_cis (ci_name)",
    "CREATE TABLE cis (name TEXT PRIMARY KEY, ci_class TEXT, fields TEXT NOT NULL DEFAULT '{}', "
    "updated_at TEXT NOT NULL)",
    "CREATE TABLE blackouts (name TEXT PRIMARY KEY, start_at TEXT NOT NULL, end_at TEXT NOT NULL, reason TEXT)",
    "CREATE TABLE templates (name TEXT PRIMARY KEY, fields TEXT NOT NULL, updated_at TEXT NOT NULL)",
)


def _v2(conn: Connection) -> None:
    """CMDB relationships (``source`` -- ``type`` --> ``target``, by CI name) for the inventory's relation groups."""
    _run(conn, ("CREATE TABLE ci_relations (source TEXT NOT NULL, type TEXT NOT NULL, target TEXT NOT NULL, "
                "PRIMARY KEY (source, type, target))",
                "CREATE INDEX ci_relations_target ON ci_relations (target)"))


def _v3(conn: Connection) -> None:
    """Attachments of changes and incidents: the file's bytes in the store, found by record and name."""
    _run(conn, ("CREATE TABLE attachments (seq KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
                "record_id TEXT NOT NULL, name TEXT NOT NULL, content_type TEXT, size INTEGER NOT NULL, "
                "sha256 TEXT NOT NULL, content BLOB NOT NULL, created TEXT NOT NULL)",
                "CREATE INDEX attachments_record ON attachments (kind, record_id, name)"))


def _v4(conn: Connection) -> None:
    """Problems (issue 19), numbered PRB0000001; an incident names its problem in its ``problem`` column (added with
    the incidents' columns), indexed to list a problem's incidents."""
    _record_table(conn, PROBLEM)
    dialect = of_connection(conn)
    if "problem" not in dialect.column_names(conn, TABLES[INCIDENT]):
        conn.execute(f"ALTER TABLE {TABLES[INCIDENT]} ADD COLUMN problem {dialect.text}")
    conn.execute(f"CREATE INDEX {TABLES[INCIDENT]}_problem ON {TABLES[INCIDENT]} (problem)")


# Ordered: MIGRATIONS[n - 1] takes a store from version n - 1 to n, on either database (the connection's dialect).
# A version 5 is one more function.
MIGRATIONS: tuple[t.Callable[[Connection], None], ...] = (_v1, _v2, _v3, _v4)
SCHEMA_VERSION = len(MIGRATIONS)


def stored_version(conn: Connection) -> int | None:
    """The store's schema version; 0 for an empty database (schema, on PostgreSQL), None for someone else's."""
    names = of_connection(conn).table_names(conn) - {OUTBOX_TABLE}  # the outbox may share the URL (_local_db)
    if "schema_version" in names:
        return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    return 0 if not names else None


def missing_columns(conn: Connection) -> list[tuple[str, str]]:
    """Writable fields added to _records after the store was created (added as plain TEXT columns)."""
    missing = []
    for kind, table in TABLES.items():
        present = of_connection(conn).column_names(conn, table)
        missing.extend((table, name) for name in columns(kind) if name not in present)
    return missing


# -- rows ----------------------------------------------------------------------------------------

def select_sql(kind: str, dialect: Dialect) -> str:
    """SELECT of whole records; a change's affected CIs come in the same statement (no query per record)."""
    selected = ", ".join(f"r.{name}" for name in columns(kind))
    if kind == CHANGE:
        selected += (f", (SELECT {dialect.string_agg('a.ci_name')} FROM affected_cis AS a "
                     "WHERE a.change_id = r.id) AS configuration_items")
    return f"SELECT r.seq, {selected} FROM {TABLES[kind]} AS r"


def select_rows(conn: Connection, kind: str, clauses: list[str], params: list[t.Any],
                limit: int | None = None) -> list[Row]:
    """The decoded rows matching ``clauses`` (on the alias ``r``), oldest first."""
    sql = select_sql(kind, of_connection(conn)) + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY r.seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [decode_row(kind, row) for row in conn.execute(sql, params)]


def count_rows(conn: Connection, kind: str, clauses: list[str], params: list[t.Any]) -> int:
    """How many records match ``clauses`` (as query.translate_filters gives them, on the alias ``r``)."""
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return conn.execute(f"SELECT COUNT(*) FROM {TABLES[kind]} AS r{where}", params).fetchone()[0]


def decode_row(kind: str, row: t.Any) -> Row:
    decoded = {name: row[name] for name in ("seq",) + columns(kind)}
    decoded["active"] = bool(decoded["active"])
    decoded["fields"] = json.loads(decoded["fields"] or "{}")
    for name in STORED_EXTRAS.get(kind, ()):
        value, decoded[name] = decoded[name], None
        if value is not None:
            decoded["fields"][name] = value
    if kind == CHANGE:
        joined = row["configuration_items"]
        decoded["configuration_items"] = sorted(joined.split(_CI_SEPARATOR)) if joined else []
    return decoded


def record_of(kind: str, row: Row) -> Record:
    """The canonical record of a row (stored, or predicted in check mode: then without number and url)."""
    record = {name: row.get(name) for name in OUTPUT_FIELDS[kind]}
    record["backend"] = NAME
    record["url"] = f"local://{TABLES[kind]}/{row['number']}" if row.get("number") else None
    record["fields"] = dict(row.get("fields") or {})
    return record


def row_from_record(kind: str, record: Row) -> Row:
    """A row made from a record that was never stored (check mode), to plan further changes on."""
    row = {name: record.get(name) for name in columns(kind)}
    row.update(fields=dict(record.get("fields") or {}), approval_round=0,
               reopen_count=record.get("reopen_count") or 0)
    if kind == CHANGE:
        row["configuration_items"] = list(record.get("configuration_items") or [])
    return row


def _encode(name: str, value: t.Any) -> t.Any:
    if name == "fields":
        return json.dumps(value or {}, sort_keys=True)
    if name == "active":
        return int(bool(value))
    return value


def _stored(kind: str, row: Row) -> Row:
    """``row`` as stored: the extras that have columns of their own (STORED_EXTRAS) taken out of ``fields``."""
    if "fields" not in row or not STORED_EXTRAS.get(kind):
        return row
    extras = dict(row["fields"] or {})
    return dict(row, fields=extras, **{name: extras.pop(name, None) for name in STORED_EXTRAS[kind]})


def insert_row(conn: Connection, kind: str, row: Row) -> None:
    row = _stored(kind, row)
    names = [name for name in columns(kind) if name in row]
    conn.execute(f"INSERT INTO {TABLES[kind]} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                 [_encode(name, row[name]) for name in names])


def update_row(conn: Connection, kind: str, record_id: str, changes: Row) -> None:
    changes = _stored(kind, changes)
    names = [name for name in columns(kind) if name in changes]
    if names:
        assignments = ", ".join(f"{name} = ?" for name in names)
        conn.execute(f"UPDATE {TABLES[kind]} SET {assignments} WHERE id = ?",
                     [_encode(name, changes[name]) for name in names] + [record_id])


def upsert_sql(table: str, names: t.Sequence[str]) -> str:
    """INSERT of ``names`` that replaces the row with the same first column (the key): one SQL for both databases."""
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT ({names[0]}) DO UPDATE SET {updates}")


def replace_cis(conn: Connection, change_id: str, names: t.Iterable[str]) -> None:
    conn.execute("DELETE FROM affected_cis WHERE change_id = ?", (change_id,))
    conn.executemany("INSERT INTO affected_cis (change_id, ci_name) VALUES (?, ?)",
                     [(change_id, name) for name in names])


def next_number(conn: Connection, kind: str) -> str:
    """The next number, inside the caller's write transaction: unique, and gapless because a rollback undoes it."""
    prefix = PREFIXES[kind]
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (prefix,))
    value = conn.execute("SELECT value FROM counters WHERE name = ?", (prefix,)).fetchone()[0]
    return f"{prefix}{value:0{NUMBER_DIGITS}d}"


# -- audit entries -------------------------------------------------------------------------------

def add_events(conn: Connection, kind: str, record_id: str, author: str, created: str,
               events: t.Iterable[Row]) -> None:
    """Append audit entries ``{type, field, old, new, text}``; values are stored as JSON."""
    conn.executemany(
        "INSERT INTO journal (kind, record_id, type, field, old_value, new_value, text, author, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(kind, record_id, event["type"], event.get("field"), _json_or_none(event, "old"),
          _json_or_none(event, "new"), event.get("text"), author, created) for event in events],
    )


def read_events(conn: Connection, kind: str, record_id: str, types: t.Sequence[str] | None) -> list[Row]:
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


def read_notes(conn: Connection, kind: str, record_ids: list[str]) -> list[Row]:
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


def note_events(notes: list[tuple[str, str]]) -> list[Row]:
    return [{"type": "note", "field": field, "text": text} for field, text in notes]
