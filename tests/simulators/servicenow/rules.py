"""Business rules as the instance applies them: numbering, state models, data policies, approvals.

The change state models follow servicenow-api.md §6.3; an illegal jump raises the 403
business-rule abort, missing close information the 403 data-policy error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import approvals, problems
from .schema import Table
from .wire import SnError, User, data_policy
from .wire import business_rule_abort as rule_abort

if TYPE_CHECKING:
    from .instance import Instance

STATE_RULE = "Change Model: Check State Transition"
STATE_RULE_ID = "0c8f2d1e4f3110102ae6a1b2c3d4e5f6"

# allowed target states per (type, current state); cancel (4) from anything before Review
CHANGE_MODELS: dict[str, dict[str, set[str]]] = {
    "normal": {"-5": {"-4", "4"}, "-4": {"-3", "-5", "4"}, "-3": {"-2", "-5", "4"}, "-2": {"-1", "4"},
               "-1": {"0", "4"}, "0": {"3"}, "3": set(), "4": set()},
    "standard": {"-5": {"-2", "4"}, "-2": {"-1", "4"}, "-1": {"0", "4"}, "0": {"3"}, "3": set(), "4": set()},
    "emergency": {"-5": {"-3", "4"}, "-3": {"-2", "-5", "4"}, "-2": {"-1", "4"}, "-1": {"0", "4"}, "0": {"3"},
                  "3": set(), "4": set()},
}
PRIORITY_MATRIX = {("1", "1"): "1", ("1", "2"): "2", ("1", "3"): "3", ("2", "1"): "2", ("2", "2"): "3",
                   ("2", "3"): "4", ("3", "1"): "3", ("3", "2"): "4", ("3", "3"): "5"}
TEMPLATE_LOCKED = ("description", "backout_plan", "test_plan", "implementation_plan")


def business_rule_abort(table: str, rule: str = STATE_RULE) -> SnError:
    return rule_abort(table, rule, STATE_RULE_ID)


def family(inst: Instance, table: Table) -> list[str]:
    return inst.schema.ancestors(table.name)


def number_for(inst: Instance, table: Table) -> str | None:
    for name in inst.schema.ancestors(table.name):
        candidate = inst.schema[name]
        if candidate.number_prefix:
            return inst.store.next_number(candidate.number_prefix, candidate.number_start)
    return None


# -- hooks called by Instance ----------------------------------------------------------------

def before_insert(inst: Instance, user: User, table: Table, row: dict, provided: set[str]) -> None:
    chain = family(inst, table)
    if "task" in chain:
        if not row.get("number"):
            row["number"] = number_for(inst, table) or ""
        row["task_effective_number"] = row["number"]
        row["opened_at"] = row.get("opened_at") or row["sys_created_on"]
        row["opened_by"] = row.get("opened_by") or user.sys_id
    if table.name == "incident":
        _incident(inst, user, table, None, row)
    elif table.name == "problem":
        _problem(inst, user, table, None, row, provided)
    elif table.name == "problem_task":
        problems.problem_task_rules(inst, user, table, None, row)
    elif table.name == "change_request":
        _change_insert(inst, row, provided)
        _close_fields(inst, user, table, None, row)
    elif table.name == "change_task":
        _simple_task_close(inst, user, None, row)
    elif table.name == "cmdb_rel_type" and not row.get("sys_name"):
        row["sys_name"] = row.get("name", "")  # the platform's sys_name mirrors the record's name
    elif table.name == "sys_user" and not row.get("name"):
        row["name"] = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p) or row.get("user_name", "")


def after_insert(inst: Instance, user: User, table: Table, row: dict) -> None:
    """Approvals are not triggered on insert: a change inserted straight into Authorize keeps
    approval=not requested, as on a real instance (servicenow-api.md §6.3)."""
    if table.name == "incident":
        problems.recount_incidents(inst, row.get("problem_id", ""))


def before_update(inst: Instance, user: User, table: Table, old: dict, new: dict, provided: set[str]) -> None:
    if table.name == "incident":
        _incident(inst, user, table, old, new)
    elif table.name == "problem":
        _problem(inst, user, table, old, new, provided)
    elif table.name == "problem_task":
        problems.problem_task_rules(inst, user, table, old, new)
    elif table.name == "change_request":
        check_transition(inst, old, new)
        _close_fields(inst, user, table, old, new)
    elif table.name == "change_task":
        _simple_task_close(inst, user, old, new)
    if new.get("number") != old.get("number") and "task_effective_number" in new:
        new["task_effective_number"] = new["number"]


def after_update(inst: Instance, user: User, table: Table, old: dict, new: dict) -> None:
    if table.name == "change_request":
        approvals.on_change_state(inst, old, new)
    elif table.name == "incident" and old.get("problem_id") != new.get("problem_id"):
        problems.recount_incidents(inst, old.get("problem_id", ""), new.get("problem_id", ""))
    elif table.name == "sysapproval_approver" and old.get("state") != new.get("state"):
        approvals.on_decision(inst, user, new)


def after_delete(inst: Instance, table: Table, row: dict) -> None:
    """Cascade like the platform: attachments, approvals and affected-CI rows of the record, relations of a CI."""
    sys_id = row["sys_id"]
    attachments = inst.schema["sys_attachment"]
    for att in inst.store.find(attachments, table_sys_id=sys_id):
        inst.store.delete(attachments, att["sys_id"])
        inst.store.delete_blob(att["sys_id"])
    if "task" in family(inst, table):
        for child, column in (("sysapproval_approver", "sysapproval"), ("task_ci", "task")):
            for dep in inst.store.find(inst.schema[child], **{column: sys_id}):
                inst.store.delete(inst.schema[child], dep["sys_id"])
    if row.get("sys_class_name") == "incident":
        problems.recount_incidents(inst, row.get("problem_id", ""))
    if "cmdb_ci" in family(inst, table):
        relations = inst.schema["cmdb_rel_ci"]
        for column in ("parent", "child"):
            for dep in inst.store.find(relations, **{column: sys_id}):
                inst.store.delete(relations, dep["sys_id"])


# -- incident --------------------------------------------------------------------------------

def _incident(inst: Instance, user: User, table: Table, old: dict | None, row: dict) -> None:
    row["priority"] = PRIORITY_MATRIX.get((row.get("impact", "3"), row.get("urgency", "3")), row.get("priority", "5"))
    row["incident_state"] = row.get("state", "1")
    state = row.get("state")
    entering = old is None or old.get("state") != state
    if state in ("6", "7") and entering:
        missing = [table.fields[name].label for name in ("close_code", "close_notes") if not row.get(name)]
        if missing:
            raise data_policy(missing)
    now = inst.clock.now_str()
    if state == "6" and entering:
        row["resolved_at"] = row.get("resolved_at") or now
        row["resolved_by"] = row.get("resolved_by") or user.sys_id
    if state in ("7", "8"):
        row["active"] = "false"
        if state == "7" and entering:
            row["closed_at"] = row.get("closed_at") or now
            row["closed_by"] = row.get("closed_by") or user.sys_id
    else:
        row["active"] = "true"
    if state != "3" and old is not None and old.get("state") == "3":
        row["hold_reason"] = ""


# -- problem ---------------------------------------------------------------------------------

def _problem(inst: Instance, user: User, table: Table, old: dict | None, row: dict, provided: set[str]) -> None:
    # the priority is computed from impact x urgency as on incidents ("read-only" on the problem form)
    row["priority"] = PRIORITY_MATRIX.get((row.get("impact", "3"), row.get("urgency", "3")), row.get("priority", "5"))
    problems.problem_rules(inst, user, table, old, row, provided)


# -- change request --------------------------------------------------------------------------

def _change_insert(inst: Instance, row: dict, provided: set[str]) -> None:
    models = inst.schema["chg_model"]
    if "chg_model" in provided and "type" not in provided and row.get("chg_model"):
        model = inst.store.get(models, row["chg_model"])
        if model and model["name"].lower() in CHANGE_MODELS:
            row["type"] = model["name"].lower()
    template_id = row.get("std_change_producer_version")
    if template_id:
        apply_template(inst, row, template_id, provided, locked=())
        row["type"] = "standard"
    if row.get("type") not in CHANGE_MODELS:
        row["type"] = row.get("type") or "normal"
    if not row.get("chg_model"):
        found = inst.store.find(models, name=row["type"])
        row["chg_model"] = found[0]["sys_id"] if found else ""
    if row["type"] == "standard":
        row["approval"] = "approved"
        row["approval_set"] = row["sys_created_on"]


def template_values(inst: Instance, template_id: str) -> dict[str, str]:
    """Field values of a std_change_producer_version (its ``template`` is an encoded query of sets)."""
    version = inst.store.get(inst.schema["std_change_producer_version"], template_id)
    if version is None:
        return {}
    values = {}
    for part in version["template"].split("^"):
        if "=" in part and part != "EQ":
            key, _sep, value = part.partition("=")
            values[key] = value
    return values


def apply_template(inst: Instance, row: dict, template_id: str, provided: set[str],
                   locked: tuple[str, ...] = TEMPLATE_LOCKED) -> list[str]:
    """Copy template values; ``locked`` fields win over the caller's. Returns overridden keys."""
    overridden = []
    fields = inst.schema["change_request"].fields
    for key, value in template_values(inst, template_id).items():
        if key not in fields:
            continue
        if key in provided and key not in locked:
            continue
        if key in provided:
            overridden.append(key)
        row[key] = value
    return overridden


