# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading changes and incidents on a ServiceNow instance. FOR INTERNAL COLLECTION USE ONLY.

- Reads ask only for the fields a canonical record needs (``sysparm_fields``, references dot-walked to
  their names), page by a (``sys_created_on``, ``number``, ``sys_id``) keyset (oldest first, stable under
  concurrent inserts, whatever the numbers: they may repeat, and sort as strings), and read a page's
  affected CIs in one more request, never one per record.
- A look-up (``holders``) reads the records a key names in one request: for a change, with its CIs in one
  Batch API request, together with the parts the look-up includes and the names it will write
  (lookup_batch.py); an incident look-up without either is one plain GET. Nothing is kept for later calls.
  A find by correlation id alone reads the changes holding it and their CIs in one batch too.
- ``find_limited`` costs what ``find`` costs: its first page asks for ``X-Total-Count``, the total (unknown
  with ``window_start``, re-checked on the rows).
"""

from __future__ import annotations

import itertools
import typing as t

from ... import _records as records
from ..._errors import ItsmNotFoundError
from ..._lookup import LookupResult, RecordKey, record_key
from .._base import Found, check_limit
from . import lookup_batch
from . import mapping
from . import query
from .client import TABLE_API, ServiceNowClient, url
from .codec import RecordCodec, ci_params, total_count
from .names import Names

Record = dict[str, t.Any]
CHANGE = records.CHANGE
#: records per request of a find, and of a look-up's read of the records a key names
PAGE_SIZE = 100


class RecordReader:
    """Look-ups, finds and the affected CIs of changes."""

    def __init__(self, client: ServiceNowClient, names: Names, codec: RecordCodec):
        self.client = client
        self.names = names
        self.codec = codec

    def holders(self, kind: str, key: RecordKey, open_only: bool, include: t.Collection[str] = frozenset(),
                writes: t.Mapping[str, t.Any] | None = None) -> list[LookupResult]:
        """The records the key names (its keys ANDed; with ``open_only`` and a correlation id, the open ones),
        oldest first, each with the ``include`` parts, read in one request with the names ``writes`` will need.

        Few records share a key (retries and re-runs reuse a correlation id); past a page, find pages as usual
        and the parts are left to the contract's read_parts, for the one record the look-up picks.
        """
        records.require_choice("kind", kind, records.KINDS)
        keys = lookup_batch.key_columns(key)
        conditions = [f"{column}={query.escape(value)}" for column, value in keys]
        if open_only and key.correlation_id:
            conditions.append(query.open_condition(kind))
        what = f"read {kind} {key.number or key.id or key.correlation_id}"
        found = self.read(kind, conditions, keys, include, writes or {}, what)
        if len(found) < PAGE_SIZE:
            return found
        return [LookupResult(record) for record in self.pages(kind, conditions, None, None)]

    def get(self, kind: str, number: str | None = None, id: str | None = None) -> Record | None:
        """The record with this number or id, or None: the backend's own reads (a sys_id, a write's result)."""
        found = self.holders(kind, record_key(number, id, None), False)
        return found[0].record if found else None

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        records.require_choice("kind", kind, records.KINDS)
        conditions, window = query.find_query(kind, filters or {})
        check_limit(limit)
        if kind == CHANGE and limit is None and list(filters) == ["correlation_id"] and filters["correlation_id"]:
            if isinstance(filters["correlation_id"], str):
                # the holders of a correlation id and their CIs in one batch, as a look-up reads them
                holding = self.holders(CHANGE, RecordKey(correlation_id=filters["correlation_id"]), False)
                return iter([found.record for found in holding])
            # several (issue 17: the change_events source's one request per poll): the same batch, the CIs of the
            # changes holding any of them
            [condition] = conditions
            found = self.read(CHANGE, conditions, [], (), {}, f"find {kind}s", ci_condition="task." + condition)
            if len(found) < PAGE_SIZE:
                return iter([each.record for each in found])
        return self.pages(kind, conditions, window, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int) -> Found:
        """As find, in the same requests; the total is the first page's ``X-Total-Count``.

        With ``window_start`` the instance also counts changes without an end date that started before the
        window (re-checked here), so the total is unknown (None) and one record past the limit tells.
        """
        records.require_choice("kind", kind, records.KINDS)
        conditions, window = query.find_query(kind, filters or {})
        check_limit(limit)
        counted: list[int | None] = []
        pages = self.pages(kind, conditions, window, limit + 1, None if window else counted)
        found = list(itertools.islice(pages, limit))
        more = None
        if not counted or counted[0] is None:
            more = next(pages, None) is not None  # a request only when the last page was full
        pages.close()
        total = counted[0] if counted else None
        return Found(found, more if total is None else total > len(found), total)

    def read(self, kind: str, conditions: list[str], keys: lookup_batch.Keys, include: t.Collection[str],
             writes: t.Mapping[str, t.Any], what: str, ci_condition: str | None = None) -> list[LookupResult]:
        """The first PAGE_SIZE records matching all conditions (``keys``: the look-up's (column, value) pairs),
        oldest first, with the ``include`` parts, in one request: for changes (with their CIs), parts or names
        to look up, one Batch API request; else one GET. ``ci_condition``: the ``task_ci`` rows of the changes,
        when no ``keys`` name them."""
        params = self.codec.params(kind, "^".join(conditions) + query.OLDEST_FIRST, PAGE_SIZE)
        parts = lookup_batch.part_calls(kind, include, conditions, keys, PAGE_SIZE)
        names = self.names.lookup_calls(lookup_batch.names_written(kind, writes))
        if kind != CHANGE and not parts and not names:
            rows = self.client.get_rows(mapping.TABLES[kind], params, what)
            return [LookupResult(self.codec.to_record(kind, row)) for row in rows]
        calls = [("GET", url(TABLE_API + mapping.TABLES[kind], params))]
        if kind == CHANGE:
            related = ci_condition if ci_condition is not None else lookup_batch.related("task", keys)
            calls.append(("GET", url(TABLE_API + "task_ci", ci_params(related))))
        calls += [call for _part, call in parts]
        bodies = self.client.batch(calls + names, what)
        self.names.remember(names, bodies[len(calls):])
        rows = bodies[0]["result"]
        if kind == CHANGE:
            found, ci_ids = self.with_cis(rows, bodies[1]["result"])
        else:
            found, ci_ids = [self.codec.to_record(kind, row) for row in rows], {}
        read = lookup_batch.parts_read([part for part, _call in parts], bodies[len(calls) - len(parts):len(calls)],
                                       [row["sys_id"] for row in rows])
        return [LookupResult(record, approvals=read[record["id"]].get("approvals"),
                             notes=read[record["id"]].get("journal"),
                             ci_ids=ci_ids.get(record["id"], []) if "cis" in include and kind == CHANGE else None)
                for record in found]

    def pages(self, kind: str, conditions: list[str], window, limit: int | None,
              counted: list[int | None] | None = None) -> t.Iterator[Record]:
        """Records page by page; ``limit`` counts the records yielded (past the window's re-check), and
        ``counted``, when given, receives the first page's ``X-Total-Count`` (None when the instance sent none)."""
        where, last, remaining = "^".join(conditions), None, limit
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            params = self.codec.params(kind, query.after(where, last) + query.OLDEST_FIRST, size)
            count = counted is not None and last is None
            if count:
                params["sysparm_no_count"] = "false"
            answer = self.client.http.request("GET", TABLE_API + mapping.TABLES[kind], params=params,
                                              what=f"find {kind}s")
            rows = answer.body["result"]
            if count:
                counted.append(total_count(answer.headers))
            if kind == CHANGE and rows:
                links = self.client.get_rows("task_ci", ci_params("taskIN" + ",".join(r["sys_id"] for r in rows)),
                                             "read affected CIs")
                found = self.with_cis(rows, links)[0]
            else:
                found = [self.codec.to_record(kind, row) for row in rows]
            kept = [record for record in found if query.in_window(record, window)]
            yield from kept
            if len(rows) < size:
                return
            last = (rows[-1]["sys_created_on"], rows[-1]["number"], rows[-1]["sys_id"])
            remaining = None if remaining is None else remaining - len(kept)

    def with_cis(self, rows: list[dict], links: list[dict]) -> tuple[list[Record], dict[str, list[str]]]:
        """Change rows as records with their affected CIs (``task_ci`` rows), and the CIs' sys_ids by change id
        (names are not unique)."""
        names: dict[str, list[str]] = {}
        ids: dict[str, set[str]] = {}
        for link in links:
            names.setdefault(link["task"], []).append(link["ci_item.name"])
            if link.get("ci_item"):
                ids.setdefault(link["task"], set()).add(link["ci_item"])
        found = [self.codec.to_record(CHANGE, row, names.get(row["sys_id"], [])) for row in rows]
        return found, {change_id: sorted(ci_ids) for change_id, ci_ids in ids.items()}

    def current_cis(self, change_id: str, resolve: t.Sequence[str] = ()) -> tuple[list[str], list[dict]]:
        """The names of the change's CIs and their ``task_ci`` rows, read with the sys_ids of ``resolve``."""
        calls = [("GET", url(TABLE_API + "task_ci", dict(ci_params(f"task={change_id}"),
                                                         sysparm_fields="sys_id,ci_item.name")))]
        calls += self.names.lookup_calls([("cmdb_ci", "name", name) for name in resolve])
        bodies = self.client.batch(calls, "read affected CIs")
        self.names.remember(calls[1:], bodies[1:])
        self.names.require("configuration_items", "cmdb_ci", resolve)
        rows = bodies[0]["result"]
        return sorted(row["ci_item.name"] for row in rows), rows

    def affected_cis(self, record: Record) -> list[str]:
        if record.get("id") and record.get("configuration_items") is not None:
            return list(record["configuration_items"])  # read with the record, in the same request
        return self.current_cis(self.id_of(CHANGE, record))[0]

    def affected_ci_ids(self, record: Record) -> list[str]:
        # By sys_id: CI names are not unique, and a scope by name let an inventory list a CI of the same
        # name that the change does not affect (issue 7).
        params = dict(ci_params(f"task={self.id_of(CHANGE, record)}"), sysparm_fields="ci_item")
        return sorted({row["ci_item"] for row in self.client.get_rows("task_ci", params, "read affected CIs")
                       if row.get("ci_item")})

    def id_of(self, kind: str, record: Record) -> str:
        """The record's sys_id: its ``id``, else looked up by its number (one GET)."""
        if record.get("id"):
            return record["id"]
        found = self.get(kind, number=record["number"]) if record.get("number") else None
        if found is None:
            raise ItsmNotFoundError(f"record: {kind} {record.get('number') or '(never created)'} does not exist on "
                                    f"{self.client.settings.url}", option="number", value=record.get("number"))
        return found["id"]

    def template(self, name: str) -> Record | None:
        """A standard change template by name: ``{name, fields}`` (its sys_id is kept in names), or None."""
        rows = self.client.rows("std_change_producer_version", f"name={query.escape(name, 'template')}",
                                ["sys_id", "name", "template"], 10, what=f"read template {name}")
        rows = [row for row in rows if row.get("name") == name]  # the instance compares names loosely (issue 14)
        if not rows:
            return None
        self.names.put("std_change_producer_version", name, rows[0]["sys_id"])
        return {"name": name, "fields": self.codec.canonical_values(CHANGE, query.template_values(rows[0]["template"]))}
