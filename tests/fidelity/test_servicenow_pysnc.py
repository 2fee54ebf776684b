"""pysnc 1.2.1, unmodified, against the ServiceNow simulator."""

from __future__ import annotations

import hashlib
import uuid

import pysnc
import pytest
import requests
from pysnc.exceptions import RequestException, RoleException


@pytest.fixture
def client(sim):
    return pysnc.ServiceNowClient(sim.url, (sim.username, sim.password))


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def test_insert_get_update_delete_round_trip(client):
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "pysnc round trip"
    gr.impact = "2"
    gr.urgency = "1"
    sys_id = gr.insert()
    assert sys_id and len(str(sys_id)) == 32
    assert str(gr.number).startswith("INC") and len(str(gr.number)) == 10
    assert gr.priority == "2" and gr.get_display_value("priority") == "2 - High"

    fetched = client.GlideRecord("incident")
    assert fetched.get(sys_id) is True
    assert fetched.short_description == "pysnc round trip"
    assert fetched.get_display_value("state") == "New"
    fetched.short_description = "pysnc updated"
    assert fetched.update() == sys_id
    assert fetched.short_description == "pysnc updated"

    again = client.GlideRecord("incident")
    assert again.get(sys_id) and again.short_description == "pysnc updated"
    assert again.delete() is True
    assert client.GlideRecord("incident").get(sys_id) is False


def test_get_of_missing_record_returns_false(client):
    assert client.GlideRecord("incident").get("0" * 32) is False


def test_get_by_field_and_reference_display_values(client):
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "caller display"
    gr.caller_id = "6816f79cc0a8016401c5a33be04be441"
    gr.insert()
    found = client.GlideRecord("incident")
    assert found.get("number", str(gr.number)) is True
    assert found.caller_id == "6816f79cc0a8016401c5a33be04be441"
    assert found.get_display_value("caller_id") == "System Administrator"
    assert found.sys_created_on.date_value().year >= 2024


def test_encoded_query_with_or_nq_and_order(client):
    tag = _tag()
    for text, impact in (("alpha", "1"), ("beta", "2"), ("gamma", "3")):
        gr = client.GlideRecord("incident")
        gr.initialize()
        gr.short_description = f"{tag} {text}"
        gr.impact = impact
        gr.insert()
    q = client.GlideRecord("incident")
    q.add_encoded_query(f"short_descriptionLIKE{tag}^impact=1^ORimpact=3^NQshort_description={tag} beta")
    q.order_by_desc("short_description")
    q.query()
    assert [str(r.short_description) for r in q] == [f"{tag} gamma", f"{tag} beta", f"{tag} alpha"]

    q = client.GlideRecord("incident")
    q.add_query("short_description", "STARTSWITH", tag)
    q.add_query("impact", ">", "1").add_or_condition("impact", "=", "1")
    q.add_null_query("close_code")
    q.query()
    assert len(q) == 3


def test_paging_uses_offsets_and_total_count(client, sim):
    q = client.GlideRecord("cmdb_ci_server", batch_size=60)
    q.fields = "name,ip_address"
    q.query()
    names = [str(r.name) for r in q]
    assert len(q) == 200
    assert len(names) == len(set(names)) == 200
    assert sim.request_count("GET", "/api/now/table/cmdb_ci_server") == 4


def test_query_inheritance_from_cmdb_ci(client):
    q = client.GlideRecord("cmdb_ci")
    q.add_query("sys_class_name", "INSTANCEOF", "cmdb_ci_server")
    q.limit = 5
    q.query()
    rows = list(q)
    assert len(rows) == 5
    assert {r.get_value("sys_class_name") for r in rows} == {"cmdb_ci_server"}
    assert {r.get_display_value("sys_class_name") for r in rows} == {"Server"}


def test_update_multiple_and_delete_multiple_use_the_batch_api(client, sim):
    tag = _tag()
    for index in range(3):
        gr = client.GlideRecord("incident")
        gr.initialize()
        gr.short_description = f"{tag} {index}"
        gr.insert()
    q = client.GlideRecord("incident")
    q.add_query("short_description", "STARTSWITH", tag)
    q.query()
    for record in q:
        record.urgency = "1"
    assert q.update_multiple() is True
    assert sim.request_count("POST", "/api/now/v1/batch") == 1

    check = client.GlideRecord("incident")
    check.add_query("short_description", "STARTSWITH", tag)
    check.add_query("urgency", "1")
    check.query()
    assert len(check) == 3

    gone = client.GlideRecord("incident")
    gone.add_query("short_description", "STARTSWITH", tag)
    assert gone.delete_multiple() is True
    final = client.GlideRecord("incident")
    final.add_query("short_description", "STARTSWITH", tag)
    final.query()
    assert len(final) == 0


