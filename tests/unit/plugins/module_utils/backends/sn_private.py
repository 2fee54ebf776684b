# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ServiceNow simulator of a test module's own, for tests whose data would leak into others.

Blackout schedules apply to every change on an instance, so the blackout tests must not share the
session simulator of sn_sim: a schedule made here would block the contract suite's changes.
"""

from __future__ import annotations

import tempfile
import typing as t

import pytest
import requests

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.simulators.servicenow import harness
from tests.unit.plugins.module_utils.backends import sn_sim


class PrivateInstance:
    """A started, seeded simulator plus the admin writes the tests need."""

    def __init__(self) -> None:
        self.sim = harness.start(tempfile.mkdtemp(prefix="opsgate-sn-blackouts-"))
        sn_sim._seed(self.sim)

    def backend(self) -> ServiceNowBackend:
        return ServiceNowBackend(sn_sim.settings(self.sim), sleep=lambda seconds: None)

    def post(self, table: str, body: t.Mapping[str, t.Any]) -> dict:
        answer = requests.post(f"{self.sim.url}/api/now/table/{table}", json=dict(body),
                               auth=(self.sim.username, self.sim.password), verify=self.sim.cert, timeout=30)
        answer.raise_for_status()
        return answer.json()["result"]

    def patch(self, table: str, sys_id: str, body: t.Mapping[str, t.Any]) -> dict:
        answer = requests.patch(f"{self.sim.url}/api/now/table/{table}/{sys_id}", json=dict(body),
                                auth=(self.sim.username, self.sim.password), verify=self.sim.cert, timeout=30)
        answer.raise_for_status()
        return answer.json()["result"]

    def blackout(self, name: str, entries: t.Sequence[t.Mapping[str, str]], **schedule: str) -> str:
        """A blackout schedule (scoped when ``condition`` is given) with its entries; its sys_id."""
        sys_id = self.post("cmn_schedule_blackout", {"name": name, **schedule})["sys_id"]
        for entry in entries:
            self.post("cmn_schedule_span", {"schedule": sys_id, "name": name, **entry})
        return sys_id

    def detect_conflicts(self, change_id: str) -> None:
        answer = requests.post(f"{self.sim.url}/api/sn_chg_rest/change/{change_id}/conflict",
                               auth=(self.sim.username, self.sim.password), verify=self.sim.cert, timeout=30)
        answer.raise_for_status()

    def stop(self) -> None:
        self.sim.stop()


@pytest.fixture(scope="module")
def instance() -> t.Iterator[PrivateInstance]:
    """One private simulator for the importing test module's tests."""
    private = PrivateInstance()
    yield private
    private.stop()


@pytest.fixture
def backend(instance: PrivateInstance) -> t.Iterator[ServiceNowBackend]:
    """A servicenow backend on the private simulator (replaces the contract suite's ``backend`` here)."""
    built = instance.backend()
    yield built
    built.close()
