# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the backend tests: real local stores under tmp_path, and the contract suite's backends."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend, Record
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm.approvals import user_id
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.unit.plugins.module_utils.backends import jsm_sim, pg_sim, sn_sim


def _local_for_contract(tmp_path) -> ItsmBackend:
    return LocalBackend(ConnectionSettings(local_db=str(tmp_path / "contract" / "itsm.sqlite"), username="contract"))


# The backends the contract suite runs against: name -> (class, factory(tmp_path) -> backend).
# Another backend joins the suite with one entry here, its factory pointing it at a simulator.
CONTRACT_BACKENDS: dict[str, tuple[type[ItsmBackend], t.Callable[..., ItsmBackend]]] = {
    "local": (LocalBackend, _local_for_contract),
    # the same backend on a PostgreSQL server (issue 18): one server per session, a fresh schema per test
    "local-postgresql": (LocalBackend, pg_sim.contract_backend),
    "servicenow": (ServiceNowBackend, sn_sim.contract_backend),
    "jsm-cloud": (JsmBackend, jsm_sim.contract_backend("cloud")),
    "jsm-datacenter": (JsmBackend, jsm_sim.contract_backend("datacenter")),
}


@pytest.fixture(scope="session", autouse=True)
def _stop_simulators():
    """The simulators start on first use (only tests that need them pay for them) and stop with the session."""
    yield
    sn_sim.stop()
    jsm_sim.stop()


def backends_with(*capabilities: str) -> list[str]:
    """Backend names that declare every capability: tests that need one run only where it exists."""
    return [name for name, (cls, _factory) in sorted(CONTRACT_BACKENDS.items())
            if set(capabilities) <= cls.capabilities]


def _build(name: str, tmp_path) -> t.Iterator[ItsmBackend]:
    backend = CONTRACT_BACKENDS[name][1](tmp_path)
    yield backend
    backend.close()


@pytest.fixture(params=sorted(CONTRACT_BACKENDS))
def backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


@pytest.fixture
def make_contract_backend(tmp_path) -> t.Iterator[t.Callable[[str], ItsmBackend]]:
    """``make(name)``: the contract backend ``name``, for tests parametrized by name themselves; closed afterwards."""
    built: list[t.Iterator[ItsmBackend]] = []

    def make(name: str) -> ItsmBackend:
        built.append(_build(name, tmp_path))
        return next(built[-1])

    yield make
    for each in built:
        next(each, None)


@pytest.fixture(params=backends_with("approvals"))
def approvals_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


@pytest.fixture(params=backends_with("cmdb_relations"))
def relations_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


@pytest.fixture(params=backends_with("problems"))
def problems_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    """A backend that keeps problem records (issue 19): test_problem_contract.py."""
    yield from _build(request.param, tmp_path)


@dataclasses.dataclass
class ApprovalScenario:
    """How a backend's workflow asks for a normal change's approval and who answers it, stage by stage.

    local and ServiceNow: assess with an assignment group asks the group's technical approver (tech.lead, then
    authorize), then the CAB (cab.chair, then scheduled); a rejection sends the change back to new. The admin
    connection may decide for anyone. JSM: the same two stages (the technical decision takes the workflow's Request
    approval transition, Planning -> Authorize, whose approval step the CAB Approval group answers); Jira lets an
    approver answer only as themselves, so each stage carries a backend connected as its approver; a rejection
    moves the change back to new (Back to open) as on the others.
    """

    request: t.Callable[[ItsmBackend, Record], Record]  # a new change -> the change awaiting its first approval
    stages: list[tuple[str, ItsmBackend, tuple[str, str]]]  # approver, connected as them, (state, approval) after
    rejected: tuple[str, str]  # (state, approval) after the first stage's rejection


def _assess(backend: ItsmBackend, change: Record) -> Record:
    return backend.transition("change", change, "assess", {"assignment_group": "ops"})


def _admin_decides(backend: ItsmBackend) -> ApprovalScenario:
    return ApprovalScenario(_assess, [("tech.lead", backend, ("authorize", "requested")),
                                      ("cab.chair", backend, ("scheduled", "approved"))], ("new", "rejected"))


def _jsm_approver_decides(backend: ItsmBackend) -> ApprovalScenario:
    stages = []
    for (username, token), after in zip(jsm_sim.STAGE_APPROVERS, (("authorize", "requested"), ("scheduled", "approved"))):
        approver = JsmBackend(dataclasses.replace(backend.settings, username=username, token=token),
                              sleep=lambda seconds: None)
        stages.append((user_id(approver.client, approver.client.myself()), approver, after))
    return ApprovalScenario(_assess, stages, ("new", "rejected"))


APPROVAL_SCENARIOS: dict[str, t.Callable[[ItsmBackend], ApprovalScenario]] = {
    "local": _admin_decides, "servicenow": _admin_decides, "jsm": _jsm_approver_decides}


@pytest.fixture
def approval_scenario(approvals_backend) -> t.Iterator[ApprovalScenario]:
    """The approval scenario of ``approvals_backend``'s workflow; the approvers' own connections closed afterwards."""
    scenario = APPROVAL_SCENARIOS[approvals_backend.name](approvals_backend)
    yield scenario
    for _approver, connected, _after in scenario.stages:
        if connected is not approvals_backend:
            connected.close()


@pytest.fixture(params=backends_with("affected_cis"))
def cis_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


@pytest.fixture
def cis_approval_scenario(cis_backend) -> t.Iterator[ApprovalScenario]:
    """approval_scenario for ``cis_backend`` (every backend with affected CIs has approvals too)."""
    scenario = APPROVAL_SCENARIOS[cis_backend.name](cis_backend)
    yield scenario
    for _approver, connected, _after in scenario.stages:
        if connected is not cis_backend:
            connected.close()


@pytest.fixture
def db_path(tmp_path) -> str:
    """A store path whose directory does not exist yet."""
    return str(tmp_path / "store" / "itsm.sqlite")


@pytest.fixture
def make_local(db_path) -> t.Iterator[t.Callable[..., LocalBackend]]:
    """Build LocalBackends on ``db_path`` (or another ``local_db``); all are closed afterwards."""
    built: list[LocalBackend] = []

    def make(**options: t.Any) -> LocalBackend:
        options.setdefault("local_db", db_path)
        options.setdefault("username", "tester")
        backend = LocalBackend(ConnectionSettings(**options))
        built.append(backend)
        return backend

    yield make
    for backend in built:
        backend.close()


@pytest.fixture
def local(make_local) -> LocalBackend:
    return make_local()


# Known simulator gap (reported to the lead): on the simulator the first approval of a normal change moves
# it from assess straight to scheduled, where ServiceNow (and the canonical model) asks for a second, CAB
# approval in authorize. Strict, so the mark fails as soon as the simulator models both stages.
_SIMULATOR_GAPS = {
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = _SIMULATOR_GAPS.get(item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
