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


def approximate_write(kind: str, record: Record, parsed: inputs.Input, state: str | None) -> Record:
    """What an update or transition (to ``state``) would return, without writing: check mode.

    Predicts what the real write changes, as the local store does: the fields, the affected CIs given
    with them (issue 12), and what entering a state does to ``approval``, ``active`` and the priority.
    """
    approximate = dict(record, **parsed.values)
    if kind == CHANGE and parsed.cis is not None:
        approximate["configuration_items"] = list(parsed.cis)
    if parsed.extras:
        merged = dict(record.get("fields") or {}, **parsed.extras)
        approximate["fields"] = {key: value for key, value in merged.items() if value is not None}
    if kind != CHANGE:
        approximate["priority"] = records.priority_for(approximate.get("impact"), approximate.get("urgency"))
    if state is None:
        return approximate
    approximate["state"] = state
    if kind == CHANGE and state == lifecycle.CHANGE_APPROVAL_REQUESTED_IN.get(record.get("type") or ""):
        approximate["approval"] = "requested"
    if state in (records.CLOSED_CHANGE_STATES if kind == CHANGE else records.CLOSED_INCIDENT_STATES):
        approximate["active"] = False
    return approximate


# -- approvals ---------------------------------------------------------------------------------

APPROVAL_FIELDS = ["sysapproval", "approver.user_name", "state", "comments", "sys_updated_on"]


def approvals(backend: ServiceNowBackend, record: Record) -> list[Record]:
    """The change's approval rows in canonical states, oldest first, with each one's latest comment."""
    change_id = backend._id_of(CHANGE, record)
    rows = backend._list("sysapproval_approver", f"sysapproval={change_id}^ORDERBYsys_created_on", APPROVAL_FIELDS,
                         1000, what=f"read the approvals of {record.get('number') or change_id}", display="all")
    return approvals_by_change(rows).get(change_id, [])


