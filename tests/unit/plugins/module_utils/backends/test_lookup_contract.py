# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract's look-up with declared reads (issue 16), on every backend, through the _base API only.

``lookup(include=...)`` returns with the record what approvals(), journal() and affected_ci_ids() return;
what is not asked for is None; nothing one look-up read is kept for the next call.
"""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmNotFoundError, ItsmValidationError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def change(cis_backend, cis_approval_scenario):
    """A change with CIs, notes and the first (technical) approval decided by tech.lead."""
    backend = cis_backend
    record = backend.create("change", {"short_description": "look me up", "configuration_items": ["web01", "db01"],
                                       "correlation_id": unique("lookup")})
    record = cis_approval_scenario.request(backend, record)
    approver, connected, _after = cis_approval_scenario.stages[0]
    record = connected.decide_approval(record, approver, "approved", "fine by me")
    record["first_approver"] = approver
    backend.add_journal("change", record, "work_notes", "plan attached")
    backend.add_journal("change", record, "comments", "  the customer agrees\n")
    return record


@pytest.mark.parametrize("key", ["number", "id", "correlation_id"])
def test_a_look_up_returns_what_it_includes_as_the_parts_own_methods_list_it(cis_backend, change, key):
    backend = cis_backend

    found = backend.lookup("change", **{key: change[key]}, include={"approvals", "journal", "cis"})

    assert found.record == backend.get("change", id=change["id"])
    assert found.approvals == backend.approvals(found.record)
    assert (change["first_approver"], "approved") in [(item["approver"], item["state"]) for item in found.approvals]
    assert found.ci_ids == backend.affected_ci_ids(found.record) and len(found.ci_ids) == 2
    for entry in backend.journal("change", found.record):
        assert found.notes.has(entry["field"], entry["text"])
        assert found.notes.mentions(entry["text"].strip()[:8])
    assert found.notes.has("comments", "the customer agrees")  # whitespace around a text is ignored
    assert found.notes.missing({"work_notes": "plan attached", "comments": "a new comment", "other": None}) == {
        "comments": "a new comment"}
    assert not found.notes.has("comments", "plan attached")  # a text counts in its own field only
    assert not found.notes.mentions("never written")


def test_an_incidents_look_up_includes_its_journal(backend):
    incident = backend.create("incident", {"short_description": "disk full", "correlation_id": unique("disk")})
    backend.add_journal("incident", incident, "work_notes", "disk cleaned")

    found = backend.lookup("incident", correlation_id=incident["correlation_id"], include={"journal"})

    assert found.record["number"] == incident["number"]
    missing = found.notes.missing({"work_notes": "disk cleaned", "comments": "disk cleaned"})
    assert missing == {"comments": "disk cleaned"}
    assert found.approvals is None and found.ci_ids is None


def test_two_look_ups_are_independent(cis_backend, change):
    backend = cis_backend

    first = backend.lookup("change", number=change["number"], include={"approvals"},
                           writes={"assignment_group": "ops", "configuration_items": ["web01"]})
    second = backend.lookup("change", number=change["number"])
    third = backend.lookup("change", number=change["number"], include={"journal"})

    assert first.approvals and first.notes is None and first.ci_ids is None
    assert (second.approvals, second.notes, second.ci_ids) == (None, None, None)
    assert third.approvals is None and third.notes is not None
    assert first.record == second.record == third.record
    # what a look-up read is not the next one's: a note written after it is seen by a new look-up
    backend.add_journal("change", change, "work_notes", "written after the look-up")
    assert not third.notes.has("work_notes", "written after the look-up")
    again = backend.lookup("change", number=change["number"], include={"journal"})
    assert again.notes.has("work_notes", "written after the look-up")


def test_a_look_up_never_refuses_a_name_it_may_write_the_write_does(backend):
    change = backend.create("change", {"short_description": "names", "correlation_id": unique("names")})

    found = backend.lookup("change", correlation_id=change["correlation_id"],
                           writes={"assignment_group": "ops", "configuration_items": ["no-such-ci-anywhere"]})

    assert found.record["number"] == change["number"]
    if backend.name == "servicenow":  # local takes a change's CI names as given (issue 16, D1)
        with pytest.raises(ItsmNotFoundError, match="no-such-ci-anywhere"):
            backend.update("change", found.record, {"configuration_items": ["no-such-ci-anywhere"]})


def test_a_look_up_that_finds_nothing_returns_none_and_reads_no_part(backend):
    assert backend.lookup("change", correlation_id=unique("nobody"), include={"approvals", "journal", "cis"}) is None
    assert backend.lookup("incident", number="INC9999999", include={"journal"}) is None


@pytest.mark.parametrize("kind, include", [("change", {"attachments"}), ("incident", {"approvals"}),
                                           ("incident", {"cis"})])
def test_a_part_the_kind_does_not_have_is_refused_naming_include(backend, kind, include):
    with pytest.raises(ItsmValidationError, match="^include: "):
        backend.lookup(kind, number="CHG0000001", include=include)


def test_a_look_up_needs_a_key(backend):
    with pytest.raises(ItsmValidationError, match="give a number, id or correlation_id"):
        backend.lookup("change", include={"journal"})