def check_transition(inst: Instance, old: dict, new: dict) -> None:
    before, after = old.get("state", "-5"), new.get("state", "-5")
    if before == after:
        return
    model = CHANGE_MODELS.get(new.get("type") or "normal", CHANGE_MODELS["normal"])
    allowed = after in model.get(before, set())
    if allowed and new.get("type") == "normal" and before == "-5" and after == "-4":
        allowed = bool(new.get("assignment_group"))
    if allowed and new.get("type") in ("normal", "emergency") and after in ("-3", "-2") and before != "-5":
        allowed = new.get("approval") == "approved"
    if not allowed:
        raise business_rule_abort("change_request")


def _close_fields(inst: Instance, user: User, table: Table, old: dict | None, row: dict) -> None:
    state = row.get("state")
    entering = old is None or old.get("state") != state
    if state == "3" and entering:
        missing = [table.fields[name].label for name in ("close_code", "close_notes") if not row.get(name)]
        if missing:
            raise data_policy(missing)
        row["closed_at"] = row.get("closed_at") or inst.clock.now_str()
        row["closed_by"] = row.get("closed_by") or user.sys_id
    row["active"] = "false" if state in ("3", "4") else "true"


def _simple_task_close(inst: Instance, user: User, old: dict | None, row: dict) -> None:
    state = row.get("state")
    if state in ("3", "4"):
        row["active"] = "false"
        if old is None or old.get("state") != state:
            row["closed_at"] = row.get("closed_at") or inst.clock.now_str()
            row["closed_by"] = row.get("closed_by") or user.sys_id
    else:
        row["active"] = "true"
