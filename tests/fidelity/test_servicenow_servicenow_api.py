"""servicenow-api 1.6.14 (PyPI ``servicenow-api``), unmodified, against the simulator.

It covers the Table, Attachment and CMDB Instance calls the client makes (``servicenow_api.servicenow_api.Api``).
1.6.14 is the last release that depends on requests and pydantic only: later 1.x and 2.0 pull an agent framework
(agent-utilities) that pins cryptography<49 and packaging<26 and sets process-wide warning filters on import,
and 2.3+ needs Python 3.12. The Table, Attachment and CMDB Instance code is the same in 2.0.1.
Where the client and the vendor documentation disagree, the test pins the client's behaviour and says so:

- ``delete_table_record`` parses the body of the answer, but the Table API answers DELETE with 204 and no
  body (servicenow-api.md §2.1), so the call raises after the record is gone: a client bug.
- ``upload_attachment`` drops the ``Content-Type`` header and streams the file, so the request has none; the
  Attachment API requires the file's MIME type there (servicenow-api.md §5) and answers 400: a client bug.
- the constructor probes ``GET /api/subscribers``, which is no instance resource: a real instance and the
  simulator answer 400 "Requested URI does not represent any resource", which the client lets pass; only
  401/403/404 fail it.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from servicenow_api import exceptions
from servicenow_api import servicenow_api

from tests.simulators.servicenow.seed import sid

DEPENDS_ON = sid("rel_type", "Depends on::Used by")
RUNS_ON = sid("rel_type", "Runs on::Runs")
SERVICE = sid("service", "Email")


@pytest.fixture
def client(sim):
    return servicenow_api.Api(url=sim.url, username=sim.username, password=sim.password, verify=sim.cert)


@pytest.fixture
def cleanup(api):
    """Table API paths to DELETE after the test (the session's simulator is shared with the wire tests)."""
    paths: list[str] = []
    yield paths
    for path in paths:
        api.delete(f"{api.base}{path}")


def _tag() -> str:
    return uuid.uuid4().hex[:10]


# -- connecting -------------------------------------------------------------------------------------

def test_the_constructor_probe_is_answered_like_an_instance(sim, client):
    probes = sim.admin("GET", "requests?path=/api/subscribers")["requests"]
    assert [(r["method"], r["status"]) for r in probes] == [("GET", 400)]
    assert client.headers["Authorization"].startswith("Basic ")


def test_wrong_credentials_are_an_auth_error(sim):
    with pytest.raises(exceptions.AuthError):
        servicenow_api.Api(url=sim.url, username=sim.username, password="wrong", verify=sim.cert)


# -- Table API ----------------------------------------------------------------------------------------

def test_table_create_read_patch_put(client, cleanup):
    tag = _tag()
    data = {"short_description": f"{tag} created", "impact": "1", "urgency": "1"}
    created = client.add_table_record(table="incident", data=data).result
    cleanup.append(f"/api/now/table/incident/{created.sys_id}")
    assert created.number.startswith("INC") and created.priority == "1"
    one = client.get_table_record(table="incident", table_record_sys_id=created.sys_id)
    assert one.response.status_code == 200 and one.result.short_description == f"{tag} created"
    patched = client.patch_table_record(table="incident", table_record_sys_id=created.sys_id,
                                        data={"state": "2"}).result
    assert (patched.state, patched.sys_mod_count) == ("2", "1")
    put = client.update_table_record(table="incident", table_record_sys_id=created.sys_id,
                                     data={"short_description": f"{tag} put"}).result
    assert put.short_description == f"{tag} put" and put.state == "2"  # PUT keeps the fields it does not name


def test_table_list_with_query_fields_limit_and_display_values(client, cleanup):
    tag = _tag()
    for index in range(3):
        made = client.add_table_record(table="incident", data={"short_description": f"{tag} {index}"}).result
        cleanup.append(f"/api/now/table/incident/{made.sys_id}")
    listed = client.get_table(table="incident", sysparm_query=f"short_descriptionSTARTSWITH{tag}^ORDERBYnumber",
                              sysparm_fields="number,short_description,state", sysparm_limit=2,
                              sysparm_display_value="true")
    assert listed.response.headers["X-Total-Count"] == "3"
    assert [r.short_description for r in listed.result] == [f"{tag} 0", f"{tag} 1"]
    assert {r.state for r in listed.result} == {"New"}
    assert set(listed.result[0].model_dump()) == {"base_type", "number", "short_description", "state"}


def test_table_delete_removes_the_record_but_the_client_chokes_on_the_204(client, api):
    made = client.add_table_record(table="incident", data={"short_description": "delete me"}).result
    with pytest.raises(requests.exceptions.JSONDecodeError):
        client.delete_table_record(table="incident", table_record_sys_id=made.sys_id)
    assert api.get(f"{api.base}/api/now/table/incident/{made.sys_id}").status_code == 404


def test_incident_helpers_parse_the_records(client, cleanup):
    tag = _tag()
    created = client.create_incident(data={"short_description": f"{tag} helper", "caller_id": "admin"}).result
    cleanup.append(f"/api/now/table/incident/{created.sys_id}")
    assert created.caller_id.value == "6816f79cc0a8016401c5a33be04be441"
    found = client.get_incidents(sysparm_query=f"short_description={tag} helper").result
    assert [i.number for i in found] == [created.number]
    assert client.get_incident(incident_id=created.sys_id).result.number == created.number


def test_a_problem_through_the_table_calls(client, cleanup):
    problem = client.add_table_record(table="problem", data={"short_description": "disk fills up"}).result
    cleanup.append(f"/api/now/table/problem/{problem.sys_id}")
    assert problem.number.startswith("PRB") and problem.state == "101"
    assessed = client.patch_table_record(table="problem", table_record_sys_id=problem.sys_id,
                                         data={"state": "102", "assigned_to": "admin"}).result
    assert assessed.state == "102"
    with pytest.raises(requests.exceptions.HTTPError) as refused:
        client.patch_table_record(table="problem", table_record_sys_id=problem.sys_id, data={"state": "106"})
    assert refused.value.response.status_code == 403


# -- Attachment API ------------------------------------------------------------------------------------------

def test_attachment_upload_sends_no_content_type_and_is_refused(client, api, cleanup, tmp_path):
    made = client.add_table_record(table="incident", data={"short_description": "with a file"}).result
    cleanup.append(f"/api/now/table/incident/{made.sys_id}")
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello from servicenow-api\n")
    with pytest.raises(requests.exceptions.HTTPError) as refused:
        client.upload_attachment(str(path), table_name="incident", table_sys_id=made.sys_id, file_name="notes.txt")
    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["error"]["message"] == "Content-Type header is mandatory"
    listed = api.get(f"{api.base}/api/now/attachment", params={"table_sys_id": made.sys_id}).json()["result"]
    assert listed == []


def test_attachment_read_and_delete(client, api, cleanup):
    made = client.add_table_record(table="incident", data={"short_description": "with a file"}).result
    cleanup.append(f"/api/now/table/incident/{made.sys_id}")
    uploaded = api.post(f"{api.base}/api/now/attachment/file", data=b"hello\n", headers={"Content-Type": "text/plain"},
                        params={"table_name": "incident", "table_sys_id": made.sys_id, "file_name": "notes.txt"})
    assert uploaded.status_code == 201
    sys_id = uploaded.json()["result"]["sys_id"]
    attachment = client.get_attachment(sys_id=sys_id).result
    assert (attachment.sys_id, attachment.file_name, attachment.size_bytes) == (sys_id, "notes.txt", 6)
    assert attachment.state in ("pending", "available")
    assert client.delete_attachment(sys_id=sys_id).result == {"status": "deleted"}
    assert api.get(f"{api.base}/api/now/attachment/{sys_id}").status_code == 404


# -- CMDB Instance API ------------------------------------------------------------------------------------------

def test_cmdb_list_and_read(client):
    listed = client.get_cmdb_instances(className="cmdb_ci_server", sysparm_query="nameSTARTSWITHlnxp00000",
                                       sysparm_limit=3).result
    assert len(listed) == 3 and all(set(item) == {"sys_id", "name"} for item in listed)
    one = client.get_cmdb_instance(className="cmdb_ci_server", sys_id=sid("server", "8")).result
    assert one["attributes"]["sys_id"] == sid("server", "8")
    assert [r["sys_id"] for r in one["inbound_relations"]] == [sid("rel", "8")]


def test_cmdb_create_update_relate_unrelate(client, cleanup):
    name = f"sapi-{_tag()}"
    created = client.create_cmdb_instance(className="cmdb_ci_linux_server", source="ServiceNow",
                                          attributes={"name": name, "os": "Linux Red Hat"},
                                          inbound_relations=[{"type": DEPENDS_ON, "target": SERVICE}]).result
    sys_id = created["attributes"]["sys_id"]
    cleanup.append(f"/api/now/table/cmdb_ci/{sys_id}")
    assert created["attributes"]["discovery_source"] == "ServiceNow"
    assert [r["target"]["value"] for r in created["inbound_relations"]] == [SERVICE]
    put = client.update_cmdb_instance(className="cmdb_ci_linux_server", sys_id=sys_id, source="ServiceNow",
                                      attributes={"ram": "2048"}).result
    assert (put["attributes"]["ram"], put["attributes"]["os"]) == ("2048", "Linux Red Hat")
    patched = client.patch_cmdb_instance(className="cmdb_ci_linux_server", sys_id=sys_id, source="ServiceNow",
                                         attributes={"ip_address": "10.9.9.9"}).result
    assert patched["attributes"]["ip_address"] == "10.9.9.9"
    related = client.create_cmdb_relation(className="cmdb_ci_linux_server", sys_id=sys_id, source="ServiceNow",
                                          outbound_relations=[{"type": RUNS_ON, "target": sid("server", "1")}]).result
    [outbound] = related["outbound_relations"]
    assert (outbound["type"]["value"], outbound["target"]["value"]) == (RUNS_ON, sid("server", "1"))
    gone = client.delete_cmdb_relation(className="cmdb_ci_linux_server", sys_id=sys_id, rel_sys_id=outbound["sys_id"])
    assert gone.response.status_code == 204 and gone.result == {"status": "deleted"}
    after = client.get_cmdb_instance(className="cmdb_ci_linux_server", sys_id=sys_id).result
    assert after["outbound_relations"] == [] and len(after["inbound_relations"]) == 1


def test_cmdb_errors_surface_as_http_errors(client):
    with pytest.raises(requests.exceptions.HTTPError) as unknown_class:
        client.get_cmdb_instances(className="not_a_class")
    assert unknown_class.value.response.status_code == 400
    with pytest.raises(requests.exceptions.HTTPError) as unknown_ci:
        client.get_cmdb_instance(className="cmdb_ci_server", sys_id="0" * 32)
    assert unknown_ci.value.response.status_code == 404
