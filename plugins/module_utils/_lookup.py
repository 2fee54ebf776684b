# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one look-up rule: which record a number or correlation id names. FOR INTERNAL COLLECTION USE ONLY.

Runners, the recorder's delivery, the outbox, the inventory's change scope and both backends (their
open-record queries, the local store's dedup on create, ServiceNow's twin retirement) take "open" and
"which holder of a correlation id" from here, so the rule is written once:

- by number (or id): that record;
- by correlation id: the one *open* holder (two open holders are a conflict); when none is open and
  the caller does not ask for open records only, the newest holder (retries and re-runs reuse an id,
  so an old settled record sharing it must not make the current one ambiguous).

"Open": a change that is not closed or canceled; an incident that is new, in progress or on hold (a
resolved incident does not absorb a new failure).
"""

from __future__ import annotations

import typing as t

from ._records import CHANGE, CHANGE_STATES, CLOSED_CHANGE_STATES, INCIDENT, OPEN_INCIDENT_STATES, refuse_shared_correlation

Record = t.Mapping[str, t.Any]

OPEN_STATES: dict[str, frozenset[str]] = {
    CHANGE: frozenset(state for state in CHANGE_STATES if state not in CLOSED_CHANGE_STATES),
    INCIDENT: frozenset(OPEN_INCIDENT_STATES),
}

#: the work note that marks a recurrence of a deduplicated incident: "Recurrence #2: ..."
RECURRENCE_PREFIX = "Recurrence #"


def is_open(kind: str, record: Record) -> bool:
    """Whether the record is open (see the module docstring)."""
    return record.get("state") in OPEN_STATES[kind]


def choose(kind: str, correlation_id: str | None, holders: t.Sequence[Record], open_only: bool = False):
    """The record the rule picks among ``holders`` (every record holding ``correlation_id``, oldest first).

    The one open holder; none open: the newest holder, or None when ``open_only``. Two or more open
    holders raise ItsmConflictError naming them.
    """
    current = [record for record in holders if is_open(kind, record)]
    refuse_shared_correlation(kind, correlation_id, current)
    if current:
        return current[0]
    if open_only or not holders:
        return None
    return holders[-1]


def recurrence_number(entries: t.Iterable[Record]) -> int:
    """The number the next recurrence note carries: 2 for the first recurrence (the failure's second time),
    then one more than the recurrence work notes already in ``entries`` (journal entries)."""
    previous = sum(1 for entry in entries
                   if entry.get("field") == "work_notes" and str(entry.get("text") or "").startswith(RECURRENCE_PREFIX))
    return previous + 2


def recurrence_note(entries: t.Iterable[Record], text: str) -> str:
    """The next recurrence work note for a record with these journal ``entries``."""
    return f"{RECURRENCE_PREFIX}{recurrence_number(entries)}: {text}"
