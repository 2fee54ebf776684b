"""Approval engine for change requests (servicenow-api.md §6.3, §6.5).

A normal change entering Assess, or an emergency change entering Authorize from New, asks the
members of its assignment group (or of "CAB Approval" when the group has none) for approval.
The first approval of a stage closes the stage's other pending approvals ("No Longer Required") and
moves the change on: a normal change goes Assess -> Authorize, where the "CAB Approval" group is asked
in turn, and the CAB's approval moves it on to Scheduled; an emergency change goes Authorize ->
Scheduled. A rejection sends the change back to New with approval=rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .wire import SYSTEM, User

if TYPE_CHECKING:
    from .instance import Instance

CAB_GROUP = "CAB Approval"


def approvers_for(inst: Instance, change: dict, cab_only: bool = False) -> list[str]:
    members = inst.schema["sys_user_grmember"]
    users = inst.schema["sys_user"]
    group_ids = [change["assignment_group"]] if change.get("assignment_group") and not cab_only else []
    cab = inst.store.find(inst.schema["sys_user_group"], name=CAB_GROUP)
    if cab:
        group_ids.append(cab[0]["sys_id"])
    for group_id in group_ids:
        result = []
        for member in inst.store.find(members, group=group_id):
            user = inst.store.get(users, member["user"])
            if user and user["active"] == "true" and member["user"] not in result:
                result.append(member["user"])
        if result:
            return result
    return []


def on_change_state(inst: Instance, old: dict, new: dict) -> None:
    before, after, kind = old.get("state"), new.get("state"), new.get("type")
    if before == after:
        return
    if (kind == "normal" and after == "-4") or (kind == "emergency" and after == "-3" and before == "-5"):
        request(inst, new)
    elif after == "4":
        _close_pending(inst, new["sys_id"], "cancelled")


def request(inst: Instance, change: dict, cab_only: bool = False) -> None:
    changes = inst.schema["change_request"]
    _close_pending(inst, change["sys_id"], "not_required")
    approver_ids = approvers_for(inst, change, cab_only)
    if not approver_ids:
        inst.update(SYSTEM, changes, change["sys_id"], {"approval": "approved", "approval_set": inst.clock.now_str()},
                    system=True)
        advance(inst, change["sys_id"])
        return
    table = inst.schema["sysapproval_approver"]
    for approver in approver_ids:
        inst.insert(SYSTEM, table, {
            "approver": approver, "sysapproval": change["sys_id"], "document_id": change["sys_id"],
            "source_table": "change_request", "state": "requested", "approval_source": "change_model",
        }, system=True)
    inst.update(SYSTEM, changes, change["sys_id"], {"approval": "requested"}, system=True)


def on_decision(inst: Instance, user: User, approval: dict) -> None:
    decision = approval.get("state")
    if decision not in ("approved", "rejected"):
        return
    changes = inst.schema["change_request"]
    change = inst.store.get(changes, approval.get("sysapproval", ""))
    if change is None or change.get("approval") != "requested":
        return
    _close_pending(inst, change["sys_id"], "not_required")
    if decision == "approved" and change["type"] == "normal" and change["state"] == "-4":
        # The assess stage is approved; the change model then asks the CAB in authorize.
        inst.update(SYSTEM, changes, change["sys_id"], {"state": "-3", "approval": "approved"}, system=True)
        request(inst, inst.store.get(changes, change["sys_id"]), cab_only=True)
        return
    if decision == "approved":
        inst.update(SYSTEM, changes, change["sys_id"], {"approval": "approved", "approval_set": inst.clock.now_str()},
                    system=True)
        advance(inst, change["sys_id"])
        return
    payload = {"approval": "rejected"}
    if change["state"] in ("-4", "-3"):
        payload["state"] = "-5"
    inst.update(SYSTEM, changes, change["sys_id"], payload, system=True)


def advance(inst: Instance, change_id: str) -> None:
    """Move an approved change through the automatic transitions of its model."""
    changes = inst.schema["change_request"]
    change = inst.store.get(changes, change_id)
    if change is None:
        return
    path = {"normal": {"-4": "-3", "-3": "-2"}, "emergency": {"-3": "-2"}}.get(change["type"], {})
    state = change["state"]
    while state in path:
        state = path[state]
        inst.update(SYSTEM, changes, change_id, {"state": state}, system=True)


def _close_pending(inst: Instance, change_id: str, new_state: str) -> None:
    table = inst.schema["sysapproval_approver"]
    for row in inst.store.find(table, sysapproval=change_id, state="requested"):
        inst.update(SYSTEM, table, row["sys_id"], {"state": new_state}, system=True)
