# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One JSM simulator per flavour per test session, started on first use, for the contract suite.

The seed already holds what the suite names: the ITSM project with its change and incident workflows, the
Assets object types Linux Server and Win Server (ci_class linux_server / win_server) and the CAB approver. The
groups the suite assigns to (sn_sim.CONTRACT_GROUPS) are created on first use.
"""

from __future__ import annotations

import tempfile
import threading
import time
import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from tests.simulators.jsm import harness
from tests.unit.plugins.module_utils.backends.sn_sim import CONTRACT_GROUPS

FLAVOURS = ("cloud", "datacenter")
#: the seed's CAB Approval member and their API token (seed.USERS): only they may answer a change's approval
APPROVER = ("cab.approver", "cab-token")
#: the normal change's two stages' approvers and their API tokens (seed.USERS): the technical lead (group Platform),
#: then a CAB Approval member
STAGE_APPROVERS = (("tech.lead", "tech-lead-token"), ("cab.chair", "cab-chair-token"))
#: the CIs the contract suite names (as sn_sim.CONTRACT_CIS), Assets objects of type Linux Server on every site
CONTRACT_CIS = ("web01", "web02", "web03", "db01")

_lock = threading.Lock()
_running: dict[str, harness.RunningJsm] = {}
CLOUD_INDEX_LAG = 0.1


def simulator(flavour: str) -> harness.RunningJsm:
    with _lock:
        if flavour not in _running:
            state = tempfile.mkdtemp(prefix=f"opsgate-jsm-unit-{flavour}-")
            sim = harness.start(state, flavour=flavour)
            backend = JsmBackend(settings(sim), sleep=lambda seconds: None)
            for name in CONTRACT_CIS:
                backend.put_ci(name, "linux_server", {})
            for group in CONTRACT_GROUPS:  # the groups the suite assigns to, made as a site administrator would
                backend.client.call("POST", "/rest/api/2/group", f"create the group {group}", json_body={"name": group})
            backend.close()
            _running[flavour] = sim
        return _running[flavour]


def stop() -> None:
    with _lock:
        for flavour in list(_running):
            _running.pop(flavour).stop()


def settings(sim: harness.RunningJsm) -> ConnectionSettings:
    return ConnectionSettings(backend="jsm", url=sim.url, username=sim.username, token=sim.token, ca_path=sim.cert,
                              timeout=10.0, retries=3)


def contract_backend(flavour: str) -> t.Callable[..., JsmBackend]:
    """The contract suite's factory for one flavour, as the site administrator; faults and limits of earlier tests
    cleared (the data stays: tests name what they make uniquely).

    Cloud's search index lags (an issue is invisible to search for ``index_lag`` seconds unless the searching
    backend reconciles it). The contract's tests count every record of a kind (the refusal table's "nothing was
    written"), so each starts once the issues of the tests before it are indexed, as if it were the site's only
    writer: the lag is lowered to CLOUD_INDEX_LAG (still far longer than a read right after a create takes, so a
    create the backend did not reconcile is still missed) and the factory waits it out.
    """

    def build(tmp_path) -> JsmBackend:
        sim = simulator(flavour)
        sim.admin("POST", "reset", {})
        if sim.cloud:
            sim.admin("POST", "settings", {"index_lag": CLOUD_INDEX_LAG})
            time.sleep(CLOUD_INDEX_LAG)  # the tests before this one have ended: their issues are indexed after it
        return JsmBackend(settings(sim), sleep=lambda seconds: None)
    return build
