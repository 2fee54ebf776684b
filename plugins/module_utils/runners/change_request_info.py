# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_request_info module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _lookup
from .. import _workflow as workflow
from .._errors import ItsmValidationError
from .._records import APPROVAL_STATES, CHANGE, CHANGE_STATES, CHANGE_TYPES, normalise_datetime
from ..backends._base import Found, ItsmBackend, Record

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
    include=dict(type="list", elements="str", choices=["approvals", "notes"]),
    # The opt-in for approvals before ``include``; ``approvals: true`` is ``include: [approvals]``.
    approvals=dict(type="bool", default=False),
)
# Record ids per bulk read (approvals, notes): keeps a ServiceNow ``sysapprovalIN`` or ``element_idIN`` query
# well inside a URL's length.
IDS_PER_READ = 100
FILTERS = ("number", "correlation_id", "state", "type", "approval", "active", "assignment_group",
           "configuration_item", "window_start", "window_end", "opened_after", "opened_before")
# Date filters in pairs bounding a range, (start, end): an end before its start matches nothing, so it is
# refused as the mistake it is rather than answered with an empty list.
DATE_RANGES = (("window_start", "window_end"), ("opened_after", "opened_before"))


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    found = find(backend, CHANGE, params, FILTERS, warn)
    records = found.records
    if params.get("approvals") or "approvals" in (params.get("include") or ()):
        records = with_approvals(backend, records, warn)
    return result(backend, CHANGE, params, found, records)


def find(backend: ItsmBackend, kind: str, params: t.Mapping[str, t.Any], names: t.Sequence[str],
         warn: t.Callable[[str], None]) -> Found:
    """One backend query for every info module (no request per record); a warning when ``limit`` cut the list."""
    filters = workflow.wanted_fields(params, names)
    for start, end in DATE_RANGES:
        _normalise_range(filters, start, end)
    found = backend.find_limited(kind, filters, params.get("limit"))
    found = found._replace(records=_lookup.matching(found.records, filters))
    if found.truncated:
        # Issue 12: a cut list must not pass for the whole answer.
        returned = len(found.records)
        matching = found.total if found.total is not None else f"more than {returned}"
        warn(f"limit: returned {returned} of {matching} matching {kind}s; raise limit (now {params.get('limit')}) "
             "or narrow the filters to get the rest")
    return found


def result(backend: ItsmBackend, kind: str, params: t.Mapping[str, t.Any], found: Found,
           records: list[Record]) -> dict[str, t.Any]:
    """The info module's result: the records (with their notes when ``include`` asks), ``truncated`` and ``total``."""
    if "notes" in (params.get("include") or ()):
        records = with_notes(backend, kind, records)
    return dict(changed=False, records=records, truncated=found.truncated, total=found.total)


def _normalise_range(filters: dict[str, t.Any], start: str, end: str) -> None:
    """Both ends of a date range in the canonical form (comparable as text), the end not before the start."""
    for name in (start, end):
        if name in filters:
            filters[name] = normalise_datetime(filters[name], name)
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
    found = _in_bulk(backend.approvals_for, records)
    return [dict(record, approvals=found.get(record["id"], [])) for record in records]


def with_notes(backend: ItsmBackend, kind: str, records: list[Record]) -> list[Record]:
    """The records, each with its ``notes`` (work notes and comments, oldest first): one bulk read per hundred
    records, not one per record."""
    found = _in_bulk(lambda ids: backend.journals_for(kind, ids), records)
    return [dict(record, notes=found.get(record["id"], [])) for record in records]


def _in_bulk(read: t.Callable[[list[str]], dict[str, list[Record]]],
             records: list[Record]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {}
    ids = [record["id"] for record in records]
    for start in range(0, len(ids), IDS_PER_READ):
        found.update(read(ids[start:start + IDS_PER_READ]))
    return found
