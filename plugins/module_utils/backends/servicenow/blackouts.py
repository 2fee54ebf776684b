# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blackout windows of the servicenow backend, for the change gate. FOR INTERNAL COLLECTION USE ONLY.

``blackouts`` expands blackout schedule spans (all pages) of the schedules that apply to the change:
unscoped ones, and scoped ones confirmed by a fresh ``conflict`` row or by their condition (one more
request per poll, only while such a schedule has an entry in range).
"""

from __future__ import annotations

import re
import typing as t

from ... import _records as records
from ..._errors import ItsmValidationError
from . import mapping
from . import query
from . import schedules
from .client import TABLE_API, ServiceNowClient, url

Record = dict[str, t.Any]
_SPAN_FIELDS = ["schedule", "schedule.name", "schedule.time_zone", "name", "start_date_time", "end_date_time",
                "all_day", "repeat_type", "repeat_count", "repeat_until", "days_of_week"]
_SCOPE_FIELDS = ["sys_id", "condition", "applies_to"]
_CONFLICT_FIELDS = ["type", "schedule", "schedule.name", "last_checked", "change.sys_updated_on",
                    "change.conflict_last_run"]
#: rows per request of each blackout read (spans, scopes, conflicts); more pages follow a full one
PAGE_SIZE = 1000
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def blackouts(client: ServiceNowClient, start: str, end: str, record: Record | None,
              ci_ids: t.Sequence[str] | None) -> list[Record]:
    """Blackout windows overlapping [start, end] that apply to the change, one report per occurrence.

    One batch reads the blackout spans, their schedules' scopes and the change's blackout conflicts
    (issues 4 and 5). The spans decide the times. A scoped schedule (``condition``) counts when a
    fresh conflict row says it applies, else when its condition matches the change's CIs, asked in
    one more batch only if such a schedule has a window in range. Without a change only unscoped
    schedules count. A conflict whose schedule has no readable entries stands for the whole window.
    ``ci_ids``: the sys_ids of the change's CIs, as the caller's look-up read them (``include={"cis"}``;
    names are not unique), or None: then the CIs are matched by name.
    """
    low, high = (records.parse_datetime(value, option) for value, option in ((start, "start"), (end, "end")))
    if high < low:
        raise ItsmValidationError("end", end, f"the end must not be before start {start}")
    reads = [("cmn_schedule_span", mapping.BLACKOUT_SCHEDULE_QUERY, _SPAN_FIELDS),
             (mapping.BLACKOUT_SCOPE_TABLE, mapping.BLACKOUT_SCOPE_QUERY, _SCOPE_FIELDS)]
    if record is not None and record.get("id"):
        reads.append(("conflict", f"change={record['id']}^typeIN{','.join(mapping.BLACKOUT_CONFLICT_TYPES)}",
                      _CONFLICT_FIELDS))
    bodies = client.batch([("GET", _table_url(*read)) for read in reads], "read blackout schedules")
    rows = [_all_rows(client, read, body["result"]) for read, body in zip(reads, bodies)]
    spans, scopes, conflicts = rows[0], rows[1], rows[2] if len(rows) > 2 else []
    confirmed = {row["schedule"]: row for row in conflicts if row.get("schedule") and _fresh(row)}
    scoped = {row["sys_id"]: row for row in scopes if (row.get("condition") or "").strip()}
    windows = _schedule_windows(spans, low, high)
    unconfirmed = {key: scoped[key] for key in windows if key in scoped and key not in confirmed}
    applying = _applying(client, record, ci_ids, unconfirmed)
    found = [dict(item, reason=item["reason"] + _scope_note(key, scoped, confirmed))
             for key, items in windows.items() if key not in scoped or key in confirmed or key in applying
             for item in items]
    seen = {row.get("schedule") for row in spans}
    found += [_unread_schedule(row, record, low, high) for key, row in confirmed.items() if key not in seen]
    unique = {(item["name"], item["start"], item["end"]): item for item in found if item is not None}
    return sorted(unique.values(), key=lambda item: (item["start"], item["name"]))


def _all_rows(client: ServiceNowClient, read: tuple[str, str, list[str]], first: list[dict]) -> list[dict]:
    """The batch's first page and every later one: a capped read would drop blackouts unseen."""
    rows, page = list(first), first
    while len(page) == PAGE_SIZE:
        page = client.get_rows(read[0], _table_params(*read, offset=len(rows)), f"read {read[0]} page")
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
        for opens, closes in schedules.span_windows(span, span.get("schedule.time_zone"), low, high):
            windows.setdefault(span.get("schedule") or "", []).append({
                "name": name, "start": records.format_datetime(opens), "end": records.format_datetime(closes),
                "source": "servicenow",
                "reason": f"blackout schedule {span.get('schedule.name')!r}, entry {span.get('name')!r}"})
    return windows


def _applying(client: ServiceNowClient, record: Record | None, ci_ids: t.Sequence[str] | None,
              scoped: dict[str, dict]) -> set[str]:
    """The scoped schedules whose condition matches the change (or its CIs): one batch, one GET each."""
    checks = {key: _scope_query(row, record, ci_ids) for key, row in scoped.items()}
    checks = {key: check for key, check in checks.items() if check is not None}
    if not checks:
        return set()
    calls = [("GET", _table_url(table, encoded, ["sys_id"], limit=1)) for table, encoded in checks.values()]
    bodies = client.batch(
        calls, f"check which blackout schedules apply to {record.get('number') if record else 'the change'}")
    return {key for key, body in zip(checks, bodies) if body["result"]}


def _scope_query(scope: t.Mapping[str, t.Any], record: Record | None,
                 ci_ids: t.Sequence[str] | None) -> tuple[str, str] | None:
    """(table, encoded query) that finds a row when the schedule applies; None when it cannot apply."""
    table = scope.get("applies_to") or "cmdb_ci"
    table = table if _TABLE_NAME.match(table) else "cmdb_ci"
    if record is None or not record.get("id"):
        return None
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


def _table_params(table: str, encoded: str, fields: list[str], limit: int = PAGE_SIZE,
                  offset: int = 0) -> dict[str, t.Any]:
    return {"sysparm_query": f"{encoded}^ORDERBYsys_id", "sysparm_fields": ",".join(fields), "sysparm_limit": limit,
            "sysparm_offset": offset, "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


def _table_url(table: str, encoded: str, fields: list[str], limit: int = PAGE_SIZE) -> str:
    return url(TABLE_API + table, _table_params(table, encoded, fields, limit))
