# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrences of a deduplicated incident in the local store: numbered in the write. FOR INTERNAL COLLECTION USE ONLY.

Each recurrence adds the work note ``Recurrence #N: <text>`` (N 2 for the first recurrence, as _lookup numbers
them). N comes from a counter row of the ``counters`` table (``recurrence:<incident id>``, the occurrences so
far), incremented in the same write transaction as the note (issue 14, item 7): the transaction holds the store's
write lock from its first statement (dialect.py: BEGIN IMMEDIATE on SQLite, the advisory lock on PostgreSQL) and
the increment is one UPDATE, so concurrent writers get each number once, and a rollback (a failed note, a killed
process) undoes the increment with the note: the numbers are gapless. A store whose incident has recurrence notes
from before the counter starts it at those notes (read under the same lock).

``once_key`` names one occurrence (the outbox's run marker, part of ``text``): when a note of the incident
carries it, nothing is written.
"""

from __future__ import annotations

from ... import _input as inputs
from ..._lookup import RECURRENCE_PREFIX
from ..._records import INCIDENT
from .._base import Recurrence
from . import schema
from .dialect import Connection
from .schema import Record
from .store import LocalStore

#: the counter row of an incident's recurrences: this prefix and the incident's id
COUNTER_PREFIX = "recurrence:"


def record_recurrence(store: LocalStore, record: Record, text: str, check_mode: bool = False, *,
                      once_key: str | None = None) -> Recurrence:
    """Count one recurrence of the open incident ``record`` and add its note, in one transaction."""
    text = inputs.require_text("work_notes", text)
    now = inputs.now()
    with store.write(check_mode) as conn:
        row = store.row_for(conn, INCIDENT, record)
        counter = COUNTER_PREFIX + str(row.get("id"))
        occurred = _occurrences(conn, counter, row.get("id")) if conn is not None and row.get("id") else 1
        if once_key is not None and conn is not None and _noted(conn, row["id"], once_key):
            return Recurrence(occurred, False, None)
        number = occurred + 1
        note = f"{RECURRENCE_PREFIX}{number}: {text}"
        if check_mode:
            return Recurrence(number, True, note)
        if conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (counter,)).rowcount != 1:
            conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)", (counter, number))
        new = dict(row, updated_at=now)
        store.write_record(conn, INCIDENT, row, new, schema.note_events([("work_notes", note)]), now)
        return Recurrence(number, True, note)


def _occurrences(conn: Connection, counter: str, record_id: str) -> int:
    """The occurrences counted so far (1 until the failure recurs); from the recurrence notes when the incident
    has no counter yet (a store written before the counter, or the first recurrence)."""
    found = conn.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
    if found is not None:
        return int(found[0])
    noted = conn.execute(
        "SELECT COUNT(*) FROM journal WHERE kind = ? AND record_id = ? AND type = 'note' AND field = 'work_notes' "
        "AND substr(text, 1, ?) = ?", (INCIDENT, record_id, len(RECURRENCE_PREFIX), RECURRENCE_PREFIX)).fetchone()[0]
    return int(noted) + 1


def _noted(conn: Connection, record_id: str, once_key: str) -> bool:
    """Whether a note of the incident carries ``once_key`` (an occurrence recorded already)."""
    return any(once_key in (note["text"] or "") for note in schema.read_notes(conn, INCIDENT, [record_id]))
