# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Look-ups by correlation id while a twin exists (issue 14, item 3).

On ServiceNow a create is two requests (the look-up, then the POST), so forks sharing a correlation id may each
create a record; each then retires its own twin, keeping the oldest. A look-up by another fork in between met two
open holders and failed ("names 2 incidents"). Now a look-up on a backend that retires twins reads again after
short waits (_lookup.TWIN_WAITS) and meets the oldest, the one the retirement keeps; two open holders that outlast
the waits (a record given the id by hand) are still a conflict (test_contract.py has the conflict on every
backend). ``local`` dedups inside its write transaction, so it never has twins: concurrent processes there and on
the simulator both end with no failed task and one open record per id.
"""

from __future__ import annotations

import multiprocessing
import uuid

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils import _lookup
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmConflictError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident as incident_runner
from tests.unit.plugins.module_utils.backends import sn_sim


# -- on the simulator: twins as a create race leaves them, before the retirement ------------------------------

def _post(sim, table: str, body: dict) -> dict:
    answer = requests.post(f"{sim.url}/api/now/table/{table}", json=body, auth=(sim.username, sim.password),
                           verify=sim.cert, timeout=30)
    answer.raise_for_status()
    return answer.json()["result"]


def _delete(sim, table: str, sys_id: str) -> None:
    requests.delete(f"{sim.url}/api/now/table/{table}/{sys_id}", auth=(sim.username, sim.password), verify=sim.cert,
                    timeout=30).raise_for_status()


def test_a_look_up_meeting_twins_reads_again_and_meets_the_one_the_retirement_keeps(make_contract_backend):
    make_contract_backend("servicenow")  # faults cleared
    sim = sn_sim.simulator()
    shared = f"twin-{uuid.uuid4().hex[:8]}"
    first = _post(sim, "incident", {"short_description": "twin one", "correlation_id": shared})
    second = _post(sim, "incident", {"short_description": "twin two", "correlation_id": shared})
    pauses: list[float] = []

    def retire_while_waiting(seconds: float) -> None:  # the fork that created the younger twin retires it meanwhile
        pauses.append(seconds)
        _delete(sim, "incident", second["sys_id"])

    backend = ServiceNowBackend(sn_sim.settings(sim), sleep=retire_while_waiting)
    try:
        found = backend.get("incident", correlation_id=shared)
    finally:
        backend.close()

    assert found["number"] == first["number"]
    assert pauses == [_lookup.TWIN_WAITS[0]]


def test_two_open_holders_that_outlast_the_waits_are_a_conflict(make_contract_backend):
    make_contract_backend("servicenow")
    sim = sn_sim.simulator()
    shared = f"apart-{uuid.uuid4().hex[:8]}"
    _post(sim, "incident", {"short_description": "one", "correlation_id": shared})
    _post(sim, "incident", {"short_description": "two", "correlation_id": shared})
    pauses: list[float] = []
    backend = ServiceNowBackend(sn_sim.settings(sim), sleep=pauses.append)
    try:
        with pytest.raises(ItsmConflictError, match="names 2 incidents"):
            backend.get("incident", correlation_id=shared)
    finally:
        backend.close()

    assert pauses == list(_lookup.TWIN_WAITS)


# -- concurrent processes sharing correlation ids --------------------------------------------------------------

FORKS = 12
TASKS = 3  # per process
GROUP = 4  # processes sharing one correlation id


def _worker(settings: ConnectionSettings, ids: list[str], failures) -> None:
    backend = ServiceNowBackend(settings) if settings.backend == "servicenow" else LocalBackend(settings)
    try:
        for shared in ids:
            try:
                incident_runner.run({"correlation_id": shared, "short_description": f"shared {shared}",
                                     "work_notes": f"seen by {multiprocessing.current_process().name}",
                                     "recurrence_note": False}, backend, False, lambda text: None)
            except Exception as error:  # pylint: disable=broad-except  # every failure is what the test counts
                failures.put(f"{shared}: {type(error).__name__}: {error}")
    finally:
        backend.close()


@pytest.mark.parametrize("name", ["servicenow", "local"])
def test_concurrent_tasks_sharing_ids_never_fail_and_leave_one_open_record_per_id(name, tmp_path):
    if name == "servicenow":
        sim = sn_sim.simulator()
        sim.admin("DELETE", "faults")
        settings = sn_sim.settings(sim)
    else:
        settings = ConnectionSettings(local_db=str(tmp_path / "itsm.sqlite"), username="forks")
    run = uuid.uuid4().hex[:6]
    ids = [[f"fork-{run}-{group}-{task}" for task in range(TASKS)] for group in range(FORKS // GROUP)]
    context = multiprocessing.get_context("fork")
    failures = context.Queue()
    workers = [context.Process(target=_worker, args=(settings, ids[index // GROUP], failures), name=f"fork{index}")
               for index in range(FORKS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    failed = []
    while not failures.empty():
        failed.append(failures.get())
    assert failed == [] and [worker.exitcode for worker in workers] == [0] * FORKS
    backend = ServiceNowBackend(settings) if name == "servicenow" else LocalBackend(settings)
    try:
        for shared in (item for group in ids for item in group):
            holders = list(backend.find("incident", {"correlation_id": shared}))
            assert len([record for record in holders if _lookup.is_open("incident", record)]) == 1, shared
    finally:
        backend.close()
