"""Raw-HTTP checks of the ServiceNow simulator: envelopes, status codes, headers, query grammar,
authentication, attachments, batch, aggregate, TinyURL and fault injection."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import ssl
import time
import urllib.error

import pytest
import requests

from tests.simulators.servicenow import harness

ADMIN_ID = "6816f79cc0a8016401c5a33be04be441"
NOT_FOUND = {"error": {"message": "No Record found",
                       "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"}
UNAUTHENTICATED = {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
                   "status": "failure"}


def table(api, name, sys_id=""):
    return f"{api.base}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


def new_incident(api, **fields):
    response = api.post(table(api, "incident"), json={"short_description": "wire", **fields})
    assert response.status_code == 201
    return response.json()["result"]


@pytest.fixture(scope="module")
def servers(servicenow_sim):
    """Every seeded server (all fields) plus location names, for predicate-based query checks."""
    def get(name: str, **params: str) -> list[dict]:
        # verify= per request: a session-level verify loses to REQUESTS_CA_BUNDLE (servicenow-api.md §1)
        return requests.get(f"{servicenow_sim.url}/api/now/table/{name}", params=params, verify=servicenow_sim.cert,
                            auth=(servicenow_sim.username, servicenow_sim.password)).json()["result"]

    rows = get("cmdb_ci_server", sysparm_exclude_reference_link="true")
    locations = {r["sys_id"]: r for r in get("cmn_location")}
    rels = get("cmdb_rel_ci", sysparm_exclude_reference_link="true")
    return rows, locations, {r["child"] for r in rels}


# -- envelopes, values and headers ------------------------------------------------------------

def test_list_envelope_headers_and_string_values(api):
    response = api.get(table(api, "cmdb_ci_server"), params={"sysparm_limit": "3"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.headers["X-Total-Count"] == "200"
    body = response.json()
    assert set(body) == {"result"} and len(body["result"]) == 3
    for record in body["result"]:
        for value in record.values():
            assert isinstance(value, str) or set(value) == {"link", "value"}
    assert body["result"][0]["sys_class_name"] == "cmdb_ci_server"
    assert body["result"][0]["virtual"] in ("true", "false")


def test_single_record_and_missing_record(api):
    response = api.get(table(api, "sys_user", ADMIN_ID))
    assert response.status_code == 200
    assert response.json()["result"]["user_name"] == "admin"
    missing = api.get(table(api, "sys_user", "0" * 32))
    assert missing.status_code == 404 and missing.json() == NOT_FOUND


def test_empty_list_is_200_except_on_v1(api):
    unversioned = api.get(table(api, "incident"), params={"sysparm_query": "number=NOPE"})
    assert unversioned.status_code == 200 and unversioned.json() == {"result": []}
    assert unversioned.headers["X-Total-Count"] == "0"
    v2 = api.get(f"{api.base}/api/now/v2/table/incident", params={"number": "NOPE"})
    assert v2.status_code == 200
    v1 = api.get(f"{api.base}/api/now/v1/table/incident", params={"number": "NOPE"})
    assert v1.status_code == 404 and v1.json() == NOT_FOUND


@pytest.mark.parametrize("display, exclude, expected", [
    ("false", "false", {"link": "{base}/api/now/table/sys_user/" + ADMIN_ID, "value": ADMIN_ID}),
    ("false", "true", ADMIN_ID),
    ("true", "false", {"display_value": "System Administrator", "link": "{base}/api/now/table/sys_user/" + ADMIN_ID}),
    ("true", "true", "System Administrator"),
    ("all", "false", {"display_value": "System Administrator", "value": ADMIN_ID,
                      "link": "{base}/api/now/table/sys_user/" + ADMIN_ID}),
    ("all", "true", {"display_value": "System Administrator", "value": ADMIN_ID}),
])
def test_reference_field_shapes(api, display, exclude, expected):
    response = api.get(table(api, "sys_user_group"), params={
        "name": "Network", "sysparm_display_value": display, "sysparm_exclude_reference_link": exclude})
    manager = response.json()["result"][0]["manager"]
    if isinstance(expected, dict):
        expected = {k: v.replace("{base}", api.base) for k, v in expected.items()}
    assert manager == expected


def test_display_values_of_choices_classes_and_empty_references(api):
    record = api.get(table(api, "cmdb_ci_server"), params={
        "sysparm_limit": "1", "sysparm_display_value": "all", "sysparm_query": "ORDERBYname"}).json()["result"][0]
    assert record["sys_class_name"] == {"display_value": "Server", "value": "cmdb_ci_server"}
    assert record["install_status"]["display_value"] in ("Installed", "In Maintenance", "Retired")
    assert record["assigned_to"] == {"display_value": "", "value": ""}
    assert record["virtual"]["value"] in ("true", "false")


def test_boolean_parameters_are_case_insensitive(api):
    response = api.get(table(api, "sys_user_group"), params={
        "name": "Network", "sysparm_display_value": "True", "sysparm_exclude_reference_link": "TRUE"})
    assert response.json()["result"][0]["manager"] == "System Administrator"
    raw = api.get(table(api, "sys_user_group"), params={
        "name": "Network", "sysparm_display_value": "False", "sysparm_exclude_reference_link": "False"})
    assert raw.json()["result"][0]["manager"]["value"] == ADMIN_ID


def test_sysparm_fields_dot_walking_and_invalid_names(api):
    record = api.get(table(api, "cmdb_ci_server"), params={
        "sysparm_limit": "1", "sysparm_fields": "name,location.name,location.country,nonsense,support_group.name",
        "sysparm_query": "name=lnxp000001"}).json()["result"][0]
    assert record == {"name": "lnxp000001", "location.name": "Paris", "location.country": "FR",
                      "support_group.name": "Service Desk"}


def test_link_header_paging_and_suppression(api):
    response = api.get(table(api, "cmdb_ci_server"), params={"sysparm_limit": "50", "sysparm_offset": "50"})
    links = response.headers["Link"]
    assert 'rel="first"' in links and 'rel="prev"' in links and 'rel="next"' in links and 'rel="last"' in links
    assert "sysparm_offset=100" in links and "sysparm_offset=150" in links
    suppressed = api.get(table(api, "cmdb_ci_server"), params={
        "sysparm_limit": "50", "sysparm_suppress_pagination_header": "true"})
    assert "Link" not in suppressed.headers and suppressed.headers["X-Total-Count"] == "200"
    no_count = api.get(table(api, "cmdb_ci_server"), params={"sysparm_limit": "5", "sysparm_no_count": "true"})
    assert "X-Total-Count" not in no_count.headers and len(no_count.json()["result"]) == 5


def test_offset_paging_is_complete_and_stable(api):
    seen = []
    for offset in range(0, 200, 70):
        page = api.get(table(api, "cmdb_ci_server"), params={
            "sysparm_limit": "70", "sysparm_offset": str(offset), "sysparm_fields": "sys_id"}).json()["result"]
        seen += [r["sys_id"] for r in page]
    assert len(seen) == len(set(seen)) == 200


def test_bare_filters_accept_display_values(api):
    created = new_incident(api, caller_id=ADMIN_ID, assignment_group="Network")
    by_label = api.get(table(api, "incident"), params={"number": created["number"], "state": "new"}).json()["result"]
    assert [r["number"] for r in by_label] == [created["number"]]
    by_group = api.get(table(api, "incident"), params={"number": created["number"], "assignment_group": "Network"})
    assert len(by_group.json()["result"]) == 1
    by_user = api.get(table(api, "incident"), params={"number": created["number"], "caller_id": "admin"})
    assert len(by_user.json()["result"]) == 1
    wrong = api.get(table(api, "incident"), params={"number": created["number"], "state": "closed"})
    assert wrong.json()["result"] == []


# -- writes ----------------------------------------------------------------------------------

def test_write_status_codes_location_and_envelopes(api):
    body = {"short_description": "crud", "impact": 2, "urgency": 2, "active": True, "not_a_field": "x"}
    response = api.post(table(api, "incident"), json=body)
    assert response.status_code == 201
    record = response.json()["result"]
    assert response.headers["Location"] == table(api, "incident", record["sys_id"])
    assert record["impact"] == "2" and record["active"] == "true" and "not_a_field" not in record
    patched = api.patch(table(api, "incident", record["sys_id"]), json={"short_description": "patched"})
    assert patched.status_code == 200 and patched.json()["result"]["short_description"] == "patched"
    put = api.put(table(api, "incident", record["sys_id"]), json={"description": "put"})
    assert put.status_code == 200 and put.json()["result"]["short_description"] == "patched"
    deleted = api.delete(table(api, "incident", record["sys_id"]))
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.delete(table(api, "incident", record["sys_id"])).status_code == 404
    assert api.patch(table(api, "incident", record["sys_id"]), json={}).json() == NOT_FOUND


def test_write_responses_honour_display_parameters_and_ignore_read_ones(api):
    response = api.post(table(api, "incident"), params={
        "sysparm_display_value": "all", "sysparm_exclude_reference_link": "true", "sysparm_query": "number=NOPE",
        "sysparm_limit": "1", "sysparm_offset": "50"}, json={"short_description": "leaky", "caller_id": ADMIN_ID})
    assert response.status_code == 201
    assert response.json()["result"]["caller_id"] == {"display_value": "System Administrator", "value": ADMIN_ID}


def test_no_response_body_head_and_method_override(api):
    quiet = api.post(table(api, "incident"), json={"short_description": "quiet"},
                     headers={"X-no-response-body": "true"})
    assert quiet.status_code == 201 and quiet.content == b"" and quiet.headers["Location"]
    head = api.head(table(api, "sys_user"))
    assert head.status_code == 200 and head.content == b"" and head.headers["X-Total-Count"] == "3"
    sys_id = quiet.headers["Location"].rsplit("/", 1)[1]
    override = api.post(table(api, "incident", sys_id), json={"short_description": "overridden"},
                        headers={"X-HTTP-Method-Override": "PATCH"})
    assert override.status_code == 200 and override.json()["result"]["short_description"] == "overridden"


def test_error_bodies(api):
    invalid = api.get(table(api, "no_such_table"))
    assert invalid.status_code == 400
    assert invalid.json() == {"error": {"message": "Invalid table no_such_table", "detail": None}, "status": "failure"}
    unknown = api.get(f"{api.base}/api/now/nothing/here")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Requested URI does not represent any resource"
    bad_json = api.post(table(api, "incident"), data="{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["status"] == "failure"
    no_id = api.patch(table(api, "incident"), json={})
    assert no_id.status_code == 405


def test_table_inheritance(api, servers):
    rows = servers[0]
    everything = api.get(table(api, "cmdb_ci"), params={"sysparm_limit": "1"})
    assert everything.headers["X-Total-Count"] == "205"  # 200 servers + 5 business services
    server_id = rows[0]["sys_id"]
    via_parent = api.get(table(api, "cmdb_ci", server_id)).json()["result"]
    assert via_parent["sys_class_name"] == "cmdb_ci_server" and "os" not in via_parent
    service = api.get(table(api, "cmdb_ci_service"), params={"sysparm_limit": "1"}).json()["result"][0]
    assert api.get(table(api, "cmdb_ci_server", service["sys_id"])).status_code == 404


# -- encoded query grammar ---------------------------------------------------------------------

def _ram(row):
    return int(row["ram"])


QUERIES = [
    ("environment=Production", lambda r, loc, rel: r["environment"] == "Production"),
    ("environment=production", lambda r, loc, rel: r["environment"] == "Production"),
    ("environment!=Production", lambda r, loc, rel: r["environment"] != "Production"),
    ("nameSTARTSWITHwin", lambda r, loc, rel: r["name"].startswith("win")),
    ("nameENDSWITH07", lambda r, loc, rel: r["name"].endswith("07")),
    ("nameLIKEp0001", lambda r, loc, rel: "p0001" in r["name"]),
    ("nameNOT LIKEp00", lambda r, loc, rel: "p00" not in r["name"]),
    ("nameLIKE_", lambda r, loc, rel: "_" in r["name"]),
    ("osINLinux Red Hat,Linux SuSE", lambda r, loc, rel: r["os"] in ("Linux Red Hat", "Linux SuSE")),
    ("osNOT INLinux Red Hat,Linux SuSE", lambda r, loc, rel: r["os"] not in ("Linux Red Hat", "Linux SuSE")),
    ("install_status=3^ORinstall_status=7", lambda r, loc, rel: r["install_status"] in ("3", "7")),
    ("ram>16384", lambda r, loc, rel: _ram(r) > 16384),
    ("ram<=16384", lambda r, loc, rel: _ram(r) <= 16384),
    ("ramBETWEEN10000@30000", lambda r, loc, rel: 10000 <= _ram(r) <= 30000),
    ("assigned_toISEMPTY", lambda r, loc, rel: True),
    ("assigned_toISNOTEMPTY", lambda r, loc, rel: False),
    ("assigned_to!=" + ADMIN_ID, lambda r, loc, rel: False),  # != never matches empty values
    ("virtual!=true", lambda r, loc, rel: r["virtual"] != "true"),
    ("location.name=Paris", lambda r, loc, rel: loc[r["location"]]["name"] == "Paris"),
    ("location.country=US^environment=Test",
     lambda r, loc, rel: loc[r["location"]]["country"] == "US" and r["environment"] == "Test"),
    ("environment=Test^NQenvironment=Development^osLIKEWindows",
     lambda r, loc, rel: r["environment"] == "Test" or (r["environment"] == "Development" and "Windows" in r["os"])),
    ("environment=Production^os=Linux Ubuntu^ORos=Linux SuSE",
     lambda r, loc, rel: r["environment"] == "Production" and r["os"] in ("Linux Ubuntu", "Linux SuSE")),
    ("bogus_field=1^environment=Test", lambda r, loc, rel: r["environment"] == "Test"),
    ("bogus_field=1", lambda r, loc, rel: True),
    ("sys_class_nameINSTANCEOFcmdb_ci_computer", lambda r, loc, rel: True),
    ("sys_class_nameINSTANCEOFcmdb_ci_linux_server", lambda r, loc, rel: False),
    ("host_nameSAMEASname", lambda r, loc, rel: True),
    ("host_nameNSAMEASname", lambda r, loc, rel: False),
    ("sys_created_on>javascript:gs.dateGenerate('2000-01-01','00:00:00')", lambda r, loc, rel: True),
    ('sys_created_on<javascript:gs.dateGenerate("2000-01-01 00:00:00")', lambda r, loc, rel: False),
    ("sys_created_on<javascript:gs.daysAgoStart(36500)", lambda r, loc, rel: False),
    ("sys_created_onRELATIVEGT@day@ago@1", lambda r, loc, rel: True),
    ("sys_created_onRELATIVELT@day@ago@1", lambda r, loc, rel: False),
    ("123TEXTQUERY321=wint000002", lambda r, loc, rel: r["name"] == "wint000002"),
    ("RLQUERYcmdb_rel_ci.child,>0^ENDRLQUERY", lambda r, loc, rel: r["sys_id"] in rel),
    ("RLQUERYcmdb_rel_ci.child,=0^ENDRLQUERY^environment=Test",
     lambda r, loc, rel: r["sys_id"] not in rel and r["environment"] == "Test"),
    ("JOINcmdb_ci_server.location=cmn_location.sys_id!country=DE", lambda r, loc, rel: loc[r["location"]]["country"] == "DE"),
    ("location=javascript:gs.getUserID()", lambda r, loc, rel: False),
]


@pytest.mark.parametrize("query, predicate", QUERIES, ids=[item[0] for item in QUERIES])
def test_encoded_query_operators(api, servers, query, predicate):
    rows, locations, rel_children = servers
    expected = {r["sys_id"] for r in rows if predicate(r, locations, rel_children)}
    response = api.get(table(api, "cmdb_ci_server"), params={"sysparm_query": query, "sysparm_fields": "sys_id"})
    assert response.status_code == 200
    assert {r["sys_id"] for r in response.json()["result"]} == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


def test_order_by_keys_in_sequence_numeric_and_by_reference_display(api, servers):
    rows, locations = servers[0], servers[1]
    result = api.get(table(api, "cmdb_ci_server"), params={
        "sysparm_query": "environment=Test^ORDERBYDESCram^ORDERBYname", "sysparm_fields": "name"}).json()["result"]
    expected = sorted((r for r in rows if r["environment"] == "Test"), key=lambda r: (-_ram(r), r["name"]))
    assert [r["name"] for r in result] == [r["name"] for r in expected]
    by_location = api.get(table(api, "cmdb_ci_server"), params={
        "sysparm_query": "ORDERBYlocation^ORDERBYname", "sysparm_fields": "name", "sysparm_limit": "200"})
    expected = sorted(rows, key=lambda r: (locations[r["location"]]["name"], r["name"]))
    assert [r["name"] for r in by_location.json()["result"]] == [r["name"] for r in expected]


def test_javascript_user_functions_follow_the_caller(sim, api):
    mine = api.get(table(api, "sys_user"), params={"sysparm_query": "user_name=javascript:gs.getUserName()"})
    assert [r["user_name"] for r in mine.json()["result"]] == ["admin"]
    other = requests.get(table(api, "sys_user"), auth=("cab.approver", "cab"),
                         params={"sysparm_query": "sys_id=javascript:gs.getUserID()"})
    assert [r["user_name"] for r in other.json()["result"]] == ["cab.approver"]


def test_invalid_query_property_returns_no_rows(api):
    prop = api.get(table(api, "sys_properties"), params={"name": "glide.invalid_query.returns_no_rows"})
    prop_id = prop.json()["result"][0]["sys_id"]
    api.patch(table(api, "sys_properties", prop_id), json={"value": "true"})
    try:
        response = api.get(table(api, "cmdb_ci_server"), params={"sysparm_query": "bogus=1"})
        assert response.json()["result"] == []
    finally:
        api.patch(table(api, "sys_properties", prop_id), json={"value": "false"})


# -- authentication ----------------------------------------------------------------------------

def test_missing_and_wrong_credentials_get_401(sim):
    anonymous = requests.get(f"{sim.url}/api/now/table/incident")
    assert anonymous.status_code == 401 and anonymous.json() == UNAUTHENTICATED
    assert anonymous.headers["WWW-Authenticate"] == 'BASIC realm="Service-now"'
    wrong = requests.get(f"{sim.url}/api/now/table/incident", auth=("admin", "nope"))
    assert wrong.status_code == 401 and wrong.json() == UNAUTHENTICATED


def test_api_key_header_and_query_parameter(sim):
    url = f"{sim.url}/api/now/table/sys_user"
    assert requests.get(url, headers={"x-sn-apikey": sim.api_key}).status_code == 200
    assert requests.get(url, params={"x-sn-apikey": sim.api_key, "user_name": "admin"}).json()["result"][0][
        "user_name"] == "admin"
    assert requests.get(url, headers={"X-Sn-Apikey": "wrong"}).status_code == 401


def test_oauth_password_grant_with_body_or_basic_client_credentials(sim):
    token_url = f"{sim.url}/oauth_token.do"
    body = requests.post(token_url, data={"grant_type": "password", "username": "admin", "password": "admin",
                                          "client_id": sim.client_id, "client_secret": sim.client_secret})
    assert body.status_code == 200
    token = body.json()
    assert set(token) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert token["token_type"] == "Bearer" and 0 < token["expires_in"] <= 1799
    basic = requests.post(token_url, auth=(sim.client_id, sim.client_secret),
                          data={"grant_type": "password", "username": "admin", "password": "admin"})
    assert basic.json()["access_token"] == token["access_token"]  # same token until it expires
    use = requests.get(f"{sim.url}/api/now/table/sys_user", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert use.status_code == 200


def test_oauth_refresh_and_client_credentials_grants(sim):
    token_url = f"{sim.url}/oauth_token.do"
    first = requests.post(token_url, data={"grant_type": "password", "username": "itil", "password": "itil",
                                           "client_id": sim.client_id, "client_secret": sim.client_secret}).json()
    refreshed = requests.post(token_url, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                               "client_id": sim.client_id, "client_secret": sim.client_secret}).json()
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] == first["refresh_token"]
    machine = requests.post(token_url, data={"grant_type": "client_credentials", "client_id": sim.client_id,
                                             "client_secret": sim.client_secret}, headers={"Accept": "*/*"})
    assert machine.status_code == 200 and "refresh_token" not in machine.json()


@pytest.mark.parametrize("data", [
    {"grant_type": "password", "username": "admin", "password": "admin", "client_id": "opsgate",
     "client_secret": "wrong"},
    {"grant_type": "password", "username": "admin", "password": "wrong", "client_id": "opsgate",
     "client_secret": "opsgate-secret"},
    {"grant_type": "refresh_token", "refresh_token": "unknown", "client_id": "opsgate",
     "client_secret": "opsgate-secret"},
])
def test_oauth_failures(sim, data):
    response = requests.post(f"{sim.url}/oauth_token.do", data=data)
    assert response.status_code == 401
    assert response.json() == {"error_description": "access_denied", "error": "server_error"}


def test_expired_bearer_token_is_rejected(sim):
    token = requests.post(f"{sim.url}/oauth_token.do", data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{sim.url}/api/now/table/sys_user", headers=headers).status_code == 200
    sim.admin("POST", "clock", {"offset_seconds": 1800})
    expired = requests.get(f"{sim.url}/api/now/table/sys_user", headers=headers)
    assert expired.status_code == 401 and expired.json() == UNAUTHENTICATED


# -- attachments -------------------------------------------------------------------------------

def test_attachment_upload_list_meta_download_delete(api):
    record = new_incident(api)
    data = b"\x00binary\xffdata"
    upload = api.post(f"{api.base}/api/now/attachment/file", data=data, params={
        "table_name": "incident", "table_sys_id": record["sys_id"], "file_name": "blob.bin", "hash": "ignored"},
        headers={"Content-Type": "application/octet-stream"})
    assert upload.status_code == 201
    meta = upload.json()["result"]
    assert upload.headers["Location"] == f"{api.base}/api/now/attachment/{meta['sys_id']}"
    assert meta["hash"] == hashlib.sha256(data).hexdigest() and meta["size_bytes"] == str(len(data))
    assert meta["download_link"] == f"{api.base}/api/now/attachment/{meta['sys_id']}/file"
    assert meta["created_by_name"] == "System Administrator"

    listed = api.get(f"{api.base}/api/now/attachment",
                     params={"table_name": "incident", "table_sys_id": record["sys_id"]})
    assert listed.headers["X-Total-Count"] == "1" and listed.json()["result"][0]["file_name"] == "blob.bin"
    by_query = api.get(f"{api.base}/api/now/v1/attachment", params={
        "sysparm_query": f"table_name=incident^table_sys_id={record['sys_id']}"})
    assert len(by_query.json()["result"]) == 1
    assert api.get(f"{api.base}/api/now/attachment/{meta['sys_id']}").json()["result"]["file_name"] == "blob.bin"
    download = api.get(f"{api.base}/api/now/attachment/{meta['sys_id']}/file", headers={"Accept": "application/json"})
    assert download.status_code == 200 and download.content == data
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert json.loads(download.headers["X-Attachment-Metadata"])["file_name"] == "blob.bin"
    assert api.delete(f"{api.base}/api/now/attachment/{meta['sys_id']}").status_code == 204
    assert api.get(f"{api.base}/api/now/attachment/{meta['sys_id']}").status_code == 404


def test_attachment_upload_errors_and_multipart(api):
    record = new_incident(api)
    missing = api.post(f"{api.base}/api/now/attachment/file", data=b"x", params={"table_name": "incident"},
                       headers={"Content-Type": "text/plain"})
    assert missing.status_code == 400
    no_record = api.post(f"{api.base}/api/now/attachment/file", data=b"x", params={
        "table_name": "incident", "table_sys_id": "0" * 32, "file_name": "a.txt"}, headers={"Content-Type": "text/plain"})
    assert no_record.status_code == 404
    multipart = api.post(f"{api.base}/api/now/attachment/upload",
                         data={"table_name": "incident", "table_sys_id": record["sys_id"]},
                         files={"uploadFile": ("form.txt", b"from a form", "text/plain")})
    assert multipart.status_code == 201 and multipart.json()["result"]["file_name"] == "form.txt"
    assert multipart.json()["result"]["content_type"] == "text/plain"
    api.delete(table(api, "incident", record["sys_id"]))
    orphan = api.get(f"{api.base}/api/now/attachment", params={"table_sys_id": record["sys_id"]})
    assert orphan.json()["result"] == []  # deleting the record cascades to its attachments


# -- batch, aggregate, TinyURL, keep-alive ------------------------------------------------------

def test_batch_api(api):
    record = new_incident(api)
    patch_body = base64.b64encode(json.dumps({"urgency": "1"}).encode()).decode()
    batch = api.post(f"{api.base}/api/now/v1/batch", json={"batch_request_id": 7, "rest_requests": [
        {"id": "a", "method": "GET", "url": "/api/now/table/sys_user?user_name=admin&sysparm_fields=user_name",
         "headers": []},
        {"id": "b", "method": "PATCH", "url": f"/api/now/table/incident/{record['sys_id']}",
         "headers": [{"name": "Content-Type", "value": "application/json"}], "body": patch_body},
        {"id": "c", "method": "DELETE", "url": f"/api/now/table/incident/{record['sys_id']}", "headers": []},
    ]})
    assert batch.status_code == 200
    body = batch.json()
    assert body["batch_request_id"] == "7" and body["unserviced_requests"] == []
    served = {item["id"]: item for item in body["serviced_requests"]}
    assert served["a"]["status_code"] == 200
    assert {"name": "X-Total-Count", "value": "1"} in served["a"]["headers"]
    assert json.loads(base64.b64decode(served["a"]["body"])) == {"result": [{"user_name": "admin"}]}
    assert json.loads(base64.b64decode(served["b"]["body"]))["result"]["priority"] == "3"
    assert served["c"]["status_code"] == 204 and "body" not in served["c"]


def test_aggregate_stats_api(api):
    count = api.get(f"{api.base}/api/now/stats/cmdb_ci_server", params={
        "sysparm_query": "environment=Test", "sysparm_count": "True"})
    assert count.json() == {"result": {"stats": {"count": "50"}}}
    grouped = api.get(f"{api.base}/api/now/stats/cmdb_ci_server", params={
        "sysparm_count": "true", "sysparm_group_by": "environment"}).json()["result"]
    assert {g["groupby_fields"][0]["value"]: g["stats"]["count"] for g in grouped} == {
        "Development": "50", "Production": "100", "Test": "50"}


def test_tinyurl_expansion(api):
    long_url = f"{api.base}/api/now/table/cmdb_ci_server?sysparm_query=environment=Test&sysparm_limit=5"
    tiny = api.post(f"{api.base}/api/now/tinyurl", json={"url": long_url})
    assert tiny.status_code == 200
    tiny_id = tiny.json()["result"].split("sysparm_tiny=")[1]
    expanded = api.get(table(api, "cmdb_ci_server"), params={"sysparm_tiny": tiny_id})
    assert expanded.headers["X-Total-Count"] == "50" and len(expanded.json()["result"]) == 5


def test_keep_alive_serves_several_requests_on_one_connection(sim):
    context = ssl.create_default_context(cafile=sim.cert)
    host, port = sim.url.split("://")[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context)
    auth = "Basic " + base64.b64encode(b"admin:admin").decode()
    for _attempt in range(3):
        conn.request("GET", "/api/now/table/sys_user?sysparm_limit=1", headers={"Authorization": auth})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Connection") != "close"
        response.read()
    conn.close()


# -- faults --------------------------------------------------------------------------------------

def test_rate_limit_fault(api, sim):
    sim.admin("POST", "faults", {"kind": "rate_limit", "count": 1, "retry_after": 7, "limit": 50})
    limited = api.get(table(api, "sys_user"))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7" and limited.headers["X-RateLimit-Limit"] == "50"
    assert int(limited.headers["X-RateLimit-Reset"]) > time.time() - 5 and limited.headers["X-RateLimit-Rule"]
    assert limited.json() == {"error": {"message": "Rate limit exceeded", "detail":
                                        "Rate limit of 50 requests per hour for Table API exceeded"},
                              "status": "failure"}
    assert api.get(table(api, "sys_user")).status_code == 200


def test_status_burst_applies_to_matching_requests_only(api, sim):
    sim.admin("POST", "faults", {"kind": "status", "status": 502, "count": 2, "method": "GET",
                                 "path": "/api/now/table/incident"})
    assert api.get(table(api, "sys_user")).status_code == 200
    assert api.post(table(api, "incident"), json={"short_description": "not faulted"}).status_code == 201
    assert [api.get(table(api, "incident")).status_code for _attempt in range(3)] == [502, 502, 200]
    sim.admin("POST", "faults", {"kind": "status", "status": 500})
    failed = api.get(table(api, "sys_user"))
    assert failed.status_code == 500 and failed.json()["status"] == "failure"
    assert sim.request_count() == 6 and sim.request_count("GET", "/api/now/table/incident") == 3


def test_transaction_cancelled_faults(api, sim):
    sim.admin("POST", "faults", {"kind": "txn_cancel", "path": "/api/now/table/cmdb_ci_server"})
    partial = api.get(table(api, "cmdb_ci_server"), params={"sysparm_limit": "10"})
    assert partial.status_code == 200 and "X-Total-Count" not in partial.headers
    body = partial.json()
    assert len(body["result"]) == 5 and body["status"] == "failure"
    assert body["error"]["message"] == "Transaction cancelled: maximum execution time exceeded"
    sim.admin("POST", "faults", {"kind": "txn_cancel", "status": 500})
    plain = api.get(table(api, "cmdb_ci_server"))
    assert plain.status_code == 500 and "result" not in plain.json()


def test_slow_and_reset_faults(api, sim):
    sim.admin("POST", "faults", {"kind": "slow", "delay_ms": 400})
    started = time.monotonic()
    assert api.get(table(api, "sys_user")).status_code == 200
    assert time.monotonic() - started >= 0.4
    sim.admin("POST", "faults", [{"kind": "reset", "path": "/api/now/table/incident", "method": "POST"},
                                 {"kind": "reset", "stage": "headers", "path": "/api/now/table/sys_user"}])
    broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    with pytest.raises(broken):
        requests.post(table(api, "incident"), json={"short_description": "landed"}, auth=api.auth)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(table(api, "sys_user"), auth=api.auth)
    landed = api.get(table(api, "incident"), params={"short_description": "landed"})
    assert len(landed.json()["result"]) >= 1  # the write happened before the connection broke


def test_fault_admin_endpoints(sim):
    with pytest.raises(urllib.error.HTTPError) as info:
        sim.admin("POST", "faults", {"kind": "meteor"})
    assert info.value.code == 400
    listed = sim.admin("POST", "faults", {"kind": "status", "status": 504, "count": 3})
    assert listed["faults"][0]["status"] == 504 and listed["faults"][0]["hits"] == 0
    assert sim.admin("DELETE", "faults")["faults"] == []


def test_cli_plain_http_and_fault_spec(tmp_path):
    running = harness.start(str(tmp_path / "cli"), "--faults", "503:count=1;rate_limit:count=1,retry_after=3",
                            plain_http=True)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        url = f"{running.url}/api/now/table/sys_user"
        statuses = [requests.get(url, auth=("admin", "admin")).status_code for _attempt in range(3)]
        assert statuses == [503, 429, 200]
    finally:
        assert running.stop() == 0


def test_large_cmdb_seeds_fast_and_pages_quickly(tmp_path):
    started = time.monotonic()
    running = harness.start(str(tmp_path / "big"), "--seed-cmdb", "100000", plain_http=True)
    try:
        assert time.monotonic() - started < 30
        session = requests.Session()
        session.auth = ("admin", "admin")
        url = f"{running.url}/api/now/table/cmdb_ci_server"
        for params in ({"sysparm_query": "ORDERBYsys_id", "sysparm_offset": "99000"},
                       {"sysparm_query": "environment=Production^install_status=1", "sysparm_offset": "40000",
                        "sysparm_display_value": "true", "sysparm_exclude_reference_link": "true"}):
            begun = time.monotonic()
            response = session.get(url, params={"sysparm_limit": "1000", **params})
            assert response.status_code == 200 and len(response.json()["result"]) == 1000
            assert time.monotonic() - begun < 1.0
        assert 40000 < int(response.headers["X-Total-Count"]) < 50000
    finally:
        assert running.stop() == 0
