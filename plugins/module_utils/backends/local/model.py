# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend's record models as pure functions of rows. FOR INTERNAL COLLECTION USE ONLY.

What a new record's row holds, what setting fields and entering a state do to a row (derived values,
approval requests, reopen counts, close stamps), and which moves the models of _lifecycle allow. No
SQL and no I/O: records.py and approvals.py read the row under the write lock and store what these give.
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _records as records
from ..._errors import ItsmTransitionError, ItsmValidationError
from ..._records import CHANGE, INCIDENT, PROBLEM
from . import schema
from .schema import Record, Row


def initial_row(kind: str, parsed: inputs.Input, template: dict[str, t.Any], now: str) -> Row:
    """The row of a new record in state new, from the caller's fields and the template's (when named)."""
    values = dict(parsed.values)
    row: Row = {name: None for name in schema.columns(kind)}
    if kind == CHANGE:
        values.update({key: value for key, value in template.items() if key not in values})
        if parsed.template and values.get("type") not in (None, "standard"):
            raise ItsmValidationError("type", values["type"], f"a change made from template {parsed.template!r} is a "
                                      "standard change; leave type out or set it to standard")
        change_type = "standard" if parsed.template else values.get("type") or "normal"
        row.update(approval="approved" if change_type == "standard" else "not_requested", template=parsed.template,
                   approval_round=0, configuration_items=parsed.cis or [])
        values["type"] = change_type
    else:
        values = {"impact": "low", "urgency": "low", **{k: v for k, v in values.items() if v is not None}}
        if kind == INCIDENT:
            row["reopen_count"] = 0
    row.update(values, state="new", active=True, opened_at=now, updated_at=now,
               fields={key: value for key, value in (parsed.extras or {}).items() if value is not None})
    finish(kind, row)
    return row


def apply_fields(kind: str, row: Row, parsed: inputs.Input) -> Row:
    """The row with the caller's fields set (only those given) and the derived values recomputed (that a change
    keeps its type is the domain's rule, checked by the runner before any write)."""
    new = dict(row, **parsed.values)
    new["fields"] = dict(row.get("fields") or {})
    for key, value in (parsed.extras or {}).items():
        if value is None:
            new["fields"].pop(key, None)
        else:
            new["fields"][key] = value
    if parsed.cis is not None:
        new["configuration_items"] = parsed.cis
    finish(kind, new)
    return new


def finish(kind: str, row: Row) -> None:
    """Recompute what is derived (an incident's or a problem's priority) and refuse a window that ends before it
    starts."""
    if kind in (INCIDENT, PROBLEM):
        row["priority"] = records.priority_for(row.get("impact"), row.get("urgency"))
    start, end = row.get("start_date"), row.get("end_date")
    if start and end and end < start:
        raise ItsmValidationError("end_date", end, f"the end must not be before start_date {start}")


def as_predicted(kind: str, row: Row, record: Record) -> Row:
    """The stored row as ``record`` says it is. In check mode nothing is stored, so the second step of a walk
    (review, then closed) must start from what the first step predicted, not from the unchanged store (issue 12)."""
    keep = ("backend", "id", "number", "url")
    return dict(row, **{name: record[name] for name in schema.OUTPUT_FIELDS[kind] if name in record and name in row
                        and name not in keep})


def check_move(kind: str, row: Row, state: str, values: Row | None = None) -> None:
    """Refuse a move the model does not allow in one user transition, naming the next step (``values``: the row as
    the move would leave it, whose resolution_code decides a problem's moves)."""
    if state in lifecycle.user_transitions(kind, row.get("type"), values)[row["state"]]:
        return
    name = label(kind, row)
    # plan_path explains an unreachable state; a reachable one is refused as more than one step.
    path = lifecycle.plan_path(kind, row["state"], state, row.get("type"), label=name, values=values)
    raise ItsmTransitionError(f"state: cannot move {name} from {row['state']} to {state} in one step; move it "
                              f"to {path[0]} first", option="state", value=state, current_state=row["state"])


def enter(kind: str, row: Row, new: Row, state: str, now: str) -> None:
    """Side effects of a user transition into ``state`` (approvals, reopen count, close stamps)."""
    new["state"] = state
    if kind == CHANGE and state == lifecycle.CHANGE_APPROVAL_REQUESTED_IN.get(row["type"]):
        new["approval"], new["approval_round"] = "requested", row["approval_round"] + 1
    elif kind == CHANGE and state == "new" and row["approval"] == "requested":
        new["approval"] = "not_requested"  # withdrawn from assessment: no approval is pending any more
    if kind == INCIDENT and row["state"] == "resolved" and state == "in_progress":
        new["reopen_count"] = row["reopen_count"] + 1
        new["fields"].pop("resolved_at", None)
    if lifecycle.reanalysis(kind, row["state"], state):  # open again, its resolution undone
        new.update(resolution_code=None, active=True, closed_at=None)
        new["fields"].pop("resolved_at", None)
    if kind == INCIDENT and state == "resolved":
        new["fields"]["resolved_at"] = now
    if kind == PROBLEM and state in ("resolved", "closed"):
        new["fields"].setdefault("resolved_at", now)  # closed without being resolved first: resolved now
    if state in records.CLOSED_STATES[kind]:
        new["active"], new["closed_at"] = False, now


def label(kind: str, row: Row) -> str:
    """How messages name the record: its number, or "the new change" before it has one."""
    return row.get("number") or f"the new {kind}"
