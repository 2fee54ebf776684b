# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creates of one correlation id by two controllers at once on a Jira site (issues 13 and 14).

Forks of one controller take turns under a lock and share the file of created issues (test_records.py); two
controllers share nothing, so both may look the id up, find nothing and create. Each create then looks for an
older open holder (records.older_twin): on Data Center in one search, on Cloud, whose index lags, in one search
of the project's newest issues and a read by key of each issue the index does not show yet. The younger issue gives
up the correlation id and is canceled, naming the survivor, and its create returns the survivor (a Met).
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import records as records_module
from tests.unit.plugins.module_utils.backends.jsm.test_records import _forked_creates


@pytest.fixture(autouse=True)
def site_cache(monkeypatch, tmp_path):
    """Each test starts as a controller with an empty cache directory (its file of created issues) of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def backend(jsm):
    built = JsmBackend(settings_of(jsm), sleep=lambda seconds: None)
    yield built
    built.close()


def settings_of(jsm) -> ConnectionSettings:
    return ConnectionSettings(backend="jsm", url=jsm.url, username=jsm.username, token=jsm.token, ca_path=jsm.cert,
                              timeout=10.0, retries=3)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


ISSUE_TYPES = {"change": "Change", "incident": "Incident", "problem": "Problem"}


def other_controller_creates(jsm, cid: str, kind: str = "change") -> dict:
    """An issue holding ``cid`` made by a controller this test's backends know nothing of: a plain REST create
    (with the correlation id property, as the backend writes it), between their look-up and their create."""
    body = {"fields": {"project": {"key": "ITSM"}, "issuetype": {"name": ISSUE_TYPES[kind]},
                       "summary": "made elsewhere"},
            "properties": [{"key": "opsgate.correlation_id", "value": {"value": cid}}]}
    answer = requests.post(f"{jsm.url}/rest/api/2/issue", json=body, auth=(jsm.username, jsm.token), verify=jsm.cert,
                           timeout=30)
    answer.raise_for_status()
    return answer.json()


@pytest.mark.parametrize("kind", ["change", "incident", "problem"])
def test_a_create_that_meets_an_older_twin_of_another_controller_returns_it_and_retires_its_own(jsm, kind):
    jsm.admin("POST", "settings", {"index_lag": 30})  # Cloud: the twin stays out of the index for the whole test
    cid = unique("race")
    first = other_controller_creates(jsm, cid, kind)
    backend = JsmBackend(settings_of(jsm), sleep=lambda seconds: None)
    try:
        met = backend.create(kind, {"short_description": "made here", "correlation_id": cid})
        own_key = f"ITSM-{int(first['key'].rsplit('-', 1)[1]) + 1}"  # the issue this create made, now retired
        own = backend.get(kind, number=own_key)
        remembered = [item["key"] for item in backend.records.client.created.entries()]
        notes = [entry["text"] for entry in backend.journal(kind, own)]
        found = backend.get(kind, correlation_id=cid)
    finally:
        backend.close()

    assert isinstance(met, records.Met) and met["number"] == first["key"]
    assert own["correlation_id"] is None and own["short_description"] == "made here"
    held = requests.get(f"{jsm.url}/rest/api/2/issue/{own_key}/properties", auth=(jsm.username, jsm.token),
                        verify=jsm.cert, timeout=30).json()["keys"]
    assert "opsgate.correlation_id" not in [item["key"] for item in held]  # removed, not set to null
    assert remembered == [first["key"]]  # this controller's next look-ups reconcile the survivor, never the twin
    assert own["state"] == ("new" if kind == "problem" else "canceled")  # a problem has no canceled state
    assert any(text.startswith(f"Duplicate of {first['key']}") for text in notes)
    assert found["number"] == first["key"]  # the look-up names the survivor alone


def test_a_twin_the_workflow_cannot_cancel_gives_up_the_id_and_says_so(jsm, monkeypatch):
    cid = unique("stuck")
    first = other_controller_creates(jsm, cid)
    warnings = []
    backend = JsmBackend(settings_of(jsm), warn=warnings.append, sleep=lambda seconds: None)

    def no_way_out(kind, record, state, fields=None, check_mode=False, known_notes=None):
        raise ItsmTransitionError(f"{record['number']}: the workflow offers no move to {state} from Open")
    monkeypatch.setattr(backend.records, "transition", no_way_out)
    try:
        met = backend.create("change", {"short_description": "stuck twin", "correlation_id": cid})
        own = backend.get("change", number=f"ITSM-{int(first['key'].rsplit('-', 1)[1]) + 1}")
        notes = [entry["text"] for entry in backend.journal("change", own)]
    finally:
        backend.close()

    assert met["number"] == first["key"]  # the task goes on with the survivor
    assert own["state"] == "new" and own["correlation_id"] is None
    assert any(text.startswith(f"Duplicate of {first['key']}") for text in notes)
    assert [text for text in warnings if "could not be canceled" in text and "close it by hand" in text]


def test_the_oldest_creator_keeps_its_issue_and_pays_one_search_for_the_check(jsm, backend):
    jsm.admin("POST", "settings", {"index_caught_up": True})  # a quiet site: the check reads no key past the index
    cid = unique("alone")
    before = jsm.admin("GET", "requests")["count"]
    made = backend.create("change", {"short_description": "alone", "correlation_id": cid})
    sent = [(entry["method"], entry["path"]) for entry in jsm.admin("GET", "requests")["requests"][before:]]

    assert not isinstance(made, records.Met) and made["correlation_id"] == cid and made["state"] == "new"
    searches = [call for call in sent if "search" in call[1]]
    assert len(searches) == 1 and not [call for call in sent if call[0] == "GET" and "/issue/" in call[1]]


def test_two_controllers_creating_one_correlation_id_at_once_end_with_one_open_change(jsm, tmp_path):
    settings = settings_of(jsm)
    cid = unique("controllers")
    homes = [str(tmp_path / f"controller-{index % 2}") for index in range(6)]  # 3 forks on each of 2 controllers

    numbers = _forked_creates(settings, [cid] * len(homes), homes)

    assert len(set(numbers)) == 1 and numbers[0].startswith("ITSM-"), numbers  # every task got the one change
    time.sleep(jsm.admin("GET", "settings")["index_lag"] + 0.2)  # Cloud: the checker remembers none of them
    checker = JsmBackend(settings, sleep=lambda seconds: None)
    try:
        survivor = checker.get("change", correlation_id=cid)
    finally:
        checker.close()
    assert survivor["number"] == numbers[0] and survivor["state"] == "new"


def test_a_burst_past_the_index_is_waited_out_and_a_check_cut_short_says_so(jsm_cloud):
    """More keys past Cloud's index than the check reads by GET: it searches again after each pause (the index
    catching up) and, when the pauses are spent, reads the newest TWIN_PROBES keys and warns that it did no more."""
    jsm_cloud.admin("POST", "settings", {"index_lag": 60})
    cid = unique("burst")
    for _other in range(records_module.TWIN_PROBES + 5):
        other_controller_creates(jsm_cloud, unique("other"))
    pauses, warnings = [], []
    backend = JsmBackend(settings_of(jsm_cloud), warn=warnings.append, sleep=pauses.append)
    try:
        before = jsm_cloud.admin("GET", "requests")["count"]
        made = backend.create("change", {"short_description": "in a burst", "correlation_id": cid})
        sent = [entry["path"] for entry in jsm_cloud.admin("GET", "requests")["requests"][before:]]
    finally:
        backend.close()

    assert not isinstance(made, records.Met)
    assert pauses == list(records_module.TWIN_INDEX_WAITS)
    assert sum(1 for path in sent if path.endswith("/search/jql")) == 1 + len(records_module.TWIN_INDEX_WAITS)
    assert sum(1 for path in sent if "/issue/ITSM-" in path) == records_module.TWIN_PROBES
    assert [text for text in warnings if f"checked among the {records_module.TWIN_PROBES} newest" in text]
