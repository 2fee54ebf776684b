# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one look-up rule: which record a number or correlation id names. FOR INTERNAL COLLECTION USE ONLY.

Runners, the recorder's delivery, the outbox, the inventory's change scope and both backends (their
open-record queries, the local store's dedup on create, the twin retirement of ServiceNow and jsm) take "open" and
"which holder of a correlation id" from here, so the rule is written once:

- by number (or id): that record;
- by correlation id: the one *open* holder (two open holders are a conflict); when none is open and
  the caller does not ask for open records only, the newest holder (retries and re-runs reuse an id,
  so an old settled record sharing it must not make the current one ambiguous). On a backend whose
  creates retire their twins (servicenow, jsm), two open holders may be twins of a create race being settled: the
  look-up reads again after TWIN_WAITS, and meets the oldest, the one the retirement keeps; two open holders
  that outlast the waits are a conflict.

"Open": a change that is not closed or canceled; an incident that is new, in progress or on hold (a
resolved incident does not absorb a new failure); a problem that is new, being assessed, in root cause analysis
or having its fix made (a resolved problem does not take new occurrences).

A look-up (``ItsmBackend.lookup``) returns a LookupResult: the record and the parts the caller declared it
needs next (``include``), read with it, so a batching backend fetches them in the same request and no state
is kept between calls.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ._errors import ItsmValidationError
from ._records import (CHANGE, CHANGE_STATES, CLOSED_CHANGE_STATES, INCIDENT, OPEN_INCIDENT_STATES,
                       OPEN_PROBLEM_STATES, PROBLEM, refuse_shared_correlation, require_choice)

Record = t.Mapping[str, t.Any]

#: what a look-up may read besides the record (``include``): a change's approvals, the record's journal (which
#: note texts it carries), a change's affected CIs by id
PARTS = ("approvals", "journal", "cis")
#: the parts only a change has
CHANGE_PARTS = ("approvals", "cis")

OPEN_STATES: dict[str, frozenset[str]] = {
    CHANGE: frozenset(state for state in CHANGE_STATES if state not in CLOSED_CHANGE_STATES),
    INCIDENT: frozenset(OPEN_INCIDENT_STATES),
    PROBLEM: frozenset(OPEN_PROBLEM_STATES),
}

#: on a backend whose creates retire their twins, a look-up that meets two open holders reads again after these
#: pauses (seconds) before it calls them a conflict: twins of a create race (forks that looked the id up, found
#: nothing and created at once) last until their creators retire all but the oldest, a request or two later
TWIN_WAITS = (0.5, 1.0, 2.0, 4.0)

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
    holders = holding(holders, correlation_id=correlation_id) if correlation_id else holders
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


class RecordKey(t.NamedTuple):
    """What names the record(s) a look-up reads: the keys given, ANDed."""

    number: str | None = None
    id: str | None = None
    correlation_id: str | None = None

    def given(self) -> list[tuple[str, str]]:
        """``(key, value)`` for each key given, in the order number, id, correlation_id."""
        return [(name, value) for name, value in zip(self._fields, self) if value]


def record_key(number: str | None, id: str | None, correlation_id: str | None) -> RecordKey:
    """The key of a look-up; at least one of number, id or correlation id is needed."""
    key = RecordKey(number or None, id or None, correlation_id or None)
    if not key.given():
        raise ItsmValidationError("number", number, "give a number, id or correlation_id to look a record up")
    return key


def parts(kind: str, include: t.Collection[str]) -> frozenset[str]:
    """``include`` checked: parts of PARTS, and for an incident only those an incident has."""
    allowed = PARTS if kind == CHANGE else tuple(part for part in PARTS if part not in CHANGE_PARTS)
    for part in include:
        require_choice("include", part, allowed)
    return frozenset(include)


class JournalTexts:
    """Which note texts a record's journal carries, as a look-up read it (``include={"journal"}``).

    Enough to tell a text already there from a new one, nothing more: backends read it in different shapes
    (entries; ServiceNow: the journal fields' display values), so it answers questions rather than listing
    entries. Texts are compared with the whitespace around them ignored.
    """

    def __init__(self, carries: t.Callable[[str, str], bool], mentions: t.Callable[[str], bool]):
        self._carries = carries
        self._mentions = mentions

    @classmethod
    def from_entries(cls, entries: t.Iterable[Record]) -> JournalTexts:
        """From journal entries ``{field, text, ...}`` (what ``ItsmBackend.journal`` lists)."""
        texts = {(str(entry.get("field")), str(entry.get("text") or "").strip()) for entry in entries}
        return cls(lambda field, text: (field, text.strip()) in texts,
                   lambda marker: any(marker in text for _field, text in texts))

    def has(self, field: str, text: str) -> bool:
        """Whether an entry of ``field`` (``work_notes`` or ``comments``) carries ``text``."""
        return self._carries(field, text)

    def missing(self, entries: t.Mapping[str, str | None]) -> dict[str, str]:
        """The ``{field: text}`` entries given (empty ones left out) that no entry carries yet."""
        return {field: text for field, text in entries.items() if text and not self.has(field, text)}

    def mentions(self, marker: str) -> bool:
        """Whether any entry's text contains ``marker``."""
        return self._mentions(marker)


@dataclasses.dataclass(frozen=True)
class LookupResult:
    """A record as a look-up found it, with the parts the caller asked for (None: not asked for)."""

    record: dict[str, t.Any]
    #: include "approvals" (changes): as ItsmBackend.approvals() lists them
    approvals: list[dict[str, t.Any]] | None = None
    #: include "journal": which note texts the record carries
    notes: JournalTexts | None = None
    #: include "cis" (changes): ids of the affected CIs, as ItsmBackend.affected_ci_ids() gives them
    ci_ids: list[str] | None = None


def holding(records: t.Iterable[Record], **keys: str | None) -> list[Record]:
    """The records whose key fields (``number``, ``id``, ``correlation_id``) equal the values asked for, exactly.

    Defence in depth below the input checks: a system may match more than the value it was given (ServiceNow
    evaluates a ``javascript:`` value, compares text loosely: ``victim2`` for ``victim2\\n``), and a record whose
    key differs from the one asked for is never acted on, whatever the query returned. A number is compared in
    any case (a Jira key given in lower case names its issue).
    """
    wanted = {field: _comparable(field, value) for field, value in keys.items() if value}
    return [record for record in records
            if all(_comparable(field, record.get(field)) == value for field, value in wanted.items())]


#: find filters that name one value a record holds (the info modules' text filters), compared as ``holding`` does
EXACT_FILTERS = ("number", "correlation_id", "assignment_group", "configuration_item", "caused_by")


def matching(records: t.Iterable[Record], filters: t.Mapping[str, t.Any]) -> list[Record]:
    """The records a find returned that hold each text filter's value exactly (``holding``'s rule; a change's
    ``configuration_item`` among its ``configuration_items``): a system comparing loosely (ServiceNow: in any
    case, blanks trimmed) must not widen an info module's answer (issue 14)."""
    wanted = {field: _comparable(field, value) for field, value in filters.items()
              if field in EXACT_FILTERS and isinstance(value, str) and value}
    kept = []
    for record in records:
        held = {field: ([_comparable(field, item) for item in record["configuration_items"]]
                        if field == "configuration_item" and "configuration_items" in record
                        else [_comparable(field, record.get(field))]) for field in wanted}
        if all(value in held[field] for field, value in wanted.items()):
            kept.append(record)
    return kept


def _comparable(field: str, value: t.Any) -> str:
    """A key as compared: exactly, but a number in any case (ServiceNow's and Jira's numbers are; ``itsm-12``
    names ``ITSM-12``)."""
    return str(value).upper() if field in ("number", "caused_by") else str(value)


def pick(kind: str, key: RecordKey, holders: t.Sequence[LookupResult], open_only: bool) -> LookupResult | None:
    """The look-up's record among ``holders`` (what the key names, oldest first): by correlation id, the one
    ``choose`` picks; by number or id alone, that record. Holders whose key fields differ from the key are left
    out first (``holding``)."""
    kept = {id(record) for record in holding([holder.record for holder in holders], **key._asdict())}
    holders = [holder for holder in holders if id(holder.record) in kept]
    if not key.correlation_id:
        return holders[0] if holders else None
    chosen = choose(kind, key.correlation_id, [holder.record for holder in holders], open_only)
    return next((holder for holder in holders if holder.record is chosen), None)
