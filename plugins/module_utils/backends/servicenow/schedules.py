# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blackout schedule entries of the servicenow backend, expanded into windows. FOR INTERNAL COLLECTION USE ONLY.

Pure functions: a ``cmn_schedule_span`` row (start, end, repeat rule, the schedule's time zone) -> the
occurrences that overlap a range (servicenow-api.md section 7.1).
"""

from __future__ import annotations

import datetime as dt
import itertools
import typing as t

from .query import SN_FORMAT

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python 3.9+ has it; the controller runs 3.11
    zoneinfo = None

# Occurrences looked at per span and window: the expansion starts next to the window, so this bounds
# the window's length (about five years of daily entries), never the age of the span.
_MAX_OCCURRENCES = 2000
_REPEAT_DAYS = ("daily", "weekdays", "weekly")
_REPEAT_MONTHS = {"monthly": 1, "yearly": 12}


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
