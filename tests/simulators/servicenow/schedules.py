"""Blackout / maintenance schedules and conflict detection (servicenow-api.md §7).

Span times (``start_date_time``/``end_date_time``) are read as ``YYYYMMDDTHHMMSS`` or
``YYYY-MM-DD HH:MM:SS`` in the schedule's ``time_zone`` (UTC when empty).  Repeats supported:
none, ``daily``, ``weekdays``, ``weekly`` (``days_of_week`` digits, 1 = Monday), ``monthly`` and
``yearly``, each every ``repeat_count`` units until ``repeat_until``.  Schedule conditions are
encoded queries over the CI table named by ``applies_to``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import timeutil
from .wire import SYSTEM, User

if TYPE_CHECKING:
    from .instance import Instance

MAX_OCCURRENCES = 5000
ACTIVE_CHANGE_STATES = ("-5", "-4", "-3", "-2", "-1")


def _parse_local(value: str, tz_name: str | None) -> datetime | None:
    parsed = timeutil.parse_utc(value)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=timeutil.zone(tz_name))


def _step(moment: datetime, repeat: str, count: int) -> datetime:
    if repeat in ("daily", "weekdays"):
        return moment + timedelta(days=count if repeat == "daily" else 1)
    if repeat == "weekly":
        return moment + timedelta(days=1)  # days_of_week decides which days count
    if repeat == "monthly":
        month = moment.month - 1 + count
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment.replace(year=moment.year + count)


def span_windows(span: dict, tz_name: str | None, low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
    """Occurrences of one span (UTC-aware datetimes) that overlap [low, high]."""
    start = _parse_local(span.get("start_date_time", ""), tz_name)
    end = _parse_local(span.get("end_date_time", ""), tz_name)
    if start is None or end is None:
        return []
    if span.get("all_day") == "true":
        start = start.replace(hour=0, minute=0, second=0)
        end = end.replace(hour=23, minute=59, second=59)
    length = end - start
    repeat = (span.get("repeat_type") or "").lower()
    count = max(int(span.get("repeat_count") or 1), 1)
    until = _parse_local(span.get("repeat_until", ""), tz_name)
    days = {int(d) for d in (span.get("days_of_week") or "") if d.isdigit()}
    windows, moment = [], start
    for index in range(MAX_OCCURRENCES):
        if moment > high or (until is not None and moment.date() > until.date()):
            break
        wanted = True
        if repeat == "weekdays":
            wanted = moment.isoweekday() <= 5
        elif repeat == "weekly":
            weeks = (moment.date() - start.date()).days // 7
            wanted = weeks % count == 0 and (moment.isoweekday() in days if days else moment.weekday() == start.weekday())
        if wanted and moment + length >= low:
            windows.append((moment, moment + length))
        if not repeat or repeat not in ("daily", "weekdays", "weekly", "monthly", "yearly"):
            break
        moment = _step(moment, repeat, count)
    return windows


def schedule_windows(inst: Instance, schedule: dict, low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
    spans = inst.store.find(inst.schema["cmn_schedule_span"], schedule=schedule["sys_id"])
    windows = []
    for span in spans:
        windows += span_windows(span, schedule.get("time_zone") or None, low, high)
    return windows


def _kind(schedule: dict) -> str:
    kind = (schedule.get("type") or "").lower()
    if kind in ("blackout", "maintenance"):
        return kind
    return {"cmn_schedule_blackout": "blackout", "cmn_schedule_maintenance": "maintenance"}.get(
        schedule.get("sys_class_name", ""), "")


def _ci_matches(inst: Instance, schedule: dict, ci_id: str) -> bool:
    condition = schedule.get("condition") or ""
    applies_to = schedule.get("applies_to") or "cmdb_ci"
    if not condition:
        return True
    table = inst.schema[applies_to] if applies_to in inst.schema else inst.schema["cmdb_ci"]
    rows = inst.query(None, table, f"{condition}^sys_id={ci_id}", limit=1, count=False)[0]
    return bool(rows)


def change_cis(inst: Instance, change: dict) -> list[str]:
    ids = [change["cmdb_ci"]] if change.get("cmdb_ci") else []
    for row in inst.store.find(inst.schema["task_ci"], task=change["sys_id"]):
        if row["ci_item"] and row["ci_item"] not in ids:
            ids.append(row["ci_item"])
    return ids


def detect(inst: Instance, user: User, change: dict) -> list[dict]:
    """Recompute the ``conflict`` rows of a change and set its conflict status."""
    conflicts = inst.schema["conflict"]
    changes = inst.schema["change_request"]
    for old in inst.store.find(conflicts, change=change["sys_id"]):
        inst.store.delete(conflicts, old["sys_id"])
    start, end = timeutil.parse_utc(change.get("start_date", "")), timeutil.parse_utc(change.get("end_date", ""))
    found: list[dict] = []
    if start is not None and end is not None:
        cis = change_cis(inst, change)
        found += _schedule_conflicts(inst, change, cis, start, end)
        found += _overlapping_changes(inst, change, cis, start, end)
    now = inst.clock.now_str()
    for item in found:
        inst.insert(SYSTEM, conflicts, {"change": change["sys_id"], "last_checked": now, **item}, system=True)
    inst.update(SYSTEM, changes, change["sys_id"], {
        "conflict_status": "Conflict" if found else "No Conflict", "conflict_last_run": now,
        "outside_maintenance_schedule": "true" if any(
            i["type"] == "not_in_maintenance_window" for i in found) else "false"}, system=True)
    return inst.store.find(conflicts, change=change["sys_id"])


def _schedule_conflicts(inst: Instance, change: dict, cis: list[str], start: datetime,
                        end: datetime) -> list[dict]:
    found = []
    for schedule in inst.store.select(inst.schema["cmn_schedule"], "1", []):
        kind = _kind(schedule)
        if not kind:
            continue
        windows = schedule_windows(inst, schedule, start - timedelta(days=1), end + timedelta(days=1))
        if kind == "blackout":
            if not any(w_start < end and w_end > start for w_start, w_end in windows):
                continue
            targets = [ci for ci in cis if _ci_matches(inst, schedule, ci)]
            if not cis and not schedule.get("condition"):
                targets = [""]
            found += [{"type": "blackout", "configuration_item": ci, "schedule": schedule["sys_id"]} for ci in targets]
        else:
            covered = any(w_start <= start and w_end >= end for w_start, w_end in windows)
            ci_rows = [inst.store.get(inst.schema["cmdb_ci"], ci) for ci in cis]
            found += [{"type": "not_in_maintenance_window", "configuration_item": row["sys_id"],
                       "schedule": schedule["sys_id"]} for row in ci_rows
                      if row and row.get("maintenance_schedule") == schedule["sys_id"] and not covered]
    return found


def _overlapping_changes(inst: Instance, change: dict, cis: list[str], start: datetime,
                         end: datetime) -> list[dict]:
    found = []
    for ci in cis:
        query = f"cmdb_ci={ci}^stateIN{','.join(ACTIVE_CHANGE_STATES)}^sys_id!={change['sys_id']}"
        others = inst.query(None, inst.schema["change_request"], query, count=False)[0]
        for other in others:
            o_start, o_end = timeutil.parse_utc(other["start_date"]), timeutil.parse_utc(other["end_date"])
            if o_start and o_end and o_start < end and o_end > start:
                found.append({"type": "ci_already_scheduled", "configuration_item": ci,
                              "conflicting_change": other["sys_id"]})
    return found
