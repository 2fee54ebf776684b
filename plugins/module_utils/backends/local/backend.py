# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend: changes, incidents and problems in an SQLite file or a PostgreSQL database. FOR INTERNAL COLLECTION USE ONLY.

The facade: it builds the store (store.py) and implements the contract of _base by calling the feature
files, which take the store and never import this file. Behaviour a caller may rely on, beyond the contract:

- The store is ``local_db`` (default ``_options.default_local_db()``), read by _local_db.read: a file path (its
  directory is created on the first write) or a ``postgresql://`` URL (password: the ``password`` option, else
  the URL's; the tables are made in the URL's database and schema on the first write). Reads of a store that
  does not exist return None or nothing; nothing creates it but a write. Same schema and behaviour on both.
- Every write is one transaction that takes the store's write lock first and re-reads the record under it, so
  many forked workers and controllers can write at once; a lock held longer than ``timeout`` raises
  ItsmTransientError.
- ``id`` is a uuid4 hex string; ``number`` is ``CHG0000001`` / ``INC0000001`` / ``PRB0000001``, allocated in the
  transaction (unique and gapless); ``url`` is ``local://changes/CHG0000001`` (``local://incidents/...``,
  ``local://problems/...``).
- ``lookup`` (and ``get``) by correlation id follows the one look-up rule (_lookup): the one open holder, else
  (unless ``open_only``) the newest holder; two open holders raise ItsmConflictError. The parts a look-up
  includes are read after the record, each by the method that lists it (approvals, journal, affected CIs).
- ``create`` with a ``correlation_id`` that an open record already carries (open as in ``get(...,
  open_only=True)``) returns that record instead of creating a second one; the check runs inside the
  write transaction, so concurrent get-then-create callers end up with one record.
- The type of a change is fixed at creation. ``update``/``transition`` also take ``work_notes`` and
  ``comments`` (appended in the same transaction) and, for changes, ``configuration_items``.
- In check mode a write starts from the record it is given (what an earlier check-mode step predicted)
  over the stored row, so a walk of several steps predicts what the real walk does.
- A recurrence of a deduplicated incident is numbered by a counter incremented in the transaction that adds its
  note (recurrence.py): concurrent writers get each number once, with no gap.
- ``decide_approval``: an approver decides once per approval round (see approvals.py).
- ``audit(kind, record)`` returns the whole append-only trail ``{type, field, old, new, text, author,
  created}`` (types: created, state, field, note, approval, attachment); ``journal`` returns the notes only.
