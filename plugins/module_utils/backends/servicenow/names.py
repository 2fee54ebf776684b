# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name -> sys_id resolution of the servicenow backend, batched and cached. FOR INTERNAL COLLECTION USE ONLY.

Canonical records name groups, users, CIs, templates and changes; ServiceNow writes want sys_ids.
All names one write needs are looked up in one Batch API request (one GET per table, ``nameIN...``),
and kept for the backend's life. The instance matches names case-insensitively, so does the cache.
"""

from __future__ import annotations

import typing as t
import urllib.parse

from ... import _input as inputs
from . import mapping
from . import query
from .client import TABLE_API, Call, ServiceNowClient, url


# How a refusal names what a table holds (_input.unknown_name), as every backend words it; others: "<table> record".
WHAT = {"sys_user_group": "group", "sys_user": "user", "cmdb_ci": "configuration item",
        "std_change_producer_version": "standard change template", "change_request": "change"}


class Names:
    """The sys_ids the backend has learnt, by (table, lower-cased name)."""

    def __init__(self, client: ServiceNowClient):
        self.client = client
        self.ids: dict[tuple[str, str], str] = {}

    def id(self, table: str, name: str) -> str:
        return self.ids[(table, name.lower())]

    def put(self, table: str, name: str, sys_id: str) -> None:
        self.ids[(table, name.lower())] = sys_id

    def resolve(self, kind: str, values: t.Mapping[str, t.Any], cis: t.Sequence[str], template: str | None) -> None:
        """sys_ids of every name the write needs, in one batch request for those not cached yet."""
        wanted = [(option, mapping.REFERENCES[kind][option][1:], value) for option, value in values.items()
                  if option in mapping.REFERENCES[kind] and value]
        wanted += [("configuration_items", ("cmdb_ci", "name"), name) for name in cis]
        if template:
            wanted.append(("template", ("std_change_producer_version", "name"), template))
        calls = self.lookup_calls([(table, column, value) for _option, (table, column), value in wanted])
        if calls:
            self.remember(calls, self.client.batch(calls, "look up names"))
        for option, (table, _column), value in wanted:
            self.require(option, table, [value])

    def lookup_calls(self, names: t.Sequence[tuple[str, str, str]]) -> list[Call]:
        """One GET per table for the names not known yet (a name holding a comma is ORed on its own)."""
        by_table: dict[tuple[str, str], list[str]] = {}
        for table, column, value in names:
            if (table, value.lower()) not in self.ids and value not in by_table.setdefault((table, column), []):
                by_table[(table, column)].append(value)
        calls: list[Call] = []
        for (table, column), values in by_table.items():
            if values:
                # Each value is guarded, not the condition: the ^OR joining names that hold a comma is ours.
                values = [query.escape(value) for value in values]
                condition = (f"{column}IN{','.join(values)}" if not any("," in v for v in values)
                             else "^OR".join(f"{column}={v}" for v in values))
                params = {"sysparm_query": condition, "sysparm_fields": f"sys_id,{column}",
                          "sysparm_no_count": "true"}
                calls.append(("GET", url(TABLE_API + table, params)))
        return calls

    def remember(self, calls: t.Sequence[Call], bodies: t.Sequence[t.Any]) -> None:
        """Keep the sys_ids the answers to ``lookup_calls`` hold."""
        for call, body in zip(calls, bodies):
            parts = urllib.parse.urlsplit(call[1])
            table = parts.path.rsplit("/", 1)[-1]
            column = dict(urllib.parse.parse_qsl(parts.query))["sysparm_fields"].split(",")[1]
            for row in body["result"]:
                self.ids.setdefault((table, row[column].lower()), row["sys_id"])

    def require(self, option: str, table: str, names: t.Iterable[str]) -> None:
        """Refuse, naming ``option``, the first of ``names`` the instance has no record of."""
        for name in names:
            if (table, name.lower()) not in self.ids:
                raise inputs.unknown_name(option, self.client.settings.url, WHAT.get(table, f"{table} record"), name)
