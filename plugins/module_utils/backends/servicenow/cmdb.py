# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMDB reads and writes of the servicenow backend (``cmdb_ci*``, ``cmdb_rel_ci``). FOR INTERNAL COLLECTION USE ONLY.

- A canonical class is the CI table without ``cmdb_ci_`` (``linux_server`` <-> ``cmdb_ci_linux_server``); a
  name that starts with ``cmdb_`` is taken as a table. Reading a class reads its table, children included.
- ``environment``, ``operational_status`` and ``install_status`` read and filter by canonical words
  (``production``, ``operational``, ``installed``); other values are the instance's own, as strings, an
  empty value None. A reference reads as its sys_id; dot-walk it (``location.name``) for the name.
- Pages are ordered by sys_id and read by offset: the first page tells the total, the others are fetched
  by a bounded pool (_cmdb.ordered_pages), so N CIs cost ceil(N / page size) requests. An item at or before
  the last one yielded is dropped, so a CI inserted during the read is never returned twice.
- Relationships are the ``cmdb_rel_ci`` rows whose parent is the CI, named by their type's parent
  descriptor (``Runs on::Runs`` -> ``Runs on``), read for up to 100 CIs per GET, 20 GETs per Batch request.
  resolve_ci_relations looks up the types and targets to add before the CI is written (one Batch request),
  and put_ci_relations writes with what it found.
