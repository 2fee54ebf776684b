"""The ``jira`` client (pycontribs/jira 3.10), unmodified, against the JSM simulator, on Cloud and Data Center."""

from __future__ import annotations

import uuid

import pytest
from jira import JIRA, JIRAError
from urllib3 import encode_multipart_formdata


def _client(sim, user: str = "admin") -> JIRA:
    secrets = {"admin": (sim.email, sim.token, sim.pat),
               "cab.approver": ("cab.approver@opsgate.example", "cab-token", "cab-pat")}
    email, token, pat = secrets[user]
    if sim.cloud:
        return JIRA(server=sim.url, basic_auth=(email, token), options={"verify": sim.cert})
    return JIRA(server=sim.url, token_auth=pat, options={"verify": sim.cert})


@pytest.fixture
def client(jsm):
    jira = _client(jsm)
    yield jira
    jira.close()


def _tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


def _field_id(jira: JIRA, name: str) -> str:
    return next(f["id"] for f in jira.fields() if f["name"] == name)


def test_constructor_reads_server_info_and_flavour(jsm, client):
    info = client.server_info()
    assert info["deploymentType"] == ("Cloud" if jsm.cloud else "Server")
    assert client._is_cloud is jsm.cloud
    assert isinstance(info["versionNumbers"], list) and all(isinstance(n, int) for n in info["versionNumbers"])


def test_create_get_update_round_trip_with_custom_field_found_by_name(client):
    issue = client.create_issue(project="ITSM", summary="client round trip", issuetype={"name": "Change"},
                                description="first")
    assert issue.key.startswith("ITSM-") and issue.fields.status.name == "Open"
    assert issue.fields.issuetype.name == "Change" and issue.fields.project.key == "ITSM"
    risk = _field_id(client, "Change risk")
    issue.update(summary="renamed", fields={"labels": ["opsgate"], risk: {"value": "High"}})
    again = client.issue(issue.key)
    assert again.fields.summary == "renamed" and again.fields.labels == ["opsgate"]
    assert getattr(again.fields, risk).value == "High"
    assert again.fields.description == "first"


def test_update_with_a_list_keyword_is_refused_as_jira_refuses_bare_update_values(client):
    # The client turns list keywords into {"update": {"labels": ["x"]}}, which is not a list of operations.
    issue = client.create_issue(project="ITSM", summary="bare update", issuetype={"name": "Change"})
    with pytest.raises(JIRAError) as caught:
        issue.update(labels=["x"])
    assert caught.value.status_code == 400 and "FieldOperation" in caught.value.text
    issue.add_field_value("labels", "x")
    assert client.issue(issue.key).fields.labels == ["x"]


def test_create_issue_with_issuetype_given_as_a_name_string(client):
    issue = client.create_issue(project="ITSM", summary="by name", issuetype="Incident")
    assert issue.fields.issuetype.name == "Incident"


def test_transitions_by_name_and_by_numeric_id_with_comment(client):
    issue = client.create_issue(project="ITSM", summary="incident flow", issuetype={"name": "Incident"})
    names = {t["name"] for t in client.transitions(issue)}
    assert names == {"Start work", "Pending", "Resolve", "Cancel"}
    client.transition_issue(issue, "start work")
    assert client.issue(issue.key).fields.status.name == "Work in progress"
    resolve = next(t["id"] for t in client.transitions(issue) if t["name"] == "Resolve")
    client.transition_issue(issue, int(resolve), comment="fixed by restart")
    done = client.issue(issue.key)
    assert done.fields.status.name == "Resolved" and done.fields.resolution.name == "Done"
    assert done.fields.status.statusCategory.key == "done"
    assert [c.body for c in client.comments(issue)] == ["fixed by restart"]


def test_transition_to_an_unavailable_name_raises(client):
    issue = client.create_issue(project="ITSM", summary="no such", issuetype={"name": "Incident"})
    with pytest.raises(JIRAError):
        client.transition_issue(issue, "Complete")
    with pytest.raises(JIRAError) as caught:
        client.transition_issue(issue, 51)
    assert caught.value.status_code == 400 and "Transition id '51' is not valid" in caught.value.text


