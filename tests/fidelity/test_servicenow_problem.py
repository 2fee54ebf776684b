"""Problem and problem task tables of the simulator, checked against the vendor documentation.

Sources: servicenow-api.md §6.7 (state values), the Problem Management documentation (problem form,
problem task form, "Assess a problem", "Investigate root cause", "Resolve and complete a problem",
"Assess a problem task", "Complete a problem task", the migration utility's state maps 101..107 and
151..157) and, for the mandatory fields per state, the problem data policies servicenow.itsm's problem
module cites.
"""

from __future__ import annotations

import re

import pytest

ADMIN_ID = "6816f79cc0a8016401c5a33be04be441"
PROBLEM_ABORT = ("Operation against file 'problem' was aborted by Business Rule "
                 "'Problem Model: Check State Transition^5b2f8e6a4f3110102ae6a1b2c3d4e5f7'. "
                 "Business Rule Stack:Problem Model: Check State Transition")
TASK_ABORT = ("Operation against file 'problem_task' was aborted by Business Rule "
              "'Problem Task Model: Check State Transition^9d4a1c7e4f3110102ae6a1b2c3d4e5f8'. "
              "Business Rule Stack:Problem Task Model: Check State Transition")
PROBLEM_STATES = {"101": "New", "102": "Assess", "103": "Root Cause Analysis", "104": "Fix in Progress",
                  "106": "Resolved", "107": "Closed"}
TASK_STATES = {"151": "New", "152": "Assess", "154": "Work in Progress", "157": "Closed"}
# what each state needs on top of what the previous step of the documented path already set
STEP = {"102": {"assigned_to": "admin"}, "103": {}, "104": {"cause_notes": "disk full", "fix_notes": "rotate logs"},
        "106": {"resolution_code": "fix_applied"}, "107": {}}


def url(api, name, sys_id=""):
    return f"{api.base}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


def create(api, table_name, **fields):
    response = api.post(url(api, table_name), json=fields)
    assert response.status_code == 201, response.text
    return response.json()["result"]


def patch(api, name, sys_id, **fields):
    return api.patch(url(api, name, sys_id), json=fields)


