# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes and incidents as Jira issues: look-ups, finds, create, update, transition and the journal.
FOR INTERNAL COLLECTION USE ONLY.

- Look-ups: by number (the issue key) or id, one GET; by correlation id, one JQL search on the issue property
  ``opsgate.correlation_id``. A value that is no issue key (``CHG0000001``) names no issue and costs nothing.
- Cloud's search index lags behind writes: every search passes the issues this backend created in
  ``reconcileIssues`` (the last 50), so a record is found right after its creation.
- Create: one POST (fields, CIs and properties together) and one GET. A POST that failed in a way that may
  have landed is looked up by its correlation id before anything is sent again (_http's ``recover``).
- Update: one PUT (fields and properties) and one GET; transition: the workflow's transitions (GET), the POST,
  the properties' PUT when the move sets fields Jira has no field for, and a GET that verifies the new status.
- Journal: work notes are internal comments, comments public ones (the ``sd.public.comment`` property).
"""

from __future__ import annotations

import re
import typing as t

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _lookup as lookup
from ... import _records as records
from ..._errors import ItsmNotFoundError, ItsmTransitionError, ItsmValidationError
from ..._http import Response
from .._base import Found, check_limit
from . import cmdb
from . import jql
from . import links
from .client import API, JsmClient
from .codec import (CORRELATION_PROPERTY, PROPERTIES, RECORD_PROPERTY, SYSTEM, RecordCodec, canonical_time,
                    correlation_value)

Record = dict[str, t.Any]
ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")
COUNT_PAGE = 5000  # Cloud lists up to 5000 ids per page when no field is asked for
#: filters answered after the search (their JQL would be coarser than the canonical rule)
_CHECKED_AFTER = ("approval", "configuration_item", "caused_by", "window_start", "window_end", "opened_after",
                  "opened_before")
FILTERS = {
    records.CHANGE: ("number", "correlation_id", "state", "type", "approval", "active", "assignment_group",
                     "configuration_item", "window_start", "window_end", "opened_after", "opened_before"),
    records.INCIDENT: ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
                       "caused_by", "opened_after", "opened_before"),
}


class JsmRecords:
    """The record operations of one backend: its client, codec and the issues it created (for reconcile)."""

    def __init__(self, client: JsmClient, codec: RecordCodec, where: str):
        self.client = client
        self.codec = codec
        self.where = where
        self.created: list[str] = []

    # -- reads -----------------------------------------------------------------------------------------

    def read(self, kind: str, ref: str) -> Record | None:
        """The record of issue ``ref`` (key or id), None when there is none or it is another kind."""
        try:
            issue = self.client.issue(ref, self.codec.read_fields(kind), PROPERTIES)
        except ItsmNotFoundError:
            return None
        return self.codec.record(kind, issue) if self.codec.kind_of(issue) == kind else None

    def holders(self, kind: str, key: lookup.RecordKey, open_only: bool) -> list[Record]:
        if key.number or key.id:
            if key.number and not ISSUE_KEY.match(key.number):
                return []
            found = self.read(kind, key.number or key.id)
            other_number = bool(key.number) and found is not None and found["number"].upper() != key.number.upper()
            if found is None or (key.id and found["id"] != key.id) or other_number:
                return []
            return [found] if not key.correlation_id or found["correlation_id"] == key.correlation_id else []
        filters: dict[str, t.Any] = {"correlation_id": key.correlation_id}
        if open_only:
            filters["state"] = sorted(lookup.OPEN_STATES[kind])
        return list(self.find(kind, filters))

    def jql(self, kind: str, filters: t.Mapping[str, t.Any]) -> str:
        """The JQL of the filters JQL answers exactly (project, issue type and the rest ANDed)."""
        kind_map = self.codec.of(kind)
        conditions = [jql.equals("project", self.codec.mapping.project, "project"),
                      jql.equals("issuetype", kind_map.issue_type, "kind")]
        for name, value in filters.items():
            if value is None or (isinstance(value, (list, tuple)) and not value) or name in _CHECKED_AFTER:
                continue
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if name == "number":
                conditions.append(jql.one_of("key", values, name) if all(ISSUE_KEY.match(str(v)) for v in values)
                                  else "key IS EMPTY")
            elif name == "correlation_id":
                conditions.append(jql.equals(jql.property_clause(CORRELATION_PROPERTY, "value"), value, name))
            elif name == "state":
                statuses = [status for state in values
                            for status in kind_map.statuses[records.require_choice(name, state, kind_map.statuses)]]
                conditions.append(jql.one_of("status", statuses, name))
            elif name == "active":
                active = [state for state in kind_map.statuses if state not in ("closed", "canceled")]
                statuses = [status for state in active for status in kind_map.statuses[state]]
                conditions.append(("" if value else "NOT ") + jql.one_of("status", statuses, name))
            elif name == "type":
                field = jql.clause_name(self.codec.field_ids(kind)["type"])
                options = [kind_map.to_jsm("type", item) for item in values]
                condition = jql.one_of(field, options, name)
                conditions.append(f"{condition} OR {field} IS EMPTY" if "normal" in values else condition)
            elif name == "assignment_group":
                conditions.append(jql.equals(jql.property_clause(RECORD_PROPERTY, name), value, name))
        return jql.all_of(*conditions) + " ORDER BY created ASC, id ASC"

    def _check_filters(self, kind: str, filters: t.Mapping[str, t.Any]) -> None:
        inputs.query_filters(filters)
        for name, value in filters.items():
            if name not in FILTERS[kind]:
                raise ItsmValidationError("filters", name, f"not a filter of {kind}s; expected one of: "
                                          + ", ".join(FILTERS[kind]))
            if name in ("opened_after", "opened_before", "window_start", "window_end") and value:
                records.normalise_datetime(value, name)
        if filters.get("window_start") and filters.get("window_end"):
            inputs.window(filters["window_start"], filters["window_end"], "window_start", "window_end")

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        records.require_choice("kind", kind, records.KINDS)
        self._check_filters(kind, filters)
        text = self.jql(kind, filters)
        return self._found(kind, text, filters, limit)

    def _found(self, kind: str, text: str, filters: t.Mapping[str, t.Any], limit: int | None) -> t.Iterator[Record]:
        if limit is not None and limit <= 0:
            return
        count = 0
        for issue in self.client.search(text, self.codec.read_fields(kind), reconcile=self.created,
                                        properties=PROPERTIES, what=f"search {kind}s"):
            record = self.codec.record(kind, issue)
            if matches(record, filters):
                yield record
                count += 1
                if limit is not None and count >= limit:
                    return

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int) -> Found:
        """At most ``limit`` records and how many matched: exact when JQL answers every filter."""
        records.require_choice("kind", kind, records.KINDS)
        check_limit(limit)
        self._check_filters(kind, filters)
        text = self.jql(kind, filters)
        if any(filters.get(name) for name in _CHECKED_AFTER):
            found = list(self._found(kind, text, filters, limit + 1))
            return Found(found[:limit], len(found) > limit, None)
        total = self.count(text)
        found = list(self._found(kind, text, filters, limit)) if limit else []
        return Found(found, total > len(found), total)

    def count(self, text: str) -> int:
        """How many issues match ``text``: Data Center's ``total``; on Cloud, the ids counted (no total there)."""
        if self.client.cloud:
            return sum(1 for _issue in self.client.search(text, (), page_size=COUNT_PAGE, reconcile=self.created,
                                                          what="count issues"))
        body = self.client.call("POST", f"{API}/search", "count issues", idempotent=True,
                                json_body={"jql": text, "startAt": 0, "maxResults": 0, "fields": ["id"]})
        return int(body.get("total") or 0)

    # -- writes ----------------------------------------------------------------------------------------

    def check_names(self, kind: str, parsed: inputs.Input) -> list[dict] | None:
        """What the site must have before a write, checked before it: no template (JSM has none), the CIs in
        Assets (their "Affected objects" value is returned; None when the write sets no CI), the cause."""
        if parsed.template:
            raise inputs.unknown_name("template", self.where, "standard change template", parsed.template)
        cause = parsed.values.get("caused_by")
        if cause and not (ISSUE_KEY.match(cause) and self.read(records.CHANGE, cause)):
            raise inputs.unknown_name("caused_by", self.where, "change", cause)
        if kind == records.CHANGE:
            return None if parsed.cis is None else cmdb.affected_value(self.client, parsed.cis)
        if "configuration_item" not in parsed.values:
            return None
        ci = parsed.values["configuration_item"]
        return cmdb.affected_value(self.client, [ci], "configuration_item") if ci else []

    def _link(self, kind: str, key: str, parsed: inputs.Input) -> None:
        cause = parsed.values.get("caused_by") if kind == records.INCIDENT else None
        if cause:
            links.set_caused_by(self.client, key, cause)
        elif "caused_by" in parsed.values and kind == records.INCIDENT:
            links.clear_caused_by(self.client, key)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields, creating=True)
        objects = self.check_names(kind, parsed)
        values = dict(parsed.values)
        if kind == records.CHANGE:
            values.setdefault("type", "normal")
        kind_map = self.codec.of(kind)
        body = {"project": {"key": self.codec.mapping.project}, "issuetype": {"name": kind_map.issue_type},
                **self.codec.issue_fields(kind, {k: v for k, v in values.items() if v is not None}, objects)}
        properties = {RECORD_PROPERTY: self.codec.record_property(kind, None, values, parsed.extras or {})}
        cid = values.get("correlation_id")
        if cid:
            properties[CORRELATION_PROPERTY] = correlation_value(cid)
        if check_mode:
            return approximate(kind, values, parsed)

        def recover() -> Response | None:
            """A create that may have landed: its correlation id says whether it did."""
            found = self.holders(kind, lookup.RecordKey(correlation_id=cid), True) if cid else []
            return Response(201, {}, {"id": found[-1]["id"], "key": found[-1]["number"]}, "") if found else None

        made = self.client.create_issue(body, {k: v for k, v in properties.items() if v is not None},
                                        recover=recover if cid else None)
        self.created.append(str(made["id"]))
        self._link(kind, made["key"], parsed)
        for field, text in parsed.notes:
            self.add_journal(kind, {"id": str(made["id"]), "number": made["key"]}, field, text)
        return self.read(kind, str(made["id"]))

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: lookup.JournalTexts | None = None) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields)
        if kind == records.CHANGE:
            lifecycle.refuse_type_change(record["number"], record.get("type"), parsed.values.get("type"))
        objects = self.check_names(kind, parsed)
        if check_mode:
            return {**record, **parsed.values, **({"configuration_items": parsed.cis} if parsed.cis is not None
                                                  else {})}
        self._edit(kind, record, parsed, objects)
        self._link(kind, record["number"], parsed)
        self._notes(kind, record, parsed.notes, known_notes)
        return self.read(kind, record["id"])

    def _edit(self, kind: str, record: Record, parsed: inputs.Input, objects: list[dict] | None) -> None:
        """One PUT with the fields Jira holds and the properties the values change; nothing when nothing does."""
        issue_fields = self.codec.issue_fields(kind, parsed.values, objects)
        properties = {}
        kept = self.codec.record_property(kind, record, parsed.values, parsed.extras)
        if kept is not None:
            properties[RECORD_PROPERTY] = kept
        if "correlation_id" in parsed.values:
            properties[CORRELATION_PROPERTY] = correlation_value(parsed.values["correlation_id"])
        if issue_fields or properties:
            body = {"fields": issue_fields, "properties": [{"key": k, "value": v} for k, v in properties.items()]}
            self.client.call("PUT", f"{API}/issue/{record['id']}", f"update {record['number']}", json_body=body)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: lookup.JournalTexts | None = None) -> Record:
        """One move of the workflow to ``state``, refused before writing when the mapping, the workflow or the
        fields the state needs say no; verified by reading the status back."""
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("state", state, records.CHANGE_STATES if kind == records.CHANGE
                               else records.INCIDENT_STATES)
        parsed = inputs.parse_input(kind, fields or {})
        objects = self.check_names(kind, parsed)
        current = self.read(kind, record["id"]) or record
        if current["state"] == state:
            return self.update(kind, current, fields or {}, check_mode, known_notes=known_notes)
        merged = {**current, **parsed.values}
        lifecycle.refuse_missing_to_enter(kind, current["number"], state, merged)
        offered = self.client.transitions(current["id"])
        status = self.codec.of(kind).statuses[current["state"]][0]
        move = self.codec.of(kind).choose_transition(current["number"], status, state, offered,
                                                     merged.get("close_code"))
        if check_mode:
            return {**merged, "state": state}
        self.client.transition(current["id"], move["id"], self.codec.issue_fields(kind, parsed.values, objects))
        kept = self.codec.record_property(kind, current, parsed.values, parsed.extras)
        if kept is not None or "correlation_id" in parsed.values:
            self._edit(kind, current, inputs.Input(values={k: v for k, v in parsed.values.items()
                                                           if k not in self.codec.field_ids(kind) and k not in SYSTEM},
                                                   extras=parsed.extras), None)
        self._link(kind, current["number"], parsed)
        self._notes(kind, current, parsed.notes, known_notes)
        moved = self.read(kind, current["id"])
        if moved is None or moved["state"] != state:
            raise ItsmTransitionError(f"state: {current['number']} did not reach {state} through "
                                      f"{move.get('name')!r}; it is {moved and moved['state']}", option="state",
                                      value=state)
        return moved

    # -- journal ---------------------------------------------------------------------------------------

    def journal(self, kind: str, record: Record) -> list[Record]:
        return [entry(comment, self.client.cloud) for comment in self.client.comments(record["id"])]

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return {record_id: self.journal(kind, {"id": record_id}) for record_id in ids}

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False,
                    known_notes: lookup.JournalTexts | None = None) -> None:
        """One internal (work_notes) or public (comments) comment. A POST that may have landed is not sent
        again when the journal carries the text now and did not before (``known_notes``, when given)."""
        records.require_choice("field", field, inputs.NOTE_FIELDS)
        inputs.require_text(field, text)
        if check_mode:
            return

        def recover() -> Response | None:
            if known_notes is not None and known_notes.has(field, text):
                return None
            landed = [item for item in self.journal(kind, record) if (item["field"], item["text"].strip())
                      == (field, text.strip())]
            return Response(201, {}, {}, "") if landed else None

        self.client.add_comment(record["id"], text, internal=field == "work_notes", recover=recover)

    def _notes(self, kind: str, record: Record, notes: t.Sequence[tuple[str, str]],
               known_notes: lookup.JournalTexts | None) -> None:
        for field, text in notes:
            self.add_journal(kind, record, field, text, known_notes=known_notes)


