# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server slower than the timeout (issue 14, item 2), on every remote backend's simulator.

The audit's repro: the simulator holds one write for longer than the client's timeout (``slow`` fault) and only
then carries it out. Before the fix the "did it land?" look-up ran at once, found nothing, and the write was sent
again: two journal entries, two attachments. Now the look-up waits for the server to have had time to finish
(then looks again with the backoff, within the call's budget), and the write is never sent twice: each test counts
the requests the server received and the entries it holds. ``local`` has no network and no timeout to outrun.

The backends here sleep for real (the wait is the fix), with a 1 s timeout and a 3 s delay: about 3.5 s a test.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
import uuid

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.unit.plugins.module_utils.backends import jsm_sim, sn_sim

TIMEOUT = 1.0
DELAY_MS = 3000
REMOTE = ("servicenow", "jsm-cloud", "jsm-datacenter")


@dataclasses.dataclass
class Remote:
    """A backend that sleeps for real, on the simulator it talks to, and where its writes go."""

    backend: t.Any
    sim: t.Any
    create_path: str
    note: tuple[str, str]  # method, path prefix of a note's write ({key}: the record's id or key)
    attachment: str

    slowed_at: float = 0.0

    def slow(self, method: str, path: str) -> None:
        self.sim.admin("POST", "faults", {"kind": "slow", "delay_ms": DELAY_MS, "count": 1, "method": method,
                                          "path": path})
        self.slowed_at = time.monotonic()

    def settle(self) -> None:
        """Wait until the held request has been carried out, so that a second write would be seen and counted."""
        time.sleep(max(0.0, self.slowed_at + DELAY_MS / 1000 + 0.5 - time.monotonic()))

    def count(self, method: str, path: str) -> int:
        return self.sim.request_count(method, path)

    def sim_rows(self, table: str, query: str) -> list[dict]:
        """Rows of a ServiceNow table as the simulator holds them (not through the backend under test)."""
        answer = requests.get(f"{self.sim.url}/api/now/table/{table}", params={"sysparm_query": query},
                              auth=(self.sim.username, self.sim.password), verify=self.sim.cert, timeout=30)
        return answer.json()["result"]


@pytest.fixture(params=REMOTE)
def remote(request, make_contract_backend) -> t.Iterator[Remote]:
    make_contract_backend(request.param)  # the contract's factory clears faults (and, for jsm, resets the site)
    if request.param == "servicenow":
        sim = sn_sim.simulator()
        backend = ServiceNowBackend(sn_sim.settings(sim, timeout=TIMEOUT), sleep=time.sleep)
        made = Remote(backend, sim, "/api/now/table/incident", ("PATCH", "/api/now/table/incident/{id}"),
                      "/api/now/attachment/file")
    else:
        sim = jsm_sim.simulator(request.param.split("-")[1])
        backend = JsmBackend(dataclasses.replace(jsm_sim.settings(sim), timeout=TIMEOUT), sleep=time.sleep)
        made = Remote(backend, sim, "/rest/api/2/issue", ("POST", "/rest/api/2/issue/{id}/comment"),
                      "/rest/api/2/issue/{id}/attachments")
    yield made
    sim.admin("DELETE", "faults")
    backend.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_slow_work_note_is_written_once(remote):
    backend = remote.backend
    incident = backend.create("incident", {"short_description": unique("slow note")})
    note = unique("note")
    method, path = remote.note
    path = path.format(id=incident["id"])
    remote.slow(method, path)
    sent = remote.count(method, path)

    backend.add_journal("incident", incident, "work_notes", note)
    remote.settle()

    assert [entry["text"] for entry in backend.journal("incident", incident)].count(note) == 1
    assert remote.count(method, path) == sent + 1  # looked for, never sent again


def test_a_slow_note_repeating_a_text_on_the_record_adds_exactly_one_entry(remote):
    """The text is on the record already: the look-up after the wait counts entries, so the old one neither passes
    for the new one (a write lost) nor hides it (a write resent)."""
    backend = remote.backend
    incident = backend.create("incident", {"short_description": unique("slow repeat")})
    note = unique("again")
    backend.add_journal("incident", incident, "work_notes", note)
    method, path = remote.note
    path = path.format(id=incident["id"])
    remote.slow(method, path)

    backend.add_journal("incident", incident, "work_notes", note)
    remote.settle()

    assert [entry["text"] for entry in backend.journal("incident", incident)].count(note) == 2


def test_a_slow_update_with_a_work_note_is_written_once(make_contract_backend):
    """The audit's own case on ServiceNow: a PATCH that carries a note (jsm writes its notes as comments)."""
    make_contract_backend("servicenow")
    sim = sn_sim.simulator()
    backend = ServiceNowBackend(sn_sim.settings(sim, timeout=TIMEOUT), sleep=time.sleep)
    try:
        incident = backend.create("incident", {"short_description": unique("slow patch")})
        note = unique("note")
        path = f"/api/now/table/incident/{incident['id']}"
        sim.admin("POST", "faults", {"kind": "slow", "delay_ms": DELAY_MS, "count": 1, "method": "PATCH", "path": path})
        slowed_at = time.monotonic()

        updated = backend.update("incident", incident, {"urgency": "high", "work_notes": note})
        time.sleep(max(0.0, slowed_at + DELAY_MS / 1000 + 0.5 - time.monotonic()))  # the held PATCH has landed

        assert updated["urgency"] == "high"
        assert [entry["text"] for entry in backend.journal("incident", incident)].count(note) == 1
        assert sim.request_count("PATCH", path) == 1
    finally:
        sim.admin("DELETE", "faults")
        backend.close()


def test_a_slow_attachment_upload_attaches_once(remote, tmp_path):
    backend = remote.backend
    incident = backend.create("incident", {"short_description": unique("slow attachment")})
    path = tmp_path / "evidence.txt"
    path.write_text(unique("content"))
    upload = remote.attachment.format(id=incident["id"])
    remote.slow("POST", upload)
    sent = remote.count("POST", upload)

    changed, attached = backend.add_attachment("incident", incident, str(path))
    remote.settle()

    assert changed is True
    assert [item["id"] for item in backend.attachments("incident", incident)] == [attached["id"]]
    assert remote.count("POST", upload) == sent + 1


@pytest.mark.parametrize("remote, with_id", [("servicenow", True), ("servicenow", False), ("jsm-cloud", True),
                                             ("jsm-datacenter", True)], indirect=["remote"])
def test_a_slow_create_is_looked_up_not_sent_again(remote, with_id):
    """Create idempotence without the simulator's refusal of a reused sys_id: the POST reaches the server once and
    the record is found by the look-up after the wait. (jsm finds a create by its correlation id only; without one
    a lost answer fails saying the create may have landed.)"""
    backend = remote.backend
    marker = unique("slow create")
    correlation_id = unique("slow") if with_id else None
    remote.slow("POST", remote.create_path)
    sent = remote.count("POST", remote.create_path)

    created = backend.create("incident", {"short_description": marker, "correlation_id": correlation_id})
    remote.settle()

    assert remote.count("POST", remote.create_path) == sent + 1
    assert created["short_description"] == marker
    if correlation_id:
        assert [record["id"] for record in backend.find("incident", {"correlation_id": correlation_id})] == [
            created["id"]]
    else:
        assert [row["number"] for row in remote.sim_rows("incident", f"short_description={marker}")] == [
            created["number"]]
