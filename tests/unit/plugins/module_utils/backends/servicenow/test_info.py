# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info modules on the servicenow backend against the simulator: what ``truncated``, ``total`` and
``include: [notes]`` cost in requests (issue 12)."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import journal, reads
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request_info, incident_info
from tests.unit.plugins.module_utils.backends.servicenow.test_backend import admin_post, last_seq, requests_since, unique


def run(runner, backend, warnings, **args):
    spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
    params = ArgumentSpecValidator(spec).validate(args).validated_parameters
    return runner.run(params, backend, False, warnings.append)


def _rows(sim, table, marker, count):
    """Records sharing one correlation id, created as another client would (the backend keeps one per id)."""
    return [admin_post(sim, f"/api/now/table/{table}", {"short_description": marker, "correlation_id": marker})
            for _unused in range(count)]


def test_a_cut_incident_list_is_counted_by_the_same_single_request(sim, make):
    backend = make()
    marker = unique("cut")
    rows = _rows(sim, "incident", marker, 3)
    mark = last_seq(sim)

    result = run(incident_info, backend, make.warnings, correlation_id=marker, limit=2)

    assert [record["id"] for record in result["records"]] == [row["sys_id"] for row in rows[:2]]
    assert (result["truncated"], result["total"]) == (True, 3)
    assert make.warnings == ["limit: returned 2 of 3 matching incidents; raise limit (now 2) or narrow the filters "
                             "to get the rest"]
    sent = requests_since(sim, mark)
    assert [item["path"] for item in sent] == ["/api/now/table/incident"]
    assert "sysparm_no_count=false" in sent[0]["query"]


def test_a_cut_change_list_costs_what_find_costs(sim, make):
    backend = make()
    marker = unique("cut")
    _rows(sim, "change_request", marker, 2)
    mark = last_seq(sim)

    result = run(change_request_info, backend, make.warnings, correlation_id=marker, limit=1)

    assert (len(result["records"]), result["truncated"], result["total"]) == (1, True, 2)
    assert [item["path"] for item in requests_since(sim, mark)] == ["/api/now/table/change_request",
                                                                    "/api/now/table/task_ci"]


def test_a_whole_list_at_a_page_boundary_costs_no_extra_request(sim, make, monkeypatch):
    monkeypatch.setattr(reads, "PAGE_SIZE", 2)
    backend = make()
    marker = unique("whole")
    _rows(sim, "incident", marker, 2)
    mark = last_seq(sim)

    result = run(incident_info, backend, make.warnings, correlation_id=marker, limit=2)

    assert (len(result["records"]), result["truncated"], result["total"]) == (2, False, 2)
    assert len(requests_since(sim, mark)) == 1
    assert make.warnings == []


def test_include_notes_reads_the_notes_of_every_record_in_one_request(sim, make):
    backend = make()
    marker = unique("notes")
    rows = _rows(sim, "incident", marker, 3)
    for row, text in zip(rows, ("first", "second")):
        backend.add_journal("incident", {"id": row["sys_id"]}, "work_notes", f"{text} look")
    backend.add_journal("incident", {"id": rows[0]["sys_id"]}, "comments", "we are on it")
    mark = last_seq(sim)

    result = run(incident_info, backend, make.warnings, correlation_id=marker, include=["notes"])

    notes = [[(note["field"], note["text"], note["author"]) for note in record["notes"]] for record in result["records"]]
    assert notes == [[("work_notes", "first look", "admin"), ("comments", "we are on it", "admin")],
                     [("work_notes", "second look", "admin")], []]
    assert [item["path"] for item in requests_since(sim, mark)] == ["/api/now/table/incident",
                                                                    "/api/now/table/sys_journal_field"]


def test_journals_for_pages_past_a_full_answer(sim, make, monkeypatch):
    monkeypatch.setattr(journal, "JOURNAL_PAGE_SIZE", 2)
    backend = make()
    incident = backend.create("incident", {"short_description": unique("journal pages")})
    for text in ("one", "two", "three"):
        backend.add_journal("incident", incident, "work_notes", text)
    mark = last_seq(sim)

    found = backend.journals_for("incident", [incident["id"]])

    assert [entry["text"] for entry in found[incident["id"]]] == ["one", "two", "three"]
    assert [item["path"] for item in requests_since(sim, mark)] == ["/api/now/table/sys_journal_field"] * 2
