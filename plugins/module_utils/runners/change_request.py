# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_request module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _lifecycle, _pipeline as pipeline, _workflow as workflow
from .._errors import ItsmValidationError
from .._lookup import JournalTexts
from .._records import (CHANGE, CHANGE_CLOSE_CODES, CHANGE_STATES, CHANGE_TYPES, CHANGE_WRITABLE, LEVELS, RISKS,
                        created)
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    type=dict(type="str", choices=list(CHANGE_TYPES)),
    template=dict(type="str"),
    state=dict(type="str", choices=list(CHANGE_STATES)),
    short_description=dict(type="str"),
    description=dict(type="str"),
    implementation_plan=dict(type="str"),
    backout_plan=dict(type="str"),
    test_plan=dict(type="str"),
    justification=dict(type="str"),
    risk=dict(type="str", choices=list(RISKS)),
    impact=dict(type="str", choices=list(LEVELS)),
    assignment_group=dict(type="str"),
    assigned_to=dict(type="str"),
    requested_by=dict(type="str"),
    start_date=dict(type="str"),
    end_date=dict(type="str"),
    configuration_items=dict(type="list", elements="str"),
    close_code=dict(type="str", choices=list(CHANGE_CLOSE_CODES)),
    close_notes=dict(type="str"),
    work_notes=dict(type="str"),
    comments=dict(type="str"),
    fields=dict(type="dict"),
    pipeline=dict(type="raw"),
)
# ``pipeline``'s values that mean "read the CI environment of the controller" (the action plugin does).
_FROM_ENVIRONMENT = (True, "true", "yes", "on", "auto")


def reads_environment(value: t.Any) -> bool:
    return value in _FROM_ENVIRONMENT or (isinstance(value, str) and value.lower() in _FROM_ENVIRONMENT)


def pipeline_values(value: t.Any) -> dict[str, str]:
    """The CI pipeline the task gives: a dictionary of _pipeline.KEYS (the action plugin has made ``true`` one
    read from the environment); false or nothing gives none."""
    if value in (None, False, "") or (isinstance(value, str) and value.lower() in ("false", "no", "off")):
        return {}
    if isinstance(value, t.Mapping):
        return pipeline.checked(value)
    raise ItsmValidationError("pipeline", value, "expected true (read the CI pipeline from the controller's "
                              "environment), false, or a dictionary with keys from: " + ", ".join(pipeline.KEYS))


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    wanted = workflow.wanted_fields(params, CHANGE_WRITABLE)
    entries = {"work_notes": params.get("work_notes"), "comments": params.get("comments")}
    ci_pipeline = pipeline_values(params.get("pipeline"))
    # Read with the record (issue 5: requests per task): the notes already there when notes are given, and the
    # names a write may need.
    found = workflow.find_existing(backend, CHANGE, params.get("number"), params.get("correlation_id"),
                                   include={"journal"} if any(entries.values()) or ci_pipeline else (),
                                   writes=dict(wanted, template=params.get("template"),
                                               configuration_items=params.get("configuration_items") or []))
    existing = found.record if found else None
    workflow.check_window(dict(existing or {}, **wanted))
    workflow.require_summary(CHANGE, params.get("short_description"), existing is None, params.get("template"))
    cis = sorted(set(params["configuration_items"])) if params.get("configuration_items") is not None else None
    notes: dict[str, str] = {}
    if ci_pipeline:
        _with_pipeline(wanted, entries, ci_pipeline, existing, params.get("template"), found.notes if found else None)
    if existing is None:
        record = _create(backend, params, wanted, cis, check_mode)
        changes: dict[str, t.Any] = {}
        path = workflow.plan(CHANGE, record, params.get("state"), changes, backend)
    else:
        record = existing
        changes = workflow.differing(existing, wanted)
        if params.get("template") and params["template"] != existing.get("template"):
            warn(f"template: {existing['number']} already exists; a template only applies when a change is created")
        # A retype is refused as what it is, before the walk is planned on the wrong model.
        _lifecycle.refuse_type_change(existing["number"], existing.get("type"), changes.get("type"))
        path = workflow.plan(CHANGE, existing, params.get("state"), changes, backend)
        # The CIs ride on the same write as the fields (the update, or the first transition): the backend
        # resolves every name and makes every check before that one write, and check mode predicts it (issue 12).
        if cis is not None and cis != sorted(backend.affected_cis(existing)):
            changes["configuration_items"] = cis
        # The notes ride on the update or first transition: one write, not one per note.
        notes = found.notes.missing(entries) if found.notes is not None else {}
        workflow.refuse_taken_correlation(backend, CHANGE, existing, changes.get("correlation_id"), params.get("state"))
    record = workflow.move(backend, CHANGE, record, path, dict(changes, **notes), check_mode,
                           known_notes=found.notes if found else None)
    noted = bool(notes) or (existing is None and workflow.append_journal(backend, CHANGE, record, entries, check_mode))
    changed = existing is None or noted or record != existing
    return dict(changed=changed, record=record, diff=workflow.diff(existing, record))


def _with_pipeline(wanted: dict[str, t.Any], entries: dict[str, t.Any], values: dict[str, str],
                   existing: dict[str, t.Any] | None, template: str | None, notes: JournalTexts | None) -> None:
    """The CI pipeline into what the task writes: its values in ``fields`` (``pipeline_<key>``; the task's own
    ``fields`` win) and its block at the end of the description, replacing an older one. A change made from a
    template keeps the template's description (ServiceNow refuses to change it), so there the block is a work note.
    A change that already carries these values (read back as the change report reads them, or the block in a note)
    is left as it is."""
    if "description" in wanted:
        wanted["description"] = pipeline.with_block(wanted["description"], values)
    if existing is not None:
        known = pipeline.read(existing) or {}
        if all(known.get(key) == value for key, value in values.items()) or (
                notes is not None and notes.mentions(pipeline.block(values))):
            return
    wanted["fields"] = dict(pipeline.extras(values), **(wanted.get("fields") or {}))
    if "description" in wanted:
        return
    if template if existing is None else existing.get("template"):
        entries["work_notes"] = "\n\n".join(text for text in (entries.get("work_notes"), pipeline.block(values)) if text)
        return
    wanted["description"] = pipeline.with_block((existing or {}).get("description"), values)


def _create(backend: ItsmBackend, params: t.Mapping[str, t.Any], wanted: dict[str, t.Any],
            cis: list[str] | None, check_mode: bool) -> dict[str, t.Any]:
    template = params.get("template")
    if template:
        wanted["template"] = template
    if cis is not None:
        wanted["configuration_items"] = cis
    # Refuse an impossible target state before the change exists, so a failed task leaves nothing behind.
    template_fields = ((backend.template(template) or {}).get("fields") or {}) if template else {}
    change_type = wanted.get("type") or ("standard" if template else "normal")
    workflow.plan(CHANGE, {**template_fields, **wanted, "state": "new", "type": change_type}, params.get("state"), {},
                  backend)
    return created(backend.create(CHANGE, wanted, check_mode=check_mode))[0]
