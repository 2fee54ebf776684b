# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servicenow backend against the simulator: request counts, faults, auth methods, secrets.

What every backend shares is in test_contract.py; this file holds what is ServiceNow's own.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import threading
import uuid

import pytest
import requests
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmAuthError, ItsmError, ItsmNotFoundError, ItsmTransientError, ItsmTransitionError, ItsmUnavailableError)
from ansible_collections.opsgate.itsm.plugins.module_utils._http import ItsmHttpError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import mapping, reads
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow.writes import RecordWriter
from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request, change_request_info, incident

TEMPLATE = "Patch Linux servers - 1"


def requests_since(sim, mark: int) -> list[dict]:
    return [item for item in sim.admin("GET", "requests")["requests"] if item["seq"] > mark]


def last_seq(sim) -> int:
    logged = sim.admin("GET", "requests")["requests"]
    return logged[-1]["seq"] if logged else 0


def faults_met(sim, mark: int) -> int:
    return sum(1 for item in requests_since(sim, mark) if item.get("fault"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def admin_post(sim, path: str, body) -> dict:
    answer = requests.post(f"{sim.url}{path}", json=body, auth=(sim.username, sim.password), verify=sim.cert,
                           timeout=30)
    answer.raise_for_status()
    return answer.json()["result"]


def table_rows(sim, table: str, query: str) -> list[dict]:
    answer = requests.get(f"{sim.url}/api/now/table/{table}", params={"sysparm_query": query},
                          auth=(sim.username, sim.password), verify=sim.cert, timeout=30)
    return answer.json()["result"]


# -- request counts ------------------------------------------------------------------------------

def test_create_change_with_cis_takes_at_most_three_requests(sim, make):
    backend = make()
    mark = last_seq(sim)

    change = backend.create("change", {"short_description": "patch", "assignment_group": "Network",
                                       "configuration_items": ["web01", "web02"]})

    assert len(requests_since(sim, mark)) <= 3
    assert change["configuration_items"] == ["web01", "web02"]
    assert backend.get("change", id=change["id"]) == change


def test_update_and_transition_take_at_most_two_requests_each(sim, make):
    backend = make()
    change = backend.create("change", {"short_description": "patch"})
    fresh = make()

    mark = last_seq(sim)
    updated = fresh.update("change", change, {"description": "now with a plan", "assignment_group": "Network"})
    assert len(requests_since(sim, mark)) <= 2

    mark = last_seq(sim)
    moved = fresh.transition("change", updated, "assess")
    assert len(requests_since(sim, mark)) <= 2
    assert (moved["state"], moved["approval"]) == ("assess", "requested")


@pytest.mark.parametrize("key", ["number", "correlation_id"])
def test_gate_poll_reads_change_approvals_cis_and_blackouts_in_two_requests(sim, make, key):
    backend = make()
    change = backend.create("change", {"short_description": "gate", "configuration_items": ["web01"],
                                       "correlation_id": unique("gate"), "assignment_group": "CAB Approval"})
    backend.transition("change", change, "assess")
    mark = last_seq(sim)

    found = backend.lookup("change", **{key: change[key]}, include={"approvals", "cis"})
    record = found.record
    cis = backend.affected_cis(record)
    backend.blackouts("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", record, ci_ids=found.ci_ids)

    assert cis == ["web01"]
    assert len(requests_since(sim, mark)) == 2  # unscoped blackouts: no condition to check
    assert found.approvals and found.approvals == make().approvals(record)
    assert found.ci_ids == make().affected_ci_ids(record)


def test_a_look_up_costs_one_request_whatever_it_includes_and_leaves_nothing_for_the_next_call(sim, make):
    backend = make()
    change = backend.create("change", {"short_description": "declared", "configuration_items": ["web01"],
                                       "assignment_group": "CAB Approval"})
    backend.transition("change", change, "assess")
    backend.add_journal("change", change, "work_notes", "plan attached")
    fresh = make()

    costs = []
    for include in ({"approvals", "journal", "cis"}, set(), {"approvals"}):
        mark = last_seq(sim)
        found = fresh.lookup("change", number=change["number"], include=include,
                             writes={"assignment_group": "Network", "configuration_items": ["web02"]})
        costs.append(len(requests_since(sim, mark)))
        assert (found.approvals is not None, found.notes is not None, found.ci_ids is not None) == (
            "approvals" in include, "journal" in include, "cis" in include)
    mark = last_seq(sim)
    approvals = fresh.approvals(found.record)  # read afresh: the look-up's approvals were returned, not kept

    assert costs == [1, 1, 1]
    assert len(requests_since(sim, mark)) == 1 and approvals == found.approvals
    mark = last_seq(sim)
    fresh.update("change", found.record, {"assignment_group": "Network"})
    assert [item["method"] for item in requests_since(sim, mark)] == ["PATCH"]  # the name came with the look-up


def test_find_reads_pages_not_records(sim, make):
    backend = make()
    group = "contract-filters"
    marker = unique("page")
    for _unused in range(3):
        backend.create("change", {"short_description": marker, "assignment_group": group,
                                  "configuration_items": ["db01"]})
    mark = last_seq(sim)

    found = list(backend.find("change", {"assignment_group": group}))

    assert sum(1 for record in found if record["short_description"] == marker) == 3
    assert all(record["configuration_items"] == ["db01"] for record in found if record["short_description"] == marker)
    assert len(requests_since(sim, mark)) <= 2 * (len(found) // 100 + 1)


def test_name_lookups_are_cached_for_the_backends_life(sim, make):
    backend = make()
    backend.create("incident", {"short_description": "one", "assignment_group": "Network", "caller": "itil"})
    mark = last_seq(sim)

    backend.create("incident", {"short_description": "two", "assignment_group": "Network", "caller": "itil"})

    assert [item["method"] for item in requests_since(sim, mark)] == ["POST"]


def test_unknown_name_is_an_error_naming_the_option(make):
    with pytest.raises(ItsmNotFoundError) as caught:
        make().create("change", {"short_description": "x", "assignment_group": "No Such Group"})
    assert "assignment_group" in str(caught.value) and "No Such Group" in str(caught.value)


# -- instance behaviour --------------------------------------------------------------------------

def test_business_rule_refusal_names_change_transition_and_instance_message(make):
    backend = make()
    change = backend.create("change", {"short_description": "jump", "assignment_group": "Network"})

    with pytest.raises(ItsmTransitionError) as caught:
        backend.transition("change", change, "implement")
    message = str(caught.value)
    assert change["number"] in message and "from new to implement" in message
    assert "Change Model: Check State Transition" in message


def test_a_data_policy_refusal_is_the_canonical_error_naming_the_fields_it_lacks(sim, make):
    # Nothing checks the step before the PATCH: the instance's own refusal, which names the labels "Resolution
    # code" and "Resolution notes", comes back as the error every backend gives, with the canonical field names.
    backend = make()
    incident = backend.create("incident", {"short_description": "policy"})

    with pytest.raises(ItsmTransitionError) as caught:
        backend.transition("incident", incident, "resolved")

    assert str(caught.value) == (f"state: cannot move {incident['number']} to resolved: close_code, close_notes must "
                                 "be set; give them with the transition or set them first")
    assert caught.value.details["missing"] == ["close_code", "close_notes"]
    assert backend.get("incident", id=incident["id"])["state"] == "new"


@pytest.mark.parametrize("reason, fields", [
    ("Operation Failed: Data Policy Exception: The following fields are mandatory: Close code, Close notes",
     ["close_code", "close_notes"]),
    ("Data Policy Exception: The following fields are mandatory: Close notes, Risk assessment", []),
    ("Operation against file 'change_request' was aborted by Business Rule 'Change Model'", []),
])
def test_only_a_data_policy_naming_known_labels_maps_to_canonical_fields(reason, fields):
    # A label this table does not know leaves the instance's own words in the error rather than half a list.
    assert mapping.mandatory_fields("change", reason) == fields


def test_rejection_comments_are_listed_with_the_approval(make):
    backend = make()
    change = backend.transition("change", backend.create("change", {"short_description": "x"}), "assess",
                                {"assignment_group": "Network"})

    rejected = backend.decide_approval(change, "admin", "rejected", "no backout plan")

    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    decided = [item for item in backend.approvals(rejected) if item["state"] == "rejected"]
    assert [(item["approver"], item["comments"]) for item in decided] == [("admin", "no backout plan")]


def test_template_reads_the_version_and_standard_change_copies_it(make):
    backend = make()

    template = backend.template(TEMPLATE)
    change = backend.create("change", {"template": TEMPLATE, "short_description": "patch batch 7"})

    assert template["fields"]["description"].startswith("Apply the monthly OS patch")
    assert (change["type"], change["approval"], change["template"]) == ("standard", "approved", TEMPLATE)
    assert change["description"] == template["fields"]["description"]
    assert change["short_description"] == "patch batch 7"
    assert backend.template("No such template") is None
    with pytest.raises(ItsmUnavailableError):
        backend.put_template("mine", {"short_description": "x"})


def test_blackouts_expand_schedule_spans_and_read_conflicts(sim, make):
    backend = make()
    name = unique("freeze")
    schedule = admin_post(sim, "/api/now/table/cmn_schedule_blackout", {"name": name, "time_zone": "Europe/Paris"})
    admin_post(sim, "/api/now/table/cmn_schedule_span", {
        "schedule": schedule["sys_id"], "name": "year end", "start_date_time": "20261224T000000",
        "end_date_time": "20261226T000000"})
    change = backend.create("change", {"short_description": "x", "configuration_items": ["web03"],
                                       "start_date": "2026-12-24T10:00:00Z", "end_date": "2026-12-24T12:00:00Z"})
    admin_post(sim, f"/api/sn_chg_rest/change/{change['id']}/conflict", None)

    found = backend.blackouts("2026-12-20T00:00:00Z", "2026-12-31T00:00:00Z", change)

    mine = [item for item in found if item["name"] == name]
    assert {"name": name, "start": "2026-12-23T23:00:00Z", "end": "2026-12-25T23:00:00Z", "source": "servicenow",
            "reason": f"blackout schedule {name!r}, entry 'year end'"} in mine
    assert [item["source"] for item in mine] == ["servicenow"]  # its conflict row confirms it, not a second report
    assert backend.blackouts("2027-02-01T00:00:00Z", "2027-02-02T00:00:00Z") == []


def test_attachment_is_idempotent_by_sha256(make, tmp_path):
    backend = make()
    incident = backend.create("incident", {"short_description": "logs"})
    path = tmp_path / "trace.txt"
    path.write_bytes(b"stack trace\n")

    changed, first = backend.add_attachment("incident", incident, str(path))
    again, second = backend.add_attachment("incident", incident, str(path))
    path.write_bytes(b"another trace\n")
    replaced, third = backend.add_attachment("incident", incident, str(path))

    assert (changed, again, replaced) == (True, False, True)
    assert first == second and first["sha256"] == hashlib.sha256(b"stack trace\n").hexdigest()
    assert first["content_type"] == "text/plain"
    assert [item["sha256"] for item in backend.attachments("incident", incident)] == [third["sha256"]]


# -- faults: exactly one record, or a clear error ------------------------------------------------

FAULTS = [
    {"kind": "rate_limit", "retry_after": 1, "count": 2},
    {"kind": "status", "status": 502, "count": 1},
    {"kind": "status", "status": 503, "count": 2},
    {"kind": "status", "status": 504, "count": 1},
    {"kind": "txn_cancel", "count": 1},
    {"kind": "reset", "count": 1},
    {"kind": "reset", "stage": "headers", "count": 1},
]


@pytest.mark.parametrize("with_correlation", [True, False], ids=["correlation_id", "sys_id"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_create_writes_exactly_one_record(sim, make, fault, with_correlation):
    backend = make(token="not-used", password=None, username=None, api_key=sim.api_key)
    marker = unique("fault")
    sim.admin("POST", "faults", dict(fault, method="POST", path="/api/now/table/incident"))

    fields = {"short_description": marker}
    if with_correlation:
        fields["correlation_id"] = marker
    created = backend.create("incident", fields)

    rows = table_rows(sim, "incident", f"short_description={marker}")
    assert [row["number"] for row in rows] == [created["number"]]
    assert sim.api_key not in " ".join(make.warnings)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_read_succeeds_after_retries(sim, make, fault):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("read")})
    sim.admin("POST", "faults", dict(fault, method="GET", path="/api/now/table/incident"))

    assert backend.get("incident", number=incident["number"]) == incident


@pytest.mark.parametrize("fault", [{"kind": "rate_limit", "retry_after": 1}, {"kind": "status", "status": 503},
                                   {"kind": "reset"}, {"kind": "txn_cancel", "status": 500}],
                         ids=["rate_limit", "503", "reset", "txn_cancel"])
@pytest.mark.parametrize("auth", ["basic", "oauth", "token", "api_key"])
def test_a_lasting_fault_fails_clearly_without_secrets(sim, make, fault, auth):
    options = _auth_options(sim, auth)
    backend = make(retries=2, **options)
    backend.get("incident", number="INC0000000")  # authenticated once, so an OAuth token is in play too
    sim.admin("POST", "faults", dict(fault, count=0, path="/api/now/table/incident"))

    with pytest.raises(ItsmError) as caught:
        backend.create("incident", {"short_description": "never", "correlation_id": unique("lasting")})

    assert isinstance(caught.value, ItsmTransientError)
    assert "create incident" in str(caught.value)
    _assert_no_secret(sim, backend, [str(caught.value), repr(caught.value.details)] + make.warnings)


# -- authentication ------------------------------------------------------------------------------

def _auth_options(sim, method: str) -> dict:
    if method == "basic":
        return {}
    if method == "oauth":
        return {"client_id": sim.client_id, "client_secret": sim.client_secret}
    if method == "oauth_client_credentials":
        return {"client_id": sim.client_id, "client_secret": sim.client_secret, "username": None, "password": None}
    if method == "api_key":
        return {"api_key": sim.api_key, "username": None, "password": None}
    token = requests.post(f"{sim.url}/oauth_token.do", verify=sim.cert, timeout=30, data={
        "grant_type": "password", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "username": sim.username, "password": sim.password}).json()["access_token"]
    return {"token": token, "username": None, "password": None}


def _assert_no_secret(sim, backend, texts) -> None:
    secrets = [sim.password, sim.client_secret, sim.api_key] + [s for s in backend.http.secrets if s]
    if backend.http._token:
        secrets.append(backend.http._token)
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)


@pytest.mark.parametrize("auth", ["basic", "oauth", "oauth_client_credentials", "token", "api_key"])
def test_every_auth_method_reads_and_writes(sim, make, auth):
    backend = make(**_auth_options(sim, auth))

    incident = backend.create("incident", {"short_description": f"via {auth}"})

    assert backend.get("incident", id=incident["id"]) == incident
    assert backend.http.auth_method == auth.split("_client")[0]


def test_oauth_token_is_reused_and_refreshed_once_after_expiry(sim, make):
    options = _auth_options(sim, "oauth")
    first, second = make(**options), make(**options)
    first.get("incident", number="INC0000000")
    second.get("incident", number="INC0000000")
    assert sim.request_count("POST", "/oauth_token.do") <= 1

    sim.admin("POST", "clock", {"offset_seconds": 4000})
    second.get("incident", number="INC0000000")

    assert sim.request_count("POST", "/oauth_token.do") <= 2
    assert second.http._token is not None


@pytest.mark.parametrize("auth", ["basic", "oauth", "token", "api_key"])
def test_wrong_credentials_fail_as_auth_errors_without_the_secret(sim, make, auth):
    # A marker no URL, port or message of the simulator can hold by chance.
    wrong = {"basic": {"password": "wrong-pass-QzXw"},
             "oauth": {"client_id": sim.client_id, "client_secret": "wrong-secret-QzXw"},
             "token": {"token": "wrong-token-QzXw", "password": None},
             "api_key": {"api_key": "wrong-key-QzXw", "password": None}}[auth]
    backend = make(**wrong)

    with pytest.raises(ItsmAuthError) as caught:
        backend.get("incident", number="INC0000000")

    assert "QzXw" not in str(caught.value)
    assert auth.split("_")[0] in str(caught.value) or "OAuth" in str(caught.value)


def test_tls_is_verified_by_default(sim, make, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(ItsmError) as caught:
        make(ca_path=None).get("incident", number="INC0000000")
    assert "ca_path" in str(caught.value)


def test_validate_certs_false_is_honoured_even_with_a_ca_bundle_variable(sim, make, monkeypatch, tmp_path):
    bogus = tmp_path / "other.pem"
    bogus.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))

    assert make(ca_path=None, validate_certs=False).get("incident", number="INC0000000") is None


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_work_note_is_written_exactly_once(sim, make, fault):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("note")})
    backend.add_journal("incident", incident, "work_notes", "checked the disk")  # the same text, earlier
    sim.admin("POST", "faults", dict(fault, method="PATCH", path="/api/now/table/incident"))
    mark = last_seq(sim)

    backend.add_journal("incident", incident, "work_notes", "checked the disk")

    notes = [entry["text"] for entry in backend.journal("incident", incident)]
    assert notes == ["checked the disk", "checked the disk"]
    assert faults_met(sim, mark) == fault["count"]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_update_with_a_note_writes_the_note_once(sim, make, fault):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("update")})
    sim.admin("POST", "faults", dict(fault, method="PATCH", path="/api/now/table/incident"))
    mark = last_seq(sim)

    updated = backend.update("incident", incident, {"description": "disk full", "work_notes": "cleaned /var"})

    assert updated["description"] == "disk full"
    assert [entry["text"] for entry in backend.journal("incident", incident)] == ["cleaned /var"]
    assert faults_met(sim, mark) == fault["count"]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_approval_decision_is_recorded_once(sim, make, fault):
    backend = make()
    change = backend.transition("change", backend.create("change", {"short_description": unique("decide")}),
                                "assess", {"assignment_group": "Network"})
    sim.admin("POST", "faults", dict(fault, method="PATCH", path="/api/now/table/sysapproval_approver"))
    mark = last_seq(sim)

    rejected = backend.decide_approval(change, "admin", "rejected", "no backout plan")

    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    rows = table_rows(sim, "sysapproval_approver", f"sysapproval={change['id']}^state=rejected")
    assert len(rows) == 1
    comments = table_rows(sim, "sys_journal_field", f"element_id={rows[0]['sys_id']}^element=comments")
    assert [row["value"] for row in comments] == ["no backout plan"]
    assert faults_met(sim, mark) == fault["count"]


