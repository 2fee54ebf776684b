# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the servicenow backend tests: the ServiceNow simulator, reset around each test, and backends on it."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.unit.plugins.module_utils.backends import sn_sim


@pytest.fixture
def sim():
    running = sn_sim.simulator()
    running.admin("POST", "reset", {})
    yield running
    running.admin("POST", "reset", {})


@pytest.fixture
def make(sim):
    built, warnings = [], []

    def build(**options) -> ServiceNowBackend:
        backend = ServiceNowBackend(sn_sim.settings(sim, **options), warn=warnings.append, sleep=lambda s: None)
        built.append(backend)
        return backend

    build.warnings = warnings
    yield build
    for backend in built:
        backend.close()
