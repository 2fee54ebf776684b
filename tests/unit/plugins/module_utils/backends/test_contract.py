# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend contract suite: behaviour every backend shares, through the _base API only.

Parametrized by the ``backend`` fixtures of conftest.py (today: local). Nothing here may use a
backend's own extras; what differs between backends belongs in that backend's own tests.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmTransitionError,
    ItsmValidationError,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# A record's number: CHG0000001 / INC0000001, or on jsm the issue key (ITSM-42) whatever the kind.
NUMBERS = {"change": re.compile(r"^CHG\d+$"), "incident": re.compile(r"^INC\d+$")}
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


def is_number_of(kind, number, backend):
    return bool((ISSUE_KEY if backend.name == "jsm" else NUMBERS[kind]).match(number))


def new_change(backend, **fields):
    return backend.create("change", {"short_description": "patch web tier", **fields})


def new_incident(backend, **fields):
    return backend.create("incident", {"short_description": "web tier down", **fields})


def assert_canonical(record, kind, backend):
    expected = records.CHANGE_FIELDS if kind == "change" else records.INCIDENT_FIELDS
    assert set(record) == set(expected)
    assert record["backend"] == backend.name
    assert record["id"] and isinstance(record["id"], str)
    assert is_number_of(kind, record["number"], backend)
    assert record["state"] in (records.CHANGE_STATES if kind == "change" else records.INCIDENT_STATES)
    assert isinstance(record["active"], bool)
    assert isinstance(record["fields"], dict)
    for name in records.DATE_FIELDS:
        if record.get(name) is not None:
            assert ISO_UTC.match(record[name]), (name, record[name])


# -- create / get ------------------------------------------------------------------------------

def test_create_change_returns_canonical_record_in_state_new(backend):
    change = new_change(backend, assignment_group="ops", start_date="2026-11-24T10:00:00+01:00",
                        end_date="2026-11-24T12:00:00+01:00")

    assert_canonical(change, "change", backend)
    assert is_number_of("change", change["number"], backend)
    assert change["state"] == "new"
    assert change["type"] == "normal"
    assert change["approval"] == "not_requested"
    assert change["active"] is True
    assert change["start_date"] == "2026-11-24T09:00:00Z"
    assert change["end_date"] == "2026-11-24T11:00:00Z"


def test_create_incident_derives_priority(backend):
    incident = new_incident(backend, impact="high", urgency="medium")

    assert_canonical(incident, "incident", backend)
    assert is_number_of("incident", incident["number"], backend)
    assert incident["state"] == "new"
    assert incident["priority"] == "high"


def test_get_by_number_id_and_correlation_id_returns_the_created_record(backend):
    change = new_change(backend, correlation_id="contract-get-1")

    assert backend.get("change", number=change["number"]) == change
    assert backend.get("change", id=change["id"]) == change
    assert backend.get("change", correlation_id="contract-get-1") == change


def test_a_create_that_meets_the_open_holder_of_its_correlation_id_says_so(backend):
    # What a fork gets when another fork's create landed between its look-up and its own create.
    cid = f"contract-met-{time.time_ns()}"
    first = backend.create("incident", {"short_description": "first", "correlation_id": cid})
    second = backend.create("incident", {"short_description": "second", "correlation_id": cid})

    assert records.created(first) == (first, True)
    record, made = records.created(second)
    assert (made, record["number"], isinstance(record, records.Met)) == (False, first["number"], False)
    assert [held["number"] for held in backend.find("incident", {"correlation_id": cid, "active": True})] == [
        first["number"]]


def test_get_unknown_record_returns_none(backend):
    new_change(backend)

    assert backend.get("change", number="CHG9999999") is None
    assert backend.get("incident", correlation_id="nobody-uses-this") is None


def test_a_correlation_id_names_its_open_holder_over_a_settled_one(backend):
    first = new_incident(backend, correlation_id="contract-shared")
    backend.transition("incident", first, "canceled")
    second = new_incident(backend, correlation_id="contract-shared")

    assert backend.get("incident", correlation_id="contract-shared")["number"] == second["number"]
    assert backend.get("incident", correlation_id="contract-shared", open_only=True)["number"] == second["number"]


def test_without_an_open_holder_a_correlation_id_names_the_newest_unless_open_only(backend):
    first = new_incident(backend, correlation_id="contract-settled")
    backend.transition("incident", first, "canceled")
    newest = new_incident(backend, correlation_id="contract-settled")
    backend.transition("incident", newest, "canceled")

    assert backend.get("incident", correlation_id="contract-settled")["number"] == newest["number"]
    assert backend.get("incident", correlation_id="contract-settled", open_only=True) is None


