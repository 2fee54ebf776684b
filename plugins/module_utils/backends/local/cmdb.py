# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMDB of the local backend (tables ``cis`` and ``ci_relations``). FOR INTERNAL COLLECTION USE ONLY.

A CI's ``id`` is its name (the table's key): paging is keyset on it, so a CI rewritten during a read
neither moves nor appears twice. ``ci_class`` is matched exactly (the store has no class tree). Field
values live in one JSON object; a dotted field walks nested objects (``location.country`` reads
``{"location": {"country": ...}}``) or takes a key spelt with the dot. Any relationship type and any
target name are taken (the inventory groups by them); only the shape is checked.
"""

from __future__ import annotations

import json
import sqlite3
import typing as t

from ... import _cmdb as cmdb
from ... import _input as inputs
from ..._errors import ItsmNotFoundError, ItsmValidationError
from .._base import CiRelations
from .schema import Record
from .store import LocalStore

# Few enough for SQLite's smallest variable limit (999); longer name lists are filtered in Python.
_IN_LIMIT = 500


def walk(ci: t.Mapping[str, t.Any], field: str) -> t.Any:
    """The value of ``field`` in a CI: a top-level key, a key of ``fields`` (dots and all), or a dot-walk."""
    if field in cmdb.TOP_LEVEL:
        return ci.get(field)
    value: t.Any = ci.get("fields") or {}
    if field in value:
        return value[field]
    for part in field.split("."):
        if not isinstance(value, t.Mapping):
            return None
        value = value.get(part)
    return value


class CiQuery:
    """One CMDB read: SQL for what SQLite can filter, Python for the rest, and the projection."""

    def __init__(self, ci_class: str | None, fields: t.Sequence[str] | None, filters: t.Mapping[str, t.Any] | None,
                 query: str | None):
        self.fields = None if fields is None else [field for field in fields if field not in cmdb.TOP_LEVEL]
        self.terms = cmdb.parse_query(query)
        self.clauses: list[str] = []
        self.params: list[t.Any] = []
        self.rest: dict[str, t.Any] = {}
        if ci_class:
            self._column("ci_class", ci_class)
        for key, value in (filters or {}).items():
            if not isinstance(key, str) or not key:
                raise ItsmValidationError("filters", key, "expected field names as keys")
            if key in ("name", "ci_class"):
                self._column(key, value)
            elif key == "id":  # filtered in Python under its own key when long, so a long name filter stays
                self._column("name", value, key)
            else:
                self.rest[key] = list(value) if isinstance(value, (list, tuple)) else value

    def _column(self, column: str, value: t.Any, field: str | None = None) -> None:
        values = [str(item) for item in value] if isinstance(value, (list, tuple, set)) else [str(value)]
        if len(values) > _IN_LIMIT:
            self.rest[field or column] = values
            return
        self.clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        self.params.extend(values)

    def page(self, conn: sqlite3.Connection, after: str, size: int) -> list[sqlite3.Row]:
        where = " AND ".join(self.clauses + ["name > ?"])
        return conn.execute(f"SELECT name, ci_class, fields FROM cis WHERE {where} ORDER BY name LIMIT ?",
                            self.params + [after, size]).fetchall()

    def items(self, rows: t.Iterable[sqlite3.Row]) -> t.Iterator[dict[str, t.Any]]:
        for row in rows:
            ci = {"id": row[0], "name": row[0], "ci_class": row[1], "fields": json.loads(row[2])}
            if (self.rest or self.terms) and not cmdb.matches(ci, self.terms, self.rest, get=walk):
                continue
            if self.fields is not None:
                ci["fields"] = {field: walk(ci, field) for field in self.fields}
            yield ci


# -- the CMDB contract (_base.iter_cmdb, ci_relations, put_ci, put_ci_relations) ---------------------------

def iter_cmdb(store: LocalStore, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
              filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
              page_size: int = 1000) -> t.Iterator[Record]:
    """Keyset pages ordered by name (a local CI's id)."""
    return _cmdb_pages(store, CiQuery(ci_class, fields, filters, query), max(1, int(page_size)))


def _cmdb_pages(store: LocalStore, ci_query: CiQuery, size: int) -> t.Iterator[Record]:
    after = ""
    while True:
        with store.read() as conn:
            rows = ci_query.page(conn, after, size) if conn else []
        yield from ci_query.items(rows)
        if len(rows) < size:
            return
        after = rows[-1][0]


def ci_relations(store: LocalStore, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                 depth: int = 1) -> t.Iterator[Record]:
    """A local CI's id is its name, so an edge's target id and target name are the same."""
    with store.read() as conn:
        found = cmdb.walk_relations(list(ids), depth, lambda sources: [
            (source, kind, target, target) for source, kind, target in _edges(conn, sources, types)]) if conn else []
    return iter(found)


def _edges(conn: sqlite3.Connection, sources: list[str], types: t.Sequence[str] | None) -> list[tuple[str, str, str]]:
    edges: list[tuple[str, str, str]] = []
    kinds = list(types or [])
    for start in range(0, len(sources), _IN_LIMIT):
        chunk = sources[start:start + _IN_LIMIT]
        sql = f"SELECT source, type, target FROM ci_relations WHERE source IN ({', '.join('?' * len(chunk))})"
        if kinds:
            sql += f" AND type IN ({', '.join('?' * len(kinds))})"
        edges.extend(tuple(row) for row in conn.execute(sql + " ORDER BY source, type, target", chunk + kinds))
    return edges


def put_ci(store: LocalStore, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
           check_mode: bool = False) -> bool:
    if ci_class is not None:
        inputs.require_text("ci_class", ci_class)
    # A field given as None is one to remove: the store keeps no empty keys.
    kept = {key: value for key, value in fields.items() if value is not None}
    return upsert_ci(store, name, ci_class, kept, check_mode=check_mode)


def put_ci_relations(store: LocalStore, name: str, relations: CiRelations, check_mode: bool = False) -> bool:
    """Make the checked ``relations`` exactly the relationships leaving ``name``; True when something changed."""
    with store.write(check_mode) as conn:
        return _put_relations(conn, inputs.require_text("name", name), relations.wanted, check_mode)


def _put_relations(conn: sqlite3.Connection | None, name: str, wanted: list[tuple[str, str]],
                   check_mode: bool) -> bool:
    if conn is None or conn.execute("SELECT 1 FROM cis WHERE name = ?", (name,)).fetchone() is None:
        if check_mode:  # the CI a check-mode task would have created: every relationship is new
            return bool(wanted)
        raise ItsmNotFoundError(f"name: no CI named {name!r} in the local CMDB", option="name", value=name)
    current = sorted(tuple(row) for row in conn.execute(
        "SELECT type, target FROM ci_relations WHERE source = ?", (name,))) if conn else []
    if current == wanted:
        return False
    if not check_mode:
        conn.execute("DELETE FROM ci_relations WHERE source = ?", (name,))
        conn.executemany("INSERT INTO ci_relations (source, type, target) VALUES (?, ?, ?)",
                         [(name, kind, target) for kind, target in wanted])
    return True


# -- the CI table as the local backend's own extra (upsert_ci, iter_cis) ------------------------------------

def upsert_ci(store: LocalStore, name: str, ci_class: str | None = None, fields: t.Mapping[str, t.Any] | None = None,
              check_mode: bool = False) -> bool:
    """Create or replace a configuration item; True when something changed."""
    encoded = inputs.json_extras(fields or {})
    return store.put_row("SELECT name, ci_class, fields FROM cis WHERE name = ?",
                         "INSERT OR REPLACE INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, ?, ?)",
                         (inputs.require_text("name", name), ci_class, encoded), check_mode, inputs.now())


def iter_cis(store: LocalStore, filters: t.Mapping[str, t.Any] | None = None) -> t.Iterator[Record]:
    """``{name, ci_class, fields}`` by name; filters ``name`` and ``ci_class`` (a value or a list)."""
    clauses, params = [], []
    for key, value in (filters or {}).items():
        if key not in ("name", "ci_class"):
            raise ItsmValidationError("filters", key, "expected one of: name, ci_class")
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{key} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    return _ci_pages(store, clauses, params)


def _ci_pages(store: LocalStore, clauses: list[str], params: list[t.Any]) -> t.Iterator[Record]:
    after = ""
    while True:
        size = store.page_size
        where = " AND ".join(clauses + ["name > ?"])
        with store.read() as conn:
            rows = conn.execute(f"SELECT name, ci_class, fields FROM cis WHERE {where} ORDER BY name "
                                f"LIMIT {size}", params + [after]).fetchall() if conn else []
        yield from ({"name": row["name"], "ci_class": row["ci_class"], "fields": json.loads(row["fields"])}
                    for row in rows)
        if len(rows) < size:
            return
        after = rows[-1]["name"]
