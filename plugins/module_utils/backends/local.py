# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend: changes and incidents in one embedded SQLite file. FOR INTERNAL COLLECTION USE ONLY.

Behaviour a caller may rely on, beyond the contract in _base:

- The file is ``local_db`` (default ``_options.default_local_db()``); its directory is created on the
  first write. Reads of a file that does not exist return None or nothing; nothing creates it but a write.
- Every write is one ``BEGIN IMMEDIATE`` transaction that re-reads the record under the lock, so many
  forked workers can write at once; a lock held longer than ``timeout`` raises ItsmTransientError.
- ``id`` is a uuid4 hex string; ``number`` is ``CHG0000001`` / ``INC0000001``, allocated in the
  transaction (unique and gapless); ``url`` is ``local://changes/CHG0000001`` (``local://incidents/...``).
- ``create`` with a ``correlation_id`` that an open record already carries (open as in ``get(...,
  open_only=True)``) returns that record instead of creating a second one; the check runs inside the
  write transaction, so concurrent get-then-create callers end up with one record.
- The type of a change is fixed at creation. ``update``/``transition`` also take ``work_notes`` and
  ``comments`` (appended in the same transaction) and, for changes, ``configuration_items``.
- In check mode a write starts from the record it is given (what an earlier check-mode step predicted)
  over the stored row, so a walk of several steps predicts what the real walk does.
- ``decide_approval``: an approver decides once per approval round (a round starts when the change
  enters assess, or authorize for an emergency change). Repeating the same decision in the round is
  a no-op, so a re-run play changes nothing, and a normal change's two stages need two different
  approvers (a warning says so). A caller whose ``record["state"]`` is no longer the stored state is
  refused rather than deciding a stage it never saw.
- ``audit(kind, record)`` returns the whole append-only trail ``{type, field, old, new, text, author,
  created}`` (types: created, state, field, note, approval); ``journal`` returns the notes only.
- Extras: ``put_template``/``template``, ``put_blackout``, ``upsert_ci``/``iter_cis`` (the CMDB table).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import typing as t
import uuid

from .. import _lifecycle as lifecycle
from .. import _records as records
from .._errors import ItsmNotFoundError, ItsmTransitionError, ItsmValidationError
from .._options import ConnectionSettings, default_local_db
from . import _local_attachments, _local_cmdb
from . import _local_schema as schema
from ._base import CiRelations, Found, ItsmBackend, Record, Warn, check_limit
from ._local_schema import Row

CHANGE, INCIDENT = records.CHANGE, records.INCIDENT
_PAGE = 200
_INHERITED: list[sqlite3.Connection | None] = []

_STATES = {CHANGE: records.CHANGE_STATES, INCIDENT: records.INCIDENT_STATES}
_OUTPUT = {CHANGE: records.CHANGE_FIELDS, INCIDENT: records.INCIDENT_FIELDS}


