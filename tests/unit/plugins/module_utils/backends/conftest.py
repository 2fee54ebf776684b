# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the backend tests: real local stores under tmp_path, and the contract suite's backends."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.unit.plugins.module_utils.backends import sn_sim


def _local_for_contract(tmp_path) -> ItsmBackend:
    return LocalBackend(ConnectionSettings(local_db=str(tmp_path / "contract" / "itsm.sqlite"), username="contract"))


# The backends the contract suite runs against: name -> (class, factory(tmp_path) -> backend).
# Another backend joins the suite with one entry here, its factory pointing it at a simulator.
CONTRACT_BACKENDS: dict[str, tuple[type[ItsmBackend], t.Callable[..., ItsmBackend]]] = {
    "local": (LocalBackend, _local_for_contract),
    "servicenow": (ServiceNowBackend, sn_sim.contract_backend),
}


@pytest.fixture(scope="session", autouse=True)
def _stop_servicenow_simulator():
    """The simulator starts on first use (only tests that need it pay for it) and stops with the session."""
    yield
    sn_sim.stop()


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


@pytest.fixture(params=backends_with("approvals"))
def approvals_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


@pytest.fixture(params=backends_with("affected_cis"))
def cis_backend(request, tmp_path) -> t.Iterator[ItsmBackend]:
    yield from _build(request.param, tmp_path)


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
