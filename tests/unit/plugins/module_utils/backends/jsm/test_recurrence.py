# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/recurrence.py against the JSM simulator, Cloud and Data Center: every recurrence counted in the
issue property, internal comments only when the text is new or the interval has passed, delivery keys once."""

from __future__ import annotations

import datetime as dt

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import recurrence

from .conftest import create_issues, new_label

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
TEXT = "the failure with correlation id web-1 happened again."


def _incident(client) -> str:
    return create_issues(client, 1, new_label(), "Incident")[0]["key"]


def _notes(client, key) -> list[tuple[str, bool]]:
    return [(c["body"], c["jsdPublic"] is False) for c in client.comments(key)]


def test_repeats_are_counted_and_noted_at_most_once_an_interval(client):
    key = _incident(client)
    assert recurrence.recurrence_count(client, key) == 1

    first = recurrence.record_recurrence(client, key, TEXT, now=T0)
    second = recurrence.record_recurrence(client, key, TEXT, now=T0 + dt.timedelta(minutes=5))
    third = recurrence.record_recurrence(client, key, TEXT, now=T0 + dt.timedelta(minutes=20))
    later = recurrence.record_recurrence(client, key, TEXT, now=T0 + dt.timedelta(minutes=61))

    assert [(r["count"], r["noted"]) for r in (first, second, third, later)] == [
        (2, True), (3, False), (4, False), (5, True)]
    assert recurrence.recurrence_count(client, key) == 5
    assert _notes(client, key) == [
        (f"Recurrence #2: {TEXT}", True),
        (f"Recurrence #5: {TEXT}\n(2 recurrences since the last note went unnoted)", True)]


def test_a_new_text_is_noted_at_once_and_the_callers_number_is_replaced(client):
    key = _incident(client)
    recurrence.record_recurrence(client, key, f"Recurrence #2: {TEXT}", now=T0)

    news = recurrence.record_recurrence(client, key, "Recurrence #2: disk full on web-1", now=T0)

    assert (news["count"], news["noted"]) == (3, True)
    assert [body for body, _internal in _notes(client, key)] == [f"Recurrence #2: {TEXT}",
                                                                 "Recurrence #3: disk full on web-1"]


def test_a_delivery_key_counts_once(client):
    key = _incident(client)
    recurrence.record_recurrence(client, key, TEXT, now=T0, once_key="run-1")

    again = recurrence.record_recurrence(client, key, TEXT, now=T0 + dt.timedelta(hours=2), once_key="run-1")

    assert again == {"count": 2, "noted": False, "note": None}
    assert len(_notes(client, key)) == 1


def test_check_mode_predicts_and_writes_nothing(jsm, client):
    key = _incident(client)
    writes = jsm.request_count("PUT") + jsm.request_count("POST", f"/rest/api/2/issue/{key}/comment")

    predicted = recurrence.record_recurrence(client, key, TEXT, True, now=T0)

    assert predicted == {"count": 2, "noted": True, "note": f"Recurrence #2: {TEXT}"}
    assert jsm.request_count("PUT") + jsm.request_count("POST", f"/rest/api/2/issue/{key}/comment") == writes
    assert recurrence.recurrence_count(client, key) == 1 and _notes(client, key) == []


def test_a_damaged_counter_starts_again_rather_than_failing(client):
    key = _incident(client)
    client.set_property(key, recurrence.COUNTER_PROPERTY, {"count": "many", "noted_at": "yesterday"})

    result = recurrence.record_recurrence(client, key, TEXT, now=T0)

    assert (result["count"], result["noted"]) == (2, True)
