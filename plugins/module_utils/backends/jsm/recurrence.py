# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrences of a deduplicated incident on a Jira site: a counter, and notes at a bounded rate.
FOR INTERNAL COLLECTION USE ONLY.

Jira caps an issue at about 5,000 comments (jira-api.md §12), so a failure that recurs every few minutes must
not add a comment each time. Each recurrence increments the counter in the issue property
``opsgate.recurrence``; an internal comment ``Recurrence #N: <text>`` (a work note, as on the other backends)
is added only when something new is learnt (the text differs from the last note's) or when ``interval``
seconds have passed since the last note, and then says how many recurrences went unnoted in between. The
counter counts occurrences, the first included: the first recurrence is #2, as _lookup numbers them.

``once_key`` (the outbox's run marker) names one occurrence: a delivery retried with the same key is not
counted again (the last 20 keys are kept). Two writers recording at the same moment may count one; the notes
they add stay correct.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import typing as t

from ... import _records as records
from ..._errors import ItsmValidationError
from ..._http import Response
from ..._lookup import RECURRENCE_PREFIX
from .client import JsmClient

COUNTER_PROPERTY = "opsgate.recurrence"
DEFAULT_INTERVAL = 3600.0  # seconds: at most one repeated note an hour
KEPT_KEYS = 20
_NUMBERED = re.compile(re.escape(RECURRENCE_PREFIX) + r"\d+: ?")


def recurrence_count(client: JsmClient, key: str) -> int:
    """Occurrences of the incident's failure so far: 1 until it recurs."""
    return _count(client.get_property(key, COUNTER_PROPERTY))


def record_recurrence(client: JsmClient, key: str, note: str, check_mode: bool = False, *,
                      now: dt.datetime | None = None, interval: float = DEFAULT_INTERVAL,
                      once_key: str | None = None) -> dict[str, t.Any]:
    """Count one recurrence of the incident ``key`` and note it when due.

    ``note`` is the recurrence's text, bare or as _lookup.recurrence_note numbered it (the number is replaced
    by the counter's). Returns ``{count, noted, note}``: the occurrences now counted, whether a comment was
    added (or would be, in check mode), and its text (None when none). A ``once_key`` already counted
    changes nothing and returns ``noted`` False.
    """
    now = now or records.utcnow()
    text = _NUMBERED.sub("", note.strip(), count=1)
    state = client.get_property(key, COUNTER_PROPERTY)
    state = dict(state) if isinstance(state, dict) else {}
    keys = [str(item) for item in state.get("keys") or []]
    if once_key is not None and once_key in keys:
        return {"count": _count(state), "noted": False, "note": None}
    count = _count(state) + 1
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    due = (state.get("noted_digest") != digest or _since(state.get("noted_at"), now) >= interval)
    comment = None
    if due:
        unnoted = count - int(state.get("noted_count") or 1) - 1
        comment = f"{RECURRENCE_PREFIX}{count}: {text}"
        if state.get("noted_count") and unnoted > 0:
            comment += f"\n({unnoted} recurrence{'s' if unnoted > 1 else ''} since the last note went unnoted)"
    if check_mode:
        return {"count": count, "noted": due, "note": comment}
    state.update(count=count, last_at=records.format_datetime(now))
    if once_key is not None:
        state["keys"] = (keys + [once_key])[-KEPT_KEYS:]
    if due:
        state.update(noted_at=records.format_datetime(now), noted_count=count, noted_digest=digest)
    # The counter first: a comment that then fails costs one note, never a second "#N" with the same number.
    client.set_property(key, COUNTER_PROPERTY, state)
    if comment:
        client.add_comment(key, comment, internal=True, recover=lambda: _landed(client, key, comment))
    return {"count": count, "noted": due, "note": comment}


def _landed(client: JsmClient, key: str, comment: str) -> Response | None:
    """After a comment POST that may have landed: the comment when the issue carries its exact text (the
    counter in it makes the text unique), else None (send it again)."""
    for entry in client.comments(key):
        if str(entry.get("body") or "").strip() == comment.strip():
            return Response(201, {}, entry, "")
    return None


def _count(state: t.Any) -> int:
    try:
        return max(1, int((state or {}).get("count") or 1)) if isinstance(state, dict) else 1
    except (TypeError, ValueError):
        return 1


def _since(moment: t.Any, now: dt.datetime) -> float:
    """Seconds from the ISO 8601 ``moment`` to ``now``; infinite when there is none."""
    if not moment:
        return float("inf")
    try:
        return (now - records.parse_datetime(moment, "noted_at")).total_seconds()
    except ItsmValidationError:  # a damaged counter must not block the incident
        return float("inf")
