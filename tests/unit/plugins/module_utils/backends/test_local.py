# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend against real SQLite files under tmp_path (no mocks)."""

from __future__ import annotations

import getpass
import os
import sqlite3
import threading

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmNotFoundError,
    ItsmStorageError,
    ItsmTransientError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import _local_schema, build_backend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import local as local_module
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend

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


# -- the file ----------------------------------------------------------------------------------

def test_first_write_creates_directories_and_a_wal_store_at_the_schema_version(local, db_path):
    assert not os.path.exists(os.path.dirname(db_path))

    local.create("change", {"short_description": "s"})

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == _local_schema.SCHEMA_VERSION
    conn.close()


def test_reads_of_a_missing_store_return_nothing_and_create_no_file(local, db_path):
    assert local.get("change", number="CHG0000001") is None
    assert list(local.find("incident", {})) == []
    assert local.journal("change", {"id": "x"}) == []
    assert local.approvals({"id": "x"}) == []
    assert local.blackouts("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == []
    assert local.template("weekly") is None
    assert list(local.iter_cis()) == []
    assert not os.path.exists(os.path.dirname(db_path))


def test_default_path_is_under_the_ansible_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))

    backend = LocalBackend(ConnectionSettings())

    assert backend.path == str(tmp_path / "ansible-home" / "opsgate_itsm" / "itsm.sqlite")


def test_registry_builds_the_local_backend(db_path):
    backend = build_backend(ConnectionSettings(backend="local", local_db=db_path))

    assert isinstance(backend, LocalBackend)
    assert backend.name == "local"
    assert backend.capabilities == {"approvals", "affected_cis", "blackouts", "templates", "cmdb", "attachments"}


def test_a_second_backend_sees_the_first_ones_records(make_local):
    change = make_local().create("change", {"short_description": "s"})

    assert make_local().get("change", number=change["number"]) == change


def test_migrations_are_ordered_functions_one_per_version():
    assert len(_local_schema.MIGRATIONS) == _local_schema.SCHEMA_VERSION
    assert all(callable(step) for step in _local_schema.MIGRATIONS)


def test_every_canonical_writable_field_has_a_column():
    assert set(records.CHANGE_WRITABLE) <= set(_local_schema.columns("change"))
    assert set(records.INCIDENT_WRITABLE) <= set(_local_schema.columns("incident"))


# -- numbers, ids, shape ---------------------------------------------------------------------------

def test_numbers_are_prefixed_seven_digit_counters_per_kind(local):
    changes = [local.create("change", {"short_description": "s"}) for _unused in range(2)]
    incident = local.create("incident", {"short_description": "s"})

    assert [change["number"] for change in changes] == ["CHG0000001", "CHG0000002"]
    assert incident["number"] == "INC0000001"
    assert changes[0]["url"] == "local://changes/CHG0000001"
    assert incident["url"] == "local://incidents/INC0000001"
    assert len(changes[0]["id"]) == 32 and changes[0]["id"] != changes[1]["id"]
    assert changes[0]["backend"] == "local"


def test_extras_in_fields_round_trip_and_merge(local):
    change = local.create("change", {"short_description": "s", "fields": {"ticket": {"system": "x", "ids": [1, 2]}}})

    updated = local.update("change", change, {"fields": {"owner": "team-a"}})
    removed = local.update("change", updated, {"fields": {"ticket": None}})

    assert change["fields"] == {"ticket": {"system": "x", "ids": [1, 2]}}
    assert updated["fields"] == {"ticket": {"system": "x", "ids": [1, 2]}, "owner": "team-a"}
    assert removed["fields"] == {"owner": "team-a"}


def test_unknown_field_is_refused_with_the_fields_allowed(local):
    with pytest.raises(ItsmValidationError) as caught:
        local.create("incident", {"short_description": "s", "priority": "critical"})

    assert caught.value.details["option"] == "priority"
    assert "urgency" in str(caught.value)


@pytest.mark.parametrize("kind, option, value", [
    ("change", "type", "urgent"), ("change", "risk", "extreme"), ("change", "impact", "huge"),
    ("change", "close_code", "fine"), ("incident", "impact", "1"), ("incident", "urgency", "now"),
    ("incident", "close_code", "fixed"), ("incident", "hold_reason", "lunch"),
])
def test_choices_are_validated_naming_option_and_allowed_values(local, kind, option, value):
    with pytest.raises(ItsmValidationError) as caught:
        local.create(kind, {"short_description": "s", option: value})

    assert caught.value.details["option"] == option
    assert "expected one of:" in str(caught.value)


def test_transition_to_an_unknown_state_is_a_validation_error(local):
    change = local.create("change", {"short_description": "s"})

    with pytest.raises(ItsmValidationError) as caught:
        local.transition("change", change, "done")
    assert caught.value.details["option"] == "state"


