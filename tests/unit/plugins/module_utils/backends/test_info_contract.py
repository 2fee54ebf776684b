# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""find_limited and journals_for, the reads behind the info modules' ``truncated``, ``total`` and ``include: [notes]``,
on every backend (issue 12). Records are picked by number: the servicenow simulator is shared by the suite."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError


def _numbers(found):
    return [record["number"] for record in found.records]


@pytest.mark.parametrize("kind", ["change", "incident"])
def test_find_limited_tells_a_cut_list_from_a_whole_one_and_counts_the_matches(backend, kind):
    created = [backend.create(kind, {"short_description": f"limited {index}"}) for index in range(3)]
    numbers = [record["number"] for record in created]
    filters = {"number": numbers}

    cut = backend.find_limited(kind, filters, 2)
    whole = backend.find_limited(kind, filters, 3)
    none = backend.find_limited(kind, filters, 0)

    assert (_numbers(cut), cut.truncated, cut.total) == (numbers[:2], True, 3)
    assert (_numbers(whole), whole.truncated, whole.total) == (numbers, False, 3)
    assert (none.records, none.truncated, none.total) == ([], True, 3)
    assert backend.find_limited(kind, filters, None).records == whole.records
    assert whole.records == list(backend.find(kind, filters, limit=3))


def test_find_limited_counts_past_the_window_re_check(backend):
    # A change without an end date lasts an instant: the one that started before the window never matches it,
    # and the limit counts the changes returned, not the ones read.
    before = backend.create("change", {"short_description": "limited window a", "start_date": "2031-03-01T10:00:00Z"})
    inside = backend.create("change", {"short_description": "limited window b", "start_date": "2031-03-01T12:00:00Z",
                                       "end_date": "2031-03-01T13:00:00Z"})
    later = backend.create("change", {"short_description": "limited window c", "start_date": "2031-03-01T14:00:00Z"})
    filters = {"number": [before["number"], inside["number"], later["number"]], "window_start": "2031-03-01T11:00:00Z"}

    cut = backend.find_limited("change", filters, 1)
    whole = backend.find_limited("change", filters, 2)

    assert (_numbers(cut), cut.truncated) == ([inside["number"]], True)
    assert (_numbers(whole), whole.truncated) == ([inside["number"], later["number"]], False)
    assert cut.total in (2, None) and whole.total in (2, None)  # None: the backend cannot count without reading


def test_find_limited_refuses_a_negative_limit_naming_it(backend):
    with pytest.raises(ItsmValidationError, match=r"^limit: -1 is not valid"):
        backend.find_limited("incident", {}, -1)


@pytest.mark.parametrize("kind", ["change", "incident"])
def test_journals_for_lists_each_records_journal_as_journal_does(backend, kind):
    noted = backend.create(kind, {"short_description": "journals a"})
    backend.add_journal(kind, noted, "work_notes", "first look")
    backend.add_journal(kind, noted, "comments", "we are on it")
    quiet = backend.create(kind, {"short_description": "journals b"})

    found = backend.journals_for(kind, [noted["id"], quiet["id"]])

    assert found == {noted["id"]: backend.journal(kind, noted), quiet["id"]: []}
    assert [(entry["field"], entry["text"]) for entry in found[noted["id"]]] == [
        ("work_notes", "first look"), ("comments", "we are on it")]
    assert backend.journals_for(kind, []) == {}
