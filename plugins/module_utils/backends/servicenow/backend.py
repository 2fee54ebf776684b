# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servicenow backend: the Table API (plus Batch and Change Management APIs). FOR INTERNAL COLLECTION USE ONLY.

ServiceNowBackend implements the contract of _base by composing the package's files, bottom up:
client.py (HTTP session, rows, Batch API), names.py (names -> sys_ids, batched and cached), codec.py
(rows <-> canonical records), lookup_batch.py (the calls a look-up adds to its batch for what it includes
and the names it will write), reads.py (look-ups, finds, affected CIs), journal.py, writes.py (create,
update, transition, CIs), approvals.py, blackouts.py, attachments.py and cmdb.py. None of them imports
this file.

Behaviour a caller may rely on, beyond the contract in _base (each file's docstring has the details):

- One HTTP session per backend (_http.HttpClient): keep-alive, TLS and timeout on every call, retries.
- Names (groups, users, CIs, templates, changes for ``caused_by``) are resolved to sys_ids in one
  Batch API request per write and cached for the backend's life; an unknown name is an error naming
  the option. Affected CIs and the change are read together in one batch.
- Requests: create a change with CIs <= 3 (names, POST, CI rows); update or transition 1 (+1 for
  unresolved names). A look-up (``read_holders``) reads the records its key names in one request, with
  what it includes (a change's approvals and CI ids, the record's journal display values) and the names
  in its ``writes`` (lookup_batch.py); nothing is kept for the calls after it but the name cache. So a
  change_request task creates with CIs in 3 requests and updates or transitions in 2, a work note
  included (the look-up's ``notes`` go to the write as ``known_notes``: no read before appending); the
  gate's poll is 2 (change + CIs + approvals, blackouts + conflicts), 3 while a blackout schedule with a
  condition has an entry in range.
- ``template`` reads ``std_change_producer_version`` by name; a change created from one goes through
  ``POST /api/sn_chg_rest/change/standard/{id}``, which copies the template; ``put_template`` is refused.
- A recurrence of a deduplicated incident claims its number with an insert keyed on it before its note
  (recurrence.py): concurrent forks write each number once. Requests: 3 (highest claim, claim, note), + 1
  for the first recurrence of an incident, + 2 per number another writer claimed first.
"""

from __future__ import annotations

import typing as t

from ..._lookup import JournalTexts, LookupResult, RecordKey
from ..._options import ConnectionSettings
from .._base import CiRelations, Found, ItsmBackend, Record, Recurrence, Warn
from . import approvals
from . import attachments
from . import blackouts
from . import cmdb
from . import mapping
from .client import ServiceNowClient
from .codec import RecordCodec
from .journal import Journal
from .names import Names
from .reads import RecordReader
from .recurrence import Recurrences
from .writes import RecordWriter


class ServiceNowBackend(ItsmBackend):
    """Changes and incidents on a ServiceNow instance; the instance enforces its own models."""

    name = mapping.BACKEND_NAME
    capabilities = frozenset({"approvals", "affected_cis", "blackouts", "templates", "attachments", "cmdb",
                              "cmdb_relations", "problems"})
    # Forks may create twins of one correlation id for a moment: each create retires its own (writes.py).
    twins_retired = True

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None, **http_options: t.Any):
        super().__init__(settings, warn)
        self.client = ServiceNowClient(settings, self.warn, **http_options)
        self.where = settings.url
        self.http = self.client.http
        self.names = Names(self.client)
        self.codec = RecordCodec(self.names, self.http.base)
        self.reads = RecordReader(self.client, self.names, self.codec)
        self.journals = Journal(self.client, self.reads)
        self.recurrences = Recurrences(self.client, self.reads, self.journals)
        self.writes = RecordWriter(self.client, self.names, self.codec, self.reads, self.journals)

    def close(self) -> None:
        self.client.close()

    def pause(self, seconds: float) -> None:
        """The transport's sleep (tests pass their own): a look-up waiting for twins to be retired."""
        self.http.sleep(seconds)

    # -- records ---------------------------------------------------------------------------------

    def records_holding(self, kind: str, key: RecordKey, open_only: bool) -> list[Record]:
        return [found.record for found in self.reads.holders(kind, key, open_only)]

    def read_holders(self, kind: str, key: RecordKey, open_only: bool, include: frozenset[str],
                     writes: t.Mapping[str, t.Any]) -> list[LookupResult]:
        """The holders with every part ``include`` asks for and the names in ``writes``, in one request."""
        return self.reads.holders(kind, key, open_only, include, writes)

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        return self.reads.find(kind, filters, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        if limit is None:
            return super().find_limited(kind, filters, limit)
        return self.reads.find_limited(kind, filters, limit)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        return self.writes.create(kind, fields, check_mode)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: JournalTexts | None = None) -> Record:
        return self.writes.update(kind, record, fields, check_mode, known_notes)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: JournalTexts | None = None) -> Record:
        return self.writes.transition(kind, record, state, fields, check_mode, known_notes)

    def journal(self, kind: str, record: Record) -> list[Record]:
        return self.journals.journal(kind, record)

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return self.journals.journals_for(kind, ids)

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False, *,
                    known_notes: JournalTexts | None = None) -> None:
        self.journals.add_journal(kind, record, field, text, check_mode, known_notes)

    def record_recurrence(self, record: Record, text: str, *, once_key: str | None = None,
                          check_mode: bool = False) -> Recurrence:
        """Each number claimed once, by an insert keyed on it, before its note (recurrence.py): exact and gapless."""
        return self.recurrences.record(record, text, check_mode, once_key)

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        return approvals.approvals(self.client, self.reads, record)

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return approvals.approvals_for(self.client, ids)

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        return approvals.decide_approval(self.client, self.reads, record, approver, decision, comments, check_mode)

    def affected_cis(self, record: Record) -> list[str]:
        return self.reads.affected_cis(record)

    def affected_ci_ids(self, record: Record) -> list[str]:
        return self.reads.affected_ci_ids(record)

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        return self.writes.set_affected_cis(record, names, check_mode)

    def blackouts(self, start: str, end: str, record: Record | None = None, *,
                  ci_ids: t.Sequence[str] | None = None) -> list[Record]:
        return blackouts.blackouts(self.client, start, end, record, ci_ids)

    def template(self, name: str) -> Record | None:
        return self.reads.template(name)

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        raise self.unsupported("defining standard change templates (define them on the instance, as "
                               "std_change_record_producer records)")

    # -- attachments -----------------------------------------------------------------------------

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        return attachments.add_attachment(self.client, self.reads, kind, record, path, name, content_type,
                                          check_mode)

    def attachments(self, kind: str, record: Record) -> list[Record]:
        return attachments.attachments(self.client, self.reads, kind, record)

    # -- CMDB (cmdb.py) --------------------------------------------------------------------------

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        return cmdb.iter_cmdb(self.client, ci_class, fields, filters, query, max(1, int(page_size)), workers)

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        return cmdb.ci_relations(self.client, ids, types, depth)

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        return cmdb.put_ci(self.client, self.names, name, ci_class, fields, check_mode)

    def resolve_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
        return cmdb.resolve_ci_relations(self.client, self.names, name, relations)

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        return cmdb.put_ci_relations(self.client, self.names, name, relations, check_mode)
