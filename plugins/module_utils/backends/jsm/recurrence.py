# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrences of a deduplicated incident on a Jira site: an exact counter, and notes at a bounded rate.
FOR INTERNAL COLLECTION USE ONLY.

Jira caps an issue at about 5,000 comments (jira-api.md §12), so a failure that recurs every few minutes must
not add a comment each time. Each recurrence increments the counter in the issue property
``opsgate.recurrence`` (occurrences, the first included: the first recurrence is #2, as _lookup numbers them);
an internal comment ``Recurrence #N: <text>`` (a work note, as on the other backends, N the counter's) is added
for the first recurrences (up to #NOTED_FIRST), then at most once an ``interval``, saying how many recurrences
went unnoted since the last note. The rate does not depend on the text: the recorder's differs on every run
(run id, change, marker). After ``max_notes`` recurrence notes on one issue, the last saying so, recurrences are
only counted, so however long a failure recurs its notes stay far below the cap.

``once_key`` (the outbox's run marker) names one occurrence: a delivery retried with the same key is not
counted again (the last KEPT_KEYS keys are kept). The writers of one controller (threads and forked processes)
take turns at the counter, so their numbers are exact and gapless; two controllers recording at the same moment
may still count one (Jira has no conditional update), and the notes they add stay correct.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import typing as t

from ... import _records as records
from ..._errors import ItsmValidationError
from ..._http import Response
from ..._lookup import RECURRENCE_PREFIX
from .._base import Recurrence
from .client import JsmClient

COUNTER_PROPERTY = "opsgate.recurrence"
NOTED_FIRST = 5  # recurrences #2 to #5 are each noted: a failure that came back a few times is worth reading
DEFAULT_INTERVAL = 3600.0  # seconds: after those, at most one note an hour
MAX_NOTES = 1000  # recurrence notes per issue, whatever the time: a fifth of the comment cap at most
KEPT_KEYS = 20
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def recurrence_count(client: JsmClient, key: str) -> int:
    """Occurrences of the incident's failure so far: 1 until it recurs."""
    return _count(client.get_property(key, COUNTER_PROPERTY))


def record_recurrence(client: JsmClient, key: str, text: str, check_mode: bool = False, *,
                      once_key: str | None = None, now: dt.datetime | None = None,
                      interval: float = DEFAULT_INTERVAL, max_notes: int = MAX_NOTES) -> Recurrence:
    """Count one recurrence of the incident ``key`` and note it when due (see the module docstring).

    ``text`` is the recurrence's bare text (no number). A ``once_key`` already counted changes nothing.
    In check mode nothing is written and the Recurrence says what would be.
    """
    now = now or records.utcnow()
    with _serialized(client, key):
        state = client.get_property(key, COUNTER_PROPERTY)
        state = dict(state) if isinstance(state, dict) else {}
        keys = [str(item) for item in state.get("keys") or []]
        if once_key is not None and once_key in keys:
            return Recurrence(_count(state), False, None)
        count = _count(state) + 1
        notes = _int(state.get("notes"), 0)
        due = notes < max_notes and (count <= NOTED_FIRST or _since(state.get("noted_at"), now) >= interval)
        comment = _note(count, text, _int(state.get("noted_count"), 0), last=notes + 1 == max_notes) if due else None
        if check_mode:
            return Recurrence(count, True, comment)
        state.update(count=count, last_at=records.format_datetime(now))
        if once_key is not None:
            state["keys"] = (keys + [once_key])[-KEPT_KEYS:]
        if due:
            state.update(noted_at=records.format_datetime(now), noted_count=count, notes=notes + 1)
        # The counter first: a comment that then fails costs one note, never a second "#N" with the same number.
        client.set_property(key, COUNTER_PROPERTY, state)
    if comment:
        client.add_comment(key, comment, internal=True, recover=lambda: _landed(client, key, comment))
    return Recurrence(count, True, comment)


@contextlib.contextmanager
def _serialized(client: JsmClient, key: str) -> t.Iterator[None]:
    """Held around the counter's read and write: Jira has no conditional update of a property, so the writers of one
    controller take turns (a lock per issue for the threads of this process, and the CreatedIssues lock file's byte
    of the issue for its processes, the forks of a play). Two controllers can still read the same count."""
    with _GUARD:
        lock = _LOCKS.setdefault(f"{client.http.base} {key}", threading.Lock())
    with lock, client.created.claiming(f"recurrence of {key}"):
        yield


def _note(count: int, text: str, noted_count: int, last: bool) -> str:
    comment = f"{RECURRENCE_PREFIX}{count}: {text.strip()}"
    unnoted = count - noted_count - 1 if noted_count else 0
    if unnoted > 0:
        comment += f"\n({unnoted} recurrence{'s' if unnoted > 1 else ''} since the last note went unnoted)"
    if last:
        comment += ("\n(The last recurrence note: later recurrences are counted in the issue property "
                    f"{COUNTER_PROPERTY}.)")
    return comment


def _landed(client: JsmClient, key: str, comment: str) -> Response | None:
    """After a comment POST that may have landed: the comment when the issue carries its exact text (the
    counter in it makes the text unique), else None (send it again)."""
    for entry in client.comments(key):
        if str(entry.get("body") or "").strip() == comment.strip():
            return Response(201, {}, entry, "")
    return None


def _int(value: t.Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _count(state: t.Any) -> int:
    return max(1, _int(state.get("count"), 1)) if isinstance(state, dict) else 1


def _since(moment: t.Any, now: dt.datetime) -> float:
    """Seconds from the ISO 8601 ``moment`` to ``now``; infinite when there is none."""
    if not moment:
        return float("inf")
    try:
        return (now - records.parse_datetime(moment, "noted_at")).total_seconds()
    except ItsmValidationError:  # a damaged counter must not block the incident
        return float("inf")
