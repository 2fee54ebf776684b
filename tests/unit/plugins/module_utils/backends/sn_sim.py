# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ServiceNow simulator per test session, started on first use, for the servicenow backend tests.

The contract suite names groups and approvers that a fresh instance does not have ("ops",
"tech.lead", ...); ``contract_backend`` creates them once through the Table API, as an administrator
would, so the suite's inputs stay the same for every backend.
"""

from __future__ import annotations

import tempfile
import threading

import requests

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.simulators.servicenow import harness

# group -> members; every member is created as a user with the itil and approver roles
CONTRACT_GROUPS = {
    "ops": ("tech.lead", "cab.chair"),
    "contract-find": (), "contract-filters": (), "contract-opened": (), "web": (),
}
CONTRACT_CIS = ("web01", "web02", "web03", "db01")

_lock = threading.Lock()
_running: list[harness.RunningSimulator] = []


def simulator() -> harness.RunningSimulator:
    with _lock:
        if not _running:
            state = tempfile.mkdtemp(prefix="opsgate-sn-unit-")
            sim = harness.start(state)
            _seed(sim)
            _running.append(sim)
        return _running[0]


def stop() -> None:
    with _lock:
        while _running:
            _running.pop().stop()


def settings(sim: harness.RunningSimulator, **options) -> ConnectionSettings:
    values = dict(backend="servicenow", url=sim.url, username=sim.username, password=sim.password,
                  ca_path=sim.cert, timeout=10.0, retries=3)
    values.update(options)
    return ConnectionSettings(**values)


def contract_backend(tmp_path) -> ServiceNowBackend:
    sim = simulator()
    sim.admin("DELETE", "faults")
    return ServiceNowBackend(settings(sim), sleep=lambda seconds: None)


def _seed(sim: harness.RunningSimulator) -> None:
    session = requests.Session()
    session.auth = (sim.username, sim.password)
    session.verify = sim.cert

    def post(table: str, body: dict) -> str:
        answer = session.post(f"{sim.url}/api/now/table/{table}", json=body, verify=sim.cert, timeout=30)
        answer.raise_for_status()
        return answer.json()["result"]["sys_id"]

    users = {}
    for group, members in CONTRACT_GROUPS.items():
        group_id = post("sys_user_group", {"name": group})
        for member in members:
            if member not in users:
                users[member] = post("sys_user", {"user_name": member, "name": member.replace(".", " ").title(),
                                                  "roles": "itil,approver_user", "active": "true"})
            post("sys_user_grmember", {"user": users[member], "group": group_id})
    # The CAB stage of a normal change asks the "CAB Approval" group; the contract's CAB chair sits on it.
    cab = session.get(f"{sim.url}/api/now/table/sys_user_group", params={"sysparm_query": "name=CAB Approval"},
                      verify=sim.cert, timeout=30).json()["result"][0]["sys_id"]
    post("sys_user_grmember", {"user": users["cab.chair"], "group": cab})
    for name in CONTRACT_CIS:
        post("cmdb_ci_linux_server", {"name": name})
    session.close()
