# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name -> sys_id resolution of the servicenow backend, batched and cached. FOR INTERNAL COLLECTION USE ONLY.

Canonical records name groups, users, CIs, templates and changes; ServiceNow writes want sys_ids.
All names one write needs are looked up in one Batch API request (one GET per table, ``nameIN...``),
and kept for the backend's life. The instance matches names loosely (in any case, blanks trimmed); only a row whose
name is exactly the one asked for is kept (issue 14), so ``OPS`` never resolves to the group ``ops``: a write would
show another name than the task's and differ from it at every run. A name a query cannot hold (``^``, a control
character, ``javascript:``) is not looked up: the write refuses it naming its option.
"""

from __future__ import annotations

import typing as t
import urllib.parse

from ... import _input as inputs
from ..._errors import ItsmValidationError
from . import mapping
from . import query
from .client import TABLE_API, Call, ServiceNowClient, url


# How a refusal names what a table holds (_input.unknown_name), as every backend words it; others: "<table> record".
WHAT = {"sys_user_group": "group", "sys_user": "user", "cmdb_ci": "configuration item",
        "std_change_producer_version": "standard change template", "change_request": "change", "problem": "problem"}


class Names:
    """The sys_ids the backend has learnt, by (table, name)."""

    def __init__(self, client: ServiceNowClient):
        self.client = client
        self.ids: dict[tuple[str, str], str] = {}

    def id(self, table: str, name: str) -> str:
        return self.ids[(table, name)]

    def put(self, table: str, name: str, sys_id: str) -> None:
        self.ids[(table, name)] = sys_id

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
            if (table, value) not in self.ids and value not in by_table.setdefault((table, column), []) \
                    and _queryable(value):
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
            asked = set(_asked(dict(urllib.parse.parse_qsl(parts.query))["sysparm_query"], column))
            for row in body["result"]:
                if row[column] in asked:
                    self.ids.setdefault((table, row[column]), row["sys_id"])

    def require(self, option: str, table: str, names: t.Iterable[str]) -> None:
        """Refuse, naming ``option``, the first of ``names`` the instance has no record of."""
        for name in names:
            if (table, name) not in self.ids:
                raise inputs.unknown_name(option, self.client.settings.url, WHAT.get(table, f"{table} record"), name)


def _queryable(value: str) -> bool:
    try:
        query.escape(value)
    except ItsmValidationError:
        return False
    return True


def _asked(condition: str, column: str) -> list[str]:
    """The names a ``lookup_calls`` condition asks for (``colIN a,b`` or ``col=a^ORcol=b,c``)."""
    if condition.startswith(f"{column}IN"):
        return condition[len(column) + 2:].split(",")
    return [part[len(column) + 1:] for part in condition.split("^OR")]