def test_two_open_holders_of_a_correlation_id_conflict(backend):
    first = new_change(backend, correlation_id="contract-open-1")
    second = backend.update("change", new_change(backend), {"correlation_id": "contract-open-1"})

    for open_only in (False, True):
        with pytest.raises(ItsmConflictError) as caught:
            backend.get("change", correlation_id="contract-open-1", open_only=open_only)
        assert first["number"] in str(caught.value) and second["number"] in str(caught.value)
        assert "contract-open-1" in str(caught.value)


# -- find --------------------------------------------------------------------------------------

def test_find_is_a_lazy_iterator_oldest_first(backend):
    created = [new_change(backend, assignment_group="contract-find") for _unused in range(3)]

    found = backend.find("change", {"assignment_group": "contract-find"})

    assert iter(found) is found  # an iterator, read lazily, not a list
    assert [record["number"] for record in found] == [record["number"] for record in created]


def test_find_filters_by_state_and_limit(backend):
    kept = new_incident(backend, assignment_group="contract-filters")
    moved = new_incident(backend, assignment_group="contract-filters")
    backend.transition("incident", moved, "in_progress")

    in_progress = list(backend.find("incident", {"assignment_group": "contract-filters", "state": ["in_progress"]}))
    limited = list(backend.find("incident", {"assignment_group": "contract-filters"}, limit=1))

    assert [record["number"] for record in in_progress] == [moved["number"]]
    assert [record["number"] for record in limited] == [kept["number"]]


def test_find_refuses_an_unknown_filter(backend):
    with pytest.raises(ItsmValidationError) as caught:
        backend.find("change", {"colour": "blue"})
    assert "colour" in str(caught.value)


def _shifted(stamp, seconds, zone=dt.timezone.utc):
    """A canonical date moved by ``seconds`` and written in another zone (the same instant when 0)."""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) + dt.timedelta(seconds=seconds)
    return moment.astimezone(zone).isoformat()


def test_find_filters_by_opened_at_with_both_ends_included(backend):
    older = {"change": new_change(backend, assignment_group="contract-opened"),
             "incident": new_incident(backend, assignment_group="contract-opened")}
    time.sleep(1.1)  # opened_at has whole seconds: the next records are opened a second later
    newer = {"change": new_change(backend, assignment_group="contract-opened"),
             "incident": new_incident(backend, assignment_group="contract-opened")}
    paris = dt.timezone(dt.timedelta(hours=2))

    for kind in ("change", "incident"):
        first, second = older[kind], newer[kind]
        assert first["opened_at"] < second["opened_at"]

        def found(**filters):
            return [record["number"] for record in backend.find(kind, {"assignment_group": "contract-opened", **filters})]

        assert found(opened_after=second["opened_at"]) == [second["number"]]
        assert found(opened_after=_shifted(second["opened_at"], 0, paris)) == [second["number"]]
        assert found(opened_after=_shifted(second["opened_at"], 1)) == []
        assert found(opened_before=first["opened_at"]) == [first["number"]]
        assert found(opened_before=_shifted(first["opened_at"], -1, paris)) == []
        assert found(opened_after=first["opened_at"], opened_before=second["opened_at"]) == \
            [first["number"], second["number"]]


@pytest.mark.parametrize("option", ["opened_after", "opened_before"])
@pytest.mark.parametrize("value, says", [("last week", "expected an ISO 8601 date and time with a timezone"),
                                         ("2026-11-01T00:00:00", "the date has no timezone")])
def test_find_refuses_an_opened_date_without_a_timezone_naming_the_option(backend, option, value, says):
    with pytest.raises(ItsmValidationError) as caught:
        list(backend.find("incident", {option: value}))
    assert str(caught.value).startswith(f"{option}: {value!r} is not valid; {says}")


# -- update / transition / journal -------------------------------------------------------------

def test_update_sets_only_the_given_fields_and_reads_back(backend):
    change = new_change(backend, description="first", assignment_group="ops")

    updated = backend.update("change", change, {"description": "second"})

    assert updated["description"] == "second"
    assert updated["assignment_group"] == "ops"
    assert updated["short_description"] == "patch web tier"
    assert backend.get("change", number=change["number"]) == updated


def test_transition_moves_one_step_and_sets_fields(backend):
    change = new_change(backend)

    moved = backend.transition("change", change, "assess", {"assignment_group": "ops"})

    assert moved["state"] == "assess"
    assert moved["assignment_group"] == "ops"
    assert moved["approval"] == "requested"
    assert backend.get("change", id=change["id"])["state"] == "assess"


