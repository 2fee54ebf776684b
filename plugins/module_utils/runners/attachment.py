# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the attachment module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _workflow as workflow
from .._errors import ItsmValidationError
from .._lookup import LookupResult
from .._records import CHANGE, INCIDENT, KINDS, NUMBER_PREFIXES, kind_of_number
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    kind=dict(type="str", choices=list(KINDS)),
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    path=dict(type="path"),
    name=dict(type="str"),
    content_type=dict(type="str"),
)
ARGUMENT_RULES = dict(
    required_one_of=[("number", "correlation_id")],
    required_by={"name": ("path",), "content_type": ("path",)},
)


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    kind = record_kind(params)
    if kind is None:
        kind, found = _by_number(backend, params["number"])
    else:
        found = workflow.find_existing(backend, kind, params.get("number"), params.get("correlation_id"))
    if found is None:
        hint = "" if params.get("kind") else " (or set kind: incident, if an incident holds it)"
        raise ItsmValidationError("correlation_id", params.get("correlation_id"),
                                  f"no {kind} holds this correlation id; give an existing {kind}'s number{hint}")
    record = found.record
    before = backend.attachments(kind, record)
    if not params.get("path"):
        return dict(changed=False, record=record, attachments=before)
    changed, attachment = backend.add_attachment(kind, record, params["path"], params.get("name"),
                                                 params.get("content_type"), check_mode=check_mode)
    if not changed:
        after = before
    elif check_mode:
        after = [item for item in before if item["name"] != attachment["name"]] + [attachment]
    else:
        after = backend.attachments(kind, record)
    return dict(changed=changed, record=record, attachment=attachment, attachments=after,
                diff={"before": _summary(before), "after": _summary(after)})


def record_kind(params: t.Mapping[str, t.Any]) -> str | None:
    """``kind`` when given, else the kind the number's prefix names; by correlation id alone, a change; None for a
    number whose prefix names no kind (a Jira issue key, ``ITSM-42``): the record itself says (_by_number).

    Without it, an incident's number was looked up as a change and reported missing (issue 12).
    """
    if params.get("kind"):
        return params["kind"]
    if not params.get("number"):
        return CHANGE
    return kind_of_number(params["number"])


def _by_number(backend: ItsmBackend, number: str) -> tuple[str, LookupResult]:
    """The kind and record of a number whose prefix names no kind: a change, else an incident (one look-up
    each, as a playbook written for CHG/INC numbers names the record the same way on every backend). A problem's
    file needs ``kind: problem`` then: no third look-up for every such number."""
    guessed = (CHANGE, INCIDENT)
    for kind in guessed:
        found = backend.lookup(kind, number=number)
        if found is not None:
            return kind, found
    known = ", ".join(f"{prefix} for {name}" for name, prefix in NUMBER_PREFIXES.items())
    raise ItsmValidationError("number", number, f"no {' or '.join(guessed)} of that number exists on the {backend.name} "
                              f"backend, and its prefix does not say which kind of record it is ({known}); set kind to "
                              f"{', '.join(KINDS[:-1])} or {KINDS[-1]}")


def _summary(items: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    return {"attachments": {item["name"]: item["sha256"] for item in items}}
