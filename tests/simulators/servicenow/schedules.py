"""Blackout / maintenance schedules and conflict detection (servicenow-api.md §7).

Span times (``start_date_time``/``end_date_time``) are read as ``YYYYMMDDTHHMMSS`` or
``YYYY-MM-DD HH:MM:SS`` in the schedule's ``time_zone`` (UTC when empty).  Repeats supported:
none, ``daily``, ``weekdays``, ``weekly`` (``days_of_week`` digits, 1 = Monday), ``monthly`` and
``yearly``, each every ``repeat_count`` units until ``repeat_until``; a monthly or yearly occurrence
whose month lacks the span's day (the 31st, 29 February) is skipped, not moved.  Schedule conditions
are encoded queries over the CI table named by ``applies_to``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterator

from . import timeutil
from .wire import SYSTEM, User

if TYPE_CHECKING:
    from .instance import Instance

# Occurrences looked at per span and asked range; the expansion starts next to the range, so this
# bounds the range's length, never the age of the span.
MAX_OCCURRENCES = 5000
DAY_REPEATS = ("daily", "weekdays", "weekly")
MONTH_REPEATS = {"monthly": 1, "yearly": 12}
ACTIVE_CHANGE_STATES = ("-5", "-4", "-3", "-2", "-1")


def _parse_local(value: str, tz_name: str | None) -> datetime | None:
    parsed = timeutil.parse_utc(value)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=timeutil.zone(tz_name))


def _months_later(first: datetime, months: int) -> datetime | None:
    """``first`` moved by whole months; None when that month lacks its day (the 31st, 29 February)."""
    month = first.month - 1 + months
    try:
        return first.replace(year=first.year + month // 12, month=month % 12 + 1)
    except ValueError:
        return None


def _occurrence_starts(first: datetime, repeat: str, count: int, earliest: datetime) -> Iterator[datetime | None]:
    """Candidate starts, from just before ``earliest`` rather than from the span's first date, so a
    span begun years ago still reaches the asked range. None stands for a skipped month."""
    if repeat in MONTH_REPEATS:
        months = MONTH_REPEATS[repeat] * count
        behind = (earliest.year - first.year) * 12 + earliest.month - first.month
        return (_months_later(first, index * months) for index in itertools.count(max(behind // months - 1, 0)))
    if repeat in DAY_REPEATS:
        days = count if repeat == "daily" else 1  # weekdays and weekly test each day against their rule
        behind = (earliest.date() - first.date()).days
        return (first + timedelta(days=index * days) for index in itertools.count(max(behind // days - 1, 0)))
    return iter([first])


def _wanted(moment: datetime, first: datetime, repeat: str, count: int, days: set[int]) -> bool:
    if repeat == "weekdays":
        return moment.isoweekday() <= 5
    if repeat == "weekly":
        weeks = (moment.date() - first.date()).days // 7
        return weeks % count == 0 and (moment.isoweekday() in days if days else moment.weekday() == first.weekday())
    return True


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
    windows = []
    starts = _occurrence_starts(start, repeat, count, (low - length).astimezone(start.tzinfo))
    for moment in itertools.islice(starts, MAX_OCCURRENCES):
        if moment is None:
            continue
        if moment > high or (until is not None and moment.date() > until.date()):
            break
        if _wanted(moment, start, repeat, count, days) and moment + length >= low:
            windows.append((moment, moment + length))
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
