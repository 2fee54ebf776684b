# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm backend's records (codec.py, records.py, backend.py) on the JSM simulator, Cloud and Data Center:
issue keys as numbers, the correlation id property, Cloud's lagging index, retried creates, and the requests
each task-sized operation costs (issue 13's targets: create with CIs <= 3, update <= 2, gate poll <= 3)."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend

# The seed names Assets servers lnx|win + environment initial + number (tests/simulators/jsm/seed.py).
SERVERS = ["lnxp000001", "wint000002"]


@pytest.fixture
def backend(jsm):
    built = JsmBackend(ConnectionSettings(backend="jsm", url=jsm.url, username=jsm.username, token=jsm.token,
                                          ca_path=jsm.cert, timeout=10.0, retries=3), sleep=lambda seconds: None)
    yield built
    built.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


SITE_READS = {("GET", "/rest/api/2/serverInfo"), ("GET", "/rest/api/2/field"),
              ("GET", "/rest/servicedeskapi/assets/workspace")}


def requests_during(jsm, action):
    """What ``action`` returned and the API requests it sent (the simulator's log; /__sim calls not counted)."""
    before = jsm.admin("GET", "requests")["count"]
    result = action()
    entries = jsm.admin("GET", "requests")["requests"][before:]
    return result, [(entry["method"], entry["path"]) for entry in entries]


def test_numbers_are_issue_keys_and_the_url_opens_the_issue(jsm, backend):
    change = backend.create("change", {"short_description": "keys"})

    assert change["number"].startswith("ITSM-") and change["url"] == f"{jsm.url}/browse/{change['number']}"
    assert backend.get("change", number=change["number"].lower())["id"] == change["id"]
    assert backend.get("incident", number=change["number"]) is None  # a change's key names no incident
    assert backend.get("change", number="CHG0000001") is None  # no issue key: nothing is asked


def test_the_correlation_id_is_an_issue_property_found_at_once_on_a_lagging_index(jsm, backend):
    jsm.admin("POST", "settings", {"index_lag": 30})
    cid = unique("lag")
    made = backend.create("incident", {"short_description": "lag", "correlation_id": cid})

    assert backend.get("incident", correlation_id=cid)["number"] == made["number"]
    other = JsmBackend(backend.settings, sleep=lambda seconds: None)  # a new run: nothing to reconcile
    try:
        assert other.get("incident", correlation_id=cid) is None if jsm.cloud else other.get(
            "incident", correlation_id=cid)["number"] == made["number"]
    finally:
        other.close()


def test_fields_without_a_jira_field_round_trip_through_the_record_property(backend):
    change = backend.create("change", {"short_description": "kept", "assignment_group": "Network",
                                       "requested_by": "admin", "risk": "high", "fields": {"ticket": "42"}})
    updated = backend.update("change", change, {"assigned_to": "cab.approver", "risk": "low"})

    assert (updated["assignment_group"], updated["requested_by"], updated["assigned_to"]) == (
        "Network", "admin", "cab.approver")
    assert (updated["risk"], updated["fields"]) == ("low", {"ticket": "42"})
    assert [r["number"] for r in backend.find("change", {"assignment_group": "Network",
                                                         "number": [change["number"]]})] == [change["number"]]


def test_a_create_whose_answer_was_lost_is_found_by_its_correlation_id_not_sent_again(request, jsm, backend):
    if jsm.cloud:  # strict: the mark fails as soon as the gap is closed
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "known gap: on Cloud the lost issue is not in the lagging search index yet and its id is unknown, so "
            "the correlation-id search of recover() misses it and the create is sent again")))
    cid = unique("lost")
    jsm.admin("POST", "faults", {"method": "POST", "path": "/rest/api/2/issue", "kind": "reset", "count": 1})

    made, sent = requests_during(jsm, lambda: backend.create("change", {"short_description": "lost answer",
                                                                        "correlation_id": cid}))

    assert sent.count(("POST", "/rest/api/2/issue")) == 1  # the answer was lost, the create not sent again

    holders = list(backend.find("change", {"correlation_id": cid}))
    assert [holder["number"] for holder in holders] == [made["number"]]


def test_request_counts_of_a_task(jsm, backend):
    cid = unique("count")
    _found, lookup = requests_during(jsm, lambda: backend.lookup("change", correlation_id=cid,
                                                                 include={"journal"}))
    change, create = requests_during(jsm, lambda: backend.create("change", {
        "short_description": "counted", "correlation_id": cid, "configuration_items": SERVERS}))
    found, lookup_again = requests_during(jsm, lambda: backend.lookup("change", correlation_id=cid,
                                                                      include={"journal"}))
    _updated, update = requests_during(jsm, lambda: backend.update("change", found.record, {"description": "x"},
                                                                   known_notes=found.notes))
    _polled, poll = requests_during(jsm, lambda: backend.lookup("change", number=change["number"],
                                                                include={"approvals", "cis"}))

    assert sorted(change["configuration_items"]) == sorted(SERVERS)
    site = [call for call in lookup + create if call in SITE_READS]
    assert sorted(set(site)) == sorted(site)  # the site's deployment type, fields and workspace: once per backend
    counts = {"create with CIs": len(lookup) + len(create) - len(site), "update": len(lookup_again) + len(update),
              "gate poll": len(poll)}
    print(jsm.flavour, counts, "site reads per backend:", len(site))
    # Measured (see docs): a task's look-up by correlation id 1 (+1 for its journal), create with CIs 3
    # (AQL names, POST, GET), update 2 (PUT, GET), gate poll 3 (GET, approvals, affected objects); plus the
    # site reads each new backend makes once (serverInfo, field list; Cloud: the Assets workspace).
    assert counts == {"create with CIs": 4, "update": 4, "gate poll": 3}
