# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Freeze and blackout policy files for change_gate. FOR INTERNAL COLLECTION USE ONLY.

A policy is YAML (safe-loaded) validated with jsonschema, then turned into windows that expand into
concrete UTC occurrences: one-off, or recurring weekly or monthly in the window's own timezone.
Local times are wall-clock times, so a window "22:00 to 06:00 Europe/Paris" is right on both sides
of a DST change; a local time that does not exist or happens twice is read conservatively (a window
starts at the earlier reading and ends at the later one). Also: duration parsing and formatting.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import fnmatch
import functools
import math
import re
import typing as t
import zoneinfo

from ._errors import ItsmUnavailableError, ItsmValidationError
from ._records import CHANGE_TYPES

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)
# Recurring windows are expanded at most this far past the range start: a planned window longer
# than a year is not a change window, and an unbounded loop would be.
HORIZON = dt.timedelta(days=400)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LONG_WEEKDAYS = tuple(calendar.day_name[index].lower() for index in range(7))

_TIME_RE = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_STRINGS = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
_DURATION = {"type": ["string", "number"], "description": "a duration such as 8h, 1d12h, 90m or a number of seconds"}


def _recurrence_schema(days: dict) -> dict:
    time = {"type": "string", "pattern": _TIME_RE, "description": "a time of day HH:MM, 00:00 to 24:00"}
    return {
        "type": "object", "additionalProperties": False, "required": ["days"],
        "properties": {"days": {"type": "array", "minItems": 1, "uniqueItems": True, "items": days},
                       "start": time, "end": time, "duration": _DURATION},
    }


POLICY_SCHEMA: dict[str, t.Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "additionalProperties": False, "required": ["windows"],
    "properties": {
        "version": {"const": 1},
        "timezone": {"type": "string", "minLength": 1},
        "windows": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "reason": {"type": "string"},
                "timezone": {"type": "string", "minLength": 1},
                "start": {"type": "string", "minLength": 1},
                "end": {"type": "string", "minLength": 1},
                "weekly": _recurrence_schema({"enum": list(WEEKDAYS + _LONG_WEEKDAYS)}),
                "monthly": _recurrence_schema({"type": "integer", "minimum": -31, "maximum": 31, "not": {"const": 0},
                                               "description": "a day of the month, 1 to 31, or -1 (last) to -31"}),
                "scope": {"type": "object", "additionalProperties": False, "properties": {
                    "environments": _STRINGS, "ci_patterns": _STRINGS,
                    "change_types": {"type": "array", "minItems": 1, "items": {"enum": list(CHANGE_TYPES)}},
                }},
                "exempt_emergency": {"type": "boolean"},
            },
        }},
    },
}


# -- durations ---------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


#: the longest duration anything takes (ten years): beyond it date arithmetic overflows, and nothing waits that long
MAX_DURATION = 10 * 365 * 86400.0


