# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Problems from recurring failures (issue 19, ``problem_after``). FOR INTERNAL COLLECTION USE ONLY.

One rule, used by the recorder's delivery (_outbox) and the incident module (the incident_on_failure role):

- a failure's occurrences are those of its signature, the incidents' correlation id: each incident holding it
  counts once (the failure that raised it), each ``Recurrence #N`` work note once, counted when dated inside the
  window (``problem_window`` days back from now);
- when an open problem of the signature exists, every new occurrence updates it; otherwise the occurrence that
  reaches ``problem_after`` raises it. Its correlation id is derived from the incident's
  (``ansible-failure-<hash>`` -> ``ansible-problem-<hash>``), so one signature has one problem: the backend finds it
  before creating (local: inside the write transaction, servicenow: twins retired), whatever runs raise it at once;
- the problem's statement is the incident's description (task, hosts, module, messages; redacted by the caller);
  the incident is linked to it (the incident's ``problem``), and each failed change adds one work note
  ``Change CHG0000012 failed: <what failed>``, written once (a retried delivery finds its text).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from . import _lookup
from ._errors import ItsmValidationError
from ._lookup import JournalTexts
from ._records import INCIDENT, PROBLEM, created, parse_datetime, utcnow

if t.TYPE_CHECKING:  # the recorder imports this module when it loads: no backend code then
    from .backends._base import ItsmBackend

Record = dict[str, t.Any]

INCIDENT_PREFIX = "ansible-failure-"
PROBLEM_PREFIX = "ansible-problem-"
DEFAULT_WINDOW_DAYS = 30.0


@dataclasses.dataclass(frozen=True)
class Threshold:
    """``after`` occurrences within ``window_days`` raise a problem; ``after`` 0 is off."""

    after: int = 0
    window_days: float = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0 or self.after == 1:
            raise ItsmValidationError("problem_after", self.after, "expected 0 (no problems) or a number of "
                                      "occurrences of 2 or more")
        if isinstance(self.window_days, bool) or not isinstance(self.window_days, (int, float)) or self.window_days <= 0:
            raise ItsmValidationError("problem_window", self.window_days, "expected a number of days greater than 0")

    @property
    def on(self) -> bool:
        return self.after > 0


def problem_correlation_id(incident_correlation_id: str) -> str:
    """The problem of a signature: the incident's id with the problem's prefix (any other id: prefixed)."""
    if incident_correlation_id.startswith(INCIDENT_PREFIX):
        return PROBLEM_PREFIX + incident_correlation_id[len(INCIDENT_PREFIX):]
    return (PROBLEM_PREFIX + incident_correlation_id)[:100]


def occurrences(backend: ItsmBackend, incident_correlation_id: str, since: dt.datetime) -> tuple[int, list[Record]]:
    """How often the signature failed since ``since`` (see the module docstring), and its incidents, oldest first."""
    incidents = list(backend.find(INCIDENT, {"correlation_id": incident_correlation_id}))
    count = sum(1 for record in incidents if _at_or_after(record.get("opened_at"), since))
    journals = backend.journals_for(INCIDENT, [record["id"] for record in incidents]) if incidents else {}
    for entries in journals.values():
        count += sum(1 for entry in entries if entry.get("field") == "work_notes"
                     and str(entry.get("text") or "").startswith(_lookup.RECURRENCE_PREFIX)
                     and _at_or_after(entry.get("created"), since))
    return count, incidents


def _at_or_after(value: t.Any, since: dt.datetime) -> bool:
    try:
        return bool(value) and parse_datetime(value, "opened_at") >= since
    except ItsmValidationError:
        return False


def change_note(change_number: str | None, what: str) -> str:
    """The problem's work note for one failed change (the change report reads ``Change <number>``)."""
    return f"Change {change_number} failed: {what}" if change_number else f"A run without a change failed: {what}"


def raise_or_update(backend: ItsmBackend, incident_correlation_id: str, threshold: Threshold, *, summary: str,
                    statement: str, note: str, check_mode: bool = False,
                    now: dt.datetime | None = None) -> dict[str, t.Any] | None:
    """Raise the signature's problem once it recurred ``threshold.after`` times in the window, or update the open
    one: link the signature's open incident and add ``note`` (once). Returns ``{number, outcome, occurrences}``
    (outcome ``created``, ``updated`` or ``unchanged``), or None when the threshold is off or not reached."""
    if not threshold.on:
        return None
    since = (now or utcnow()) - dt.timedelta(days=threshold.window_days)
    key = problem_correlation_id(incident_correlation_id)
    found = backend.lookup(PROBLEM, correlation_id=key, open_only=True, include={"journal"})
    count, incidents = occurrences(backend, incident_correlation_id, since)
    if found is None and count < threshold.after:
        return None
    outcome = "unchanged"
    if found is None:
        incident = incidents[-1] if incidents else {}
        # A run raising it at the same moment gets this same problem back (the create finds it first), so the note
        # is written apart, once, after reading the journal.
        problem = created(backend.create(PROBLEM, {
            "short_description": summary[:160], "description": statement, "correlation_id": key,
            "impact": incident.get("impact") or "medium", "urgency": incident.get("urgency") or "medium"},
            check_mode=check_mode))[0]
        outcome = "created"
        notes = None if check_mode else JournalTexts.from_entries(backend.journal(PROBLEM, problem))
    else:
        problem, notes = found.record, found.notes
    if notes is None or notes.missing({"work_notes": note}):
        backend.add_journal(PROBLEM, problem, "work_notes", note, check_mode=check_mode, known_notes=notes)
        outcome = "updated" if outcome == "unchanged" else outcome
    for incident in incidents:
        if _lookup.is_open(INCIDENT, incident) and problem.get("number") and incident.get("problem") != problem["number"]:
            backend.update(INCIDENT, incident, {"problem": problem["number"]}, check_mode=check_mode)
            outcome = "updated" if outcome == "unchanged" else outcome
    return {"number": problem.get("number"), "outcome": outcome, "occurrences": count}


def threshold_of(after: t.Any, window: t.Any) -> Threshold:
    """A Threshold from option values (``problem_after``, ``problem_window``), refused naming the option."""
    try:
        after_value = int(after or 0) if not isinstance(after, bool) else after
    except (TypeError, ValueError):
        raise ItsmValidationError("problem_after", after, "expected a whole number") from None
    try:
        window_value = float(window if window not in (None, "") else DEFAULT_WINDOW_DAYS)
    except (TypeError, ValueError):
        raise ItsmValidationError("problem_window", window, "expected a number of days") from None
    return Threshold(after_value, window_value)
