"""Business rules, ACLs, the Change Management API and conflict detection of the simulator."""

from __future__ import annotations

import re

import pytest
import requests

ADMIN_ID = "6816f79cc0a8016401c5a33be04be441"
STATE_ABORT = ("Operation against file 'change_request' was aborted by Business Rule "
               "'Change Model: Check State Transition^0c8f2d1e4f3110102ae6a1b2c3d4e5f6'. "
               "Business Rule Stack:Change Model: Check State Transition")


def url(api, name, sys_id=""):
    return f"{api.base}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


def create(api, table_name, **fields):
    response = api.post(url(api, table_name), json=fields)
    assert response.status_code == 201, response.text
    return response.json()["result"]


def patch(api, name, sys_id, **fields):
    return api.patch(url(api, name, sys_id), json=fields)


def group_id(api, name):
    return api.get(url(api, "sys_user_group"), params={"name": name}).json()["result"][0]["sys_id"]


def approvals(api, change_id, state=None):
    params = {"sysapproval": change_id, "sysparm_exclude_reference_link": "true"}
    if state:
        params["state"] = state
    return api.get(url(api, "sysapproval_approver"), params=params).json()["result"]


# -- numbering, incidents, journals --------------------------------------------------------------

def test_numbering_per_table(api):
    tables = ("incident", "change_request", "change_task")
    numbers = [create(api, name, short_description="n")["number"] for name in tables]
    assert re.fullmatch(r"INC\d{7}", numbers[0])
    assert re.fullmatch(r"CHG\d{7}", numbers[1])
    assert re.fullmatch(r"CTASK\d{7}", numbers[2])
    following = create(api, "incident", short_description="n")["number"]
    assert int(following[3:]) == int(numbers[0][3:]) + 1


@pytest.mark.parametrize("table_name, label", [("incident", "New"), ("change_request", "New"),
                                               ("change_task", "Open"), ("task", "Open")])
def test_state_labels_follow_the_concrete_class(api, table_name, label):
    record = create(api, table_name, short_description="labels")
    shown = api.get(url(api, "task", record["sys_id"]), params={"sysparm_display_value": "true"}).json()["result"]
    assert shown["state"] == label and shown["number"] == record["number"]


@pytest.mark.parametrize("impact, urgency, priority", [
    ("1", "1", "1"), ("1", "2", "2"), ("1", "3", "3"), ("2", "1", "2"), ("2", "2", "3"), ("2", "3", "4"),
    ("3", "1", "3"), ("3", "2", "4"), ("3", "3", "5")])
def test_incident_priority_is_computed_and_writes_are_overwritten(api, impact, urgency, priority):
    record = create(api, "incident", short_description="p", impact=impact, urgency=urgency, priority="1")
    assert record["priority"] == priority
    again = patch(api, "incident", record["sys_id"], priority="1").json()["result"]
    assert again["priority"] == priority


def test_incident_resolution_requires_close_fields(api):
    record = create(api, "incident", short_description="resolve me")
    refused = patch(api, "incident", record["sys_id"], state="6", close_code="Solution provided")
    assert refused.status_code == 403
    assert refused.json() == {"error": {"message": "Operation Failed", "detail":
                                        "Data Policy Exception: The following fields are mandatory: Resolution notes"},
                              "status": "failure"}
    resolved = patch(api, "incident", record["sys_id"], state="6", close_code="Solution provided",
                     close_notes="fixed").json()["result"]
    assert resolved["state"] == "6" and resolved["resolved_at"] and resolved["active"] == "true"
    assert resolved["resolved_by"]["value"] == ADMIN_ID
    closed = patch(api, "incident", record["sys_id"], state="7").json()["result"]
    assert closed["active"] == "false" and closed["closed_at"]


