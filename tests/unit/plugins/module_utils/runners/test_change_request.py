"""change_request run() against a real local store: create, idempotence, walks, refusals, check mode."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_approval, change_request

BASE = dict(correlation_id="deploy-42", short_description="Deploy 42", assignment_group="Platform",
            start_date="2026-11-24T22:00:00+01:00", end_date="2026-11-24T23:00:00Z",
            configuration_items=["web02", "web01", "web01"])


def test_create_then_rerun_is_unchanged(task):
    first = task(change_request, **BASE)
    assert first["changed"] is True
    record = first["record"]
    assert record["number"] == "CHG0000001"
    assert (record["state"], record["type"], record["approval"]) == ("new", "normal", "not_requested")
    assert record["start_date"] == "2026-11-24T21:00:00Z"
    assert record["configuration_items"] == ["web01", "web02"]
    assert first["diff"]["before"] == {}
    again = task(change_request, **BASE)
    assert again["changed"] is False
    assert again["record"]["number"] == "CHG0000001"
    assert len(list(task.backend.find("change", {}))) == 1


def test_update_only_what_differs(task):
    task(change_request, **BASE)
    result = task(change_request, correlation_id="deploy-42", risk="low")
    assert result["changed"] is True
    assert result["diff"]["before"]["risk"] != "low" and result["diff"]["after"]["risk"] == "low"
    assert result["record"]["short_description"] == "Deploy 42"


def test_check_mode_creates_nothing(task):
    result = task(change_request, check_mode=True, state="assess", **BASE)
    assert result["changed"] is True
    assert result["record"]["number"] is None
    assert result["record"]["state"] == "assess"
    assert list(task.backend.find("change", {})) == []


def test_full_normal_lifecycle_with_approvals(task):
    number = task(change_request, state="assess", **BASE)["record"]["number"]
    assert task.backend.get("change", number=number)["approval"] == "requested"
    task(change_approval, number=number, approver="alice", decision="approved")
    after_cab = task(change_approval, number=number, approver="cab", decision="approved")["record"]
    assert (after_cab["state"], after_cab["approval"]) == ("scheduled", "approved")
    closed = task(change_request, number=number, state="closed", close_code="successful", close_notes="done")
    assert closed["record"]["state"] == "closed" and closed["record"]["active"] is False
    assert closed["diff"]["before"]["state"] == "scheduled"


def test_illegal_jump_names_reachable_states_and_writes_nothing(task):
    number = task(change_request, **BASE)["record"]["number"]
    with pytest.raises(ItsmTransitionError, match="states reachable from new: assess, canceled"):
        task(change_request, number=number, state="implement", risk="high")
    assert task.backend.get("change", number=number)["risk"] != "high"


def test_missing_close_fields_refused_before_any_write(task):
    record = task(change_request, type="standard", state="implement", **BASE)["record"]
    with pytest.raises(ItsmTransitionError, match="cannot enter closed without close_code, close_notes"):
        task(change_request, number=record["number"], state="closed")
    assert task.backend.get("change", number=record["number"])["state"] == "implement"


def test_creating_into_an_unreachable_state_leaves_no_record(task):
    with pytest.raises(ItsmTransitionError, match="without assignment_group"):
        task(change_request, correlation_id="x", short_description="x", state="assess")
    assert list(task.backend.find("change", {})) == []


def test_work_notes_are_appended_once(task):
    task(change_request, work_notes="Started", **BASE)
    again = task(change_request, work_notes="Started", **BASE)
    assert again["changed"] is False
    notes = [entry["text"] for entry in task.backend.journal("change", again["record"])]
    assert notes == ["Started"]


def test_end_before_start_is_refused(task):
    with pytest.raises(ItsmValidationError, match="end_date: '2026-11-24T20:00:00Z' is not valid; it must not be before"):
        task(change_request, correlation_id="y", start_date="2026-11-24T21:00:00Z", end_date="2026-11-24T20:00:00Z")


def test_date_without_timezone_is_refused(task):
    with pytest.raises(ItsmValidationError, match="start_date: .* the date has no timezone"):
        task(change_request, correlation_id="y", start_date="2026-11-24T21:00:00")


def test_unknown_number_is_refused(task):
    with pytest.raises(ItsmNotFoundError, match="number: change CHG0000099 does not exist"):
        task(change_request, number="CHG0000099", state="assess")


def test_template_fills_fields_and_makes_a_standard_change(task):
    task.backend.put_template("Rotate certs", {"short_description": "Rotate certs", "risk": "low"})
    record = task(change_request, template="Rotate certs", correlation_id="c1", state="implement")["record"]
    assert (record["type"], record["approval"], record["state"]) == ("standard", "approved", "implement")
    assert record["short_description"] == "Rotate certs" and record["risk"] == "low"


def test_unknown_template_is_refused(task):
    with pytest.raises(ItsmNotFoundError, match="Nope"):
        task(change_request, template="Nope", correlation_id="c2")
    assert list(task.backend.find("change", {})) == []
