# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes, incidents and problems of the local backend, from look-up to journal. FOR INTERNAL COLLECTION USE ONLY.

The records a look-up names, find, create, update, transition, the journal and audit trail, and a change's
affected CIs.

Every write is one transaction of the store that re-reads the record under the write lock, computes the new
row with model.py and stores it with its audit trail. A look-up (the contract's lookup(), on records_holding)
and create's dedup choose among the holders with _lookup.choose, the one look-up rule.
"""

from __future__ import annotations

import typing as t
import uuid

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _lookup as lookup
from ... import _records as records
from ..._records import CHANGE, INCIDENT, PROBLEM
from .._base import Found, check_limit
from . import cmdb, model, query, schema
from .schema import Record, Row
from .store import LocalStore, read_transaction
from .templates import template_fields

# What a write does: the new row from the stored one and the time of the write.
Plan = t.Callable[[Row, str], Row]


def records_holding(store: LocalStore, kind: str, key: lookup.RecordKey, open_only: bool) -> list[Record]:
    """Every record the key names (its keys ANDed), oldest first; open ones only with ``open_only`` and a
    correlation id. One SQL statement; lookup() (the contract's) chooses among them by _lookup.choose."""
    records.require_choice("kind", kind, records.KINDS)
    given = key.given()
    clauses = [f"r.{name} = ?" for name, _value in given]
    params = [value for _name, value in given]
    if open_only and key.correlation_id:
        clauses.append(query.open_clause(kind))
    with store.read() as conn:
        rows = schema.select_rows(conn, kind, clauses, params) if conn else []
    return [schema.record_of(kind, row) for row in rows]


def find(store: LocalStore, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
    """One SQL statement for all filters, run page by page (keyset on insertion order) as the caller reads."""
    records.require_choice("kind", kind, records.KINDS)
    clauses, params = query.translate_filters(kind, filters or {})
    check_limit(limit)
    return _pages(store, kind, clauses, params, limit)


def find_limited(store: LocalStore, kind: str, filters: t.Mapping[str, t.Any], limit: int | None) -> Found:
    """The records and the COUNT of all that match, read in one transaction: one snapshot of the store."""
    records.require_choice("kind", kind, records.KINDS)
    clauses, params = query.translate_filters(kind, filters or {})
    check_limit(limit)
    with store.read() as conn:
        if conn is None:
            return Found([], False, 0)
        with read_transaction(conn):
            rows = schema.select_rows(conn, kind, clauses, params, limit)
            total = schema.count_rows(conn, kind, clauses, params)
    return Found([schema.record_of(kind, row) for row in rows], total > len(rows), total)


def create(store: LocalStore, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
    """Create in state new; the open record holding the same correlation_id is returned instead.

    The check runs inside the write transaction, so concurrent get-then-create callers end up with one record.
    """
    records.require_choice("kind", kind, records.KINDS)
    parsed = inputs.parse_input(kind, fields, creating=True)
    _require_known_ci(store, kind, parsed)
    now = inputs.now()
    with store.write(check_mode) as conn:
        cid = parsed.values.get("correlation_id")
        holders = []
        if cid and conn:
            holders = schema.select_rows(conn, kind, ["r.correlation_id = ?", query.open_clause(kind)], [cid])
        existing = lookup.choose(kind, cid, holders, open_only=True)
        if existing:
            return records.Met(schema.record_of(kind, existing))
        template = template_fields(store, conn, parsed.template) if parsed.template else {}
        row = model.initial_row(kind, parsed, template, now)
        if check_mode:
            return schema.record_of(kind, row)
        row["id"], row["number"] = uuid.uuid4().hex, schema.next_number(conn, kind)
        schema.insert_row(conn, kind, row)
        if row.get("configuration_items"):
            schema.replace_cis(conn, row["id"], row["configuration_items"])
        snapshot = {key: value for key, value in row.items()
                    if key in schema.OUTPUT_FIELDS[kind] and value not in (None, [], {})}
        events = [{"type": "created", "new": snapshot, "text": f"created {row['number']} in state new"}]
        schema.add_events(conn, kind, row["id"], store.actor, now, events + schema.note_events(parsed.notes))
        return store.fetch(conn, kind, row["id"])


def update(store: LocalStore, kind: str, record: Record, fields: t.Mapping[str, t.Any],
           check_mode: bool = False) -> Record:
    records.require_choice("kind", kind, records.KINDS)
    parsed = inputs.parse_input(kind, fields)
    _require_known_ci(store, kind, parsed)
    return _modify(store, kind, record, parsed.notes, lambda row, now: model.apply_fields(kind, row, parsed),
                   check_mode)


def transition(store: LocalStore, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
               check_mode: bool = False) -> Record:
    """One user transition, validated against the record as stored (already there: only ``fields`` apply)."""
    records.require_choice("kind", kind, records.KINDS)
    records.require_choice("state", state, schema.STATES[kind])
    parsed = inputs.parse_input(kind, fields or {})
    _require_known_ci(store, kind, parsed)

    def plan(row: Row, now: str) -> Row:
        new = model.apply_fields(kind, row, parsed)
        if row["state"] != state:
            model.check_move(kind, row, state, new)
            lifecycle.refuse_missing_to_enter(kind, model.label(kind, row), state, new)
            model.enter(kind, row, new, state, now)
        return new

    return _modify(store, kind, record, parsed.notes, plan, check_mode)


def journal(store: LocalStore, kind: str, record: Record) -> list[Record]:
    return [{key: entry[key] for key in ("field", "text", "author", "created")}
            for entry in _events(store, kind, record, ("note",))]


def journals_for(store: LocalStore, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
    """One SQL statement (``record_id IN``) per batch of ids, as approvals_for."""
    records.require_choice("kind", kind, records.KINDS)
    found: dict[str, list[Record]] = {record_id: [] for record_id in ids}
    with store.read() as conn:
        rows = schema.read_notes(conn, kind, list(found)) if conn and found else []
    for row in rows:
        found[row.pop("record_id")].append(row)
    return found


def audit(store: LocalStore, kind: str, record: Record) -> list[Record]:
    """Every entry of the record's trail, oldest first: ``{type, field, old, new, text, author, created}``."""
    return _events(store, kind, record, None)


def add_journal(store: LocalStore, kind: str, record: Record, field: str, text: str, check_mode: bool = False) -> None:
    records.require_choice("kind", kind, records.KINDS)
    records.require_choice("field", field, inputs.NOTE_FIELDS)
    _modify(store, kind, record, [(field, inputs.require_text(field, text))], lambda row, now: dict(row), check_mode)


# -- a change's affected CIs (a local CI's id is its name, the key of the cis table) -------------------------

def affected_cis(store: LocalStore, record: Record) -> list[str]:
    with store.read() as conn:
        if conn is None:
            return list(record.get("configuration_items") or [])
        return list(store.row_for(conn, CHANGE, record)["configuration_items"])


def set_affected_cis(store: LocalStore, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
    cis = inputs.ci_names(names)
    return _modify(store, CHANGE, record, [], lambda row, now: dict(row, configuration_items=cis), check_mode)


def _require_known_ci(store: LocalStore, kind: str, parsed: inputs.Input) -> None:
    """An incident's or a problem's CI must be a CI of the store, as on ServiceNow (issue 16, D1), checked before the
    write; a change's affected CIs are taken as given (a demo needs no CMDB)."""
    if kind in (INCIDENT, PROBLEM) and parsed.values.get("configuration_item"):
        with store.read() as conn:
            cmdb.require_cis(store, conn, "configuration_item", [parsed.values["configuration_item"]])


# -- reads and writes of one record ------------------------------------------------------------------------

def _modify(store: LocalStore, kind: str, record: Record, notes: list[tuple[str, str]], plan: Plan,
            check_mode: bool) -> Record:
    """Read the row under the write lock, let ``plan`` compute the new row, write it with its audit trail."""
    now = inputs.now()
    with store.write(check_mode) as conn:
        row = store.row_for(conn, kind, record)
        if check_mode:
            row = model.as_predicted(kind, row, record)
        new = plan(row, now)
        events = schema.diff_events(kind, row, new) + schema.note_events(notes)
        if events:
            new["updated_at"] = now
        if check_mode:
            return schema.record_of(kind, new)
        if events:
            store.write_record(conn, kind, row, new, events, now)
        return store.fetch(conn, kind, row["id"])


def _events(store: LocalStore, kind: str, record: Record, types: t.Sequence[str] | None) -> list[Record]:
    records.require_choice("kind", kind, records.KINDS)
    with store.read() as conn:
        record_id = store.record_id(conn, kind, record) if conn else None
        return schema.read_events(conn, kind, record_id, types) if record_id else []


def _pages(store: LocalStore, kind: str, clauses: list[str], params: list[t.Any],
           limit: int | None) -> t.Iterator[Record]:
    after, remaining = 0, limit
    while remaining is None or remaining > 0:
        size = store.page_size if remaining is None else min(store.page_size, remaining)
        with store.read() as conn:
            rows = schema.select_rows(conn, kind, clauses + ["r.seq > ?"], params + [after], size) if conn else []
        yield from (schema.record_of(kind, row) for row in rows)
        if len(rows) < size:
            return
        after = rows[-1]["seq"]
        remaining = None if remaining is None else remaining - len(rows)