"""

from __future__ import annotations

import heapq
import re
import typing as t

from ... import _cmdb as cmdb
from ... import _input as inputs
from ..._errors import ItsmConflictError, ItsmNotFoundError, ItsmValidationError
from ..._http import ItsmHttpError, Response
from .._base import CiRelations
from . import query
from .client import TABLE_API, ServiceNowClient, url
from .mapping import BACKEND_NAME, CI_CHOICES, CI_REFERENCES
from .names import Names

Record = dict[str, t.Any]
_READ = {field: {raw: word for word, raw in table.items()} for field, table in CI_CHOICES.items()}
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_IDENTITY = ("sys_id", "name", "sys_class_name")
_NAMES_PER_QUERY = 100
_CALLS_PER_BATCH = 20
_RELATION_LIMIT = 10000
_RELATION_FIELDS = "sys_id,parent,child,child.name,type.parent_descriptor"


# -- values ----------------------------------------------------------------------------------------

def table_of(ci_class: str | None, option: str = "ci_class") -> str:
    """The table of a class as _input.ci_class takes it (linux_server, cmdb_ci_linux_server or cmdb_ci)."""
    if not ci_class:
        return "cmdb_ci"
    canonical = inputs.ci_class(ci_class, option)
    return canonical if canonical.startswith("cmdb_") else inputs.CI_TABLE_PREFIX + canonical


def canonical_class(table: str) -> str:
    return table[len(inputs.CI_TABLE_PREFIX):] if table.startswith(inputs.CI_TABLE_PREFIX) else table


def read_value(field: str, raw: t.Any) -> t.Any:
    if raw in (None, ""):
        return None
    return _READ[field].get(raw, raw) if field in _READ else raw


def write_value(field: str, value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = "" if value is None else str(value)
    return CI_CHOICES[field].get(text, text) if field in CI_CHOICES else text


def to_ci(row: t.Mapping[str, t.Any], wanted: t.Sequence[str] | None) -> Record:
    if wanted is None:
        wanted = [name for name in row if name not in _IDENTITY and not name.startswith("sys_")]
    return {"id": row["sys_id"], "name": row.get("name") or None, "ci_class": canonical_class(row["sys_class_name"]),
            "fields": {field: read_value(field, row.get(field)) for field in wanted}}


# -- queries ---------------------------------------------------------------------------------------

def conditions(filters: t.Mapping[str, t.Any]) -> tuple[list[str], tuple[str, list[str]] | None]:
    """Encoded conditions for canonical filters, and the (column, values) of a name or id list too long
    for one URL, which the caller splits into several queries."""
    found, split = [], None
    for field, wanted in inputs.cmdb_filters(filters).items():
        column = {"id": "sys_id", "ci_class": "sys_class_name"}.get(field, field)
        listed = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
        values = [_filter_value(field, item) for item in listed]
        if column in ("sys_id", "name") and len(values) > _NAMES_PER_QUERY and split is None:
            split = (column, values)
        elif len(values) == 1:
            found.append(f"{column}={values[0]}")
        elif any("," in value for value in values):
            found.append("^OR".join(f"{column}={value}" for value in values))
        else:
            found.append(f"{column}IN{','.join(values)}")
    return found, split


def _filter_value(field: str, value: t.Any) -> str:
    if field == "ci_class":
        return table_of(value, "filters.ci_class")
    return query.escape(write_value(field, value), f"filters.{field}")


def encoded(raw: str | None, terms: t.Sequence[str]) -> str:
    """The raw query ANDed with ``terms`` in each of its ``^NQ`` groups, ordered by sys_id."""
    groups = (raw or "").split("^NQ")
    if any("ORDERBY" in group for group in groups):
        raise ItsmValidationError("query", raw, "the inventory orders by sys_id itself; leave ORDERBY out")
    joined = "^NQ".join("^".join(part for part in [group, *terms] if part) for group in groups)
    return (joined + "^" if joined else "") + "ORDERBYsys_id"


# -- reading ---------------------------------------------------------------------------------------

def iter_cmdb(client: ServiceNowClient, ci_class: str | None, fields: t.Sequence[str] | None,
              filters: t.Mapping[str, t.Any] | None, raw_query: str | None, page_size: int,
              workers: int) -> t.Iterator[Record]:
    table = table_of(ci_class)
    wanted = None if fields is None else [field for field in dict.fromkeys(fields) if field not in cmdb.TOP_LEVEL]
    terms, split = conditions(filters or {})
    if split is None:
        return cmdb.exactly(_read(client, table, wanted, encoded(raw_query, terms), page_size, workers), filters)
    column, values = split
    chunks = [values[start:start + _NAMES_PER_QUERY] for start in range(0, len(values), _NAMES_PER_QUERY)]
    readers = [_read(client, table, wanted, encoded(raw_query, [*terms, f"{column}IN{','.join(chunk)}"]),
                     page_size, 1) for chunk in chunks]
    return cmdb.exactly(_increasing(heapq.merge(*readers, key=lambda ci: ci["id"])), filters)


#: rows read where the instance may match more than the value asked for, to keep only the exact ones
_LOOSE_ROWS = 10


def _read(client: ServiceNowClient, table: str, wanted: list[str] | None, encoded_query: str, page_size: int,
          workers: int) -> t.Iterator[Record]:
    params: dict[str, t.Any] = {"sysparm_query": encoded_query, "sysparm_limit": page_size,
                                "sysparm_display_value": "false", "sysparm_exclude_reference_link": "true"}
    if wanted is not None:
        params["sysparm_fields"] = ",".join([*_IDENTITY, *wanted])

    def fetch(index: int) -> cmdb.Page:
        page = dict(params, sysparm_offset=index * page_size)
        if index:
            page["sysparm_no_count"] = "true"
        try:
            answer = client.http.request("GET", TABLE_API + table, params=page, what=f"read the CMDB ({table})")
        except ItsmHttpError as error:
            raise unknown_class(error, client, table, canonical_class(table)) from None
        total = answer.headers.get("X-Total-Count") if not index else None
        return answer.body["result"], int(total) if total and total.isdigit() else None

    rows = cmdb.ordered_pages(fetch, page_size, workers)
    return _increasing(to_ci(row, wanted) for row in rows)


def _increasing(items: t.Iterable[Record]) -> t.Iterator[Record]:
    last = ""
    for item in items:
        if item["id"] > last:
            last = item["id"]
            yield item


def ci_relations(client: ServiceNowClient, ids: t.Sequence[str], types: t.Sequence[str] | None,
                 depth: int) -> t.Iterator[Record]:
    kinds = [inputs.relation_type("relations.types", kind) for kind in types or []]
    return iter(cmdb.walk_relations(ids, depth, lambda sources: _edges(client, sources, kinds)))


def _edges(client: ServiceNowClient, sources: list[str], kinds: list[str]) -> list[tuple[str, str, str, str]]:
    calls = []
    for start in range(0, len(sources), _NAMES_PER_QUERY):
        condition = "parentIN" + ",".join(sources[start:start + _NAMES_PER_QUERY])
        if kinds:
            condition += "^type.parent_descriptorIN" + ",".join(kinds)
        calls.append(condition + "^ORDERBYsys_id")
    rows: list[dict] = []
    for start in range(0, len(calls), _CALLS_PER_BATCH):
        chunk = calls[start:start + _CALLS_PER_BATCH]
        bodies = client.batch([("GET", _relation_url(condition, 0)) for condition in chunk], "read CMDB relationships")
        for condition, body in zip(chunk, bodies):
            page, offset = body["result"], 0
            rows += page
            while len(page) == _RELATION_LIMIT:  # more than one page for these CIs: read on, one by one
                offset += _RELATION_LIMIT
                page = client.http.request("GET", TABLE_API + "cmdb_rel_ci", params=_relation_params(condition, offset),
                                           what="read CMDB relationships").body["result"]
                rows += page
    return sorted({(row["parent"], row.get("type.parent_descriptor") or "", row["child"], row.get("child.name") or "")
                   for row in rows if row.get("child")}, key=lambda edge: (edge[0], edge[1], edge[3], edge[2]))


def _relation_params(condition: str, offset: int) -> dict[str, t.Any]:
    return {"sysparm_query": condition, "sysparm_fields": _RELATION_FIELDS, "sysparm_limit": _RELATION_LIMIT,
            "sysparm_offset": offset, "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


def _relation_url(condition: str, offset: int) -> str:
    return url(TABLE_API + "cmdb_rel_ci", _relation_params(condition, offset))


# -- writing ---------------------------------------------------------------------------------------

def find_one(client: ServiceNowClient, name: str, option: str = "name") -> dict | None:
    rows = client.rows("cmdb_ci", f"name={query.escape(name, option)}^ORDERBYsys_id",
                       ["sys_id", "sys_class_name", "name"], _LOOSE_ROWS, what=f"look up the CI {name}")
    # The instance compares names loosely (any case, blanks trimmed): only the CI named exactly so is this one.
    rows = [row for row in rows if row.get("name") == name]
    if len(rows) > 1:
        raise ItsmConflictError(f"{option}: more than one CI is named {name!r} on {client.settings.url}; "
                                "rename one of them", option=option, value=name)
    return rows[0] if rows else None


def put_ci(client: ServiceNowClient, names: Names, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
           check_mode: bool) -> bool:
    name = inputs.ci_name(name)
    wanted_table = table_of(ci_class) if ci_class else None
    current = find_one(client, name)
    table = wanted_table or (current["sys_class_name"] if current else "cmdb_ci")
    if current is not None and wanted_table and current["sys_class_name"] != wanted_table:
        raise inputs.class_kept(BACKEND_NAME, name, canonical_class(current["sys_class_name"]), ci_class)
    wanted = _write_body(client, names, fields)
    if current is None:
        if not check_mode:
            _create(client, table, dict(wanted, name=name), ci_class)
        return True
    have = client.rows(table, f"sys_id={current['sys_id']}", ["sys_id", *wanted], 1, what=f"read the CI {name}")
    old = have[0] if have else {}
    changes = {column: value for column, value in wanted.items() if str(old.get(column, "")) != value}
    if changes and not check_mode:
        client.http.request("PATCH", f"{TABLE_API}{table}/{current['sys_id']}", params={"sysparm_fields": "sys_id"},
                            json_body=changes, what=f"update the CI {name}")
    return bool(changes)


def _create(client: ServiceNowClient, table: str, body: dict[str, str], ci_class: str | None) -> None:
    # An unknown class is learnt from the create's answer (400 "Invalid table <table>", servicenow-api.md 1.4),
    # so a good create costs no request to check the class first (issue 5).
    try:
        client.http.request("POST", TABLE_API + table, params={"sysparm_fields": "sys_id"}, json_body=body,
                            idempotent=False, recover=lambda: _recover(client, body["name"]),
                            what=f"create the CI {body['name']}")
    except ItsmHttpError as error:
        raise unknown_class(error, client, table, ci_class) from None


def unknown_class(error: ItsmHttpError, client: ServiceNowClient, table: str, ci_class: str | None) -> Exception:
    """What to raise for an instance's refusal: an unknown class (400 "Invalid table <table>", servicenow-api.md
    1.4) becomes an error naming ``ci_class``; anything else stays as it was."""
    if error.status != 400 or not error.reason.startswith("Invalid table"):
        return error
    return ItsmValidationError("ci_class", ci_class, f"expected a class such as linux_server, win_server or server, "
                               f"naming a {inputs.CI_TABLE_PREFIX}<class> table {client.settings.url} has "
                               f"({table} is not one)")


def _recover(client: ServiceNowClient, name: str) -> Response | None:
    """A create that may have landed is found by its name before anything is sent again."""
    found = find_one(client, name)
    return Response(201, {}, {"result": found}, "") if found else None


def _write_body(client: ServiceNowClient, names: Names, fields: t.Mapping[str, t.Any]) -> dict[str, str]:
    body, lookups = {}, []
    for field, value in fields.items():
        if isinstance(value, (dict, list)):
            raise ItsmValidationError(f"fields.{field}", value, "the servicenow backend stores plain values; give a "
                                      "reference by the referenced record's name or sys_id")
        text = write_value(field, value)
        if field in CI_REFERENCES and text and not _SYS_ID.match(text):
            lookups.append((field, inputs.query_text(f"fields.{field}", text)))
        body[field] = text
    if lookups:
        calls = names.lookup_calls([(*CI_REFERENCES[field], text) for field, text in lookups])
        if calls:
            names.remember(calls, client.batch(calls, "look up names"))
        for field, text in lookups:
            names.require(f"fields.{field}", CI_REFERENCES[field][0], [text])
            body[field] = names.id(CI_REFERENCES[field][0], text)
    return body


class _Found(t.NamedTuple):
    """What resolve_ci_relations read for put_ci_relations: the CI's sys_id (None while it is yet to be
    created), its relationships ((type, target name) -> cmdb_rel_ci sys_id) and the sys_ids of the types to add.
    The target CIs' sys_ids are kept in names."""

    ci_id: str | None
    have: dict[tuple[str, str], str]
    type_ids: dict[str, str]