def test_dates_are_stored_and_returned_as_utc(local):
    change = local.create("change", {"short_description": "s", "start_date": "2026-03-01T10:00:00+02:00"})

    assert change["start_date"] == "2026-03-01T08:00:00Z"
    assert next(local.find("change", {"window_start": "2026-03-01T07:00:00Z"}))["number"] == change["number"]


def test_naive_dates_are_refused(local):
    with pytest.raises(ItsmValidationError) as caught:
        local.create("change", {"short_description": "s", "start_date": "2026-03-01T10:00:00"})
    assert caught.value.details["option"] == "start_date"


def test_end_before_start_is_refused_on_create_and_update(local, db_path):
    with pytest.raises(ItsmValidationError) as caught:
        local.create("change", {"short_description": "s", "start_date": "2026-03-02T00:00:00Z",
                                "end_date": "2026-03-01T00:00:00Z"})
    assert caught.value.details["option"] == "end_date"
    change = local.create("change", {"short_description": "s", "start_date": "2026-03-02T00:00:00Z"})

    with pytest.raises(ItsmValidationError) as caught:
        local.update("change", change, {"end_date": "2026-03-01T23:59:59Z"})
    assert caught.value.details["option"] == "end_date"
    assert local.get("change", id=change["id"])["end_date"] is None


def test_a_change_keeps_its_type(local):
    change = local.create("change", {"short_description": "s"})

    with pytest.raises(ItsmValidationError) as caught:
        local.update("change", change, {"type": "standard"})
    assert caught.value.details["option"] == "type"
    assert local.update("change", change, {"type": "normal"})["type"] == "normal"


def test_update_with_unchanged_values_writes_nothing(local, db_path):
    change = local.create("change", {"short_description": "s", "risk": "low"})
    before = dump(db_path)

    again = local.update("change", change, {"short_description": "s", "risk": "low"})

    assert again == change
    assert dump(db_path) == before


# -- lifecycles --------------------------------------------------------------------------------

CHANGE_CASES = [(change_type, current, target) for change_type, table in CHANGE_ALLOWED.items()
                for current in table for target in records.CHANGE_STATES if target != current]
INCIDENT_CASES = [(current, target) for current in INCIDENT_ALLOWED for target in records.INCIDENT_STATES
                  if target != current]


@pytest.mark.parametrize("change_type, current, target", CHANGE_CASES,
                         ids=[f"{c[0]}-{c[1]}-to-{c[2]}" for c in CHANGE_CASES])
def test_change_user_transitions(local, change_type, current, target):
    change = drive_change(local, change_type, current)

    if target in CHANGE_ALLOWED[change_type][current]:
        moved = local.transition("change", change, target, CHANGE_ENTRY)
        assert moved["state"] == target
        assert local.get("change", id=change["id"])["state"] == target
    else:
        before = local.audit("change", change)
        with pytest.raises(ItsmTransitionError) as caught:
            local.transition("change", change, target, CHANGE_ENTRY)
        assert change["number"] in str(caught.value)
        assert local.get("change", id=change["id"]) == change
        assert local.audit("change", change) == before


@pytest.mark.parametrize("current, target", INCIDENT_CASES, ids=[f"{c[0]}-to-{c[1]}" for c in INCIDENT_CASES])
def test_incident_user_transitions(local, current, target):
    incident = drive_incident(local, current)

    if target in INCIDENT_ALLOWED[current]:
        assert local.transition("incident", incident, target, INCIDENT_ENTRY)["state"] == target
    else:
        with pytest.raises(ItsmTransitionError) as caught:
            local.transition("incident", incident, target, INCIDENT_ENTRY)
        assert incident["number"] in str(caught.value)
        assert local.get("incident", id=incident["id"]) == incident


def test_a_refused_jump_names_the_next_step(local):
    change = local.create("change", {"short_description": "s", "type": "standard"})

    with pytest.raises(ItsmTransitionError) as caught:
        local.transition("change", change, "implement")
    assert "CHG0000001" in str(caught.value) and "scheduled first" in str(caught.value)


def test_only_approvals_move_a_normal_change_past_assess(local):
    change = drive_change(local, "normal", "assess")

    with pytest.raises(ItsmTransitionError) as caught:
        local.transition("change", change, "authorize")
    assert "approv" in str(caught.value)


@pytest.mark.parametrize("kind, state, fields, missing", [
    ("change", "assess", {}, ["assignment_group"]),
    ("incident", "on_hold", {}, ["hold_reason"]),
    ("incident", "resolved", {"close_code": "solution_provided"}, ["close_notes"]),
])
def test_missing_fields_refuse_the_transition_and_write_nothing(local, kind, state, fields, missing):
    record = local.create(kind, {"short_description": "s"})

    with pytest.raises(ItsmTransitionError) as caught:
        local.transition(kind, record, state, fields)

    message = str(caught.value)
    assert record["number"] in message and state in message
    assert all(name in message for name in missing)
    assert caught.value.details["missing"] == missing
    assert local.get(kind, id=record["id"]) == record


