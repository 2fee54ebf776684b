# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical input: what a task asks a backend to write, parsed and validated once. FOR INTERNAL COLLECTION USE ONLY.

Below every backend and backend-neutral: field names, choices, dates, notes, CI names and extras are
checked here, so every backend refuses the same input with the same message naming the option, and
each backend only maps what passed. So are the values a backend puts in a query (names, numbers,
correlation ids: no ``^``, which starts a new condition of a ServiceNow encoded query, no control
characters, and no ``javascript:`` value, which ServiceNow evaluates as a script), CI classes and
relationships, and the messages of what only the system can tell (a name it has no record of), which
each backend sends with its own ``where`` (servicenow: the instance URL; local: ``local_db <path>``).
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import re
import typing as t
import unicodedata

from . import _records as records
from ._cmdb import FIELD_NAME
from ._errors import ItsmNotFoundError, ItsmValidationError
from ._records import CHANGE, CHANGE_WRITABLE, INCIDENT, PROBLEM, WRITABLE

# -- caller input ----------------------------------------------------------------------------------

NOTE_FIELDS = ("work_notes", "comments")
# A template pre-fills what describes the work, never identity (a correlation id shared by all its changes would
# merge them), type (a template makes standard changes), outcome or schedule.
TEMPLATE_FIELDS = tuple(name for name in CHANGE_WRITABLE
                        if name not in ("type", "close_code", "close_notes", "correlation_id", "start_date",
                                        "end_date"))
#: fields whose value names a record the backend looks up (a group, a user, a CI, a change): query values
QUERY_FIELDS = ("assignment_group", "assigned_to", "requested_by", "caller", "configuration_item", "caused_by",
                "problem", "duplicate_of")
#: fields whose value is one record's number (an incident's cause and problem, a problem's original): no comma either
NUMBER_FIELDS = ("caused_by", "problem", "duplicate_of")
#: find filters whose value names a record (or several): query values too
QUERY_FILTERS = ("number", "assignment_group", "configuration_item", "caused_by", "problem")
#: ServiceNow's correlation_id column holds 100 characters; every backend keeps to it (issue 16, D3)
CORRELATION_ID_LENGTH = 100
#: a CI class may be given as the ServiceNow table it names (cmdb_ci_linux_server for linux_server)
CI_TABLE_PREFIX = "cmdb_ci_"
_CI_TABLE = re.compile(r"^[a-z][a-z0-9_]*$")
_CHOICES: dict[str, dict[str, t.Sequence[str]]] = {
    CHANGE: {"type": records.CHANGE_TYPES, "risk": records.RISKS, "impact": records.LEVELS,
             "close_code": records.CHANGE_CLOSE_CODES},
    INCIDENT: {"impact": records.LEVELS, "urgency": records.LEVELS, "close_code": records.INCIDENT_CLOSE_CODES,
               "hold_reason": records.HOLD_REASONS},
    PROBLEM: {"impact": records.LEVELS, "urgency": records.LEVELS, "resolution_code": records.PROBLEM_RESOLUTION_CODES},
}
_INPUT_EXTRAS = {CHANGE: ("configuration_items", "fields") + NOTE_FIELDS, INCIDENT: ("fields",) + NOTE_FIELDS,
                 PROBLEM: ("fields",) + NOTE_FIELDS}


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
        allowed = WRITABLE[kind] + _INPUT_EXTRAS[kind] + (("template",) if creating and kind == CHANGE else ())
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
            parsed.template = query_text("template", require_text("template", value))
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
    if key == "correlation_id":
        return require_correlation_id(value)
    if key in NUMBER_FIELDS:
        return record_number(value, key)
    return query_text(key, value) if key in QUERY_FIELDS else str(value)


# -- values --------------------------------------------------------------------------------------