class LocalBackend(ItsmBackend):
    """Changes and incidents in an embedded SQLite store that enforces the ITIL models of _lifecycle."""

    name = "local"
    capabilities = frozenset({"approvals", "affected_cis", "blackouts", "templates", "cmdb"})

    def __init__(self, settings: ConnectionSettings, warn: Warn | None = None):
        super().__init__(settings, warn)
        self.path = os.path.abspath(os.path.expanduser(settings.local_db or default_local_db()))
        self.actor = settings.username or schema.os_user()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()

    # -- records ---------------------------------------------------------------------------------

    def get(self, kind: str, number: str | None = None, id: str | None = None,
            correlation_id: str | None = None, open_only: bool = False) -> Record | None:
        """Look-up by every key given; ``open_only`` applies to correlation-id look-ups, as the contract says."""
        records.require_choice("kind", kind, records.KINDS)
        keys = {key: value for key, value in (("number", number), ("id", id), ("correlation_id", correlation_id))
                if value}
        if not keys:
            raise ItsmValidationError("number", number, "give a number, id or correlation_id to look a record up")
        clauses = [f"r.{key} = ?" for key in keys]
        params = list(keys.values())
        if open_only and correlation_id:
            clauses.append(schema.open_clause(kind))
        with self._read() as conn:
            rows = self._query(conn, kind, clauses, params) if conn else []
        records.refuse_shared_correlation(kind, correlation_id, rows)
        return self._to_record(kind, rows[0]) if rows else None

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        """One SQL statement for all filters, run page by page (keyset on insertion order) as the caller reads."""
        records.require_choice("kind", kind, records.KINDS)
        clauses, params = schema.translate_filters(kind, filters or {})
        check_limit(limit)
        return self._pages(kind, clauses, params, limit)

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
        """The records and the COUNT of all that match, read in one transaction: one snapshot of the store."""
        records.require_choice("kind", kind, records.KINDS)
        clauses, params = schema.translate_filters(kind, filters or {})
        check_limit(limit)
        with self._read() as conn:
            if conn is None:
                return Found([], False, 0)
            with schema.read_transaction(conn):
                rows = self._query(conn, kind, clauses, params, limit)
                total = schema.count_rows(conn, kind, clauses, params)
        return Found([self._to_record(kind, row) for row in rows], total > len(rows), total)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        """Create in state new; an open record with the same correlation_id is returned instead (see module doc)."""
        records.require_choice("kind", kind, records.KINDS)
        parsed = schema.parse_input(kind, fields, creating=True)
        now = schema.now()
        with self._session(check_mode) as conn:
            cid = parsed.values.get("correlation_id")
            existing = []
            if cid and conn:
                existing = self._query(conn, kind, ["r.correlation_id = ?", schema.open_clause(kind)], [cid])
            records.refuse_shared_correlation(kind, cid, existing)
            if existing:
                return self._to_record(kind, existing[0])
            template = self._template_fields(conn, parsed.template) if parsed.template else {}
            row = _initial_row(kind, parsed, template, now)
            if check_mode:
                return self._to_record(kind, row)
            row["id"], row["number"] = uuid.uuid4().hex, schema.next_number(conn, kind)
            schema.insert_row(conn, kind, row)
            if row.get("configuration_items"):
                schema.replace_cis(conn, row["id"], row["configuration_items"])
            snapshot = {key: value for key, value in row.items()
                        if key in _OUTPUT[kind] and value not in (None, [], {})}
            events = [{"type": "created", "new": snapshot, "text": f"created {row['number']} in state new"}]
            schema.add_events(conn, kind, row["id"], self.actor, now, events + schema.note_events(parsed.notes))
            return self._fetch(conn, kind, row["id"])

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = schema.parse_input(kind, fields)
        return self._modify(kind, record, parsed.notes, lambda row, now: _apply(kind, row, parsed), check_mode)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False) -> Record:
        """One user transition, validated against the record as stored (already there: only ``fields`` apply)."""
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("state", state, _STATES[kind])
        parsed = schema.parse_input(kind, fields or {})

        def plan(row: Row, now: str) -> Row:
            new = _apply(kind, row, parsed)
            if row["state"] != state:
                _check_move(kind, row, state)
                missing = lifecycle.missing_fields(kind, state, new)
                if missing:
                    raise ItsmTransitionError(
                        f"state: cannot move {_label(kind, row)} to {state}: {', '.join(missing)} must be set; give "
                        "them with the transition or set them first", option="state", value=state, missing=missing)
                _enter(kind, row, new, state, now)
            return new

        return self._modify(kind, record, parsed.notes, plan, check_mode)

    def journal(self, kind: str, record: Record) -> list[Record]:
        return [{key: entry[key] for key in ("field", "text", "author", "created")}
                for entry in self._events(kind, record, ("note",))]

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        """One SQL statement (``record_id IN``) per batch of ids, as approvals_for."""
        records.require_choice("kind", kind, records.KINDS)
        found: dict[str, list[Record]] = {record_id: [] for record_id in ids}
        with self._read() as conn:
            rows = schema.read_notes(conn, kind, list(found)) if conn and found else []
        for row in rows:
            found[row.pop("record_id")].append(row)
        return found

    def audit(self, kind: str, record: Record) -> list[Record]:
        """Every entry of the record's trail, oldest first: ``{type, field, old, new, text, author, created}``."""
        return self._events(kind, record, None)

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False) -> None:
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("field", field, schema.NOTE_FIELDS)
        self._modify(kind, record, [(field, schema.require_text(field, text))], lambda row, now: dict(row), check_mode)

    # -- changes ---------------------------------------------------------------------------------

    def approvals(self, record: Record) -> list[Record]:
        with self._read() as conn:
            record_id = self._record_id(conn, CHANGE, record) if conn else None
            rows = conn.execute("SELECT approver, state, comments, stage, decided_at FROM approvals "
                                "WHERE change_id = ? ORDER BY seq", (record_id,)).fetchall() if record_id else []
        return [dict(row) for row in rows]

    def approvals_for(self, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        found: dict[str, list[Record]] = {change_id: [] for change_id in ids}
        with self._read() as conn:
            rows = conn.execute(f"SELECT change_id, approver, state, comments, stage, decided_at FROM approvals "
                                f"WHERE change_id IN ({','.join('?' * len(found))}) ORDER BY seq",
                                list(found)).fetchall() if conn and found else []
        for row in rows:
            found[row["change_id"]].append({key: row[key] for key in row.keys() if key != "change_id"})
        return found

    def decide_approval(self, record: Record, approver: str, decision: str, comments: str | None,
                        check_mode: bool = False) -> Record:
        """Decide the stage the change is in; an approver decides once per approval round (see module doc)."""
        _check_decision(approver, decision, comments)
        now = schema.now()
        with self._session(check_mode) as conn:
            row = self._row_for(conn, CHANGE, record)
            earlier = conn.execute(
                "SELECT stage FROM approvals WHERE change_id = ? AND approver = ? AND state = ? AND round = ?",
                (row["id"], approver, decision, row["approval_round"])).fetchone() if conn else None
            outcome = lifecycle.approval_outcome(row["type"], row["state"], decision)
            if earlier is not None:
                if outcome is not None and earlier["stage"] != row["state"]:
                    self.warn(f"{approver} already {decision} {_label(CHANGE, row)} at {earlier['stage']} in this "
                              f"approval round; another approver must decide at {row['state']}")
                return self._to_record(CHANGE, row)
            if outcome is None:
                raise ItsmTransitionError(f"{_label(CHANGE, row)} is not awaiting approval: state {row['state']}, "
                                          f"approval {row['approval']}", option="state", value=row["state"])
            stage = record.get("state") or row["state"]
            if stage != row["state"]:
                raise ItsmTransitionError(f"{_label(CHANGE, row)} moved on from {stage} to {row['state']} since it "
                                          "was read; read it again before deciding", option="state", value=stage)
            new = dict(row, state=outcome[0], approval=outcome[1], updated_at=now)
            if check_mode:
                return self._to_record(CHANGE, new)
            conn.execute("INSERT INTO approvals (change_id, approver, state, comments, stage, round, decided_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (row["id"], approver, decision, comments, stage, row["approval_round"], now))
            said = f": {comments}" if comments else ""
            event = {"type": "approval", "field": stage, "new": decision,
                     "text": f"{approver} {decision} at {stage}{said}"}
            self._store(conn, CHANGE, row, new, [event] + schema.diff_events(CHANGE, row, new), now)
            return self._fetch(conn, CHANGE, row["id"])

    def affected_cis(self, record: Record) -> list[str]:
        with self._read() as conn:
            if conn is None:
                return list(record.get("configuration_items") or [])
            return list(self._row_for(conn, CHANGE, record)["configuration_items"])

    def affected_ci_ids(self, record: Record) -> list[str]:
        return self.affected_cis(record)  # a local CI's id is its name, the key of the cis table

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        cis = schema.ci_names(names)
        return self._modify(CHANGE, record, [], lambda row, now: dict(row, configuration_items=cis), check_mode)

    def blackouts(self, start: str, end: str, record: Record | None = None) -> list[Record]:
        """Windows overlapping [start, end]; touching at an edge is no overlap. ``record`` is unused: all are global."""
        start, end = schema.window(start, end, "start", "end")
        with self._read() as conn:
            rows = conn.execute("SELECT name, start_at, end_at, reason FROM blackouts WHERE start_at < ? AND "
                                "end_at > ? ORDER BY start_at, name", (end, start)).fetchall() if conn else []
        return [{"name": row["name"], "start": row["start_at"], "end": row["end_at"], "source": "local",
                 "reason": row["reason"]} for row in rows]

    def put_blackout(self, name: str, start: str, end: str, reason: str | None = None,
                     check_mode: bool = False) -> bool:
        """Define or redefine the blackout window ``name``; True when something changed."""
        start, end = schema.window(start, end, "start", "end")
        wanted = (schema.require_text("name", name), start, end, reason)
        return self._put("SELECT name, start_at, end_at, reason FROM blackouts WHERE name = ?",
                         "INSERT OR REPLACE INTO blackouts (name, start_at, end_at, reason) VALUES (?, ?, ?, ?)",
                         wanted, check_mode)

    def template(self, name: str) -> Record | None:
        with self._read() as conn:
            row = conn.execute("SELECT fields FROM templates WHERE name = ?", (name,)).fetchone() if conn else None
        return {"name": name, "fields": json.loads(row["fields"])} if row else None

    def put_template(self, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
        """Store ``fields`` (canonical change fields but type and correlation_id) as the template ``name``."""
        parsed = schema.parse_input(CHANGE, fields, allowed=schema.TEMPLATE_FIELDS)
        encoded = json.dumps({key: value for key, value in parsed.values.items() if value is not None}, sort_keys=True)
        return self._put("SELECT name, fields FROM templates WHERE name = ?",
                         "INSERT OR REPLACE INTO templates (name, fields, updated_at) VALUES (?, ?, ?)",
                         (schema.require_text("name", name), encoded), check_mode, schema.now())

    # -- CMDB ------------------------------------------------------------------------------------

    def upsert_ci(self, name: str, ci_class: str | None = None, fields: t.Mapping[str, t.Any] | None = None,
                  check_mode: bool = False) -> bool:
        """Create or replace a configuration item; True when something changed."""
        encoded = schema.json_extras(fields or {})
        return self._put("SELECT name, ci_class, fields FROM cis WHERE name = ?",
                         "INSERT OR REPLACE INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, ?, ?)",
                         (schema.require_text("name", name), ci_class, encoded), check_mode, schema.now())

    def iter_cis(self, filters: t.Mapping[str, t.Any] | None = None) -> t.Iterator[Record]:
        """``{name, ci_class, fields}`` by name; filters ``name`` and ``ci_class`` (a value or a list)."""
        clauses, params = [], []
        for key, value in (filters or {}).items():
            if key not in ("name", "ci_class"):
                raise ItsmValidationError("filters", key, "expected one of: name, ci_class")
            values = [value] if isinstance(value, str) else list(value)
            clauses.append(f"{key} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        return self._ci_pages(clauses, params)

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    # -- plumbing --------------------------------------------------------------------------------

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        if self._pid != os.getpid():
            # Forked: a connection must not be used, nor closed, on this side of a fork (SQLite "How To
            # Corrupt", 2.6); keep a reference so garbage collection never closes it here.
            _INHERITED.append(self._conn)
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            self._conn = schema.open_store(self.path, self.settings.timeout, create)
        return self._conn

    @contextlib.contextmanager
    def _read(self) -> t.Iterator[sqlite3.Connection | None]:
        try:
            yield self._connection(create=False)
        except sqlite3.Error as exc:
            raise schema.storage_error(self.path, exc, self.settings.timeout) from None

    @contextlib.contextmanager
    def _session(self, check_mode: bool) -> t.Iterator[sqlite3.Connection | None]:
        """A write transaction, or in check mode a read connection (None when there is no file yet)."""
        try:
            if check_mode:
                yield self._connection(create=False)
            else:
                with schema.write_transaction(self._connection(create=True)) as conn:
                    yield conn
        except sqlite3.Error as exc:
            raise schema.storage_error(self.path, exc, self.settings.timeout) from None

    def _query(self, conn: sqlite3.Connection, kind: str, clauses: list[str], params: list[t.Any],
               limit: int | None = None) -> list[Row]:
        sql = schema.select_sql(kind) + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY r.seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [schema.decode_row(kind, row) for row in conn.execute(sql, params)]

    def _pages(self, kind: str, clauses: list[str], params: list[t.Any], limit: int | None) -> t.Iterator[Record]:
        after, remaining = 0, limit
        while remaining is None or remaining > 0:
            size = _PAGE if remaining is None else min(_PAGE, remaining)
            with self._read() as conn:
                rows = self._query(conn, kind, clauses + ["r.seq > ?"], params + [after], size) if conn else []
            yield from (self._to_record(kind, row) for row in rows)
            if len(rows) < size:
                return
            after = rows[-1]["seq"]
            remaining = None if remaining is None else remaining - len(rows)

    def _ci_pages(self, clauses: list[str], params: list[t.Any]) -> t.Iterator[Record]:
        after = ""
        while True:
            where = " AND ".join(clauses + ["name > ?"])
            with self._read() as conn:
                rows = conn.execute(f"SELECT name, ci_class, fields FROM cis WHERE {where} ORDER BY name "
                                    f"LIMIT {_PAGE}", params + [after]).fetchall() if conn else []
            yield from ({"name": row["name"], "ci_class": row["ci_class"], "fields": json.loads(row["fields"])}
                        for row in rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1]["name"]

    def _fetch(self, conn: sqlite3.Connection, kind: str, record_id: str) -> Record:
        return self._to_record(kind, self._query(conn, kind, ["r.id = ?"], [record_id])[0])

    def _record_id(self, conn: sqlite3.Connection, kind: str, record: Record) -> str | None:
        if record.get("id") or not record.get("number"):
            return record.get("id")
        return self._row_for(conn, kind, record)["id"]

    def _row_for(self, conn: sqlite3.Connection | None, kind: str, record: Record) -> Row:
        """The stored row of ``record`` (by id, else number); a check-mode record never stored is its own row."""
        key = "id" if record.get("id") else "number"
        if not record.get(key):
            if record.get("state") not in _STATES[kind]:
                raise ItsmValidationError("record", record, f"expected a {kind} record with an id or number")
            return schema.row_from_record(kind, record)
        rows = self._query(conn, kind, [f"r.{key} = ?"], [record[key]]) if conn else []
        if not rows:
            raise ItsmNotFoundError(f"{kind} {record[key]} does not exist in local_db {self.path}",
                                    option=key, value=record[key])
        return rows[0]

    def _modify(self, kind: str, record: Record, notes: list[tuple[str, str]],
                plan: t.Callable[[Row, str], Row], check_mode: bool) -> Record:
        """Read the row under the write lock, let ``plan`` compute the new row, write it with its audit trail."""
        now = schema.now()
        with self._session(check_mode) as conn:
            row = self._row_for(conn, kind, record)
            if check_mode:
                row = _as_predicted(kind, row, record)
            new = plan(row, now)
            events = schema.diff_events(kind, row, new) + schema.note_events(notes)
            if events:
                new["updated_at"] = now
            if check_mode:
                return self._to_record(kind, new)
            if events:
                self._store(conn, kind, row, new, events, now)
            return self._fetch(conn, kind, row["id"])

    def _store(self, conn: sqlite3.Connection, kind: str, old: Row, new: Row, events: list[Row], now: str) -> None:
        schema.update_row(conn, kind, old["id"], {name: new[name] for name in schema.columns(kind)
                                                  if new.get(name) != old.get(name)})
        if kind == CHANGE and new["configuration_items"] != old["configuration_items"]:
            schema.replace_cis(conn, old["id"], new["configuration_items"])
        schema.add_events(conn, kind, old["id"], self.actor, now, events)

    def _events(self, kind: str, record: Record, types: t.Sequence[str] | None) -> list[Record]:
        records.require_choice("kind", kind, records.KINDS)
        with self._read() as conn:
            record_id = self._record_id(conn, kind, record) if conn else None
            return schema.read_events(conn, kind, record_id, types) if record_id else []

    def _put(self, select: str, upsert: str, wanted: tuple, check_mode: bool, *stamp: str) -> bool:
        with self._session(check_mode) as conn:
            row = conn.execute(select, wanted[:1]).fetchone() if conn else None
            if row is not None and tuple(row) == wanted:
                return False
            if not check_mode:
                conn.execute(upsert, wanted + stamp)
            return True

    def _template_fields(self, conn: sqlite3.Connection | None, name: str) -> dict[str, t.Any]:
        row = conn.execute("SELECT fields FROM templates WHERE name = ?", (name,)).fetchone() if conn else None
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM templates ORDER BY name")] if conn else []
            raise ItsmNotFoundError(f"template: no standard change template named {name!r} in local_db {self.path}; "
                                    f"known templates: {', '.join(known) or 'none'}", option="template", value=name)
        return json.loads(row["fields"])

    def _to_record(self, kind: str, row: Row) -> Record:
        record = {name: row.get(name) for name in _OUTPUT[kind]}
        record["backend"] = self.name
        record["url"] = f"local://{schema.TABLES[kind]}/{row['number']}" if row.get("number") else None
        record["fields"] = dict(row.get("fields") or {})
        return record

    # -- CMDB for the inventory (contract: _base.iter_cmdb, ci_relations, put_ci, put_ci_relations) ----

    def iter_cmdb(self, ci_class: str | None = None, fields: t.Sequence[str] | None = None,
                  filters: t.Mapping[str, t.Any] | None = None, query: str | None = None,
                  page_size: int = 1000, workers: int = 1) -> t.Iterator[Record]:
        """Keyset pages ordered by name (a local CI's id); ``workers`` is unused: one reader is fastest here."""
        plan = _local_cmdb.Plan(ci_class, fields, filters, query)
        return self._cmdb_pages(plan, max(1, int(page_size)))

    def ci_relations(self, ids: t.Sequence[str], types: t.Sequence[str] | None = None,
                     depth: int = 1) -> t.Iterator[Record]:
        with self._read() as conn:
            found = _local_cmdb.relations(conn, list(ids), types, depth) if conn else []
        return iter(found)

    def put_ci(self, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
               check_mode: bool = False) -> bool:
        if ci_class is not None:
            schema.require_text("ci_class", ci_class)
        # A field given as None is one to remove: the store keeps no empty keys.
        kept = {key: value for key, value in fields.items() if value is not None}
        return self.upsert_ci(name, ci_class, kept, check_mode=check_mode)

    def put_ci_relations(self, name: str, relations: t.Sequence[t.Mapping[str, str]] | CiRelations,
                         check_mode: bool = False) -> bool:
        """Any type and any target name are taken (the inventory groups by them); only the shape is checked."""
        checked = relations if isinstance(relations, CiRelations) else self.resolve_ci_relations(name, relations)
        with self._session(check_mode) as conn:
            return _local_cmdb.put_relations(conn, schema.require_text("name", name), checked.wanted, check_mode)

    def _cmdb_pages(self, plan: _local_cmdb.Plan, size: int) -> t.Iterator[Record]:
        after = ""
        while True:
            with self._read() as conn:
                rows = plan.page(conn, after, size) if conn else []
            yield from plan.items(rows)
            if len(rows) < size:
                return
            after = rows[-1][0]

    # -- attachments (contract: _base.add_attachment, attachments; schema version 3) -------------

    capabilities = capabilities | frozenset({"attachments"})

    def add_attachment(self, kind: str, record: Record, path: str, name: str | None = None,
                       content_type: str | None = None, check_mode: bool = False) -> tuple[bool, Record]:
        return _local_attachments.add(self, kind, record, path, name, content_type, check_mode)

    def attachments(self, kind: str, record: Record) -> list[Record]:
        return _local_attachments.listed(self, kind, record)


# -- the models, as pure functions of rows ------------------------------------------------------

def _initial_row(kind: str, parsed: schema.Input, template: dict[str, t.Any], now: str) -> Row:
    values = dict(parsed.values)
    row: Row = {name: None for name in schema.columns(kind)}
    if kind == CHANGE:
        values.update({key: value for key, value in template.items() if key not in values})
        if parsed.template and values.get("type") not in (None, "standard"):
            raise ItsmValidationError("type", values["type"], f"a change made from template {parsed.template!r} is a "
                                      "standard change; leave type out or set it to standard")
        change_type = "standard" if parsed.template else values.get("type") or "normal"
        row.update(approval="approved" if change_type == "standard" else "not_requested", template=parsed.template,
                   approval_round=0, configuration_items=parsed.cis or [])
        values["type"] = change_type
    else:
        values = {"impact": "low", "urgency": "low", **{k: v for k, v in values.items() if v is not None}}
        row["reopen_count"] = 0
    row.update(values, state="new", active=True, opened_at=now, updated_at=now,
               fields={key: value for key, value in (parsed.extras or {}).items() if value is not None})
    _finish(kind, row)
    return row


def _apply(kind: str, row: Row, parsed: schema.Input) -> Row:
    """The row with the caller's fields set (only those given) and the derived values recomputed."""
    if kind == CHANGE:
        lifecycle.refuse_type_change(_label(kind, row), row["type"], parsed.values.get("type"))
    new = dict(row, **parsed.values)
    new["fields"] = dict(row.get("fields") or {})
    for key, value in (parsed.extras or {}).items():
        if value is None:
            new["fields"].pop(key, None)
        else:
            new["fields"][key] = value
    if parsed.cis is not None:
        new["configuration_items"] = parsed.cis
    _finish(kind, new)
    return new


def _finish(kind: str, row: Row) -> None:
    if kind == INCIDENT:
        row["priority"] = records.priority_for(row.get("impact"), row.get("urgency"))
    start, end = row.get("start_date"), row.get("end_date")
    if start and end and end < start:
        raise ItsmValidationError("end_date", end, f"the end must not be before start_date {start}")


def _as_predicted(kind: str, row: Row, record: Record) -> Row:
    """The stored row as ``record`` says it is. In check mode nothing is stored, so the second step of a walk
    (review, then closed) must start from what the first step predicted, not from the unchanged store (issue 12)."""
    keep = ("backend", "id", "number", "url")
    return dict(row, **{name: record[name] for name in _OUTPUT[kind] if name in record and name in row
                        and name not in keep})


def _check_move(kind: str, row: Row, state: str) -> None:
    if state in lifecycle.user_transitions(kind, row.get("type"))[row["state"]]:
        return
    label = _label(kind, row)
    # plan_path explains an unreachable state; a reachable one is refused as more than one step.
    path = lifecycle.plan_path(kind, row["state"], state, row.get("type"), label=label)
    raise ItsmTransitionError(f"state: cannot move {label} from {row['state']} to {state} in one step; move it "
                              f"to {path[0]} first", option="state", value=state, current_state=row["state"])


def _enter(kind: str, row: Row, new: Row, state: str, now: str) -> None:
    """Side effects of a user transition into ``state`` (approvals, reopen count, close stamps)."""
    new["state"] = state
    if kind == CHANGE and state == lifecycle.CHANGE_APPROVAL_REQUESTED_IN.get(row["type"]):
        new["approval"], new["approval_round"] = "requested", row["approval_round"] + 1
    elif kind == CHANGE and state == "new" and row["approval"] == "requested":
        new["approval"] = "not_requested"  # withdrawn from assessment: no approval is pending any more
    if kind == INCIDENT and row["state"] == "resolved" and state == "in_progress":
        new["reopen_count"] = row["reopen_count"] + 1
        new["fields"].pop("resolved_at", None)
    if kind == INCIDENT and state == "resolved":
        new["fields"]["resolved_at"] = now
    if state in (records.CLOSED_CHANGE_STATES if kind == CHANGE else records.CLOSED_INCIDENT_STATES):
        new["active"], new["closed_at"] = False, now


# -- small helpers ---------------------------------------------------------------------------------

def _check_decision(approver: str, decision: str, comments: str | None) -> None:
    records.require_choice("decision", decision, records.APPROVAL_DECISIONS)
    if not str(approver or "").strip():
        raise ItsmValidationError("approver", approver, "name the person who decides")
    if decision == "rejected" and not comments:
        raise ItsmValidationError("comments", comments, "a rejection needs comments saying why")


def _label(kind: str, row: Row) -> str:
    return row.get("number") or f"the new {kind}"