def test_very_long_query_goes_through_the_batch_api(client, sim):
    ids = [uuid.uuid4().hex for _index in range(320)] + ["6816f79cc0a8016401c5a33be04be441"]
    q = client.GlideRecord("sys_user")
    q.add_query("sys_id", "IN", ",".join(ids))
    q.query()
    assert [str(r.user_name) for r in q] == ["admin"]
    assert sim.request_count("POST", "/api/now/v1/batch") == 1


def test_attachments_add_list_read_delete(client):
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "with attachment"
    gr.insert()
    location = gr.add_attachment("notes.txt", b"hello attachment", "text/plain")
    assert location.startswith("https://127.0.0.1:") and "/api/now/attachment/" in location

    attachments = gr.get_attachments()
    listed = list(attachments)
    assert [str(a.file_name) for a in listed] == ["notes.txt"]
    assert listed[0].read() == b"hello attachment"
    assert listed[0].readlines() == ["hello attachment"]
    assert str(listed[0].hash) == hashlib.sha256(b"hello attachment").hexdigest()
    listed[0].delete()
    assert list(gr.get_attachments()) == []


def test_password_grant_oauth_flow(sim):
    flow = pysnc.ServiceNowPasswordGrantFlow(sim.username, sim.password, sim.client_id, sim.client_secret)
    client = pysnc.ServiceNowClient(sim.url, flow)
    gr = client.GlideRecord("sys_user")
    assert gr.get("user_name", "admin") is True
    assert sim.request_count("POST", "/oauth_token.do") == 1


def test_client_credentials_oauth_flow(sim):
    flow = pysnc.ServiceNowClientCredentialsFlow(sim.client_id, sim.client_secret)
    client = pysnc.ServiceNowClient(sim.url, flow)
    gr = client.GlideRecord("sys_user_group")
    gr.add_query("name", "CAB Approval")
    gr.query()
    assert len(gr) == 1


def test_wrong_password_raises_authentication_exception(sim):
    client = pysnc.ServiceNowClient(sim.url, (sim.username, "wrong"))
    with pytest.raises(pysnc.exceptions.AuthenticationException):
        client.GlideRecord("incident").get("0" * 32)


def test_get_is_retried_through_a_503_burst(client, sim):
    sim.admin("POST", "faults", {"kind": "status", "status": 503, "count": 2, "method": "GET",
                                 "path": "/api/now/table/sys_user"})
    gr = client.GlideRecord("sys_user")
    assert gr.get("user_name", "admin") is True
    assert sim.request_count("GET", "/api/now/table/sys_user") == 3


def test_post_is_not_retried_on_429(client, sim):
    sim.admin("POST", "faults", {"kind": "rate_limit", "count": 1, "retry_after": 0})
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "rate limited"
    with pytest.raises(RequestException):
        gr.insert()
    assert sim.request_count("POST", "/api/now/table/incident") == 1


def test_exhausted_retries_surface_as_retry_error(client, sim):
    sim.admin("POST", "faults", {"kind": "rate_limit", "count": 5, "retry_after": 0, "method": "GET"})
    with pytest.raises(requests.exceptions.RetryError):
        client.GlideRecord("incident").get("0" * 32)


def test_transaction_cancelled_inside_200_is_detected(client, sim):
    sim.admin("POST", "faults", {"kind": "txn_cancel", "path": "/api/now/table/cmdb_ci_server"})
    q = client.GlideRecord("cmdb_ci_server")
    with pytest.raises(RequestException, match="Maximum execution time exceeded"):
        q.query()


def test_illegal_change_transition_is_a_role_exception(client):
    gr = client.GlideRecord("change_request")
    gr.initialize()
    gr.short_description = "jump"
    gr.insert()
    assert gr.get_display_value("state") == "New"
    gr.state = "-1"
    with pytest.raises(RoleException, match="Change Model: Check State Transition"):
        gr.update()
