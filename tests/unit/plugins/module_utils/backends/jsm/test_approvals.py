# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/approvals.py against the JSM simulator, Cloud and Data Center: the Approvals field read as
canonical approvals, decisions only by the assigned approver as themselves, comments kept, re-runs unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import approvals as jsm_approvals
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm.mapping import load_mapping

from .conftest import create_issues, new_label

PLAN, REQUEST_APPROVAL = "11", "21"
DECISION_PATH = "/rest/servicedeskapi/request/"
CHANGE_MAPPING = load_mapping().of("change")


def _awaiting(client) -> dict:
    """A change in Authorize (the CAB's approval opened), as the canonical record the facade would hand over."""
    issue = create_issues(client, 1, new_label())[0]
    client.transition(issue["key"], PLAN)
    client.transition(issue["key"], REQUEST_APPROVAL)
    return {"id": issue["id"], "number": issue["key"], "type": "normal", "state": "authorize",
            "approval": "requested"}


@pytest.fixture
def approver_client(jsm, make_client):
    return make_client(jsm, username=jsm.approver[0], token=jsm.approver[1])


def _me(client) -> str:
    return jsm_approvals.user_id(client, client.myself())


def _reader(client, record):
    return lambda: dict(record, status=client.issue(record["id"], fields=("status",))["fields"]["status"]["name"])


def test_a_change_awaiting_the_cab_lists_its_approvers_pending(client, approver_client, make_client, jsm):
    record = _awaiting(client)
    chair = make_client(jsm, username="cab.chair", token="cab-chair-token")  # the CAB Approval group's other member

    assert sorted(jsm_approvals.approvals(client, record), key=lambda a: a["approver"]) == sorted(
        ({"approver": _me(member), "state": "requested", "comments": None, "stage": None, "decided_at": None}
         for member in (approver_client, chair)), key=lambda a: a["approver"])


def test_the_assigned_approver_approves_with_comments_and_a_rerun_sends_nothing(jsm, client, approver_client):
    record = _awaiting(client)
    me = _me(approver_client)

    after = jsm_approvals.decide_approval(approver_client, record, me, "approved", "fine by me", False,
                                          _reader(approver_client, record), CHANGE_MAPPING)
    posts = jsm.request_count("POST", DECISION_PATH)
    again = jsm_approvals.decide_approval(approver_client, record, me, "approved", "fine by me", False,
                                          _reader(approver_client, record), CHANGE_MAPPING)

    assert after["status"] == again["status"] == "Awaiting implementation"
    assert jsm.request_count("POST", DECISION_PATH) == posts  # decided already: nothing sent
    (listed,) = jsm_approvals.approvals(client, record)
    assert (listed["approver"], listed["state"], listed["comments"]) == (me, "approved", "fine by me")
    assert listed["decided_at"].endswith("Z")
    notes = [c["body"] for c in client.comments(record["number"])]
    assert f"{me} approved Change approval: fine by me" in notes


def test_a_rejection_is_recorded_with_its_reason_and_declines_the_change(client, approver_client):
    record = _awaiting(client)
    me = _me(approver_client)

    after = jsm_approvals.decide_approval(approver_client, record, me, "rejected", "no rollback plan", False,
                                          _reader(approver_client, record), CHANGE_MAPPING)

    assert after["status"] == "Declined"
    assert [(a["state"], a["comments"]) for a in jsm_approvals.approvals(client, record)] == [
        ("rejected", "no rollback plan")]


def test_the_approver_can_be_named_by_e_mail(client, approver_client):
    record = _awaiting(client)

    jsm_approvals.decide_approval(approver_client, record, "CAB.Approver@opsgate.example", "approved", None, False,
                                  _reader(approver_client, record), CHANGE_MAPPING)

    assert [a["state"] for a in jsm_approvals.approvals(client, record)] == ["approved"]


def test_a_rejection_without_comments_is_refused_before_any_request(jsm, approver_client):
    before = jsm.request_count()
    with pytest.raises(ItsmValidationError) as error:
        jsm_approvals.decide_approval(approver_client, {"id": "1", "number": "ITSM-1"}, "cab.approver", "rejected",
                                      None, False, lambda: None, CHANGE_MAPPING)
    assert error.value.details["option"] == "comments"
    assert jsm.request_count() == before


def test_deciding_for_another_approver_is_refused_before_writing(jsm, client, approver_client):
    record = _awaiting(client)
    posts = jsm.request_count("POST", DECISION_PATH)

    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(client, record, _me(approver_client), "approved", None, False, lambda: None, CHANGE_MAPPING)

    assert "only an assigned approver" in error.value.message and error.value.details["option"] == "approver"
    assert jsm.request_count("POST", DECISION_PATH) == posts
    assert [a["state"] for a in jsm_approvals.approvals(client, record)] == ["requested", "requested"]


def test_someone_who_is_no_approver_is_refused_naming_the_state(client):
    record = _awaiting(client)
    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(client, record, _me(client), "approved", None, False, lambda: None, CHANGE_MAPPING)
    assert "is not awaiting approval from" in error.value.message


def test_check_mode_predicts_the_outcome_and_writes_nothing(jsm, client, approver_client):
    record = _awaiting(client)
    posts = jsm.request_count("POST", DECISION_PATH)

    predicted = jsm_approvals.decide_approval(approver_client, record, _me(approver_client), "approved", "ok", True,
                                              lambda: None, CHANGE_MAPPING)

    assert (predicted["state"], predicted["approval"]) == ("scheduled", "approved")
    assert jsm.request_count("POST", DECISION_PATH) == posts
    assert client.get_property(record["id"], jsm_approvals.COMMENTS_PROPERTY) is None


