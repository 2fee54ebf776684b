# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Query injection (issue 14, item 1): the audit's ``javascript:`` scenario on every backend, and the look-up's
defence in depth (a returned record whose key differs from the one asked for is never acted on).

The audit: an incident whose correlation id is the account's user name (``admin``), then an ``incident`` task with
``correlation_id: "javascript:gs.getUserName()"``, a new short_description and a work note. ServiceNow evaluates the
value, so the look-up matched the other incident and the task rewrote it. The refusal table
(test_refusals.py) has the refusal's exact words; here the scenario end to end, through the runner.
"""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _lookup
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import LookupResult, RecordKey
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import query as sn_query
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident as incident_runner
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident_info
from tests.unit.plugins.module_utils.backends.conftest import backends_with

SCRIPT = "javascript:gs.getUserName()"


def _snapshot(backend, record):
    found = backend.get("incident", id=record["id"])
    return found, [(entry["field"], entry["text"]) for entry in backend.journal("incident", found)]


@pytest.mark.parametrize("value", [SCRIPT, "  JavaScript:gs.getUserName() ", "JAVASCRIPT:gs.getUserName()"])
def test_a_javascript_correlation_id_leaves_the_incident_it_would_name_untouched(backend, value):
    victim = backend.create("incident", {"short_description": "the victim",
                                         "correlation_id": backend.settings.username or "admin"})
    before = _snapshot(backend, victim)
    params = {"correlation_id": value, "short_description": f"hijacked {uuid.uuid4().hex[:6]}",
              "work_notes": "written through an injected query", "recurrence_note": True}

    with pytest.raises(ItsmValidationError) as refused:
        incident_runner.run(params, backend, False, lambda text: None)
    with pytest.raises(ItsmValidationError) as listed:
        incident_info.run({"correlation_id": value}, backend, False, lambda text: None)

    assert refused.value.details["option"] == listed.value.details["option"] == "correlation_id"
    assert "javascript:" in str(refused.value)
    assert _snapshot(backend, victim) == before


def test_servicenow_evaluates_the_value_and_the_look_up_still_refuses_the_row(make_contract_backend, monkeypatch):
    """Below the input checks (both switched off here: _input's and the query builder's guard): the simulated
    instance really runs the script (the read returns the admin's incident), and the one look-up rule drops a
    holder whose correlation id is not the value asked for."""
    monkeypatch.setattr(sn_query, "escape", lambda value, option="filters": str(value))
    backend = make_contract_backend("servicenow")
    victim = backend.create("incident", {"short_description": "the victim",
                                         "correlation_id": backend.settings.username})
    key = RecordKey(correlation_id=SCRIPT)

    read = backend.read_holders("incident", key, False, frozenset(), {})

    assert victim["id"] in [holder.record["id"] for holder in read]  # the instance matched the script's answer
    assert _lookup.pick("incident", key, read, False) is None


@pytest.mark.parametrize("key", [RecordKey(correlation_id="victim2"), RecordKey(number="INC0000002"),
                                 RecordKey(id="abc")])
def test_a_holder_whose_key_differs_by_a_character_is_never_picked(key):
    """``victim2\\n`` matched ``victim2`` on ServiceNow (loose text comparison): the rule compares exactly."""
    record = {"id": "abc", "number": "INC0000002", "correlation_id": "victim2", "state": "new"}
    near = {field: f"{value}\n" for field, value in record.items() if field != "state"}
    holders = [LookupResult(dict(record, **near))]

    assert _lookup.pick("incident", key, holders, False) is None
    assert _lookup.pick("incident", key, [LookupResult(record)], False).record == record
    assert _lookup.choose("incident", "victim2", [dict(record, correlation_id="victim2\n")]) is None


@pytest.mark.parametrize("name", backends_with())
def test_every_backend_refuses_a_correlation_id_with_a_newline_naming_it(make_contract_backend, name):
    """local and ServiceNow agree on ``victim2\\n``: a control character, refused before any query."""
    backend = make_contract_backend(name)
    backend.create("incident", {"short_description": "victim2", "correlation_id": f"victim2-{uuid.uuid4().hex[:6]}"})

    with pytest.raises(ItsmValidationError) as refused:
        backend.get("incident", correlation_id="victim2\n")

    assert refused.value.details["option"] == "correlation_id"
