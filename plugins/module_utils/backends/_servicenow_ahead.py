# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-ahead of the servicenow backend. FOR INTERNAL COLLECTION USE ONLY.

What a task announced it will read of a record next (``expect_read``) rides on the Batch API
request that looks the record up, so the gate's poll costs three requests and an update carrying a
work note two (issue 5). Each part read ahead is answered once, then read afresh.

- ``approvals``: the change's ``sysapproval_approver`` rows, found through the dot-walked look-up
  keys (``sysapproval.number=...``), since the change's sys_id is not known yet.
- ``journal``: the record's ``work_notes`` and ``comments`` display values. With
  ``sysparm_display_value=true`` a journal field reads back as its history, newest first, each
  entry a header line (date, author, label in parentheses), its text and a blank line
  (servicenow-api.md: journal fields). Only whether an entry carries a text is read from it: the
  header's date follows the user's format and zone, so entries are not parsed.
"""

from __future__ import annotations

import typing as t

from .. import _records as records
from . import _local_schema as inputs
from . import _servicenow_mapping as mapping
from . import _servicenow_query as query
from ._servicenow_extras import APPROVAL_FIELDS, approvals_by_change

Call = tuple[str, str]
Keys = t.Sequence[tuple[str, str]]


def related(prefix: str, keys: Keys) -> str:
    """An encoded query matching rows whose ``prefix`` reference is the record the keys name."""
    return "^".join(f"{prefix}.{column}={query.escape(value)}" for column, value in keys)


def calls(kind: str, parts: t.Collection[str], conditions: t.Sequence[str], keys: Keys,
          limit: int) -> list[tuple[str, Call]]:
    """``(part, call)`` for each part to read with the look-up of the records ``conditions`` find."""
    from .servicenow import TABLE_API, _url
    found: list[tuple[str, Call]] = []
    if "approvals" in parts and kind == records.CHANGE and keys:
        found.append(("approvals", ("GET", _url(TABLE_API + "sysapproval_approver", {
            "sysparm_query": related("sysapproval", keys) + "^ORDERBYsys_created_on",
            "sysparm_fields": ",".join(APPROVAL_FIELDS), "sysparm_limit": 1000, "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}))))
    if "journal" in parts:
        found.append(("journal", ("GET", _url(TABLE_API + mapping.TABLES[kind], {
            "sysparm_query": "^".join(conditions), "sysparm_fields": ",".join(("sys_id",) + inputs.NOTE_FIELDS),
            "sysparm_limit": limit, "sysparm_display_value": "true", "sysparm_exclude_reference_link": "true",
            "sysparm_no_count": "true"}))))
    return found


def answers(parts: t.Sequence[str], bodies: t.Sequence[t.Any], record_ids: t.Sequence[str]) -> dict[tuple, t.Any]:
    """What each part read, by ``(part, record id)``, for every record the look-up found."""
    ahead: dict[tuple, t.Any] = {}
    for part, body in zip(parts, bodies):
        rows = body["result"]
        if part == "approvals":
            by_change = approvals_by_change(rows)
            ahead.update({("approvals", record_id): by_change.get(record_id, []) for record_id in record_ids})
        else:
            ahead.update({("journal", row["sys_id"]): {field: str(row.get(field) or "") for field in inputs.NOTE_FIELDS}
                          for row in rows})
    return ahead


def carries(history: str, text: str) -> bool:
    """Whether a journal field's display value holds an entry whose text is ``text``."""
    entry = f")\n{text.strip()}\n"
    return f"{entry}\n" in history or history.rstrip().endswith(entry.rstrip())
