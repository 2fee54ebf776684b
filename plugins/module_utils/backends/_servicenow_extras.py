# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approvals, blackouts and attachments of the servicenow backend. FOR INTERNAL COLLECTION USE ONLY.

Functions of a ServiceNowBackend, kept apart so servicenow.py stays one screenful of record logic.
"""

from __future__ import annotations

import mimetypes
import os
import re
import typing as t

from .. import _lifecycle as lifecycle
from .. import _records as records
from .._errors import ItsmTransitionError, ItsmValidationError
from .._http import Response
from . import _local_schema as inputs
from . import _servicenow_mapping as mapping
from . import _servicenow_query as query
from ._base import read_attachment

if t.TYPE_CHECKING:
    from .servicenow import ServiceNowBackend

Record = dict[str, t.Any]
CHANGE = records.CHANGE
ATTACHMENT_API = "/api/now/attachment"
_ATTACHMENT_FIELDS = "sys_id,file_name,size_bytes,hash,content_type,sys_created_on,download_link"
# A journal's display value: "<date> - <user> (<label>)\n<text>\n\n", newest first.
_JOURNAL_HEADER = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - .* \([^()]*\)$", re.MULTILINE)


# -- check mode ---------------------------------------------------------------------------------

def approximate_new(backend: ServiceNowBackend, kind: str, parsed: inputs.Input) -> Record:
    """What a create would return, without writing: check mode."""
    values = dict(parsed.values)
    if kind == CHANGE:
        template = backend.template(parsed.template) if parsed.template else None
        values = {**((template or {}).get("fields") or {}), **values}
        values["type"] = "standard" if parsed.template else values.get("type") or "normal"
        values.update(approval="approved" if values["type"] == "standard" else "not_requested",
                      template=parsed.template, configuration_items=parsed.cis or [])
    else:
        values = {"impact": "low", "urgency": "low", **{k: v for k, v in values.items() if v is not None}}
        values.update(priority=records.priority_for(values["impact"], values["urgency"]), reopen_count=0)
    record = {name: None for name in (records.CHANGE_FIELDS if kind == CHANGE else records.INCIDENT_FIELDS)}
    record.update(values, backend=backend.name, state="new", active=True, opened_at=inputs.now(),
                  fields=dict(parsed.extras or {}))
    return record


# -- approvals ---------------------------------------------------------------------------------

def approvals(backend: ServiceNowBackend, record: Record) -> list[Record]:
    """The change's approval rows in canonical states, oldest first, with each one's latest comment."""
    change_id = backend._id_of(CHANGE, record)
    rows = backend._list("sysapproval_approver", f"sysapproval={change_id}^ORDERBYsys_created_on",
                         ["approver.user_name", "state", "comments", "sys_updated_on"], 1000,
                         what=f"read the approvals of {record.get('number') or change_id}", display="all")
    found = []
    for row in rows:
        state = mapping.APPROVAL_RECORD_STATES.get(_value(row.get("state")))
        if state is None:
            continue  # cancelled, no longer required, skipped: not part of the decision
        found.append({"approver": _value(row.get("approver.user_name")) or None, "state": state,
                      "comments": latest_journal_text(_display(row.get("comments"))), "stage": None,
                      "decided_at": query.from_sn_date(_value(row.get("sys_updated_on")))
                      if state in ("approved", "rejected") else None})
    return found


def decide_approval(backend: ServiceNowBackend, record: Record, approver: str, decision: str,
                    comments: str | None, check_mode: bool) -> Record:
    records.require_choice("decision", decision, records.APPROVAL_DECISIONS)
    if not approver:
        raise ItsmValidationError("approver", approver, "name the person who decides")
    if decision == "rejected" and not comments:
        raise ItsmValidationError("comments", comments, "a rejection needs comments saying why")
    change_id = backend._id_of(CHANGE, record)
    label = record.get("number") or change_id
    rows = backend._list("sysapproval_approver", f"sysapproval={change_id}^approver.user_name={query.escape(approver)}",
                         ["sys_id", "state"], 100, what=f"read the approvals of {label}")
    pending = [row for row in rows if row["state"] == "requested"]
    if not pending:
        if any(row["state"] == decision for row in rows):
            return backend.get(CHANGE, id=change_id) or record  # decided already: a re-run changes nothing
        raise ItsmTransitionError(
            f"{label} is not awaiting approval from {approver} (state {record.get('state')}, approval "
            f"{record.get('approval')}); only an approver with a pending approval can decide", option="approver",
            value=approver)
    if check_mode:
        outcome = lifecycle.approval_outcome(record.get("type") or "normal", record.get("state") or "", decision)
        return dict(record, state=outcome[0], approval=outcome[1]) if outcome else dict(record)
    body = {"state": decision}
    if comments:
        body["comments"] = comments
    backend.http.request("PATCH", f"/api/now/table/sysapproval_approver/{pending[0]['sys_id']}",
                         params={"sysparm_fields": "sys_id,state"}, json_body=body,
                         what=f"record {approver}'s decision on {label}")
    return backend.get(CHANGE, id=change_id) or record


def latest_journal_text(display: str | None) -> str | None:
    """The newest entry's text from a journal field's display value."""
    if not display:
        return None
    headers = list(_JOURNAL_HEADER.finditer(display))
    if not headers:
        return display.strip() or None
    end = headers[1].start() if len(headers) > 1 else len(display)
    return display[headers[0].end():end].strip() or None


def _value(cell: t.Any) -> t.Any:
    return cell.get("value") if isinstance(cell, dict) else cell


def _display(cell: t.Any) -> t.Any:
    return cell.get("display_value") if isinstance(cell, dict) else cell


# -- blackouts ---------------------------------------------------------------------------------

def blackouts(backend: ServiceNowBackend, start: str, end: str, record: Record | None) -> list[Record]:
    """Blackout schedule windows overlapping [start, end], plus the change's blackout conflicts (one request)."""
    low, high = (records.parse_datetime(value, option) for value, option in ((start, "start"), (end, "end")))
    if high < low:
        raise ItsmValidationError("end", end, f"the end must not be before start {start}")
    span_fields = ["name", "schedule.name", "schedule.time_zone", "start_date_time", "end_date_time", "all_day",
                   "repeat_type", "repeat_count", "repeat_until", "days_of_week"]
    calls = [("GET", _table_url("cmn_schedule_span", mapping.BLACKOUT_SCHEDULE_QUERY, span_fields))]
    if record is not None and record.get("id"):
        calls.append(("GET", _table_url(
            "conflict", f"change={record['id']}^typeIN{','.join(mapping.BLACKOUT_CONFLICT_TYPES)}",
            ["type", "schedule.name", "last_checked"])))
    bodies = backend.batch(calls, "read blackout schedules")
    found = []
    for span in bodies[0]["result"]:
        for opens, closes in query.span_windows(span, span.get("schedule.time_zone"), low, high):
            found.append({"name": span.get("schedule.name") or span.get("name"), "start": records.format_datetime(opens),
                          "end": records.format_datetime(closes), "source": "servicenow",
                          "reason": f"blackout schedule {span.get('schedule.name')!r}, entry {span.get('name')!r}"})
    for conflict in bodies[1]["result"] if len(bodies) > 1 else []:
        opens = record.get("start_date") or records.format_datetime(low)
        closes = record.get("end_date") or records.format_datetime(high)
        if opens < records.format_datetime(high) and closes > records.format_datetime(low):
            found.append({"name": conflict.get("schedule.name") or conflict["type"], "start": opens, "end": closes,
                          "source": "servicenow conflict",
                          "reason": f"conflict detection found a {conflict['type']} conflict for {record.get('number')}"})
    return sorted(found, key=lambda item: (item["start"], item["name"]))