def test_dates_in_fields_are_iso_8601_like_every_canonical_date(sim, make):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("resolve")})

    resolved = backend.transition("incident", incident, "resolved",
                                  {"close_code": "solution_provided", "close_notes": "restarted"})
    stored = table_rows(sim, "incident", f"sys_id={incident['id']}")[0]["resolved_at"]

    assert stored and " " in stored  # the instance's own format on the wire
    assert resolved["fields"]["resolved_at"] == stored.replace(" ", "T") + "Z"
    assert backend.get("incident", id=incident["id"])["fields"]["resolved_at"] == resolved["fields"]["resolved_at"]


def test_a_date_written_through_fields_is_sent_in_the_instances_format(sim, make):
    backend = make()
    incident = backend.create("incident", {"short_description": unique("date")})

    updated = backend.update("incident", incident, {"fields": {"resolved_at": "2026-11-24T22:14:32+01:00"}})

    assert table_rows(sim, "incident", f"sys_id={incident['id']}")[0]["resolved_at"] == "2026-11-24 21:14:32"
    assert updated["fields"]["resolved_at"] == "2026-11-24T21:14:32Z"


@pytest.mark.parametrize("fault", [{"kind": "txn_cancel", "count": 1}, {"kind": "reset", "count": 1},
                                   {"kind": "status", "status": 502, "count": 1}], ids=["txn_cancel", "reset", "502"])
