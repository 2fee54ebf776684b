# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servicenow backend: the Table API (plus Batch and Change Management APIs). FOR INTERNAL COLLECTION USE ONLY.

Behaviour a caller may rely on, beyond the contract in _base:

- One HTTP session per backend (_http.HttpClient): keep-alive, TLS and timeout on every call, retries.
- Reads ask only for the fields a canonical record needs (``sysparm_fields``, references dot-walked to
  their names), page by a (``sys_created_on``, ``number``, ``sys_id``) keyset (oldest first, stable under concurrent
  inserts, whatever the numbers: they may repeat, and sort as strings), and read a
  page's affected CIs in one more request, never one per record.
- Names (groups, users, CIs, templates, changes for ``caused_by``) are resolved to sys_ids in one
  Batch API request per write and cached for the backend's life; an unknown name is an error naming
  the option. Affected CIs and the change are read together in one batch.
- Requests: create a change with CIs <= 3 (names, POST, CI rows); update or transition 1 (+1 for
  unresolved names). Names announced by ``expect_write`` ride on the next change read's batch, and so
  does what ``expect_read`` announced (_servicenow_ahead: the change's approvals, the record's journal
  history); a find by correlation id alone reads the changes and their CIs in one batch. So a
  change_request task creates with CIs in 3 requests and updates or transitions in 2, a work note
  included; the gate's poll is 2 (change + CIs + approvals, blackouts + conflicts), 3 while a blackout
  schedule with a condition has an entry in range.
- A create sends its own sys_id; when a POST fails in a way that may have landed, the record is looked
  up (by correlation id when given, else by that sys_id) before anything is sent again. A standard
  change always carries a correlation id (``opsgate-<uuid4>`` when the task gave none) and is looked up
  by it, because the Change Management API may not keep a client-supplied sys_id.
- A record created with the task's correlation id is looked up again (one more GET, or a GET in the
  batch that writes a change's CIs): when forks created twins at once, the oldest open one is returned
  and this call's own twin is deleted (cancelled, with a work note naming the survivor, where the
  account may not delete).
- Work notes and comments (``add_journal``, or with an update) note the record's journal entries
  first (one more GET, unless ``journal()`` or ``missing_journal()`` has just shown none carries the
  text) and, after a failure that may have landed, resend only if no new entry carries the text; an
  approval decision is resent only while its approval row is still ``requested``.
- Transitions are verified by the record the instance returns; a business-rule or data-policy
  refusal raises ItsmTransitionError naming the change, the move and the instance's message.
- An update or transition that also sets ``configuration_items`` resolves every name first, then sends
  the record's PATCH and only after it the CI rows: a refused write leaves the affected CIs as they were.
- ``approvals`` lists ``sysapproval_approver`` rows in canonical states with the latest comment;
  ``stage`` is None (ServiceNow does not record it). ``decide_approval`` decides the approver's
  pending row through the Table API (an admin may decide for others, as on the platform).
- ``find_limited`` costs what ``find`` costs: its first page asks for ``X-Total-Count``, the total (unknown
  with ``window_start``, re-checked on the rows). ``journals_for`` reads a hundred records' work notes and
  comments in one ``sys_journal_field`` request (``element_idIN``), ``approvals_for`` their approvals in one.
- ``blackouts`` expands blackout schedule spans (all pages) of the schedules that apply to the change:
  unscoped ones, and scoped ones confirmed by a fresh ``conflict`` row or by their condition (one
  more request per poll, only while such a schedule has an entry in range).
- The CMDB (inventory, configuration_item) is _servicenow_cmdb: classes, values, paging and relationships.
- ``template`` reads ``std_change_producer_version`` by name; a change created from one goes through
  ``POST /api/sn_chg_rest/change/standard/{id}``, which copies the template; ``put_template`` is refused.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import typing as t
import urllib.parse
import uuid

from .. import _lifecycle as lifecycle
from .. import _records as records
from .._errors import (ItsmNotFoundError, ItsmTransientError,
                       ItsmTransitionError, ItsmValidationError)
from .._http import HttpClient, ItsmHttpError, Response
from .._options import ConnectionSettings
from . import _local_schema as inputs
from . import _servicenow_ahead as ahead
from . import _servicenow_cmdb as sn_cmdb
from . import _servicenow_extras as extras
from . import _servicenow_mapping as mapping
from . import _servicenow_names
from . import _servicenow_query as query
from ._base import READ_AHEAD_PARTS, CiRelations, Found, ItsmBackend, Record, Warn, check_limit

CHANGE, INCIDENT = records.CHANGE, records.INCIDENT
TABLE_API = "/api/now/table/"
_PAGE = 100
_JOURNAL_PAGE = 10000  # sys_journal_field rows per request of journals_for (a hundred records' notes, usually one)
_OLDEST_FIRST = "^ORDERBYsys_created_on^ORDERBYnumber^ORDERBYsys_id"  # the documented order of find, and its keyset
_OUTPUT = {CHANGE: records.CHANGE_FIELDS, INCIDENT: records.INCIDENT_FIELDS}
_REVERSE = {key: {raw: canonical for canonical, raw in table.items()} for key, table in mapping.CHOICES.items()}
# A glide date-time as the Table API returns it (UTC): a ``fields`` value of this shape is a date.
_SN_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_NOT_STORED = ("backend", "id", "number", "url", "state", "active", "opened_at", "updated_at", "closed_at",
               "approval", "template", "configuration_items", "fields", "priority", "reopen_count")


