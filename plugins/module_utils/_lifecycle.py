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
from ._records import CHANGE, CHANGE_TYPES, PROBLEM

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

# ServiceNow's problem model (servicenow-api.md 6.7; its Problem Model business rule): new -> assess -> root cause
# analysis -> fix in progress -> resolved -> closed. Which moves into resolved and closed a problem may make depends
# on its resolution_code (PROBLEM_RESOLUTION_MOVES); re-analysis takes a problem back to root cause analysis from fix
# in progress, resolved or closed, and clears its resolution (local: model.enter; ServiceNow: the instance).
PROBLEM_USER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("assess", "closed"),
    "assess": ("root_cause_analysis", "closed"),
    "root_cause_analysis": ("fix_in_progress", "resolved", "closed"),
    "fix_in_progress": ("resolved", "root_cause_analysis", "closed"),
    "resolved": ("closed", "root_cause_analysis"),
    "closed": ("root_cause_analysis",),
}
#: the states re-analysis (a move back to root cause analysis) starts from: it clears the problem's resolution
PROBLEM_REANALYSED_FROM = ("fix_in_progress", "resolved", "closed")
_CANCELED = ("canceled", "duplicate")
#: state entered -> state left -> the resolution codes that move: a fix is applied from fix in progress, a risk is
#: accepted once analysed, a problem is canceled or found a duplicate before it is resolved, and a resolved problem
#: is closed with the code it was resolved with
PROBLEM_RESOLUTION_MOVES: dict[str, dict[str, tuple[str, ...]]] = {
    "resolved": {"root_cause_analysis": ("risk_accepted",), "fix_in_progress": ("fix_applied", "risk_accepted")},
    "closed": {"new": _CANCELED, "assess": _CANCELED, "root_cause_analysis": ("risk_accepted",) + _CANCELED,
               "fix_in_progress": ("risk_accepted",) + _CANCELED, "resolved": ("fix_applied", "risk_accepted")},
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
#: someone owns a problem past new (ServiceNow's data policy); a fix starts from a known cause and a planned fix; a
#: problem ends with how it ended (resolution_code) and what that code needs (PROBLEM_REQUIRED_BY_RESOLUTION)
PROBLEM_REQUIRED_TO_ENTER = {
    "assess": ("assigned_to",),
    "root_cause_analysis": ("assigned_to",),
    "fix_in_progress": ("assigned_to", "cause_notes", "fix_notes"),
    "resolved": ("assigned_to", "resolution_code"),
    "closed": ("assigned_to", "resolution_code"),
}
#: resolution_code -> what else a problem needs to enter resolved or closed with it
PROBLEM_REQUIRED_BY_RESOLUTION = {
    "fix_applied": ("cause_notes", "fix_notes"),
    "risk_accepted": ("cause_notes", "close_notes"),
    "canceled": ("close_notes",),
    "duplicate": ("duplicate_of",),
}
_REQUIRED_TO_ENTER = {CHANGE: CHANGE_REQUIRED_TO_ENTER, PROBLEM: PROBLEM_REQUIRED_TO_ENTER}


def user_transitions(kind: str, change_type: str | None = None,
                     values: t.Mapping[str, t.Any] | None = None) -> dict[str, tuple[str, ...]]:
    """state -> the states a user may move the record to; a problem's, given its ``values``, as its resolution_code
    allows (PROBLEM_RESOLUTION_MOVES; without a code every move is listed, and entering needs the code)."""
    if kind == CHANGE:
        if change_type not in CHANGE_TYPES:
            raise ItsmValidationError("type", change_type, "expected one of: " + ", ".join(CHANGE_TYPES))
        return CHANGE_USER_TRANSITIONS[change_type]
    if kind != PROBLEM:
        return INCIDENT_USER_TRANSITIONS
    code = (values or {}).get("resolution_code")
    if not code:
        return PROBLEM_USER_TRANSITIONS
    return {state: tuple(following for following in moves
                         if following not in PROBLEM_RESOLUTION_MOVES
                         or code in PROBLEM_RESOLUTION_MOVES[following].get(state, ()))
            for state, moves in PROBLEM_USER_TRANSITIONS.items()}


def reanalysis(kind: str, current: str | None, target: str) -> bool:
    """Whether moving from ``current`` to ``target`` takes a problem back to root cause analysis, which clears its
    resolution (resolution_code, its resolved and closed times) on every backend, as ServiceNow does."""
    return kind == PROBLEM and target == "root_cause_analysis" and current in PROBLEM_REANALYSED_FROM


def required_to_enter(kind: str, state: str) -> tuple[str, ...]:
    return _REQUIRED_TO_ENTER.get(kind, INCIDENT_REQUIRED_TO_ENTER).get(state, ())


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
    transitions = user_transitions(kind, change_type, values)
    if extra:
        transitions = {state: tuple(following) + tuple(extra.get(state, ()))
                       for state, following in transitions.items()}
    if current == target:
        return []
    path = _shortest(transitions, current, target)
    if path is None:
        reachable = ", ".join(transitions.get(current, ())) or "none, it is final"
        reason = _why_unreachable(kind, change_type, current, target, values)
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


def _why_unreachable(kind: str, change_type: str | None, current: str, target: str,
                     values: t.Mapping[str, t.Any] | None = None) -> str:
    code = (values or {}).get("resolution_code")
    if kind == PROBLEM and code and target in PROBLEM_RESOLUTION_MOVES:
        sources = [state for state, codes in PROBLEM_RESOLUTION_MOVES[target].items() if code in codes]
        return (f" with resolution_code {code} (a problem enters {target} with it only from "
                f"{', '.join(sources) or 'no state'})")
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
    required = required_to_enter(kind, state)
    if kind == PROBLEM and state in PROBLEM_RESOLUTION_MOVES:
        required += PROBLEM_REQUIRED_BY_RESOLUTION.get(values.get("resolution_code") or "", ())
    return [name for name in dict.fromkeys(required) if not values.get(name)]


def approval_outcome(change_type: str, state: str, decision: str) -> tuple[str, str] | None:
    """(new state, new approval) after a decision on a change in ``state``; None if it awaits none."""
    moves = CHANGE_APPROVAL_MOVES.get(change_type, {})
    if state not in moves:
        return None
    if decision == "rejected":
        return CHANGE_REJECTION_STATE, "rejected"
    following = moves[state]
    return following, ("requested" if following in moves else "approved")