- Extras: ``put_template``/``template``, ``put_blackout``, ``upsert_ci``/``iter_cis`` (the CMDB table).
- What ServiceNow refuses for its data, the store refuses too (issue 16): a relationship type not among
  cmdb.RELATION_TYPES, a relationship to a CI the store does not have, an incident's ``configuration_item``
  the store does not have (a change's ``configuration_items`` are taken as given), a class change of a CI.
- There is no directory of groups or users: every ``assignment_group``, ``assigned_to``, ``caller`` and
  ``requested_by`` name is taken as given.
"""

from __future__ import annotations

import typing as t

from ... import _input as inputs
from ..._lookup import JournalTexts, RecordKey
from ..._options import ConnectionSettings, default_local_db
from .._base import CiRelations, Found, ItsmBackend, Record, Recurrence, Warn
from . import approvals, attachments, blackouts, cmdb, records, recurrence, templates
from .schema import NAME
from .store import LocalStore


class LocalBackend(ItsmBackend):
    """Changes and incidents in an SQLite or PostgreSQL store that enforces the ITIL models of _lifecycle."""

    name = NAME
    capabilities = frozenset({"approvals", "affected_cis", "blackouts", "templates", "cmdb", "cmdb_relations",
                              "attachments", "problems"})

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None):
        super().__init__(settings, warn)
        self.actor = settings.username or inputs.os_user()
        self.store = LocalStore(settings.local_db or default_local_db(), settings.timeout, self.actor, settings.password,
                                self.warn)
        #: the SQLite file's absolute path, or the PostgreSQL URL as given
        self.path = self.store.path
        self.where = self.store.where

    def task(self) -> t.ContextManager[None]:
        return self.store.task()

    def close(self) -> None:
        self.store.close()

    # -- records ---------------------------------------------------------------------------------

    def records_holding(self, kind: str, key: RecordKey, open_only: bool) -> list[Record]:
        return records.records_holding(self.store, kind, key, open_only)

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        return records.find(self.store, kind, filters, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        return records.find_limited(self.store, kind, filters, limit)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        return records.create(self.store, kind, fields, check_mode)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: JournalTexts | None = None) -> Record:
        """``known_notes`` is unused: a note is appended in the write's own transaction."""
        return records.update(self.store, kind, record, fields, check_mode)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: JournalTexts | None = None) -> Record:
        """``known_notes`` is unused: a note is appended in the write's own transaction."""
        return records.transition(self.store, kind, record, state, fields, check_mode)

    def journal(self, kind: str, record: Record) -> list[Record]:
        return records.journal(self.store, kind, record)

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return records.journals_for(self.store, kind, ids)

    def audit(self, kind: str, record: Record) -> list[Record]:
        """Every entry of the record's trail, oldest first: ``{type, field, old, new, text, author, created}``."""
        return records.audit(self.store, kind, record)

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False, *,
                    known_notes: JournalTexts | None = None) -> None:
        """``known_notes`` is unused: the entry is appended in one transaction."""
        records.add_journal(self.store, kind, record, field, text, check_mode)

    def record_recurrence(self, record: Record, text: str, *, once_key: str | None = None,
                          check_mode: bool = False) -> Recurrence:
        """Numbered by a counter incremented in the note's own transaction (recurrence.py): exact and gapless."""
        return recurrence.record_recurrence(self.store, record, text, check_mode, once_key=once_key)

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        return approvals.approvals(self.store, record)

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return approvals.approvals_for(self.store, ids)

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        return approvals.decide_approval(self.store, self.warn, record, approver, decision, comments, check_mode)

    def affected_cis(self, record: Record) -> list[str]:
        return records.affected_cis(self.store, record)

    def affected_ci_ids(self, record: Record) -> list[str]:
        return records.affected_cis(self.store, record)  # a local CI's id is its name, the key of the cis table

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        return records.set_affected_cis(self.store, record, names, check_mode)

    def blackouts(self, start: str, end: str, record: Record | None = None, *,
                  ci_ids: t.Sequence[str] | None = None) -> list[Record]:
        """``record`` and ``ci_ids`` are unused: every local blackout is global."""
        return blackouts.blackouts(self.store, start, end)

    def put_blackout(self, name: str, start: str, end: str, reason: str | None = None,
                     check_mode: bool = False) -> bool:
        return blackouts.put_blackout(self.store, name, start, end, reason, check_mode)

    def template(self, name: str) -> Record | None:
        return templates.template(self.store, name)

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        return templates.put_template(self.store, name, fields, check_mode)

    # -- attachments -----------------------------------------------------------------------------

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        return attachments.add_attachment(self.store, kind, record, path, name, content_type, check_mode)

    def attachments(self, kind: str, record: Record) -> list[Record]:
        return attachments.attachments(self.store, kind, record)

    # -- CMDB ------------------------------------------------------------------------------------

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        """``workers`` is unused: one reader paging by key is fastest here."""
        return cmdb.iter_cmdb(self.store, ci_class, fields, filters, query, page_size)

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        return cmdb.ci_relations(self.store, ids, types, depth)

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
               check_mode: bool = False) -> bool:
        return cmdb.put_ci(self.store, name, ci_class, fields, check_mode)

    def resolve_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
        """A type must be one of cmdb.RELATION_TYPES (ServiceNow's base system) and a target a CI of the store."""
        return cmdb.resolve_ci_relations(self.store, name, relations)

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        checked = relations if isinstance(relations, CiRelations) else CiRelations(inputs.relation_list(relations))
        return cmdb.put_ci_relations(self.store, name, checked, check_mode)

    def upsert_ci(self, name: str, ci_class: str | None = None, fields: t.Mapping[str, t.Any] | None = None,
                  check_mode: bool = False) -> bool:
        """Create or replace a configuration item; True when something changed."""
        return cmdb.upsert_ci(self.store, name, ci_class, fields, check_mode)

    def iter_cis(self, filters: t.Mapping[str, t.Any] | None = None) -> t.Iterator[Record]:
        """``{name, ci_class, fields}`` by name; filters ``name`` and ``ci_class`` (a value or a list)."""
        return cmdb.iter_cis(self.store, filters)
