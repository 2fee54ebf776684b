# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm backend: Jira Service Management (Cloud and Data Center). FOR INTERNAL COLLECTION USE ONLY.

JsmBackend implements the contract of _base by composing the package's files, bottom up: client.py (the
site's REST calls on the shared transport), jql.py (quoting), mapping.py (canonical states, fields and values
<-> the project's, as data), codec.py (issues <-> canonical records), records.py (look-ups, finds, create,
update, transition, journal) and the feature files. None of them imports this file.

Behaviour a caller may rely on, beyond the contract in _base (each file's docstring has the details):

- Numbers are issue keys (``ITSM-42``); ``where`` is the site's URL.
- The correlation id is the issue property ``opsgate.correlation_id``, searched by JQL; the issues created from
  this controller in the last 15 minutes (remembered next to the site cache, so by every task's process) are
  passed to Cloud's search in ``reconcileIssues``, so its lagging index never hides them from the next task, and
  forks creating one correlation id at once end with one record; two controllers creating it at once may make
  two issues for a moment, and the younger one's create retires it and returns the older (records.py), so a
  look-up that meets two open holders reads again after _lookup.TWIN_WAITS, as on ServiceNow.
- Fields Jira has no field for (assignment group, people, close code and notes, hold reason, ``fields``) are
  kept in the issue property ``opsgate.record`` and taken as given.
- JSM has no standard change templates: a ``template`` is refused as unknown, ``put_template`` as unsupported;
  and no blackout schedules of its own (the gate's freeze windows come from the policy file).
- A recurrence of a deduplicated incident is counted in the issue property ``opsgate.recurrence`` and noted at a
  bounded rate (recurrence.py), not with a work note each time: Jira caps the comments of an issue.
"""

from __future__ import annotations

import typing as t

from ... import _records as records
from ..._errors import ItsmTransitionError
from ..._lookup import JournalTexts, LookupResult, RecordKey
from ..._options import ConnectionSettings
from .._base import CiRelations, Found, ItsmBackend, Record, Recurrence, Warn
from . import approvals
from . import attachments
from . import cmdb
from . import recurrence
from .client import JsmClient
from .codec import RecordCodec
from .mapping import load_mapping
from .records import JsmRecords


class JsmBackend(ItsmBackend):
    """Changes, incidents and problems as issues of a JSM service project; the site's workflow enforces its model."""

    name = "jsm"
    # "problems" where the mapping has a problem part (the default mapping has): see __init__
    capabilities: frozenset[str] = frozenset({"cmdb", "approvals", "affected_cis", "attachments", "problems"})
    # Controllers may create twins of one correlation id for a moment: each create retires its own (records.py).
    twins_retired = True

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None, **http_options: t.Any):
        super().__init__(settings, warn)
        self.client = JsmClient(settings, self.warn, **http_options)
        self.where = settings.url
        self.http = self.client.http
        self.mapping = load_mapping(settings.jsm_mapping)
        if records.PROBLEM not in self.mapping.kinds:  # a mapping file written before problems (issue 19)
            self.capabilities = self.capabilities - {"problems"}
        self.codec = RecordCodec(self.client, self.mapping)
        self.records = JsmRecords(self.client, self.codec, self.where)
        self.catalog = cmdb.Catalog(self.client)  # Assets object types and attributes, read once

    def close(self) -> None:
        self.client.close()

    def pause(self, seconds: float) -> None:
        """The transport's sleep (tests pass their own): a look-up waiting for twins to be retired."""
        self.http.sleep(seconds)

    # -- records (records.py) --------------------------------------------------------------------

    def records_holding(self, kind: str, key: RecordKey, open_only: bool) -> list[Record]:
        return self.records.holders(kind, key, open_only)

    def read_holders(self, kind: str, key: RecordKey, open_only: bool, include: frozenset[str],
                     writes: t.Mapping[str, t.Any]) -> list[LookupResult]:
        """The holders with the parts their issues carry, in the same request (records.holders_with)."""
        return self.records.holders_with(kind, key, open_only, include)

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        return self.records.find(kind, filters, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        if limit is None:
            return super().find_limited(kind, filters, limit)
        return self.records.find_limited(kind, filters, limit)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        return self.records.create(kind, fields, check_mode)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: JournalTexts | None = None) -> Record:
        return self.records.update(kind, record, fields, check_mode, known_notes=known_notes)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: JournalTexts | None = None) -> Record:
        return self.records.transition(kind, record, state, fields, check_mode, known_notes=known_notes)

    def journal(self, kind: str, record: Record) -> list[Record]:
        return self.records.journal(kind, record)

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return self.records.journals_for(kind, ids)

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False, *,
                    known_notes: JournalTexts | None = None) -> None:
        self.records.add_journal(kind, record, field, text, check_mode, known_notes)

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        return approvals.approvals(self.client, record)

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return approvals.approvals_for(self.client, ids)

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        decided = approvals.decide_approval(self.client, record, approver, decision, comments, check_mode,
                                            lambda: self.records.read(records.CHANGE, record["id"]),
                                            self.mapping.of(records.CHANGE))
        # the technical stage's rejection moves the change to new itself; the CAB step's leaves it declined
        return self._after_rejection(decided, check_mode) if decision == "rejected" and \
            record.get("state") != approvals.FIRST_STAGE else decided

    def _after_rejection(self, change: Record, check_mode: bool) -> Record:
        """A declined change left in the mapping's rejection status (``Declined``) is moved on to ``new`` when the
        mapping says ``reopen``, so a rejection ends as on local and ServiceNow (new, approval rejected); a
        workflow with no way back leaves it canceled, with a warning saying how to make that the mapping's word."""
        part = self.mapping.of(records.CHANGE)
        if check_mode:  # approvals.decide_approval predicted the canonical outcome, new
            predicted_new = (change.get("state"), change.get("approval")) == ("new", "rejected")
            return {**change, "state": "canceled"} if predicted_new and not part.reopen_after_rejection else change
        # ``change`` was read back after the decision; the codec reads (canceled, rejected) in the rejection status
        if not part.reopen_after_rejection or (change.get("state"), change.get("approval")) != ("canceled", "rejected"):
            return change
        try:
            return self.records.transition(records.CHANGE, change, "new")
        except ItsmTransitionError as error:
            self.warn(f"{change['number']} was declined and stays {part.rejection_status} (canceled): "
                      f"{error.message}; set change.rejection.reopen to false in the jsm_mapping file if this "
                      "workflow keeps declined changes there")
            return change

    def extra_user_transitions(self, kind: str, change_type: str | None) -> t.Mapping[str, t.Sequence[str]]:
        return approvals.USER_MOVES.get(change_type or "", {}) if kind == records.CHANGE else {}

    def affected_cis(self, record: Record) -> list[str]:
        return cmdb.affected_cis(self.client, record["number"])

    def affected_ci_ids(self, record: Record) -> list[str]:
        return cmdb.affected_ci_ids(self.client, record["number"])

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        changed = cmdb.set_affected_cis(self.client, record["number"], names, check_mode)
        if check_mode:
            return {**record, "configuration_items": sorted(set(names))} if changed else record
        return self.records.read(records.CHANGE, record["id"]) or record

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        raise self.unsupported("standard change templates (Jira Service Management has none)")

    # -- CMDB (cmdb.py): Assets objects ----------------------------------------------------------

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        return cmdb.iter_cmdb(self.client, self.catalog, ci_class, fields, filters, query, page_size, workers)

    @staticmethod
    def ci_id_order(ci_id: str) -> t.Any:
        return int(ci_id)  # Assets object ids are numbers: "9" before "10"

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        return cmdb.put_ci(self.client, self.catalog, name, ci_class, fields, check_mode)

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        cmdb.check_relation_types(types)
        raise self.unsupported("CMDB relationships (Assets keeps them as reference attributes)")

    def resolve_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
        cmdb.check_relations(relations)
        raise self.unsupported("CMDB relationships (Assets keeps them as reference attributes)")

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        if not isinstance(relations, CiRelations):
            cmdb.check_relations(relations)
        raise self.unsupported("CMDB relationships (Assets keeps them as reference attributes)")

    # -- feature files (attachments.py, recurrence): one-line delegations ------------------------------

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        return attachments.add_attachment(self.client, record["id"], path, name, content_type, check_mode)

    def attachments(self, kind: str, record: Record) -> list[Record]:
        return attachments.attachments(self.client, record["id"])

    def record_recurrence(self, record: Record, text: str, *, once_key: str | None = None,
                          check_mode: bool = False) -> Recurrence:
        """A counter in an issue property and notes at a bounded rate (recurrence.py): Jira caps comments per issue."""
        return recurrence.record_recurrence(self.client, record["number"], text, check_mode, once_key=once_key)