def approvals_for(backend: ServiceNowBackend, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    """The approvals of many changes in one request (``sysapprovalIN``), by change id."""
    if not ids:
        return {}
    rows = backend._list("sysapproval_approver", f"sysapprovalIN{','.join(ids)}^ORDERBYsys_created_on",
                         APPROVAL_FIELDS, 10000, what=f"read the approvals of {len(ids)} changes", display="all")
    return {change_id: [] for change_id in ids} | approvals_by_change(rows)


def approvals_by_change(rows: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, list[Record]]:
    """Approval rows (display=all) in canonical states, grouped by change id, in the rows' order."""
    found: dict[str, list[Record]] = {}
    for row in rows:
        state = mapping.APPROVAL_RECORD_STATES.get(_value(row.get("state")))
        if state is None:
            continue  # cancelled, no longer required, skipped: not part of the decision
        found.setdefault(_value(row.get("sysapproval")), []).append({
            "approver": _value(row.get("approver.user_name")) or None, "state": state,
            "comments": latest_journal_text(_display(row.get("comments"))), "stage": None,
            "decided_at": query.from_sn_date(_value(row.get("sys_updated_on"))) if state in ("approved", "rejected")
            else None})
    return found


def decide_approval(backend: ServiceNowBackend, record: Record, approver: str, decision: str,
                    comments: str | None, check_mode: bool) -> Record:
    records.require_choice("decision", decision, records.APPROVAL_DECISIONS)
    if not str(approver or "").strip():
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
    row_id = pending[0]["sys_id"]

    def recover() -> Response | None:
        # State and comment are one update: the state read back tells whether the comment landed too,
        # so a decision is resent only while its row still waits (a resend never doubles the comment).
        rows = backend._list("sysapproval_approver", f"sys_id={row_id}", ["state"], 1,
                             what=f"look for {approver}'s decision on {label}")
        return Response(200, {}, None, "") if rows and rows[0]["state"] != "requested" else None

    backend.http.request("PATCH", f"/api/now/table/sysapproval_approver/{row_id}",
                         params={"sysparm_fields": "sys_id,state"}, json_body=body, idempotent=False,
                         recover=recover, what=f"record {approver}'s decision on {label}")
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

_SPAN_FIELDS = ["schedule", "schedule.name", "schedule.time_zone", "name", "start_date_time", "end_date_time",
                "all_day", "repeat_type", "repeat_count", "repeat_until", "days_of_week"]
_SCOPE_FIELDS = ["sys_id", "condition", "applies_to"]
_CONFLICT_FIELDS = ["type", "schedule", "schedule.name", "last_checked", "change.sys_updated_on",
                    "change.conflict_last_run"]
_PAGE = 1000
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def blackouts(backend: ServiceNowBackend, start: str, end: str, record: Record | None) -> list[Record]:
    """Blackout windows overlapping [start, end] that apply to the change, one report per occurrence.

    One batch reads the blackout spans, their schedules' scopes and the change's blackout conflicts
    (issues 4 and 5). The spans decide the times. A scoped schedule (``condition``) counts when a
    fresh conflict row says it applies, else when its condition matches the change's CIs, asked in
    one more batch only if such a schedule has a window in range. Without a change only unscoped
    schedules count. A conflict whose schedule has no readable entries stands for the whole window.
    """
    low, high = (records.parse_datetime(value, option) for value, option in ((start, "start"), (end, "end")))
    if high < low:
        raise ItsmValidationError("end", end, f"the end must not be before start {start}")
    reads = [("cmn_schedule_span", mapping.BLACKOUT_SCHEDULE_QUERY, _SPAN_FIELDS),
             (mapping.BLACKOUT_SCOPE_TABLE, mapping.BLACKOUT_SCOPE_QUERY, _SCOPE_FIELDS)]
    if record is not None and record.get("id"):
        reads.append(("conflict", f"change={record['id']}^typeIN{','.join(mapping.BLACKOUT_CONFLICT_TYPES)}",
                      _CONFLICT_FIELDS))
    bodies = backend.batch([("GET", _table_url(*read)) for read in reads], "read blackout schedules")
    rows = [_all_rows(backend, read, body["result"]) for read, body in zip(reads, bodies)]
    spans, scopes, conflicts = rows[0], rows[1], rows[2] if len(rows) > 2 else []
    confirmed = {row["schedule"]: row for row in conflicts if row.get("schedule") and _fresh(row)}
    scoped = {row["sys_id"]: row for row in scopes if (row.get("condition") or "").strip()}
    windows = _schedule_windows(spans, low, high)
    applying = _applying(backend, record, {key: scoped[key] for key in windows if key in scoped and key not in confirmed})
    found = [dict(item, reason=item["reason"] + _scope_note(key, scoped, confirmed))
             for key, items in windows.items() if key not in scoped or key in confirmed or key in applying
             for item in items]
    seen = {row.get("schedule") for row in spans}
    found += [_unread_schedule(row, record, low, high) for key, row in confirmed.items() if key not in seen]
    unique = {(item["name"], item["start"], item["end"]): item for item in found if item is not None}
    return sorted(unique.values(), key=lambda item: (item["start"], item["name"]))


def _all_rows(backend: ServiceNowBackend, read: tuple[str, str, list[str]], first: list[dict]) -> list[dict]:
    """The batch's first page and every later one: a capped read would drop blackouts unseen."""
    rows, page = list(first), first
    while len(page) == _PAGE:
        page = backend._get_rows(read[0], _table_params(*read, offset=len(rows)), f"read {read[0]} page")
        rows += page
    return rows


def _fresh(conflict: t.Mapping[str, t.Any]) -> bool:
    """A conflict row checked at or after the change's last update and conflict run (same UTC text format)."""
    checked = conflict.get("last_checked") or ""
    return bool(checked) and all(checked >= (conflict.get(column) or "")
                                 for column in ("change.sys_updated_on", "change.conflict_last_run"))


def _schedule_windows(spans: list[dict], low: t.Any, high: t.Any) -> dict[str, list[Record]]:
    windows: dict[str, list[Record]] = {}
    for span in spans:
        name = span.get("schedule.name") or span.get("name")
        for opens, closes in query.span_windows(span, span.get("schedule.time_zone"), low, high):
            windows.setdefault(span.get("schedule") or "", []).append({
                "name": name, "start": records.format_datetime(opens), "end": records.format_datetime(closes),
                "source": "servicenow",
                "reason": f"blackout schedule {span.get('schedule.name')!r}, entry {span.get('name')!r}"})
    return windows


def _applying(backend: ServiceNowBackend, record: Record | None, scoped: dict[str, dict]) -> set[str]:
    """The scoped schedules whose condition matches the change (or its CIs): one batch, one GET each."""
    checks = {key: _scope_query(backend, row, record) for key, row in scoped.items()}
    checks = {key: check for key, check in checks.items() if check is not None}
    if not checks:
        return set()
    bodies = backend.batch([("GET", _table_url(table, encoded, ["sys_id"], limit=1))
                            for table, encoded in checks.values()],
                           f"check which blackout schedules apply to {record.get('number') if record else 'the change'}")
    return {key for key, body in zip(checks, bodies) if body["result"]}


def _scope_query(backend: ServiceNowBackend, scope: t.Mapping[str, t.Any],
                 record: Record | None) -> tuple[str, str] | None:
    """(table, encoded query) that finds a row when the schedule applies; None when it cannot apply."""
    table = scope.get("applies_to") or "cmdb_ci"
    table = table if _TABLE_NAME.match(table) else "cmdb_ci"
    if record is None or not record.get("id"):
        return None
    ci_ids = backend.ci_ids_read(record)
    if table in mapping.CHANGE_CONDITION_TABLES:
        restriction = f"sys_id={record['id']}"
    elif ci_ids:
        restriction = "sys_idIN" + ",".join(ci_ids)  # by id: another CI may share a CI's name
    elif ci_ids is None and record.get("configuration_items"):
        restriction = "nameIN" + ",".join(query.escape(name) for name in record["configuration_items"])
    else:
        return None
    return table, query.scoped_condition(scope["condition"].strip(), restriction)


def _scope_note(key: str, scoped: dict[str, dict], confirmed: dict[str, dict]) -> str:
    if key in confirmed and key in scoped:
        return f"; conflict detection found it applies ({confirmed[key]['type']})"
    return f"; its condition matches the change ({scoped[key]['condition'].strip()})" if key in scoped else ""


def _unread_schedule(conflict: t.Mapping[str, t.Any], record: Record, low: t.Any, high: t.Any) -> Record | None:
    """A fresh conflict of a schedule whose entries cannot be read: it covers the change's whole window."""
    opens = record.get("start_date") or records.format_datetime(low)
    closes = record.get("end_date") or records.format_datetime(high)
    if not (opens < records.format_datetime(high) and closes > records.format_datetime(low)):
        return None
    return {"name": conflict.get("schedule.name") or conflict["type"], "start": opens, "end": closes,
            "source": "servicenow conflict",
            "reason": f"conflict detection found a {conflict['type']} conflict for {record.get('number')} and the "
                      "schedule's entries cannot be read, so it is taken to cover the planned window"}


def _table_params(table: str, encoded: str, fields: list[str], limit: int = _PAGE, offset: int = 0) -> dict[str, t.Any]:
    return {"sysparm_query": f"{encoded}^ORDERBYsys_id", "sysparm_fields": ",".join(fields), "sysparm_limit": limit,
            "sysparm_offset": offset, "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


def _table_url(table: str, encoded: str, fields: list[str], limit: int = _PAGE) -> str:
    from .servicenow import _url
    return _url(f"/api/now/table/{table}", _table_params(table, encoded, fields, limit))


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
    name = records.require_file_name("name", os.path.basename(path) if name is None else name)
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
