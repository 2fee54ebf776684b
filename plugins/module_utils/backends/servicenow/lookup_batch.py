# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The calls a servicenow look-up adds to its Batch API request, and what their answers say.
FOR INTERNAL COLLECTION USE ONLY.

A look-up declares what the task reads next (``include``) and the names it may write (``writes``); reads.py
sends the record query and these calls in one Batch API request, so the gate's poll costs two requests (three
with a scoped blackout) and an update carrying a work note two (issue 5). Pure functions: nothing is kept
between look-ups (the name cache of names.py aside, which is keyed by name and so order-independent).

- ``approvals``: the change's ``sysapproval_approver`` rows, found through the dot-walked look-up keys
  (``sysapproval.number=...``), since the change's sys_id is not known yet.
- ``journal``: the record's ``work_notes`` and ``comments`` display values. With
  ``sysparm_display_value=true`` a journal field reads back as its history, newest first, each entry a header
  line (date, author, label in parentheses), its text and a blank line (servicenow-api.md: journal fields).
  Only whether an entry carries a text is read from it: the header's date follows the user's format and zone,
  so entries are not parsed.
- ``cis``: the sys_ids of a change's CIs, from the ``task_ci`` rows every change look-up reads anyway.
"""

from __future__ import annotations

import re
import typing as t

from ... import _input as inputs
from ... import _records as records
from ..._lookup import JournalTexts, RecordKey
from . import mapping
from . import query
from .client import TABLE_API, Call, url
from .codec import APPROVAL_FIELDS, approvals_by_change

#: a look-up's keys as (column, value) pairs of the record's table
Keys = t.Sequence[tuple[str, str]]
#: the look-up key -> the column holding it
COLUMNS = {"number": "number", "id": "sys_id", "correlation_id": "correlation_id"}


def key_columns(key: RecordKey) -> list[tuple[str, str]]:
    """The look-up's keys as (column, value) pairs."""
    return [(COLUMNS[name], value) for name, value in key.given()]


def related(prefix: str, keys: Keys) -> str:
    """An encoded query matching rows whose ``prefix`` reference is the record the keys name."""
    return "^".join(f"{prefix}.{column}={query.escape(value)}" for column, value in keys)


def part_calls(kind: str, include: t.Collection[str], conditions: t.Sequence[str], keys: Keys,
               limit: int) -> list[tuple[str, Call]]:
    """``(part, call)`` for each part to read with the look-up of the records ``conditions`` find (``cis``
    needs none: it is in the ``task_ci`` read of every change look-up)."""
    found: list[tuple[str, Call]] = []
    if "approvals" in include and kind == records.CHANGE and keys:
        found.append(("approvals", ("GET", url(TABLE_API + "sysapproval_approver", {
            "sysparm_query": related("sysapproval", keys) + "^ORDERBYsys_created_on",
            "sysparm_fields": ",".join(APPROVAL_FIELDS), "sysparm_limit": 1000, "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}))))
    if "journal" in include:
        found.append(("journal", ("GET", url(TABLE_API + mapping.TABLES[kind], {
            "sysparm_query": "^".join(conditions), "sysparm_fields": ",".join(("sys_id",) + inputs.NOTE_FIELDS),
            "sysparm_limit": limit, "sysparm_display_value": "true", "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true"}))))
    return found


def names_written(kind: str, writes: t.Mapping[str, t.Any]) -> list[tuple[str, str, str]]:
    """``(table, column, name)`` of each reference among the fields a task may write (and a change's CIs)."""
    references = mapping.REFERENCES[kind]
    names = [(*references[option][1:], value) for option, value in writes.items()
             if option in references and isinstance(value, str) and value]
    if kind == records.CHANGE:
        names += [("cmdb_ci", "name", name) for name in writes.get("configuration_items") or ()
                  if isinstance(name, str) and name]
    return names


def parts_read(parts: t.Sequence[str], bodies: t.Sequence[t.Any],
               record_ids: t.Sequence[str]) -> dict[str, dict[str, t.Any]]:
    """What each part's call read, by record id then part (``approvals``, ``journal``), for every record found."""
    found: dict[str, dict[str, t.Any]] = {record_id: {} for record_id in record_ids}
    for part, body in zip(parts, bodies):
        rows = body["result"]
        if part == "approvals":
            by_change = approvals_by_change(rows)
            for record_id in record_ids:
                found[record_id]["approvals"] = by_change.get(record_id, [])
        else:
            for row in rows:
                if row["sys_id"] in found:
                    history = {field: str(row.get(field) or "") for field in inputs.NOTE_FIELDS}
                    found[row["sys_id"]]["journal"] = displayed_notes(history)
    return found


def displayed_notes(history: t.Mapping[str, str]) -> JournalTexts:
    """JournalTexts of a record from its journal fields' display values (``{field: history}``)."""
    return JournalTexts(lambda field, text: carries(history.get(field, ""), text),
                        lambda marker: any(marker in value for value in history.values()))


def carries(history: str, text: str) -> bool:
    """Whether a journal field's display value holds an entry whose text is ``text``, whitespace around either
    ignored (as the contract compares texts): the text follows a header line's ``)`` and ends its entry."""
    entry = re.compile(r"\)\n\s*" + re.escape(text.strip()) + r"\s*?(?:\n\n|\Z)")
    return entry.search(history) is not None
