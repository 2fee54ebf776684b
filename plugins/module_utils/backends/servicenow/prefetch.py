# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the servicenow backend reads together with a record look-up, and keeps for the calls after it.
FOR INTERNAL COLLECTION USE ONLY.

A task announces what it will write and read of a record next (the contract's hints ``expect_write``
and ``expect_read``); those names and parts ride on the Batch API request that looks the record up, so
the gate's poll costs three requests and an update carrying a work note two (issue 5). Each part read
with the look-up is answered once, then read afresh.

- ``approvals``: the change's ``sysapproval_approver`` rows, found through the dot-walked look-up
  keys (``sysapproval.number=...``), since the change's sys_id is not known yet.
- ``journal``: the record's ``work_notes`` and ``comments`` display values. With
  ``sysparm_display_value=true`` a journal field reads back as its history, newest first, each
  entry a header line (date, author, label in parentheses), its text and a blank line
  (servicenow-api.md: journal fields). Only whether an entry carries a text is read from it: the
  header's date follows the user's format and zone, so entries are not parsed.

All of this state is one Prefetch object per backend (phase 2 of issue 16 replaces it with reads the
look-up declares).
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _records as records
from .._base import READ_AHEAD_PARTS
from . import mapping
from . import query
from .client import TABLE_API, url
from .codec import APPROVAL_FIELDS, approvals_by_change

Call = tuple[str, str]
Keys = t.Sequence[tuple[str, str]]


class Prefetch:
    """What the next look-up should read besides the record, and what look-ups and journal reads left
    for later calls of the same backend."""

    def __init__(self) -> None:
        self.names: list[tuple[str, str, str]] = []  # (table, column, name) to look up with the next change read
        self.parts: dict[str, set[str]] = {}  # kind -> parts to read with its next look-up
        self.answers: dict[tuple[str, str], t.Any] = {}  # (part, record id) -> what the last look-up read
        self.journal_seen: dict[str, set[tuple[str, str]]] = {}  # record id -> texts the last journal() saw
        self.ci_ids: dict[str, list[str]] = {}  # change id -> sys_ids of its CIs, as last read with it

    def expect_write(self, kind: str, fields: t.Mapping[str, t.Any]) -> None:
        """The names among ``fields`` (and their CIs) are looked up with the next change read."""
        references = mapping.REFERENCES[kind] if kind in records.KINDS else {}
        names = [(*references[option][1:], value) for option, value in fields.items()
                 if option in references and isinstance(value, str) and value]
        names += [("cmdb_ci", "name", name) for name in fields.get("configuration_items") or ()
                  if isinstance(name, str)]
        self.names = names

    def expect_read(self, kind: str, parts: t.Collection[str]) -> None:
        """``parts`` (READ_AHEAD_PARTS) are read with the next look-up of a record of ``kind``."""
        for part in parts:
            records.require_choice("parts", part, READ_AHEAD_PARTS)
        self.parts = {kind: set(parts)}

    def take_names(self) -> list[tuple[str, str, str]]:
        """The names announced for the next change read; forgotten once taken."""
        names, self.names = self.names, []
        return names

    def take_parts(self, kind: str) -> set[str]:
        """The parts announced for the next look-up of ``kind``; forgotten once taken."""
        return self.parts.pop(kind, set())

    def take(self, part: str, record_id: str) -> t.Any:
        """What the last look-up read of ``part`` for the record (None when it did not); answered once."""
        return self.answers.pop((part, record_id), None)

    def forget(self, record_id: str) -> None:
        """Drop what was read with the record: a write may change it."""
        for part in READ_AHEAD_PARTS:
            self.answers.pop((part, record_id), None)


def related(prefix: str, keys: Keys) -> str:
    """An encoded query matching rows whose ``prefix`` reference is the record the keys name."""
    return "^".join(f"{prefix}.{column}={query.escape(value)}" for column, value in keys)


def part_calls(kind: str, parts: t.Collection[str], conditions: t.Sequence[str], keys: Keys,
               limit: int) -> list[tuple[str, Call]]:
    """``(part, call)`` for each part to read with the look-up of the records ``conditions`` find."""
    found: list[tuple[str, Call]] = []
    if "approvals" in parts and kind == records.CHANGE and keys:
        found.append(("approvals", ("GET", url(TABLE_API + "sysapproval_approver", {
            "sysparm_query": related("sysapproval", keys) + "^ORDERBYsys_created_on",
            "sysparm_fields": ",".join(APPROVAL_FIELDS), "sysparm_limit": 1000, "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}))))
    if "journal" in parts:
        found.append(("journal", ("GET", url(TABLE_API + mapping.TABLES[kind], {
            "sysparm_query": "^".join(conditions), "sysparm_fields": ",".join(("sys_id",) + inputs.NOTE_FIELDS),
            "sysparm_limit": limit, "sysparm_display_value": "true", "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true"}))))
    return found


def answers(parts: t.Sequence[str], bodies: t.Sequence[t.Any], record_ids: t.Sequence[str]) -> dict[tuple, t.Any]:
    """What each part read, by ``(part, record id)``, for every record the look-up found."""
    found: dict[tuple, t.Any] = {}
    for part, body in zip(parts, bodies):
        rows = body["result"]
        if part == "approvals":
            by_change = approvals_by_change(rows)
            found.update({("approvals", record_id): by_change.get(record_id, []) for record_id in record_ids})
        else:
            found.update({("journal", row["sys_id"]): {field: str(row.get(field) or "") for field in inputs.NOTE_FIELDS}
                          for row in rows})
    return found


def carries(history: str, text: str) -> bool:
    """Whether a journal field's display value holds an entry whose text is ``text``."""
    entry = f")\n{text.strip()}\n"
    return f"{entry}\n" in history or history.rstrip().endswith(entry.rstrip())
