# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/approvals.py against the JSM simulator, Cloud and Data Center: the Approvals field read as
canonical approvals, decisions only by the assigned approver as themselves, comments kept, re-runs unchanged."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import approvals as jsm_approvals

from .conftest import create_issues, new_label

PLAN, REQUEST_APPROVAL = "11", "21"
DECISION_PATH = "/rest/servicedeskapi/request/"


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


def test_a_change_awaiting_the_cab_lists_its_approver_pending(client, approver_client):
    record = _awaiting(client)

    assert jsm_approvals.approvals(client, record) == [
        {"approver": _me(approver_client), "state": "requested", "comments": None, "stage": None, "decided_at": None}]


def test_the_assigned_approver_approves_with_comments_and_a_rerun_sends_nothing(jsm, client, approver_client):
    record = _awaiting(client)
    me = _me(approver_client)

    after = jsm_approvals.decide_approval(approver_client, record, me, "approved", "fine by me", False,
                                          _reader(approver_client, record))
    posts = jsm.request_count("POST", DECISION_PATH)
    again = jsm_approvals.decide_approval(approver_client, record, me, "approved", "fine by me", False,
                                          _reader(approver_client, record))

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
                                          _reader(approver_client, record))

    assert after["status"] == "Declined"
    assert [(a["state"], a["comments"]) for a in jsm_approvals.approvals(client, record)] == [
        ("rejected", "no rollback plan")]


def test_the_approver_can_be_named_by_e_mail(client, approver_client):
    record = _awaiting(client)

    jsm_approvals.decide_approval(approver_client, record, "CAB.Approver@opsgate.example", "approved", None, False,
                                  _reader(approver_client, record))

    assert [a["state"] for a in jsm_approvals.approvals(client, record)] == ["approved"]


def test_a_rejection_without_comments_is_refused_before_any_request(jsm, approver_client):
    before = jsm.request_count()
    with pytest.raises(ItsmValidationError) as error:
        jsm_approvals.decide_approval(approver_client, {"id": "1", "number": "ITSM-1"}, "cab.approver", "rejected",
                                      None, False, lambda: None)
    assert error.value.details["option"] == "comments"
    assert jsm.request_count() == before


def test_deciding_for_another_approver_is_refused_before_writing(jsm, client, approver_client):
    record = _awaiting(client)
    posts = jsm.request_count("POST", DECISION_PATH)

    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(client, record, _me(approver_client), "approved", None, False, lambda: None)

    assert "only an assigned approver" in error.value.message and error.value.details["option"] == "approver"
    assert jsm.request_count("POST", DECISION_PATH) == posts
    assert [a["state"] for a in jsm_approvals.approvals(client, record)] == ["requested"]


def test_someone_who_is_no_approver_is_refused_naming_the_state(client):
    record = _awaiting(client)
    with pytest.raises(ItsmTransitionError) as error:
        jsm_approvals.decide_approval(client, record, _me(client), "approved", None, False, lambda: None)
    assert "is not awaiting approval from" in error.value.message


def test_check_mode_predicts_the_outcome_and_writes_nothing(jsm, client, approver_client):
    record = _awaiting(client)
    posts = jsm.request_count("POST", DECISION_PATH)

    predicted = jsm_approvals.decide_approval(approver_client, record, _me(approver_client), "approved", "ok", True,
                                              lambda: None)

    assert (predicted["state"], predicted["approval"]) == ("scheduled", "approved")
    assert jsm.request_count("POST", DECISION_PATH) == posts
    assert client.get_property(record["id"], jsm_approvals.COMMENTS_PROPERTY) is None


def test_approvals_for_reads_many_changes_in_one_search_and_just_created_ones_too(jsm, client, approver_client):
    decided, waiting = _awaiting(client), _awaiting(client)
    untouched = create_issues(client, 1, new_label())[0]
    jsm_approvals.decide_approval(approver_client, decided, _me(approver_client), "approved", "go", False,
                                  lambda: None)
    searches = jsm.request_count("POST", "/rest/api/2/search")

    found = jsm_approvals.approvals_for(client, [decided["id"], waiting["id"], untouched["id"]])

    assert jsm.request_count("POST", "/rest/api/2/search") == searches + 1
    assert found == {decided["id"]: jsm_approvals.approvals(client, decided),
                     waiting["id"]: jsm_approvals.approvals(client, waiting), untouched["id"]: []}
    assert [a["comments"] for a in found[decided["id"]]] == ["go"]
    assert jsm_approvals.approvals_for(client, []) == {}
