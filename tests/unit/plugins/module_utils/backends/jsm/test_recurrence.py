# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/recurrence.py against the JSM simulator, Cloud and Data Center: every recurrence counted in the
issue property, internal comments at a rate that does not depend on the text (the first recurrences, then at most
one an interval), delivery keys counted once; and the incident module and the recorder's outbox recording their
recurrences through it, so a failure recurring hundreds of times stays far below the per-issue comment cap."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import Recurrence
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend, recurrence
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident as incident_runner
from tests.unit.plugins.module_utils.runners.conftest import Task

from .conftest import create_issues, new_label

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
TEXT = "the failure with correlation id web-1 happened again."


def _incident(client) -> str:
    return create_issues(client, 1, new_label(), "Incident")[0]["key"]


def _notes(client, key) -> list[tuple[str, bool]]:
    return [(c["body"], c["jsdPublic"] is False) for c in client.comments(key)]


def _minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def backend(jsm):
    built = JsmBackend(ConnectionSettings(backend="jsm", url=jsm.url, username=jsm.username, token=jsm.token,
                                          ca_path=jsm.cert, timeout=10.0, retries=3), sleep=lambda seconds: None)
    yield built
    built.close()


def test_the_first_recurrences_are_each_noted_then_one_an_interval_saying_how_many_went_unnoted(client):
    key = _incident(client)
    assert recurrence.recurrence_count(client, key) == 1

    results = [recurrence.record_recurrence(client, key, TEXT, now=_minutes(n)) for n in (0, 1, 2, 3, 4, 20, 64, 70)]

    assert [(r.number, r.counted, r.note is not None) for r in results] == [
        (2, True, True), (3, True, True), (4, True, True), (5, True, True),  # the first recurrences: #2 to #5
        (6, True, False), (7, True, False),  # within the hour after #5's note
        (8, True, True),  # an hour after it
        (9, True, False)]
    assert recurrence.recurrence_count(client, key) == 9
    assert _notes(client, key) == [(f"Recurrence #{n}: {TEXT}", True) for n in (2, 3, 4, 5)] + [
        (f"Recurrence #8: {TEXT}\n(2 recurrences since the last note went unnoted)", True)]


def test_the_rate_does_not_depend_on_the_text(client):
    # The recorder's note differs on every run (run id, change, marker): a new text is no reason for a note.
    key = _incident(client)
    for n in range(4):
        recurrence.record_recurrence(client, key, f"{TEXT} [run-{n}]", now=_minutes(n))

    held = [recurrence.record_recurrence(client, key, f"{TEXT} [run-{n}]", now=_minutes(n)) for n in range(4, 40)]

    assert {r.note for r in held} == {None} and held[-1].number == 41
    assert len(_notes(client, key)) == 4


def test_120_recurrences_are_all_counted_and_never_reach_a_small_comment_cap(jsm, client):
    # The site allows 6 comments per issue here (Jira: about 5,000); a failure recurring every minute for two hours
    # is counted 120 times, with 5 notes: #2 to #5, then one an hour.
    jsm.admin("POST", "settings", {"comment_cap": 6})
    key = _incident(client)

    results = [recurrence.record_recurrence(client, key, TEXT, now=_minutes(n)) for n in range(120)]

    assert [r.number for r in results] == list(range(2, 122)) and recurrence.recurrence_count(client, key) == 121
    notes = [body for body, internal in _notes(client, key) if internal]
    assert [note.split(":")[0] for note in notes] == [f"Recurrence #{n}" for n in (2, 3, 4, 5, 65)]
    assert notes[-1].endswith("(59 recurrences since the last note went unnoted)")
    client.add_comment(key, "a person's comment", internal=False)  # the cap is the site's: that fills the issue
    with pytest.raises(ItsmError, match="limit of 6 comments"):
        client.add_comment(key, "one too many", internal=False)


def test_after_the_last_note_allowed_recurrences_are_only_counted(client):
    key = _incident(client)

    results = [recurrence.record_recurrence(client, key, TEXT, now=_minutes(60 * n), max_notes=3) for n in range(6)]

    assert [r.number for r in results] == [2, 3, 4, 5, 6, 7]
    notes = [body for body, _internal in _notes(client, key)]
    assert [note.split(":")[0] for note in notes] == ["Recurrence #2", "Recurrence #3", "Recurrence #4"]
    assert "later recurrences are counted in the issue property opsgate.recurrence" in notes[-1]


