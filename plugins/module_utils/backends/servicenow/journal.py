# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work notes and comments of the servicenow backend (``sys_journal_field``). FOR INTERNAL COLLECTION USE ONLY.

- Work notes and comments (``add_journal``, or with an update) note the record's journal entries first
  (one more GET, unless ``journal()`` or ``missing_journal()`` has just shown none carries the text) and,
  after a failure that may have landed, resend only if no new entry carries the text.
- ``journals_for`` reads a hundred records' work notes and comments in one ``sys_journal_field`` request
  (``element_idIN``).
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ... import _records as records
from ..._http import Response
from . import mapping
from . import prefetch
from . import query
from .client import TABLE_API, ServiceNowClient
from .codec import journal_entry, label
from .prefetch import Prefetch
from .reads import RecordReader

Record = dict[str, t.Any]
#: sys_journal_field rows per request of journals_for (a hundred records' notes, usually one)
JOURNAL_PAGE_SIZE = 10000


class Journal:
    """Reading and appending journal entries; which texts the last read saw is kept in ``prefetched``."""

    def __init__(self, client: ServiceNowClient, reads: RecordReader, prefetched: Prefetch):
        self.client = client
        self.reads = reads
        self.prefetched = prefetched

    def journal(self, kind: str, record: Record) -> list[Record]:
        record_id = self.reads.id_of(kind, record)
        rows = self.client.rows("sys_journal_field", f"element_id={record_id}^elementINwork_notes,comments"
                                "^ORDERBYsys_created_on", ["element", "value", "sys_created_by", "sys_created_on"],
                                1000, what=f"read the journal of {label(kind, record)}")
        self.prefetched.journal_seen[record_id] = {(row["element"], str(row["value"]).strip()) for row in rows}
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

    def missing_from_prefetched(self, kind: str, record: Record,
                                entries: t.Mapping[str, str]) -> dict[str, str] | None:
        """missing_journal answered from the journal read with the look-up, or None when it was not read."""
        record_id = self.reads.id_of(kind, record)
        history = self.prefetched.take("journal", record_id)
        if history is None:
            return None
        carried = {field: text for field, text in entries.items() if prefetch.carries(history.get(field, ""), text)}
        self.prefetched.journal_seen[record_id] = {(field, text.strip()) for field, text in carried.items()}
        return {field: text for field, text in entries.items() if field not in carried}

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False) -> None:
        records.require_choice("field", field, inputs.NOTE_FIELDS)
        inputs.require_text(field, text)
        if check_mode:
            return
        record_id = self.reads.id_of(kind, record)
        self.prefetched.take("journal", record_id)  # the entry changes the journal read with the look-up
        recover = self.guard(record_id, {field: text}, lambda: Response(200, {}, None, ""))
        self.client.http.request("PATCH", f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}",
                                 params={"sysparm_fields": "sys_id"}, json_body={field: text}, idempotent=False,
                                 recover=recover, what=f"add {field} to {label(kind, record)}")

    def guard(self, record_id: str, entries: t.Mapping[str, str],
              landed: t.Callable[[], Response]) -> t.Callable[[], Response | None]:
        """A ``recover`` for a write that appends journal entries: resend only if none of them arrived.

        Appending is not idempotent, so the entries already on the record are noted first; after a
        failure, the write landed if a new entry carries the text sent (one update writes them all).
        When journal() has just shown that no entry carries any of the texts (the workflow reads it to
        skip notes already there), every entry carrying one later is new: no read before writing.
        """
        query_ = f"element_id={record_id}^elementIN{','.join(entries)}"
        seen = self.prefetched.journal_seen.pop(record_id, None)
        before: set[str] = set()
        if seen is None or any((field, text.strip()) in seen for field, text in entries.items()):
            rows = self.client.rows("sys_journal_field", query_, ["sys_id"], 10000,
                                    what="read the journal before writing")
            before = {row["sys_id"] for row in rows}

        def recover() -> Response | None:
            rows = self.client.rows("sys_journal_field", query_, ["sys_id", "element", "value"], 10000,
                                    what="look for the journal entry being written")
            written = {(row["element"], str(row["value"]).strip()) for row in rows if row["sys_id"] not in before}
            return landed() if all((field, text.strip()) in written for field, text in entries.items()) else None
        return recover