def test_transition_refuses_a_jump_the_model_forbids(backend):
    change = new_change(backend, assignment_group="ops")

    with pytest.raises(ItsmTransitionError):
        backend.transition("change", change, "implement")
    assert backend.get("change", id=change["id"])["state"] == "new"


def test_transition_names_the_missing_fields(backend):
    incident = new_incident(backend)

    with pytest.raises(ItsmTransitionError) as caught:
        backend.transition("incident", incident, "resolved", {"close_code": "solution_provided"})
    assert incident["number"] in str(caught.value)
    assert "close_notes" in str(caught.value)


def test_incident_resolve_and_close_round_trip(backend):
    incident = new_incident(backend)
    resolved = backend.transition("incident", incident, "resolved",
                                  {"close_code": "solution_provided", "close_notes": "restarted"})
    closed = backend.transition("incident", resolved, "closed")

    assert resolved["state"] == "resolved" and resolved["active"] is True
    assert closed["state"] == "closed" and closed["active"] is False
    assert ISO_UTC.match(closed["closed_at"])


def test_journal_returns_notes_and_comments_in_order(backend):
    incident = new_incident(backend)

    backend.add_journal("incident", incident, "work_notes", "looked at the logs")
    backend.add_journal("incident", incident, "comments", "we are on it")
    entries = backend.journal("incident", incident)

    assert [(entry["field"], entry["text"]) for entry in entries] == [
        ("work_notes", "looked at the logs"), ("comments", "we are on it")]
    for entry in entries:
        assert set(entry) == {"field", "text", "author", "created"}
        assert entry["author"]
        assert ISO_UTC.match(entry["created"])


def test_check_mode_create_writes_nothing(backend):
    approximate = backend.create("change", {"short_description": "dry run", "correlation_id": "contract-check"},
                                 check_mode=True)

    assert approximate["state"] == "new"
    assert approximate["short_description"] == "dry run"
    assert backend.get("change", correlation_id="contract-check") is None


# -- approvals ---------------------------------------------------------------------------------

def test_normal_change_needs_every_stage_approval(approvals_backend, approval_scenario):
    """Two approvals on every backend, the technical then the CAB's (on JSM the technical one is the workflow's
    Request approval transition, the CAB's its approval step)."""
    backend = approvals_backend
    change = approval_scenario.request(backend, new_change(backend))

    for approver, connected, after in approval_scenario.stages:
        change = connected.decide_approval(change, approver, "approved", "fine")
        assert (change["state"], change["approval"]) == after

    assert change["approval"] == "approved"
    approvals = backend.approvals(change)
    assert [(a["approver"], a["state"]) for a in approvals] == [
        (approver, "approved") for approver, _connected, _after in approval_scenario.stages]
    for approval in approvals:
        assert set(approval) == {"approver", "state", "comments", "stage", "decided_at"}


def test_repeating_the_same_decision_changes_nothing(approvals_backend, approval_scenario):
    backend = approvals_backend
    change = approval_scenario.request(backend, new_change(backend))
    approver, connected, _after = approval_scenario.stages[0]
    decided = connected.decide_approval(change, approver, "approved", None)

    again = connected.decide_approval(backend.get("change", id=change["id"]), approver, "approved", None)

    assert again == decided
    # Pending requests to other approvers (ServiceNow lists the CAB's) are not decisions.
    decisions = [a for a in backend.approvals(again) if a["state"] != "requested"]
    assert [(a["approver"], a["state"]) for a in decisions] == [(approver, "approved")]


def test_rejection_ends_the_approval_where_the_workflow_says(approvals_backend, approval_scenario):
    """Back to new with approval rejected on every backend: JSM declines the change (Declined) and the backend
    reopens it through the workflow, as its mapping's change.rejection says (docs/jsm-mapping.md)."""
    backend = approvals_backend
    change = approval_scenario.request(backend, new_change(backend))
    approver, connected, _after = approval_scenario.stages[0]

    rejected = connected.decide_approval(change, approver, "rejected", "no backout plan")

    assert (rejected["state"], rejected["approval"]) == approval_scenario.rejected
    read_again = backend.get("change", id=change["id"])
    assert (read_again["state"], read_again["approval"]) == approval_scenario.rejected


def test_affected_cis_round_trip(cis_backend):
    backend = cis_backend
    change = new_change(backend)

    updated = backend.set_affected_cis(change, ["web02", "web01"])

    assert sorted(backend.affected_cis(updated)) == ["web01", "web02"]
    assert sorted(updated["configuration_items"]) == ["web01", "web02"]
