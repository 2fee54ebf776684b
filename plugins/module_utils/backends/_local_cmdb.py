# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMDB reads and writes of the local backend (tables ``cis`` and ``ci_relations``). FOR INTERNAL COLLECTION USE ONLY.

A CI's ``id`` is its name (the table's key): paging is keyset on it, so a CI rewritten during a read
neither moves nor appears twice. ``ci_class`` is matched exactly (the store has no class tree). Field
values live in one JSON object; a dotted field walks nested objects (``location.country`` reads
``{"location": {"country": ...}}``) or takes a key spelt with the dot.
"""

from __future__ import annotations

import json
import sqlite3
import typing as t

from .. import _cmdb as cmdb
from .._errors import ItsmNotFoundError, ItsmValidationError

# Few enough for SQLite's smallest variable limit (999); longer name lists are filtered in Python.
_IN_LIMIT = 500


def walk(ci: t.Mapping[str, t.Any], field: str) -> t.Any:
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


class Plan:
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


def relations(conn: sqlite3.Connection, names: t.Sequence[str], types: t.Sequence[str] | None,
              depth: int) -> list[dict[str, t.Any]]:
    """A local CI's id is its name, so an edge's target id and target name are the same."""
    return cmdb.walk_relations(names, depth, lambda sources: [(source, kind, target, target) for source, kind, target
                                                              in _edges(conn, sources, types)])


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


def put_relations(conn: sqlite3.Connection | None, name: str, wanted: list[tuple[str, str]], check_mode: bool) -> bool:
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
