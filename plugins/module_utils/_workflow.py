# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend-neutral record workflow shared by the change and incident runners. FOR INTERNAL COLLECTION USE ONLY.

Find-or-create by number or correlation id (the backend's look-up, with what the task reads next),
update only what the user set, walk the state model, append journal entries once. Backends answer check
mode themselves, so nothing here branches on it for writes.
"""

from __future__ import annotations

import typing as t

from . import _input as inputs
from . import _lifecycle, _lookup
from ._errors import ItsmConflictError, ItsmNotFoundError, ItsmTransitionError, ItsmValidationError
from ._lookup import JournalTexts, LookupResult
from ._records import CHANGE, DATE_FIELDS, normalise_datetime, parse_datetime
from .backends._base import ItsmBackend, Record

#: fields a diff leaves out: the system sets them on every write, so they would show a change nobody asked for
DIFF_IGNORED = ("updated_at",)


def label(kind: str, record: Record | None) -> str:
    number = (record or {}).get("number")
    return number or f"the new {kind}"


def find_existing(backend: ItsmBackend, kind: str, number: str | None, correlation_id: str | None,
                  open_only: bool = False, include: t.Collection[str] = frozenset(),
                  writes: t.Mapping[str, t.Any] | None = None) -> LookupResult | None:
    """The record named by ``number`` (which must exist), else the one ``correlation_id`` names by the one
    look-up rule (the open holder, two open ones being a conflict; else, unless ``open_only``, the newest
    holder), with the parts ``include`` declares and the names of ``writes`` resolved where the backend can.

    How runners, the recorder's outbox and the inventory's change scope reach the rule: one ``lookup`` call.
    """
    if number:
        found = backend.lookup(kind, number=number, include=frozenset(include), writes=writes)
        if found is None:
            raise ItsmNotFoundError(f"number: {kind} {number} does not exist on the {backend.name} backend",
                                    option="number", value=number)
        return found
    if not correlation_id:
        return None
    return backend.lookup(kind, correlation_id=correlation_id, open_only=open_only, include=frozenset(include),
                          writes=writes)


def records_holding(backend: ItsmBackend, kind: str, correlation_id: str) -> list[Record]:
    """Every record holding ``correlation_id``, oldest first, in one read: for a caller that looks at each of
    them (the outbox, for the marker of an earlier send), not just at the one the look-up rule picks."""
    return list(backend.find(kind, {"correlation_id": correlation_id}))


def wanted_fields(params: t.Mapping[str, t.Any], names: t.Iterable[str]) -> dict[str, t.Any]:
    """The writable fields the user set, with dates normalised (a date without a timezone is refused)."""
    wanted = {name: params[name] for name in names if params.get(name) is not None}
    for name in DATE_FIELDS:
        if name in wanted:
            wanted[name] = normalise_datetime(wanted[name], name)
    if params.get("fields"):
        wanted["fields"] = dict(params["fields"])
    return wanted


def check_window(values: t.Mapping[str, t.Any]) -> None:
    start, end = values.get("start_date"), values.get("end_date")
    if start and end and parse_datetime(end, "end_date") < parse_datetime(start, "start_date"):
        raise ItsmValidationError("end_date", end, f"it must not be before start_date {start}")


def differing(record: Record, wanted: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The subset of ``wanted`` that differs from the record (``fields`` compared key by key)."""
    changes = {}
    for name, value in wanted.items():
        if name == "fields":
            extra = {key: item for key, item in value.items() if (record.get("fields") or {}).get(key) != item}
            if extra:
                changes["fields"] = extra
        elif record.get(name) != value:
            changes[name] = value
    return changes


def plan(kind: str, record: Record, target: str | None, changes: t.Mapping[str, t.Any],
         backend: ItsmBackend | None = None) -> list[str]:
    """The transitions to reach ``target``, refused before anything is written if a step lacks a field
    (on ``backend``'s model: the canonical one plus the moves it lets a user make besides).

    A refusal names every field the walk lacks at once (issue 12), also when the target is out of reach.
    """
    if not target or target == record.get("state"):
        return []
    merged = dict(record, **changes)
    extra = backend.extra_user_transitions(kind, record.get("type")) if backend is not None else None
    path = _lifecycle.plan_path(kind, record["state"], target, record.get("type"), label(kind, record), values=merged,
                                extra=extra)
    needs = _lifecycle.missing_on_path(kind, path, merged)
    if needs:
        fields = [name for _state, names in needs for name in names]
        raise ItsmTransitionError(
            f"state: {label(kind, record)} cannot enter "
            + " and ".join(f"{state} without {', '.join(names)}" for state, names in needs)
            + f"; set {' and '.join(fields)} in the same task", option="state", value=target, missing=fields)
    return path


def move(backend: ItsmBackend, kind: str, record: Record, path: list[str], changes: dict[str, t.Any],
         check_mode: bool, known_notes: JournalTexts | None = None) -> Record:
    """Write ``changes`` and walk ``path``; the changes ride on the first transition (one write, not two).

    ``known_notes``: what the look-up read of the journal, for a backend that guards appended notes with it.
    """
    if not path:
        if not changes:
            return record
        return backend.update(kind, record, changes, check_mode=check_mode, known_notes=known_notes)
    for step in path:
        record = backend.transition(kind, record, step, changes, check_mode=check_mode, known_notes=known_notes)
        changes = {}
    return record


def append_journal(backend: ItsmBackend, kind: str, record: Record, entries: t.Mapping[str, str | None],
                   check_mode: bool) -> bool:
    """Append each work note / comment unless the same text is already on the record (the record a create
    returned: a new one, or the open one holding its correlation id)."""
    wanted = {field: text for field, text in entries.items() if text}
    if not wanted:
        return False
    known = JournalTexts.from_entries(backend.journal(kind, record)) if record.get("id") else None
    missing = known.missing(wanted) if known is not None else wanted
    for field, text in missing.items():
        backend.add_journal(kind, record, field, text, check_mode=check_mode, known_notes=known)
    return bool(missing)


def diff(before: Record | None, after: Record | None) -> dict[str, dict]:
    def clean(record):
        return {key: value for key, value in (record or {}).items() if key not in DIFF_IGNORED}
    return {"before": clean(before), "after": clean(after)}


def require_summary(kind: str, summary: t.Any, creating: bool, template: str | None = None) -> None:
    """A record always has a summary: a new one needs ``short_description`` (a change: or a template, which
    brings one), and no task empties it (issue 12: an empty one created records nobody could recognise)."""
    if summary is None and (not creating or template):
        return
    if not isinstance(summary, str) or not summary.strip():
        source = " (or a template that sets one)" if kind == CHANGE else ""
        raise ItsmValidationError("short_description", summary, f"every {kind} needs a summary; set short_description"
                                  f"{source} to a line saying what the {kind} is about")


def refuse_taken_correlation(backend: ItsmBackend, kind: str, record: Record, correlation_id: str | None,
                             state: str | None) -> None:
    """Refuse to give ``record`` a correlation id another open record holds: look-ups by it would then name
    two records and fail (issue 12). Settled records sharing it are no ambiguity, so only open ones count."""
    if not correlation_id or not _lookup.is_open(kind, {"state": state or record.get("state")}):
        return
    try:
        found = backend.lookup(kind, correlation_id=correlation_id, open_only=True)
        numbers = [found.record["number"]] if found and found.record.get("id") != record.get("id") else []
    except ItsmConflictError as error:  # held by two open records already
        numbers = [number for number in error.details.get("numbers") or () if number != record.get("number")]
    if numbers:
        listed = ", ".join(str(number) for number in numbers)
        raise ItsmConflictError(f"correlation_id: {correlation_id!r} is held by open {kind} {listed}; giving it to "
                                f"{label(kind, record)} too would make it name two {kind}s. Use another correlation "
                                f"id, or close {listed} first", option="correlation_id", value=correlation_id,
                                numbers=numbers)


def require_problems(backend: ItsmBackend) -> None:
    """Problem records (and an incident's link to one) only on a backend that keeps them: refused before anything
    is read or written, naming the backend."""
    if "problems" not in backend.capabilities:
        raise backend.unsupported("problem records (the problem and problem_info modules, an incident's problem)")


def require_existing_change(backend: ItsmBackend, option: str, number: str | None) -> None:
    require_existing(backend, CHANGE, option, number)


def require_existing(backend: ItsmBackend, kind: str, option: str, number: str | None) -> Record | None:
    """The record of ``kind`` a task's ``option`` names by number (an incident's cause, its problem), refused
    naming the option when it does not exist; None when no number is given."""
    if not number:
        return None
    inputs.record_number(number, option)  # named as the task's option, not the look-up's ``number``
    found = backend.get(kind, number=number)
    if found is None:
        raise ItsmNotFoundError(f"{option}: {kind} {number} does not exist on the {backend.name} backend",
                                option=option, value=number)
    return found
