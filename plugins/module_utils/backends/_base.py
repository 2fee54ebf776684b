# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend contract. FOR INTERNAL COLLECTION USE ONLY.

Every backend takes and returns canonical records (plain dicts, see _records) and raises only the
collection's error tree (_errors). ``kind`` is ``"change"``, ``"incident"`` or ``"problem"``. Writes return the
record as read back from the system, so callers can verify what happened. Check mode is answered
here: with ``check_mode=True`` a write sends nothing and returns an approximate record.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import hashlib
import itertools
import mimetypes
import os
import time
import typing as t

from .. import _input as inputs
from .. import _lookup
from .. import _records as records
from .._errors import ItsmConflictError, ItsmUnavailableError, ItsmValidationError
from .._lookup import JournalTexts, LookupResult, RecordKey
from .._options import ConnectionSettings

Record = dict[str, t.Any]
Warn = t.Callable[[str], None]


class ItsmBackend(abc.ABC):
    """One system of record behind the canonical vocabulary."""

    #: the value of the ``backend`` option that selects this class
    name: str = ""
    #: optional features: "approvals", "affected_cis", "blackouts", "templates", "attachments", "cmdb" (iter_cmdb,
    #: put_ci), "cmdb_relations" (ci_relations, resolve_ci_relations, put_ci_relations) and "problems" (records of
    #: kind problem, and an incident's ``problem``; without it those raise ItsmUnavailableError)
    capabilities: frozenset[str] = frozenset()
    #: how messages name this system ("<where> has no configuration item named 'x'"): servicenow the instance URL,
    #: local ``local_db <path>``
    where: str = ""
    #: whether a create can race another with the same correlation id and then retires its own twin (servicenow,
    #: jsm: the look-up and the create are two requests, and two controllers share no lock): a look-up meeting two
    #: open holders reads again after _lookup.TWIN_WAITS before it calls them a conflict, so it meets the oldest,
    #: the one the retirement keeps
    twins_retired: bool = False

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None):
        self.settings = settings
        self.warn: Warn = warn or (lambda message: None)

    # -- records ---------------------------------------------------------------------------------

    def lookup(self, kind: str, number: str | None = None, correlation_id: str | None = None, *,
               id: str | None = None, open_only: bool = False, include: t.Collection[str] = frozenset(),
               writes: t.Mapping[str, t.Any] | None = None) -> LookupResult | None:
        """The record a number, id or correlation id names, with what the caller reads of it next; or None.

        The one look-up rule (_lookup): by number or id, that record; by correlation id, the one open holder
        (two open holders raise ItsmConflictError; on a backend that retires the twins of a create race,
        ``twins_retired``, only once they outlast _lookup.TWIN_WAITS), else, unless ``open_only``, the newest
        holder. Open
        (_lookup.OPEN_STATES): a change not closed or canceled, an incident new, in progress or on hold.
        Keys given together are ANDed.

        ``include`` (of _lookup.PARTS) declares what is returned with the record: ``approvals`` (a change's,
        as approvals() lists them), ``journal`` (``notes``: which texts the journal carries, what a write's
        ``known_notes`` takes), ``cis`` (``ci_ids``: a change's affected CIs by id, as affected_ci_ids() gives
        them); what is not asked for is None. ``writes`` are the canonical fields the task may write next: a
        backend may resolve the names among them in the same request (a look-up never refuses a name; the
        write does). Nothing is kept between calls: each look-up reads what it declares.

        Concrete: a backend implements records_holding, and may override read_holders to read the parts
        and names in the same request as the records; read_parts fills in what it did not read.
        """
        records.require_choice("kind", kind, records.KINDS)
        key = _lookup.record_key(number, id, correlation_id)
        inputs.lookup_keys(*key)  # what a query cannot hold is refused alike on every backend, naming the key
        parts = _lookup.parts(kind, include)
        waits = list(_lookup.TWIN_WAITS) if self.twins_retired and key.correlation_id else []
        while True:
            holders = self.read_holders(kind, key, open_only, parts, writes or {})
            try:
                found = _lookup.pick(kind, key, holders, open_only)
                break
            except ItsmConflictError:
                if not waits:
                    raise
                self.pause(waits.pop(0))  # twins of a create race are being retired: read again
        return None if found is None else self.read_parts(kind, found, parts)

    def pause(self, seconds: float) -> None:
        """Wait before reading again (twins being retired); a backend whose waits a test replaces overrides it."""
        time.sleep(seconds)

    def get(self, kind: str, number: str | None = None, id: str | None = None,
            correlation_id: str | None = None, open_only: bool = False) -> Record | None:
        """``lookup(...).record``: the record alone, or None."""
        found = self.lookup(kind, number, correlation_id, id=id, open_only=open_only)
        return None if found is None else found.record

    @abc.abstractmethod
    def records_holding(self, kind: str, key: RecordKey, open_only: bool) -> list[Record]:
        """Every record the key names (its keys ANDed), oldest first; with ``open_only`` and a correlation id,
        the open ones only. No choice is made here: lookup() applies the rule."""

    def read_holders(self, kind: str, key: RecordKey, open_only: bool, include: frozenset[str],
                     writes: t.Mapping[str, t.Any]) -> list[LookupResult]:
        """records_holding, each as a LookupResult without parts. A batching backend overrides it to read the
        ``include`` parts of every holder and the names in ``writes`` in the same request as the records."""
        return [LookupResult(record) for record in self.records_holding(kind, key, open_only)]

    def read_parts(self, kind: str, found: LookupResult, include: frozenset[str]) -> LookupResult:
        """``found`` with exactly the ``include`` parts: those read_holders did not read are read now, those
        not asked for are left out."""
        record = found.record
        parts: dict[str, t.Any] = {"approvals": None, "notes": None, "ci_ids": None}
        if "approvals" in include:
            parts["approvals"] = self.approvals(record) if found.approvals is None else found.approvals
        if "journal" in include:
            parts["notes"] = (JournalTexts.from_entries(self.journal(kind, record)) if found.notes is None
                              else found.notes)
        if "cis" in include:
            parts["ci_ids"] = self.affected_ci_ids(record) if found.ci_ids is None else found.ci_ids
        return dataclasses.replace(found, **parts)

    @abc.abstractmethod
    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        """Records matching canonical filters, oldest first, paged lazily.

        Filters (all optional, ANDed): ``number`` (one or a list), ``correlation_id`` (one, or a list: the records
        holding any of them, every holder, open or not; a value with a comma is refused in a list), ``state`` (list),
        ``type`` (list, changes), ``approval`` (changes), ``active`` (bool), ``assignment_group``, ``configuration_item``
        (a CI name: affected CI of a change, CI of an incident), ``caused_by`` (incidents),
        ``problem`` (incidents linked to a problem, by its number, or to any of a list of numbers),
        ``window_start`` / ``window_end`` (changes whose planned window overlaps the range; ISO 8601),
        ``opened_after`` / ``opened_before`` (records whose ``opened_at`` is at or after / at or before the
        date; ISO 8601 with a timezone, both ends included).
        """

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        """At most ``limit`` records matching ``filters`` (as ``find`` lists them), and whether more matched.

        ``Found.total`` is how many matched when the backend knows it without reading them all, else None.
        By default one record past the limit is read, which tells a cut list from a complete one.
        """
        check_limit(limit)
        if limit is None:
            found = list(self.find(kind, filters))
            return Found(found, False, len(found))
        found = list(itertools.islice(self.find(kind, filters, limit=limit + 1), limit + 1))
        return Found(found[:limit], len(found) > limit, None)

    @abc.abstractmethod
    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        """Create a record in its initial state from canonical writable fields.

        Changes may also carry ``template`` (a standard change template name, whose values fill the
        fields not given) and ``configuration_items`` (affected CI names). A ``correlation_id`` that
        already names a record is the caller's to look up first (``get``); backends that can do it
        atomically also refuse a duplicate.
        """

    @abc.abstractmethod
    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: JournalTexts | None = None) -> Record:
        """Set canonical writable fields (only those given) on an existing record.

        ``work_notes`` / ``comments`` among the fields are appended. ``known_notes``: what the caller's look-up
        read of the record's journal (``include={"journal"}``); a backend may use it in place of its own read
        before appending (servicenow: to tell, after a failure, whether the entries landed).
        """

    @abc.abstractmethod
    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: JournalTexts | None = None) -> Record:
        """Move the record one user transition to ``state``, setting ``fields`` in the same write.

        Verified by reading back: a refusal (model, business rule, missing field) raises
        ItsmTransitionError naming the record, the transition and the system's reason. ``known_notes`` as
        for update.
        """

    @abc.abstractmethod
    def journal(self, kind: str, record: Record) -> list[Record]:
        """Work notes and comments, oldest first: ``{field, text, author, created}``."""

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        """The journals of many records by id, as ``journal`` lists them; backends read them in bulk."""
        return {record_id: self.journal(kind, {"id": record_id}) for record_id in ids}

    @abc.abstractmethod
    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False, *,
                    known_notes: JournalTexts | None = None) -> None:
        """Append one ``work_notes`` or ``comments`` entry (``known_notes`` as for update)."""

    def record_recurrence(self, record: Record, text: str, *, once_key: str | None = None,
                          check_mode: bool = False) -> Recurrence:
        """Record that the failure behind the open incident ``record`` happened again (a deduplicated incident).

        By default a ``Recurrence #N: <text>`` work note each time, ``N`` counted from the recurrence notes already
        in the journal (_lookup.recurrence_number: 2 for the first recurrence). ``once_key`` names one occurrence and
        is part of ``text``: when an entry of the journal carries it, the occurrence was recorded already (a delivery
        retried) and nothing is written. A backend may keep a counter and note at a bounded rate instead (jsm: the
        site caps comments per issue); ``Recurrence.note`` says what was (check mode: would be) written.
        """
        journal = self.journal(records.INCIDENT, record)
        number = _lookup.recurrence_number(journal)
        if once_key is not None and any(once_key in (entry.get("text") or "") for entry in journal):
            return Recurrence(number - 1, False, None)
        note = _lookup.recurrence_note(journal, text)
        self.add_journal(records.INCIDENT, record, "work_notes", note, check_mode=check_mode,
                         known_notes=JournalTexts.from_entries(journal))
        return Recurrence(number, True, note)

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        """Approvals of a change: ``{approver, state, comments, stage, decided_at}``, oldest first."""
        return []

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        """The approvals of many changes by id, as ``approvals`` lists them; backends read them in bulk."""
        return {change_id: self.approvals({"id": change_id}) for change_id in ids}

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        """Record ``approved`` or ``rejected`` for ``approver``; returns the change as it is afterwards."""
        raise self.unsupported("recording approval decisions")

    def affected_cis(self, record: Record) -> list[str]:
        """Names of the configuration items a change affects."""
        return list(record.get("configuration_items") or [])

    def affected_ci_ids(self, record: Record) -> list[str]:
        """Ids (as iter_cmdb gives them) of the configuration items a change affects; names need not be unique."""
        raise self.unsupported("reading affected configuration items by id")

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        """Make ``names`` the change's affected CIs (added and removed as needed)."""
        raise self.unsupported("setting affected configuration items")

    def blackouts(self, start: str, end: str, record: Record | None = None, *,
                  ci_ids: t.Sequence[str] | None = None) -> list[Record]:
        """The backend's own blackout or freeze windows overlapping [start, end] that apply to the change
        ``record`` (all of them without one): ``{name, start, end, source, reason}``. ``ci_ids``: the change's
        affected CIs by id, as a look-up with ``include={"cis"}`` read them (a backend whose blackouts are scoped
        by CI uses them rather than the names). Backends without such data return []."""
        return []

    def template(self, name: str) -> Record | None:
        """A standard change template: ``{name, fields}``, or None."""
        return None

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        """Define or redefine a template; True when something changed."""
        raise self.unsupported("defining standard change templates")

    # -- attachments -----------------------------------------------------------------------------

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        """Attach the file at ``path`` (on the controller) to the record as ``name`` (default: its base name).

        Idempotent by sha256: when an attachment of that name already has the same content, nothing is
        sent and ``(False, that attachment)`` is returned. A different content under the same name
        replaces the older attachment. Returns ``(changed, attachment)``, the attachment as
        ``{id, name, size, sha256, content_type, created, url}``.
        """
        raise self.unsupported("attachments")

    def attachments(self, kind: str, record: Record) -> list[Record]:
        """The record's attachments, oldest first, each ``{id, name, size, sha256, content_type, created, url}``."""
        raise self.unsupported("attachments")

    # -- CMDB ------------------------------------------------------------------------------------

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        """Configuration items, ordered by ``id``, paged lazily as the caller reads.

        Each item is ``{id, name, ci_class, fields}``: ``id`` is the backend's stable unique key (the
        order of the pages, so a CI changed during the read is never returned twice), ``fields`` holds
        exactly the ``fields`` asked for, by the name asked for, a missing value as None. A dotted name
        (``location.country``) is a dot-walk, fetched in the same request as the item. ``fields=None``
        returns every field the backend has. ``ci_class`` is a class or source table (ServiceNow
        ``cmdb_ci_server``: that table and its children). ``filters`` are canonical: ``{field: value}``
        or ``{field: [values]}``, ANDed, a list meaning any of; ``name`` and ``ci_class`` included.
        ``query`` is a raw query in the backend's own language (ServiceNow encoded query; ``local``
        understands the same subset, see _cmdb.parse_query), ANDed with the filters. ``page_size``
        items per request; ``workers`` bounds the concurrent page requests a backend may run (backends
        that page by key read one page at a time and ignore it). Pages arrive in order: ``ci_id_order``'s.
        """
        raise self.unsupported("reading the CMDB")

    @staticmethod
    def ci_id_order(ci_id: str) -> t.Any:
        """The sort key of a CI ``id`` in the order iter_cmdb gives: the text itself (local: names; servicenow:
        sys_ids), unless a backend's ids order otherwise (jsm: Assets object ids, numbers)."""
        return ci_id

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        """Relationships leaving the CIs ``ids`` (their ``id`` as iter_cmdb gave it): ``{id, type, target, depth}``.

        ``id`` is the CI it starts from (one of ``ids``), ``type`` the relationship type of the last hop
        as the backend names it (``Runs on``, ``Depends on``), ``target`` the name of the CI reached and
        ``depth`` the number of hops (1 to ``depth``), following only relationships of ``types`` (all
        when None). Only these CIs' relationships are read, never the whole relationship table.
        """
        raise self.unsupported("reading CMDB relationships")

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
               check_mode: bool = False) -> bool:
        """Create the CI ``name`` or set these fields (a None value clears the field); True when something
        changed. ``ci_class`` as _input.ci_class takes it; None keeps an existing CI's class. Every backend
        refuses, before it stores anything (ItsmValidationError naming ``ci_class``), a class other than the
        one an existing CI has (a CI keeps its class, _input.class_kept) and a class it does not have."""
        raise self.unsupported("writing configuration items")

    def resolve_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]]) -> CiRelations:
        """Check ``[{type, target}]`` for put_ci_relations on ``name`` without writing anything.

        Refuses what put_ci_relations would refuse (a malformed entry; a type or a target CI the backend
        does not have, where it keeps them), so a caller that resolves first and writes the CI after
        leaves no CI behind when a relationship is refused. ``name`` need not exist yet. The result
        goes to put_ci_relations in place of the list, so nothing is looked up twice.
        """
        return CiRelations(inputs.relation_list(relations))

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        """Make ``[{type, target}]`` (or what resolve_ci_relations returned for ``name``) exactly the
        relationships leaving ``name``; True when something changed."""
        raise self.unsupported("writing CMDB relationships")

    def extra_user_transitions(self, kind: str, change_type: str | None) -> t.Mapping[str, t.Sequence[str]]:
        """state -> the states a user may move a record to on this backend beyond the canonical model's
        (_lifecycle), which the runners plan with: none by default."""
        return {}

    def unsupported(self, what: str) -> ItsmUnavailableError:
        return ItsmUnavailableError(f"backend: the {self.name} backend does not support {what}",
                                    option="backend", value=self.name)

    def task(self) -> t.ContextManager[None]:
        """One task's writes as one unit where the backend can make them one (local: one transaction, so a process
        killed mid-task leaves all of it or none of it); elsewhere each write stands alone. The action plugin opens
        it around a task that writes and does not wait (not around the change gate's wait or an outbox flush)."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Release connections; the backend is not used afterwards."""


