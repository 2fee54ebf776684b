# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ITIL state models as data. FOR INTERNAL COLLECTION USE ONLY.

The ServiceNow models (servicenow-api.md 6.2, 6.3): which states a user may move a record to,
what approvals do, and which fields a state needs. The local backend enforces these; the remote
backends let the instance enforce them and use these tables to explain a refusal.
"""

from __future__ import annotations

import collections
import typing as t

from ._errors import ItsmTransitionError, ItsmValidationError
from ._records import CHANGE, CHANGE_TYPES

_BEFORE_REVIEW_CANCEL = ("canceled",)

# state -> states a user (not an approval) may move a change to, per change type.
CHANGE_USER_TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "normal": {
        "new": ("assess",) + _BEFORE_REVIEW_CANCEL,
        "assess": ("new",) + _BEFORE_REVIEW_CANCEL,
        "authorize": _BEFORE_REVIEW_CANCEL,
        "scheduled": ("implement",) + _BEFORE_REVIEW_CANCEL,
        "implement": ("review",) + _BEFORE_REVIEW_CANCEL,
        "review": ("closed",),
        "closed": (),
        "canceled": (),
    },
    "standard": {
        "new": ("scheduled",) + _BEFORE_REVIEW_CANCEL,
        "scheduled": ("implement",) + _BEFORE_REVIEW_CANCEL,
        "implement": ("review",) + _BEFORE_REVIEW_CANCEL,
        "review": ("closed",),
        "closed": (),
        "canceled": (),
    },
    "emergency": {
        "new": ("authorize",) + _BEFORE_REVIEW_CANCEL,
        "authorize": _BEFORE_REVIEW_CANCEL,
        "scheduled": ("implement",) + _BEFORE_REVIEW_CANCEL,
        "implement": ("review",) + _BEFORE_REVIEW_CANCEL,
        "review": ("closed",),
        "closed": (),
        "canceled": (),
    },
}

# Entering this state requests approval (approval -> requested).
CHANGE_APPROVAL_REQUESTED_IN = {"normal": "assess", "emergency": "authorize"}

# An approval recorded while the change is in the key state moves it to the value state.
# A normal change needs two: the technical approval in assess, the CAB's in authorize.
CHANGE_APPROVAL_MOVES: dict[str, dict[str, str]] = {
    "normal": {"assess": "authorize", "authorize": "scheduled"},
    "emergency": {"authorize": "scheduled"},
    "standard": {},
}
CHANGE_REJECTION_STATE = "new"

INCIDENT_USER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_progress", "on_hold", "resolved", "canceled"),
    "in_progress": ("on_hold", "resolved", "canceled"),
    "on_hold": ("in_progress", "resolved", "canceled"),
    "resolved": ("closed", "in_progress"),
    "closed": (),
    "canceled": (),
}

# Fields a record must hold (already, or given in the same task) to enter a state.
CHANGE_REQUIRED_TO_ENTER = {
    "assess": ("assignment_group",),
    "authorize": ("assignment_group",),
    "closed": ("close_code", "close_notes"),
}
INCIDENT_REQUIRED_TO_ENTER = {
    "on_hold": ("hold_reason",),
    "resolved": ("close_code", "close_notes"),
    "closed": ("close_code", "close_notes"),
}


def user_transitions(kind: str, change_type: str | None = None) -> dict[str, tuple[str, ...]]:
    if kind == CHANGE:
        if change_type not in CHANGE_TYPES:
            raise ItsmValidationError("type", change_type, "expected one of: " + ", ".join(CHANGE_TYPES))
        return CHANGE_USER_TRANSITIONS[change_type]
    return INCIDENT_USER_TRANSITIONS


def required_to_enter(kind: str, state: str) -> tuple[str, ...]:
    table = CHANGE_REQUIRED_TO_ENTER if kind == CHANGE else INCIDENT_REQUIRED_TO_ENTER
    return table.get(state, ())


def plan_path(kind: str, current: str, target: str, change_type: str | None = None,
              label: str = "record", values: t.Mapping[str, t.Any] | None = None,
              extra: t.Mapping[str, t.Sequence[str]] | None = None) -> list[str]:
    """The shortest list of user transitions from ``current`` to ``target`` (empty when already there);
    ``extra``: the moves a user makes on the backend beyond the model's (ItsmBackend.extra_user_transitions).

    Raises ItsmTransitionError naming the states reachable from ``current`` when there is none,
    e.g. a normal change cannot be moved from new to implement: approvals move it past authorize.
    Given the record's ``values``, the refusal also names every field the way there still lacks
    (closing needs close_code and close_notes, approvals or not), so one answer lists all that is missing.
    """
    transitions = user_transitions(kind, change_type)
    if extra:
        transitions = {state: tuple(following) + tuple(extra.get(state, ()))
                       for state, following in transitions.items()}
    if current == target:
        return []
    path = _shortest(transitions, current, target)
    if path is None:
        reachable = ", ".join(transitions.get(current, ())) or "none, it is final"
        reason = _why_unreachable(kind, change_type, current, target)
        lacking = _lacking_on_the_way(kind, change_type, current, target, values) if values is not None else ""
        raise ItsmTransitionError(
            f"state: cannot move {label} from {current} to {target}{reason}{lacking}; states reachable from "
            f"{current}: {reachable}",
            option="state", value=target, current_state=current,
        )
    return path


def _shortest(transitions: t.Mapping[str, t.Sequence[str]], current: str, target: str) -> list[str] | None:
    """The states entered on a shortest walk from ``current`` to ``target`` (breadth first), or None."""
    previous: dict[str, str] = {current: current}
    queue = collections.deque([current])
    while queue:
        state = queue.popleft()
        for following in transitions.get(state, ()):
            if following not in previous:
                previous[following] = state
                queue.append(following)
    if target not in previous:
        return None
    path = [target]
    while previous[path[-1]] != current:
        path.append(previous[path[-1]])
    return list(reversed(path))


def _why_unreachable(kind: str, change_type: str | None, current: str, target: str) -> str:
    if kind != CHANGE:
        return ""
    moves = CHANGE_APPROVAL_MOVES.get(change_type or "", {})
    if moves and target not in ("new", "assess", "canceled"):
        stages = " and ".join(moves)
        return f" (only approvals move a {change_type} change on from {stages}; record them with change_approval)"
    return ""


def _lacking_on_the_way(kind: str, change_type: str | None, current: str, target: str,
                        values: t.Mapping[str, t.Any]) -> str:
    """``; on the way it also needs X to enter S ...`` for the fields missing on the walk approvals would allow."""
    transitions = {state: tuple(following) for state, following in user_transitions(kind, change_type).items()}
    if kind == CHANGE:
        for state, following in CHANGE_APPROVAL_MOVES.get(change_type or "", {}).items():
            transitions[state] += (following,)
    needs = missing_on_path(kind, _shortest(transitions, current, target) or [], values)
    if not needs:
        return ""
    return "; on the way it also needs " + " and ".join(f"{', '.join(fields)} to enter {state}"
                                                        for state, fields in needs)


def missing_on_path(kind: str, path: t.Sequence[str], values: t.Mapping[str, t.Any]) -> list[tuple[str, list[str]]]:
    """``(state, fields)`` for each state of ``path`` that needs fields ``values`` lacks; a field once only."""
    needs, named = [], set()
    for state in path:
        fields = [name for name in missing_fields(kind, state, values) if name not in named]
        named.update(fields)
        if fields:
            needs.append((state, fields))
    return needs


def refuse_type_change(label: str, current_type: str | None, wanted_type: str | None) -> None:
    """A change keeps the model it was created under: a different ``type`` is refused, on every backend."""
    if wanted_type not in (None, current_type):
        raise ItsmValidationError("type", wanted_type, f"{label} is a {current_type} change and a change keeps "
                                  "its type; create a new change instead")


def refuse_missing_to_enter(kind: str, label: str, state: str, values: t.Mapping[str, t.Any]) -> None:
    """A single step whose required fields ``values`` lacks, refused by a backend that holds those fields as
    the system (the local store, and jsm for the fields Jira keeps in an issue property); the domain plans a
    whole walk with plan_path and missing_on_path before the first write."""
    missing = missing_fields(kind, state, values)
    if missing:
        raise missing_fields_error(label, state, missing)


def missing_fields_error(label: str, state: str, missing: t.Sequence[str]) -> ItsmTransitionError:
    """The canonical refusal of a step into ``state`` that lacks ``missing``, whoever refuses it: the domain's
    plan, the local store, or a system's own refusal mapped back to canonical field names (ServiceNow's data
    policy)."""
    return ItsmTransitionError(
        f"state: cannot move {label} to {state}: {', '.join(missing)} must be set; give them with the "
        "transition or set them first", option="state", value=state, missing=list(missing))


def missing_fields(kind: str, state: str, values: t.Mapping[str, t.Any]) -> list[str]:
    return [name for name in required_to_enter(kind, state) if not values.get(name)]


def approval_outcome(change_type: str, state: str, decision: str) -> tuple[str, str] | None:
    """(new state, new approval) after a decision on a change in ``state``; None if it awaits none."""
    moves = CHANGE_APPROVAL_MOVES.get(change_type, {})
    if state not in moves:
        return None
    if decision == "rejected":
        return CHANGE_REJECTION_STATE, "rejected"
    following = moves[state]
    return following, ("requested" if following in moves else "approved")
