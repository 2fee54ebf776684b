# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Problems in the local store (issue 19): schema version 4, numbers, the problem model as the store enforces it,
and the incidents' ``problem`` column (real SQLite files)."""

from __future__ import annotations

import sqlite3

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmConflictError, ItsmTransitionError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import schema as local_schema


def _backend(path):
    return LocalBackend(ConnectionSettings(backend="local", local_db=str(path)))


def test_every_problem_field_has_a_column():
    assert set(records.PROBLEM_WRITABLE) <= set(local_schema.columns("problem"))
    assert "problem" in local_schema.columns("incident")


def test_a_version_3_store_gains_problems_and_the_incidents_problem_column(tmp_path):
    path = tmp_path / "v3.sqlite"
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    for number, step in enumerate(local_schema.MIGRATIONS[:3], start=1):
        step(conn)
        conn.execute("INSERT INTO schema_version VALUES (?, 'then')", (number,))
    # as version 3 made it: incidents without the problem column, no problems table, no PRB counter
    conn.execute("ALTER TABLE incidents DROP COLUMN problem")
    conn.close()
    old = _backend(path).create("incident", {"short_description": "before the upgrade"})

    backend = _backend(path)
    problem = backend.create("problem", {"short_description": "p"})
    linked = backend.update("incident", old, {"problem": problem["number"]})

    assert problem["number"] == "PRB0000001" and linked["problem"] == "PRB0000001"
    conn = sqlite3.connect(str(path))
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 4
    assert "incidents_problem" in {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()


def test_problems_are_numbered_apart_from_incidents(tmp_path):
    backend = _backend(tmp_path / "s.sqlite")
    backend.create("incident", {"short_description": "i"})
    numbers = [backend.create("problem", {"short_description": f"p{n}"})["number"] for n in range(2)]
    assert numbers == ["PRB0000001", "PRB0000002"]


def test_the_store_refuses_a_jump_and_a_step_without_its_fields(tmp_path):
    backend = _backend(tmp_path / "s.sqlite")
    problem = backend.create("problem", {"short_description": "p", "assigned_to": "jdoe"})
    with pytest.raises(ItsmTransitionError, match="cannot move PRB0000001 from new to fix_in_progress in one step; "
                                                  "move it to assess first"):
        backend.transition("problem", problem, "fix_in_progress", {"cause_notes": "known"})
    analysed = backend.transition("problem", backend.transition("problem", problem, "assess"), "root_cause_analysis")
    with pytest.raises(ItsmTransitionError, match="cannot move PRB0000001 to resolved: resolution_code must be set"):
        backend.transition("problem", analysed, "resolved")
    with pytest.raises(ItsmTransitionError, match="cannot move PRB0000001 from root_cause_analysis to resolved in one "
                                                  "step; move it to fix_in_progress first"):
        backend.transition("problem", analysed, "resolved", {"resolution_code": "fix_applied"})
    with pytest.raises(ItsmTransitionError, match="cannot move PRB0000001 to resolved: cause_notes, close_notes must"):
        backend.transition("problem", analysed, "resolved", {"resolution_code": "risk_accepted"})
    assert backend.get("problem", number="PRB0000001")["state"] == "root_cause_analysis"


def test_a_correlation_id_names_its_one_open_problem_and_create_returns_it(tmp_path):
    backend = _backend(tmp_path / "s.sqlite")
    first = backend.create("problem", {"short_description": "p", "correlation_id": "sig"})
    assert backend.create("problem", {"short_description": "again", "correlation_id": "sig"}) == first
    assert backend.get("problem", correlation_id="sig", open_only=True) == first
    closed = backend.transition("problem", first, "closed", {"resolution_code": "canceled", "close_notes": "no",
                                                             "assigned_to": "jdoe"})
    assert (closed["active"], bool(closed["closed_at"])) == (False, True)
    assert backend.get("problem", correlation_id="sig", open_only=True) is None
    assert backend.get("problem", correlation_id="sig") == closed  # the newest holder, settled


def test_two_open_holders_of_one_correlation_id_are_a_conflict(tmp_path):
    backend = _backend(tmp_path / "s.sqlite")
    backend.create("problem", {"short_description": "p", "correlation_id": "sig"})
    other = backend.create("problem", {"short_description": "q"})
    backend.update("problem", other, {"correlation_id": "sig"})  # given by hand, which the runner refuses
    with pytest.raises(ItsmConflictError, match="names 2 problems"):
        backend.get("problem", correlation_id="sig")


def test_incidents_of_several_problems_in_one_find(tmp_path):
    backend = _backend(tmp_path / "s.sqlite")
    first, second = (backend.create("problem", {"short_description": name})["number"] for name in "ab")
    for problem in (first, second, None):
        backend.create("incident", {"short_description": "i", "problem": problem})
    found = list(backend.find("incident", {"problem": [first, second]}))
    assert [incident["problem"] for incident in found] == [first, second]
    assert [p["number"] for p in backend.find("problem", {"state": ["new"], "active": True})] == [first, second]
