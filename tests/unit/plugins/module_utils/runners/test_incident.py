"""incident run(): dedupe by correlation id with recurrence notes, lifecycle and refusals."""

from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import JournalTexts, LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils._records import Met
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import Recurrence
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request, incident, incident_info

FAILURE = dict(correlation_id="site.yml/web/restart", short_description="Restart failed", impact="high",
               urgency="medium", configuration_item="web01")


@pytest.fixture
def task(task):
    """The incidents here name web01, a CI of the store: an incident's CI must exist on every backend (issue 16)."""
    task.backend.put_ci("web01", "linux_server", {})
    return task


def test_recurrence_updates_the_open_incident(task):
    first = task(incident, **FAILURE)
    assert first["changed"] and not first["recurred"]
    assert first["record"]["priority"] == "high"
    second = task(incident, **FAILURE)
    third = task(incident, **FAILURE)
    assert second["recurred"] and third["recurred"]
    assert second["record"]["number"] == third["record"]["number"] == first["record"]["number"]
    notes = [entry["text"] for entry in task.backend.journal("incident", third["record"])]
    assert [note.split(":")[0] for note in notes] == ["Recurrence #2", "Recurrence #3"]
    assert len(list(task.backend.find("incident", {}))) == 1


def test_a_recurrence_is_looked_up_open_only_and_recorded_by_the_backends_one_operation(double_task, backend_double):
    # One look-up rule (_lookup), and one operation for a recurrence (record_recurrence), as the recorder's outbox
    # uses them: the backend numbers and notes it (backends/test_recurrence_contract.py).
    held = dict(id="i1", number="INC0000004", state="in_progress", correlation_id=FAILURE["correlation_id"],
                short_description="Restart failed", impact="high", urgency="medium", configuration_item="web01")
    backend_double.lookup.return_value = LookupResult(held)
    backend_double.record_recurrence.return_value = Recurrence(3, True, "Recurrence #3: ...")

    result = double_task(incident, **FAILURE)

    # no notes given: nothing to read with the incident but the names a write may need
    assert backend_double.lookup.call_args_list == [
        mock.call("incident", correlation_id=FAILURE["correlation_id"], open_only=True, include=frozenset(),
                  writes=FAILURE)]
    text = f"the failure with correlation id {FAILURE['correlation_id']} happened again.\nRestart failed"
    assert backend_double.record_recurrence.call_args_list == [mock.call(held, text, check_mode=False)]
    assert backend_double.journal.call_count == backend_double.add_journal.call_count == 0
    assert result["recurred"] is True and result["changed"] is True and backend_double.create.call_count == 0


def test_a_recurrence_the_backend_did_not_count_is_no_change(double_task, backend_double):
    held = dict(id="i1", number="INC0000004", state="in_progress", correlation_id=FAILURE["correlation_id"],
                short_description="Restart failed", impact="high", urgency="medium", configuration_item="web01")
    backend_double.lookup.return_value = LookupResult(held)
    backend_double.record_recurrence.return_value = Recurrence(3, False, None)

    result = double_task(incident, check_mode=True, **FAILURE)

    assert backend_double.record_recurrence.call_args.kwargs == {"check_mode": True}
    assert (result["recurred"], result["changed"]) == (False, False)


def test_an_update_with_notes_reads_the_journal_with_the_incident_and_writes_the_new_note_only(
        double_task, backend_double):
    held = dict(id="i1", number="INC0000004", state="in_progress", urgency="low")
    notes = JournalTexts.from_entries([dict(field="work_notes", text="disk cleaned")])
    backend_double.lookup.return_value = LookupResult(held, notes=notes)
    backend_double.update.return_value = dict(held, urgency="high")

    double_task(incident, number="INC0000004", urgency="high", work_notes="disk cleaned", comments="all good")

    assert backend_double.lookup.call_args_list == [
        mock.call("incident", number="INC0000004", include=frozenset({"journal"}), writes={"urgency": "high"})]
    assert backend_double.update.call_args_list == [
        mock.call("incident", held, {"urgency": "high", "comments": "all good"}, check_mode=False, known_notes=notes)]
    assert backend_double.journal.call_count == 0 and backend_double.add_journal.call_count == 0


def test_resolved_incident_does_not_absorb_a_new_failure(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, number=number, state="resolved", close_code="solution_provided", close_notes="fixed")
    again = task(incident, **FAILURE)
    assert again["record"]["number"] != number and not again["recurred"]


def test_recurrence_note_off_is_idempotent(task):
    task(incident, **FAILURE)
    assert task(incident, recurrence_note=False, **FAILURE)["changed"] is False


def test_caused_by_must_name_an_existing_change(task):
    with pytest.raises(ItsmNotFoundError, match="caused_by: change CHG0000007 does not exist"):
        task(incident, caused_by="CHG0000007", **FAILURE)
    assert list(task.backend.find("incident", {})) == []
    change = task(change_request, correlation_id="c", short_description="c")["record"]["number"]
    record = task(incident, caused_by=change, **FAILURE)["record"]
    assert record["caused_by"] == change
    assert [r["number"] for r in task(incident_info, caused_by=change)["records"]] == [record["number"]]


