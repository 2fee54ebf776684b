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
import itertools
import typing as t

from .. import _records as records
from .._errors import ItsmValidationError
from . import _servicenow_mapping as mapping

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python 3.9+ has it; the controller runs 3.11
    zoneinfo = None

SN_FORMAT = "%Y-%m-%d %H:%M:%S"
# Occurrences looked at per span and window: the expansion starts next to the window, so this bounds
# the window's length (about five years of daily entries), never the age of the span.
_MAX_OCCURRENCES = 2000
_REPEAT_DAYS = ("daily", "weekdays", "weekly")
_REPEAT_MONTHS = {"monthly": 1, "yearly": 12}


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
        elif key in _OPENED:
            conditions.append(_OPENED[key] + to_sn_date(value, key))
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


_COMMON = ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
           "opened_after", "opened_before")
# Both ends included; opened_at is a date-time column, compared as a time by the platform.
_OPENED = {"opened_after": "opened_at>=", "opened_before": "opened_at<="}
_FILTERS = {
    records.CHANGE: _COMMON + ("type", "approval", "window_start", "window_end"),
    records.INCIDENT: _COMMON + ("caused_by",),
}


def scoped_condition(condition: str, restriction: str) -> str:
    """``condition`` ANDed with ``restriction`` in each of its ``^NQ`` groups (section 3.1)."""
    return "^NQ".join(f"{group}^{restriction}" if group else restriction for group in condition.split("^NQ"))


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


def _shifted(first: dt.datetime, months: int) -> dt.datetime | None:
    """``first`` moved by whole months, or None when that month lacks its day (the 31st, 29 February).

    servicenow-api.md is silent on such days; we skip the occurrence rather than move it, so a
    blackout never covers a day its owner did not name (documented under backend_blackouts).
    """
    month = first.month - 1 + months
    try:
        return first.replace(year=first.year + month // 12, month=month % 12 + 1)
    except ValueError:
        return None


def _candidates(first: dt.datetime, repeat: str, every: int, earliest: dt.datetime) -> t.Iterator[dt.datetime | None]:
    """Start times of a span's occurrences, beginning just before ``earliest`` rather than at the span's
    first date: a daily blackout set up years ago must still reach today (audit issue 4)."""
    if repeat not in _REPEAT_MONTHS and repeat not in _REPEAT_DAYS:
        yield first
        return
    if repeat in _REPEAT_MONTHS:
        months = _REPEAT_MONTHS[repeat] * every
        behind = (earliest.year - first.year) * 12 + earliest.month - first.month
        for index in itertools.count(max(behind // months - 1, 0)):
            yield _shifted(first, index * months)
        return
    days = every if repeat == "daily" else 1  # weekdays and weekly test each day against their rule
    behind = (earliest.date() - first.date()).days
    for index in itertools.count(max(behind // days - 1, 0)):
        yield first + dt.timedelta(days=index * days)


def _wanted(moment: dt.datetime, first: dt.datetime, repeat: str, every: int, days: set[int]) -> bool:
    if repeat == "weekdays":
        return moment.isoweekday() <= 5
    if repeat == "weekly":
        weeks = (moment.date() - first.date()).days // 7
        return weeks % every == 0 and (moment.isoweekday() in days if days else moment.weekday() == first.weekday())
    return True


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
    every = max(int(span["repeat_count"]) if str(span.get("repeat_count") or "").isdigit() else 1, 1)
    until = _span_time(span.get("repeat_until", ""), zone)
    days = {int(day) for day in str(span.get("days_of_week") or "") if day.isdigit()}
    found = []
    candidates = _candidates(first, repeat, every, (low - length).astimezone(zone))
    for moment in itertools.islice(candidates, _MAX_OCCURRENCES):
        if moment is None:
            continue
        if moment > high or (until is not None and moment.date() > until.date()):
            break
        if _wanted(moment, first, repeat, every, days) and moment + length > low and moment < high:
            found.append((moment.astimezone(dt.timezone.utc), (moment + length).astimezone(dt.timezone.utc)))
    return found
