# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""record_recurrence, the contract's one operation for a recurrence of a deduplicated incident (the incident module
and the recorder's outbox call it): what every backend shares, and the numbered note per recurrence of the
backends that keep no counter (local, servicenow). jsm's counter and bounded notes: jsm/test_recurrence.py."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import Recurrence

from tests.unit.plugins.module_utils.backends.conftest import CONTRACT_BACKENDS

TEXT = "the failure with correlation id web-1 happened again."
NOTE_PER_RECURRENCE = sorted(name for name in CONTRACT_BACKENDS if not name.startswith("jsm"))


def _incident(backend):
    return backend.create("incident", {"short_description": "web tier down",
                                       "correlation_id": f"recurrence-{uuid.uuid4().hex[:10]}"})


def _work_notes(backend, record):
    return [entry["text"] for entry in backend.journal("incident", record) if entry["field"] == "work_notes"]


def test_the_first_recurrence_is_number_2_and_noted_on_every_backend(backend):
    record = _incident(backend)

    recurrence = backend.record_recurrence(record, TEXT)

    assert recurrence == Recurrence(2, True, f"Recurrence #2: {TEXT}")
    assert _work_notes(backend, record) == [f"Recurrence #2: {TEXT}"]


def test_an_occurrence_retried_with_its_once_key_is_counted_once_on_every_backend(backend):
    record = _incident(backend)
    text = f"{TEXT} [run-1]"  # the key is part of the text, as the recorder's marker is of its note
    backend.record_recurrence(record, text, once_key="run-1")

    again = backend.record_recurrence(record, text, once_key="run-1")
    later = backend.record_recurrence(record, f"{TEXT} [run-2]", once_key="run-2")

    assert again == Recurrence(2, False, None)
    assert (later.number, later.counted) == (3, True)
    assert [note.split(":")[0] for note in _work_notes(backend, record)] == ["Recurrence #2", "Recurrence #3"]


def test_check_mode_says_what_would_be_noted_and_writes_nothing_on_every_backend(backend):
    record = _incident(backend)

    predicted = backend.record_recurrence(record, TEXT, check_mode=True)

    assert predicted == Recurrence(2, True, f"Recurrence #2: {TEXT}")
    assert _work_notes(backend, record) == []
    assert backend.record_recurrence(record, TEXT).number == 2


@pytest.mark.parametrize("name", NOTE_PER_RECURRENCE)
def test_local_and_servicenow_add_a_numbered_work_note_per_recurrence(name, make_contract_backend):
    # A comment that happens to start like a recurrence note is not one: the count is of work notes alone (issue 16).
    backend = make_contract_backend(name)
    record = _incident(backend)
    backend.add_journal("incident", record, "comments", "Recurrence #1 of the outage, says the caller")

    numbers = [backend.record_recurrence(record, TEXT).number for _time in range(5)]

    assert numbers == [2, 3, 4, 5, 6]
    assert _work_notes(backend, record) == [f"Recurrence #{n}: {TEXT}" for n in range(2, 7)]
