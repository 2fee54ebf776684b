"""Problem and problem task state models (servicenow-api.md §6.7, vendor docs where it is silent).

The Madrid "best practice" model that new instances run: a problem goes New -> Assess -> Root Cause
Analysis -> Fix in Progress -> Resolved -> Closed; Accept Risk resolves or closes it from Root Cause
Analysis (or Fix in Progress); Cancel and Mark Duplicate close it from any state before Resolved;
Re-analyze sends Fix in Progress, Resolved and Closed back to Root Cause Analysis.  A problem task goes
New -> Assess -> Work in Progress -> Closed, with Re-assess (Work in Progress or Closed -> Assess) and
Cancel from any open state.  An illegal jump gets the 403 business-rule abort; a missing mandatory
field the 403 data-policy error.  The mandatory fields per state and resolution code are those of the
platform's problem data policies (the list servicenow.itsm's problem module enforces client-side);
the documentation only shows them as diagrams.  Inserts are checked for the mandatory fields of the
state they ask for, not for a transition (a problem can be created straight into Closed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schema import Table
from .wire import User, business_rule_abort, data_policy

if TYPE_CHECKING:
    from .instance import Instance

PROBLEM_RULE = "Problem Model: Check State Transition"
TASK_RULE = "Problem Task Model: Check State Transition"
PROBLEM_RULE_ID = "5b2f8e6a4f3110102ae6a1b2c3d4e5f7"
TASK_RULE_ID = "9d4a1c7e4f3110102ae6a1b2c3d4e5f8"

NEW, ASSESS, RCA, FIX, RESOLVED, CLOSED = "101", "102", "103", "104", "106", "107"
# target states allowed from each state (the resolution code narrows Resolved/Closed further)
PROBLEM_MODEL: dict[str, set[str]] = {
    NEW: {ASSESS, CLOSED}, ASSESS: {RCA, CLOSED}, RCA: {FIX, RESOLVED, CLOSED},
    FIX: {RCA, RESOLVED, CLOSED}, RESOLVED: {RCA, CLOSED}, CLOSED: {RCA},
}
# states from which a resolution code may move a problem into Resolved or Closed
RESOLVE_FROM: dict[str, dict[str, set[str]]] = {
    RESOLVED: {"fix_applied": {FIX}, "risk_accepted": {RCA, FIX}},
    CLOSED: {"risk_accepted": {RCA, FIX, RESOLVED}, "fix_applied": {RESOLVED},
             "canceled": {NEW, ASSESS, RCA, FIX}, "duplicate": {NEW, ASSESS, RCA, FIX}},
}
# fields each resolution code makes mandatory, besides resolution_code itself
RESOLUTION_FIELDS = {"fix_applied": ("cause_notes", "fix_notes"), "risk_accepted": ("cause_notes", "close_notes"),
                     "canceled": ("close_notes",), "duplicate": ("duplicate_of",)}

T_NEW, T_ASSESS, T_WIP, T_CLOSED = "151", "152", "154", "157"
TASK_MODEL: dict[str, set[str]] = {
    T_NEW: {T_ASSESS, T_CLOSED}, T_ASSESS: {T_WIP, T_CLOSED}, T_WIP: {T_ASSESS, T_CLOSED}, T_CLOSED: {T_ASSESS},
}


def _require(table: Table, row: dict, names: tuple[str, ...] | list[str]) -> None:
    missing = [table.fields[name].label for name in names if not row.get(name)]
    if missing:
        raise data_policy(missing)


def _stamp(row: dict, at: str, by: str, now: str, user: User) -> None:
    row[at] = row.get(at) or now
    row[by] = row.get(by) or user.sys_id


# -- problem ----------------------------------------------------------------------------------

def problem_mandatory(row: dict) -> list[str]:
    """Fields the data policies demand for the row's state (and resolution code)."""
    state = row.get("state", NEW)
    names = ["short_description"]
    if state != NEW:
        names.append("assigned_to")
    if state == FIX:
        names += ["cause_notes", "fix_notes"]
    if state in (RESOLVED, CLOSED):
        names.append("resolution_code")
        names += list(RESOLUTION_FIELDS.get(row.get("resolution_code", ""), ()))
    return names


