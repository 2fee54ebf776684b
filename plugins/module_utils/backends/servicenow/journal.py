# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work notes and comments of the servicenow backend (``sys_journal_field``). FOR INTERNAL COLLECTION USE ONLY.

- Work notes and comments (``add_journal``, or with an update) note the record's journal entries first
  (one more GET, unless the caller's ``known_notes``, what its look-up read, show none carries the text) and,
  after a failure that may have landed, resend only if no new entry carries the text.
- ``journals_for`` reads a hundred records' work notes and comments in one ``sys_journal_field`` request
  (``element_idIN``).
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _records as records
from ..._http import Response
from ..._lookup import JournalTexts
from . import mapping
from . import query
from .client import TABLE_API, ServiceNowClient
from .codec import journal_entry, label
from .reads import RecordReader

Record = dict[str, t.Any]
#: sys_journal_field rows per request of journals_for (a hundred records' notes, usually one)
JOURNAL_PAGE_SIZE = 10000


class Journal:
    """Reading and appending journal entries."""

    def __init__(self, client: ServiceNowClient, reads: RecordReader):
        self.client = client
        self.reads = reads

    def journal(self, kind: str, record: Record) -> list[Record]:
        record_id = self.reads.id_of(kind, record)
        rows = self.client.rows("sys_journal_field", f"element_id={record_id}^elementINwork_notes,comments"
                                "^ORDERBYsys_created_on", ["element", "value", "sys_created_by", "sys_created_on"],
                                1000, what=f"read the journal of {label(kind, record)}")
        return [journal_entry(row) for row in rows]

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        """The journals of many records in one ``sys_journal_field`` request (``element_idIN``), by record id;
        past JOURNAL_PAGE_SIZE entries, one more request per page."""
        records.require_choice("kind", kind, records.KINDS)
        found: dict[str, list[Record]] = {record_id: [] for record_id in ids}
        params = {"sysparm_query": f"element_idIN{','.join(query.escape(key) for key in found)}"
                                   "^elementINwork_notes,comments^ORDERBYsys_created_on",
                  "sysparm_fields": "element_id,element,value,sys_created_by,sys_created_on",
                  "sysparm_limit": JOURNAL_PAGE_SIZE, "sysparm_display_value": "false",
                  "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}
        offset = 0
        while found:
            rows = self.client.get_rows("sys_journal_field", dict(params, sysparm_offset=offset),
                                        f"read the journals of {len(found)} {kind}s")
            for row in rows:
                if row["element_id"] in found:
                    found[row["element_id"]].append(journal_entry(row))
            if len(rows) < JOURNAL_PAGE_SIZE:
                break
            offset += len(rows)
        return found

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False,
                    known_notes: JournalTexts | None = None) -> None:
        records.require_choice("field", field, inputs.NOTE_FIELDS)
        inputs.require_text(field, text)
        if check_mode:
            return
        record_id = self.reads.id_of(kind, record)
        recover = self.guard(record_id, {field: text}, lambda: Response(200, {}, None, ""), known_notes)
        self.client.http.request("PATCH", f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}",
                                 params={"sysparm_fields": "sys_id"}, json_body={field: text}, idempotent=False,
                                 recover=recover, what=f"add {field} to {label(kind, record)}")

    def guard(self, record_id: str, entries: t.Mapping[str, str], landed: t.Callable[[], Response],
              known_notes: JournalTexts | None = None) -> t.Callable[[], Response | None]:
        """A ``recover`` for a write that appends journal entries: resend only if none of them arrived.

        Appending is not idempotent, so the entries already on the record are noted first; after a
        failure, the write landed if a new entry carries the text sent (one update writes them all).
        When ``known_notes`` (what the caller's look-up read of the journal) show that no entry carries
        any of the texts, every entry carrying one later is new: no read before writing.
        """
        query_ = f"element_id={record_id}^elementIN{','.join(entries)}"
        before: set[str] = set()
        if known_notes is None or any(known_notes.has(field, text) for field, text in entries.items()):
            rows = self.client.rows("sys_journal_field", query_, ["sys_id"], 10000,
                                    what="read the journal before writing")
            before = {row["sys_id"] for row in rows}

        def recover() -> Response | None:
            rows = self.client.rows("sys_journal_field", query_, ["sys_id", "element", "value"], 10000,
                                    what="look for the journal entry being written")
            written = {(row["element"], str(row["value"]).strip()) for row in rows if row["sys_id"] not in before}
            return landed() if all((field, text.strip()) in written for field, text in entries.items()) else None
        return recover