def test_add_comment_internal_and_public(jsm, client):
    issue = client.create_issue(project="ITSM", summary="comments", issuetype={"name": "Incident"})
    internal = client.add_comment(issue, "work note", is_internal=True)
    public = client.add_comment(issue, "customer reply")
    assert internal.raw["jsdPublic"] is False and public.raw["jsdPublic"] is True
    desk = client._session.get(f"{jsm.url}/rest/servicedeskapi/request/{issue.key}/comment").json()
    assert [(c["body"], c["public"]) for c in desk["values"]] == [("work note", False), ("customer reply", True)]
    only_public = client._session.get(f"{jsm.url}/rest/servicedeskapi/request/{issue.key}/comment",
                                      params={"internal": "false"}).json()
    assert [c["body"] for c in only_public["values"]] == ["customer reply"]


def test_search_issues_with_order_and_total(jsm, client):
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    keys = [client.create_issue(project="ITSM", summary=f"{tag} {n}", issuetype={"name": "Incident"},
                                labels=[tag]).key for n in range(3)]
    found = client.search_issues(f"project = ITSM AND labels = {tag} ORDER BY key ASC")
    assert [i.key for i in found] == keys
    assert found[0].fields.summary == f"{tag} 0"
    if jsm.cloud:
        assert found.total is None or found.total == 3
    else:
        assert found.total == 3
    paged = client.search_issues(f"labels = {tag} ORDER BY key DESC", maxResults=False)
    assert [i.key for i in paged] == keys[::-1]


def test_search_issues_follows_the_flavours_pagination(jsm, client):
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    keys = [client.create_issue(project="ITSM", summary=tag, issuetype={"name": "Incident"}, labels=[tag]).key
            for _attempt in range(5)]
    if jsm.cloud:
        first = client.enhanced_search_issues(f"labels = {tag} ORDER BY key ASC", maxResults=2)
        assert [i.key for i in first] == keys[:2] and first.nextPageToken
        second = client.enhanced_search_issues(f"labels = {tag} ORDER BY key ASC", maxResults=2,
                                               nextPageToken=first.nextPageToken)
        assert [i.key for i in second] == keys[2:4]
        with pytest.raises(JIRAError):
            client.search_issues(f"labels = {tag}", startAt=2)
    else:
        page = client.search_issues(f"labels = {tag} ORDER BY key ASC", startAt=2, maxResults=2)
        assert [i.key for i in page] == keys[2:4] and page.total == 5 and page.startAt == 2


def test_issue_property_is_searchable(jsm, client):
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    issue = client.create_issue(project="ITSM", summary="property", issuetype={"name": "Change"})
    client.add_issue_property(issue, "opsgate", {"correlation": tag, "count": 2})
    assert client.issue_property(issue.key, "opsgate").value.correlation == tag
    found = client.search_issues(f'issue.property[opsgate].correlation = "{tag}"')
    assert [i.key for i in found] == [issue.key]
    assert not client.search_issues('project = ITSM AND issue.property[opsgate].correlation = "absent"')


def test_service_desk_methods_and_customer_request(jsm, client):
    assert client.supports_service_desk()
    desks = client.service_desks()
    assert [d.projectKey for d in desks] == ["ITSM"]
    names = [t.name for t in client.request_types(desks[0])]
    assert names == ["Request a change", "Report an incident", "Investigate a problem"]
    risk = _field_id(client, "Change risk")
    issue = client.create_customer_request(fields={
        "serviceDeskId": desks[0].id, "requestTypeId": "Request a change",
        "requestFieldValues": {"summary": "via portal", "description": "d", risk: {"value": "Low"}}})
    assert issue.fields.summary == "via portal" and issue.fields.issuetype.name == "Change"
    assert getattr(issue.fields, risk).value == "Low"
    request = client._session.get(f"{jsm.url}/rest/servicedeskapi/request/{issue.key}").json()
    assert request["issueKey"] == issue.key and request["currentStatus"]["status"] == "Open"
    assert request["currentStatus"]["statusCategory"] == "NEW"