def resolve_ci_relations(client: ServiceNowClient, names: Names, name: str,
                         relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
    wanted = inputs.relation_list(relations)
    return _resolve(client, names, inputs.ci_name(name), wanted, must_exist=False)


def _resolve(client: ServiceNowClient, names: Names, name: str, wanted: list[tuple[str, str]],
             must_exist: bool) -> CiRelations:
    current = find_one(client, name)
    if current is None and must_exist:
        raise _no_ci(client, name)
    have = {} if current is None else _relations_of(client, current["sys_id"], name)
    type_ids = _look_up(client, names, [key for key in wanted if key not in have])
    return CiRelations(wanted, _Found(current and current["sys_id"], have, type_ids))


def put_ci_relations(client: ServiceNowClient, names: Names, name: str,
                     relations: t.Sequence[t.Mapping[str, str]] | CiRelations, check_mode: bool) -> bool:
    name = inputs.ci_name(name)
    checked = relations if isinstance(relations, CiRelations) else CiRelations(inputs.relation_list(relations))
    if not isinstance(checked.resolved, _Found):  # not resolved beforehand: the CI must exist (or be a check-mode one)
        checked = _resolve(client, names, name, checked.wanted, must_exist=not check_mode)
    found: _Found = checked.resolved
    if found.ci_id is None and check_mode:  # the CI a check-mode task would have created: every relationship is new
        return bool(checked.wanted)
    removed = [sys_id for key, sys_id in found.have.items() if key not in checked.wanted]
    added = [key for key in checked.wanted if key not in found.have]
    if check_mode or not (removed or added):
        return bool(removed or added)
    parent = found.ci_id or _created_id(client, name)
    writes: list[tuple[str, str] | tuple[str, str, t.Any]] = [
        ("DELETE", f"{TABLE_API}cmdb_rel_ci/{sys_id}") for sys_id in removed]
    writes += [("POST", f"{TABLE_API}cmdb_rel_ci", {"parent": parent, "type": found.type_ids[kind],
                                                    "child": names.id("cmdb_ci", target)})
               for kind, target in added]
    client.batch(writes, f"write the relationships of {name}", idempotent=not added)
    return True


def _created_id(client: ServiceNowClient, name: str) -> str:
    """The sys_id of a CI created after its relationships were resolved."""
    current = find_one(client, name)
    if current is None:
        raise _no_ci(client, name)
    return current["sys_id"]


def _no_ci(client: ServiceNowClient, name: str) -> ItsmNotFoundError:
    return inputs.unknown_name("name", client.settings.url, "configuration item", name)


def _relations_of(client: ServiceNowClient, ci_id: str, name: str) -> dict[tuple[str, str], str]:
    rows = client.rows("cmdb_rel_ci", f"parent={ci_id}^ORDERBYsys_id",
                       ["sys_id", "type.parent_descriptor", "child.name"], _RELATION_LIMIT,
                       what=f"read the relationships of {name}")
    return {(row["type.parent_descriptor"], row["child.name"]): row["sys_id"] for row in rows}


def _look_up(client: ServiceNowClient, names: Names, added: list[tuple[str, str]]) -> dict[str, str]:
    """sys_ids of the types of ``added`` (returned) and of its targets (kept in names), in one Batch
    request; a type or a target the instance lacks is refused naming ``relations``."""
    if not added:
        return {}
    kinds = sorted({kind for kind, _target in added})
    targets = [target for _kind, target in added]
    name_calls = names.lookup_calls([("cmdb_ci", "name", target) for target in targets])
    bodies = client.batch([_type_call(kinds), *name_calls], "look up relationship types and CIs")
    names.remember(name_calls, bodies[1:])
    type_ids = _type_ids(client, kinds, bodies[0]["result"])
    names.require("relations", "cmdb_ci", targets)
    return type_ids


def _type_call(kinds: list[str]) -> tuple[str, str]:
    params = {"sysparm_query": "parent_descriptorIN" + ",".join(query.escape(kind, "relations") for kind in kinds),
              "sysparm_fields": "sys_id,parent_descriptor,name", "sysparm_limit": 1000,
              "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}
    return "GET", url(TABLE_API + "cmdb_rel_type", params)


def _type_ids(client: ServiceNowClient, kinds: list[str], rows: list[dict]) -> dict[str, str]:
    found = {row["parent_descriptor"]: row["sys_id"] for row in sorted(rows, key=lambda row: row["name"])}
    missing = [kind for kind in kinds if kind not in found]
    if missing:
        raise inputs.unknown_relation_type(client.settings.url, missing[0])
    return found
