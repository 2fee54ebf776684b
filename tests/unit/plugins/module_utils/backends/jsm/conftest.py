# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the jsm backend tests: the JSM simulator of each flavour (tests/simulators/jsm), started once
per session on first use as tests/fidelity/conftest.py does, and JsmClients pointed at it."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm.client import JsmClient
from tests.simulators.jsm import harness

SEEDED_ASSETS = 30


def _start(tmp_path_factory, flavour: str) -> t.Iterator[harness.RunningJsm]:
    running = harness.start(str(tmp_path_factory.mktemp(f"jsm-unit-{flavour}")), "--seed-assets", str(SEEDED_ASSETS),
                            flavour=flavour)
    yield running
    assert running.stop() == 0, "the JSM simulator must exit cleanly on SIGTERM"


@pytest.fixture(scope="session")
def jsm_cloud_sim(tmp_path_factory):
    yield from _start(tmp_path_factory, "cloud")


@pytest.fixture(scope="session")
def jsm_dc_sim(tmp_path_factory):
    yield from _start(tmp_path_factory, "datacenter")


def _for_test(running: harness.RunningJsm) -> t.Iterator[harness.RunningJsm]:
    running.admin("POST", "reset", {})  # faults, limits and the request log; the data stays
    yield running
    running.admin("POST", "reset", {})


@pytest.fixture(params=["cloud", "datacenter"])
def jsm(request):
    """The simulator of each flavour in turn, faults, limits and request log cleared around the test."""
    yield from _for_test(request.getfixturevalue("jsm_cloud_sim" if request.param == "cloud" else "jsm_dc_sim"))


@pytest.fixture
def jsm_cloud(jsm_cloud_sim):
    yield from _for_test(jsm_cloud_sim)


@pytest.fixture
def jsm_dc(jsm_dc_sim):
    yield from _for_test(jsm_dc_sim)


class Made:
    """What a client factory built, and what its transport said and slept."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.sleeps: list[float] = []
        self.clients: list[JsmClient] = []


@pytest.fixture
def made() -> t.Iterator[Made]:
    record = Made()
    yield record
    for client in record.clients:
        client.close()


@pytest.fixture
def make_client(made, monkeypatch, tmp_path) -> t.Callable[..., JsmClient]:
    """``make_client(sim, **settings)``: a JsmClient on ``sim`` as admin with an API token (username + token)
    unless the settings say otherwise; sleeps are recorded, not slept. Each test starts with an empty site cache
    (client.SiteCache), so its first metadata read goes to the site."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def make(sim: harness.RunningJsm, **options: t.Any) -> JsmClient:
        values: dict[str, t.Any] = dict(backend="jsm", url=sim.url, username=sim.username, token=sim.token,
                                        ca_path=sim.cert, timeout=10.0, retries=3)
        values.update(options)
        client = JsmClient(ConnectionSettings(**{k: v for k, v in values.items() if v is not None}),
                           made.warnings.append, sleep=made.sleeps.append)
        made.clients.append(client)
        return client
    return make


@pytest.fixture
def client(jsm, make_client) -> JsmClient:
    return make_client(jsm)


def new_label() -> str:
    """A label no other test uses: searches filter on it, since the simulators keep their issues all session."""
    return "t" + uuid.uuid4().hex[:12]


def create_issues(client: JsmClient, count: int, label: str, kind: str = "Change",
                  properties: t.Callable[[int], dict] | None = None) -> list[dict]:
    """``count`` issues of the ITSM project carrying ``label``; their ``{id, key}``."""
    made = []
    for index in range(count):
        fields = {"project": {"key": "ITSM"}, "issuetype": {"name": kind}, "summary": f"{label} {index}",
                  "labels": [label]}
        made.append(client.create_issue(fields, properties(index) if properties else None))
    return made