def test_a_faulted_standard_change_is_found_by_correlation_id_even_if_the_sys_id_is_ignored(sim, make, fault):
    backend = make()
    send = backend.http.request

    def dropping_sys_id(method, path, **kwargs):
        # An instance whose Change Management API ignores a client-supplied sys_id (servicenow-api.md 2.7).
        if path.startswith("/api/sn_chg_rest/change/standard/"):
            kwargs["json_body"] = {key: value for key, value in kwargs["json_body"].items() if key != "sys_id"}
        return send(method, path, **kwargs)

    backend.http.request = dropping_sys_id
    marker = unique("standard")
    sim.admin("POST", "faults", dict(fault, method="POST", path="/api/sn_chg_rest/change/standard/"))
    mark = last_seq(sim)

    change = backend.create("change", {"template": TEMPLATE, "short_description": marker})

    rows = table_rows(sim, "change_request", f"short_description={marker}")
    assert [row["number"] for row in rows] == [change["number"]]
    assert change["correlation_id"].startswith("opsgate-")
    assert faults_met(sim, mark) == 1


def test_change_request_info_reads_all_approvals_in_one_request(sim, make):
    backend = make()
    marker = unique("info")
    for _unused in range(3):
        change = backend.transition("change", backend.create("change", {"short_description": marker}), "assess",
                                    {"assignment_group": "Network"})
    backend.decide_approval(change, "admin", "approved", "ok")
    mark = last_seq(sim)

    result = change_request_info.run({"limit": 1000, "approvals": True}, backend, False, make.warnings.append)

    paths = [item["path"] for item in requests_since(sim, mark)]
    assert paths.count("/api/now/table/sysapproval_approver") == 1
    mine = [record for record in result["records"] if record["short_description"] == marker]
    assert len(mine) == 3 and all(record["approvals"] for record in mine)
    assert ("admin", "approved") in [(item["approver"], item["state"]) for item in mine[-1]["approvals"]]


