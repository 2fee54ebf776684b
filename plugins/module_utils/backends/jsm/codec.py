# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jira issues <-> canonical records of the jsm backend. FOR INTERNAL COLLECTION USE ONLY.

A record's ``number`` is the issue key (``ITSM-42``), its ``id`` the issue id, its ``url`` ``<site>/browse/KEY``.
States come from the status through the mapping; choices (type, risk, impact, urgency) from the option values
the mapping lists; dates are ISO 8601 UTC (Jira writes ``2026-11-24T09:00:00.000+0000``). Fields the mapping
names live in the site's fields (ids looked up by name once per codec); a change's affected CIs, and an
incident's CI, in the Assets field ``Affected objects`` (cmdb.py resolves names); an incident's ``caused_by`` and
``problem`` are its "is caused by" issue links (links.py). A problem (issue 19) is an issue of the mapping's problem
part; its resolution fields, owner and duplicate are kept in ``opsgate.record``.

Canonical fields Jira has no field for (assignment_group, assigned_to, requested_by, caller, close_code,
close_notes, hold_reason, justification without a mapped field, the ``fields`` extras) are kept in the issue
property ``opsgate.record`` (one JSON object), the correlation id in the property ``opsgate.correlation_id``
(``{"value": id}``); both are searchable by JQL
(``issue.property[opsgate.record].assignment_group``) and set in the same request as the issue's fields.
Names there are taken as given (as the local backend takes them): Jira's assignee is not set.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from ... import _records as records
from ..._lookup import OPEN_STATES
from . import links
from .approvals import APPROVALS_FIELD_TYPE, COMMENTS_PROPERTY, first_stage
from .client import JsmClient
from .mapping import KindMapping, Mapping

Record = dict[str, t.Any]

CORRELATION_PROPERTY = "opsgate.correlation_id"
RECORD_PROPERTY = "opsgate.record"
#: read with every record: a change's approval depends on its technical decisions, kept in COMMENTS_PROPERTY
PROPERTIES = (CORRELATION_PROPERTY, RECORD_PROPERTY, COMMENTS_PROPERTY)
#: canonical fields that are Jira system fields
SYSTEM = {"short_description": "summary", "description": "description"}
#: mapped fields read as lists of Assets objects (names), not as option values or text
OBJECT_FIELDS = ("configuration_items", "configuration_item", "affected_services")
#: the ``fields`` entry of a resolved incident or problem: when it was resolved (Jira's resolution date)
RESOLVED_AT = "resolved_at"
_BASE_FIELDS = ("summary", "description", "status", "issuetype", "created", "updated", "resolutiondate")
_JIRA_TIME = "%Y-%m-%dT%H:%M:%S.000+0000"


def jira_time(value: str | None) -> str | None:
    """A canonical date (ISO 8601 UTC) as Jira's date-time fields take it."""
    if not value:
        return None
    return records.parse_datetime(value, "date").strftime(_JIRA_TIME)