def test_approval_only_by_the_assigned_approver(jsm, client):
    issue = client.create_issue(project="ITSM", summary="needs CAB", issuetype={"name": "Change"})
    client.transition_issue(issue, "Plan")
    client.transition_issue(issue, "Request approval")
    assert client.issue(issue.key).fields.status.name == "Authorize"
    assert [t["name"] for t in client.transitions(issue)] == ["Cancel"]
    url = f"{jsm.url}/rest/servicedeskapi/request/{issue.key}/approval"
    approvals = client._session.get(url).json()["values"]
    assert len(approvals) == 1 and approvals[0]["finalDecision"] == "pending"
    assert approvals[0]["canAnswerApproval"] is False
    approver = approvals[0]["approvers"][0]["approver"]
    assert approver["displayName"] == "CAB Approver"
    assert ("accountId" in approver) is jsm.cloud
    with pytest.raises(JIRAError) as caught:
        client._session.post(f"{url}/{approvals[0]['id']}", json={"decision": "approve"})
    assert caught.value.status_code == 403
    cab = _client(jsm, "cab.approver")
    decided = cab._session.post(f"{url}/{approvals[0]['id']}", json={"decision": "approve"}).json()
    assert decided["finalDecision"] == "approved" and "completedDate" in decided
    assert client.issue(issue.key).fields.status.name == "Awaiting implementation"
    with pytest.raises(JIRAError) as again:
        cab._session.post(f"{url}/{approvals[0]['id']}", json={"decision": "decline"})
    assert again.value.status_code == 400
    cab.close()


def test_declined_approval_moves_the_change_to_declined(jsm, client):
    issue = client.create_issue(project="ITSM", summary="declined", issuetype={"name": "Change"})
    client.transition_issue(issue, "Plan")
    client.transition_issue(issue, "Request approval")
    cab = _client(jsm, "cab.approver")
    url = f"{jsm.url}/rest/servicedeskapi/request/{issue.key}/approval"
    approval = cab._session.get(url).json()["values"][0]
    assert approval["canAnswerApproval"] is True
    cab._session.post(f"{url}/{approval['id']}", json={"decision": "decline"})
    assert client.issue(issue.key).fields.status.name == "Declined"
    assert client.issue(issue.key).fields.resolution.name == "Declined"
    cab.close()


def test_add_attachment_uploads_reads_lists_and_deletes(jsm, client, tmp_path):
    issue = client.create_issue(project="ITSM", summary="attach", issuetype={"name": "Change"})
    path = tmp_path / "report.txt"
    path.write_bytes(b"all green\n")
    attachment = client.add_attachment(issue.key, str(path))  # multipart, X-Atlassian-Token: no-check
    # The client sends every part as application/octet-stream: the type comes from the file name.
    assert (attachment.filename, attachment.size, attachment.mimeType) == ("report.txt", 10, "text/plain")
    assert attachment.get() == b"all green\n"
    assert client.attachment(attachment.id).content == attachment.content
    assert [a.id for a in client.issue(issue.key).fields.attachment] == [attachment.id]
    body, multipart = encode_multipart_formdata({"file": ("x.txt", b"x", "text/plain")})
    with pytest.raises(JIRAError) as xsrf:  # without the XSRF opt-out (the client's default header) Jira refuses it
        client._session.post(f"{jsm.url}/rest/api/2/issue/{issue.key}/attachments", data=body,
                             headers={"Content-Type": multipart, "X-Atlassian-Token": None})
    assert xsrf.value.status_code == 403
    client.delete_attachment(attachment.id)
    assert client.issue(issue.key).fields.attachment == []


def test_error_text_the_client_builds_from_error_bodies(client):
    with pytest.raises(JIRAError) as missing:
        client.issue("ITSM-999999")
    assert missing.value.status_code == 404
    assert "Issue does not exist or you do not have permission to see it." in missing.value.text
    with pytest.raises(JIRAError) as invalid:
        client.create_issue(project="ITSM", summary="", issuetype={"name": "Change"})
    assert invalid.value.status_code == 400 and "You must specify a summary of the issue." in invalid.value.text
