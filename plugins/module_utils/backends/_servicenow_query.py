# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encoded queries, dates and schedules of the servicenow backend. FOR INTERNAL COLLECTION USE ONLY.

Pure functions: canonical find filters -> an encoded query (servicenow-api.md section 3), ServiceNow
``YYYY-MM-DD HH:MM:SS`` UTC <-> ISO 8601, standard change templates, and blackout schedule spans
expanded into windows (section 7.1).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from .. import _records as records
from .._errors import ItsmValidationError
from . import _servicenow_mapping as mapping

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python 3.9+ has it; the controller runs 3.11
    zoneinfo = None

SN_FORMAT = "%Y-%m-%d %H:%M:%S"
_MAX_OCCURRENCES = 2000


def to_sn_date(value: t.Any, option: str) -> str:
    if value in (None, ""):
        return ""
    return records.parse_datetime(value, option).strftime(SN_FORMAT)


def from_sn_date(value: t.Any) -> str | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.strptime(str(value)[:19], SN_FORMAT)
    except ValueError:
        return None
    return records.format_datetime(parsed.replace(tzinfo=dt.timezone.utc))


def escape(value: t.Any) -> str:
    """A value inside an encoded query: ``^`` would start a new condition, so it cannot appear."""
    text = str(value)
    if "^" in text:
        raise ItsmValidationError("filters", text, "a value in a ServiceNow query cannot contain '^'")
    return text


def choice(kind: str, field: str, value: str) -> str:
    table = mapping.CHOICES[(kind, field)]
    return table[records.require_choice(field, value, tuple(table))]


def _listed(value: t.Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def find_query(kind: str, filters: t.Mapping[str, t.Any]) -> tuple[list[str], tuple[str, str] | None]:
    """Conditions (ANDed) for canonical filters, and a window to re-check on the rows (empty end dates)."""
    allowed = _FILTERS[kind]
    conditions: list[str] = []
    for key, value in filters.items():
        if key not in allowed:
            raise ItsmValidationError("filters", key, f"not a filter of {kind}s; expected one of: " + ", ".join(allowed))
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if key in ("state", "type", "approval"):
            conditions.append(f"{key}IN" + ",".join(choice(kind, key, item) for item in _listed(value)))
        elif key == "number":
            conditions.append("numberIN" + ",".join(escape(item) for item in _listed(value)))
        elif key == "correlation_id":
            conditions.append(f"correlation_id={escape(value)}")
        elif key == "active":
            conditions.append("active=" + ("true" if value else "false"))
        elif key == "assignment_group":
            conditions.append(f"assignment_group.name={escape(value)}")
        elif key == "configuration_item" and kind == records.CHANGE:
            conditions.append(f"RLQUERYtask_ci.task,>=1^ci_item.name={escape(value)}^ENDRLQUERY")
        elif key == "configuration_item":
            conditions.append(f"cmdb_ci.name={escape(value)}")
        elif key == "caused_by":
            conditions.append(f"caused_by.number={escape(value)}")
    window = None
    start, end = filters.get("window_start"), filters.get("window_end")
    if start:
        conditions.append(f"end_date>{to_sn_date(start, 'window_start')}^ORend_dateISEMPTY")
    if end:
        conditions.append(f"start_date<{to_sn_date(end, 'window_end')}")
    if start and end and records.parse_datetime(end, "window_end") < records.parse_datetime(start, "window_start"):
        raise ItsmValidationError("window_end", end, f"the end must not be before window_start {start}")
    if start:
        window = (records.normalise_datetime(start, "window_start"), "")
    return conditions, window


def in_window(record: t.Mapping[str, t.Any], window: tuple[str, str] | None) -> bool:
    """The overlap rule of the contract for a change without an end date: it lasts an instant."""
    if window is None or record.get("end_date"):
        return True
    return bool(record.get("start_date")) and record["start_date"] > window[0]


def open_condition(kind: str) -> str:
    if kind == records.INCIDENT:
        return "stateIN" + ",".join(mapping.CHOICES[(kind, "state")][s] for s in records.OPEN_INCIDENT_STATES)
    return "stateNOT IN" + ",".join(mapping.CHOICES[(kind, "state")][s] for s in records.CLOSED_CHANGE_STATES)


_COMMON = ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item")
_FILTERS = {
    records.CHANGE: _COMMON + ("type", "approval", "window_start", "window_end"),
    records.INCIDENT: _COMMON + ("caused_by",),
}


# -- templates ---------------------------------------------------------------------------------

def template_values(encoded: str) -> dict[str, str]:
    """``std_change_producer_version.template`` (``col=value^col=value^EQ``) as a dict of raw values."""
    values = {}
    for part in (encoded or "").split("^"):
        column, sep, value = part.partition("=")
        if sep and column and part != "EQ":
            values[column] = value
    return values


# -- schedules ---------------------------------------------------------------------------------

def _zone(name: str | None) -> dt.tzinfo:
    if name and zoneinfo is not None:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return dt.timezone.utc


def _span_time(value: str, zone: dt.tzinfo) -> dt.datetime | None:
    text = (value or "").strip()
    for pattern in ("%Y%m%dT%H%M%S", SN_FORMAT, "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    return None


def _next(moment: dt.datetime, repeat: str, every: int) -> dt.datetime:
    if repeat == "daily":
        return moment + dt.timedelta(days=every)
    if repeat in ("weekdays", "weekly"):
        return moment + dt.timedelta(days=1)
    if repeat == "monthly":
        month = moment.month - 1 + every
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment.replace(year=moment.year + every)


def span_windows(span: t.Mapping[str, str], zone_name: str | None, low: dt.datetime,
                 high: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Occurrences of one schedule entry that overlap [low, high], as aware UTC datetimes."""
    zone = _zone(zone_name)
    first = _span_time(span.get("start_date_time", ""), zone)
    last = _span_time(span.get("end_date_time", ""), zone)
    if first is None or last is None:
        return []
    if str(span.get("all_day")).lower() == "true":
        first = first.replace(hour=0, minute=0, second=0)
        last = last.replace(hour=23, minute=59, second=59)
    length = last - first
    repeat = (span.get("repeat_type") or "").lower()
    every = max(int(span.get("repeat_count") or 1), 1)
    until = _span_time(span.get("repeat_until", ""), zone)
    days = {int(day) for day in str(span.get("days_of_week") or "") if day.isdigit()}
    found, moment = [], first
    for _index in range(_MAX_OCCURRENCES):
        if moment > high or (until is not None and moment.date() > until.date()):
            break
        wanted = True
        if repeat == "weekdays":
            wanted = moment.isoweekday() <= 5
        elif repeat == "weekly":
            weeks = (moment.date() - first.date()).days // 7
            wanted = weeks % every == 0 and (moment.isoweekday() in days if days else moment.weekday() == first.weekday())
        if wanted and moment + length > low and moment < high:
            found.append((moment.astimezone(dt.timezone.utc), (moment + length).astimezone(dt.timezone.utc)))
        if repeat not in ("daily", "weekdays", "weekly", "monthly", "yearly"):
            break
        moment = _next(moment, repeat, every)
    return found
