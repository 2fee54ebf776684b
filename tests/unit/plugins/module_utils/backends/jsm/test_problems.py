# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Problems on the jsm backend (issue 19), against the JSM simulator of each flavour: the Problem issue type of the
default mapping, the incident's problem as a ``Problem/Incident`` issue link, the resolution code's moves that Jira's
workflow cannot check, and a mapping without a problem part, whose backend has no problem records."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import yaml

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmNotFoundError,
    ItsmTransitionError,
    ItsmUnavailableError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend, codec, links
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import mapping as jsm_mapping
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident, problem
from tests.unit.plugins.module_utils.backends import jsm_sim
from tests.unit.plugins.module_utils.runners.conftest import Task


@pytest.fixture
def backend(jsm):
    built = JsmBackend(jsm_sim.settings(jsm), sleep=lambda seconds: None)
    yield built
    built.close()


def _problem(backend, **fields):
    return backend.create("problem", {"short_description": "p", "correlation_id": f"jsm-{uuid.uuid4().hex[:8]}",
                                      **fields})


def test_a_problem_is_an_issue_of_type_problem_and_its_incident_links_to_it(backend):
    made = _problem(backend)
    issue = backend.client.issue(made["number"], fields=("issuetype", "status"))
    assert (issue["fields"]["issuetype"]["name"], issue["fields"]["status"]["name"]) == ("Problem", "Open")
    failure = backend.create("incident", {"short_description": "i", "problem": made["number"]})
    links_of = backend.client.issue(failure["number"], fields=links.ISSUE_FIELDS)["fields"]["issuelinks"]
    assert [(link["type"]["name"], link["inwardIssue"]["key"]) for link in links_of] == [
        ("Problem/Incident", made["number"])]
    assert backend.get("incident", number=failure["number"])["problem"] == made["number"]
    assert [r["number"] for r in backend.find("incident", {"problem": made["number"]})] == [failure["number"]]


def test_a_problem_that_is_not_one_is_refused_naming_the_option(backend):
    change = backend.create("change", {"short_description": "c"})
    with pytest.raises(ItsmNotFoundError, match=f"problem: .* has no problem named '{change['number']}'"):
        backend.create("incident", {"short_description": "i", "problem": change["number"]})


def test_the_resolution_code_decides_the_move_jira_cannot_check(backend):
    analysed = backend.transition("problem", backend.transition("problem", _problem(backend), "assess",
                                                                {"assigned_to": "tech.lead"}), "root_cause_analysis")
    with pytest.raises(ItsmTransitionError, match="from root_cause_analysis to resolved in one step; move it to "
                                                  "fix_in_progress first"):
        backend.transition("problem", analysed, "resolved", {"resolution_code": "fix_applied", "cause_notes": "c",
                                                             "fix_notes": "f"})
    canceled = backend.transition("problem", analysed, "closed", {"resolution_code": "canceled",
                                                                  "close_notes": "not ours"})
    status = backend.client.issue(canceled["number"], fields=("status",))["fields"]["status"]["name"]
    assert (canceled["state"], status) == ("closed", "Canceled")  # the close status of the resolution code


def test_without_a_problem_part_the_backend_has_no_problems_and_says_so(jsm, tmp_path):
    with open(jsm_mapping.DEFAULT_MAPPING, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    del data["problem"]
    older = tmp_path / "before-problems.yml"
    older.write_text(yaml.safe_dump(data), encoding="utf-8")
    backend = JsmBackend(dataclasses.replace(jsm_sim.settings(jsm), jsm_mapping=str(older)),
                         sleep=lambda seconds: None)
    try:
        assert "problems" not in backend.capabilities
        with pytest.raises(ItsmUnavailableError, match="the jsm backend does not support problem records"):
            Task(backend)(problem, correlation_id="x", short_description="x")
        with pytest.raises(ItsmUnavailableError, match="the jsm backend does not support problem records"):
            Task(backend)(incident, correlation_id="x", short_description="x", problem="ITSM-1")
        with pytest.raises(ItsmUnavailableError, match="has no problem part"):
            backend.get("problem", number="ITSM-1")
    finally:
        backend.close()


def test_a_resolved_incident_or_problem_says_when_from_jiras_resolution_date(backend):
    failure = backend.create("incident", {"short_description": "i"})
    resolved = backend.transition("incident", failure, "resolved", {"close_code": "solution_provided",
                                                                    "close_notes": "done"})
    issue = backend.client.issue(failure["number"], fields=("resolutiondate",))
    assert resolved["fields"]["resolved_at"] == codec.canonical_time(issue["fields"]["resolutiondate"])
    assert backend.get("incident", number=failure["number"])["fields"]["resolved_at"] == resolved["fields"]["resolved_at"]
    noted = backend.update("incident", resolved, {"work_notes": "the fix held"})
    assert noted["fields"] == resolved["fields"]  # derived, never stored in opsgate.record
    reopened = backend.transition("incident", noted, "in_progress")
    assert "resolved_at" not in reopened["fields"]
    assert "resolved_at" not in (backend.client.issue(failure["number"], properties=["opsgate.record"])
                                 ["properties"].get("opsgate.record") or {}).get("fields", {})