def test_close_needs_close_code_and_notes_from_the_record_or_the_call(local):
    change = local.create("change", {"short_description": "s", "type": "standard", "close_code": "successful"})
    for state in ("scheduled", "implement", "review"):
        change = local.transition("change", change, state)

    with pytest.raises(ItsmTransitionError) as caught:
        local.transition("change", change, "closed")
    assert "close_notes" in str(caught.value) and "close_code" not in str(caught.value)
    closed = local.transition("change", change, "closed", {"close_notes": "went fine"})

    assert (closed["state"], closed["active"], closed["close_notes"]) == ("closed", False, "went fine")
    assert closed["closed_at"] is not None


def test_transition_validates_against_the_stored_record_not_a_stale_copy(local):
    stale = local.create("change", {"short_description": "s", "assignment_group": "ops"})
    assessed = local.transition("change", stale, "assess")

    back = local.transition("change", stale, "new")  # "new" to the stale copy, a real move in the store
    local.transition("change", assessed, "canceled")
    with pytest.raises(ItsmTransitionError) as caught:
        local.transition("change", assessed, "new")  # allowed from the stale assess, not from canceled

    assert (back["state"], back["approval"]) == ("new", "not_requested")
    assert "from canceled" in str(caught.value)


def test_transition_to_the_current_state_only_sets_the_fields(local):
    change = drive_change(local, "normal", "assess")

    again = local.transition("change", change, "assess", {"description": "more"})

    assert (again["state"], again["approval"], again["description"]) == ("assess", "requested", "more")
    assert [entry["type"] for entry in local.audit("change", change)].count("state") == 1


def test_standard_changes_are_pre_approved_and_others_not(local):
    assert local.create("change", {"short_description": "s", "type": "standard"})["approval"] == "approved"
    assert local.create("change", {"short_description": "s", "type": "emergency"})["approval"] == "not_requested"
    assert local.create("change", {"short_description": "s"})["approval"] == "not_requested"


def test_entering_the_approval_stage_requests_approval(local):
    assert drive_change(local, "normal", "assess")["approval"] == "requested"
    assert drive_change(local, "emergency", "authorize")["approval"] == "requested"


def test_withdrawing_a_change_from_assess_withdraws_the_request(local):
    change = drive_change(local, "normal", "assess")

    back = local.transition("change", change, "new")

    assert (back["state"], back["approval"]) == ("new", "not_requested")


@pytest.mark.parametrize("target", ["closed", "canceled"])
def test_closing_an_incident_makes_it_inactive(local, target):
    incident = drive_incident(local, target)

    assert incident["active"] is False and incident["closed_at"] is not None


def test_resolved_incident_stays_active_and_remembers_when(local):
    incident = drive_incident(local, "resolved")

    assert incident["active"] is True and incident["closed_at"] is None
    assert incident["fields"]["resolved_at"] == incident["updated_at"]


def test_reopening_a_resolved_incident_counts(local):
    incident = drive_incident(local, "resolved")

    reopened = local.transition("incident", incident, "in_progress")
    resolved = local.transition("incident", reopened, "resolved")
    reopened_again = local.transition("incident", resolved, "in_progress")

    assert reopened["reopen_count"] == 1 and "resolved_at" not in reopened["fields"]
    assert reopened_again["reopen_count"] == 2
    assert local.transition("incident", reopened_again, "on_hold")["reopen_count"] == 2


@pytest.mark.parametrize("impact, urgency, priority", [
    (None, None, "planning"), ("high", "high", "critical"), ("medium", "low", "low"), ("low", "high", "moderate"),
])
def test_incident_priority_is_always_derived(local, impact, urgency, priority):
    fields = {key: value for key, value in (("impact", impact), ("urgency", urgency)) if value}
    incident = local.create("incident", {"short_description": "s", **fields})

    assert incident["priority"] == priority
    assert (incident["impact"], incident["urgency"]) == (impact or "low", urgency or "low")


def test_incident_priority_follows_updates(local):
    incident = local.create("incident", {"short_description": "s"})

    assert local.update("incident", incident, {"impact": "high", "urgency": "high"})["priority"] == "critical"


# -- approvals ---------------------------------------------------------------------------------

