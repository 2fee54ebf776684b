# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record queries of the local store as SQL: find filters and "open". FOR INTERNAL COLLECTION USE ONLY.

Each canonical ``find`` filter becomes one clause on the alias ``r`` of schema.select_sql, so every filter
runs in one statement. "Open" is _lookup.OPEN_STATES written as SQL: the one definition, translated.
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _records as records
from ..._errors import ItsmValidationError
from ..._lookup import OPEN_STATES
from ..._records import CHANGE, INCIDENT, PROBLEM

Clause = t.Callable[[t.Any], tuple[str, list]]


def _one_of(column: str, allowed: t.Sequence[str] | None = None) -> Clause:
    def clause(value: t.Any) -> tuple[str, list]:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in values if allowed else ():
            records.require_choice(column, item, allowed)
        return f"r.{column} IN ({', '.join('?' * len(values))})", values
    return clause


def _equal(column: str) -> Clause:
    return lambda value: (f"r.{column} = ?", [value])


def _date_compared(sql: str, option: str) -> Clause:
    return lambda value: (sql, [records.normalise_datetime(value, option)])


_COMMON_FILTERS = {
    # correlation_id: one, or a list of them (issue 17: one find for every watched id)
    "number": _one_of("number"), "correlation_id": _one_of("correlation_id"),
    "active": lambda value: ("r.active = ?", [int(bool(value))]), "assignment_group": _equal("assignment_group"),
    # opened_at is stored in the canonical form, so the text comparison is a time comparison.
    "opened_after": _date_compared("r.opened_at >= ?", "opened_after"),
    "opened_before": _date_compared("r.opened_at <= ?", "opened_before"),
}
_FILTERS = {
    CHANGE: dict(
        _COMMON_FILTERS, state=_one_of("state", records.CHANGE_STATES), type=_one_of("type", records.CHANGE_TYPES),
        approval=_one_of("approval", records.APPROVAL_STATES),
        configuration_item=lambda value: (
            "EXISTS (SELECT 1 FROM affected_cis AS a WHERE a.change_id = r.id AND a.ci_name = ?)", [value]),
        # Overlap of [start_date, end_date] with the range; a change without an end lasts an instant.
        window_start=_date_compared("COALESCE(r.end_date, r.start_date) > ?", "window_start"),
        window_end=_date_compared("r.start_date < ?", "window_end"),
    ),
    INCIDENT: dict(
        _COMMON_FILTERS, state=_one_of("state", records.INCIDENT_STATES),
        configuration_item=_equal("configuration_item"), caused_by=_equal("caused_by"),
        # one problem's incidents, or several problems' at once (problem_info's incidents)
        problem=_one_of("problem"),
    ),
    PROBLEM: dict(
        _COMMON_FILTERS, state=_one_of("state", records.PROBLEM_STATES),
        configuration_item=_equal("configuration_item"),
    ),
}


def translate_filters(kind: str, filters: t.Mapping[str, t.Any]) -> tuple[list[str], list[t.Any]]:
    """The clauses and their parameters for canonical find filters (see _base.ItsmBackend.find)."""
    clauses: list[str] = []
    params: list[t.Any] = []
    inputs.query_filters(filters)  # what ServiceNow cannot query, refused here too, naming the filter
    for key, value in filters.items():
        if key not in _FILTERS[kind]:
            raise ItsmValidationError("filters", key, f"not a filter of {kind}s; expected one of: "
                                      + ", ".join(_FILTERS[kind]))
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        clause, values = _FILTERS[kind][key](value)
        clauses.append(clause)
        params.extend(values)
    if filters.get("window_start") and filters.get("window_end"):
        inputs.window(filters["window_start"], filters["window_end"], "window_start", "window_end")
    return clauses, params


def open_clause(kind: str) -> str:
    """Open records (_lookup.OPEN_STATES) as a clause; the states are the collection's own words, not input."""
    return "r.state IN (" + ", ".join(f"'{state}'" for state in sorted(OPEN_STATES[kind])) + ")"
