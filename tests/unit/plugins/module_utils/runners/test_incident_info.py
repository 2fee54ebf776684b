"""incident_info run() against a real local store: the opened_at filters."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident_info as info


def test_opened_after_and_before_keep_the_incidents_opened_in_the_range(task):
    opened = task(incident, correlation_id="info-a", short_description="Disk full")["record"]
    numbers = [record["number"] for record in task(info, opened_after=opened["opened_at"],
                                                   opened_before=opened["opened_at"])["records"]]
    assert numbers == [opened["number"]]
    assert task(info, opened_after="2999-01-01T00:00:00Z")["records"] == []
    assert task(info, opened_before="2000-01-01T00:00:00-05:00")["records"] == []


def test_an_opened_after_without_a_timezone_is_refused_naming_the_option(task):
    with pytest.raises(ItsmValidationError, match=r"^opened_after: '2026-11-01 10:00' is not valid; the date has no timezone"):
        task(info, opened_after="2026-11-01 10:00")


def _incident(task, name, **args):
    return task(incident, correlation_id=f"info-{name}", short_description=f"Failure {name}", **args)["record"]["number"]


def test_a_list_cut_by_limit_says_so_with_the_total_and_warns(task):
    numbers = [_incident(task, "a"), _incident(task, "b")]
    result = task(info, limit=1)
    assert [record["number"] for record in result["records"]] == numbers[:1]
    assert (result["truncated"], result["total"]) == (True, 2)
    assert task.warnings == ["limit: returned 1 of 2 matching incidents; raise limit (now 1) or narrow the filters "
                             "to get the rest"]
    assert (task(info, limit=2)["truncated"], len(task.warnings)) == (False, 1)


def test_include_notes_returns_the_recurrence_notes_in_one_read(task, monkeypatch):
    first = _incident(task, "a", work_notes="Seen on web01.")
    _incident(task, "a", work_notes="Seen again.")  # the same open incident: a recurrence
    other = _incident(task, "b")
    reads = []
    bulk = task.backend.journals_for
    monkeypatch.setattr(task.backend, "journals_for", lambda kind, ids: reads.append((kind, len(ids))) or bulk(kind, ids))
    monkeypatch.setattr(task.backend, "journal", lambda kind, record: pytest.fail("journal read per record"))

    records = {record["number"]: record for record in task(info, include=["notes"])["records"]}

    texts = [note["text"] for note in records[first]["notes"]]
    assert texts[0] == "Seen on web01."
    assert "Seen again." in texts and any(text.startswith("Recurrence #") for text in texts)
    assert all(note["field"] == "work_notes" for note in records[first]["notes"])
    assert records[other]["notes"] == []
    assert reads == [("incident", 2)]
    assert "notes" not in task(info)["records"][0]


def test_include_offers_notes_only(task):
    with pytest.raises(ValueError, match="approvals"):
        task(info, include=["approvals"])