def test_two_approvals_move_a_normal_change_to_scheduled(local):
    change = drive_change(local, "normal", "assess")

    authorize = local.decide_approval(change, "tech.lead", "approved", None)
    scheduled = local.decide_approval(authorize, "cab.chair", "approved", "ok for Tuesday")

    assert (authorize["state"], authorize["approval"]) == ("authorize", "requested")
    assert (scheduled["state"], scheduled["approval"]) == ("scheduled", "approved")
    assert [(a["approver"], a["state"], a["stage"], a["comments"]) for a in local.approvals(change)] == [
        ("tech.lead", "approved", "assess", None), ("cab.chair", "approved", "authorize", "ok for Tuesday")]


def test_emergency_change_needs_one_approval(local):
    change = drive_change(local, "emergency", "authorize")

    scheduled = local.decide_approval(change, "cab.chair", "approved", None)

    assert (scheduled["state"], scheduled["approval"]) == ("scheduled", "approved")


def test_rejection_needs_comments_and_returns_the_change_to_new(local):
    change = drive_change(local, "normal", "assess")

    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "tech.lead", "rejected", "")
    assert caught.value.details["option"] == "comments"
    rejected = local.decide_approval(change, "tech.lead", "rejected", "no backout plan")

    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    assert local.approvals(change)[-1]["comments"] == "no backout plan"


def test_a_rejected_change_can_be_resubmitted_and_approved_again_by_the_same_people(local):
    change = drive_change(local, "normal", "assess")
    local.decide_approval(change, "tech.lead", "approved", None)
    rejected = local.decide_approval(local.get("change", id=change["id"]), "cab.chair", "rejected", "bad timing")

    resubmitted = local.transition("change", rejected, "assess")
    again = local.decide_approval(resubmitted, "tech.lead", "approved", None)

    assert resubmitted["approval"] == "requested"
    assert again["state"] == "authorize"
    assert len(local.approvals(change)) == 3


@pytest.mark.parametrize("change_type, state", [
    ("normal", "new"), ("normal", "scheduled"), ("standard", "new"), ("emergency", "implement"),
])
def test_a_change_outside_an_approval_stage_refuses_decisions(local, change_type, state):
    change = drive_change(local, change_type, state)

    with pytest.raises(ItsmTransitionError) as caught:
        local.decide_approval(change, "someone", "approved", None)

    assert str(caught.value) == (f"{change['number']} is not awaiting approval: state {state}, "
                                 f"approval {change['approval']}")


def test_the_same_decision_by_the_same_approver_on_the_same_stage_is_a_no_op(local):
    change = drive_change(local, "normal", "assess")
    authorize = local.decide_approval(change, "tech.lead", "approved", None)

    repeated = local.decide_approval(change, "tech.lead", "approved", None)  # a retry, with the record it had

    assert repeated == authorize
    assert len(local.approvals(change)) == 1


def test_an_approver_decides_once_per_round_so_a_rerun_changes_nothing(db_path):
    warnings = []
    backend = LocalBackend(ConnectionSettings(local_db=db_path, username="tester"), warn=warnings.append)
    authorize = backend.decide_approval(drive_change(backend, "normal", "assess"), "tech.lead", "approved", None)

    again = backend.decide_approval(backend.get("change", id=authorize["id"]), "tech.lead", "approved", None)

    assert again == authorize
    assert len(backend.approvals(authorize)) == 1
    assert warnings == [f"tech.lead already approved {authorize['number']} at assess in this approval round; "
                        "another approver must decide at authorize"]
    backend.close()


def test_a_repeated_rejection_is_a_no_op(local):
    rejected = local.decide_approval(drive_change(local, "normal", "assess"), "tech.lead", "rejected", "no plan")

    again = local.decide_approval(local.get("change", id=rejected["id"]), "tech.lead", "rejected", "no plan")

    assert again == rejected and len(local.approvals(rejected)) == 1


def test_a_decision_on_a_stage_that_has_moved_on_is_refused(local):
    change = drive_change(local, "normal", "assess")
    local.decide_approval(change, "tech.lead", "approved", None)

    with pytest.raises(ItsmTransitionError) as caught:
        local.decide_approval(change, "other.lead", "approved", None)

    assert "moved on from assess to authorize" in str(caught.value)
    assert local.get("change", id=change["id"])["state"] == "authorize"


def test_decisions_are_validated(local):
    change = drive_change(local, "normal", "assess")

    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "tech.lead", "maybe", None)
    assert caught.value.details["option"] == "decision"
    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "", "approved", None)
    assert caught.value.details["option"] == "approver"


# -- templates ---------------------------------------------------------------------------------

def test_put_template_reports_changes(local):
    assert local.put_template("restart-web", {"short_description": "Restart web", "risk": "low"}) is True
    assert local.put_template("restart-web", {"short_description": "Restart web", "risk": "low"}) is False
    assert local.put_template("restart-web", {"short_description": "Restart web", "risk": "moderate"}) is True
    assert local.template("restart-web") == {"name": "restart-web",
                                             "fields": {"short_description": "Restart web", "risk": "moderate"}}
    assert local.template("unknown") is None