def test_a_delivery_key_counts_once(client):
    key = _incident(client)
    recurrence.record_recurrence(client, key, TEXT, now=T0, once_key="run-1")

    again = recurrence.record_recurrence(client, key, TEXT, now=T0 + dt.timedelta(hours=2), once_key="run-1")

    assert again == Recurrence(2, False, None)
    assert recurrence.recurrence_count(client, key) == 2 and len(_notes(client, key)) == 1


def test_check_mode_predicts_and_writes_nothing(jsm, client):
    key = _incident(client)
    writes = jsm.request_count("PUT") + jsm.request_count("POST", f"/rest/api/2/issue/{key}/comment")

    predicted = recurrence.record_recurrence(client, key, TEXT, True, now=T0)

    assert predicted == Recurrence(2, True, f"Recurrence #2: {TEXT}")
    assert jsm.request_count("PUT") + jsm.request_count("POST", f"/rest/api/2/issue/{key}/comment") == writes
    assert recurrence.recurrence_count(client, key) == 1 and _notes(client, key) == []


def test_a_damaged_counter_starts_again_rather_than_failing(client):
    key = _incident(client)
    client.set_property(key, recurrence.COUNTER_PROPERTY, {"count": "many", "noted_at": "yesterday", "notes": "x"})

    result = recurrence.record_recurrence(client, key, TEXT, now=T0)

    assert (result.number, result.counted, result.note) == (2, True, f"Recurrence #2: {TEXT}")


# -- the callers: the incident module and the recorder's outbox, on jsm --------------------------------------------

def test_the_incident_module_counts_every_run_and_notes_the_first_few_only(backend):
    task = Task(backend)
    failure = dict(correlation_id=f"recurring-{uuid.uuid4().hex[:10]}", short_description="Restart failed")
    first = task(incident_runner, **failure)

    runs = [task(incident_runner, **failure) for _run in range(7)]
    checked = task(incident_runner, check_mode=True, **failure)

    key = first["record"]["number"]
    assert all(r["recurred"] and r["changed"] and r["record"]["number"] == key for r in runs)
    assert checked["recurred"] and checked["changed"]
    assert recurrence.recurrence_count(backend.client, key) == 8  # the check mode run counted nothing
    notes = [entry["text"] for entry in backend.journal("incident", first["record"])]
    assert [note.split(":")[0] for note in notes] == ["Recurrence #2", "Recurrence #3", "Recurrence #4",
                                                      "Recurrence #5"]
    assert set(first["record"]) == set(runs[-1]["record"])  # the module's record: the same shape as on create


def _recorded_failure(playbook: str, attempt: str) -> dict:
    failure = rec.Failure(playbook=playbook, play="Web", hosts="web", task="Deploy", host="web1", message="boom")
    return rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + attempt, f"run {attempt}", {})[0]


def test_the_outbox_counts_a_runs_recurrence_once_however_often_it_is_delivered(backend):
    playbook = f"site-{uuid.uuid4().hex[:10]}.yml"  # a correlation id no other test's incident holds
    created = ob.deliver(backend, _recorded_failure(playbook, "a1"), print)

    outcomes = [ob.deliver(backend, _recorded_failure(playbook, attempt), print)["outcome"]
                for attempt in ("a2", "a2", "a3", "a3", "a4")]

    assert created["outcome"] == "created"
    assert outcomes == ["recurred", "unchanged", "recurred", "unchanged", "recurred"]
    assert recurrence.recurrence_count(backend.client, created["number"]) == 4
    record = backend.get("incident", number=created["number"])
    notes = [entry["text"] for entry in backend.journal("incident", record)]
    assert [note.split(":")[0] for note in notes] == ["Recurrence #2", "Recurrence #3", "Recurrence #4"]
    assert all(f"[{rec.MARKER_PREFIX}a{n}]" in note for n, note in zip((2, 3, 4), notes))