def test_find_pages_past_duplicated_and_long_numbers(sim, make, monkeypatch):
    monkeypatch.setattr(reads, "PAGE_SIZE", 2)
    backend = make()
    marker = unique("pages")
    numbers = ["INC0000009", "INC0000009", "INC0000009", "INC10000000", "INC0000010"]  # repeated; 8 digits
    created = [admin_post(sim, "/api/now/table/incident", {"short_description": marker, "correlation_id": marker,
                                                           "number": number})["sys_id"] for number in numbers]

    found = list(backend.find("incident", {"correlation_id": marker}))

    assert sorted(record["id"] for record in found) == sorted(created)
    assert sorted(record["number"] for record in found) == sorted(numbers)
    rows = table_rows(sim, "incident", f"correlation_id={marker}")
    oldest_first = sorted(rows, key=lambda row: (row["sys_created_on"], row["number"], row["sys_id"]))
    assert [record["id"] for record in found] == [row["sys_id"] for row in oldest_first]
    assert [record["id"] for record in backend.find("incident", {"correlation_id": marker}, limit=3)] == \
        [record["id"] for record in found[:3]]


def _create_at_once(make, count: int, fields: dict, kind: str = "incident") -> list[dict]:
    backends = [make() for _unused in range(count)]
    start = threading.Barrier(count)

    def create(backend):
        start.wait()
        return backend.create(kind, fields)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(create, backends))


