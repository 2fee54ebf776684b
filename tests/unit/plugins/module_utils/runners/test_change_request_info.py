"""change_request_info run() against a real local store: filters, and the opt-in approvals of each change."""

import re

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_approval, change_request
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request_info as info

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _change(task, name, group="Platform", **args):
    return task(change_request, correlation_id=f"info-{name}", short_description=f"Change {name}",
                assignment_group=group, **args)["record"]["number"]


def _approved(task, name, **args):
    number = _change(task, name, state="assess", **args)
    task(change_approval, number=number, approver="tech.lead", decision="approved", comments="Plan looks fine.")
    task(change_approval, number=number, approver="cab.chair", decision="approved")
    return number


def _count_reads(task, monkeypatch):
    """From now on, the numbers of the changes whose approvals are read, one list per backend read."""
    seen = []
    bulk, single = task.backend.approvals_for, task.backend.approvals

    def counting(ids):
        seen.append([record["number"] for record in task.backend.find("change", {}) if record["id"] in ids])
        return bulk(ids)

    def refused(record):
        raise AssertionError(f"approvals read one change at a time ({record.get('number')})")

    monkeypatch.setattr(task.backend, "approvals_for", counting)
    monkeypatch.setattr(task.backend, "approvals", refused)
    return seen


def test_approvals_are_off_by_default_and_cost_no_read(task, monkeypatch):
    _approved(task, "a")
    reads = _count_reads(task, monkeypatch)
    result = task(info)
    assert result["changed"] is False
    assert [record["short_description"] for record in result["records"]] == ["Change a"]
    assert "approvals" not in result["records"][0]
    assert reads == []


def test_approvals_true_lists_each_changes_decisions_oldest_first(task, monkeypatch):
    approved = _approved(task, "a")
    pending = _change(task, "b")
    reads = _count_reads(task, monkeypatch)
    result = task(info, approvals=True)
    by_number = {record["number"]: record for record in result["records"]}
    decisions = by_number[approved]["approvals"]
    assert [(a["approver"], a["state"], a["stage"], a["comments"]) for a in decisions] == [
        ("tech.lead", "approved", "assess", "Plan looks fine."),
        ("cab.chair", "approved", "authorize", None),
    ]
    assert all(ISO_UTC.match(a["decided_at"]) for a in decisions)
    assert by_number[pending]["approvals"] == []
    assert by_number[approved]["state"] == "scheduled"
    assert reads == [[approved, pending]]
    assert task.warnings == []


def test_one_approvals_read_for_the_returned_changes(task, monkeypatch):
    numbers = [_approved(task, "a"), _change(task, "b"), _change(task, "c")]
    reads = _count_reads(task, monkeypatch)
    task(info, approvals=True, limit=2)
    assert reads == [numbers[:2]]


def test_approvals_are_read_a_hundred_changes_at_a_time(task, monkeypatch):
    monkeypatch.setattr(info, "IDS_PER_READ", 2)
    numbers = [_approved(task, "a"), _change(task, "b"), _change(task, "c")]
    reads = _count_reads(task, monkeypatch)
    result = task(info, approvals=True)
    assert reads == [numbers[:2], numbers[2:]]
    assert [len(record["approvals"]) for record in result["records"]] == [2, 0, 0]


def test_filters_still_apply_with_approvals(task, monkeypatch):
    approved = _approved(task, "a")
    _change(task, "b", group="Network")
    reads = _count_reads(task, monkeypatch)
    result = task(info, approvals=True, approval="approved")
    assert [record["number"] for record in result["records"]] == [approved]
    assert reads == [[approved]]


def test_a_rejection_is_returned_with_its_comments(task):
    number = _change(task, "a", state="assess")
    task(change_approval, number=number, approver="cab.chair", decision="rejected", comments="No backout plan.")
    record = task(info, approvals=True, number=number)["records"][0]
    assert [(a["approver"], a["state"], a["comments"]) for a in record["approvals"]] == [
        ("cab.chair", "rejected", "No backout plan.")
    ]


def test_backend_without_approvals_warns_once_and_returns_empty_lists(task, monkeypatch):
    _approved(task, "a")
    _approved(task, "b")
    _change(task, "c")
    monkeypatch.setattr(task.backend, "capabilities", task.backend.capabilities - {"approvals"})
    reads = _count_reads(task, monkeypatch)
    result = task(info, approvals=True)
    assert len(result["records"]) == 3
    assert [record["approvals"] for record in result["records"]] == [[], [], []]
    assert reads == []
    assert len(task.warnings) == 1
    assert "local backend does not record approvals" in task.warnings[0]


def test_approvals_must_be_a_boolean(task):
    with pytest.raises(ValueError, match="approvals"):
        task(info, approvals="sometimes")


def test_opened_after_keeps_the_changes_opened_since(task):
    number = _change(task, "a")
    assert task(info, opened_after="2000-01-01T00:00:00+02:00")["records"][0]["number"] == number
    assert task(info, opened_after="2999-01-01T00:00:00Z")["records"] == []
    assert task(info, opened_before="2000-01-01T00:00:00Z")["records"] == []