class Recurrence(t.NamedTuple):
    """What record_recurrence did: ``number`` the occurrence it counted (2 for the first recurrence; when not
    ``counted``, the count so far), ``counted`` False when ``once_key`` had been recorded already, ``note`` the work
    note added (in check mode: that would be), None when none was."""

    number: int
    counted: bool
    note: str | None


class Found(t.NamedTuple):
    """What ``find_limited`` read: the records, whether more matched than were returned, and how many
    matched (None when the backend cannot tell without reading them all)."""

    records: list[Record]
    truncated: bool
    total: int | None = None


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ItsmValidationError("limit", limit, "expected a number of records, 0 or more")


class CiRelations(t.NamedTuple):
    """Relationships resolve_ci_relations checked: ``wanted`` the sorted, distinct (type, target) pairs,
    ``resolved`` what the backend looked up for them (its own; None when it needs nothing)."""

    wanted: list[tuple[str, str]]
    resolved: t.Any = None


class AttachmentFile(t.NamedTuple):
    """A file to attach, read once: what every backend compares (``sha256``) and stores."""

    content: bytes
    sha256: str
    name: str
    content_type: str

    def already_attached(self, existing: t.Iterable[Record]) -> Record | None:
        """The attachment among ``existing`` with this name and content, if any (then nothing is sent)."""
        return next((item for item in existing if item["name"] == self.name and item["sha256"] == self.sha256), None)

    def planned(self) -> Record:
        """The attachment check mode reports: what would be stored, with no id yet."""
        return {"id": None, "name": self.name, "size": len(self.content), "sha256": self.sha256,
                "content_type": self.content_type, "created": None, "url": None}


def attachment_file(path: str, name: str | None = None, content_type: str | None = None) -> AttachmentFile:
    """Read the file at ``path`` (an error naming ``path``), with its attachment name (default: its base name;
    a file name, never a path) and content type (default: guessed from the name)."""
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise ItsmValidationError("path", path, f"cannot read the file: {exc.strerror or exc}") from None
    name = records.require_file_name("name", os.path.basename(path) if name is None else name)
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return AttachmentFile(content, hashlib.sha256(content).hexdigest(), name, content_type)
