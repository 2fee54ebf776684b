# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local changes and incidents against real SQLite files under tmp_path (no mocks)."""

from __future__ import annotations

import getpass
import os

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmValidationError,
)
from tests.unit.plugins.module_utils.backends.local.walks import (
    CHANGE_ALLOWED,
    CHANGE_ENTRY,
    INCIDENT_ALLOWED,
    INCIDENT_ENTRY,
    drive_change,
    drive_incident,
    dump,
)


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


def test_unknown_template_is_refused_naming_it_as_servicenow_does(local):
    local.put_template("restart-web", {"short_description": "Restart web"})

    with pytest.raises(ItsmNotFoundError) as caught:
        local.create("change", {"template": "reboot"})

    assert str(caught.value) == f"template: local_db {local.path} has no standard change template named 'reboot'"
    assert local.get("change", number="CHG0000001") is None


@pytest.mark.parametrize("fields, option", [
    ({"type": "standard", "short_description": "x"}, "values.type"),
    ({"correlation_id": "abc"}, "values.correlation_id"),
    ({"start_date": "2026-11-24T10:00:00Z"}, "values.start_date"),
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
    assert local.get("incident", correlation_id="host1:disk")["number"] == second["number"]  # the open holder


def test_a_canceled_change_does_not_count_as_open(local):
    first = drive_change(local, "normal", "canceled", correlation_id="run-42")

    second = local.create("change", {"short_description": "s", "correlation_id": "run-42"})

    assert second["number"] == "CHG0000002" != first["number"]
    assert local.get("change", correlation_id="run-42", open_only=True)["number"] == "CHG0000002"
    assert local.get("change", correlation_id="run-42")["number"] == "CHG0000002"  # the open holder


def test_two_open_holders_of_a_correlation_id_are_a_conflict_naming_both(local):
    first = local.create("change", {"short_description": "s", "correlation_id": "run-43"})
    second = local.update("change", local.create("change", {"short_description": "s"}), {"correlation_id": "run-43"})

    for open_only in (False, True):
        with pytest.raises(ItsmConflictError) as caught:
            local.get("change", correlation_id="run-43", open_only=open_only)
        assert caught.value.details["numbers"] == [first["number"], second["number"]]
        assert "'run-43'" in str(caught.value)
    with pytest.raises(ItsmConflictError):
        local.create("change", {"short_description": "s", "correlation_id": "run-43"})


def test_get_needs_a_key(local):
    with pytest.raises(ItsmValidationError):
        local.get("change")


# -- find --------------------------------------------------------------------------------------

@pytest.fixture
def catalogue(local):
    """Four changes and three incidents with distinct values for every filter."""
    for name in ("web01", "db01"):  # an incident's CI is one of the CMDB's
        local.put_ci(name, "linux_server", {})
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
    local.store.connection(create=False).set_trace_callback(statements.append)

    found = list(local.find("change", {"state": ["new", "authorize"], "configuration_item": "web01",
                                       "window_start": "2026-01-01T00:00:00Z", "opened_after": "2000-01-01T00:00:00Z",
                                       "opened_before": "2100-01-01T00:00:00+01:00"}))

    assert [record["number"] for record in found] == [catalogue["a"]["number"]]
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1


def test_find_pages_lazily_and_honours_limit(local, monkeypatch):
    monkeypatch.setattr(local.store, "page_size", 2)
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


# -- affected CIs, blackouts ---------------------------------------------------------------------

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
