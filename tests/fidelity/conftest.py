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


# -- Jira Service Management simulator (tests/simulators/jsm), one process per flavour ------------------

JSM_SEEDED_ASSETS = 120


def _start_jsm(tmp_path_factory, flavour):
    from tests.simulators.jsm import harness as jsm_harness

    state_dir = str(tmp_path_factory.mktemp(f"jsm-{flavour}"))
    running = jsm_harness.start(state_dir, "--seed-assets", str(JSM_SEEDED_ASSETS), flavour=flavour)
    yield running
    assert running.stop() == 0, "the JSM simulator must exit cleanly on SIGTERM"


@pytest.fixture(scope="session")
def jsm_cloud_sim(tmp_path_factory):
    yield from _start_jsm(tmp_path_factory, "cloud")


@pytest.fixture(scope="session")
def jsm_dc_sim(tmp_path_factory):
    yield from _start_jsm(tmp_path_factory, "datacenter")


def _jsm_for_test(running, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", running.cert)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    running.admin("POST", "reset", {})
    yield running
    running.admin("POST", "reset", {})


@pytest.fixture(params=["cloud", "datacenter"])
def jsm(request, monkeypatch):
    """The JSM simulator of each flavour in turn, CA bundle exported, faults/limits/log cleared around the test."""
    yield from _jsm_for_test(request.getfixturevalue(f"jsm_{'cloud' if request.param == 'cloud' else 'dc'}_sim"),
                             monkeypatch)


@pytest.fixture
def jsm_cloud(jsm_cloud_sim, monkeypatch):
    """The Cloud simulator alone, for behaviour only Cloud has."""
    yield from _jsm_for_test(jsm_cloud_sim, monkeypatch)


@pytest.fixture
def jsm_dc(jsm_dc_sim, monkeypatch):
    """The Data Center simulator alone, for behaviour only Data Center has."""
    yield from _jsm_for_test(jsm_dc_sim, monkeypatch)