def _table_url(table: str, encoded: str, fields: list[str]) -> str:
    from .servicenow import _url
    return _url(f"/api/now/table/{table}", {"sysparm_query": encoded, "sysparm_fields": ",".join(fields),
                                            "sysparm_limit": 1000, "sysparm_exclude_reference_link": "true",
                                            "sysparm_no_count": "true"})


# -- attachments -------------------------------------------------------------------------------

def attachments(backend: ServiceNowBackend, kind: str, record: Record) -> list[Record]:
    """``{id, name, size, sha256, content_type, created, url}`` of the record's attachments, oldest first."""
    record_id = backend._id_of(kind, record)
    answer = backend.http.request("GET", ATTACHMENT_API, params={
        "sysparm_query": f"table_name={mapping.TABLES[kind]}^table_sys_id={record_id}^ORDERBYsys_created_on",
        "sysparm_fields": _ATTACHMENT_FIELDS, "sysparm_limit": 1000}, what=f"list attachments of {record.get('number')}")
    return [_attachment(row) for row in answer.body["result"]]


def add_attachment(backend: ServiceNowBackend, kind: str, record: Record, path: str, name: str | None,
                   content_type: str | None, check_mode: bool) -> tuple[bool, Record]:
    """Upload unless a file of this name with the same sha256 is attached; an older version is replaced."""
    content, digest = read_attachment(path)
    name = inputs.require_text("name", name or os.path.basename(path))
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    existing = attachments(backend, kind, record)
    same = [item for item in existing if item["name"] == name]
    for item in same:
        if item["sha256"] == digest:
            return False, item
    if check_mode:
        return True, {"id": None, "name": name, "size": len(content), "sha256": digest, "content_type": content_type,
                      "created": None, "url": None}

    def recover() -> Response | None:
        landed = [item for item in attachments(backend, kind, record) if item["name"] == name
                  and item["sha256"] == digest]
        return Response(201, {}, {"result": {"sys_id": landed[0]["id"]}}, "") if landed else None

    answer = backend.http.request(
        "POST", f"{ATTACHMENT_API}/file", params={"table_name": mapping.TABLES[kind],
                                                  "table_sys_id": backend._id_of(kind, record), "file_name": name},
        data=content, headers={"Content-Type": content_type}, idempotent=False, recover=recover,
        what=f"attach {name} to {record.get('number')}")
    for item in same:
        backend.http.request("DELETE", f"{ATTACHMENT_API}/{item['id']}", what=f"replace {name} on {record.get('number')}")
    new_id = answer.body["result"]["sys_id"]
    added = [item for item in attachments(backend, kind, record) if item["id"] == new_id]
    return True, added[0] if added else {"id": new_id, "name": name, "size": len(content), "sha256": digest,
                                         "content_type": content_type, "created": None, "url": None}


def _attachment(row: t.Mapping[str, t.Any]) -> Record:
    return {"id": row["sys_id"], "name": row.get("file_name"), "size": int(row.get("size_bytes") or 0),
            "sha256": row.get("hash") or None, "content_type": row.get("content_type") or None,
            "created": query.from_sn_date(row.get("sys_created_on")), "url": row.get("download_link") or None}