def entry(comment: t.Mapping[str, t.Any], cloud: bool) -> Record:
    properties = {item.get("key"): item.get("value") for item in comment.get("properties") or []
                  if isinstance(item, dict)}
    internal = bool((properties.get("sd.public.comment") or {}).get("internal")) or comment.get("jsdPublic") is False
    author = comment.get("author") or {}
    return {"field": "work_notes" if internal else "comments", "text": str(comment.get("body") or ""),
            "author": author.get("accountId" if cloud else "name") or author.get("displayName"),
            "created": canonical_time(comment.get("created"))}


def matches(record: Record, filters: t.Mapping[str, t.Any]) -> bool:
    """The filters JQL cannot answer exactly, checked on the record as read."""
    def given(name: str) -> t.Any:
        value = filters.get(name)
        return None if value is None or (isinstance(value, (list, tuple)) and not value) else value

    approval = given("approval")
    if approval and record.get("approval") not in ([approval] if isinstance(approval, str) else approval):
        return False
    ci = given("configuration_item")
    if ci and ci not in (record.get("configuration_items") or [record.get("configuration_item")]):
        return False
    if given("caused_by") and record.get("caused_by") != filters["caused_by"]:
        return False
    opened = record.get("opened_at") or ""
    if given("opened_after") and opened < records.normalise_datetime(filters["opened_after"], "opened_after"):
        return False
    if given("opened_before") and opened > records.normalise_datetime(filters["opened_before"], "opened_before"):
        return False
    start, end = record.get("start_date"), record.get("end_date") or record.get("start_date")
    since = records.normalise_datetime(filters["window_start"], "window_start") if given("window_start") else None
    if since and not (end and end > since):
        return False
    if given("window_end") and not (start and start < records.normalise_datetime(filters["window_end"], "window_end")):
        return False
    return True


def approximate(kind: str, values: t.Mapping[str, t.Any], parsed: inputs.Input) -> Record:
    """What a create would make, for check mode: state new, nothing read from the site."""
    fields = records.CHANGE_FIELDS if kind == records.CHANGE else records.INCIDENT_FIELDS
    record: Record = dict.fromkeys(fields)
    record.update(values, backend="jsm", state="new", active=True, fields=dict(parsed.extras or {}))
    if kind == records.CHANGE:
        record.update(approval="not_requested", configuration_items=list(parsed.cis or []))
    else:
        record.update(priority=records.priority_for(values.get("impact"), values.get("urgency")), reopen_count=0)
    return record