def test_journal_fields_become_sys_journal_field_rows(api):
    record = create(api, "incident", short_description="journal", work_notes="first note")
    assert record["work_notes"] == ""
    updated = patch(api, "incident", record["sys_id"], comments="customer visible").json()["result"]
    assert updated["sys_mod_count"] == "1" and updated["sys_updated_by"] == "admin"
    rows = api.get(url(api, "sys_journal_field"), params={"element_id": record["sys_id"]}).json()["result"]
    assert sorted((r["element"], r["value"], r["name"]) for r in rows) == [
        ("comments", "customer visible", "incident"), ("work_notes", "first note", "incident")]
    shown = api.get(url(api, "incident", record["sys_id"]), params={
        "sysparm_display_value": "true", "sysparm_fields": "work_notes"}).json()["result"]["work_notes"]
    assert shown.endswith("System Administrator (Work notes)\nfirst note\n\n")


def test_correlation_id_and_input_display_values(api):
    record = create(api, "incident", short_description="corr", correlation_id="opsgate-123")
    found = api.get(url(api, "incident"), params={"sysparm_query": "correlation_id=opsgate-123"}).json()["result"]
    assert [r["sys_id"] for r in found] == [record["sys_id"]]
    labelled = api.post(url(api, "incident"), params={"sysparm_input_display_value": "true"},
                        json={"short_description": "labels", "state": "In Progress", "impact": "1 - High"})
    assert labelled.json()["result"]["state"] == "2" and labelled.json()["result"]["impact"] == "1"


def test_reference_written_by_display_value(api):
    record = create(api, "incident", short_description="ref", assignment_group="Network", caller_id="admin")
    assert record["assignment_group"]["value"] == group_id(api, "Network")
    assert record["caller_id"]["value"] == ADMIN_ID


# -- ACLs -----------------------------------------------------------------------------------------

def test_acls_by_role(sim):
    itil = requests.post(f"{sim.url}/api/now/table/incident", auth=("itil", "itil"), json={"short_description": "x"})
    assert itil.status_code == 201
    approver = requests.post(f"{sim.url}/api/now/table/incident", auth=("cab.approver", "cab"),
                             json={"short_description": "x"})
    assert approver.status_code == 403
    assert approver.json() == {"error": {"message": "Operation Failed", "detail":
                                         "ACL Exception Insert Failed due to security constraints"},
                               "status": "failure"}
    users = requests.post(f"{sim.url}/api/now/table/sys_user", auth=("itil", "itil"), json={"user_name": "x"})
    assert users.status_code == 403


# -- change state models and approvals -------------------------------------------------------------

def test_new_change_defaults(api):
    change = create(api, "change_request", short_description="defaults")
    assert (change["state"], change["type"], change["approval"], change["active"]) == (
        "-5", "normal", "not requested", "true")
    model = api.get(url(api, "chg_model", change["chg_model"]["value"])).json()["result"]
    assert model["name"] == "Normal"


def test_illegal_state_jump_is_aborted_by_business_rule(api):
    change = create(api, "change_request", short_description="jump")
    response = patch(api, "change_request", change["sys_id"], state="-1")
    assert response.status_code == 403
    assert response.json() == {"error": {"message": "Operation Failed", "detail": STATE_ABORT}, "status": "failure"}
    assert patch(api, "change_request", change["sys_id"], state="-4").status_code == 403  # needs a group


def test_normal_change_approval_flow(api, sim):
    change = create(api, "change_request", short_description="normal", assignment_group=group_id(api, "Network"))
    assess = patch(api, "change_request", change["sys_id"], state="-4").json()["result"]
    assert (assess["state"], assess["approval"]) == ("-4", "requested")
    pending = approvals(api, change["sys_id"])
    assert [(a["approver"], a["state"], a["source_table"]) for a in pending] == [
        (ADMIN_ID, "requested", "change_request")]
    assert patch(api, "change_request", change["sys_id"], state="-3").status_code == 403  # not approved yet
    assert patch(api, "sysapproval_approver", pending[0]["sys_id"], state="approved").status_code == 200
    authorize = api.get(url(api, "change_request", change["sys_id"])).json()["result"]
    assert (authorize["state"], authorize["approval"]) == ("-3", "requested")  # now the CAB's turn
    cab_pending = approvals(api, change["sys_id"], "requested")
    assert cab_pending and all(a["approver"] != pending[0]["approver"] or len(cab_pending) > 1 for a in cab_pending)
    assert patch(api, "sysapproval_approver", cab_pending[0]["sys_id"], state="approved").status_code == 200
    final = api.get(url(api, "change_request", change["sys_id"])).json()["result"]
    assert (final["state"], final["approval"]) == ("-2", "approved") and final["approval_set"]
    for state in ("-1", "0"):
        assert patch(api, "change_request", change["sys_id"], state=state).status_code == 200
    refused = patch(api, "change_request", change["sys_id"], state="3")
    assert refused.status_code == 403 and "Close code, Close notes" in refused.json()["error"]["detail"]
    closed = patch(api, "change_request", change["sys_id"], state="3", close_code="successful",
                   close_notes="done").json()["result"]
    assert closed["active"] == "false" and closed["closed_at"]