def parse_duration(value: t.Any, option: str) -> float:
    """Seconds from a number or a text like ``90``, ``10m``, ``1h30m``, ``2d``; refuses negatives."""
    if isinstance(value, bool):
        raise ItsmValidationError(option, value, "expected a duration such as 10m, 1h30m or a number of seconds")
    if isinstance(value, (int, float)):
        seconds = float(value) if abs(value) < MAX_DURATION * 2 else math.inf  # a huge int overflows float()
    else:
        text = str(value).strip().lower().replace(" ", "")
        match = _DURATION_RE.match(text)
        if text and not match:
            try:
                seconds = float(text)
            except ValueError:
                raise ItsmValidationError(
                    option, value, "expected a duration such as 10m, 1h30m, 2d or a number of seconds") from None
        elif not text:
            raise ItsmValidationError(option, value, "expected a duration such as 10m, 1h30m or a number of seconds")
        else:
            days, hours, minutes, secs = (float(part or 0) for part in match.groups())
            seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    if seconds < 0:
        raise ItsmValidationError(option, value, "a duration cannot be negative")
    if not seconds <= MAX_DURATION:  # also NaN; inf and the huge overflow every date sum made with them (issue 14)
        raise ItsmValidationError(option, value, f"expected a duration of at most {MAX_DURATION // 86400:.0f}d")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human text: ``45s``, ``4m10s``, ``2h05m``, ``3d4h``."""
    whole = int(round(abs(seconds)))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


# -- windows -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PolicyContext:
    """What a scope is matched against. None / empty means unknown, and unknown matches (fails closed)."""

    environment: str | None = None
    ci_names: tuple[str, ...] = ()
    change_type: str | None = None


@dataclasses.dataclass(frozen=True)
class Scope:
    environments: tuple[str, ...] = ()
    ci_patterns: tuple[str, ...] = ()
    change_types: tuple[str, ...] = ()

    def matches(self, context: PolicyContext) -> bool:
        # A criterion the gate cannot know counts as a match, so a scoped freeze is never skipped
        # because someone forgot to pass ``environment``.
        if self.environments and context.environment is not None:
            if context.environment.casefold() not in {env.casefold() for env in self.environments}:
                return False
        if self.ci_patterns and context.ci_names:
            patterns = [pattern.casefold() for pattern in self.ci_patterns]
            if not any(fnmatch.fnmatchcase(name.casefold(), pattern)
                       for name in context.ci_names for pattern in patterns):
                return False
        if self.change_types and context.change_type is not None:
            return context.change_type in self.change_types
        return True


@dataclasses.dataclass(frozen=True)
class Occurrence:
    """One concrete freeze or blackout interval [start, end), in UTC."""

    name: str
    start: dt.datetime
    end: dt.datetime
    source: str
    reason: str | None = None

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start <= end and self.end > start


@dataclasses.dataclass(frozen=True)
class Recurrence:
    kind: str  # "weekly" (days are 0=Monday..6) or "monthly" (1..31, -1 = last day)
    days: tuple[int, ...]
    start_minute: int
    end_minute: int | None
    duration: dt.timedelta | None

    def fires_on(self, day: dt.date) -> bool:
        if self.kind == "weekly":
            return day.weekday() in self.days
        last = calendar.monthrange(day.year, day.month)[1]
        return any(day.day == (wanted if wanted > 0 else last + 1 + wanted) for wanted in self.days)

    def span(self) -> dt.timedelta:
        return self.duration if self.duration is not None else DAY


@dataclasses.dataclass(frozen=True)
class FreezeWindow:
    name: str
    source: str
    tz: dt.tzinfo
    once: tuple[dt.datetime, dt.datetime] | None = None
    recurrence: Recurrence | None = None
    scope: Scope = Scope()
    exempt_emergency: bool = False
    reason: str | None = None

    def applies(self, context: PolicyContext) -> bool:
        if self.exempt_emergency and context.change_type == "emergency":
            return False
        return self.scope.matches(context)

    def occurrences(self, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
        """Occurrences overlapping [start, end] (UTC datetimes; start == end asks about one instant)."""
        if self.once is not None:
            found = [self._occurrence(*self.once)]
        else:
            found = self._recurring(start, min(end, start + HORIZON))
        return [occurrence for occurrence in found if occurrence.overlaps(start, end)]

    def _recurring(self, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
        rule = self.recurrence
        day = (start - rule.span()).astimezone(self.tz).date() - DAY
        last = end.astimezone(self.tz).date() + DAY
        found = []
        while day <= last:
            if rule.fires_on(day):
                begins = local_to_utc(_at(day, rule.start_minute), self.tz, "start")
                if rule.duration is not None:
                    ends = begins + rule.duration
                else:
                    end_day = day if rule.end_minute > rule.start_minute else day + DAY
                    ends = local_to_utc(_at(end_day, rule.end_minute), self.tz, "end")
                found.append(self._occurrence(begins, ends))
            day += DAY
        return found

    def _occurrence(self, begins: dt.datetime, ends: dt.datetime) -> Occurrence:
        return Occurrence(self.name, begins, ends, self.source, self.reason)


@dataclasses.dataclass(frozen=True)
class Policy:
    windows: tuple[FreezeWindow, ...]
    source: str

    def occurrences(self, start: dt.datetime, end: dt.datetime, context: PolicyContext) -> list[Occurrence]:
        """Occurrences of every window that applies to ``context`` and overlaps [start, end], by start."""
        found = [occurrence for window in self.windows if window.applies(context)
                 for occurrence in window.occurrences(start, end)]
        return sorted(found, key=lambda occurrence: (occurrence.start, occurrence.name))


def _at(day: dt.date, minute: int) -> dt.datetime:
    # 24:00 is the next midnight; wall-clock arithmetic on the naive value, localised afterwards.
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)


def local_to_utc(naive: dt.datetime, tz: dt.tzinfo, role: str) -> dt.datetime:
    """A naive local time in ``tz`` as UTC. Around DST changes both readings (fold 0 and 1) are tried:
    ``role="start"`` takes the earlier instant, ``"end"`` the later one, so a freeze only grows."""
    readings = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    return min(readings) if role == "start" else max(readings)


# -- loading and validation ------------------------------------------------------------------------

def load_policy(path: str) -> Policy:
    """Read, validate and build the policy in the YAML file ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ItsmValidationError("policy", path, f"the file cannot be read ({exc.strerror or exc})") from None
    yaml = _yaml()
    try:
        data = yaml.load(text, Loader=_policy_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ItsmValidationError("policy", path, f"{where}not valid YAML ({problem})") from None
    if data is None:
        raise ItsmValidationError("policy", path, "the file is empty; expected a mapping with a windows list")
    return build_policy(data, source=path, option="policy")


def build_policy(data: t.Any, source: str, option: str = "policy_data") -> Policy:
    """Validate parsed policy data (schema, then timezones, dates, durations, names) and build it."""
    data = _as_text(data)
    problems = _schema_problems(data)
    if not problems:
        windows, problems = _build_windows(data, source)
    if problems:
        listed = "; ".join(f"{path}: {problem}" for path, problem in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ItsmValidationError(option, source, listed + more)
    return Policy(tuple(windows), source)


def _yaml() -> t.Any:
    # Imported on use: module_utils must import without third-party libraries (ansible-test's import
    # sanity test), and only a policy file needs YAML.
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ItsmUnavailableError("policy: the PyYAML Python library is required to read a policy file; install "
                                   "it on the controller (it comes with ansible-core)") from None
    return yaml


@functools.lru_cache(maxsize=1)
def _policy_loader() -> type:
    """Safe YAML that keeps times of day and dates as text.

    YAML 1.1 reads 22:00 as the number 1320 (base 60) and 2026-12-20 as a date; this loader keeps
    only decimal integers and drops the timestamp resolver.
    """
    yaml = _yaml()
    int_tag, timestamp_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp"
    loader = type("PolicyLoader", (yaml.SafeLoader,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (int_tag, timestamp_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(int_tag, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
    return loader


def _as_text(value: t.Any) -> t.Any:
    """Dates and datetimes (from an inline ``policy_data`` parsed by Ansible's YAML) back to ISO text."""
    if isinstance(value, dict):
        return {key: _as_text(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_text(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _schema_problems(data: t.Any) -> list[tuple[str, str]]:
    try:
        import jsonschema  # pylint: disable=import-outside-toplevel  # only policies need it
    except ImportError:
        # pylint: disable-next=import-outside-toplevel  # ansible's wording, as _http.py uses for requests
        from ansible.module_utils.basic import missing_required_lib

        raise ItsmUnavailableError(f"policy: {missing_required_lib('jsonschema')}", option="policy") from None
    validator = jsonschema.Draft7Validator(POLICY_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda error: [str(part) for part in error.absolute_path])
    return [(_path(error.absolute_path), _describe(error)) for error in errors]


def _path(parts: t.Iterable[t.Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: t.Any) -> str:
    instance, kind = error.instance, error.validator
    if kind == "enum":
        return f"{instance!r} is not allowed; expected one of: " + ", ".join(map(str, error.validator_value))
    if kind == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        unknown = ", ".join(sorted(set(instance) - set(error.schema.get("properties", {}))))
        return f"unknown key {unknown}; allowed keys: {allowed}"
    if kind == "type" and isinstance(instance, int) and error.schema.get("pattern") == _TIME_RE:
        return f"{instance!r} is a number; quote times of day, like '22:00' (YAML reads 22:00 as base-60 1320)"
    if kind in ("pattern", "type", "not", "minimum", "maximum") and "description" in error.schema:
        return f"{instance!r} is not valid; expected {error.schema['description']}"
    return error.message


def _timezone(name: str, path: str, problems: list) -> dt.tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append((path, f"unknown timezone {name!r}; expected an IANA name such as Europe/Paris or UTC"))
        return UTC


def _build_windows(data: dict, source: str) -> tuple[list[FreezeWindow], list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    default_tz = _timezone(data.get("timezone", "UTC"), "timezone", problems)
    windows, seen = [], set()
    for index, raw in enumerate(data["windows"]):
        path = f"windows[{index}]"
        if raw["name"] in seen:
            problems.append((f"{path}.name", f"{raw['name']!r} is used by an earlier window; names must be unique"))
        seen.add(raw["name"])
        tz = _timezone(raw["timezone"], f"{path}.timezone", problems) if "timezone" in raw else default_tz
        kinds = [key for key in ("weekly", "monthly") if key in raw]
        kinds += ["start/end"] if {"start", "end"} & set(raw) else []
        if len(kinds) != 1:
            found = " and ".join(kinds) or "none"
            problems.append((path, f"give exactly one of start/end (one-off), weekly or monthly; found {found}"))
            continue
        scope = raw.get("scope", {})
        window = FreezeWindow(
            name=raw["name"], source=source, tz=tz, reason=raw.get("reason"),
            exempt_emergency=raw.get("exempt_emergency", False),
            scope=Scope(*(tuple(scope.get(key, ())) for key in ("environments", "ci_patterns", "change_types"))),
        )
        if kinds == ["start/end"]:
            window = dataclasses.replace(window, once=_once(raw, tz, path, problems))
        else:
            window = dataclasses.replace(window, recurrence=_recurrence(kinds[0], raw[kinds[0]], f"{path}.{kinds[0]}",
                                                                        problems))
        windows.append(window)
    return windows, problems


def _once(raw: dict, tz: dt.tzinfo, path: str, problems: list) -> tuple[dt.datetime, dt.datetime] | None:
    bounds = []
    for role in ("start", "end"):
        if role not in raw:
            problems.append((path, f"a one-off window needs both start and end; {role} is missing"))
            return None
        try:
            parsed = dt.datetime.fromisoformat(raw[role])
        except ValueError:
            problems.append((f"{path}.{role}", f"{raw[role]!r} is not an ISO 8601 date or date and time, like "
                                               "2026-12-20 or 2026-12-20T18:00 (local to the window's timezone)"))
            return None
        bounds.append(parsed.astimezone(UTC) if parsed.tzinfo else local_to_utc(parsed, tz, role))
    if bounds[1] <= bounds[0]:
        problems.append((f"{path}.end", f"{raw['end']!r} is not after the start {raw['start']!r}"))
        return None
    return bounds[0], bounds[1]


def _recurrence(kind: str, raw: dict, path: str, problems: list) -> Recurrence | None:
    days = tuple(day if isinstance(day, int) else WEEKDAYS.index(day[:3]) for day in raw["days"])
    start, end = _minutes(raw.get("start", "00:00")), raw.get("end")
    duration = None
    if "duration" in raw:
        if end is not None:
            problems.append((path, "give end or duration, not both"))
            return None
        try:
            seconds = parse_duration(raw["duration"], f"{path}.duration")
        except ItsmValidationError:
            seconds = 0
        if seconds <= 0:
            problems.append((f"{path}.duration", f"{raw['duration']!r} is not valid; expected a positive duration "
                                                 "such as 8h, 1d12h or 90m"))
            return None
        duration = dt.timedelta(seconds=seconds)
    end_minute = None if duration is not None else _minutes(end or "24:00")
    if start == 1440:
        problems.append((f"{path}.start", "'24:00' is only allowed as an end"))
        return None
    return Recurrence(kind, days, start, end_minute, duration)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)