def test_incidents_created_at_once_with_one_correlation_id_leave_one_record(sim, make):
    marker = unique("twins")

    created = _create_at_once(make, 6, {"short_description": marker, "correlation_id": marker})

    rows = table_rows(sim, "incident", f"correlation_id={marker}")
    assert len(rows) == 1
    assert {record["number"] for record in created} == {rows[0]["number"]}


@pytest.mark.parametrize("fields", [{}, {"configuration_items": ["web01", "db01"]},
                                    {"template": "Patch Linux servers - 1", "configuration_items": ["web01"]}],
                         ids=["no-cis", "cis", "standard-with-cis"])
def test_changes_created_at_once_with_one_correlation_id_leave_one_change(sim, make, fields):
    marker = unique("change-twins")

    created = _create_at_once(make, 4, dict(fields, short_description=marker, correlation_id=marker), kind="change")

    rows = table_rows(sim, "change_request", f"correlation_id={marker}")
    assert len(rows) == 1
    assert {record["number"] for record in created} == {rows[0]["number"]}
    links = table_rows(sim, "task_ci", f"task.correlation_id={marker}")
    assert len(links) == len(fields.get("configuration_items", []))  # the retired twins took their CI rows along
    # A fork that retired its twin returns the survivor as read then, its CIs maybe still being written by the fork
    # that made it; once every fork is done, the survivor holds them.
    assert make().get("change", number=rows[0]["number"])["configuration_items"] == sorted(
        fields.get("configuration_items", []))


