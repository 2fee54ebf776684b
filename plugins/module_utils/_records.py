# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical records and their vocabulary. FOR INTERNAL COLLECTION USE ONLY.

Every backend speaks this vocabulary to the rest of the collection (DESIGN.md, "Canonical records").
A record is a plain dict; ``CHANGE_FIELDS``, ``INCIDENT_FIELDS`` and ``PROBLEM_FIELDS`` (``OUTPUT_FIELDS`` by kind)
list the keys every backend fills.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from ._errors import ItsmConflictError, ItsmValidationError

CHANGE = "change"
INCIDENT = "incident"
#: a problem: the cause of one or more incidents, found and fixed (ITIL problem management, issue 19)
PROBLEM = "problem"
KINDS = (CHANGE, INCIDENT, PROBLEM)
# The number prefix of each kind: ServiceNow's defaults, which the local store uses too.
NUMBER_PREFIXES = {CHANGE: "CHG", INCIDENT: "INC", PROBLEM: "PRB"}

CHANGE_STATES = ("new", "assess", "authorize", "scheduled", "implement", "review", "closed", "canceled")
CHANGE_TYPES = ("normal", "standard", "emergency")
APPROVAL_STATES = ("not_requested", "requested", "approved", "rejected")
APPROVAL_DECISIONS = ("approved", "rejected")
CHANGE_CLOSE_CODES = ("successful", "successful_issues", "unsuccessful")
RISKS = ("very_high", "high", "moderate", "low")

INCIDENT_STATES = ("new", "in_progress", "on_hold", "resolved", "closed", "canceled")
LEVELS = ("high", "medium", "low")
PRIORITIES = ("critical", "high", "moderate", "low", "planning")
HOLD_REASONS = ("awaiting_caller", "awaiting_problem", "awaiting_vendor", "awaiting_change")
INCIDENT_CLOSE_CODES = (
    "duplicate", "known_error", "no_resolution_provided", "resolved_by_caller", "resolved_by_change",
    "resolved_by_problem", "resolved_by_request", "solution_provided", "workaround_provided",
)
PROBLEM_STATES = ("new", "assess", "root_cause_analysis", "fix_in_progress", "resolved", "closed")
#: how a problem ended (ServiceNow's problem.resolution_code): fixed, its risk accepted, canceled, a duplicate
PROBLEM_RESOLUTION_CODES = ("fix_applied", "risk_accepted", "canceled", "duplicate")

# ServiceNow's incident priority matrix (servicenow-api.md 6.2): impact x urgency -> priority.
_PRIORITY_MATRIX = {
    ("high", "high"): "critical", ("high", "medium"): "high", ("high", "low"): "moderate",
    ("medium", "high"): "high", ("medium", "medium"): "moderate", ("medium", "low"): "low",
    ("low", "high"): "moderate", ("low", "medium"): "low", ("low", "low"): "planning",
}

# Fields a user may set on a change; the backend stores them (and maps them) one to one.
CHANGE_WRITABLE = (
    "type", "short_description", "description", "implementation_plan", "backout_plan", "test_plan",
    "justification", "risk", "impact", "assignment_group", "assigned_to", "requested_by",
    "start_date", "end_date", "close_code", "close_notes", "correlation_id",
)
INCIDENT_WRITABLE = (
    "short_description", "description", "impact", "urgency", "caller", "assignment_group", "assigned_to",
    "configuration_item", "caused_by", "hold_reason", "close_code", "close_notes", "correlation_id",
    # the number of the problem the incident is one occurrence of (ServiceNow incident.problem_id)
    "problem",
)
#: a problem's resolution fields: ``cause_notes`` (the root cause), ``fix_notes`` (the fix), ``workaround``,
#: ``resolution_code``, ``close_notes`` and ``duplicate_of`` (how it ended); what each state needs is _lifecycle's
PROBLEM_WRITABLE = (
    "short_description", "description", "impact", "urgency", "assignment_group", "assigned_to",
    "configuration_item", "cause_notes", "fix_notes", "workaround", "resolution_code", "close_notes",
    # the number of the problem this one duplicates (resolution_code duplicate)
    "duplicate_of", "correlation_id",
)
COMMON_READ_ONLY = ("backend", "id", "number", "url", "state", "active", "opened_at", "updated_at", "closed_at")
CHANGE_FIELDS = COMMON_READ_ONLY + CHANGE_WRITABLE + ("approval", "template", "configuration_items", "fields")
INCIDENT_FIELDS = COMMON_READ_ONLY + INCIDENT_WRITABLE + ("priority", "reopen_count", "fields")
PROBLEM_FIELDS = COMMON_READ_ONLY + PROBLEM_WRITABLE + ("priority", "fields")
#: by kind: the fields a user may set, the keys of a canonical record, the states
WRITABLE = {CHANGE: CHANGE_WRITABLE, INCIDENT: INCIDENT_WRITABLE, PROBLEM: PROBLEM_WRITABLE}
OUTPUT_FIELDS = {CHANGE: CHANGE_FIELDS, INCIDENT: INCIDENT_FIELDS, PROBLEM: PROBLEM_FIELDS}
STATES = {CHANGE: CHANGE_STATES, INCIDENT: INCIDENT_STATES, PROBLEM: PROBLEM_STATES}

