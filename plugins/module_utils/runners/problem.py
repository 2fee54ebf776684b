# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the problem module. FOR INTERNAL COLLECTION USE ONLY.

A problem is found by number, or by correlation id (the one look-up rule: the open problem holding it), and
created when neither names one. The task's fields are written once, the state walk is planned before the first
write (_lifecycle's problem model: what each state needs), and the incidents named in ``incidents`` are linked to
the problem (each incident's ``problem``), every one of them looked up before anything is written.
"""

from __future__ import annotations

import typing as t

from .. import _input as inputs
from .. import _workflow as workflow
from .._errors import ItsmNotFoundError, ItsmValidationError
from .._records import (INCIDENT, LEVELS, PROBLEM, PROBLEM_RESOLUTION_CODES, PROBLEM_STATES, PROBLEM_WRITABLE,
                        created)
from ..backends._base import ItsmBackend, Record

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    state=dict(type="str", choices=list(PROBLEM_STATES)),
    short_description=dict(type="str"),
    description=dict(type="str"),
    impact=dict(type="str", choices=list(LEVELS)),
    urgency=dict(type="str", choices=list(LEVELS)),
    assignment_group=dict(type="str"),
    assigned_to=dict(type="str"),
    configuration_item=dict(type="str"),
    cause_notes=dict(type="str"),
    fix_notes=dict(type="str"),
    workaround=dict(type="str"),
    resolution_code=dict(type="str", choices=list(PROBLEM_RESOLUTION_CODES)),
    close_notes=dict(type="str"),
    duplicate_of=dict(type="str"),
    work_notes=dict(type="str"),
    comments=dict(type="str"),
    incidents=dict(type="list", elements="str"),
    fields=dict(type="dict"),
)
#: a task moving a problem to one of these by correlation id means the problem an earlier run settled, too
SETTLING_STATES = ("resolved", "closed")


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    workflow.require_problems(backend)
    notes = {"work_notes": params.get("work_notes"), "comments": params.get("comments")}
    wanted = workflow.wanted_fields(params, PROBLEM_WRITABLE)
    incidents = _incidents(backend, params.get("incidents"))
    # A task that settles means the problem the id names even when an earlier run settled it (a re-run changes
    # nothing); any other task means the open one, and makes a new problem when the last one was settled.
    found = workflow.find_existing(backend, PROBLEM, params.get("number"), params.get("correlation_id"),
                                   open_only=params.get("state") not in SETTLING_STATES,
                                   include={"journal"} if any(notes.values()) else (), writes=wanted)
    existing = found.record if found else None
    workflow.require_summary(PROBLEM, params.get("short_description"), existing is None)
    if wanted.get("duplicate_of") and wanted["duplicate_of"] != (existing or {}).get("duplicate_of"):
        workflow.require_existing(backend, PROBLEM, "duplicate_of", wanted["duplicate_of"])
    if existing is None:
        _refuse_settling_create(params)
        path = workflow.plan(PROBLEM, dict(wanted, state="new"), params.get("state"), {})
        record = created(backend.create(PROBLEM, wanted, check_mode=check_mode))[0]
        changes: dict[str, t.Any] = {}
    else:
        record = existing
        changes = workflow.differing(existing, wanted)
        path = workflow.plan(PROBLEM, existing, params.get("state"), changes)
        workflow.refuse_taken_correlation(backend, PROBLEM, existing, changes.get("correlation_id"),
                                          params.get("state"))
        # The notes not on the record yet ride on the update or first transition: one write, not one per note.
        notes = found.notes.missing(notes) if found.notes is not None else {}
    record = workflow.move(backend, PROBLEM, record, path, dict(changes, **notes) if existing else changes,
                           check_mode, known_notes=found.notes if found else None)
    noted = bool(notes) if existing else workflow.append_journal(backend, PROBLEM, record, notes, check_mode)
    linked = _link(backend, record, incidents, check_mode)
    changed = existing is None or noted or bool(linked) or record != existing
    return dict(changed=changed, record=record, diff=workflow.diff(existing, record), linked_incidents=linked)


def _incidents(backend: ItsmBackend, numbers: t.Sequence[str] | None) -> list[Record]:
    """The incidents ``incidents`` names, each read before anything is written: an unknown one is refused."""
    found = []
    for number in dict.fromkeys(numbers or ()):  # each once, in the order given
        inputs.record_number(inputs.require_text("incidents", number), "incidents")
        incident = backend.get(INCIDENT, number=number)
        if incident is None:
            raise ItsmNotFoundError(f"incidents: incident {number} does not exist on the {backend.name} backend",
                                    option="incidents", value=number)
        found.append(incident)
    return found


def _link(backend: ItsmBackend, problem: Record, incidents: list[Record], check_mode: bool) -> list[str]:
    """Make ``problem`` the problem of each incident not linked to it yet; their numbers."""
    linked = []
    for incident in incidents:
        if problem.get("number") and str(incident.get("problem") or "").upper() == problem["number"].upper():
            continue
        if problem.get("number"):  # a problem predicted in check mode has no number to write yet
            backend.update(INCIDENT, incident, {"problem": problem["number"]}, check_mode=check_mode)
        linked.append(incident["number"])
    return linked


def _refuse_settling_create(params: t.Mapping[str, t.Any]) -> None:
    state = params.get("state")
    if state in SETTLING_STATES:
        held = f"holds correlation_id {params['correlation_id']!r}" if params.get("correlation_id") else "was named"
        raise ItsmValidationError("state", state, f"no problem {held}, and a task does not create a problem that is "
                                  "settled at once; raise the problem first, or give its number")
