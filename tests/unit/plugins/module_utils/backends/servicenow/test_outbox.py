# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outbox delivery on the ServiceNow simulator, where a template keeps its own description and unknown CIs are refused."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from tests.unit.plugins.module_utils.backends import sn_sim

TEMPLATE = "Patch Linux servers - 1"


@pytest.fixture
def backend(tmp_path):
    built = sn_sim.contract_backend(tmp_path)
    yield built
    built.close()


def test_an_end_item_resent_after_closing_finds_the_change_a_template_described(backend):
    run = rec.Run(run_id=f"job-{uuid.uuid4().hex[:8]}", attempt="a1", playbook="site.yml", template=TEMPLATE)
    item = rec.change_item(run, note=f"recap [{run.marker}]", code="successful")

    first = ob.deliver(backend, item, print)
    again = ob.deliver(backend, item, print)

    changes = list(backend.find("change", {"correlation_id": run.correlation_id}))
    assert [change["number"] for change in changes] == [first["number"]] == [again["number"]]
    assert run.marker not in (changes[0]["description"] or "")  # the template's description replaced the recorder's
    assert changes[0]["state"] == "closed"


def test_an_incident_of_a_host_that_is_no_ci_is_raised_without_one(backend):
    failure = rec.Failure(playbook="site.yml", play="Web", hosts="web", task=f"Deploy {uuid.uuid4().hex[:6]}",
                          host="not-a-ci-anywhere", message="boom")
    item = rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + "a1", "run job-1", {})[0]
    warnings: list[str] = []

    result = ob.deliver(backend, item, warnings.append)

    incident = backend.get("incident", number=result["number"])
    assert result["outcome"] == "created" and incident["configuration_item"] is None
    assert "not-a-ci-anywhere" in incident["description"]
    assert any("without a configuration item" in warning for warning in warnings)


def test_an_incident_names_the_hosts_ci_name_when_given(backend):
    failure = rec.Failure(playbook="site.yml", play="Web", hosts="web", task=f"Deploy {uuid.uuid4().hex[:6]}",
                          host="web1.internal", message="boom", ci_name="db01")
    item = rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + "a1", "run job-1", {})[0]

    result = ob.deliver(backend, item, print)

    assert backend.get("incident", number=result["number"])["configuration_item"] == "db01"


def test_an_incident_caused_by_a_change_that_does_not_exist_is_raised_without_it(backend):
    """ITSM_CHANGE naming no change: the run's incidents are still raised, not refused for ever (issue 12)."""
    failure = rec.Failure(playbook="site.yml", play="Web", hosts="web", task=f"Deploy {uuid.uuid4().hex[:6]}",
                          host="not-a-ci-anywhere", message="boom")
    item = rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + "a1", "run job-1",
                              {"number": "CHG9999999", "correlation_id": None})[0]
    warnings: list[str] = []

    result = ob.deliver(backend, item, warnings.append)

    incident = backend.get("incident", number=result["number"])
    assert result["outcome"] == "created" and not incident["caused_by"] and incident["configuration_item"] is None
    assert "Change: CHG9999999" in incident["description"]
    assert any("CHG9999999" in warning and "without the change that caused it" in warning for warning in warnings)


def test_the_end_of_the_run_says_the_change_was_closed_with_its_code(backend):
    run = rec.Run(run_id=f"job-{uuid.uuid4().hex[:8]}", attempt="a1", playbook="site.yml", template=TEMPLATE)
    started = ob.deliver(backend, rec.change_item(run), print)
    ended = ob.deliver(backend, rec.change_item(run, note=f"recap [{run.marker}]", code="unsuccessful"), print)
    assert (started["outcome"], ended["outcome"]) == ("created", "closed unsuccessful")