def test_approvals_for_reads_many_changes_in_one_search_and_just_created_ones_too(jsm, client, approver_client):
    decided, waiting = _awaiting(client), _awaiting(client)
    untouched = create_issues(client, 1, new_label())[0]
    jsm_approvals.decide_approval(approver_client, decided, _me(approver_client), "approved", "go", False,
                                  lambda: None, CHANGE_MAPPING)
    searches = jsm.request_count("POST", "/rest/api/2/search")

    found = jsm_approvals.approvals_for(client, [decided["id"], waiting["id"], untouched["id"]])

    assert jsm.request_count("POST", "/rest/api/2/search") == searches + 1
    assert found == {decided["id"]: jsm_approvals.approvals(client, decided),
                     waiting["id"]: jsm_approvals.approvals(client, waiting), untouched["id"]: []}
    assert [a["comments"] for a in found[decided["id"]]] == ["go"]
    assert jsm_approvals.approvals_for(client, []) == {}


# -- the technical (first) stage: a change in assess, decided by the workflow's transition -------------------------

TRANSITION_PATH = "/transitions"


def _assessing(client) -> dict:
    """A normal change in Planning (assess), awaiting its technical approval."""
    issue = create_issues(client, 1, new_label())[0]
    client.transition(issue["key"], PLAN)
    return {"id": issue["id"], "number": issue["key"], "type": "normal", "state": "assess", "approval": "requested"}


@pytest.fixture
def tech_lead(jsm, make_client):
    return make_client(jsm, username="tech.lead", token="tech-lead-token")


def test_the_technical_approval_requests_the_cabs_and_is_listed_before_it(jsm, client, tech_lead):
    """Named by the login it connects with (Cloud answers with no user name), the approver takes Request approval;
    the decision is listed first, the CAB step's approvers after it; a re-run sends nothing."""
    record = _assessing(client)

    after = jsm_approvals.decide_approval(tech_lead, record, "tech.lead", "approved", "tested on staging", False,
                                          _reader(tech_lead, record), CHANGE_MAPPING)
    moves = jsm.request_count("POST", TRANSITION_PATH)
    again = jsm_approvals.decide_approval(tech_lead, dict(record, state="authorize"), "tech.lead", "approved",
                                          "tested on staging", False, _reader(tech_lead, record), CHANGE_MAPPING)

    assert after["status"] == again["status"] == "Authorize"
    assert jsm.request_count("POST", TRANSITION_PATH) == moves
    listed = jsm_approvals.approvals(client, record)
    assert [(a["approver"], a["state"], a["comments"]) for a in listed][0] == (
        _me(tech_lead), "approved", "tested on staging")
    assert listed[0]["decided_at"].endswith("Z") and listed[0]["stage"] == "assess"
    assert [a["state"] for a in listed[1:]] == ["requested", "requested"]  # the CAB Approval group, asked now
    notes = [(c["body"], c["properties"]) for c in client.comments(record["number"])]
    assert any(body == "tech.lead approved the technical approval: tested on staging" for body, _props in notes)


def test_the_technical_rejection_sends_the_change_back_to_open(client, tech_lead):
    record = _assessing(client)

    after = jsm_approvals.decide_approval(tech_lead, record, "tech.lead", "rejected", "no backout plan", False,
                                          _reader(tech_lead, record), CHANGE_MAPPING)

    assert after["status"] == "Open"
    assert [(a["state"], a["comments"]) for a in jsm_approvals.approvals(client, record)] == [
        ("rejected", "no backout plan")]


def test_a_technical_decision_for_someone_else_is_refused_before_writing(jsm, client):
    record = _assessing(client)
    before = jsm.request_count("POST") + jsm.request_count("PUT")

    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(client, record, "tech.lead", "approved", None, False, lambda: None,
                                      CHANGE_MAPPING)

    assert "connect as tech.lead" in error.value.message and error.value.details["option"] == "approver"
    assert jsm.request_count("POST") + jsm.request_count("PUT") == before
    assert client.status(record["id"])["name"] == "Planning"


def test_a_workflow_with_no_way_back_refuses_the_technical_rejection_before_writing(jsm, tech_lead):
    record = _assessing(tech_lead)
    mapping = dataclasses.replace(CHANGE_MAPPING, statuses={**CHANGE_MAPPING.statuses, "new": ("Draft",)})
    before = jsm.request_count("POST") + jsm.request_count("PUT")

    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(tech_lead, record, "tech.lead", "rejected", "no", False, lambda: None, mapping)

    assert "offers no transition from 'Planning' to new" in error.value.message
    assert "Request approval -> Authorize (authorize)" in error.value.message
    assert jsm.request_count("POST") + jsm.request_count("PUT") == before


def test_check_mode_predicts_the_technical_outcome_and_writes_nothing(jsm, client, tech_lead):
    record = _assessing(client)
    before = jsm.request_count("POST") + jsm.request_count("PUT")

    predicted = jsm_approvals.decide_approval(tech_lead, record, "tech.lead", "approved", "ok", True, lambda: None,
                                              CHANGE_MAPPING)

    assert (predicted["state"], predicted["approval"]) == ("authorize", "requested")
    assert jsm.request_count("POST") + jsm.request_count("PUT") == before