def test_rejection_returns_the_change_to_new(api):
    change = create(api, "change_request", short_description="reject", assignment_group=group_id(api, "CAB Approval"))
    patch(api, "change_request", change["sys_id"], state="-4")
    pending = approvals(api, change["sys_id"])
    cab = requests.patch(url(api, "sysapproval_approver", pending[0]["sys_id"]), auth=("cab.approver", "cab"),
                         json={"state": "rejected", "comments": "not now"})
    assert cab.status_code == 200
    final = api.get(url(api, "change_request", change["sys_id"])).json()["result"]
    assert (final["state"], final["approval"]) == ("-5", "rejected")
    again = patch(api, "change_request", change["sys_id"], state="-4").json()["result"]
    assert again["approval"] == "requested" and len(approvals(api, change["sys_id"], "requested")) == 1


def test_approvers_cannot_decide_other_peoples_approvals(api):
    change = create(api, "change_request", short_description="acl", assignment_group=group_id(api, "Network"))
    patch(api, "change_request", change["sys_id"], state="-4")
    admin_approval = approvals(api, change["sys_id"])[0]
    other = requests.patch(url(api, "sysapproval_approver", admin_approval["sys_id"]), auth=("cab.approver", "cab"),
                           json={"state": "approved"})
    assert other.status_code == 403


def test_emergency_change_requests_cab_approval_from_new(api):
    change = create(api, "change_request", short_description="emergency", type="emergency")
    assert patch(api, "change_request", change["sys_id"], state="-4").status_code == 403
    authorize = patch(api, "change_request", change["sys_id"], state="-3").json()["result"]
    assert authorize["approval"] == "requested"
    pending = approvals(api, change["sys_id"], "requested")
    cab_id = api.get(url(api, "sys_user"), params={"user_name": "cab.approver"}).json()["result"][0]["sys_id"]
    assert [a["approver"] for a in pending] == [cab_id]
    requests.patch(url(api, "sysapproval_approver", pending[0]["sys_id"]), auth=("cab.approver", "cab"),
                   json={"state": "approved"})
    final = api.get(url(api, "change_request", change["sys_id"])).json()["result"]
    assert (final["state"], final["approval"]) == ("-2", "approved")


def test_standard_change_copies_template_and_is_preapproved(api):
    template = api.get(url(api, "std_change_producer_version"), params={"name": "Patch Linux servers - 1"})
    template_id = template.json()["result"][0]["sys_id"]
    change = create(api, "change_request", std_change_producer_version=template_id, short_description="mine")
    assert change["type"] == "standard" and change["approval"] == "approved"
    assert change["short_description"] == "mine"
    assert change["description"] == "Apply the monthly OS patch bundle to Linux servers"
    assert change["risk"] == "4" and change["backout_plan"].startswith("Roll back")
    assert patch(api, "change_request", change["sys_id"], state="-4").status_code == 403
    assert patch(api, "change_request", change["sys_id"], state="-2").status_code == 200


def test_insert_straight_into_authorize_keeps_approval_not_requested(api):
    change = create(api, "change_request", short_description="direct", state="-3")
    assert (change["state"], change["approval"]) == ("-3", "not requested")
    assert approvals(api, change["sys_id"]) == []


