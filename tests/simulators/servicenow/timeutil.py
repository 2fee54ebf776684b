"""Clock, time-zone conversion and evaluation of the ``javascript:gs.*`` values used in queries.

Stored date-times are UTC strings ``YYYY-MM-DD HH:MM:SS``; display values and the
``gs.dateGenerate`` arguments are in the calling user's time zone.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FMT = "%Y-%m-%d %H:%M:%S"


class Clock:
    """Wall clock with an adjustable offset, so tests can move time (token expiry, date macros)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc).replace(microsecond=0) + self._offset

    def now_str(self) -> str:
        return self.now().strftime(FMT)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = timedelta(seconds=seconds)


def zone(name: str | None) -> timezone | ZoneInfo:
    if not name or name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def parse_utc(value: str) -> datetime | None:
    """Parse a stored value (date-time or date) as UTC; None for anything else."""
    value = (value or "").strip()
    for fmt in (FMT, "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def to_display(value: str, tz_name: str | None) -> str:
    parsed = parse_utc(value)
    if parsed is None or len(value.strip()) <= 10:
        return value
    return parsed.astimezone(zone(tz_name)).strftime(FMT)


def from_local(text: str, tz_name: str | None) -> str:
    """Convert a date-time written in the user's zone to the stored UTC form."""
    parsed = parse_utc(text)
    if parsed is None:
        return text
    local = parsed.replace(tzinfo=zone(tz_name))
    return local.astimezone(timezone.utc).strftime(FMT)


def _local_midnight(day: date, tz_name: str | None) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz_name))


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(FMT)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class ScriptContext:
    """Everything ``javascript:gs.*`` needs: the caller and the current time."""

    def __init__(self, user_id: str, user_name: str, tz_name: str | None, now: datetime) -> None:
        self.user_id = user_id
        self.user_name = user_name
        self.tz_name = tz_name
        self.now = now

    @property
    def today(self) -> date:
        return self.now.astimezone(zone(self.tz_name)).date()

    def day_start(self, days_from_today: int) -> str:
        return _utc(_local_midnight(self.today + timedelta(days=days_from_today), self.tz_name))

    def day_end(self, days_from_today: int) -> str:
        start = _local_midnight(self.today + timedelta(days=days_from_today), self.tz_name)
        return _utc(start + timedelta(days=1, seconds=-1))

    def week_start(self, weeks: int) -> datetime:
        monday = self.today - timedelta(days=self.today.weekday()) + timedelta(weeks=weeks)
        return _local_midnight(monday, self.tz_name)

    def month_start(self, months: int) -> datetime:
        return _local_midnight(_add_months(self.today.replace(day=1), months), self.tz_name)

    def year_start(self, years: int) -> datetime:
        return _local_midnight(date(self.today.year + years, 1, 1), self.tz_name)

    def date_generate(self, day: str, time_part: str = "") -> str:
        if " " in day and not time_part:
            day, time_part = day.split(" ", 1)
        if time_part == "start" or not time_part:
            time_part = "00:00:00"
        elif time_part == "end":
            time_part = "23:59:59"
        return from_local(f"{day} {time_part}", self.tz_name)


def _period(start: datetime, step: dict) -> tuple[str, str]:
    if "months" in step:
        end = _local_month_end(start, step["months"])
    else:
        end = start + timedelta(**step)
    return _utc(start), _utc(end - timedelta(seconds=1))


def _local_month_end(start: datetime, months: int) -> datetime:
    nxt = _add_months(start.date(), months)
    return datetime(nxt.year, nxt.month, 1, tzinfo=start.tzinfo)


def _relative(ctx: ScriptContext, unit: str, amount: int, edge: str) -> str:
    moment = ctx.now - timedelta(**{unit: amount})
    if edge == "start":
        moment = moment.replace(minute=0 if unit == "hours" else moment.minute, second=0)
    elif edge == "end":
        moment = moment.replace(minute=59 if unit == "hours" else moment.minute, second=59)
    return _utc(moment)