def refuse_twin_deletes(monkeypatch) -> None:
    """The instance refuses the DELETE of a twin (an ``itil`` user's ACL), so the retirement cancels it instead."""
    retire = RecordWriter.retire

    def refusing_delete(self, kind, row, survivor):
        real = self.client.http.request

        def request(method, path, **kwargs):
            if method == "DELETE":
                raise ItsmHttpError("DELETE refused: HTTP 403: ACL", 403, "ACL")
            return real(method, path, **kwargs)

        self.client.http.request = request
        try:
            return retire(self, kind, row, survivor)
        finally:
            self.client.http.request = real

    monkeypatch.setattr(RecordWriter, "retire", refusing_delete)


@pytest.mark.parametrize("kind,table,canceled", [("incident", "incident", "8"), ("change", "change_request", "4")])
def test_a_twin_that_may_not_be_deleted_is_cancelled_with_a_note_naming_the_survivor(sim, make, monkeypatch, kind,
                                                                                     table, canceled):
    marker = unique("twins")
    refuse_twin_deletes(monkeypatch)

    created = _create_at_once(make, 4, {"short_description": marker, "correlation_id": marker}, kind=kind)

    rows = table_rows(sim, table, f"short_description={marker}^ORDERBYnumber")
    survivor = created[0]["number"]
    assert {record["number"] for record in created} == {survivor}
    assert len(rows) == 4  # every fork created one; three were cancelled
    open_rows = [row for row in rows if row["state"] != canceled]
    assert [row["number"] for row in open_rows] == [survivor]
    # the cancelled twins gave up the id: once the survivor is closed too, the id still names the survivor
    assert [row["number"] for row in rows if row["correlation_id"] == marker] == [survivor]
    for row in rows:
        if row["number"] != survivor:
            notes = table_rows(sim, "sys_journal_field", f"element_id={row['sys_id']}^element=work_notes")
            assert [note["value"] for note in notes] == [
                f"Duplicate of {survivor}, created at the same time with the same correlation_id; "
                f"the work goes on in {survivor}."]


