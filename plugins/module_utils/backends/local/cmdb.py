# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMDB of the local backend (tables ``cis`` and ``ci_relations``). FOR INTERNAL COLLECTION USE ONLY.

A CI's ``id`` is its name (the table's key): paging is keyset on it, so a CI rewritten during a read
neither moves nor appears twice. ``ci_class`` is stored as _input.ci_class makes it (``linux_server`` also
for ``cmdb_ci_linux_server``) and matched exactly, or in the table form an older store may hold (the store
has no class tree); a CI keeps its class. Field
values live in one JSON object; a dotted field walks nested objects (``location.country`` reads
``{"location": {"country": ...}}``) or takes a key spelt with the dot.

What ServiceNow refuses, this store refuses too, with the same words, before it writes (issue 16): a
relationship type that is not one of RELATION_TYPES (the parent descriptors of ServiceNow's base system,
the store's own fixed list), a relationship to a CI the store does not have, and an incident naming such a
CI (require_cis).
"""

from __future__ import annotations

import json
import typing as t

from ... import _cmdb as cmdb
from ... import _input as inputs
from ..._errors import ItsmValidationError
from .._base import CiRelations
from . import schema
from .dialect import Connection
from .schema import NAME, Record
from .store import LocalStore

# Few enough for SQLite's smallest variable limit (999); longer name lists are filtered in Python.
_IN_LIMIT = 500
_UPSERT_CI = schema.upsert_sql("cis", ("name", "ci_class", "fields", "updated_at"))

#: The relationship types the store knows, by parent descriptor (as a task names them): those of ServiceNow's
#: base system (``cmdb_rel_type``), so a relationship the store takes, an instance takes too (issue 16, D7).
RELATION_TYPES = frozenset({
    "Allocated to", "Backed up by", "Cluster of", "Connects to", "Contains", "Controls", "Cools",
    "Defines resources for", "Depends on", "Exchanges data with", "Feeds", "Hosted on",
    "Implement End Point To", "Instantiates", "IP Connection", "Located in", "Managed by", "Manages", "Members",
    "Owns", "Powers", "Provides", "Receives data from", "Registered on", "Runs", "Runs on", "Sends data to",
    "Serves", "Subscribes to", "Use End Point To", "Uses", "Virtualized by", "Virtualizes",
})


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
            self._column("ci_class", _stored_classes(inputs.ci_class(ci_class)))
        for key, value in inputs.cmdb_filters(filters).items():
            if key == "ci_class":
                self._column(key, _stored_classes(value))
            elif key == "name":
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

    def page(self, conn: Connection, after: str, size: int) -> list[t.Any]:
        where = " AND ".join(self.clauses + ["name > ?"])
        return conn.execute(f"SELECT name, ci_class, fields FROM cis WHERE {where} ORDER BY name LIMIT ?",
                            self.params + [after, size]).fetchall()

    def items(self, rows: t.Iterable[t.Any]) -> t.Iterator[dict[str, t.Any]]:
        for row in rows:
            ci = {"id": row[0], "name": row[0], "ci_class": row[1], "fields": json.loads(row[2])}
            if (self.rest or self.terms) and not cmdb.matches(ci, self.terms, self.rest, get=walk):
                continue
            if self.fields is not None:
                ci["fields"] = {field: walk(ci, field) for field in self.fields}
            yield ci


def _stored_classes(classes: t.Any) -> list[str]:
    """The values a class filter matches: each canonical class, and its table form, which stores written before
    classes were made canonical (issue 16) may hold."""
    listed = classes if isinstance(classes, (list, tuple, set)) else [classes]
    return [form for canonical in listed for form in dict.fromkeys(
        (canonical, canonical if canonical.startswith("cmdb_") else inputs.CI_TABLE_PREFIX + canonical))]


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
    types = [inputs.relation_type("relations.types", kind) for kind in types or []]
    with store.read() as conn:
        found = cmdb.walk_relations(list(ids), depth, lambda sources: [
            (source, kind, target, target) for source, kind, target in _edges(conn, sources, types)]) if conn else []
    return iter(found)


def _edges(conn: Connection, sources: list[str], types: t.Sequence[str] | None) -> list[tuple[str, str, str]]:
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
    """Create the CI or set its fields (a None value removes one); a CI keeps its class (issue 16, D6): a class
    given for an existing CI must be the one it has (None keeps it)."""
    name = inputs.ci_name(name)
    wanted_class = None if ci_class is None else inputs.ci_class(ci_class)
    # A field given as None is one to remove: the store keeps no empty keys.
    encoded = inputs.json_extras({key: value for key, value in fields.items() if value is not None})
    with store.write(check_mode) as conn:
        row = conn.execute("SELECT name, ci_class, fields FROM cis WHERE name = ?",
                           (name,)).fetchone() if conn else None
        same_class = row is not None and (wanted_class is None or row["ci_class"] in _stored_classes(wanted_class))
        if row is not None and not same_class:
            raise inputs.class_kept(NAME, name, row["ci_class"], ci_class)
        kept_class = row["ci_class"] if same_class else wanted_class
        wanted = (name, kept_class, encoded)
        if row is not None and tuple(row) == wanted:
            return False
        if not check_mode:
            conn.execute(_UPSERT_CI,
                         wanted + (inputs.now(),))
        return True


def resolve_ci_relations(store: LocalStore, name: str, relations: t.Any) -> CiRelations:
    """``relations`` checked as put_ci_relations will write them, without writing (see _base)."""
    wanted = inputs.relation_list(relations)
    with store.read() as conn:
        require_relations(store, conn, inputs.ci_name(name), wanted)
    return CiRelations(wanted)


def put_ci_relations(store: LocalStore, name: str, relations: CiRelations, check_mode: bool = False) -> bool:
    """Make the checked ``relations`` exactly the relationships leaving ``name``; True when something changed.
    The types and targets are checked again in the write's transaction, before it writes."""
    with store.write(check_mode) as conn:
        return _put_relations(store, conn, inputs.ci_name(name), relations.wanted, check_mode)


def require_relations(store: LocalStore, conn: Connection | None, name: str,
                      wanted: list[tuple[str, str]]) -> None:
    """Refuse, as ServiceNow does, a relationship to add (one ``name`` does not have yet) whose type is not one of
    RELATION_TYPES or whose target is a CI the store does not have."""
    have = set(_relations_of(conn, name))
    added = [relation for relation in wanted if relation not in have]
    for kind in sorted({kind for kind, _target in added}):
        if kind not in RELATION_TYPES:
            raise inputs.unknown_relation_type(store.where, kind)
    require_cis(store, conn, "relations", [target for _kind, target in added])


def require_cis(store: LocalStore, conn: Connection | None, option: str, names: t.Sequence[str]) -> None:
    """Refuse, naming ``option``, the first of ``names`` that is no CI of the store (read on ``conn``)."""
    known: set[str] = set()
    wanted = list(dict.fromkeys(names))
    for start in range(0, len(wanted), _IN_LIMIT) if conn else ():
        chunk = wanted[start:start + _IN_LIMIT]
        known.update(row[0] for row in conn.execute(
            f"SELECT name FROM cis WHERE name IN ({', '.join('?' * len(chunk))})", chunk))
    for ci_name in wanted:
        if ci_name not in known:
            raise inputs.unknown_name(option, store.where, "configuration item", ci_name)


def _relations_of(conn: Connection | None, name: str) -> list[tuple[str, str]]:
    return sorted(tuple(row) for row in conn.execute(
        "SELECT type, target FROM ci_relations WHERE source = ?", (name,))) if conn else []


def _put_relations(store: LocalStore, conn: Connection | None, name: str, wanted: list[tuple[str, str]],
                   check_mode: bool) -> bool:
    exists = conn is not None and conn.execute("SELECT 1 FROM cis WHERE name = ?", (name,)).fetchone() is not None
    if not exists and not check_mode:
        raise inputs.unknown_name("name", store.where, "configuration item", name)
    require_relations(store, conn, name, wanted)
    if not exists:  # the CI a check-mode task would have created: every relationship is new
        return bool(wanted)
    current = _relations_of(conn, name)
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
    """Create or replace a configuration item, its class included; True when something changed."""
    encoded = inputs.json_extras(fields or {})
    wanted_class = None if ci_class is None else inputs.ci_class(ci_class)
    return store.put_row("SELECT name, ci_class, fields FROM cis WHERE name = ?",
                         _UPSERT_CI,
                         (inputs.ci_name(name), wanted_class, encoded), check_mode, inputs.now())


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
