# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_request_info module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _workflow as wf
from .._errors import ItsmValidationError
from .._records import APPROVAL_STATES, CHANGE, CHANGE_STATES, CHANGE_TYPES
from ..backends._base import ItsmBackend, Record

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    state=dict(type="list", elements="str", choices=list(CHANGE_STATES)),
    type=dict(type="list", elements="str", choices=list(CHANGE_TYPES)),
    approval=dict(type="str", choices=list(APPROVAL_STATES)),
    active=dict(type="bool"),
    assignment_group=dict(type="str"),
    configuration_item=dict(type="str"),
    window_start=dict(type="str"),
    window_end=dict(type="str"),
    opened_after=dict(type="str"),
    opened_before=dict(type="str"),
    limit=dict(type="int", default=1000),
    approvals=dict(type="bool", default=False),
)
# Change ids per bulk approvals read: keeps a ServiceNow ``sysapprovalIN`` query well inside a URL's length.
APPROVALS_PER_READ = 100
FILTERS = ("number", "correlation_id", "state", "type", "approval", "active", "assignment_group",
           "configuration_item", "window_start", "window_end", "opened_after", "opened_before")
# Date filters in pairs bounding a range, (start, end): an end before its start matches nothing, so it is
# refused as the mistake it is rather than answered with an empty list.
DATE_RANGES = (("window_start", "window_end"), ("opened_after", "opened_before"))


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    records = find(backend, CHANGE, params, FILTERS)
    if params.get("approvals"):
        records = with_approvals(backend, records, warn)
    return dict(changed=False, records=records)


def find(backend: ItsmBackend, kind: str, params: t.Mapping[str, t.Any], names: t.Sequence[str]) -> list:
    """One backend query for every info module (no request per record)."""
    filters = wf.wanted_fields(params, names)
    for start, end in DATE_RANGES:
        _normalise_range(filters, start, end)
    return list(backend.find(kind, filters, limit=params.get("limit")))


def _normalise_range(filters: dict[str, t.Any], start: str, end: str) -> None:
    """Both ends of a date range in the canonical form (comparable as text), the end not before the start."""
    for name in (start, end):
        if name in filters:
            filters[name] = wf.normalise_datetime(filters[name], name)
    if filters.get(start) and filters.get(end) and filters[end] < filters[start]:
        raise ItsmValidationError(end, filters[end], f"it must not be before {start} {filters[start]}")


def with_approvals(backend: ItsmBackend, records: list[Record],
                   warn: t.Callable[[str], None]) -> list[Record]:
    """The changes, each with its ``approvals`` list: one bulk read per hundred changes, not one per change."""
    if "approvals" not in backend.capabilities:
        # The base class answers [] anyway; saying so once keeps an empty list from reading as
        # "nobody approved" (the report's approval lead time would silently stay n/a).
        warn(f"approvals: the {backend.name} backend does not record approvals; "
             "every change is returned with approvals: []")
        return [dict(record, approvals=[]) for record in records]
    found: dict[str, list[Record]] = {}
    ids = [record["id"] for record in records]
    for start in range(0, len(ids), APPROVALS_PER_READ):
        found.update(backend.approvals_for(ids[start:start + APPROVALS_PER_READ]))
    return [dict(record, approvals=found.get(record["id"], [])) for record in records]