def test_cancel_rules_and_cascading_delete(api):
    change = create(api, "change_request", short_description="cancel", assignment_group=group_id(api, "Network"))
    patch(api, "change_request", change["sys_id"], state="-4")
    cancelled = patch(api, "change_request", change["sys_id"], state="4").json()["result"]
    assert cancelled["active"] == "false"
    assert [a["state"] for a in approvals(api, change["sys_id"])] == ["cancelled"]
    assert patch(api, "change_request", change["sys_id"], state="-5").status_code == 403
    assert api.delete(url(api, "change_request", change["sys_id"])).status_code == 204
    assert approvals(api, change["sys_id"]) == []


# -- Change Management API ----------------------------------------------------------------------------

def chg(api, path=""):
    return f"{api.base}/api/sn_chg_rest/change{path}"


def test_change_api_create_and_typed_values(api):
    response = api.post(chg(api, "/normal"), json={"short_description": "typed", "hold_reason": "x",
                                                   "assignment_group": "Network"})
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["state"] == {"display_value": "New", "value": -5.0}
    assert result["active"] == {"display_value": "true", "value": True}
    assert set(result["opened_at"]) == {"display_value", "value", "display_value_internal"}
    assert result["__meta"] == {"ignoredFields": ["hold_reason"]}
    fetched = api.get(chg(api, f"/normal/{result['sys_id']['value']}")).json()["result"]
    assert fetched["number"]["value"] == result["number"]["value"]
    assert api.get(chg(api, f"/emergency/{result['sys_id']['value']}")).status_code == 404
    listing = api.get(chg(api, "/normal"), params={"sysparm_query": f"number={result['number']['value']}"})
    assert listing.headers["X-Total-Count"] == "1"


def test_change_api_state_errors_approvals_and_nextstates(api):
    created = api.post(chg(api), json={"type": "normal", "short_description": "chg api",
                                       "assignment_group": group_id(api, "Network")}).json()["result"]
    change_id = created["sys_id"]["value"]
    jump = api.patch(chg(api, f"/{change_id}"), json={"state": "-1"})
    assert jump.status_code == 400
    assert jump.json()["error"]["message"] == f"Change Request record could not be updated. {STATE_ABORT}"
    next_states = api.get(chg(api, f"/{change_id}/nextstates")).json()["result"]
    assert next_states["available_states"] == ["-4", "4"]
    api.patch(chg(api, f"/{change_id}"), json={"state": "-4"})
    assert len(api.get(chg(api, f"/{change_id}/approvals")).json()["result"]) == 1
    no_comment = api.patch(chg(api, f"/{change_id}/approvals"), json={"state": "rejected"})
    assert no_comment.status_code == 400
    not_mine = requests.patch(chg(api, f"/{change_id}/approvals"), auth=("cab.approver", "cab"),
                              json={"state": "approved"})
    assert not_mine.status_code == 400
    approved = api.patch(chg(api, f"/{change_id}/approvals"), json={"state": "approved", "comments": "ok"})
    assert approved.json()["result"]["state"]["value"] == -3.0  # technical approval done; the CAB decides next
    cab = requests.patch(chg(api, f"/{change_id}/approvals"), auth=("cab.approver", "cab"),
                         json={"state": "approved", "comments": "CAB ok"}, verify=api.verify)
    assert cab.json()["result"]["state"]["value"] == -2.0


def test_change_api_standard_templates_and_models(api):
    templates = api.get(chg(api, "/standard/template")).json()["result"]
    assert [t["name"]["value"] for t in templates] == ["Patch Linux servers"]
    models = {m["name"]["value"] for m in api.get(chg(api, "/model")).json()["result"]}
    assert models == {"Normal", "Standard", "Emergency"}
    created = api.post(chg(api, f"/standard/{templates[0]['sys_id']['value']}"),
                       json={"short_description": "from template", "test_plan": "mine"}).json()["result"]
    assert created["type"]["value"] == "standard" and created["short_description"]["value"] == "from template"
    assert created["test_plan"]["value"] == "Smoke-test the application health checks"
    assert created["__meta"]["ignoredFields"] == ["test_plan"]
    missing = api.post(chg(api, f"/standard/{'0' * 32}"), json={})
    assert missing.status_code == 404


