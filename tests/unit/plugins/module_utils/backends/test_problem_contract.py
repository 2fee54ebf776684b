# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract for problem records (issue 19), through the _base API only, on every backend that declares the
``problems`` capability (``problems_backend``): the record, the look-up rule, the problem model as each system
enforces it, re-analysis, the journal, check mode and the incident's link to its problem.

Correlation ids are unique per test: the ServiceNow simulator is shared by the session.
"""

from __future__ import annotations

import re
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError

PROBLEM_NUMBER = re.compile(r"^PRB\d+$")
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
OWNER = {"assigned_to": "tech.lead"}  # a user of every contract backend (local takes any name)


def _cid(name):
    return f"contract-problem-{name}-{uuid.uuid4().hex[:8]}"


def _problem(backend, name, **fields):
    return backend.create("problem", {"short_description": f"problem {name}", "correlation_id": _cid(name), **fields})


def _walk(backend, problem, *steps):
    for state, fields in steps:
        problem = backend.transition("problem", problem, state, fields)
        assert problem["state"] == state
    return problem


def test_create_returns_a_canonical_problem_in_state_new(problems_backend):
    problem = _problem(problems_backend, "create", impact="high", urgency="medium", description="why it fails")
    assert set(problem) == set(records.PROBLEM_FIELDS)
    assert (ISSUE_KEY if problems_backend.name == "jsm" else PROBLEM_NUMBER).match(problem["number"])
    assert (problem["backend"], problem["state"], problem["active"]) == (problems_backend.name, "new", True)
    assert (problem["impact"], problem["urgency"], problem["priority"]) == ("high", "medium", "high")
    assert problem["description"] == "why it fails" and problem["resolution_code"] is None


def test_a_problem_is_found_by_number_id_and_its_open_correlation_id(problems_backend):
    problem = _problem(problems_backend, "get")
    cid = problem["correlation_id"]
    assert problems_backend.get("problem", number=problem["number"]) == problem
    assert problems_backend.get("problem", id=problem["id"]) == problem
    assert problems_backend.get("problem", correlation_id=cid, open_only=True) == problem
    closed = problems_backend.transition("problem", problem, "closed",
                                         dict(OWNER, resolution_code="canceled", close_notes="not ours"))
    assert (closed["state"], closed["active"], closed["resolution_code"]) == ("closed", False, "canceled")
    assert problems_backend.get("problem", correlation_id=cid, open_only=True) is None
    assert problems_backend.get("problem", correlation_id=cid)["number"] == problem["number"]


def test_the_walk_to_resolved_and_closed_with_a_fix_then_re_analysis(problems_backend):
    problem = _problem(problems_backend, "walk")
    fixed = _walk(problems_backend, problem, ("assess", OWNER), ("root_cause_analysis", {}),
                  ("fix_in_progress", {"cause_notes": "timeout too short", "fix_notes": "raise it"}),
                  ("resolved", {"resolution_code": "fix_applied"}))
    assert fixed["active"] is True and fixed["closed_at"] is None and fixed["fields"].get("resolved_at")
    closed = _walk(problems_backend, fixed, ("closed", {}))
    assert (closed["active"], closed["resolution_code"], bool(closed["closed_at"])) == (False, "fix_applied", True)
    again = _walk(problems_backend, closed, ("root_cause_analysis", {}))
    assert (again["active"], again["resolution_code"], again["closed_at"]) == (True, None, None)
    assert "resolved_at" not in again["fields"]
    assert problems_backend.get("problem", number=problem["number"])["state"] == "root_cause_analysis"


def test_a_jump_is_refused_and_the_problem_stays(problems_backend):
    problem = _problem(problems_backend, "jump", **OWNER)
    with pytest.raises(ItsmTransitionError):
        problems_backend.transition("problem", problem, "fix_in_progress", {"cause_notes": "c", "fix_notes": "f"})
    assert problems_backend.get("problem", number=problem["number"])["state"] == "new"


def test_a_step_without_its_fields_is_refused_naming_them(problems_backend):
    problem = _walk(problems_backend, _problem(problems_backend, "fields"), ("assess", OWNER),
                    ("root_cause_analysis", {}))
    with pytest.raises(ItsmTransitionError, match="cause_notes, fix_notes") as refused:
        problems_backend.transition("problem", problem, "fix_in_progress")
    assert refused.value.details.get("missing") == ["cause_notes", "fix_notes"]
    assert problems_backend.get("problem", number=problem["number"])["state"] == "root_cause_analysis"


def test_a_risk_accepted_from_analysis_resolves_it(problems_backend):
    problem = _walk(problems_backend, _problem(problems_backend, "risk"), ("assess", OWNER),
                    ("root_cause_analysis", {}),
                    ("resolved", {"resolution_code": "risk_accepted", "cause_notes": "vendor bug",
                                  "close_notes": "we live with it"}))
    assert (problem["resolution_code"], problem["cause_notes"]) == ("risk_accepted", "vendor bug")


def test_update_and_journal(problems_backend):
    problem = _problem(problems_backend, "journal")
    updated = problems_backend.update("problem", problem, {"workaround": "restart by hand", "urgency": "high",
                                                           "work_notes": "Change CHG0000001 failed"})
    assert (updated["workaround"], updated["priority"]) == ("restart by hand", "moderate")
    problems_backend.add_journal("problem", updated, "comments", "we are on it")
    entries = [(entry["field"], entry["text"]) for entry in problems_backend.journal("problem", updated)]
    assert entries == [("work_notes", "Change CHG0000001 failed"), ("comments", "we are on it")]


def test_check_mode_writes_nothing(problems_backend):
    cid = _cid("check")
    predicted = problems_backend.create("problem", {"short_description": "p", "correlation_id": cid},
                                        check_mode=True)
    assert predicted["state"] == "new" and predicted["number"] is None
    assert problems_backend.get("problem", correlation_id=cid) is None


def test_an_incident_links_to_its_problem_and_is_found_by_it(problems_backend):
    first, second = _problem(problems_backend, "link-a"), _problem(problems_backend, "link-b")
    incident = problems_backend.create("incident", {"short_description": "i", "problem": first["number"]})
    assert incident["problem"] == first["number"]
    other = problems_backend.create("incident", {"short_description": "j", "correlation_id": _cid("j")})
    other = problems_backend.update("incident", other, {"problem": second["number"]})
    assert problems_backend.get("incident", number=other["number"])["problem"] == second["number"]
    found = list(problems_backend.find("incident", {"problem": [first["number"], second["number"]]}))
    assert sorted(record["number"] for record in found) == sorted([incident["number"], other["number"]])
    unlinked = problems_backend.update("incident", other, {"problem": None})
    assert unlinked["problem"] is None
    assert [r["number"] for r in problems_backend.find("incident", {"problem": second["number"]})] == []


def test_find_problems_by_correlation_id_state_and_activity(problems_backend):
    problem = _problem(problems_backend, "find")
    cid = problem["correlation_id"]
    assert [p["number"] for p in problems_backend.find("problem", {"correlation_id": cid, "state": ["new"],
                                                                   "active": True})] == [problem["number"]]
    assert list(problems_backend.find("problem", {"correlation_id": cid, "state": ["assess"]})) == []