def test_create_from_a_template_fills_missing_fields_and_is_standard(local):
    local.put_template("restart-web", {"short_description": "Restart web", "risk": "low",
                                       "implementation_plan": "systemctl restart"})

    change = local.create("change", {"template": "restart-web", "short_description": "Restart web on web01"})

    assert change["short_description"] == "Restart web on web01"
    assert (change["risk"], change["implementation_plan"]) == ("low", "systemctl restart")
    assert (change["type"], change["approval"], change["template"]) == ("standard", "approved", "restart-web")


def test_unknown_template_names_it_and_lists_the_known_ones(local):
    local.put_template("restart-web", {"short_description": "Restart web"})
    local.put_template("rotate-logs", {"short_description": "Rotate logs"})

    with pytest.raises(ItsmNotFoundError) as caught:
        local.create("change", {"template": "reboot"})

    assert "'reboot'" in str(caught.value) and "restart-web, rotate-logs" in str(caught.value)
    assert local.get("change", number="CHG0000001") is None


@pytest.mark.parametrize("fields, option", [
    ({"type": "standard", "short_description": "x"}, "type"),
    ({"correlation_id": "abc"}, "correlation_id"),
    ({"risk": "extreme"}, "risk"),
])
def test_templates_hold_only_valid_change_fields(local, fields, option):
    with pytest.raises(ItsmValidationError) as caught:
        local.put_template("t", fields)
    assert caught.value.details["option"] == option


def test_a_template_change_cannot_be_given_another_type(local):
    local.put_template("restart-web", {"short_description": "Restart web"})

    with pytest.raises(ItsmValidationError) as caught:
        local.create("change", {"template": "restart-web", "type": "normal"})
    assert caught.value.details["option"] == "type"


# -- correlation ids ---------------------------------------------------------------------------

def test_create_returns_the_open_record_that_has_the_correlation_id(local):
    first = local.create("incident", {"short_description": "s", "correlation_id": "host1:disk"})

    again = local.create("incident", {"short_description": "other text", "correlation_id": "host1:disk"})

    assert again == first
    assert local.create("incident", {"short_description": "s"})["number"] == "INC0000002"


def test_a_resolved_incident_does_not_absorb_a_new_one(local):
    first = drive_incident(local, "resolved", correlation_id="host1:disk")

    second = local.create("incident", {"short_description": "s", "correlation_id": "host1:disk"})

    assert second["number"] != first["number"]
    assert local.get("incident", correlation_id="host1:disk", open_only=True)["number"] == second["number"]
    with pytest.raises(ItsmConflictError) as caught:
        local.get("incident", correlation_id="host1:disk")
    assert caught.value.details["numbers"] == [first["number"], second["number"]]


def test_a_canceled_change_does_not_count_as_open(local):
    first = drive_change(local, "normal", "canceled", correlation_id="run-42")

    second = local.create("change", {"short_description": "s", "correlation_id": "run-42"})

    assert second["number"] == "CHG0000002"
    assert local.get("change", correlation_id="run-42", open_only=True)["number"] == "CHG0000002"
    with pytest.raises(ItsmConflictError) as caught:
        local.get("change", correlation_id="run-42")
    assert "'run-42'" in str(caught.value) and first["number"] in str(caught.value)


def test_get_needs_a_key(local):
    with pytest.raises(ItsmValidationError):
        local.get("change")


# -- find --------------------------------------------------------------------------------------

@pytest.fixture
def catalogue(local):
    """Four changes and three incidents with distinct values for every filter."""
    a = local.create("change", {"short_description": "a", "assignment_group": "web", "correlation_id": "ca",
                                "configuration_items": ["web01", "web02"], "start_date": "2026-05-01T10:00:00Z",
                                "end_date": "2026-05-01T12:00:00Z"})
    b = local.create("change", {"short_description": "b", "type": "standard", "assignment_group": "db",
                                "configuration_items": ["db01"], "start_date": "2026-05-02T10:00:00Z",
                                "end_date": "2026-05-02T12:00:00Z"})
    c = local.transition("change", local.create("change", {"short_description": "c", "type": "emergency"}),
                         "authorize", {"assignment_group": "web"})
    d = local.transition("change", local.create("change", {"short_description": "d"}), "canceled")
    i1 = local.create("incident", {"short_description": "i1", "configuration_item": "web01", "caused_by": a["number"],
                                   "assignment_group": "web"})
    i2 = local.create("incident", {"short_description": "i2", "configuration_item": "db01"})
    i3 = local.transition("incident", local.create("incident", {"short_description": "i3"}), "canceled")
    return {"a": a, "b": b, "c": c, "d": d, "i1": i1, "i2": i2, "i3": i3}