DATE_FIELDS = ("start_date", "end_date", "opened_at", "updated_at", "closed_at")
CLOSED_CHANGE_STATES = ("closed", "canceled")
CLOSED_INCIDENT_STATES = ("closed", "canceled")
OPEN_INCIDENT_STATES = ("new", "in_progress", "on_hold")
CLOSED_PROBLEM_STATES = ("closed",)
#: a problem being worked on; a resolved one (its fix applied) does not take new occurrences
OPEN_PROBLEM_STATES = ("new", "assess", "root_cause_analysis", "fix_in_progress")
#: by kind: the states that end a record (``active`` false, ``closed_at`` set)
CLOSED_STATES = {CHANGE: CLOSED_CHANGE_STATES, INCIDENT: CLOSED_INCIDENT_STATES, PROBLEM: CLOSED_PROBLEM_STATES}


class Met(dict):
    """What a create returns when it made nothing: the open record holding the correlation id that a concurrent
    create made first (local's dedup inside the write, ServiceNow's twin retirement, jsm's remembered issue). The
    caller counts the task as another occurrence of that record; created() tells the two apart."""


def created(record: t.Mapping[str, t.Any]) -> tuple[dict, bool]:
    """A create's record as a plain dict, and whether the create made it (False: it met a concurrent one, Met)."""
    return dict(record), not isinstance(record, Met)


def priority_for(impact: str | None, urgency: str | None) -> str:
    """Incident (and problem) priority from impact and urgency; a missing value counts as ``low``, as on ServiceNow."""
    return _PRIORITY_MATRIX[(impact or "low", urgency or "low")]


def parse_datetime(value: t.Any, option: str) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 text (or a datetime); naive values are refused, not guessed."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ItsmValidationError(
                option, value, "expected an ISO 8601 date and time with a timezone, like 2026-11-24T10:00:00Z"
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ItsmValidationError(
            option, value, "the date has no timezone; add one, like 2026-11-24T10:00:00Z or +01:00"
        )
    return parsed.astimezone(dt.timezone.utc)


def format_datetime(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z suffix, the collection's one output form."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def normalise_datetime(value: t.Any, option: str) -> str | None:
    return None if value in (None, "") else format_datetime(parse_datetime(value, option))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def require_choice(option: str, value: t.Any, allowed: t.Sequence[str]) -> str:
    if value not in allowed:
        raise ItsmValidationError(option, value, "expected one of: " + ", ".join(allowed))
    return value


def kind_of_number(number: str | None) -> str | None:
    """The kind a record number's prefix names (CHG0000001 -> change), or None when the prefix is not known."""
    for kind, prefix in NUMBER_PREFIXES.items():
        if (number or "").upper().startswith(prefix):
            return kind
    return None


# Options whose empty value would quietly mean something else (issue 12): no number or correlation id makes
# a task create a record (or gate without a change) instead of naming one, no approver records the
# operating-system user. Every action plugin refuses them empty, whichever modules have them.
NOT_EMPTY_OPTIONS = ("number", "correlation_id", "approver")


def refuse_empty(params: t.Mapping[str, t.Any], names: t.Iterable[str] = NOT_EMPTY_OPTIONS) -> None:
    """An option given as empty text (or blanks) is refused, naming it; an option left out is fine."""
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and not value.strip():
            raise ItsmValidationError(name, value, "it is empty; give a value, or leave the option out")


def require_file_name(option: str, value: t.Any) -> str:
    """A file name (an attachment's), never a path: no separator, no NUL, not ``.`` or ``..``, not empty."""
    if not isinstance(value, str) or not value.strip():
        raise ItsmValidationError(option, value, "expected a file name, like report.txt")
    if any(char in value for char in ("/", "\\", "\x00")) or value.strip() in (".", ".."):
        raise ItsmValidationError(option, value, "expected a file name, not a path: no /, \\, NUL character, "
                                  "and not . or ..")
    return value


def refuse_shared_correlation(kind: str, correlation_id: str | None, found: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """Two or more records (of those that count: open ones, say) holding one correlation id are a conflict."""
    if len(found) > 1:
        numbers = [str(record["number"]) for record in found]
        raise ItsmConflictError(f"correlation_id: {correlation_id!r} names {len(found)} {kind}s "
                                f"({', '.join(numbers)}); close all but one, or name the record by number",
                                option="correlation_id", value=correlation_id, numbers=numbers)
