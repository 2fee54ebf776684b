# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_approval module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import getpass
import typing as t

from .. import _workflow as workflow
from .._errors import ItsmValidationError
from .._records import APPROVAL_DECISIONS, CHANGE
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    decision=dict(type="str", required=True, choices=list(APPROVAL_DECISIONS)),
    approver=dict(type="str"),
    comments=dict(type="str"),
)
ARGUMENT_RULES = dict(
    required_one_of=[("number", "correlation_id")],
    required_if=[("decision", "rejected", ("comments",))],
)


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    # The approvals before the decision are read with the change (servicenow: in the same request).
    found = workflow.find_existing(backend, CHANGE, params.get("number"), params.get("correlation_id"),
                                   include={"approvals"})
    if found is None:
        raise ItsmValidationError("correlation_id", params.get("correlation_id"),
                                  "no change holds this correlation id; give an existing change's number or id")
    change, before = found.record, list(found.approvals or [])
    # Only an approver left out defaults; an empty one is the backend's to refuse, never the OS user (issue 12).
    approver = params["approver"] if params.get("approver") is not None else (
        backend.settings.username or getpass.getuser())
    after_change = backend.decide_approval(change, approver, params["decision"], params.get("comments"),
                                           check_mode=check_mode)
    after = before if check_mode else backend.approvals(after_change)
    changed = after_change != change or after != before
    return dict(
        changed=changed,
        record=after_change,
        approvals=after,
        diff=workflow.diff(dict(change, approvals=before), dict(after_change, approvals=after)),
    )