@pytest.mark.parametrize("kind, filters, expected", [
    ("change", {}, "abcd"),
    ("change", {"number": "CHG0000002"}, "b"),
    ("change", {"number": ["CHG0000001", "CHG0000003"]}, "ac"),
    ("change", {"correlation_id": "ca"}, "a"),
    ("change", {"state": ["new", "canceled"]}, "abd"),
    ("change", {"type": ["standard", "emergency"]}, "bc"),
    ("change", {"approval": "requested"}, "c"),
    ("change", {"active": False}, "d"),
    ("change", {"active": True, "assignment_group": "web"}, "ac"),
    ("change", {"configuration_item": "web02"}, "a"),
    ("change", {"window_start": "2026-05-01T11:00:00Z", "window_end": "2026-05-02T10:30:00Z"}, "ab"),
    ("change", {"window_start": "2026-05-01T12:00:00Z", "window_end": "2026-05-02T10:00:00Z"}, ""),
    ("change", {"window_start": "2026-05-01T14:00:00+02:00"}, "b"),
    ("change", {"state": [], "type": None}, "abcd"),
    ("incident", {"configuration_item": "db01"}, "2"),
    ("incident", {"caused_by": "CHG0000001"}, "1"),
    ("incident", {"state": "new", "assignment_group": "web"}, "1"),
    ("incident", {"active": True}, "12"),
])
def test_find_filters(local, catalogue, kind, filters, expected):
    prefix = "" if kind == "change" else "i"
    numbers = [record["number"] for record in local.find(kind, filters)]

    assert numbers == [catalogue[prefix + key]["number"] for key in expected]


def test_find_translates_all_filters_into_one_statement(local, catalogue):
    statements = []
    local._conn.set_trace_callback(statements.append)

    found = list(local.find("change", {"state": ["new", "authorize"], "configuration_item": "web01",
                                       "window_start": "2026-01-01T00:00:00Z", "opened_after": "2000-01-01T00:00:00Z",
                                       "opened_before": "2100-01-01T00:00:00+01:00"}))

    assert [record["number"] for record in found] == [catalogue["a"]["number"]]
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1


def test_find_pages_lazily_and_honours_limit(local, monkeypatch):
    monkeypatch.setattr(local_module, "_PAGE", 2)
    created = [local.create("incident", {"short_description": str(n)})["number"] for n in range(5)]

    assert [record["number"] for record in local.find("incident", {})] == created
    assert [record["number"] for record in local.find("incident", {}, limit=3)] == created[:3]
    assert list(local.find("incident", {}, limit=0)) == []


def test_find_refuses_unknown_filters_and_bad_values(local):
    with pytest.raises(ItsmValidationError) as caught:
        local.find("incident", {"type": ["normal"]})
    assert str(caught.value).startswith("filters: 'type' is not valid; not a filter of incidents")
    with pytest.raises(ItsmValidationError) as caught:
        local.find("change", {"state": ["finished"]})
    assert caught.value.details["option"] == "state"
    with pytest.raises(ItsmValidationError) as caught:
        local.find("change", {"window_start": "2026-05-02T00:00:00Z", "window_end": "2026-05-01T00:00:00Z"})
    assert caught.value.details["option"] == "window_end"


# -- affected CIs, blackouts, CMDB ---------------------------------------------------------------

def test_affected_cis_are_replaced_and_the_diff_journaled(local):
    change = local.create("change", {"short_description": "s", "configuration_items": ["web02", "web01"]})

    updated = local.set_affected_cis(change, ["web03", "web01"])

    assert change["configuration_items"] == ["web01", "web02"]
    assert updated["configuration_items"] == ["web01", "web03"]
    assert local.affected_cis(change) == ["web01", "web03"]
    entry = local.audit("change", change)[-1]
    assert entry["field"] == "configuration_items"
    assert (entry["old"], entry["new"]) == (["web01", "web02"], ["web01", "web03"])
    assert entry["text"] == "added: web03; removed: web02"


def test_blackouts_overlapping_a_window(local):
    assert local.put_blackout("quarter-end", "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z", "finance close") is True
    assert local.put_blackout("quarter-end", "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z", "finance close") is False
    local.put_blackout("xmas", "2026-12-24T00:00:00+01:00", "2026-12-27T00:00:00+01:00")

    assert local.blackouts("2026-03-31T22:00:00Z", "2026-04-02T00:00:00Z") == [
        {"name": "quarter-end", "start": "2026-03-30T00:00:00Z", "end": "2026-04-01T00:00:00Z", "source": "local",
         "reason": "finance close"}]
    assert local.blackouts("2026-04-01T00:00:00Z", "2026-04-02T00:00:00Z") == []  # touching is no overlap
    assert [b["name"] for b in local.blackouts("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")] == [
        "quarter-end", "xmas"]