def canonical_time(value: t.Any) -> str | None:
    """Jira's ``2026-11-24T09:00:00.000+0000`` (or any ISO 8601 form) as the canonical ``...Z`` text."""
    if not value:
        return None
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00, which fromisoformat reads on every Python
    return records.format_datetime(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def correlation_value(cid: str | None) -> dict | None:
    return None if cid is None else {"value": cid}


class RecordCodec:
    """Issue JSON <-> canonical records for one site and mapping."""

    def __init__(self, client: JsmClient, mapping: Mapping):
        self.client = client
        self.mapping = mapping
        self._ids: dict[str, dict[str, str]] = {}
        self._generation = client.site_generation

    def of(self, kind: str) -> KindMapping:
        return self.mapping.of(kind)

    def field_ids(self, kind: str) -> dict[str, str]:
        """Canonical field -> the site's field id, for the fields the mapping names (looked up once, and again
        after the client re-read a field list it had from its cache)."""
        if self._generation != self.client.site_generation:
            self._ids, self._generation = {}, self.client.site_generation
        if kind not in self._ids:
            self._ids[kind] = self.of(kind).field_ids(self.client.field_ids)
        return self._ids[kind]

    def read_fields(self, kind: str) -> list[str]:
        """The issue fields a record is read from (a change's Approvals too: whether it was declined)."""
        extra = (list(links.ISSUE_FIELDS) if kind == records.INCIDENT else list(filter(None, [self.approvals_id()]))
                 if kind == records.CHANGE else [])
        return list(_BASE_FIELDS) + extra + sorted(set(self.field_ids(kind).values()))

    def approvals_id(self) -> str | None:
        """The id of the Approvals field (found by its type, from the field list read once), None without one."""
        return next((field["id"] for field in self.client.fields()
                     if (field.get("schema") or {}).get("custom") == APPROVALS_FIELD_TYPE), None)

    def kind_of(self, issue: t.Mapping[str, t.Any]) -> str | None:
        """The kind an issue's type means in the mapping, None for another type."""
        name = str(((issue.get("fields") or {}).get("issuetype") or {}).get("name", "")).lower()
        return next((kind for kind, part in self.mapping.kinds.items() if part.issue_type.lower() == name), None)

    def url(self, key: str) -> str:
        return f"{self.client.http.base}/browse/{key}"

    # -- issue -> record -------------------------------------------------------------------------------

    def record(self, kind: str, issue: t.Mapping[str, t.Any]) -> Record:
        fields = issue.get("fields") or {}
        properties = issue.get("properties") or {}
        kept = dict(properties.get(RECORD_PROPERTY) or {})
        cid = (properties.get(CORRELATION_PROPERTY) or {}).get("value")
        kind_map, ids = self.of(kind), self.field_ids(kind)
        state = kind_map.state_of(fields.get("status"), str(issue.get("key", "")))
        record: Record = {name: None for name in records.WRITABLE[kind]}
        record.update({name: kept.get(name) for name in record if name in kept})
        record.update(backend="jsm", id=str(issue["id"]), number=issue["key"], url=self.url(issue["key"]),
                      state=state, active=state in OPEN_STATES[kind] or (kind != records.CHANGE
                                                                         and state == "resolved"),
                      opened_at=canonical_time(fields.get("created")), updated_at=canonical_time(fields.get("updated")),
                      short_description=fields.get("summary"), description=fields.get("description"),
                      correlation_id=cid, fields=stored_extras(kept.get("fields")))
        record["closed_at"] = None if record["active"] else canonical_time(fields.get("resolutiondate"))
        resolved_at = canonical_time(fields.get("resolutiondate")) if state == "resolved" else None
        if resolved_at:  # as local and ServiceNow give it (the report's recovery time): Jira's resolution date
            record["fields"][RESOLVED_AT] = resolved_at
        if kind == records.INCIDENT:
            record["caused_by"] = links.caused_by(issue)
            record["problem"] = links.problem_of(issue)
        canonical = records.OUTPUT_FIELDS[kind]
        for name, field_id in ids.items():
            if name not in canonical:
                continue  # mapped for writing only (a change's urgency, affected services)
            raw = fields.get(field_id)
            if name in OBJECT_FIELDS:
                names = sorted(str(item.get("label") or item.get("name")) for item in raw or [])
                record[name] = names if name == "configuration_items" else (names[0] if names else None)
            elif name in records.DATE_FIELDS:
                record[name] = canonical_time(raw)
            elif name in kind_map.values:
                record[name] = kind_map.from_jsm(name, raw)
            else:
                record[name] = raw
        if kind == records.CHANGE:
            record["type"] = record.get("type") or "normal"
            record["configuration_items"] = record.get("configuration_items") or []
            record["template"] = None
            record["approval"] = default_approval(record["type"], state, kind_map.declined(fields.get("status")),
                                                  fields.get(self.approvals_id() or ""),
                                                  first_stage(properties.get(COMMENTS_PROPERTY)))
        else:
            record["priority"] = records.priority_for(record.get("impact"), record.get("urgency"))
        if kind == records.INCIDENT:
            record["reopen_count"] = int(kept.get("reopen_count") or 0)
        return record

    # -- record values -> issue ------------------------------------------------------------------------

    def issue_fields(self, kind: str, values: t.Mapping[str, t.Any], objects: t.Sequence[dict] | None = None) -> dict:
        """The Jira ``fields`` of canonical ``values`` (those with a Jira field) and, when given, the "Affected
        objects" value (cmdb.affected_value: a change's CIs, an incident's CI)."""
        kind_map, ids = self.of(kind), self.field_ids(kind)
        out: dict[str, t.Any] = {}
        for name, value in values.items():
            if name in SYSTEM:
                out[SYSTEM[name]] = value
            elif name in ids and name not in OBJECT_FIELDS:
                if value is None:
                    out[ids[name]] = None
                elif name in records.DATE_FIELDS:
                    out[ids[name]] = jira_time(value)
                elif name in kind_map.values:
                    out[ids[name]] = {"value": kind_map.to_jsm(name, value)}
                else:
                    out[ids[name]] = value
        ci_field = "configuration_items" if kind == records.CHANGE else "configuration_item"
        if ci_field in ids and objects is not None:
            out[ids[ci_field]] = list(objects)
        return out

    def kept_values(self, kind: str, values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The canonical ``values`` that live in the ``opsgate.record`` property (no Jira field holds them)."""
        ids = self.field_ids(kind)
        return {name: value for name, value in values.items()
                if name not in SYSTEM and name not in ids and name not in ("correlation_id",) + tuple(links.LINKED)}

    def record_property(self, kind: str, record: t.Mapping[str, t.Any] | None, values: t.Mapping[str, t.Any],
                        extras: t.Mapping[str, t.Any] | None = None) -> dict | None:
        """The whole ``opsgate.record`` property after writing ``values`` (None when nothing of it changes)."""
        kept = self.kept_values(kind, values)
        if not kept and extras is None:
            return None
        current = {name: (record or {}).get(name) for name in self.kept_values(kind, dict.fromkeys(
            records.WRITABLE[kind]))}
        current.update(kept)
        # extras given are set over the record's (a None value removes one), as the local store does
        current["fields"] = {key: value for key, value in {**stored_extras((record or {}).get("fields")),
                                                           **stored_extras(extras)}.items() if value is not None}
        return {name: value for name, value in current.items() if value not in (None, {}, [])}


def stored_extras(extras: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """A record's ``fields`` as ``opsgate.record`` keeps them: without ``resolved_at``, which is read from the issue."""
    return {key: value for key, value in (extras or {}).items() if key != RESOLVED_AT}


def default_approval(change_type: str, state: str, declined: bool, steps: t.Any = None,
                     technical: t.Sequence[Record] = ()) -> str:
    """A change's approval as its status tells it: rejected in the mapping's rejection status (``declined``) or
    back in new after its latest decision was a rejection (an approval step declined and the change reopened, or
    its technical approval rejected: approvals.py), as local and ServiceNow leave it."""
    steps = [step for step in steps or [] if isinstance(step, dict)]
    latest = max(steps, default={}, key=_step_order).get("finalDecision")
    if technical and int(technical[-1].get("after_steps") or 0) >= len(steps):  # decided after every step
        latest = "declined" if technical[-1].get("state") == "rejected" else "approved"
    if (state == "canceled" and declined) or (state == "new" and latest == "declined"):
        return "rejected"
    if state in ("new", "canceled") or change_type == "standard":
        return "not_requested"
    return "requested" if state in ("assess", "authorize") else "approved"


def _step_order(step: t.Mapping[str, t.Any]) -> tuple[int, int]:
    """Approval steps oldest first: by creation, then id."""
    created, ident = (step.get("createdDate") or {}), str(step.get("id") or "")
    millis = created.get("epochMillis") if isinstance(created, dict) else None
    return (int(millis) if isinstance(millis, (int, float)) else 0, int(ident) if ident.isdigit() else 0)