def check_problem_transition(old: dict, new: dict) -> None:
    before, after = old.get("state") or NEW, new.get("state") or NEW
    if before == after:
        return
    allowed = after in PROBLEM_MODEL.get(before, set())
    if allowed and after in RESOLVE_FROM:
        # an unknown or missing code is left to the data policy (resolution_code is mandatory there)
        sources = RESOLVE_FROM[after].get(new.get("resolution_code", ""))
        allowed = sources is None or before in sources
    if not allowed:
        raise business_rule_abort("problem", PROBLEM_RULE, PROBLEM_RULE_ID)


def problem_rules(inst: Instance, user: User, table: Table, old: dict | None, row: dict,
                  provided: set[str]) -> None:
    """Before insert (old None) or update: mirror, transition, data policy, time stamps (rules sets priority)."""
    if "problem_state" in provided and "state" not in provided:
        row["state"] = row["problem_state"]  # a write of the mirror alone moves the state too
    row["problem_state"] = row.get("state") or NEW
    state = row["problem_state"]
    before = old.get("state") if old is not None else None
    if old is not None:
        check_problem_transition(old, row)
    if before == state:
        return
    if state == RCA and before in (FIX, RESOLVED, CLOSED):
        # Re-analyze: the problem is open again and its resolution is undone
        for name in ("resolution_code", "resolved_at", "resolved_by", "closed_at", "closed_by"):
            row[name] = ""
        if before in (RESOLVED, CLOSED):
            row["reopen_count"] = str(int(row.get("reopen_count") or 0) + 1)
            row["reopened_at"], row["reopened_by"] = inst.clock.now_str(), user.sys_id
    _require(table, row, problem_mandatory(row))
    now = inst.clock.now_str()
    if state == RCA and before in (None, NEW, ASSESS):
        _stamp(row, "confirmed_at", "confirmed_by", now, user)
    if state == FIX:
        _stamp(row, "fix_at", "fix_by", now, user)
    if state in (RESOLVED, CLOSED):
        _stamp(row, "resolved_at", "resolved_by", now, user)
    if state == CLOSED:
        _stamp(row, "closed_at", "closed_by", now, user)
    row["active"] = "false" if state == CLOSED else "true"


# -- problem task -----------------------------------------------------------------------------

def task_mandatory(row: dict) -> list[str]:
    state = row.get("state", T_NEW)
    names = ["short_description"] if state == T_NEW else ["short_description", "assigned_to"]
    if state == T_CLOSED:
        names.append("close_code")
        if row.get("close_code") == "completed":
            names += ["cause_notes", "fix_notes"] if row.get("problem_task_type") == "rca" else ["close_notes"]
        elif row.get("close_code") == "canceled":
            names.append("close_notes")
    return names


def problem_task_rules(inst: Instance, user: User, table: Table, old: dict | None, row: dict) -> None:
    state = row.get("state") or T_NEW
    before = old.get("state") if old is not None else None
    if before == state:
        return
    if old is not None:
        allowed = state in TASK_MODEL.get(before or T_NEW, set())
        if allowed and state == T_CLOSED and row.get("close_code") == "completed":
            allowed = before == T_WIP  # Complete is offered in Work in Progress only; Cancel anywhere
        if not allowed:
            raise business_rule_abort("problem_task", TASK_RULE, TASK_RULE_ID)
    if state == T_ASSESS and before == T_CLOSED:
        row["close_code"] = ""
        row["reopen_count"] = str(int(row.get("reopen_count") or 0) + 1)
        row["reopened_at"], row["reopened_by"] = inst.clock.now_str(), user.sys_id
    _require(table, row, task_mandatory(row))
    now = inst.clock.now_str()
    if state == T_WIP:
        _stamp(row, "started_at", "started_by", now, user)
    if state == T_CLOSED:
        _stamp(row, "closed_at", "closed_by", now, user)
    row["active"] = "false" if state == T_CLOSED else "true"


# -- incident.problem_id ----------------------------------------------------------------------

def recount_incidents(inst: Instance, *problem_ids: str) -> None:
    """Keep problem.related_incidents equal to the number of incidents whose problem_id is the problem."""
    incidents, problems = inst.schema["incident"], inst.schema["problem"]
    for problem_id in {pid for pid in problem_ids if pid}:
        if inst.store.get(problems, problem_id) is not None:
            count = inst.store.count(incidents, 't."problem_id" = ?', [problem_id])
            inst.store.update(problems, problem_id, {"related_incidents": str(count)})