# -- request counts per change_request task (issue 5) ---------------------------------------------

def change_request_task(make, **args) -> dict:
    """One change_request task as its action plugin runs it: a new backend (no names cached yet)."""
    spec = dict(connection_argument_spec(), **change_request.ARGUMENT_SPEC)
    params = ArgumentSpecValidator(spec).validate(args).validated_parameters
    return change_request.run(params, make(), check_mode=False, warn=lambda text: None)["record"]


@pytest.mark.parametrize("correlated", [False, True], ids=["no-correlation-id", "correlation-id"])
def test_a_task_creating_a_change_with_cis_takes_three_requests(sim, make, correlated):
    correlation = {"correlation_id": unique("task-create")} if correlated else {}
    mark = last_seq(sim)

    record = change_request_task(make, short_description="patch", assignment_group="Network",
                                 configuration_items=["web01", "web02"], **correlation)

    assert len(requests_since(sim, mark)) == 3
    assert (record["assignment_group"], record["configuration_items"]) == ("Network", ["web01", "web02"])


@pytest.mark.parametrize("key", ["number", "correlation_id"])
@pytest.mark.parametrize("args", [{"description": "with a plan", "assignment_group": "CAB Approval"},
                                  {"state": "assess", "assignment_group": "CAB Approval"}], ids=["update", "transition"])
