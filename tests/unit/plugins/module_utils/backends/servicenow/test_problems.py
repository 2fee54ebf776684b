# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Problems on the servicenow backend (issue 19), against the simulator: the ``problem`` table and
``incident.problem_id`` as the instance stores them, the instance's own refusals read as the canonical ones, and
twins of one correlation id retired."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError

from .test_backend import _create_at_once, refuse_twin_deletes, table_rows, unique


def test_a_problem_is_a_row_of_the_problem_table_and_an_incident_points_at_it(sim, make):
    backend = make()
    marker = unique("problem")
    problem = backend.create("problem", {"short_description": marker, "correlation_id": marker, "impact": "high",
                                         "urgency": "high", "configuration_item": "web01"})
    failure = backend.create("incident", {"short_description": marker, "problem": problem["number"]})

    (row,) = table_rows(sim, "problem", f"correlation_id={marker}")
    assert (row["number"], row["state"], row["priority"]) == (problem["number"], "101", "1")
    (linked,) = table_rows(sim, "incident", f"number={failure['number']}")
    assert linked["problem_id"]["value"] == problem["id"]
    assert failure["problem"] == problem["number"]


def test_the_instance_refuses_an_owner_less_assess_in_canonical_words(make):
    backend = make()
    problem = backend.create("problem", {"short_description": "no owner", "correlation_id": unique("owner")})
    with pytest.raises(ItsmTransitionError, match="cannot move PRB\\d+ to assess: assigned_to must be set") as caught:
        backend.transition("problem", problem, "assess")
    assert caught.value.details.get("missing") == ["assigned_to"]


def test_problems_created_at_once_with_one_correlation_id_leave_one_record(sim, make):
    marker = unique("problem-twins")

    created = _create_at_once(make, 4, {"short_description": marker, "correlation_id": marker}, kind="problem")

    rows = table_rows(sim, "problem", f"correlation_id={marker}")
    assert len(rows) == 1
    assert {record["number"] for record in created} == {rows[0]["number"]}


def test_a_problem_twin_that_may_not_be_deleted_gives_up_the_correlation_id(sim, make, monkeypatch):
    marker = unique("problem-twins")
    refuse_twin_deletes(monkeypatch)

    created = _create_at_once(make, 3, {"short_description": marker, "correlation_id": marker}, kind="problem")

    survivor = created[0]["number"]
    assert {record["number"] for record in created} == {survivor}
    assert [row["number"] for row in table_rows(sim, "problem", f"correlation_id={marker}")] == [survivor]
    twins = table_rows(sim, "problem", f"short_description={marker}^number!={survivor}")
    assert len(twins) == 2
    for row in twins:
        notes = table_rows(sim, "sys_journal_field", f"element_id={row['sys_id']}^element=work_notes")
        assert [note["value"] for note in notes] == [
            f"Duplicate of {survivor}, created at the same time with the same correlation_id; "
            f"the work goes on in {survivor}."]
