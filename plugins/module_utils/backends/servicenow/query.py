# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encoded queries and dates of the servicenow backend. FOR INTERNAL COLLECTION USE ONLY.

Pure functions: canonical find filters -> an encoded query (servicenow-api.md section 3), the open-record
condition (from _lookup.OPEN_STATES, the one definition of "open"), the keyset of a find's pages,
ServiceNow ``YYYY-MM-DD HH:MM:SS`` UTC <-> ISO 8601, and standard change templates.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from ... import _input as inputs
from ... import _records as records
from ..._errors import ItsmValidationError
from ..._lookup import OPEN_STATES
from . import mapping

SN_FORMAT = "%Y-%m-%d %H:%M:%S"
#: the documented order of find, and its keyset
OLDEST_FIRST = "^ORDERBYsys_created_on^ORDERBYnumber^ORDERBYsys_id"


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


def escape(value: t.Any, option: str = "filters") -> str:
    """A value inside an encoded query: ``^`` would start a new condition, so it cannot appear (nor a control
    character). The values a task gives were checked by _input already, naming their options; this is the guard."""
    return inputs.query_text(option, value)


def choice(kind: str, field: str, value: str) -> str:
    table = mapping.CHOICES[(kind, field)]
    return table[records.require_choice(field, value, tuple(table))]


def _listed(value: t.Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def find_query(kind: str, filters: t.Mapping[str, t.Any]) -> tuple[list[str], tuple[str, str] | None]:
    """Conditions (ANDed) for canonical filters, and a window to re-check on the rows (empty end dates)."""
    allowed = _FILTERS[kind]
    conditions: list[str] = []
    inputs.query_filters(filters)
    for key, value in filters.items():
        if key not in allowed:
            raise ItsmValidationError("filters", key,
                                      f"not a filter of {kind}s; expected one of: " + ", ".join(allowed))
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if key in ("state", "type", "approval"):
            conditions.append(f"{key}IN" + ",".join(choice(kind, key, item) for item in _listed(value)))
        elif key == "number":
            conditions.append("numberIN" + ",".join(escape(item) for item in _listed(value)))
        elif key == "correlation_id" and isinstance(value, str):
            conditions.append(f"correlation_id={escape(value)}")
        elif key == "correlation_id":  # a list (issue 17): _input refused ^ and commas in its values
            listed = [escape(inputs.listed_value(key, item), key) for item in value]
            conditions.append("correlation_idIN" + ",".join(listed))
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
        elif key == "problem":
            conditions.append("problem_id.numberIN" + ",".join(escape(item) for item in _listed(value)))
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
    """The encoded condition of an open record: its state is one of _lookup.OPEN_STATES[kind]."""
    states = mapping.CHOICES[(kind, "state")]
    return "stateIN" + ",".join(raw for state, raw in states.items() if state in OPEN_STATES[kind])


_COMMON = ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
           "opened_after", "opened_before")
# Both ends included; opened_at is a date-time column, compared as a time by the platform.
_OPENED = {"opened_after": "opened_at>=", "opened_before": "opened_at<="}
_FILTERS = {
    records.CHANGE: _COMMON + ("type", "approval", "window_start", "window_end"),
    records.INCIDENT: _COMMON + ("caused_by", "problem"),
    records.PROBLEM: _COMMON,
}


def scoped_condition(condition: str, restriction: str) -> str:
    """``condition`` ANDed with ``restriction`` in each of its ``^NQ`` groups (section 3.1)."""
    return "^NQ".join(f"{group}^{restriction}" if group else restriction for group in condition.split("^NQ"))


def after(where: str, last: tuple[str, str, str] | None) -> str:
    """``where`` narrowed to the rows past ``last`` (sys_created_on, number, sys_id): a keyset's next page.

    Numbers are neither unique nor ordered as strings past seven digits, so pages follow creation
    time; the number orders records of the same second, and the sys_id breaks the remaining ties.
    ``^NQ`` makes the OR, in each of ``where``'s groups.
    """
    if last is None:
        return where
    created, number, sys_id = last
    return "^NQ".join(scoped_condition(where, past) for past in (
        f"sys_created_on>{created}", f"sys_created_on={created}^number>{number}",
        f"sys_created_on={created}^number={number}^sys_id>{sys_id}"))


# -- templates ---------------------------------------------------------------------------------

def template_values(encoded: str) -> dict[str, str]:
    """``std_change_producer_version.template`` (``col=value^col=value^EQ``) as a dict of raw values."""
    values = {}
    for part in (encoded or "").split("^"):
        column, sep, value = part.partition("=")
        if sep and column and part != "EQ":
            values[column] = value
    return values
