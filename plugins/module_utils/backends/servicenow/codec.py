# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical records <-> ServiceNow rows: the servicenow backend's record codec. FOR INTERNAL COLLECTION USE ONLY.

A change, incident or problem row -> a canonical record (values mapped back with mapping.CHOICES, references read
as their names, dates in ISO 8601, the extra columns in ``fields``), canonical input -> a write's body
(names resolved to sys_ids through Names), and the rows that come with a record: approvals, journal
entries, affected CIs.
"""

from __future__ import annotations

import re
import typing as t

from ... import _input as inputs
from ... import _records as records
from . import mapping
from . import query
from .names import Names

Record = dict[str, t.Any]
CHANGE, INCIDENT = records.CHANGE, records.INCIDENT
OUTPUT_FIELDS = records.OUTPUT_FIELDS
APPROVAL_FIELDS = ["sysapproval", "approver.user_name", "state", "comments", "sys_updated_on"]
_REVERSE = {key: {raw: canonical for canonical, raw in table.items()} for key, table in mapping.CHOICES.items()}
# A glide date-time as the Table API returns it (UTC): a ``fields`` value of this shape is a date.
_SN_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_NOT_STORED = ("backend", "id", "number", "url", "state", "active", "opened_at", "updated_at", "closed_at",
               "approval", "template", "configuration_items", "fields", "priority", "reopen_count")
# A journal's display value: "<date> - <user> (<label>)\n<text>\n\n", newest first.
_JOURNAL_HEADER = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - .* \([^()]*\)$", re.MULTILINE)


class RecordCodec:
    """Rows of one instance <-> canonical records. The extra columns read back grow with those a task
    writes through ``fields`` (a cache for the backend's life, order-independent)."""

    def __init__(self, names: Names, base_url: str):
        self.names = names
        self.base_url = base_url
        self.extra_columns = {kind: list(mapping.EXTRA_COLUMNS[kind]) for kind in records.KINDS}

    def record_fields(self, kind: str) -> list[str]:
        """The columns a canonical record of ``kind`` is read from (``sysparm_fields``)."""
        plain = [name for name in OUTPUT_FIELDS[kind]
                 if name not in _NOT_STORED and name not in mapping.REFERENCES[kind]]
        refs = [f"{column}.{name_column}" for column, _table, name_column in mapping.REFERENCES[kind].values()]
        own = {CHANGE: ["approval"], INCIDENT: ["priority", "reopen_count"]}.get(kind, ["priority"])
        return (["sys_id", "number", "state", "active", "opened_at", "sys_created_on", "sys_updated_on", "closed_at"]
                + own
                + plain + refs + [col for col in self.extra_columns[kind] if col not in plain + own])

    def params(self, kind: str, encoded: str, limit: int) -> dict[str, t.Any]:
        """Table API parameters of a read of records of ``kind``."""
        return {"sysparm_query": encoded, "sysparm_fields": ",".join(self.record_fields(kind)),
                "sysparm_limit": limit, "sysparm_display_value": "false", "sysparm_exclude_reference_link": "true",
                "sysparm_no_count": "true"}

    def to_record(self, kind: str, row: t.Mapping[str, t.Any], cis: t.Sequence[str] | None = None) -> Record:
        record: Record = {name: None for name in OUTPUT_FIELDS[kind]}
        record.update(self.canonical_values(kind, row))
        for key, (column, _table, name_column) in mapping.REFERENCES[kind].items():
            record[key] = row.get(f"{column}.{name_column}") or None
        table = mapping.TABLES[kind]
        record.update(backend=mapping.BACKEND_NAME, id=row["sys_id"], number=row.get("number") or None,
                      url=f"{self.base_url}/nav_to.do?uri={table}.do%3Fsys_id%3D{row['sys_id']}",
                      active=str(row.get("active")).lower() == "true",
                      updated_at=query.from_sn_date(row.get("sys_updated_on")),
                      opened_at=query.from_sn_date(row.get("opened_at")),
                      closed_at=query.from_sn_date(row.get("closed_at")),
                      fields={col: extra_value(col, row[col]) for col in self.extra_columns[kind]
                              if row.get(col) not in (None, "")})
        if kind == CHANGE:
            record["configuration_items"] = sorted(cis or [])
        elif kind == INCIDENT:
            record["reopen_count"] = int(row.get("reopen_count") or 0)
        return record

    def canonical_values(self, kind: str, row: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The canonical values of a row's plain and choice columns (references and ids left out)."""
        values: dict[str, t.Any] = {}
        for name in OUTPUT_FIELDS[kind]:
            if name in mapping.REFERENCES[kind] or name in ("id", "number", "fields") or name not in row:
                continue
            raw = row[name]
            if (kind, name) in _REVERSE:
                values[name] = _REVERSE[(kind, name)].get(raw, raw) if raw not in (None, "") else None
            elif name in records.DATE_FIELDS:
                values[name] = query.from_sn_date(raw)
            else:
                values[name] = raw if raw not in (None, "") else None
        return values

    def payload(self, kind: str, parsed: inputs.Input) -> dict[str, t.Any]:
        """The body of a write of ``parsed``; every name in it must be resolved already (Names.resolve)."""
        body: dict[str, t.Any] = {}
        for key, value in parsed.values.items():
            if key in mapping.REFERENCES[kind]:
                column, table, _name = mapping.REFERENCES[kind][key]
                body[column] = self.names.id(table, value) if value else ""
            elif (kind, key) in mapping.CHOICES:
                body[key] = mapping.CHOICES[(kind, key)][value] if value else ""
            elif key in records.DATE_FIELDS:
                body[key] = query.to_sn_date(value, key)
            else:
                body[key] = value or ""
        if parsed.template:
            column, table, _name = mapping.REFERENCES[CHANGE]["template"]
            body[column] = self.names.id(table, parsed.template)
        for key, value in (parsed.extras or {}).items():
            if key.startswith(mapping.UNSTORED_EXTRA_PREFIXES.get(kind, ())):
                continue
            body[key] = query.to_sn_date(value, f"fields.{key}") if key in mapping.DATE_COLUMNS else (
                "" if value is None else value)
            if key not in self.extra_columns[kind]:
                self.extra_columns[kind].append(key)
        for field, text in parsed.notes:
            body[field] = f"{body[field]}\n\n{text}" if field in body else text
        return body


def extra_value(column: str, raw: t.Any) -> t.Any:
    """A ``fields`` value in canonical form: dates (known columns, or any in the instance's format) as ISO 8601."""
    if column in mapping.DATE_COLUMNS or (isinstance(raw, str) and _SN_DATETIME.match(raw)):
        return query.from_sn_date(raw)
    return raw


def label(kind: str, record: t.Mapping[str, t.Any]) -> str:
    """How messages name a record: its number, or "the new <kind>" before it has one."""
    return record.get("number") or f"the new {kind}"


def total_count(headers: t.Mapping[str, str]) -> int | None:
    """``X-Total-Count`` (matches of the query, ignoring limit and offset), or None when absent."""
    value = str(headers.get("X-Total-Count") or "").strip()
    return int(value) if value.isdigit() else None


# -- rows that come with a record -----------------------------------------------------------------

def ci_params(encoded: str | None) -> dict[str, t.Any]:
    """Table API parameters of a read of ``task_ci`` rows (a change's affected CIs, with their names)."""
    return {"sysparm_query": encoded or "", "sysparm_fields": "task,ci_item,ci_item.name", "sysparm_limit": 10000,
            "sysparm_exclude_reference_link": "true", "sysparm_no_count": "true"}


def journal_entry(row: t.Mapping[str, t.Any]) -> Record:
    """A ``sys_journal_field`` row as the contract's journal entry."""
    return {"field": row["element"], "text": row["value"], "author": row["sys_created_by"],
            "created": query.from_sn_date(row["sys_created_on"])}


def approvals_by_change(rows: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, list[Record]]:
    """Approval rows (display=all) in canonical states, grouped by change id, in the rows' order."""
    found: dict[str, list[Record]] = {}
    for row in rows:
        state = mapping.APPROVAL_RECORD_STATES.get(_value(row.get("state")))
        if state is None:
            continue  # cancelled, no longer required, skipped: not part of the decision
        found.setdefault(_value(row.get("sysapproval")), []).append({
            "approver": _value(row.get("approver.user_name")) or None, "state": state,
            "comments": latest_journal_text(_display(row.get("comments"))), "stage": None,
            "decided_at": query.from_sn_date(_value(row.get("sys_updated_on"))) if state in ("approved", "rejected")
            else None})
    return found


def latest_journal_text(display: str | None) -> str | None:
    """The newest entry's text from a journal field's display value."""
    if not display:
        return None
    headers = list(_JOURNAL_HEADER.finditer(display))
    if not headers:
        return display.strip() or None
    end = headers[1].start() if len(headers) > 1 else len(display)
    return display[headers[0].end():end].strip() or None


def _value(cell: t.Any) -> t.Any:
    return cell.get("value") if isinstance(cell, dict) else cell


def _display(cell: t.Any) -> t.Any:
    return cell.get("display_value") if isinstance(cell, dict) else cell