def test_change_api_tasks_and_cis(api):
    change = api.post(chg(api, "/normal"), json={"short_description": "tasks"}).json()["result"]
    change_id = change["sys_id"]["value"]
    task = api.post(chg(api, f"/{change_id}/task"), json={"short_description": "step 1"}).json()["result"]
    assert task["number"]["value"].startswith("CTASK")
    assert len(api.get(chg(api, f"/{change_id}/task")).json()["result"]) == 1
    server = api.get(url(api, "cmdb_ci_server"), params={"sysparm_limit": "2"}).json()["result"]
    worker = api.post(chg(api, f"/{change_id}/ci"), json={
        "cmdb_ci_sys_ids": ",".join(s["sys_id"] for s in server), "association_type": "affected"})
    assert worker.status_code == 202
    assert {c["ci_item"]["value"] for c in api.get(chg(api, f"/{change_id}/ci")).json()["result"]} == {
        s["sys_id"] for s in server}


# -- schedules and conflicts -----------------------------------------------------------------------

def test_blackout_maintenance_and_overlap_conflicts(api):
    servers = api.get(url(api, "cmdb_ci_server"), params={
        "sysparm_query": "environment=Production^ORDERBYname", "sysparm_limit": "2"}).json()["result"]
    test_server = api.get(url(api, "cmdb_ci_server"), params={
        "environment": "Test", "sysparm_limit": "1"}).json()["result"][0]
    blackout = create(api, "cmn_schedule_blackout", name="Prod freeze", condition="environment=Production",
                      time_zone="Europe/Paris")
    create(api, "cmn_schedule_span", schedule=blackout["sys_id"], name="freeze",
           start_date_time="20301220T000000", end_date_time="20310105T000000")
    window = create(api, "cmn_schedule", name="Sunday window", type="maintenance")
    create(api, "cmn_schedule_span", schedule=window["sys_id"], name="sundays", start_date_time="20300106T020000",
           end_date_time="20300106T060000", repeat_type="weekly", days_of_week="7")
    patch(api, "cmdb_ci_server", test_server["sys_id"], maintenance_schedule=window["sys_id"])

    def change_on(ci, start, end):
        record = create(api, "change_request", short_description="conflict", cmdb_ci=ci, start_date=start,
                        end_date=end)
        api.post(chg(api, f"/{record['sys_id']}/conflict"))
        return api.get(chg(api, f"/{record['sys_id']}/conflict")).json()["result"]

    frozen = change_on(servers[0]["sys_id"], "2030-12-24 10:00:00", "2030-12-24 11:00:00")
    assert frozen["status"] == "Conflict" and [c["type"]["value"] for c in frozen["conflicts"]] == ["blackout"]
    clear_test = change_on(test_server["sys_id"], "2030-12-22 02:30:00", "2030-12-22 03:00:00")  # a Sunday
    assert clear_test["status"] == "No Conflict"
    outside = change_on(test_server["sys_id"], "2030-12-23 02:30:00", "2030-12-23 03:00:00")  # a Monday
    assert [c["type"]["value"] for c in outside["conflicts"]] == ["not_in_maintenance_window"]
    overlap = change_on(servers[1]["sys_id"], "2030-06-01 10:00:00", "2030-06-01 12:00:00")
    assert overlap["status"] == "No Conflict"
    second = change_on(servers[1]["sys_id"], "2030-06-01 11:00:00", "2030-06-01 13:00:00")
    assert [c["type"]["value"] for c in second["conflicts"]] == ["ci_already_scheduled"]
    rows = api.get(url(api, "conflict"), params={"type": "blackout", "sysparm_display_value": "true"}).json()["result"]
    assert rows and rows[0]["schedule"]["display_value"] == "Prod freeze"
