"""problem run() and problem_info run() against a real local store: find-or-create, the problem model, refusals,
check mode, diff, idempotence, and the incident -> problem link (issue 19)."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import (
    attachment,
    incident,
    incident_info,
    problem,
    problem_info,
)

SIGNATURE = dict(correlation_id="deploy.yml/web/restart", short_description="Restart fails after each release",
                 impact="medium", urgency="high")
RESOLVE = dict(state="resolved", assigned_to="jdoe", cause_notes="stop timeout too short",
               fix_notes="raise the timeout", resolution_code="fix_applied")
CANCEL = dict(state="closed", assigned_to="jdoe", resolution_code="canceled", close_notes="not a problem")


def _incident(task, name):
    return task(incident, correlation_id=name, short_description=f"failure {name}")["record"]["number"]


def _count(task, kind="problem"):
    return len(list(task.backend.find(kind, {})))


def test_create_then_the_same_task_again_changes_nothing(task):
    first = task(problem, **SIGNATURE)
    record = first["record"]
    assert first["changed"] and record["number"] == "PRB0000001" and record["state"] == "new"
    assert (record["priority"], record["active"], record["url"]) == ("high", True, "local://problems/PRB0000001")
    assert first["diff"]["before"] == {} and first["diff"]["after"]["number"] == "PRB0000001"
    again = task(problem, **SIGNATURE)
    assert again["changed"] is False and again["record"] == record and again["linked_incidents"] == []
    assert _count(task) == 1


def test_check_mode_predicts_a_new_problem_and_writes_nothing(task):
    result = task(problem, check_mode=True, state="assess", assigned_to="jdoe", **SIGNATURE)
    assert result["changed"] and result["record"]["number"] is None and result["record"]["state"] == "assess"
    assert _count(task) == 0


def test_check_mode_of_an_update_predicts_the_walk_and_writes_nothing(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    predicted = task(problem, check_mode=True, number=number, **RESOLVE)
    assert predicted["changed"] and predicted["record"]["state"] == "resolved"
    assert predicted["diff"]["before"]["state"] == "new" and predicted["diff"]["after"]["state"] == "resolved"
    assert task.backend.get("problem", number=number)["state"] == "new"


def test_a_walk_to_resolved_in_one_task_and_its_re_run_by_correlation_id(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    resolved = task(problem, **dict(SIGNATURE, **RESOLVE))
    record = resolved["record"]
    assert resolved["changed"] and record["number"] == number
    assert (record["state"], record["resolution_code"], record["active"]) == ("resolved", "fix_applied", True)
    assert record["fields"]["resolved_at"]
    states = [entry["new"] for entry in task.backend.audit("problem", record) if entry["type"] == "state"]
    assert states == ["assess", "root_cause_analysis", "fix_in_progress", "resolved"]  # a fix is applied from fix
    # settled already: the re-run finds the resolved problem by its correlation id and changes nothing
    assert task(problem, **dict(SIGNATURE, **RESOLVE))["changed"] is False
    closed = task(problem, number=number, state="closed")["record"]
    assert (closed["state"], closed["active"]) == ("closed", False) and closed["closed_at"]


def test_a_step_lacking_its_fields_is_refused_naming_all_of_them_before_any_write(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    with pytest.raises(ItsmTransitionError, match="cannot enter assess without assigned_to and resolved without "
                                                  "resolution_code; set assigned_to and resolution_code"):
        task(problem, number=number, state="resolved")
    with pytest.raises(ItsmTransitionError, match="cannot enter assess without assigned_to and fix_in_progress without "
                                                  "cause_notes, fix_notes; set"):
        task(problem, number=number, state="resolved", resolution_code="fix_applied")
    assert task.backend.get("problem", number=number)["state"] == "new"
    assert [entry["type"] for entry in task.backend.audit("problem", {"number": number})] == ["created"]


def test_the_resolution_code_decides_the_way_and_a_way_it_forbids_is_refused(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    with pytest.raises(ItsmTransitionError, match="from new to resolved with resolution_code canceled .a problem "
                                                  "enters resolved with it only from no state"):
        task(problem, number=number, **dict(CANCEL, state="resolved"))
    accepted = task(problem, number=number, state="resolved", assigned_to="jdoe", resolution_code="risk_accepted",
                    cause_notes="a vendor bug", close_notes="we live with it")["record"]
    states = [entry["new"] for entry in task.backend.audit("problem", accepted) if entry["type"] == "state"]
    assert states == ["assess", "root_cause_analysis", "resolved"]  # a risk is accepted once analysed


def test_cancel_closes_an_open_problem_with_its_resolution(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    closed = task(problem, number=number, **CANCEL)
    assert closed["record"]["state"] == "closed" and closed["record"]["resolution_code"] == "canceled"
    assert closed["record"]["active"] is False and closed["record"]["fields"]["resolved_at"]
    with pytest.raises(ItsmTransitionError, match="states reachable from closed: root_cause_analysis"):
        task(problem, number=number, state="assess")


def test_a_duplicate_names_an_existing_problem(task):
    original = task(problem, correlation_id="first", short_description="first")["record"]["number"]
    number = task(problem, **SIGNATURE)["record"]["number"]
    duplicate = dict(state="closed", assigned_to="jdoe", resolution_code="duplicate")
    with pytest.raises(ItsmTransitionError, match="closed without duplicate_of"):
        task(problem, number=number, **duplicate)
    with pytest.raises(ItsmNotFoundError, match="duplicate_of: problem PRB0000099 does not exist"):
        task(problem, number=number, duplicate_of="PRB0000099", **duplicate)
    closed = task(problem, number=number, duplicate_of=original, **duplicate)["record"]
    assert (closed["state"], closed["duplicate_of"]) == ("closed", original)


def test_re_analysis_takes_a_settled_problem_back_and_clears_its_resolution(task):
    number = task(problem, **dict(SIGNATURE))["record"]["number"]
    task(problem, number=number, **RESOLVE)
    closed = task(problem, number=number, state="closed")["record"]
    assert (closed["state"], closed["resolution_code"], closed["active"]) == ("closed", "fix_applied", False)
    again = task(problem, number=number, state="root_cause_analysis")["record"]
    assert (again["state"], again["resolution_code"], again["active"], again["closed_at"]) == (
        "root_cause_analysis", None, True, None)
    assert "resolved_at" not in again["fields"]


def test_a_settled_problem_does_not_take_the_next_occurrence(task):
    first = task(problem, **SIGNATURE)["record"]["number"]
    task(problem, number=first, **RESOLVE)
    second = task(problem, **SIGNATURE)
    assert second["changed"] and second["record"]["number"] != first and second["record"]["state"] == "new"


def test_a_task_does_not_create_a_settled_problem(task):
    with pytest.raises(ItsmValidationError, match="does not create a problem that is settled at once"):
        task(problem, **dict(SIGNATURE, **RESOLVE))
    assert _count(task) == 0


def test_an_unknown_number_and_an_empty_summary_are_refused(task):
    with pytest.raises(ItsmNotFoundError, match="number: problem PRB0000009 does not exist on the local backend"):
        task(problem, number="PRB0000009", description="x")
    with pytest.raises(ItsmValidationError, match="every problem needs a summary"):
        task(problem, correlation_id="x", description="no summary")
    assert _count(task) == 0


def test_an_unknown_ci_is_refused_and_nothing_is_written(task):
    with pytest.raises(ItsmNotFoundError, match="configuration_item: local_db .* has no configuration item named 'web09'"):
        task(problem, configuration_item="web09", **SIGNATURE)
    assert _count(task) == 0


def test_a_correlation_id_another_open_problem_holds_is_refused(task):
    task(problem, **SIGNATURE)
    other = task(problem, correlation_id="other", short_description="other")["record"]["number"]
    with pytest.raises(ItsmConflictError, match="is held by open problem PRB0000001"):
        task(problem, number=other, correlation_id=SIGNATURE["correlation_id"])


def test_notes_are_appended_once(task):
    number = task(problem, work_notes="seen on web01", **SIGNATURE)["record"]["number"]
    assert task(problem, work_notes="seen on web01", **SIGNATURE)["changed"] is False
    assert task(problem, number=number, work_notes="seen on web02")["changed"] is True
    texts = [entry["text"] for entry in task.backend.journal("problem", {"number": number})]
    assert texts == ["seen on web01", "seen on web02"]


def test_incidents_are_linked_once_and_returned_with_their_problem(task):
    first, second = _incident(task, "a"), _incident(task, "b")
    created = task(problem, incidents=[first, second, first], **SIGNATURE)
    number = created["record"]["number"]
    assert created["linked_incidents"] == [first, second]
    assert task.backend.get("incident", number=first)["problem"] == number
    again = task(problem, incidents=[first, second], **SIGNATURE)
    assert again["changed"] is False and again["linked_incidents"] == []
    listed = task(incident_info, problem=number)["records"]
    assert [record["number"] for record in listed] == [first, second]


def test_an_unknown_incident_is_refused_before_anything_is_written(task):
    first = _incident(task, "a")
    with pytest.raises(ItsmNotFoundError, match="incidents: incident INC0000042 does not exist"):
        task(problem, incidents=[first, "INC0000042"], **SIGNATURE)
    assert _count(task) == 0 and task.backend.get("incident", number=first)["problem"] is None


def test_linking_in_check_mode_writes_nothing(task):
    first = _incident(task, "a")
    number = task(problem, **SIGNATURE)["record"]["number"]
    result = task(problem, check_mode=True, number=number, incidents=[first])
    assert result["changed"] and result["linked_incidents"] == [first]
    assert task.backend.get("incident", number=first)["problem"] is None


def test_the_incident_module_links_to_an_existing_problem_only(task):
    number = task(problem, **SIGNATURE)["record"]["number"]
    with pytest.raises(ItsmNotFoundError, match="problem: problem PRB0000077 does not exist on the local backend"):
        task(incident, correlation_id="c", short_description="c", problem="PRB0000077")
    assert _count(task, "incident") == 0
    linked = task(incident, correlation_id="c", short_description="c", problem=number, recurrence_note=False)
    assert linked["record"]["problem"] == number
    assert task(incident, correlation_id="c", short_description="c", problem=number,
                recurrence_note=False)["changed"] is False
    unlinked = task(incident, number=linked["record"]["number"], problem="")["record"]
    assert unlinked["problem"] is None


def test_a_problem_number_with_a_comma_is_refused_naming_the_option(task):
    with pytest.raises(ItsmValidationError, match="problem: 'PRB1,PRB2' is not valid; expected one record number"):
        task(incident, correlation_id="c", short_description="c", problem="PRB1,PRB2")


def test_problem_info_filters_and_includes_incidents_and_notes(task):
    first = _incident(task, "a")
    number = task(problem, incidents=[first], work_notes="Change CHG0000001 failed", **SIGNATURE)["record"]["number"]
    other = task(problem, correlation_id="other", short_description="other")["record"]["number"]
    task(problem, number=other, state="closed", assigned_to="jdoe", resolution_code="duplicate", duplicate_of=number)
    found = task(problem_info, active=True, include=["incidents", "notes"])
    assert [record["number"] for record in found["records"]] == [number] and found["total"] == 1
    assert found["records"][0]["incidents"] == [first]
    assert [note["text"] for note in found["records"][0]["notes"]] == ["Change CHG0000001 failed"]
    assert [r["number"] for r in task(problem_info, state=["closed"])["records"]] == [other]
    assert task(problem_info, correlation_id=SIGNATURE["correlation_id"])["records"][0]["number"] == number
    assert "incidents" not in task(problem_info, number=other)["records"][0]


def test_a_file_attaches_to_a_problem_by_its_number(task, tmp_path):
    number = task(problem, **SIGNATURE)["record"]["number"]
    log = tmp_path / "restart.log"
    log.write_text("timeout\n", encoding="utf-8")
    attached = task(attachment, number=number, path=str(log))
    assert attached["changed"] and attached["record"]["number"] == number
    assert [item["name"] for item in task.backend.attachments("problem", {"number": number})] == ["restart.log"]