def _functions(ctx: ScriptContext) -> dict:
    def period(kind: str, index: int) -> tuple[str, str]:
        if kind == "week":
            return _period(ctx.week_start(index), {"weeks": 1})
        if kind == "month":
            return _period(ctx.month_start(index), {"months": 1})
        if kind == "quarter":
            start = ctx.month_start(-((ctx.today.month - 1) % 3) + 3 * index)
            return _period(start, {"months": 3})
        return _period(ctx.year_start(index), {"months": 12})

    table = {
        "getUserID": lambda: ctx.user_id, "getUserName": lambda: ctx.user_name,
        "nowDateTime": lambda: _utc(ctx.now), "now": ctx.today.isoformat,
        "nowNoTZ": lambda: _utc(ctx.now),
        "beginningOfToday": lambda: ctx.day_start(0), "endOfToday": lambda: ctx.day_end(0),
        "beginningOfYesterday": lambda: ctx.day_start(-1), "endOfYesterday": lambda: ctx.day_end(-1),
        "beginningOfTomorrow": lambda: ctx.day_start(1), "endOfTomorrow": lambda: ctx.day_end(1),
        "daysAgo": lambda n=0: _utc(ctx.now - timedelta(days=int(n))),
        "daysAgoStart": lambda n=0: ctx.day_start(-int(n)), "daysAgoEnd": lambda n=0: ctx.day_end(-int(n)),
        "hoursAgo": lambda n=0: _relative(ctx, "hours", int(n), ""),
        "hoursAgoStart": lambda n=0: _relative(ctx, "hours", int(n), "start"),
        "hoursAgoEnd": lambda n=0: _relative(ctx, "hours", int(n), "end"),
        "minutesAgo": lambda n=0: _relative(ctx, "minutes", int(n), ""),
        "minutesAgoStart": lambda n=0: _relative(ctx, "minutes", int(n), ""),
        "minutesAgoEnd": lambda n=0: _relative(ctx, "minutes", int(n), ""),
        "dateGenerate": ctx.date_generate,
    }
    for kind in ("Week", "Month", "Quarter", "Year"):
        for word, index in (("This", 0), ("Last", -1), ("Next", 1)):
            table[f"beginningOf{word}{kind}"] = (lambda k=kind.lower(), i=index: period(k, i)[0])
            table[f"endOf{word}{kind}"] = (lambda k=kind.lower(), i=index: period(k, i)[1])
    for kind in ("months", "quarters", "years"):
        unit = kind[:-1]
        table[f"{kind}AgoStart"] = (lambda n=0, k=unit: period(k, -int(n))[0])
        table[f"{kind}AgoEnd"] = (lambda n=0, k=unit: period(k, -int(n))[1])
    return table


_CALL = re.compile(r"^\s*gs\.(\w+)\((.*)\)\s*;?\s*$")
_ARG = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|(-?\d+))\s*(?:,|$)""")


def evaluate(expression: str, ctx: ScriptContext) -> str | None:
    """Evaluate a ``javascript:`` value; None when the script is not one the simulator knows."""
    body = expression[len("javascript:"):] if expression.startswith("javascript:") else expression
    body = body.replace("gs.getUser().getID()", "gs.getUserID()")
    match = _CALL.match(body)
    if not match:
        return None
    func = _functions(ctx).get(match.group(1))
    if func is None:
        return None
    args = [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ARG.finditer(match.group(2)) if m.group(0).strip()]
    try:
        return func(*args)
    except (TypeError, ValueError):
        return None


RELATIVE_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days",
                  "week": "weeks", "month": "days", "quarter": "days", "year": "days"}
_UNIT_FACTOR = {"month": 30, "quarter": 91, "year": 365}


def relative_point(ctx: ScriptContext, unit: str, direction: str, amount: str) -> str | None:
    """Moment for ``RELATIVEGT@hour@ago@1`` style conditions."""
    key = RELATIVE_UNITS.get(unit)
    if key is None or not amount.lstrip("-").isdigit():
        return None
    count = int(amount) * _UNIT_FACTOR.get(unit, 1)
    delta = timedelta(**{key: count})
    moment = ctx.now - delta if direction == "ago" else ctx.now + delta
    return _utc(moment)
