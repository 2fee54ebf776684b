# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrence claims on ServiceNow (backends/servicenow/recurrence.py; issue 14, item 7), on the simulator: a claim
slower than the timeout is found, not sent again; a claim whose writer stopped before its note gets its note when
the occurrence is delivered again; an incident noted before the claims starts from its notes. The concurrent
writers themselves: test_recurrence_concurrency.py."""

from __future__ import annotations

import json
import time
import uuid

import requests

from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import Recurrence
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow.recurrence import CLAIM_ELEMENT
from tests.unit.plugins.module_utils.backends import sn_sim

TEXT = "the failure with correlation id web-1 happened again."
CLAIMS = "/api/now/table/sys_journal_field"


def _incident(backend):
    return backend.create("incident", {"short_description": "web tier down",
                                       "correlation_id": f"claims-{uuid.uuid4().hex[:10]}"})


def _work_notes(backend, record):
    return [entry["text"] for entry in backend.journal("incident", record) if entry["field"] == "work_notes"]


def _claims(sim, record) -> list[dict]:
    claims_of_record = f"element_id={record['id']}^element={CLAIM_ELEMENT}"
    answer = requests.get(f"{sim.url}{CLAIMS}", params={"sysparm_query": claims_of_record},
                          auth=(sim.username, sim.password), verify=sim.cert, timeout=30)
    return answer.json()["result"]


def test_a_claim_slower_than_the_timeout_is_found_and_not_sent_again(make_contract_backend):
    make_contract_backend("servicenow")  # faults cleared
    sim = sn_sim.simulator()
    backend = ServiceNowBackend(sn_sim.settings(sim, timeout=1.0), sleep=time.sleep)
    try:
        record = _incident(backend)
        sim.admin("POST", "faults", {"kind": "slow", "delay_ms": 3000, "count": 1, "method": "POST", "path": CLAIMS})
        sent = sim.request_count("POST", CLAIMS)

        recurrence = backend.record_recurrence(record, TEXT)

        assert recurrence == Recurrence(2, True, f"Recurrence #2: {TEXT}")
        assert sim.request_count("POST", CLAIMS) == sent + 1  # looked for, never sent again
        assert len(_claims(sim, record)) == 1
        assert _work_notes(backend, record) == [f"Recurrence #2: {TEXT}"]
    finally:
        sim.admin("DELETE", "faults")
        backend.close()


def test_an_occurrence_claimed_by_a_writer_that_stopped_gets_its_note_once_when_delivered_again(make_contract_backend):
    backend = make_contract_backend("servicenow")
    sim = sn_sim.simulator()
    record = _incident(backend)
    # What a writer killed between its claim and its note leaves: the claim of #2 for the run marker, no note.
    answer = requests.post(f"{sim.url}{CLAIMS}", json={
        "element_id": record["id"], "element": CLAIM_ELEMENT, "name": "incident",
        "value": f"{2:010d} " + json.dumps({"token": "dead-writer", "key": "run-1"})},
        auth=(sim.username, sim.password), verify=sim.cert, timeout=30)
    answer.raise_for_status()
    text = f"{TEXT} [run-1]"

    first = backend.record_recurrence(record, text, once_key="run-1")
    again = backend.record_recurrence(record, text, once_key="run-1")
    later = backend.record_recurrence(record, f"{TEXT} [run-2]", once_key="run-2")

    assert first == Recurrence(2, True, f"Recurrence #2: {text}")
    assert again == Recurrence(2, False, None)
    assert (later.number, later.counted) == (3, True)
    assert [note.split(":")[0] for note in _work_notes(backend, record)] == ["Recurrence #2", "Recurrence #3"]


def test_an_incident_noted_before_the_claims_goes_on_from_its_recurrence_notes(make_contract_backend):
    backend = make_contract_backend("servicenow")
    record = _incident(backend)
    for number in (2, 3, 4):  # what an earlier version wrote: notes, no claims
        backend.add_journal("incident", record, "work_notes", f"Recurrence #{number}: {TEXT}")

    numbers = [backend.record_recurrence(record, TEXT).number for _time in range(2)]

    assert numbers == [5, 6]
    assert [int(note.split(":")[0][len("Recurrence #"):]) for note in _work_notes(backend, record)] == [2, 3, 4, 5, 6]


def test_an_instance_refusing_claims_still_gets_the_numbered_note_and_a_warning_naming_the_grant(make_contract_backend):
    make_contract_backend("servicenow")  # faults cleared
    sim = sn_sim.simulator()
    warnings: list[str] = []
    backend = ServiceNowBackend(sn_sim.settings(sim), warn=warnings.append, sleep=lambda seconds: None)
    try:
        record = _incident(backend)
        sim.admin("POST", "faults", {"kind": "status", "status": 403, "count": 0, "method": "POST", "path": CLAIMS})

        numbers = [backend.record_recurrence(record, TEXT).number for _time in range(2)]

        assert numbers == [2, 3]
        assert _work_notes(backend, record) == [f"Recurrence #2: {TEXT}", f"Recurrence #3: {TEXT}"]
        assert _claims(sim, record) == []
        assert len([text for text in warnings if "grant the user insert on sys_journal_field" in text]) == 1
    finally:
        sim.admin("DELETE", "faults")
        backend.close()