def test_a_blackout_must_not_end_before_it_starts(local):
    with pytest.raises(ItsmValidationError) as caught:
        local.put_blackout("x", "2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z")
    assert caught.value.details["option"] == "end"


def test_cmdb_upsert_and_iterate(local):
    assert local.upsert_ci("web01", "linux_server", {"ip": "10.0.0.1"}) is True
    assert local.upsert_ci("web01", "linux_server", {"ip": "10.0.0.1"}) is False
    local.upsert_ci("db01", "linux_server", {"ip": "10.0.0.2"})
    local.upsert_ci("lb01", "load_balancer")

    assert [ci["name"] for ci in local.iter_cis()] == ["db01", "lb01", "web01"]
    assert list(local.iter_cis({"ci_class": "load_balancer"})) == [
        {"name": "lb01", "ci_class": "load_balancer", "fields": {}}]
    assert [ci["fields"]["ip"] for ci in local.iter_cis({"name": ["web01", "db01"]})] == ["10.0.0.2", "10.0.0.1"]
    with pytest.raises(ItsmValidationError):
        local.iter_cis({"os": "linux"})


# -- journal and audit -------------------------------------------------------------------------

def test_journal_holds_only_notes_and_audit_holds_everything(local):
    change = local.create("change", {"short_description": "s", "work_notes": "opened by CI"})
    local.update("change", change, {"assignment_group": "ops", "comments": "assigned"})
    change = local.transition("change", change, "assess")
    local.decide_approval(change, "tech.lead", "approved", "looks fine")

    journal = local.journal("change", change)
    audit = local.audit("change", change)

    assert [(entry["field"], entry["text"], entry["author"]) for entry in journal] == [
        ("work_notes", "opened by CI", "tester"), ("comments", "assigned", "tester")]
    assert [(entry["type"], entry["field"], entry["old"], entry["new"]) for entry in audit] == [
        ("created", None, None, audit[0]["new"]),
        ("note", "work_notes", None, None),
        ("field", "assignment_group", None, "ops"),
        ("note", "comments", None, None),
        ("state", "state", "new", "assess"),
        ("field", "approval", "not_requested", "requested"),
        ("approval", "assess", None, "approved"),
        ("state", "state", "assess", "authorize"),
    ]
    assert audit[0]["new"]["short_description"] == "s"
    assert audit[6]["text"] == "tech.lead approved at assess: looks fine"
    assert all(entry["author"] == "tester" and entry["created"].endswith("Z") for entry in audit)


def test_add_journal_validates_its_field_and_text(local):
    incident = local.create("incident", {"short_description": "s"})

    with pytest.raises(ItsmValidationError):
        local.add_journal("incident", incident, "notes", "x")
    with pytest.raises(ItsmValidationError):
        local.add_journal("incident", incident, "work_notes", "  ")
    assert local.journal("incident", incident) == []


def test_the_actor_defaults_to_the_os_user(make_local):
    backend = make_local(username=None)
    incident = backend.create("incident", {"short_description": "s"})

    backend.add_journal("incident", incident, "work_notes", "x")

    assert backend.journal("incident", incident)[0]["author"] == getpass.getuser()


def test_the_audit_trail_is_append_only(local, db_path):
    local.create("incident", {"short_description": "s"})
    conn = sqlite3.connect(db_path)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE journal SET text = 'rewritten'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM journal")
    conn.close()


# -- check mode --------------------------------------------------------------------------------