@pytest.mark.parametrize("args, message", [
    (dict(opened_after="yesterday"),
     "opened_after: 'yesterday' is not valid; expected an ISO 8601 date and time with a timezone"),
    (dict(opened_before="2026-11-01T00:00:00"), "opened_before: '2026-11-01T00:00:00' is not valid; the date has no timezone"),
    (dict(opened_after="2026-11-02T00:00:00Z", opened_before="2026-11-01T00:00:00Z"),
     "opened_before: '2026-11-01T00:00:00Z' is not valid; it must not be before opened_after 2026-11-02T00:00:00Z"),
    (dict(window_start="2026-11-02T00:00:00+01:00", window_end="2026-11-01T00:00:00Z"),
     "window_end: '2026-11-01T00:00:00Z' is not valid; it must not be before window_start 2026-11-01T23:00:00Z"),
])
def test_bad_date_filters_are_refused_in_one_sentence_naming_the_option(task, args, message):
    with pytest.raises(ItsmValidationError) as caught:
        task(info, **args)
    assert str(caught.value).startswith(message)


# -- truncated, total (issue 12) -------------------------------------------------------------------

def test_a_list_cut_by_limit_says_so_with_the_total_and_warns(task):
    numbers = [_change(task, "a"), _change(task, "b"), _change(task, "c")]
    result = task(info, limit=2)
    assert [record["number"] for record in result["records"]] == numbers[:2]
    assert result["truncated"] is True
    assert result["total"] == 3
    assert task.warnings == ["limit: returned 2 of 3 matching changes; raise limit (now 2) or narrow the filters "
                             "to get the rest"]


@pytest.mark.parametrize("limit", [2, 1000])
def test_a_whole_list_is_not_truncated_and_nothing_warns(task, limit):
    _change(task, "a")
    _change(task, "b")
    result = task(info, limit=limit)
    assert len(result["records"]) == 2
    assert (result["truncated"], result["total"]) == (False, 2)
    assert task.warnings == []


def test_limit_zero_returns_nothing_but_says_how_many_match(task):
    _change(task, "a")
    result = task(info, limit=0)
    assert (result["records"], result["truncated"], result["total"]) == ([], True, 1)
    assert "returned 0 of 1 matching changes" in task.warnings[0]


def test_a_backend_that_cannot_count_says_more_match(task, monkeypatch):
    # The contract's default find_limited: one record past the limit, no total.
    monkeypatch.setattr(task.backend, "find_limited",
                        lambda kind, filters, limit: ItsmBackend.find_limited(task.backend, kind, filters, limit))
    numbers = [_change(task, "a"), _change(task, "b")]
    result = task(info, limit=1)
    assert [record["number"] for record in result["records"]] == numbers[:1]
    assert (result["truncated"], result["total"]) == (True, None)
    assert task.warnings == ["limit: returned 1 of more than 1 matching changes; raise limit (now 1) or narrow the "
                             "filters to get the rest"]
    assert task(info, limit=2)["truncated"] is False


# -- include: notes, approvals (issue 12) ----------------------------------------------------------

def _count_journal_reads(task, monkeypatch):
    """From now on, the numbers of the records whose journals are read, one list per backend read."""
    seen = []
    bulk = task.backend.journals_for

    def counting(kind, ids):
        seen.append([record["number"] for record in task.backend.find(kind, {}) if record["id"] in ids])
        return bulk(kind, ids)

    def refused(kind, record):
        raise AssertionError(f"journal read one record at a time ({record.get('number')})")

    monkeypatch.setattr(task.backend, "journals_for", counting)
    monkeypatch.setattr(task.backend, "journal", refused)
    return seen


def test_include_notes_returns_each_changes_work_notes_and_comments_in_one_read(task, monkeypatch):
    noted = _change(task, "a", work_notes="Backout plan attached.")
    task(change_request, number=noted, comments="Window agreed with the business.")
    quiet = _change(task, "b")
    reads = _count_journal_reads(task, monkeypatch)
    result = task(info, include=["notes"])
    by_number = {record["number"]: record for record in result["records"]}
    notes = by_number[noted]["notes"]
    assert [(note["field"], note["text"]) for note in notes] == [
        ("work_notes", "Backout plan attached."), ("comments", "Window agreed with the business.")]
    assert all(set(note) == {"field", "text", "author", "created"} and note["author"] == "tester"
               and ISO_UTC.match(note["created"]) for note in notes)
    assert by_number[quiet]["notes"] == []
    assert "approvals" not in by_number[noted]
    assert reads == [[noted, quiet]]


def test_notes_are_off_by_default_and_cost_no_read(task, monkeypatch):
    _change(task, "a", work_notes="Backout plan attached.")
    reads = _count_journal_reads(task, monkeypatch)
    record = task(info)["records"][0]
    assert "notes" not in record
    assert reads == []


def test_notes_are_read_a_hundred_records_at_a_time(task, monkeypatch):
    monkeypatch.setattr(info, "IDS_PER_READ", 2)
    numbers = [_change(task, "a"), _change(task, "b"), _change(task, "c")]
    reads = _count_journal_reads(task, monkeypatch)
    task(info, include=["notes"])
    assert reads == [numbers[:2], numbers[2:]]


def test_include_approvals_is_the_approvals_option(task):
    number = _approved(task, "a")
    by_option = task(info, number=number, approvals=True)["records"][0]
    by_include = task(info, number=number, include=["approvals"])["records"][0]
    assert by_include["approvals"] == by_option["approvals"] and len(by_include["approvals"]) == 2
    both = task(info, number=number, include=["notes", "approvals"])["records"][0]
    assert both["approvals"] == by_option["approvals"]
    assert both["notes"] == []  # approval decisions are approvals, not notes


def test_include_refuses_what_it_cannot_return(task):
    with pytest.raises(ValueError, match=r"include.*attachments|attachments.*include"):
        task(info, include=["attachments"])