def test_hold_needs_a_reason(task):
    number = task(incident, **FAILURE)["record"]["number"]
    with pytest.raises(ItsmTransitionError, match="cannot enter on_hold without hold_reason"):
        task(incident, number=number, state="on_hold")
    held = task(incident, number=number, state="on_hold", hold_reason="awaiting_vendor")["record"]
    assert (held["state"], held["hold_reason"]) == ("on_hold", "awaiting_vendor")


def test_resolve_reopen_close(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, number=number, state="resolved", close_code="workaround_provided", close_notes="restarted")
    reopened = task(incident, number=number, state="in_progress")["record"]
    assert reopened["reopen_count"] == 1
    closed = task(incident, number=number, state="closed", close_code="solution_provided", close_notes="done")
    assert (closed["record"]["state"], closed["record"]["active"]) == ("closed", False)


def test_check_mode_writes_nothing(task):
    result = task(incident, check_mode=True, **FAILURE)
    assert result["changed"] and result["record"]["number"] is None
    assert list(task.backend.find("incident", {})) == []


def test_close_fields_already_on_the_record_are_enough(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, number=number, state="resolved", close_code="solution_provided", close_notes="fixed")
    closed = task(incident, number=number, state="closed")["record"]
    assert (closed["state"], closed["close_code"]) == ("closed", "solution_provided")


RESOLVE = dict(state="resolved", close_code="solution_provided", close_notes="fixed")
SETTLE = {"resolve": RESOLVE, "close": dict(RESOLVE, state="closed"), "cancel": dict(state="canceled")}


@pytest.mark.parametrize("settle", list(SETTLE.values()), ids=list(SETTLE))
def test_settling_by_correlation_id_twice_changes_nothing_the_second_time(task, settle):
    number = task(incident, **FAILURE)["record"]["number"]
    first = task(incident, correlation_id=FAILURE["correlation_id"], **settle)
    again = task(incident, correlation_id=FAILURE["correlation_id"], **settle)
    assert first["changed"] is True and again["changed"] is False
    assert first["record"]["number"] == again["record"]["number"] == number
    assert again["record"]["state"] == settle["state"]
    assert len(list(task.backend.find("incident", {}))) == 1


def test_closing_after_resolving_by_correlation_id_closes_the_same_incident(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, correlation_id=FAILURE["correlation_id"], **RESOLVE)
    closed = task(incident, correlation_id=FAILURE["correlation_id"], state="closed")["record"]
    assert (closed["number"], closed["state"]) == (number, "closed")
    assert len(list(task.backend.find("incident", {}))) == 1


def test_reopen_by_correlation_id_reopens_the_resolved_incident(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, number=number, **RESOLVE)
    reopen = dict(correlation_id=FAILURE["correlation_id"], state="in_progress", recurrence_note=False)
    first, again = task(incident, **reopen), task(incident, **reopen)
    assert (first["record"]["number"], first["record"]["reopen_count"], first["recurred"]) == (number, 1, False)
    assert first["changed"] is True and again["changed"] is False
    assert len(list(task.backend.find("incident", {}))) == 1


def test_a_closed_incident_is_not_reopened_by_correlation_id(task):
    number = task(incident, **FAILURE)["record"]["number"]
    task(incident, number=number, **dict(RESOLVE, state="closed"))
    again = task(incident, state="in_progress", **FAILURE)["record"]
    assert again["number"] != number and again["state"] == "in_progress"


@pytest.mark.parametrize("state", ["resolved", "closed", "canceled"])
def test_settling_an_incident_that_does_not_exist_is_refused(task, state):
    with pytest.raises(ItsmValidationError, match=f"state: '{state}' is not valid; no incident holds correlation_id"):
        task(incident, correlation_id="never-raised", **dict(RESOLVE, state=state))
    assert list(task.backend.find("incident", {})) == []


def test_a_task_whose_create_meets_a_concurrent_tasks_incident_counts_as_a_recurrence(task, monkeypatch):
    first = task(incident, work_notes="seen on web01", **FAILURE)
    # The second task looked the id up before the first one's create committed: its look-up finds nothing.
    real_lookup, calls = task.backend.lookup, []

    def lookup_too_early(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real_lookup(*args, **kwargs)

    monkeypatch.setattr(task.backend, "lookup", lookup_too_early)

    second = task(incident, work_notes="seen on web02", **FAILURE)

    assert len(calls) >= 1
    assert (second["changed"], second["recurred"], second["record"]["number"]) == (True, True, first["record"]["number"])
    assert not isinstance(second["record"], Met)  # the runner hands on a plain record
    notes = [entry["text"] for entry in task.backend.journal("incident", second["record"])]
    assert notes[0] == "seen on web01" and "seen on web02" in notes
    assert [note.split(":")[0] for note in notes if note.startswith("Recurrence #")] == ["Recurrence #2"]
    assert len(list(task.backend.find("incident", {}))) == 1