def test_check_mode_on_a_missing_store_writes_nothing_and_approximates(local, db_path):
    change = local.create("change", {"short_description": "s", "type": "emergency", "configuration_items": ["web01"]},
                          check_mode=True)
    moved = local.transition("change", change, "authorize", {"assignment_group": "ops"}, check_mode=True)
    incident = local.create("incident", {"short_description": "s", "impact": "high"}, check_mode=True)

    assert (change["number"], change["id"], change["state"], change["backend"]) == (None, None, "new", "local")
    assert change["configuration_items"] == ["web01"]
    assert (moved["state"], moved["approval"]) == ("authorize", "requested")
    assert incident["priority"] == "moderate"
    assert local.put_template("t", {"short_description": "x"}, check_mode=True) is True
    assert local.put_blackout("b", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", check_mode=True) is True
    assert local.upsert_ci("web01", "server", check_mode=True) is True
    with pytest.raises(ItsmNotFoundError):
        local.create("change", {"template": "t"}, check_mode=True)
    assert not os.path.exists(os.path.dirname(db_path))


def test_check_mode_on_an_existing_store_changes_nothing(local, db_path):
    local.put_template("restart", {"short_description": "Restart"})
    change = drive_change(local, "normal", "assess", correlation_id="run-1")
    incident = local.create("incident", {"short_description": "s"})
    before = dump(db_path)

    created = local.create("change", {"template": "restart"}, check_mode=True)
    same = local.create("change", {"short_description": "dup", "correlation_id": "run-1"}, check_mode=True)
    updated = local.update("change", change, {"description": "d", "work_notes": "n"}, check_mode=True)
    approved = local.decide_approval(change, "tech.lead", "approved", None, check_mode=True)
    resolved = local.transition("incident", incident, "resolved",
                                {"close_code": "solution_provided", "close_notes": "n"}, check_mode=True)
    local.add_journal("incident", incident, "comments", "c", check_mode=True)
    local.set_affected_cis(change, ["web01"], check_mode=True)
    local.put_template("restart", {"short_description": "Other"}, check_mode=True)

    assert (created["type"], created["approval"], created["number"]) == ("standard", "approved", None)
    assert same["number"] == change["number"]
    assert updated["description"] == "d"
    assert (approved["state"], approved["approval"]) == ("authorize", "requested")
    assert resolved["state"] == "resolved"
    assert dump(db_path) == before


def test_check_mode_refusals_are_the_same_as_real_ones(local, db_path):
    change = local.create("change", {"short_description": "s"})

    with pytest.raises(ItsmTransitionError):
        local.transition("change", change, "implement", check_mode=True)
    with pytest.raises(ItsmTransitionError):
        local.decide_approval(change, "tech.lead", "approved", None, check_mode=True)


# -- storage errors ------------------------------------------------------------------------------

def test_a_corrupt_file_is_a_storage_error_naming_the_path(make_local, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just some text that is long enough " * 20)
    backend = make_local(local_db=str(path))

    for call in (lambda: backend.get("change", number="CHG0000001"),
                 lambda: backend.create("change", {"short_description": "s"})):
        with pytest.raises(ItsmStorageError) as caught:
            call()
        assert str(path) in str(caught.value) and "not an SQLite database" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert caught.value.details["option"] == "local_db"


def test_a_path_that_cannot_be_created_is_a_storage_error(make_local, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    backend = make_local(local_db=str(blocker / "sub" / "itsm.sqlite"))

    with pytest.raises(ItsmStorageError) as caught:
        backend.create("incident", {"short_description": "s"})

    assert str(blocker / "sub") in str(caught.value) and "cannot create the directory" in str(caught.value)


def test_a_directory_as_local_db_is_a_storage_error(make_local, tmp_path):
    with pytest.raises(ItsmStorageError) as caught:
        make_local(local_db=str(tmp_path)).create("incident", {"short_description": "s"})
    assert "is a directory" in str(caught.value)


def test_another_applications_database_is_refused(make_local, tmp_path):
    path = str(tmp_path / "other.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE things (x)")
    conn.commit()
    conn.close()

    with pytest.raises(ItsmStorageError) as caught:
        make_local(local_db=path).create("incident", {"short_description": "s"})
    assert "another application" in str(caught.value)


def test_a_store_from_a_newer_collection_is_refused(local, make_local, db_path):
    local.create("incident", {"short_description": "s"})
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    conn.commit()
    conn.close()

    with pytest.raises(ItsmStorageError) as caught:
        make_local().get("incident", number="INC0000001")
    assert "schema version 99" in str(caught.value)


def test_a_lock_held_past_the_timeout_is_transient(make_local, db_path):
    make_local().create("incident", {"short_description": "s"})
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ItsmTransientError) as caught:
            make_local(timeout=0.2).create("incident", {"short_description": "t"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db_path in str(caught.value) and "locked" in str(caught.value)


def test_a_failed_write_leaves_nothing_behind(local, db_path):
    local.create("change", {"short_description": "warm-up"})
    # A real SQLite failure half-way through create(): after the number, the row and the CI insert began.
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TRIGGER refuse_ci BEFORE INSERT ON affected_cis WHEN NEW.ci_name = 'bad' "
                 "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    conn.commit()
    conn.close()
    before = dump(db_path)

    with pytest.raises(ItsmStorageError) as caught:
        local.create("change", {"short_description": "s", "configuration_items": ["bad"], "work_notes": "n"})

    assert "disk on fire" in str(caught.value)
    assert dump(db_path) == before
    assert local.create("change", {"short_description": "s"})["number"] == "CHG0000002"


def test_switching_a_new_store_to_wal_waits_for_a_writer_that_holds_it(make_local, db_path):
    # SQLite answers the WAL switch with "database is locked" at once, without the busy timeout,
    # while another connection holds a write lock on a new file: the backend must retry, not fail.
    os.makedirs(os.path.dirname(db_path))
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, holder.execute, ("ROLLBACK",))
    release.start()
    try:
        incident = make_local(timeout=10).create("incident", {"short_description": "s"})
    finally:
        release.join()
        holder.close()
    assert incident["number"] == "INC0000001"
