"""Wire behaviour of the JSM simulator that jira-api.md specifies: error bodies, the two search generations,
eventual consistency, rate limits, caps, faults, authentication and persistence."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.simulators.jsm import harness
from tests.simulators.jsm.search import LEGACY_GONE


def _session(sim) -> requests.Session:
    session = requests.Session()
    if sim.cloud:
        session.auth = (sim.email, sim.token)
    else:
        session.headers["Authorization"] = f"Bearer {sim.pat}"
    session.verify = sim.cert
    return session


@pytest.fixture
def api(jsm):
    with _session(jsm) as session:
        yield session


@pytest.fixture
def cloud_api(jsm_cloud):
    with _session(jsm_cloud) as session:
        yield session


@pytest.fixture
def dc_api(jsm_dc):
    with _session(jsm_dc) as session:
        yield session


def _create(jsm, api, summary: str = "wire", kind: str = "Incident", **fields) -> dict:
    response = api.post(f"{jsm.url}/rest/api/2/issue", json={"fields": {
        "project": {"key": "ITSM"}, "issuetype": {"name": kind}, "summary": summary, **fields}})
    assert response.status_code == 201, response.text
    return response.json()


def _tag() -> str:
    return "w" + uuid.uuid4().hex[:10]


def test_error_bodies_have_the_platform_shape(jsm, api):
    missing = api.get(f"{jsm.url}/rest/api/2/issue/ITSM-999999")
    assert missing.status_code == 404
    assert missing.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                              "errors": {}}
    invalid = api.post(f"{jsm.url}/rest/api/2/issue", json={"fields": {"project": {"key": "ITSM"},
                                                                       "issuetype": {"name": "Change"}}})
    assert invalid.status_code == 400
    assert invalid.json() == {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}
    unknown = api.put(f"{jsm.url}/rest/api/2/issue/{_create(jsm, api)['key']}", json={"fields": {"status": "x"}})
    assert unknown.status_code == 400 and "status" in unknown.json()["errors"]


def test_nothing_is_written_when_a_create_fails(jsm, api):
    risk = next(f["id"] for f in api.get(f"{jsm.url}/rest/api/2/field").json() if f["name"] == "Change risk")
    before = api.get(f"{jsm.url}/rest/api/2/issue/{_create(jsm, api)['key']}").json()["id"]
    bad = api.post(f"{jsm.url}/rest/api/2/issue", json={"fields": {
        "project": {"key": "ITSM"}, "issuetype": {"name": "Change"}, "summary": "x", risk: {"value": "Extreme"}}})
    assert bad.status_code == 400 and bad.json()["errors"] == {risk: "Option value 'Extreme' is not valid"}
    assert int(_create(jsm, api)["id"]) == int(before) + 1


def test_custom_field_ids_differ_per_site_and_are_found_by_name(jsm_cloud_sim, jsm_dc_sim):
    cloud, dc = (sim.admin("GET", "site")["fields"] for sim in (jsm_cloud_sim, jsm_dc_sim))
    assert set(cloud) == set(dc) and "Change risk" in cloud
    assert cloud != dc


def test_legacy_search_answers_410_on_cloud_and_search_jql_is_cloud_only(jsm, api):
    for version in ("2", "3"):
        legacy = api.get(f"{jsm.url}/rest/api/{version}/search", params={"jql": "project = ITSM"})
        posted = api.post(f"{jsm.url}/rest/api/{version}/search", json={"jql": "project = ITSM"})
        enhanced = api.get(f"{jsm.url}/rest/api/{version}/search/jql", params={"jql": "project = ITSM"})
        if jsm.cloud:
            assert legacy.status_code == posted.status_code == 410
            assert legacy.json() == {"errorMessages": [LEGACY_GONE], "errors": {}}
            assert enhanced.status_code == 200
        else:
            assert legacy.status_code == posted.status_code == 200
            assert enhanced.status_code == 404


def test_cloud_search_jql_returns_ids_by_default_and_pages_by_token(jsm_cloud, cloud_api):
    jsm, api = jsm_cloud, cloud_api
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    ids = [_create(jsm, api, tag, labels=[tag])["id"] for _attempt in range(3)]
    url = f"{jsm.url}/rest/api/3/search/jql"
    first = api.get(url, params={"jql": f"labels = {tag} ORDER BY key ASC", "maxResults": 2}).json()
    assert first["issues"] == [{"id": ids[0]}, {"id": ids[1]}] and "total" not in first
    assert first["isLast"] is False and first["nextPageToken"]
    last = api.post(url, json={"jql": f"labels = {tag} ORDER BY key ASC", "maxResults": 2, "fields": ["summary"],
                               "nextPageToken": first["nextPageToken"]}).json()
    assert [i["id"] for i in last["issues"]] == ids[2:] and last["isLast"] is True and "nextPageToken" not in last
    assert last["issues"][0]["fields"] == {"summary": tag}
    for jql in ("", "ORDER BY created DESC"):
        refused = api.get(url, params={"jql": jql})
        assert refused.status_code == 400 and refused.json()["errorMessages"]
    stale = api.get(url, params={"jql": "project = ITSM", "nextPageToken": first["nextPageToken"]})
    assert stale.status_code == 400


def test_data_center_search_pages_by_start_at_with_total(jsm_dc, dc_api):
    jsm, api = jsm_dc, dc_api
    tag = _tag()
    keys = [_create(jsm, api, tag, labels=[tag])["key"] for _attempt in range(3)]
    body = api.get(f"{jsm.url}/rest/api/2/search", params={
        "jql": f"labels = {tag} ORDER BY key ASC", "startAt": 1, "maxResults": 1, "validateQuery": "True"}).json()
    assert (body["startAt"], body["maxResults"], body["total"]) == (1, 1, 3)
    assert [i["key"] for i in body["issues"]] == [keys[1]] and "summary" in body["issues"][0]["fields"]


def test_cloud_search_is_eventually_consistent_unless_reconciled(jsm_cloud, cloud_api):
    jsm, api = jsm_cloud, cloud_api
    jsm.admin("POST", "settings", {"index_lag": 1.0})
    tag = _tag()
    created = _create(jsm, api, tag, labels=[tag])
    url = f"{jsm.url}/rest/api/2/search/jql"
    assert api.get(url, params={"jql": f"labels = {tag}"}).json()["issues"] == []
    reconciled = api.get(url, params={"jql": f"labels = {tag}", "reconcileIssues": [created["id"]]}).json()
    assert reconciled["issues"] == [{"id": created["id"]}]
    time.sleep(1.1)
    assert api.get(url, params={"jql": f"labels = {tag}"}).json()["issues"] == [{"id": created["id"]}]


def test_data_center_search_sees_a_new_issue_at_once(jsm_dc, dc_api):
    tag = _tag()
    created = _create(jsm_dc, dc_api, tag, labels=[tag])
    body = dc_api.get(f"{jsm_dc.url}/rest/api/2/search", params={"jql": f"labels = {tag}"}).json()
    assert [i["id"] for i in body["issues"]] == [created["id"]]


def test_scoped_token_base_url_serves_the_same_site(jsm_cloud, cloud_api):
    cloud_id = cloud_api.get(f"{jsm_cloud.url}/_edge/tenant_info").json()["cloudId"]
    base = f"{jsm_cloud.url}/ex/jira/{cloud_id}"
    created = cloud_api.post(f"{base}/rest/api/2/issue", json={"fields": {
        "project": {"key": "ITSM"}, "issuetype": {"name": "Incident"}, "summary": "scoped"}}).json()
    assert created["self"].startswith(f"{base}/rest/api/2/issue/")
    assert cloud_api.get(created["self"]).json()["key"] == created["key"]


@pytest.mark.parametrize("jql,fragment", [
    ("project = ", "Error in the JQL Query"), ("project ITSM", "Error in the JQL Query"),
    ("nosuchfield = 1", "Field 'nosuchfield' does not exist"),
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
])
def test_jql_the_parser_cannot_accept_is_refused_with_400(jsm, api, jql, fragment):
    path = "search/jql" if jsm.cloud else "search"
    response = api.get(f"{jsm.url}/rest/api/2/{path}", params={"jql": jql})
    assert response.status_code == 400 and fragment in " ".join(response.json()["errorMessages"])


def test_jql_compares_issue_keys_by_number_and_refuses_a_value_that_is_no_key(jsm, api):
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    while int(_create(jsm, api, tag)["key"].rsplit("-", 1)[1]) < 10:
        pass  # keys of two digits at least: as text "ITSM-10" sorts before "ITSM-9"
    made = [_create(jsm, api, tag, labels=[tag])["key"] for _attempt in range(2)]
    path = "search/jql" if jsm.cloud else "search"

    def keys(jql: str) -> list[str]:
        body = api.get(f"{jsm.url}/rest/api/2/{path}", params={"jql": jql, "fields": "summary"}).json()
        return [i["key"] for i in body["issues"]]
    assert keys(f'labels = {tag} AND key > "ITSM-9" ORDER BY key ASC') == made  # by number, not as text
    assert keys(f'labels = {tag} AND key > {made[0]}') == [made[1]]
    assert keys(f'labels = {tag} AND key < {made[1]}') == [made[0]]
    refused = api.get(f"{jsm.url}/rest/api/2/{path}", params={"jql": 'key >= "CHG0000001"'})
    assert refused.status_code == 400 and "is invalid" in " ".join(refused.json()["errorMessages"])


def test_jql_in_lists_quoting_or_and_custom_fields_by_name(jsm, api):
    jsm.admin("POST", "settings", {"index_lag": 0})
    tag = _tag()
    fields = {f["name"]: f["id"] for f in api.get(f"{jsm.url}/rest/api/2/field").json()}
    change = _create(jsm, api, f"{tag} change", "Change", labels=[tag], **{fields["Change risk"]: {"value": "High"}})
    incident = _create(jsm, api, f"{tag} incident", labels=[tag])
    path = "search/jql" if jsm.cloud else "search"

    def keys(jql: str) -> list[str]:
        body = api.get(f"{jsm.url}/rest/api/2/{path}", params={"jql": jql, "fields": "summary"}).json()
        return [i["key"] for i in body["issues"]]
    assert keys(f'labels = {tag} AND "Change risk" = High') == [change["key"]]
    assert keys(f'labels = {tag} AND issuetype IN (Change, "Incident") ORDER BY key ASC') == [change["key"],
                                                                                              incident["key"]]
    either = keys(f'key = {incident["key"]} OR (labels = {tag} AND status = Open AND type = Change) '
                  'ORDER BY created ASC, key DESC')
    assert sorted(either) == sorted([change["key"], incident["key"]])
    number = fields["Change risk"].split("_")[1]
    assert keys(f"cf[{number}] = High AND labels = {tag}") == [change["key"]]


def _limited(response: requests.Response, reason: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["RateLimit-Reason"] == reason
    assert response.headers["Retry-After"].isdigit() and int(response.headers["Retry-After"]) >= 1


def test_each_rate_limit_reason(jsm, api):
    first, second = _create(jsm, api), _create(jsm, api)
    jsm.admin("POST", "limits", {"per_issue_write": {"limit": 2, "window_seconds": 60}})
    comment = f"{jsm.url}/rest/api/2/issue/{first['key']}/comment"
    assert [api.post(comment, json={"body": "x"}).status_code for _attempt in range(2)] == [201, 201]
    _limited(api.post(comment, json={"body": "x"}), "jira-per-issue-on-write")
    assert api.post(f"{jsm.url}/rest/api/2/issue/{second['key']}/comment", json={"body": "x"}).status_code == 201
    jsm.admin("DELETE", "limits")
    jsm.admin("POST", "limits", {"burst": {"limit": 2, "window_seconds": 60}})
    url = f"{jsm.url}/rest/api/2/issue/{first['key']}"
    assert [api.get(url).status_code for _attempt in range(2)] == [200, 200]
    _limited(api.get(url), "jira-burst-based")
    assert api.get(f"{jsm.url}/rest/api/2/field").status_code == 200  # another endpoint has its own budget
    jsm.admin("DELETE", "limits")
    jsm.admin("POST", "limits", {"quota": {"limit": 3, "window_seconds": 3600}})
    assert [api.get(url).status_code for _attempt in range(3)] == [200] * 3
    quota = api.get(f"{jsm.url}/rest/api/2/field")
    _limited(quota, "jira-quota-global-based")
    headers = ("X-RateLimit-Reset",) if jsm.cloud else ("X-RateLimit-FillRate", "X-RateLimit-Interval-Seconds")
    assert all(name in quota.headers for name in headers)


def test_rate_limit_fault_names_the_reason(jsm, api):
    jsm.admin("POST", "faults", {"kind": "rate_limit", "reason": "per_issue_write", "retry_after": 3, "count": 1})
    response = api.get(f"{jsm.url}/rest/api/2/field")
    _limited(response, "jira-per-issue-on-write")
    assert response.headers["Retry-After"] == "3"
    assert response.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
    assert api.get(f"{jsm.url}/rest/api/2/field").status_code == 200


def test_comment_cap_per_issue(jsm, api):
    jsm.admin("POST", "settings", {"comment_cap": 2})
    key = _create(jsm, api)["key"]
    url = f"{jsm.url}/rest/api/2/issue/{key}/comment"
    assert [api.post(url, json={"body": f"c{n}"}).status_code for n in range(2)] == [201, 201]
    capped = api.post(url, json={"body": "c3"})
    assert capped.status_code == 413 and "limit of 2 comments" in capped.json()["errorMessages"][0]
    desk = api.post(f"{jsm.url}/rest/servicedeskapi/request/{key}/comment", json={"body": "c4", "public": True})
    assert desk.status_code == 413 and "errorMessage" in desk.json()
    assert api.get(url).json()["total"] == 2


def test_faults_5xx_burst_reset_and_slow(jsm, api):
    url = f"{jsm.url}/rest/api/2/field"
    jsm.admin("POST", "faults", {"kind": "503", "count": 2, "path": "/rest/api/2/field"})
    assert [api.get(url).status_code for _attempt in range(3)] == [503, 503, 200]
    jsm.admin("POST", "faults", {"kind": "reset", "count": 1})
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        api.get(url)
    jsm.admin("POST", "faults", {"kind": "slow", "delay_ms": 300, "count": 1})
    started = time.monotonic()
    assert api.get(url).status_code == 200 and time.monotonic() - started >= 0.3
    assert jsm.request_count(path="/rest/api/2/field") == 5


def test_authentication_per_flavour(jsm):
    info = requests.get(f"{jsm.url}/rest/api/2/serverInfo", verify=jsm.cert)
    assert info.status_code == 200
    anonymous = requests.get(f"{jsm.url}/rest/api/2/field", verify=jsm.cert)
    assert anonymous.status_code == 401 and anonymous.json()["errorMessages"]
    bad = requests.get(f"{jsm.url}/rest/api/2/field", auth=("admin", "wrong"), verify=jsm.cert)
    assert bad.status_code == 401
    basic = requests.get(f"{jsm.url}/rest/api/2/myself", auth=("admin", "admin-token"), verify=jsm.cert)
    assert basic.status_code == 200
    bearer = requests.get(f"{jsm.url}/rest/api/2/myself", headers={"Authorization": f"Bearer {jsm.pat}"},
                          verify=jsm.cert)
    if jsm.cloud:
        assert bearer.status_code == 401 and "accountId" in basic.json()
    else:
        assert bearer.status_code == 200 and bearer.json()["name"] == "admin"
        assert bad.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED" and bad.content == b""


def test_v3_carries_atlassian_documents(jsm, api):
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text",
                                                                                       "text": "adf body"}]}]}
    created = api.post(f"{jsm.url}/rest/api/3/issue", json={"fields": {
        "project": {"key": "ITSM"}, "issuetype": {"name": "Incident"}, "summary": "v3", "description": doc}})
    assert created.status_code == 201 and "/rest/api/3/issue/" in created.json()["self"]
    assert api.get(created.json()["self"]).json()["fields"]["description"] == doc
    assert api.get(f"{jsm.url}/rest/api/2/issue/{created.json()['key']}").json()["fields"]["description"] == \
        "adf body"
    plain = api.post(f"{jsm.url}/rest/api/3/issue/{created.json()['key']}/comment", json={"body": "plain"})
    assert plain.status_code == 400 and "comment" in plain.json()["errors"]


def test_service_desk_lists_page_with_links_and_request_status(jsm, api):
    types = api.get(f"{jsm.url}/rest/servicedeskapi/servicedesk/1/requesttype", params={"limit": 1}).json()
    assert (types["size"], types["start"], types["limit"], types["isLastPage"]) == (1, 0, 1, False)
    assert "next" in types["_links"] and "prev" not in types["_links"]
    fields = api.get(f"{jsm.url}/rest/servicedeskapi/servicedesk/1/requesttype/10/field").json()
    by_name = {f["name"]: f for f in fields["requestTypeFields"]}
    assert by_name["Summary"]["required"] is True
    assert [v["label"] for v in by_name["Change risk"]["validValues"]] == ["Critical", "High", "Medium", "Low"]
    created = api.post(f"{jsm.url}/rest/servicedeskapi/request", json={
        "serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": {"summary": "portal incident"}})
    assert created.status_code == 201 and created.json()["issueKey"].startswith("ITSM-")
    key = created.json()["issueKey"]
    api.post(f"{jsm.url}/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "111"}, "fields": {}})
    history = api.get(f"{jsm.url}/rest/servicedeskapi/request/{key}/status").json()["values"]
    assert [h["status"] for h in history] == ["Work in progress", "Open"]
    missing = api.post(f"{jsm.url}/rest/servicedeskapi/request", json={
        "serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": {"description": "no summary"}})
    assert missing.status_code == 400 and "Summary" in missing.json()["errorMessage"]


def test_assets_aql_paging_attributes_and_create(jsm, api):
    base = (f"{jsm.url}/jsm/assets/workspace/{jsm.admin('GET', 'site')['workspace']}/v1" if jsm.cloud
            else f"{jsm.url}/rest/insight/1.0")

    def aql(query: str, start: int, size: int) -> tuple[list, int]:
        if jsm.cloud:
            body = api.post(f"{base}/object/aql", params={"startAt": start, "maxResults": size},
                            json={"qlQuery": query}).json()
            return body["values"], body["total"]
        body = api.get(f"{base}/aql/objects", params={"qlQuery": query, "page": start // size + 1,
                                                      "resultPerPage": size}).json()
        return body["objectEntries"], body["totalFilterCount"]
    page, total = aql('objectType = Server AND Environment = "Production" ORDER BY Name ASC', 10, 10)
    assert total == 60 and len(page) == 10
    names = [o["label"] for o in page]
    assert names == sorted(names) and all(n[3] == "p" for n in names)
    attrs = {a["objectTypeAttributeId"]: a["objectAttributeValues"][0]["value"] for a in page[0]["attributes"]}
    assert "Production" in attrs.values()
    services, total = aql("objectType = Service", 0, 50)
    assert total == 5 and {s["label"] for s in services} >= {"Email", "Payroll"}
    kind = next(t for t in api.get(f"{base}/objectschema/1/objecttypes/flat").json() if t["name"] == "Server")
    name_attr = next(a for a in api.get(f"{base}/objecttype/{kind['id']}/attributes").json() if a["name"] == "Name")
    created = api.post(f"{base}/object/create", json={"objectTypeId": kind["id"], "attributes": [
        {"objectTypeAttributeId": name_attr["id"], "objectAttributeValues": [{"value": "newhost01"}]}]})
    assert created.status_code == 201
    assert [o["objectKey"] for o in aql('Name = "newhost01"', 0, 5)[0]] == [created.json()["objectKey"]]
    bad = api.post(f"{base}/object/aql", json={"qlQuery": "Name = "}) if jsm.cloud else api.get(
        f"{base}/aql/objects", params={"qlQuery": "Name = "})
    assert bad.status_code == 400


def test_data_survives_a_restart_on_the_same_state_dir(tmp_path):
    sim = harness.start(str(tmp_path / "jsm"), flavour="datacenter", plain_http=True)
    try:
        auth = ("admin", "admin-token")
        key = requests.post(f"{sim.url}/rest/api/2/issue", auth=auth, json={"fields": {
            "project": {"key": "ITSM"}, "issuetype": {"name": "Change"}, "summary": "persist"}}).json()["key"]
        fields = sim.admin("GET", "site")["fields"]
    finally:
        assert sim.stop() == 0
    again = harness.start(str(tmp_path / "jsm"), flavour="datacenter", plain_http=True)
    try:
        assert requests.get(f"{again.url}/rest/api/2/issue/{key}", auth=auth).json()["fields"]["summary"] == "persist"
        assert again.admin("GET", "site")["fields"] == fields
    finally:
        assert again.stop() == 0