class ServiceNowBackend(ItsmBackend):
    """Changes and incidents on a ServiceNow instance; the instance enforces its own models."""

    name = "servicenow"
    capabilities = frozenset({"approvals", "affected_cis", "blackouts", "templates", "attachments", "cmdb"})

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None, **http_options: t.Any):
        super().__init__(settings, warn)
        self.http = HttpClient(settings, self.warn, **http_options)
        self.names = _servicenow_names.Names(self)
        self._extras = {kind: list(mapping.EXTRA_COLUMNS[kind]) for kind in records.KINDS}
        self._expected_names: list[tuple[str, str, str]] = []  # looked up with the next change read
        self._journal_read: dict[str, set[tuple[str, str]]] = {}  # record id -> texts the last journal() saw
        self._read_ahead: dict[str, set[str]] = {}  # kind -> parts expect_read announced for the next look-up
        self._ahead: dict[tuple[str, str], t.Any] = {}  # (part, record id) -> what the last look-up read ahead
        self._ci_ids: dict[str, list[str]] = {}  # change id -> sys_ids of its CIs, as last read with it

    def close(self) -> None:
        self.http.close()

    # -- records ---------------------------------------------------------------------------------

    def get(self, kind: str, number: str | None = None, id: str | None = None,
            correlation_id: str | None = None, open_only: bool = False) -> Record | None:
        records.require_choice("kind", kind, records.KINDS)
        keys = [(column, value) for column, value in (("number", number), ("sys_id", id),
                                                      ("correlation_id", correlation_id)) if value]
        if not keys:
            raise ItsmValidationError("number", number, "give a number, id or correlation_id to look a record up")
        conditions = [f"{column}={query.escape(value)}" for column, value in keys]
        if open_only and correlation_id:
            conditions.append(query.open_condition(kind))
        found = self._read(kind, conditions, 10, keys, f"read {kind} {number or id or correlation_id}")
        records.refuse_shared_correlation(kind, correlation_id, found)
        return found[0] if found else None

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        records.require_choice("kind", kind, records.KINDS)
        conditions, window = query.find_query(kind, filters or {})
        check_limit(limit)
        if kind == CHANGE and limit is None and list(filters) == ["correlation_id"] and filters["correlation_id"]:
            return iter(self._holding(conditions, filters["correlation_id"]))
        return self._pages(kind, conditions, window, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        """As find, in the same requests; the total is the first page's ``X-Total-Count``.

        With ``window_start`` the instance also counts changes without an end date that started before the
        window (re-checked here), so the total is unknown (None) and one record past the limit tells.
        """
        records.require_choice("kind", kind, records.KINDS)
        conditions, window = query.find_query(kind, filters or {})
        check_limit(limit)
        if limit is None:
            return super().find_limited(kind, filters, limit)
        counted: list[int | None] = []
        pages = self._pages(kind, conditions, window, limit + 1, None if window else counted)
        found = list(itertools.islice(pages, limit))
        more = None
        if not counted or counted[0] is None:
            more = next(pages, None) is not None  # a request only when the last page was full
        pages.close()
        total = counted[0] if counted else None
        return Found(found, more if total is None else total > len(found), total)

    def expect_write(self, kind: str, fields: t.Mapping[str, t.Any]) -> None:
        references = mapping.REFERENCES[kind] if kind in records.KINDS else {}
        names = [(*references[option][1:], value) for option, value in fields.items()
                 if option in references and isinstance(value, str) and value]
        names += [("cmdb_ci", "name", name) for name in fields.get("configuration_items") or () if isinstance(name, str)]
        self._expected_names = names

    def expect_read(self, kind: str, parts: t.Collection[str]) -> None:
        for part in parts:
            records.require_choice("parts", part, READ_AHEAD_PARTS)
        self._read_ahead = {kind: set(parts)}

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields, creating=True)
        self.names.resolve(kind, parsed.values, parsed.cis or [], parsed.template)
        if check_mode:
            return extras.approximate_new(self, kind, parsed)
        body = self._payload(kind, parsed)
        body["sys_id"] = uuid.uuid4().hex
        if kind == CHANGE and parsed.template:
            if parsed.values.get("type") not in (None, "standard"):
                raise ItsmValidationError("type", parsed.values["type"], f"a change made from template "
                                          f"{parsed.template!r} is a standard change; leave type out or set it to standard")
            record_id = self._create_standard(body, parsed)
            row = None
        else:
            if kind == CHANGE:
                body.setdefault("type", "normal")
            row = self._post_record(kind, body, parsed.values.get("correlation_id"))
            record_id = row["sys_id"]
        cis = parsed.cis or []
        correlation_id = parsed.values.get("correlation_id")  # the task's own: forks may have created twins
        if cis or row is None:
            # The twins are looked for in the batch that writes the CIs: a create stays at three requests.
            reads = [self._record_call(kind, record_id)] if row is None else []
            reads += [self._twins_call(kind, correlation_id)] if correlation_id else []
            bodies = self._write_cis(record_id, cis, [], reads)
            if bodies:
                row = bodies[0]["result"] if row is None else row
                twins = bodies[-1]["result"] if correlation_id else []
                if twins and twins[0]["sys_id"] != record_id:
                    self._retire(kind, row, twins[0])
                    return self.get(kind, id=twins[0]["sys_id"]) or self._to_record(kind, twins[0])
                return self._to_record(kind, row, cis)
            row = row or self._reread(kind, record_id).body["result"]  # recovered after a failure: read it
        return self._to_record(kind, self._one_per_correlation(kind, row, correlation_id) if correlation_id else row,
                               cis)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        return self._write(kind, record, inputs.parse_input(kind, fields), None, check_mode)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("state", state, mapping.CHOICES[(kind, "state")])
        return self._write(kind, record, inputs.parse_input(kind, fields or {}), state, check_mode)

    def journal(self, kind: str, record: Record) -> list[Record]:
        record_id = self._id_of(kind, record)
        rows = self._list("sys_journal_field", f"element_id={record_id}^elementINwork_notes,comments"
                          "^ORDERBYsys_created_on", ["element", "value", "sys_created_by", "sys_created_on"],
                          1000, what=f"read the journal of {_label(kind, record)}")
        self._journal_read[record_id] = {(row["element"], str(row["value"]).strip()) for row in rows}
        return [_journal_entry(row) for row in rows]

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        """The journals of many records in one ``sys_journal_field`` request (``element_idIN``), by record id;
        past _JOURNAL_PAGE entries, one more request per page."""
        records.require_choice("kind", kind, records.KINDS)
        found: dict[str, list[Record]] = {record_id: [] for record_id in ids}
        params = {"sysparm_query": f"element_idIN{','.join(query.escape(key) for key in found)}"
                                   "^elementINwork_notes,comments^ORDERBYsys_created_on",
                  "sysparm_fields": "element_id,element,value,sys_created_by,sys_created_on",
                  "sysparm_limit": _JOURNAL_PAGE, "sysparm_display_value": "false",
                  "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}
        offset = 0
        while found:
            rows = self._get_rows("sys_journal_field", dict(params, sysparm_offset=offset),
                                  f"read the journals of {len(found)} {kind}s")
            for row in rows:
                if row["element_id"] in found:
                    found[row["element_id"]].append(_journal_entry(row))
            if len(rows) < _JOURNAL_PAGE:
                break
            offset += len(rows)
        return found

    def missing_journal(self, kind: str, record: Record, entries: t.Mapping[str, str]) -> dict[str, str]:
        record_id = self._id_of(kind, record)
        history = self._ahead.pop(("journal", record_id), None)
        if history is None:
            return super().missing_journal(kind, record, entries)
        carried = {field: text for field, text in entries.items() if ahead.carries(history.get(field, ""), text)}
        self._journal_read[record_id] = {(field, text.strip()) for field, text in carried.items()}
        return {field: text for field, text in entries.items() if field not in carried}

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False) -> None:
        records.require_choice("field", field, inputs.NOTE_FIELDS)
        inputs.require_text(field, text)
        if check_mode:
            return
        record_id = self._id_of(kind, record)
        self._ahead.pop(("journal", record_id), None)
        recover = self._journal_guard(record_id, {field: text}, lambda: Response(200, {}, None, ""))
        self.http.request("PATCH", f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}",
                          params={"sysparm_fields": "sys_id"}, json_body={field: text}, idempotent=False,
                          recover=recover, what=f"add {field} to {_label(kind, record)}")

    def _journal_guard(self, record_id: str, entries: t.Mapping[str, str],
                       landed: t.Callable[[], Response]) -> t.Callable[[], Response | None]:
        """A ``recover`` for a write that appends journal entries: resend only if none of them arrived.

        Appending is not idempotent, so the entries already on the record are noted first; after a
        failure, the write landed if a new entry carries the text sent (one update writes them all).
        When journal() has just shown that no entry carries any of the texts (the workflow reads it to
        skip notes already there), every entry carrying one later is new: no read before writing.
        """
        query_ = f"element_id={record_id}^elementIN{','.join(entries)}"
        seen = self._journal_read.pop(record_id, None)
        before: set[str] = set()
        if seen is None or any((field, text.strip()) in seen for field, text in entries.items()):
            rows = self._list("sys_journal_field", query_, ["sys_id"], 10000, what="read the journal before writing")
            before = {row["sys_id"] for row in rows}

        def recover() -> Response | None:
            rows = self._list("sys_journal_field", query_, ["sys_id", "element", "value"], 10000,
                              what="look for the journal entry being written")
            arrived = {(row["element"], str(row["value"]).strip()) for row in rows if row["sys_id"] not in before}
            return landed() if all((field, text.strip()) in arrived for field, text in entries.items()) else None
        return recover

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        read = self._ahead.pop(("approvals", record["id"]), None) if record.get("id") else None
        return read if read is not None else extras.approvals(self, record)

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return extras.approvals_for(self, ids)

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        return extras.decide_approval(self, record, approver, decision, comments, check_mode)

    def affected_cis(self, record: Record) -> list[str]:
        if record.get("id") and record.get("configuration_items") is not None:
            return list(record["configuration_items"])  # read with the record, in the same request
        return self._current_cis(self._id_of(CHANGE, record))[0]

    def affected_ci_ids(self, record: Record) -> list[str]:
        # By sys_id: CI names are not unique, and a scope by name let an inventory list a CI of the same
        # name that the change does not affect (issue 7).
        params = dict(_ci_params(f"task={self._id_of(CHANGE, record)}"), sysparm_fields="ci_item")
        return sorted({row["ci_item"] for row in self._get_rows("task_ci", params, "read affected CIs")
                       if row.get("ci_item")})

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        wanted = inputs.ci_names(names)
        change_id = self._id_of(CHANGE, record)
        present, rows = self._current_cis(change_id, resolve=wanted)
        added = [name for name in wanted if name not in present]
        removed = [row["sys_id"] for row in rows if row["ci_item.name"] not in wanted]
        if check_mode or not (added or removed):
            return dict(record, configuration_items=wanted)
        bodies = self._write_cis(change_id, added, removed, [self._record_call(CHANGE, change_id)])
        return self._to_record(CHANGE, bodies[0]["result"], wanted) if bodies else self.get(CHANGE, id=change_id)

    def blackouts(self, start: str, end: str, record: Record | None = None) -> list[Record]:
        return extras.blackouts(self, start, end, record)

    def template(self, name: str) -> Record | None:
        rows = self._list("std_change_producer_version", f"name={query.escape(name)}",
                          ["sys_id", "name", "template"], 1, what=f"read template {name}")
        if not rows:
            return None
        self.names.put("std_change_producer_version", name, rows[0]["sys_id"])
        return {"name": name, "fields": self._canonical_values(CHANGE, query.template_values(rows[0]["template"]))}

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        raise self.unsupported("defining standard change templates (define them on the instance, as "
                               "std_change_record_producer records)")

    # -- attachments -----------------------------------------------------------------------------

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        return extras.add_attachment(self, kind, record, path, name, content_type, check_mode)

    def attachments(self, kind: str, record: Record) -> list[Record]:
        return extras.attachments(self, kind, record)

    # -- CMDB (_servicenow_cmdb) ------------------------------------------------------------------

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        return sn_cmdb.iter_cmdb(self, ci_class, fields, filters, query, max(1, int(page_size)), workers)

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        return sn_cmdb.ci_relations(self, ids, types, depth)

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        return sn_cmdb.put_ci(self, name, ci_class, fields, check_mode)

    def resolve_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
        return sn_cmdb.resolve_ci_relations(self, name, relations)

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        return sn_cmdb.put_ci_relations(self, name, relations, check_mode)

    # -- reading ---------------------------------------------------------------------------------

    def record_fields(self, kind: str) -> list[str]:
        plain = [name for name in _OUTPUT[kind] if name not in _NOT_STORED and name not in mapping.REFERENCES[kind]]
        refs = [f"{column}.{name_column}" for column, _table, name_column in mapping.REFERENCES[kind].values()]
        own = ["approval"] if kind == CHANGE else ["priority", "reopen_count"]
        return (["sys_id", "number", "state", "active", "opened_at", "sys_created_on", "sys_updated_on", "closed_at"]
                + own
                + plain + refs + [col for col in self._extras[kind] if col not in plain + own])

    def _read(self, kind: str, conditions: list[str], limit: int, keys: ahead.Keys, what: str,
              order: str = "^ORDERBYnumber") -> list[Record]:
        """Records matching all conditions (``keys``: the look-up's (column, value) pairs), read in one request
        with, for changes, their CIs and the names expect_write announced, and what expect_read announced."""
        params = self._params(kind, "^".join(conditions) + order, limit)
        parts = ahead.calls(kind, self._read_ahead.pop(kind, ()), conditions, keys, limit)
        self._ahead = {}
        if kind != CHANGE and not parts:
            return [self._to_record(kind, row) for row in self._get_rows(mapping.TABLES[kind], params, what)]
        calls = [("GET", _url(TABLE_API + mapping.TABLES[kind], params))]
        if kind == CHANGE:
            calls.append(("GET", _url(TABLE_API + "task_ci", _ci_params(ahead.related("task", keys)))))
        calls += [call for _part, call in parts]
        names = self.names.lookup_calls(self._expected_names) if kind == CHANGE else []
        self._expected_names = []
        bodies = self.batch(calls + names, what)
        self.names.remember(names, bodies[len(calls):])
        rows = bodies[0]["result"]
        self._ahead = ahead.answers([part for part, _call in parts], bodies[len(calls) - len(parts):len(calls)],
                                    [row["sys_id"] for row in rows])
        if kind != CHANGE:
            return [self._to_record(kind, row) for row in rows]
        return self._with_cis(rows, bodies[1]["result"])

    def _holding(self, conditions: list[str], correlation_id: str) -> list[Record]:
        """The changes holding a correlation id, oldest first, with their CIs in one batch request.

        Few records share one (retries and re-runs reuse it); past a page, find pages as usual.
        """
        found = self._read(CHANGE, conditions, _PAGE, [("correlation_id", correlation_id)],
                           f"find changes of correlation_id {correlation_id}", order=_OLDEST_FIRST)
        return found if len(found) < _PAGE else list(self._pages(CHANGE, conditions, None, None))

    def _pages(self, kind: str, conditions: list[str], window, limit: int | None,
               counted: list[int | None] | None = None) -> t.Iterator[Record]:
        """Records page by page; ``limit`` counts the records yielded (past the window's re-check), and
        ``counted``, when given, receives the first page's ``X-Total-Count`` (None when the instance sent none)."""
        where, after, remaining = "^".join(conditions), None, limit
        while remaining is None or remaining > 0:
            size = _PAGE if remaining is None else min(_PAGE, remaining)
            params = self._params(kind, _after(where, after) + _OLDEST_FIRST, size)
            count = counted is not None and after is None
            if count:
                params["sysparm_no_count"] = "false"
            answer = self.http.request("GET", TABLE_API + mapping.TABLES[kind], params=params, what=f"find {kind}s")
            rows = answer.body["result"]
            if count:
                counted.append(_total(answer.headers))
            if kind == CHANGE and rows:
                links = self._get_rows("task_ci", _ci_params("taskIN" + ",".join(r["sys_id"] for r in rows)),
                                       "read affected CIs")
                found = self._with_cis(rows, links)
            else:
                found = [self._to_record(kind, row) for row in rows]
            kept = [record for record in found if query.in_window(record, window)]
            yield from kept
            if len(rows) < size:
                return
            after = (rows[-1]["sys_created_on"], rows[-1]["number"], rows[-1]["sys_id"])
            remaining = None if remaining is None else remaining - len(kept)

    def _with_cis(self, rows: list[dict], links: list[dict]) -> list[Record]:
        names: dict[str, list[str]] = {}
        for link in links:
            names.setdefault(link["task"], []).append(link["ci_item.name"])
            self._ci_ids.setdefault(link["task"], []).append(link["ci_item"])
        for row in rows:
            self._ci_ids[row["sys_id"]] = sorted(set(self._ci_ids.pop(row["sys_id"], [])))
        return [self._to_record(CHANGE, row, names.get(row["sys_id"], [])) for row in rows]

    def ci_ids_read(self, record: Record) -> list[str] | None:
        """The sys_ids of the change's CIs read with it (names are not unique), or None if not read."""
        return self._ci_ids.get(record.get("id") or "")

    def _current_cis(self, change_id: str, resolve: t.Sequence[str] = ()) -> tuple[list[str], list[dict]]:
        calls = [("GET", _url(TABLE_API + "task_ci", dict(_ci_params(f"task={change_id}"),
                                                          sysparm_fields="sys_id,ci_item.name")))]
        calls += self.names.lookup_calls([("cmdb_ci", "name", name) for name in resolve])
        bodies = self.batch(calls, "read affected CIs")
        self.names.remember(calls[1:], bodies[1:])
        self.names.require("configuration_items", "cmdb_ci", resolve)
        rows = bodies[0]["result"]
        return sorted(row["ci_item.name"] for row in rows), rows

    def _params(self, kind: str, encoded: str, limit: int) -> dict[str, t.Any]:
        return {"sysparm_query": encoded, "sysparm_fields": ",".join(self.record_fields(kind)),
                "sysparm_limit": limit, "sysparm_display_value": "false", "sysparm_exclude_reference_link": "true",
                "sysparm_no_count": "true"}

    def _get_rows(self, table: str, params: t.Mapping[str, t.Any], what: str) -> list[dict]:
        return self.http.request("GET", TABLE_API + table, params=params, what=what).body["result"]

    def _list(self, table: str, encoded: str, fields: list[str], limit: int, what: str,
              display: str = "false") -> list[dict]:
        return self._get_rows(table, {"sysparm_query": encoded, "sysparm_fields": ",".join(fields),
                                      "sysparm_limit": limit, "sysparm_display_value": display,
                                      "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}, what)

    def batch(self, calls: list[tuple[str, str] | tuple[str, str, t.Any]], what: str, idempotent: bool = True,
              recover: t.Callable[[], Response | None] | None = None) -> list[t.Any]:
        """Several Table API calls in one ``POST /api/now/v1/batch``; their JSON bodies, in order."""
        requests_ = []
        for index, call in enumerate(calls):
            body = call[2] if len(call) > 2 else None
            encoded = base64.b64encode(json.dumps(body).encode()).decode() if body is not None else ""
            requests_.append({"id": str(index), "method": call[0], "url": call[1], "body": encoded,
                              "headers": [{"name": "Content-Type", "value": "application/json"},
                                          {"name": "Accept", "value": "application/json"}]})
        answer = self.http.request("POST", "/api/now/v1/batch", json_body={"batch_request_id": "1",
                                   "rest_requests": requests_}, idempotent=idempotent, recover=recover, what=what)
        if answer.body is None:  # recovered: the caller reads again
            return []
        served = {item["id"]: item for item in answer.body.get("serviced_requests") or []}
        results = []
        for index, call in enumerate(calls):
            item = served.get(str(index))
            if item is None:
                raise ItsmTransientError(f"{what}: the instance left part of a batch request unserviced; run again")
            text = base64.b64decode(item.get("body") or "").decode("utf-8", "replace")
            status = int(item.get("status_code") or 0)
            if status == 404 and call[0] == "DELETE":
                results.append(None)  # already gone: what a DELETE wanted
                continue
            results.append(self.http._check(Response(status, {}, _loads(text), text), what).body)
        return results

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, kind: str, record: Record, parsed: inputs.Input, state: str | None, check_mode: bool) -> Record:
        label = _label(kind, record)
        if kind == CHANGE:
            lifecycle.refuse_type_change(label, record.get("type"), parsed.values.get("type"))
        moving = state is not None and state != record.get("state")
        if moving:
            merged = dict(record, **parsed.values)
            missing = lifecycle.missing_fields(kind, state, merged)
            if missing:
                raise ItsmTransitionError(
                    f"state: cannot move {label} to {state}: {', '.join(missing)} must be set; give them with the "
                    "transition or set them first", option="state", value=state, missing=missing)
        self.names.resolve(kind, parsed.values, parsed.cis or [], None)
        if check_mode:
            return extras.approximate_write(kind, record, parsed, state if moving else None)
        body = self._payload(kind, parsed)
        if moving:
            body["state"] = mapping.CHOICES[(kind, "state")][state]
        record_id = self._id_of(kind, record)
        updated = self._patch(kind, record, record_id, body, state if moving else None) if body else (
            record if record.get("id") else self.get(kind, id=record_id))
        # The CIs follow the record's own write, which the instance may still refuse (a business rule): a
        # refused task leaves the CIs as they were (issue 12). Every name was resolved above, before either.
        if parsed.cis is not None and kind == CHANGE:
            updated = self.set_affected_cis(dict(updated, id=record_id), parsed.cis)
        return updated

    def _patch(self, kind: str, record: Record, record_id: str, body: dict[str, t.Any], state: str | None) -> Record:
        """One PATCH of the record (``state``: the transition it makes, verified from the answer)."""
        label = _label(kind, record)
        moving = state is not None
        cis = record.get("configuration_items") if kind == CHANGE else None
        notes = {field: body[field] for field in inputs.NOTE_FIELDS if field in body}
        for part in READ_AHEAD_PARTS:
            self._ahead.pop((part, record_id), None)  # the write may change what was read ahead
        recover = self._journal_guard(record_id, notes, lambda: self._reread(kind, record_id)) if notes else None
        try:
            answer = self.http.request(
                "PATCH", f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}", params=self._params(kind, "", 1),
                json_body=body, idempotent=not notes, recover=recover, what=f"update {label}")
        except ItsmHttpError as error:
            if moving and error.status == 403:
                raise ItsmTransitionError(
                    f"state: the instance refused to move {label} from {record.get('state')} to {state}: "
                    f"{error.reason}", option="state", value=state, current_state=record.get("state")) from None
            raise
        updated = self._to_record(kind, answer.body["result"], cis)
        if moving and not _arrived(kind, updated, state):
            raise ItsmTransitionError(
                f"state: the instance did not move {label} from {record.get('state')} to {state}; it is in "
                f"{updated['state']} (a business rule or workflow on the instance overrode it)",
                option="state", value=state, current_state=updated["state"])
        return updated

    def _reread(self, kind: str, record_id: str) -> Response:
        """The record as stored, in the shape of a write's answer (a write recovered after a failure)."""
        rows = self._get_rows(mapping.TABLES[kind], self._params(kind, f"sys_id={record_id}", 1), f"read {kind} {record_id}")
        return Response(200, {}, {"result": rows[0]}, "")

    def _post_record(self, kind: str, body: dict, correlation_id: str | None) -> dict:
        table = mapping.TABLES[kind]
        params = self._params(kind, "", 1)
        found_by = (f"correlation_id={query.escape(correlation_id)}^{query.open_condition(kind)}"
                    if correlation_id else f"sys_id={body['sys_id']}")

        def recover() -> Response | None:
            rows = self._get_rows(table, dict(params, sysparm_query=found_by), f"look for the {kind} being created")
            return Response(201, {}, {"result": rows[0]}, "") if rows else None

        answer = self.http.request("POST", TABLE_API + table, params=params, json_body=body, idempotent=False,
                                   recover=recover, what=f"create {kind}")
        return answer.body["result"]

    def _one_per_correlation(self, kind: str, row: dict, correlation_id: str) -> dict:
        """The oldest open record of ``correlation_id``; a younger twin just created is retired.

        Forks of a play (a role raising an incident on failure) may each look the correlation id up,
        find nothing and create at once. Every fork orders the twins the same way, so all of them
        keep the oldest and each retires only its own record.
        """
        rows = self._get_rows(mapping.TABLES[kind], self._twins_params(kind, correlation_id),
                              f"look for twins of {kind} {row.get('number')}")
        survivor = rows[0] if rows else row
        if survivor["sys_id"] != row["sys_id"]:
            self._retire(kind, row, survivor)
        return survivor

    def _twins_params(self, kind: str, correlation_id: str) -> dict[str, t.Any]:
        """The oldest open record holding ``correlation_id``: the one every fork keeps."""
        found_by = f"correlation_id={query.escape(correlation_id)}^{query.open_condition(kind)}" + _OLDEST_FIRST
        return self._params(kind, found_by, 1)

    def _twins_call(self, kind: str, correlation_id: str) -> tuple[str, str]:
        return "GET", _url(TABLE_API + mapping.TABLES[kind], self._twins_params(kind, correlation_id))

    def _record_call(self, kind: str, record_id: str) -> tuple[str, str]:
        return "GET", _url(f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}", self._params(kind, "", 1))

    def _retire(self, kind: str, row: dict, survivor: dict) -> None:
        """Delete a twin nobody else has written to; where deleting is refused (itil), cancel it instead."""
        what = f"remove {row.get('number')}, a twin of {survivor.get('number')}"
        try:
            self.http.request("DELETE", f"{TABLE_API}{mapping.TABLES[kind]}/{row['sys_id']}", what=what)
        except ItsmNotFoundError:
            pass  # gone already: a retried DELETE that had landed
        except ItsmHttpError as error:
            if error.status != 403:
                raise
            self.transition(kind, self._to_record(kind, row), "canceled", {"work_notes": (
                f"Duplicate of {survivor.get('number')}, created at the same time with the same correlation_id; "
                f"the work goes on in {survivor.get('number')}.")})

    def _create_standard(self, body: dict, parsed: inputs.Input) -> str:
        template_id = self.names.id("std_change_producer_version", parsed.template)
        locked = [key for key in mapping.TEMPLATE_LOCKED if key in body]
        if locked:
            self.warn(f"template: {parsed.template!r} sets {', '.join(locked)}; ServiceNow keeps the template's "
                      "values for those fields")
        body.pop("std_change_producer_version", None)
        body.pop("type", None)
        # Whether sn_chg_rest keeps a client-supplied sys_id is unverified (servicenow-api.md 2.7, 8.1),
        # so a failed POST is looked up by a correlation id, one of our own when the task gave none.
        body["correlation_id"] = body.get("correlation_id") or f"opsgate-{uuid.uuid4()}"
        found_by = f"correlation_id={query.escape(body['correlation_id'])}^{query.open_condition(CHANGE)}"

        def recover() -> Response | None:
            rows = self._list("change_request", found_by, ["sys_id"], 1, "look for the change being created")
            return Response(200, {}, {"result": {"sys_id": {"value": rows[0]["sys_id"]}}}, "") if rows else None

        answer = self.http.request("POST", f"/api/sn_chg_rest/change/standard/{template_id}", json_body=body,
                                   idempotent=False, recover=recover, what=f"create a change from {parsed.template!r}")
        value = answer.body["result"]["sys_id"]
        return value["value"] if isinstance(value, dict) else value

    def _write_cis(self, change_id: str, added: t.Sequence[str], removed: t.Sequence[str],
                   reads: t.Sequence[tuple[str, str]] = ()) -> list[t.Any]:
        """Add and remove the change's CI rows in one batch, then ``reads`` in it; the reads' bodies, or [] when
        the batch was recovered after a failure (the caller reads again)."""
        self._ci_ids.pop(change_id, None)
        calls: list[t.Any] = [("POST", TABLE_API + "task_ci?sysparm_fields=sys_id",
                               {"task": change_id, "ci_item": self.names.id("cmdb_ci", name)}) for name in added]
        calls += [("DELETE", f"{TABLE_API}task_ci/{sys_id}") for sys_id in removed]
        calls += list(reads)

        def recover() -> Response | None:
            present = self._current_cis(change_id)[0]
            if not set(added) & set(present):
                return None  # nothing landed: safe to send again
            if set(added) <= set(present):
                return Response(200, {}, None, "")
            raise ItsmTransientError(f"configuration_items: only part of the CIs of change {change_id} were "
                                     "written before the connection failed; run the task again to finish")

        bodies = self.batch(calls, "write affected CIs", idempotent=not added, recover=recover)
        return bodies[len(calls) - len(reads):] if bodies else []

    def _payload(self, kind: str, parsed: inputs.Input) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {}
        for key, value in parsed.values.items():
            if key in mapping.REFERENCES[kind]:
                column, table, _name = mapping.REFERENCES[kind][key]
                body[column] = self.names.id(table, value) if value else ""
            elif (kind, key) in mapping.CHOICES:
                body[key] = mapping.CHOICES[(kind, key)][value] if value else ""
            elif key in records.DATE_FIELDS:
                body[key] = query.to_sn_date(value, key)
            else:
                body[key] = value or ""
        if parsed.template:
            column, table, _name = mapping.REFERENCES[CHANGE]["template"]
            body[column] = self.names.id(table, parsed.template)
        for key, value in (parsed.extras or {}).items():
            body[key] = query.to_sn_date(value, f"fields.{key}") if key in mapping.DATE_COLUMNS else (
                "" if value is None else value)
            if key not in self._extras[kind]:
                self._extras[kind].append(key)
        for field, text in parsed.notes:
            body[field] = f"{body[field]}\n\n{text}" if field in body else text
        return body

    def _id_of(self, kind: str, record: Record) -> str:
        if record.get("id"):
            return record["id"]
        found = self.get(kind, number=record["number"]) if record.get("number") else None
        if found is None:
            raise ItsmNotFoundError(f"record: {kind} {record.get('number') or '(never created)'} does not exist on "
                                    f"{self.settings.url}", option="number", value=record.get("number"))
        return found["id"]

    # -- canonical records -----------------------------------------------------------------------

    def _to_record(self, kind: str, row: t.Mapping[str, t.Any], cis: t.Sequence[str] | None = None) -> Record:
        record: Record = {name: None for name in _OUTPUT[kind]}
        record.update(self._canonical_values(kind, row))
        for key, (column, _table, name_column) in mapping.REFERENCES[kind].items():
            record[key] = row.get(f"{column}.{name_column}") or None
        table = mapping.TABLES[kind]
        record.update(backend=self.name, id=row["sys_id"], number=row.get("number") or None,
                      url=f"{self.http.base}/nav_to.do?uri={table}.do%3Fsys_id%3D{row['sys_id']}",
                      active=str(row.get("active")).lower() == "true", updated_at=query.from_sn_date(row.get("sys_updated_on")),
                      opened_at=query.from_sn_date(row.get("opened_at")), closed_at=query.from_sn_date(row.get("closed_at")),
                      fields={col: _extra_value(col, row[col]) for col in self._extras[kind]
                              if row.get(col) not in (None, "")})
        if kind == CHANGE:
            record["configuration_items"] = sorted(cis or [])
        else:
            record["reopen_count"] = int(row.get("reopen_count") or 0)
        return record

    def _canonical_values(self, kind: str, row: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        values: dict[str, t.Any] = {}
        for name in _OUTPUT[kind]:
            if name in mapping.REFERENCES[kind] or name in ("id", "number", "fields") or name not in row:
                continue
            raw = row[name]
            if (kind, name) in _REVERSE:
                values[name] = _REVERSE[(kind, name)].get(raw, raw) if raw not in (None, "") else None
            elif name in records.DATE_FIELDS:
                values[name] = query.from_sn_date(raw)
            else:
                values[name] = raw if raw not in (None, "") else None
        return values


def _arrived(kind: str, record: Record, state: str) -> bool:
    """At the target, or moved on from it by the instance's own automation (an approval engine)."""
    if record["state"] == state:
        return True
    moves = lifecycle.CHANGE_APPROVAL_MOVES.get(record.get("type") or "", {}) if kind == CHANGE else {}
    while state in moves:
        state = moves[state]
        if record["state"] == state:
            return True
    return False


def _after(where: str, after: tuple[str, str, str] | None) -> str:
    """``where`` narrowed to the rows past ``after`` (sys_created_on, number, sys_id): a keyset's next page.

    Numbers are neither unique nor ordered as strings past seven digits, so pages follow creation
    time; the number orders records of the same second, and the sys_id breaks the remaining ties.
    ``^NQ`` makes the OR, in each of ``where``'s groups.
    """
    if after is None:
        return where
    created, number, sys_id = after
    return "^NQ".join(query.scoped_condition(where, past) for past in (
        f"sys_created_on>{created}", f"sys_created_on={created}^number>{number}",
        f"sys_created_on={created}^number={number}^sys_id>{sys_id}"))


def _journal_entry(row: t.Mapping[str, t.Any]) -> Record:
    """A ``sys_journal_field`` row as the contract's journal entry."""
    return {"field": row["element"], "text": row["value"], "author": row["sys_created_by"],
            "created": query.from_sn_date(row["sys_created_on"])}


def _total(headers: t.Mapping[str, str]) -> int | None:
    """``X-Total-Count`` (matches of the query, ignoring limit and offset), or None when absent."""
    value = str(headers.get("X-Total-Count") or "").strip()
    return int(value) if value.isdigit() else None


def _extra_value(column: str, raw: t.Any) -> t.Any:
    """A ``fields`` value in canonical form: dates (known columns, or any in the instance's format) as ISO 8601."""
    if column in mapping.DATE_COLUMNS or (isinstance(raw, str) and _SN_DATETIME.match(raw)):
        return query.from_sn_date(raw)
    return raw


def _ci_params(encoded: str | None) -> dict[str, t.Any]:
    return {"sysparm_query": encoded or "", "sysparm_fields": "task,ci_item,ci_item.name", "sysparm_limit": 10000,
            "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


def _url(path: str, params: t.Mapping[str, t.Any]) -> str:
    return f"{path}?{urllib.parse.urlencode(params)}"


def _loads(text: str) -> t.Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _label(kind: str, record: Record) -> str:
    return record.get("number") or f"the new {kind}"
