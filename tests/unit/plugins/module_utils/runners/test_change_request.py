"""change_request run() against a real local store: create, idempotence, walks, refusals, check mode; what a task
declares with its look-up, on a double of the contract."""

from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _workflow as workflow
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmError,
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import JournalTexts, LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_approval, change_gate, change_request

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


REFUSALS = {
    "a change keeps its type": dict(type="emergency"),
    "an illegal jump": dict(state="implement"),
    "closing without close fields": dict(state="closed"),
    "end before start": dict(end_date="2026-11-24T20:00:00Z"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS.values()), ids=list(REFUSALS))
def test_a_refused_task_leaves_the_store_unchanged(task, refusal):
    before = task(change_request, **dict(BASE, configuration_items=["a"]))["record"]
    trail = task.backend.audit("change", before)
    with pytest.raises(ItsmError):
        task(change_request, **dict(BASE, configuration_items=["a", "b"], risk="high", **refusal))
    assert task.backend.get("change", number=before["number"]) == before
    assert task.backend.affected_cis(before) == ["a"]
    assert task.backend.audit("change", before) == trail


def test_an_old_canceled_change_does_not_hide_the_open_one(task):
    old = task.backend.create("change", dict(correlation_id="P", short_description="first try"))
    task(change_request, number=old["number"], state="canceled")
    current = task.backend.create("change", dict(correlation_id="P", short_description="second try"))
    assert current["number"] != old["number"]
    result = task(change_request, correlation_id="P", risk="low")
    assert result["record"]["number"] == current["number"] and result["record"]["risk"] == "low"
    assert workflow.find_existing(task.backend, "change", None, "P").record["number"] == current["number"]


def test_the_gate_finds_the_open_change_past_a_canceled_one(task):
    old = task.backend.create("change", dict(correlation_id="P", short_description="first try"))
    task(change_request, number=old["number"], state="canceled")
    current = task(change_request, type="standard", state="implement", **dict(BASE, correlation_id=None))["record"]
    task.backend.update("change", current, dict(correlation_id="P"))
    verdict = task(change_gate, correlation_id="P", hosts=[], checks={"window": False})
    assert verdict["passed"] is True and verdict["record"]["number"] == current["number"]


def test_without_an_open_change_the_newest_closed_one_is_found(task):
    numbers = []
    for attempt in ("first", "second"):
        record = task.backend.create("change", dict(correlation_id="P", short_description=attempt))
        task(change_request, number=record["number"], state="canceled")
        numbers.append(record["number"])
    assert workflow.find_existing(task.backend, "change", None, "P").record["number"] == numbers[-1]
    assert workflow.find_existing(task.backend, "change", None, "P", open_only=True) is None


def test_two_open_changes_sharing_a_correlation_id_are_refused(task):
    for attempt in ("first", "second"):
        task.backend.create("change", dict(correlation_id=attempt, short_description=attempt))
    second = task.backend.get("change", correlation_id="second")
    task.backend.update("change", second, dict(correlation_id="first"))
    with pytest.raises(ItsmConflictError, match="correlation_id: 'first' names 2 changes"):
        task(change_request, correlation_id="first", risk="low")


def test_a_correlation_id_two_open_changes_hold_already_is_refused_naming_both(task):
    for attempt in ("first", "second"):
        task.backend.create("change", dict(correlation_id=attempt, short_description=attempt))
    second = task.backend.get("change", correlation_id="second")
    task.backend.update("change", second, dict(correlation_id="first"))
    third = task.backend.create("change", dict(correlation_id="third", short_description="third"))

    with pytest.raises(ItsmConflictError, match="'first' is held by open change CHG0000001, CHG0000002; giving it "
                                                "to CHG0000003 too"):
        task(change_request, number=third["number"], correlation_id="first")


def test_a_note_rides_on_the_transition_once_and_a_rerun_adds_none(task):
    number = task(change_request, **BASE)["record"]["number"]
    args = dict(number=number, state="assess", work_notes="Ready for review", comments="Sent to the CAB")

    moved = task(change_request, **args)
    again = task(change_request, **args)

    assert (moved["changed"], moved["record"]["state"]) == (True, "assess")
    assert again["changed"] is False
    journal = [(entry["field"], entry["text"]) for entry in task.backend.journal("change", moved["record"])]
    assert journal == [("work_notes", "Ready for review"), ("comments", "Sent to the CAB")]


def test_a_refused_transition_writes_no_note(task):
    number = task(change_request, **BASE)["record"]["number"]

    with pytest.raises(ItsmTransitionError):
        task(change_request, number=number, state="closed", work_notes="Closing")

    assert task.backend.journal("change", task.backend.get("change", number=number)) == []


# -- what a task declares with its look-up (a double of the contract, no store) ----------------------------

DOUBLE = dict(id="c1", number="CHG0000005", state="new", type="normal", approval="not_requested",
              short_description="Deploy 5", assignment_group="Platform", configuration_items=["web01"])


def test_an_update_with_notes_declares_the_journal_and_the_names_it_may_write(double_task, backend_double):
    notes = JournalTexts.from_entries([dict(field="work_notes", text="plan attached")])
    backend_double.lookup.return_value = LookupResult(DOUBLE, notes=notes)
    backend_double.affected_cis.return_value = ["web01"]
    backend_double.update.return_value = dict(DOUBLE, assignment_group="Network", configuration_items=["web01", "web02"])

    result = double_task(change_request, number="CHG0000005", assignment_group="Network",
                         configuration_items=["web02", "web01"], work_notes="plan attached", comments="go")

    assert backend_double.lookup.call_args_list == [mock.call(
        "change", number="CHG0000005", include=frozenset({"journal"}),
        writes={"assignment_group": "Network", "template": None, "configuration_items": ["web02", "web01"]})]
    # one write: the fields, the CIs and the one note not there yet, guarded with what the look-up read
    assert backend_double.update.call_args_list == [mock.call(
        "change", DOUBLE, {"assignment_group": "Network", "configuration_items": ["web01", "web02"], "comments": "go"},
        check_mode=False, known_notes=notes)]
    assert backend_double.journal.call_count == 0 and backend_double.add_journal.call_count == 0
    assert result["changed"] is True


def test_a_create_by_correlation_id_declares_the_names_and_no_journal_without_notes(double_task, backend_double):
    backend_double.lookup.return_value = None
    backend_double.create.return_value = dict(DOUBLE, correlation_id="deploy-5")

    double_task(change_request, correlation_id="deploy-5", short_description="Deploy 5", assignment_group="Platform")

    assert backend_double.lookup.call_args_list == [mock.call(
        "change", correlation_id="deploy-5", open_only=False, include=frozenset(),
        writes={"correlation_id": "deploy-5", "short_description": "Deploy 5", "assignment_group": "Platform",
                "template": None, "configuration_items": []})]
    assert [call[0] for call in backend_double.method_calls] == ["lookup", "create"]


def test_a_create_without_a_key_looks_nothing_up(double_task, backend_double):
    backend_double.create.return_value = DOUBLE

    double_task(change_request, short_description="Deploy 5")

    assert [call[0] for call in backend_double.method_calls] == ["create"]
