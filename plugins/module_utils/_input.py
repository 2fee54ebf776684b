# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical input: what a task asks a backend to write, parsed and validated once. FOR INTERNAL COLLECTION USE ONLY.

Below every backend and backend-neutral: field names, choices, dates, notes, CI names and extras are
checked here, so every backend refuses the same input with the same message naming the option, and
each backend only maps what passed.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import typing as t

from . import _records as records
from ._errors import ItsmValidationError
from ._records import CHANGE, CHANGE_WRITABLE, INCIDENT, INCIDENT_WRITABLE

_WRITABLE = {CHANGE: CHANGE_WRITABLE, INCIDENT: INCIDENT_WRITABLE}

# -- caller input ----------------------------------------------------------------------------------

NOTE_FIELDS = ("work_notes", "comments")
# A template makes standard changes, and a correlation id shared by all its changes would merge them.
TEMPLATE_FIELDS = tuple(name for name in CHANGE_WRITABLE if name not in ("type", "correlation_id"))
_CHOICES: dict[str, dict[str, t.Sequence[str]]] = {
    CHANGE: {"type": records.CHANGE_TYPES, "risk": records.RISKS, "impact": records.LEVELS,
             "close_code": records.CHANGE_CLOSE_CODES},
    INCIDENT: {"impact": records.LEVELS, "urgency": records.LEVELS, "close_code": records.INCIDENT_CLOSE_CODES,
               "hold_reason": records.HOLD_REASONS},
}
_INPUT_EXTRAS = {CHANGE: ("configuration_items", "fields") + NOTE_FIELDS, INCIDENT: ("fields",) + NOTE_FIELDS}


@dataclasses.dataclass
class Input:
    """Caller's fields, validated and sorted by where they go."""

    values: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    extras: dict[str, t.Any] | None = None
    notes: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    cis: list[str] | None = None
    template: str | None = None


def parse_input(kind: str, fields: t.Mapping[str, t.Any], creating: bool = False,
                allowed: tuple[str, ...] | None = None) -> Input:
    """Validate the caller's fields (names, choices, dates) and sort them into an Input."""
    if allowed is None:
        allowed = _WRITABLE[kind] + _INPUT_EXTRAS[kind] + (("template",) if creating and kind == CHANGE else ())
    parsed = Input()
    for key, value in fields.items():
        if key not in allowed:
            raise ItsmValidationError(key, value, f"not a field of {kind}s that can be set here; expected one "
                                      "of: " + ", ".join(allowed))
        if key in NOTE_FIELDS:
            parsed.notes.extend([(key, require_text(key, value))] if value else [])
        elif key == "fields":
            json_extras(value)
            parsed.extras = dict(value)
        elif key == "configuration_items":
            parsed.cis = ci_names(value)
        elif key == "template":
            parsed.template = require_text("template", value)
        else:
            parsed.values[key] = _clean(kind, key, value)
    return parsed


def _clean(kind: str, key: str, value: t.Any) -> t.Any:
    if value is None or value == "":
        return None
    if key in records.DATE_FIELDS:
        return records.normalise_datetime(value, key)
    if key in _CHOICES[kind]:
        return records.require_choice(key, value, _CHOICES[kind][key])
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ItsmValidationError(key, value, "expected text")
    return str(value)


# -- values --------------------------------------------------------------------------------------

def require_text(option: str, value: t.Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ItsmValidationError(option, value, "expected non-empty text")
    return value


def ci_names(names: t.Any) -> list[str]:
    names = [names] if isinstance(names, str) else list(names or [])
    return sorted({require_text("configuration_items", name).strip() for name in names})


def json_extras(value: t.Any) -> str:
    if not isinstance(value, t.Mapping):
        raise ItsmValidationError("fields", value, "expected a dict of backend-specific extras")
    try:
        return json.dumps(dict(value), sort_keys=True)
    except (TypeError, ValueError):
        raise ItsmValidationError("fields", value, "expected values that JSON can hold (text, numbers, "
                                  "booleans, lists, dicts)") from None


def window(start: t.Any, end: t.Any, start_option: str, end_option: str) -> tuple[str, str]:
    start = records.normalise_datetime(start, start_option)
    end = records.normalise_datetime(end, end_option)
    if start is None or end is None:
        missing = start_option if start is None else end_option
        raise ItsmValidationError(missing, None, "expected an ISO 8601 date and time with a timezone")
    if end < start:
        raise ItsmValidationError(end_option, end, f"the end must not be before {start_option} {start}")
    return start, end


def now() -> str:
    return records.format_datetime(records.utcnow())


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"