def test_a_task_updating_or_moving_a_change_takes_two_requests(sim, make, key, args):
    created = change_request_task(make, short_description="patch", correlation_id=unique("task-update"))
    mark = last_seq(sim)

    record = change_request_task(make, **{key: created[key]}, **args)

    assert len(requests_since(sim, mark)) == 2
    assert {name: record[name] for name in args} == args


def test_a_task_adding_a_note_with_an_update_takes_two_requests_and_a_rerun_adds_none(sim, make):
    created = change_request_task(make, short_description="patch")
    args = dict(number=created["number"], description="with a plan", work_notes="plan attached")
    mark = last_seq(sim)

    change_request_task(make, **args)
    counted = [item["method"] for item in requests_since(sim, mark)]
    mark = last_seq(sim)
    # The same note as a YAML block scalar gives it, with a final newline.
    change_request_task(make, number=created["number"], description="with a plan", work_notes="plan attached\n")
    rerun = [item["method"] for item in requests_since(sim, mark)]

    assert counted == ["POST", "PATCH"]  # record + names + journal in one batch, the update carrying the note
    assert rerun == ["POST"]
    assert [entry["text"] for entry in make().journal("change", created)] == ["plan attached"]


@pytest.mark.parametrize("text", ["\n  an indented plan\n", "  plan, then a blank line\n\n"])
def test_a_rerun_adds_no_note_whose_text_has_blank_space_around_it(sim, make, text):
    created = change_request_task(make, short_description="patch")

    for _run in range(2):
        change_request_task(make, number=created["number"], work_notes=text)

    assert [entry["text"] for entry in make().journal("change", created)] == [text]


@pytest.mark.parametrize("kind", ["change", "incident"])
def test_the_notes_a_look_up_reads_tell_a_new_text_from_one_already_there(sim, make, kind):
    backend = make()
    record = backend.create(kind, {"short_description": "notes"})
    for text in ("first line\nplan attached", "plan", "plan attached, part two"):
        backend.add_journal(kind, record, "work_notes", text)
    fresh = make()
    mark = last_seq(sim)
    found = fresh.lookup(kind, number=record["number"], include={"journal"})
    assert len(requests_since(sim, mark)) == 1  # the record and its journal's display values in one batch
    mark = last_seq(sim)

    missing = found.notes.missing({"work_notes": "plan attached", "comments": "plan"})

    assert missing == {"work_notes": "plan attached", "comments": "plan"}
    assert requests_since(sim, mark) == []  # answered from what the look-up read
    assert found.notes.missing({"work_notes": "plan", "comments": "plan"}) == {"comments": "plan"}
    assert found.notes.missing({"work_notes": "plan"}) == {}  # asked again, same answer: nothing is used up
    assert found.notes.mentions("part two") and not found.notes.mentions("part three")


def test_an_incident_task_adding_a_note_with_an_update_takes_two_requests(sim, make):
    created = make().create("incident", {"short_description": "disk full"})
    spec = dict(connection_argument_spec(), **incident.ARGUMENT_SPEC)
    args = dict(number=created["number"], urgency="high", work_notes="disk cleaned")
    params = ArgumentSpecValidator(spec).validate(args).validated_parameters
    mark = last_seq(sim)

    result = incident.run(params, make(), check_mode=False, warn=lambda text: None)

    assert [item["method"] for item in requests_since(sim, mark)] == ["POST", "PATCH"]
    assert result["record"]["urgency"] == "high"
    assert [entry["text"] for entry in make().journal("incident", created)] == ["disk cleaned"]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('status') or f.get('stage', '')}")
def test_a_faulted_task_update_with_a_note_writes_the_note_once(sim, make, fault):
    created = change_request_task(make, short_description="patch")
    sim.admin("POST", "faults", dict(fault, method="PATCH", path="/api/now/table/change_request"))
    mark = last_seq(sim)

    record = change_request_task(make, number=created["number"], description="retried", work_notes="once only")

    assert record["description"] == "retried"
    assert [entry["text"] for entry in make().journal("change", created)] == ["once only"]
    assert faults_met(sim, mark) == fault["count"]
