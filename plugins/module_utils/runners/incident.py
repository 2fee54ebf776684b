# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the incident module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _lookup, _recurring as recurring_failures, _workflow as workflow
from .._errors import ItsmValidationError
from .._lookup import LookupResult
from .._records import (CHANGE, CLOSED_INCIDENT_STATES, HOLD_REASONS, INCIDENT, INCIDENT_CLOSE_CODES, created,
                        INCIDENT_STATES, INCIDENT_WRITABLE, LEVELS, PROBLEM)
from ..backends._base import ItsmBackend, Record

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    state=dict(type="str", choices=list(INCIDENT_STATES)),
    short_description=dict(type="str"),
    description=dict(type="str"),
    impact=dict(type="str", choices=list(LEVELS)),
    urgency=dict(type="str", choices=list(LEVELS)),
    caller=dict(type="str"),
    assignment_group=dict(type="str"),
    assigned_to=dict(type="str"),
    configuration_item=dict(type="str"),
    caused_by=dict(type="str"),
    problem=dict(type="str"),
    hold_reason=dict(type="str", choices=list(HOLD_REASONS)),
    close_code=dict(type="str", choices=list(INCIDENT_CLOSE_CODES)),
    close_notes=dict(type="str"),
    work_notes=dict(type="str"),
    comments=dict(type="str"),
    recurrence_note=dict(type="bool", default=True),
    fields=dict(type="dict"),
    problem_after=dict(type="int", default=0),
    problem_window=dict(type="float", default=recurring_failures.DEFAULT_WINDOW_DAYS),
    problem_change=dict(type="str"),
)
SETTLING_STATES = ("resolved",) + CLOSED_INCIDENT_STATES
#: options naming another record by number, which must exist before the incident is written: option -> its kind
LINKS = {"caused_by": CHANGE, "problem": PROBLEM}


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    notes = {"work_notes": params.get("work_notes"), "comments": params.get("comments")}
    wanted = workflow.wanted_fields(params, INCIDENT_WRITABLE)
    threshold = recurring_failures.threshold_of(params.get("problem_after"), params.get("problem_window"))
    found = _find(backend, params, wanted, include={"journal"} if any(notes.values()) else ())
    existing = found.record if found else None
    if existing is None:
        _refuse_settling_create(params)
    workflow.require_summary(INCIDENT, params.get("short_description"), existing is None)
    if params.get("problem") is not None or threshold.on:
        workflow.require_problems(backend)
    for option, kind in LINKS.items():
        if wanted.get(option) and wanted[option] != (existing or {}).get(option):
            workflow.require_existing(backend, kind, option, wanted[option])
    recurring = False
    if existing is None:
        path = workflow.plan(INCIDENT, dict(wanted, state="new"), params.get("state"), {})
        record, made = created(backend.create(INCIDENT, wanted, check_mode=check_mode))
        # A concurrent task created it first (its create met this one's): this task is one more occurrence.
        recurring = not made and _is_recurrence(params, record)
        changes: dict[str, t.Any] = {}
    else:
        record = existing
        changes = workflow.differing(existing, wanted)
        path = workflow.plan(INCIDENT, existing, params.get("state"), changes)
        recurring = _is_recurrence(params, existing)
        # The notes ride on the update or first transition: one write, not one per note.
        notes = found.notes.missing(notes) if found.notes is not None else {}
        workflow.refuse_taken_correlation(backend, INCIDENT, existing, changes.get("correlation_id"),
                                          params.get("state"))
    record = workflow.move(backend, INCIDENT, record, path, dict(changes, **notes) if existing else changes,
                           check_mode, known_notes=found.notes if found else None)
    noted = bool(notes) if existing else workflow.append_journal(backend, INCIDENT, record, notes, check_mode)
    # After the update: the backend counts the recurrence (and notes it, on its own terms) against the journal as
    # it is now, the task's own notes included. Each run of the task is an occurrence, as on every backend.
    recurred = recurring and backend.record_recurrence(record, _recurrence_text(params), check_mode=check_mode).counted
    changed = existing is None or bool(noted or recurred) or record != existing
    result = dict(changed=changed, record=record, diff=workflow.diff(existing, record))
    result["recurred"] = bool(recurred)
    if threshold.on and record.get("correlation_id") and _lookup.is_open(INCIDENT, record):
        result["problem"] = _problem(backend, params, record, threshold, check_mode)
        result["changed"] = result["changed"] or (result["problem"] or {}).get("outcome") in ("created", "updated")
    return result


def _problem(backend: ItsmBackend, params: t.Mapping[str, t.Any], record: Record,
             threshold: recurring_failures.Threshold, check_mode: bool) -> dict[str, t.Any] | None:
    """The problem of the incident's signature, raised once it failed ``problem_after`` times (_recurring): its
    statement the incident's description, a note naming the change the failure happened under."""
    what = record.get("short_description") or ""
    if params.get("work_notes"):
        what += "\n" + params["work_notes"]
    return recurring_failures.raise_or_update(
        backend, record["correlation_id"], threshold, summary=f"Recurring failure: {record.get('short_description')}",
        statement=record.get("description") or what,
        note=recurring_failures.change_note(params.get("problem_change") or record.get("caused_by"), what),
        check_mode=check_mode)


def _find(backend: ItsmBackend, params: t.Mapping[str, t.Any], wanted: t.Mapping[str, t.Any],
          include: t.Collection[str]) -> LookupResult | None:
    # Only an open incident absorbs a recurrence; after one is resolved, the failure earns a new one.
    # A task that settles or reopens means the incident the id already names, even one an earlier run
    # resolved: otherwise each re-run would raise a new incident only to settle it at once.
    # The notes already there (when notes are given) and the names a write may need are read with it.
    state = params.get("state")
    found = workflow.find_existing(backend, INCIDENT, params.get("number"), params.get("correlation_id"),
                                   open_only=state not in SETTLING_STATES + ("in_progress",), include=include,
                                   writes=wanted)
    held = found.record if found else None
    if held and state == "in_progress" and not params.get("number") and held["state"] != "resolved":
        return None if held["state"] in CLOSED_INCIDENT_STATES else found  # a closed incident stays closed
    return found


def _refuse_settling_create(params: t.Mapping[str, t.Any]) -> None:
    state = params.get("state")
    if state in SETTLING_STATES:
        held = f"holds correlation_id {params['correlation_id']!r}" if params.get("correlation_id") else "was named"
        raise ItsmValidationError("state", state, f"no incident {held}, and a task does not create an incident "
                                  "that is settled at once; raise the incident first, or give its number")


def _is_recurrence(params: t.Mapping[str, t.Any], existing: Record) -> bool:
    # An open incident matched by correlation id (not by number), and not a task that settles or reopens it.
    return bool(params.get("recurrence_note") and params.get("correlation_id") and not params.get("number")
                and _lookup.is_open(INCIDENT, existing)
                and (params.get("state") is None or params["state"] in _lookup.OPEN_STATES[INCIDENT]))


def _recurrence_text(params: t.Mapping[str, t.Any]) -> str:
    text = f"the failure with correlation id {params['correlation_id']} happened again."
    if params.get("short_description"):
        text += f"\n{params['short_description']}"
    return text