def read(api, name, sys_id, **params):
    response = api.get(url(api, name, sys_id), params=params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def refused(response, detail):
    assert response.status_code == 403, response.text
    assert response.json() == {"error": {"message": "Operation Failed", "detail": detail}, "status": "failure"}


def policy(*labels):
    return "Data Policy Exception: The following fields are mandatory: " + ", ".join(labels)


def problem_in(api, state, **extra):
    """A problem walked along the documented path (New -> Assess -> RCA -> Fix -> Resolved -> Closed)."""
    record = create(api, "problem", short_description="printer jobs stuck", **extra)
    for target in ("102", "103", "104", "106", "107"):
        if record["state"] == state:
            break
        answer = patch(api, "problem", record["sys_id"], state=target, **STEP[target])
        assert answer.status_code == 200, answer.text
        record = answer.json()["result"]
    assert record["state"] == state
    return record


# -- problem: numbers, fields, labels -------------------------------------------------------------

def test_problem_numbers_are_prb_with_seven_digits_and_follow_each_other(api):
    first = create(api, "problem", short_description="one")
    second = create(api, "problem", short_description="two")
    assert re.fullmatch(r"PRB\d{7}", first["number"]) and first["task_effective_number"] == first["number"]
    assert int(second["number"][3:]) == int(first["number"][3:]) + 1
    assert first["opened_by"] == {"link": f"{api.base}/api/now/table/sys_user/{ADMIN_ID}", "value": ADMIN_ID}
    assert first["opened_at"] and first["sys_class_name"] == "problem"


def test_a_new_problem_is_new_active_and_mirrors_its_state(api):
    record = create(api, "problem", short_description="new")
    assert (record["state"], record["problem_state"], record["active"]) == ("101", "101", "true")
    assert record["resolution_code"] == "" and record["known_error"] == "false"


@pytest.mark.parametrize("state, label", sorted(PROBLEM_STATES.items()))
def test_problem_state_labels_are_the_madrid_state_model(api, state, label):
    record = problem_in(api, state)
    shown = read(api, "problem", record["sys_id"], sysparm_display_value="all")
    assert shown["state"] == {"display_value": label, "value": state}
    assert shown["problem_state"] == {"display_value": label, "value": state}


def test_problem_priority_is_computed_from_impact_and_urgency(api):
    record = create(api, "problem", short_description="p", impact="1", urgency="1", priority="5")
    assert record["priority"] == "1"
    assert patch(api, "problem", record["sys_id"], urgency="3").json()["result"]["priority"] == "3"


def test_problems_are_tasks(api):
    record = create(api, "problem", short_description="a task too")
    shown = read(api, "task", record["sys_id"], sysparm_display_value="true")
    assert shown["sys_class_name"] == "Problem" and shown["state"] == "New" and shown["number"] == record["number"]


def test_a_problem_needs_a_problem_statement(api):
    refused(api.post(url(api, "problem"), json={"description": "no statement"}), policy("Problem statement"))


# -- problem: the state model -----------------------------------------------------------------------

def test_the_documented_path_stamps_who_confirmed_fixed_resolved_and_closed(api):
    record = problem_in(api, "107")
    for at, by in (("confirmed_at", "confirmed_by"), ("fix_at", "fix_by"), ("resolved_at", "resolved_by"),
                   ("closed_at", "closed_by")):
        assert record[at], at
        assert record[by]["value"] == ADMIN_ID, by
    assert record["resolution_code"] == "fix_applied" and record["active"] == "false"


def test_a_resolved_problem_stays_active(api):
    assert problem_in(api, "106")["active"] == "true"


@pytest.mark.parametrize("start, target", [
    ("101", "103"), ("101", "104"), ("101", "106"), ("102", "104"), ("102", "106"), ("103", "101"),
    ("103", "102"), ("104", "102"), ("106", "104"), ("107", "106"), ("107", "101")])
def test_illegal_problem_transitions_are_aborted_and_change_nothing(api, start, target):
    record = problem_in(api, start)
    fields = {"cause_notes": "c", "fix_notes": "f", "resolution_code": "fix_applied", "close_notes": "n"}
    refused(patch(api, "problem", record["sys_id"], state=target, **fields), PROBLEM_ABORT)
    after = read(api, "problem", record["sys_id"])
    assert (after["state"], after["sys_mod_count"]) == (start, record["sys_mod_count"])


@pytest.mark.parametrize("target, fields, labels", [
    ("102", {}, ("Assigned to",)),
    ("104", {}, ("Cause notes", "Fix notes")),
    ("104", {"cause_notes": "c"}, ("Fix notes",)),
    ("106", {}, ("Resolution code",)),
])
def test_entering_a_state_without_its_mandatory_fields_is_a_data_policy_error(api, target, fields, labels):
    start = {"102": "101", "104": "103", "106": "104"}[target]
    record = problem_in(api, start)
    refused(patch(api, "problem", record["sys_id"], state=target, **fields), policy(*labels))
    assert read(api, "problem", record["sys_id"])["state"] == start


@pytest.mark.parametrize("code, labels", [
    ("fix_applied", ()),  # the Fix in Progress step already brought cause and fix notes
    ("risk_accepted", ("Close notes",)),  # and cause notes
    ("canceled", ("Close notes",)),
    ("duplicate", ("Duplicate of",)),
])
def test_each_resolution_code_needs_its_own_notes(api, code, labels):
    record = problem_in(api, "104")
    target = "107" if code in ("canceled", "duplicate") else "106"
    answer = patch(api, "problem", record["sys_id"], state=target, resolution_code=code)
    if labels:
        refused(answer, policy(*labels))
    else:
        assert answer.status_code == 200 and answer.json()["result"]["state"] == target


def test_accept_risk_resolves_or_closes_from_root_cause_analysis(api):
    for target in ("106", "107"):
        record = problem_in(api, "103")
        done = patch(api, "problem", record["sys_id"], state=target, resolution_code="risk_accepted",
                     cause_notes="vendor bug", close_notes="accepted by the CAB")
        assert done.status_code == 200, done.text
        assert done.json()["result"]["state"] == target


def test_fix_applied_cannot_skip_fix_in_progress(api):
    record = problem_in(api, "103")
    refused(patch(api, "problem", record["sys_id"], state="106", resolution_code="fix_applied", cause_notes="c",
                  fix_notes="f"), PROBLEM_ABORT)


def test_cancel_closes_a_new_problem_with_close_notes(api):
    record = create(api, "problem", short_description="not a problem", assigned_to="admin")
    closed = patch(api, "problem", record["sys_id"], state="107", resolution_code="canceled",
                   close_notes="not reproducible").json()["result"]
    assert (closed["state"], closed["resolution_code"], closed["active"]) == ("107", "canceled", "false")


def test_mark_duplicate_points_at_the_original(api):
    original = create(api, "problem", short_description="original")
    record = problem_in(api, "102")
    closed = patch(api, "problem", record["sys_id"], state="107", resolution_code="duplicate",
                   duplicate_of=original["number"]).json()["result"]
    assert closed["duplicate_of"]["value"] == original["sys_id"]
    assert closed["duplicate_of"]["link"].endswith(f"/api/now/table/problem/{original['sys_id']}")


def test_reanalyze_reopens_a_closed_problem_and_clears_its_resolution(api):
    record = problem_in(api, "107")
    again = patch(api, "problem", record["sys_id"], state="103").json()["result"]
    assert (again["state"], again["active"], again["resolution_code"], again["closed_at"]) == ("103", "true", "", "")
    assert again["reopen_count"] == "1" and again["reopened_by"]["value"] == ADMIN_ID


def test_writing_the_problem_state_mirror_moves_the_state(api):
    record = create(api, "problem", short_description="mirror", assigned_to="admin")
    moved = patch(api, "problem", record["sys_id"], problem_state="102").json()["result"]
    assert (moved["state"], moved["problem_state"]) == ("102", "102")


def test_a_problem_may_be_created_closed_when_its_fields_are_complete(api):
    # servicenow.itsm #27: creating straight into Resolved/Closed works where the update path is checked
    record = create(api, "problem", short_description="already fixed", assigned_to="admin", state="107",
                    resolution_code="fix_applied", cause_notes="c", fix_notes="f")
    assert (record["state"], record["active"]) == ("107", "false") and record["closed_at"]
    refused(api.post(url(api, "problem"), json={"short_description": "x", "assigned_to": "admin", "state": "107"}),
            policy("Resolution code"))


def test_problem_writes_need_the_itil_role(api):
    answer = api.post(url(api, "problem"), json={"short_description": "x"}, auth=("cab.approver", "cab"))
    refused(answer, "ACL Exception Insert Failed due to security constraints")


# -- incident.problem_id -------------------------------------------------------------------------------

def test_incident_problem_id_references_the_problem_and_counts_related_incidents(api):
    problem = create(api, "problem", short_description="recurring")
    first = create(api, "incident", short_description="again", problem_id=problem["number"])
    assert first["problem_id"] == {"link": f"{api.base}/api/now/table/problem/{problem['sys_id']}",
                                   "value": problem["sys_id"]}
    second = create(api, "incident", short_description="and again")
    patch(api, "incident", second["sys_id"], problem_id=problem["sys_id"])
    assert read(api, "problem", problem["sys_id"])["related_incidents"] == "2"
    patch(api, "incident", second["sys_id"], problem_id="")
    assert read(api, "problem", problem["sys_id"])["related_incidents"] == "1"
    walked = api.get(url(api, "incident"), params={"sysparm_query": f"problem_id.number={problem['number']}",
                                                   "sysparm_fields": "number,problem_id.short_description"}).json()
    assert walked["result"] == [{"number": first["number"], "problem_id.short_description": "recurring"}]


def test_incident_problem_id_displays_the_problem_number(api):
    problem = create(api, "problem", short_description="shown")
    incident = create(api, "incident", short_description="linked", problem_id=problem["sys_id"])
    shown = read(api, "incident", incident["sys_id"], sysparm_display_value="true")
    assert shown["problem_id"]["display_value"] == problem["number"]


# -- problem task -----------------------------------------------------------------------------------------

def task_in(api, state, problem_task_type="general"):
    problem = create(api, "problem", short_description="parent")
    record = create(api, "problem_task", short_description="look at logs", problem=problem["sys_id"],
                    problem_task_type=problem_task_type)
    path = {"152": {"assigned_to": "admin"}, "154": {}}
    for target in ("152", "154"):
        if record["state"] == state:
            break
        record = patch(api, "problem_task", record["sys_id"], state=target, **path[target]).json()["result"]
    assert record["state"] == state
    return record


def test_problem_task_numbers_type_and_source_problem(api):
    problem = create(api, "problem", short_description="parent")
    record = create(api, "problem_task", short_description="rca", problem=problem["number"], problem_task_type="rca")
    assert re.fullmatch(r"PTASK\d{7}", record["number"])
    assert (record["state"], record["active"], record["problem"]["value"]) == ("151", "true", problem["sys_id"])
    shown = read(api, "problem_task", record["sys_id"], sysparm_display_value="true")
    assert (shown["problem_task_type"], shown["state"], shown["problem"]["display_value"]) == (
        "Root Cause Analysis", "New", problem["number"])


@pytest.mark.parametrize("state, label", sorted(TASK_STATES.items()))
def test_problem_task_state_labels(api, state, label):
    record = task_in(api, state) if state != "157" else None
    if record is None:
        record = task_in(api, "154")
        record = patch(api, "problem_task", record["sys_id"], state="157", close_code="completed",
                       close_notes="done").json()["result"]
    assert read(api, "problem_task", record["sys_id"], sysparm_display_value="true")["state"] == label


def test_starting_work_stamps_the_start_and_assess_needs_an_assignee(api):
    record = task_in(api, "151")
    refused(patch(api, "problem_task", record["sys_id"], state="152"), policy("Assigned to"))
    record = task_in(api, "154")
    assert record["started_at"] and record["started_by"]["value"] == ADMIN_ID


@pytest.mark.parametrize("task_type, fields, labels", [
    ("general", {}, ("Close code",)),
    ("general", {"close_code": "completed"}, ("Close notes",)),
    ("rca", {"close_code": "completed", "close_notes": "n"}, ("Cause notes", "Proposed fix notes")),
])
def test_completing_a_problem_task_needs_its_notes(api, task_type, fields, labels):
    record = task_in(api, "154", task_type)
    refused(patch(api, "problem_task", record["sys_id"], state="157", **fields), policy(*labels))


def test_complete_is_offered_in_work_in_progress_only_but_cancel_anywhere(api):
    record = task_in(api, "152")
    refused(patch(api, "problem_task", record["sys_id"], state="157", close_code="completed", close_notes="n"),
            TASK_ABORT)
    canceled = patch(api, "problem_task", record["sys_id"], state="157", close_code="canceled",
                     close_notes="duplicate task").json()["result"]
    assert (canceled["state"], canceled["active"]) == ("157", "false") and canceled["closed_at"]


def test_reassess_from_work_in_progress_and_from_closed(api):
    record = task_in(api, "154")
    assert patch(api, "problem_task", record["sys_id"], state="152").json()["result"]["state"] == "152"
    patch(api, "problem_task", record["sys_id"], state="154")
    patch(api, "problem_task", record["sys_id"], state="157", close_code="completed", close_notes="done")
    again = patch(api, "problem_task", record["sys_id"], state="152").json()["result"]
    assert (again["state"], again["active"], again["close_code"], again["reopen_count"]) == ("152", "true", "", "1")


@pytest.mark.parametrize("start, target", [("151", "154"), ("154", "151"), ("152", "151")])
def test_illegal_problem_task_transitions_are_aborted(api, start, target):
    record = task_in(api, start)
    refused(patch(api, "problem_task", record["sys_id"], state=target), TASK_ABORT)
