"""Fixtures for the ServiceNow simulator fidelity suite.

``servicenow_sim`` (session) runs one simulator process on a free loopback port with a
temporary state directory and 200 seeded CMDB servers, and stops it with SIGTERM.
``sim`` (per test) exports ``REQUESTS_CA_BUNDLE`` for the simulator's certificate and clears
fault rules and the request log, so request-count assertions start from zero.
"""

from __future__ import annotations

import pytest
import requests

from tests.simulators.servicenow import harness

SEEDED_SERVERS = 200


@pytest.fixture(scope="session")
def servicenow_sim(tmp_path_factory):
    running = harness.start(str(tmp_path_factory.mktemp("servicenow-sim")), "--seed-cmdb", str(SEEDED_SERVERS))
    yield running
    assert running.stop() == 0, "the simulator must exit cleanly on SIGTERM"


@pytest.fixture
def sim(servicenow_sim, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", servicenow_sim.cert)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    servicenow_sim.admin("POST", "reset", {})
    yield servicenow_sim
    servicenow_sim.admin("POST", "reset", {})


@pytest.fixture
def api(sim):
    """A requests session authenticated as admin against the simulator."""
    session = requests.Session()
    session.auth = (sim.username, sim.password)
    session.headers["Accept"] = "application/json"
    session.base = sim.url
    yield session
    session.close()