def require_text(option: str, value: t.Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ItsmValidationError(option, value, "expected non-empty text")
    return value


def ci_names(names: t.Any, option: str = "configuration_items") -> list[str]:
    """CI names, blanks around each taken off; a control character is refused before (``web01\n`` is not web01)."""
    names = [names] if isinstance(names, str) else list(names or [])
    return sorted({query_text(option, require_text(option, name)).strip() for name in names})


def json_extras(value: t.Any) -> str:
    if not isinstance(value, t.Mapping):
        raise ItsmValidationError("fields", value, "expected a dict of backend-specific extras")
    try:
        return json.dumps(dict(value), sort_keys=True)
    except (TypeError, ValueError):
        raise ItsmValidationError("fields", value, "expected values that JSON can hold (text, numbers, "
                                  "booleans, lists, dicts)") from None


def template_fields(fields: t.Any, option: str = "values") -> dict[str, t.Any]:
    """The values a standard change template sets (only TEMPLATE_FIELDS), checked as a change's fields are."""
    if not isinstance(fields, t.Mapping):
        raise ItsmValidationError(option, fields, "expected a dict of change fields")
    for key, value in fields.items():
        if key not in TEMPLATE_FIELDS:
            raise ItsmValidationError(f"{option}.{key}", value, "not a field a template can set; expected one of: "
                                      + ", ".join(TEMPLATE_FIELDS))
    return parse_input(CHANGE, fields, allowed=TEMPLATE_FIELDS).values


def approval_decision(approver: t.Any, decision: t.Any, comments: t.Any) -> None:
    """A decision a backend can record: approved or rejected, by a named approver, a rejection saying why."""
    records.require_choice("decision", decision, records.APPROVAL_DECISIONS)
    if not str(approver or "").strip():
        raise ItsmValidationError("approver", approver, "name the person who decides")
    query_text("approver", approver)
    if decision == "rejected" and not comments:
        raise ItsmValidationError("comments", comments, "a rejection needs comments saying why")


def window(start: t.Any, end: t.Any, start_option: str, end_option: str) -> tuple[str, str]:
    start = records.normalise_datetime(start, start_option)
    end = records.normalise_datetime(end, end_option)
    if start is None or end is None:
        missing = start_option if start is None else end_option
        raise ItsmValidationError(missing, None, "expected an ISO 8601 date and time with a timezone")
    if end < start:
        raise ItsmValidationError(end_option, end, f"the end must not be before {start_option} {start}")
    return start, end


# -- values a backend puts in a query ---------------------------------------------------------------

#: the prefix that makes ServiceNow evaluate a query value as a script (any case, spaces around it ignored)
SCRIPT_PREFIX = "javascript:"
SCRIPT_REFUSED = (f"expected a plain value, not one starting with {SCRIPT_PREFIX} (ServiceNow would run it as a script "
                  "and match whatever it returns)")


def _unsafe(text: str) -> bool:
    """``^`` (a new condition in a ServiceNow encoded query) or a control character (a newline, a tab, NUL, a Unicode
    line or paragraph separator, which Python's strip() and a system's trimming remove as blanks)."""
    return "^" in text or any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def _script(text: str) -> bool:
    """A value ServiceNow evaluates instead of matching: ``javascript:...``, in any case, with spaces before it."""
    return text.strip().lower().startswith(SCRIPT_PREFIX)


def _refuse_script(option: str, value: t.Any, text: str) -> None:
    if _script(text):
        raise ItsmValidationError(option, value, SCRIPT_REFUSED)


def query_text(option: str, value: t.Any) -> str:
    """A value that names a record (a group, a user, a CI, a number): text without ^ or control characters, not a
    ``javascript:`` script."""
    text = str(value)
    if _unsafe(text):
        raise ItsmValidationError(option, value, "expected text without ^ or control characters")
    _refuse_script(option, value, text)
    return text


def require_correlation_id(value: t.Any, option: str = "correlation_id") -> str:
    """A correlation id: 1 to 100 characters (ServiceNow's column), none of them ^ or a control character, not a
    ``javascript:`` script."""
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not 0 < len(text) <= CORRELATION_ID_LENGTH or _unsafe(text):
        raise ItsmValidationError(option, value, "expected text without ^ or control characters, up to "
                                  f"{CORRELATION_ID_LENGTH} characters")
    _refuse_script(option, value, text)
    return text


def record_number(value: t.Any, option: str = "number") -> str:
    """A record's number (``CHG0000001``, a Jira key ``ITSM-12``): one value, so no comma either (a query would take
    ``INC1,INC2`` as a list of two)."""
    text = query_text(option, value)
    if "," in text:
        raise ItsmValidationError(option, value, "expected one record number without commas (a comma would "
                                  "make it a list of several)")
    return text


def lookup_keys(number: t.Any = None, id: t.Any = None, correlation_id: t.Any = None) -> None:
    """The keys of a look-up (``get``), checked as query values, each naming its option."""
    if number:
        record_number(number)
    if id:
        query_text("id", id)
    if correlation_id:
        require_correlation_id(correlation_id)


def listed_value(option: str, value: t.Any) -> str:
    """One value of a list a query compares with (``correlation_id: [a, b]``): no comma, which a ServiceNow ``IN``
    list would split in two (issue 17); every backend refuses it alike."""
    text = str(value)
    if "," in text:
        raise ItsmValidationError(option, value, "expected values without commas in a list (a comma would split a "
                                  "value in two); give a value with a comma on its own, not in a list")
    return text


def query_filters(filters: t.Mapping[str, t.Any]) -> None:
    """The values of canonical find filters that name records (QUERY_FILTERS, correlation_id), each naming its
    filter (the info modules' option of the same name)."""
    for key, value in filters.items():
        if value is None or (key not in QUERY_FILTERS and key != "correlation_id"):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if key == "correlation_id":
                require_correlation_id(item)
                if isinstance(value, (list, tuple)):
                    listed_value(key, item)
            elif key in ("number",) + NUMBER_FIELDS:
                record_number(item, key)
            else:
                query_text(key, item)


# -- the CMDB: classes, filters, relationships ---------------------------------------------------------------

def ci_class(value: t.Any, option: str = "ci_class") -> str:
    """A CI class as every backend stores and reads it: ``linux_server``, also given as the ServiceNow table
    ``cmdb_ci_linux_server``; a name starting with ``cmdb_`` but not ``cmdb_ci_`` (``cmdb_ci``) is kept as it is."""
    text = value if isinstance(value, str) else ""
    canonical = text[len(CI_TABLE_PREFIX):] if text.startswith(CI_TABLE_PREFIX) else text
    table = canonical if canonical.startswith("cmdb_") else CI_TABLE_PREFIX + canonical
    if not canonical or not _CI_TABLE.match(table):
        raise ItsmValidationError(option, value, "expected a class such as linux_server or a CI table such as "
                                  "cmdb_ci_linux_server (lower-case letters, digits and underscores)")
    return canonical


def ci_name(value: t.Any, option: str = "name") -> str:
    """The name of a CI a task writes: non-empty text without ^ or control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ItsmValidationError(option, value, "expected the CI's name")
    return query_text(option, value)


def cmdb_filters(filters: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """Canonical CMDB filters (``{field: value}`` or ``{field: [values]}``) checked: field names as keys, a class
    (``ci_class``) as ci_class takes it, other values without ^ or control characters; ci_class made canonical."""
    checked: dict[str, t.Any] = {}
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or not FIELD_NAME.match(key):
            raise ItsmValidationError("filters", key, "expected field names as keys")
        listed = isinstance(value, (list, tuple, set))
        values = [_cmdb_filter_value(key, item) for item in (value if listed else [value])]
        checked[key] = values if listed else values[0]
    return checked


def _cmdb_filter_value(key: str, value: t.Any) -> t.Any:
    if key == "ci_class":
        return ci_class(value, "filters.ci_class")
    if isinstance(value, str):
        query_text(f"filters.{key}", value)
    return value


def relation_type(option: str, value: t.Any) -> str:
    """A relationship type as a task names it: the parent descriptor (``Runs on``), not the full name
    (``Runs on::Runs``), without ^ or control characters."""
    if not isinstance(value, str) or not value.strip() or "::" in value or _unsafe(value):
        raise ItsmValidationError(option, value, "expected a relationship type's parent descriptor, such as Runs on")
    _refuse_script(option, value, value)
    return value.strip()


def relation_list(relations: t.Any) -> list[tuple[str, str]]:
    """``[{type, target}]`` validated (a type as relation_type takes it, a target CI name as a query value) and
    sorted, duplicates dropped."""
    if not isinstance(relations, (list, tuple)):
        raise ItsmValidationError("relations", relations, "expected a list of {type, target}")
    wanted = set()
    for item in relations:
        if (not isinstance(item, t.Mapping) or set(item) != {"type", "target"}
                or not all(isinstance(item[key], str) and item[key].strip() for key in ("type", "target"))):
            raise ItsmValidationError("relations", item, "expected {type, target} with non-empty text, like "
                                      "{type: Runs on, target: esx01}")
        # the target checked before its blanks are taken off: a control character is refused, not trimmed away
        wanted.add((relation_type("relations", item["type"]), query_text("relations", item["target"]).strip()))
    return sorted(wanted)


# -- what only the system can tell: the same words on every backend ------------------------------------------

def unknown_name(option: str, where: str, what: str, name: str) -> ItsmNotFoundError:
    """A name the system has no record of: ``configuration_item: <where> has no configuration item named 'x'``."""
    return ItsmNotFoundError(f"{option}: {where} has no {what} named {name!r}", option=option, value=name)


def unknown_relation_type(where: str, kind: str) -> ItsmNotFoundError:
    return ItsmNotFoundError(f"relations: {where} has no relationship type whose parent descriptor is {kind!r} (the "
                             "part before :: of a name such as Runs on::Runs)", option="relations", value=kind)


def class_kept(backend: str, name: str, current: str, wanted: str) -> ItsmValidationError:
    """A CI keeps its class (issue 16, D6): ServiceNow cannot move a CI between tables, and no backend does."""
    return ItsmValidationError("ci_class", wanted, f"{name} is a {current} and the {backend} backend does not change "
                               "a CI's class; leave ci_class out or use the class it has")


def now() -> str:
    return records.format_datetime(records.utcnow())


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"
