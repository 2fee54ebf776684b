# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walks of local records through their models, and a dump of the store, shared by the local backend tests."""

from __future__ import annotations

import sqlite3

APPROVE = "<approve>"

# The user transitions each model allows, written out here (not read from _lifecycle) so the
# tests state the ServiceNow models the backend must enforce.
CHANGE_ALLOWED = {
    "normal": {"new": {"assess", "canceled"}, "assess": {"new", "canceled"}, "authorize": {"canceled"},
               "scheduled": {"implement", "canceled"}, "implement": {"review", "canceled"}, "review": {"closed"},
               "closed": set(), "canceled": set()},
    "standard": {"new": {"scheduled", "canceled"}, "scheduled": {"implement", "canceled"},
                 "implement": {"review", "canceled"}, "review": {"closed"}, "closed": set(), "canceled": set()},
    "emergency": {"new": {"authorize", "canceled"}, "authorize": {"canceled"}, "scheduled": {"implement", "canceled"},
                  "implement": {"review", "canceled"}, "review": {"closed"}, "closed": set(), "canceled": set()},
}
INCIDENT_ALLOWED = {
    "new": {"in_progress", "on_hold", "resolved", "canceled"}, "in_progress": {"on_hold", "resolved", "canceled"},
    "on_hold": {"in_progress", "resolved", "canceled"}, "resolved": {"closed", "in_progress"},
    "closed": set(), "canceled": set(),
}
# How to bring a record into each state: user transitions, and APPROVE for an approval decision.
_NORMAL_TO_SCHEDULED = ["assess", APPROVE, APPROVE]
_EMERGENCY_TO_SCHEDULED = ["authorize", APPROVE]
CHANGE_PATHS = {
    "normal": {"new": [], "assess": ["assess"], "authorize": ["assess", APPROVE], "scheduled": _NORMAL_TO_SCHEDULED},
    "standard": {"new": [], "scheduled": ["scheduled"]},
    "emergency": {"new": [], "authorize": ["authorize"], "scheduled": _EMERGENCY_TO_SCHEDULED},
}
for _paths in CHANGE_PATHS.values():
    _paths["implement"] = _paths["scheduled"] + ["implement"]
    _paths["review"] = _paths["implement"] + ["review"]
    _paths["closed"] = _paths["review"] + ["closed"]
    _paths["canceled"] = ["canceled"]
INCIDENT_PATHS = {"new": [], "in_progress": ["in_progress"], "on_hold": ["on_hold"], "resolved": ["resolved"],
                  "closed": ["resolved", "closed"], "canceled": ["canceled"]}
# Every field any state needs, given with every transition so that only the model decides.
CHANGE_ENTRY = {"assignment_group": "ops", "close_code": "successful", "close_notes": "done"}
INCIDENT_ENTRY = {"hold_reason": "awaiting_caller", "close_code": "solution_provided", "close_notes": "done"}


def drive_change(backend, change_type, state, **fields):
    change = backend.create("change", {"short_description": "s", "type": change_type, **fields})
    for number, step in enumerate(CHANGE_PATHS[change_type][state]):
        if step == APPROVE:
            change = backend.decide_approval(change, f"approver{number}", "approved", None)
        else:
            change = backend.transition("change", change, step, CHANGE_ENTRY)
    assert change["state"] == state
    return change


def drive_incident(backend, state, **fields):
    incident = backend.create("incident", {"short_description": "s", **fields})
    for step in INCIDENT_PATHS[state]:
        incident = backend.transition("incident", incident, step, INCIDENT_ENTRY)
    assert incident["state"] == state
    return incident


def dump(path):
    """Everything in the store, for comparing before and after (a separate, plain connection)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
