# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical <-> ServiceNow value tables (servicenow-api.md section 6). FOR INTERNAL COLLECTION USE ONLY.

Data, not code (style.md B3): codec.py and cmdb.py build both directions from these tables once. A user
override later is a dict merged over ``CHOICES`` / ``EXTRA_COLUMNS``.
"""

from __future__ import annotations

from ..._records import CHANGE, INCIDENT, PROBLEM

#: the value of the ``backend`` option that selects this backend, and every record's ``backend``
BACKEND_NAME = "servicenow"

TABLES = {CHANGE: "change_request", INCIDENT: "incident", PROBLEM: "problem"}

# canonical value -> ServiceNow raw value, per (kind, canonical field)
CHOICES: dict[tuple[str, str], dict[str, str]] = {
    (CHANGE, "state"): {"new": "-5", "assess": "-4", "authorize": "-3", "scheduled": "-2", "implement": "-1",
                        "review": "0", "closed": "3", "canceled": "4"},
    (CHANGE, "type"): {"normal": "normal", "standard": "standard", "emergency": "emergency"},
    (CHANGE, "approval"): {"not_requested": "not requested", "requested": "requested", "approved": "approved",
                           "rejected": "rejected"},
    (CHANGE, "risk"): {"very_high": "1", "high": "2", "moderate": "3", "low": "4"},
    (CHANGE, "impact"): {"high": "1", "medium": "2", "low": "3"},
    (CHANGE, "close_code"): {"successful": "successful", "successful_issues": "successful_issues",
                             "unsuccessful": "unsuccessful"},
    (INCIDENT, "state"): {"new": "1", "in_progress": "2", "on_hold": "3", "resolved": "6", "closed": "7",
                          "canceled": "8"},
    (INCIDENT, "impact"): {"high": "1", "medium": "2", "low": "3"},
    (INCIDENT, "urgency"): {"high": "1", "medium": "2", "low": "3"},
    (INCIDENT, "priority"): {"critical": "1", "high": "2", "moderate": "3", "low": "4", "planning": "5"},
    (INCIDENT, "hold_reason"): {"awaiting_caller": "1", "awaiting_problem": "3", "awaiting_vendor": "4",
                                "awaiting_change": "5"},
    (INCIDENT, "close_code"): {
        "duplicate": "Duplicate", "known_error": "Known error", "no_resolution_provided": "No resolution provided",
        "resolved_by_caller": "Resolved by caller", "resolved_by_change": "Resolved by change",
        "resolved_by_problem": "Resolved by problem", "resolved_by_request": "Resolved by request",
        "solution_provided": "Solution provided", "workaround_provided": "Workaround provided"},
    # servicenow-api.md 6.7 (the states servicenow.itsm maps); resolution codes as the problem table stores them
    (PROBLEM, "state"): {"new": "101", "assess": "102", "root_cause_analysis": "103", "fix_in_progress": "104",
                         "resolved": "106", "closed": "107"},
    (PROBLEM, "impact"): {"high": "1", "medium": "2", "low": "3"},
    (PROBLEM, "urgency"): {"high": "1", "medium": "2", "low": "3"},
    (PROBLEM, "priority"): {"critical": "1", "high": "2", "moderate": "3", "low": "4", "planning": "5"},
    (PROBLEM, "resolution_code"): {"fix_applied": "fix_applied", "risk_accepted": "risk_accepted",
                                   "canceled": "canceled", "duplicate": "duplicate"},
}

# The labels an instance's data policy names when it refuses a write ("Data Policy Exception: The following
# fields are mandatory: Resolution code, Resolution notes", servicenow-api.md section 5) -> canonical fields, so
# the refusal reads as the one every backend gives (_lifecycle.missing_fields_error).
MANDATORY_LABELS: dict[str, dict[str, str]] = {
    CHANGE: {"Close code": "close_code", "Close notes": "close_notes", "Assignment group": "assignment_group"},
    INCIDENT: {"Resolution code": "close_code", "Resolution notes": "close_notes", "On hold reason": "hold_reason",
               "Assignment group": "assignment_group"},
    PROBLEM: {"Resolution code": "resolution_code", "Close notes": "close_notes", "Cause notes": "cause_notes",
              "Fix notes": "fix_notes", "Assigned to": "assigned_to", "Duplicate of": "duplicate_of",
              "Problem statement": "short_description", "Assignment group": "assignment_group"},
}
_DATA_POLICY = "The following fields are mandatory:"


def mandatory_fields(kind: str, reason: str) -> list[str]:
    """The canonical fields a data-policy refusal's ``reason`` names; empty when it is not one, or names a field
    this table does not know (the instance's own words are then reported as they are)."""
    _before, found, labels = reason.partition(_DATA_POLICY)
    if not found:
        return []
    fields = [MANDATORY_LABELS[kind].get(name.strip().rstrip(".")) for name in labels.split(",")]
    return [field for field in fields if field] if all(fields) else []


# Approval records (sysapproval_approver.state); states outside the canonical four are not listed.
APPROVAL_RECORD_STATES = {"requested": "requested", "approved": "approved", "rejected": "rejected",
                          "not requested": "not_requested"}

# References: canonical field -> (column, target table, the target's name column).
REFERENCES: dict[str, dict[str, tuple[str, str, str]]] = {
    CHANGE: {
        "assignment_group": ("assignment_group", "sys_user_group", "name"),
        "assigned_to": ("assigned_to", "sys_user", "user_name"),
        "requested_by": ("requested_by", "sys_user", "user_name"),
        "template": ("std_change_producer_version", "std_change_producer_version", "name"),
    },
    INCIDENT: {
        "assignment_group": ("assignment_group", "sys_user_group", "name"),
        "assigned_to": ("assigned_to", "sys_user", "user_name"),
        "caller": ("caller_id", "sys_user", "user_name"),
        "configuration_item": ("cmdb_ci", "cmdb_ci", "name"),
        "caused_by": ("caused_by", "change_request", "number"),
        "problem": ("problem_id", "problem", "number"),
    },
    PROBLEM: {
        "assignment_group": ("assignment_group", "sys_user_group", "name"),
        "assigned_to": ("assigned_to", "sys_user", "user_name"),
        "configuration_item": ("cmdb_ci", "cmdb_ci", "name"),
        "duplicate_of": ("duplicate_of", "problem", "number"),
    },
}

# Plain columns with a canonical name of their own (everything else keeps its name).
COLUMNS = {"updated_at": "sys_updated_on"}

# Glide date-times (UTC, "YYYY-MM-DD HH:MM:SS"): ISO 8601 in canonical records, ``fields`` included
# (``resolved_at`` is read there), and the instance's format when written.
DATE_COLUMNS = ("start_date", "end_date", "opened_at", "sys_updated_on", "closed_at", "resolved_at")

# ServiceNow columns returned in a record's ``fields`` (backend-specific extras) and accepted there.
# Columns a task writes through ``fields`` are read back too, for as long as the backend lives.
EXTRA_COLUMNS = {
    CHANGE: ("category", "priority", "urgency", "on_hold_reason", "conflict_status"),
    INCIDENT: ("category", "subcategory", "contact_type", "resolved_at"),
    PROBLEM: ("category", "subcategory", "resolved_at"),
}

# Extras change_request has no column for: a change's CI pipeline (``pipeline_<key>``, issue 19) is the block of its
# description on this backend (_pipeline.read parses it), so those extras are not sent (the instance would drop
# them without a word).
UNSTORED_EXTRA_PREFIXES = {CHANGE: ("pipeline_",)}

# Fields a standard change template keeps (sn_chg_rest ignores the caller's values for them).
TEMPLATE_LOCKED = ("description", "implementation_plan", "backout_plan", "test_plan")

# Blackout sources (servicenow-api.md section 7): the entries of schedules of this type or class; the
# scope (``applies_to`` + ``condition``) of those schedules, which lives on cmn_schedule_condition and
# cannot be dot-walked from a span; conflict types that mean a blackout.
BLACKOUT_SCHEDULE_QUERY = "schedule.type=blackout^ORschedule.sys_class_name=cmn_schedule_blackout"
BLACKOUT_SCOPE_TABLE = "cmn_schedule_condition"
BLACKOUT_SCOPE_QUERY = "type=blackout^ORsys_class_name=cmn_schedule_blackout"
BLACKOUT_CONFLICT_TYPES = ("blackout", "child_blackout", "parent_blackout")
# A schedule whose condition is on one of these tables is scoped by the change itself, not its CIs.
CHANGE_CONDITION_TABLES = ("change_request", "task")

# -- CMDB (cmdb.py) ------------------------------------------------------------------------------

# A canonical CI class is its table without this prefix (linux_server <-> cmdb_ci_linux_server).
CI_CLASS_PREFIX = "cmdb_ci_"

# canonical word -> the instance's value (servicenow-api.md 6.8)
CI_CHOICES: dict[str, dict[str, str]] = {
    "environment": {"development": "Development", "production": "Production", "test": "Test"},
    "operational_status": {"operational": "1", "non_operational": "2", "repair_in_progress": "3", "dr_standby": "4",
                           "ready": "5", "retired": "6", "pipeline": "7", "catalog": "8"},
    "install_status": {"implementing": "0", "installed": "1", "on_order": "2", "in_maintenance": "3",
                       "pending_install": "4", "pending_repair": "5", "in_stock": "6", "retired": "7", "stolen": "8",
                       "absent": "100"},
}

# Reference columns of a CI a write may name by the referenced record's name: column -> (table, name column).
CI_REFERENCES = {"location": ("cmn_location", "name"), "support_group": ("sys_user_group", "name"),
                 "assigned_to": ("sys_user", "user_name"), "maintenance_schedule": ("cmn_schedule", "name")}
