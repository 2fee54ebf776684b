# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend-neutral CMDB helpers. FOR INTERNAL COLLECTION USE ONLY.

What every backend's CMDB side shares: the top-level keys of a CI (``{id, name, ci_class, fields}``), the
breadth-first walk over relationships, the encoded-query subset the ``local`` backend understands, and
ordered parallel paging for HTTP backends. No Ansible, no I/O, and nothing above the backends (the
inventory's options, host names and change scope live next to the inventory plugin, in
plugin_utils/_inventory.py and _inventory_source.py). A task's relationship list is canonical input (_input).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ._errors import ItsmValidationError

CI = t.Mapping[str, t.Any]
TOP_LEVEL = ("id", "name", "ci_class")
#: a field name as the CMDB options and queries take it: ``fqdn``, or a dot-walk such as ``location.country``
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# -- one CI and its relationships ------------------------------------------------------------------

def value_of(ci: CI, field: str) -> t.Any:
    """The CI's value of ``field``: a top-level key (TOP_LEVEL) or one of its ``fields``."""
    return ci.get(field) if field in TOP_LEVEL else (ci.get("fields") or {}).get(field)


Edge = tuple[str, str, str, str]  # (source id, type, target id, target name)


def walk_relations(ids: t.Sequence[str], depth: int,
                   edges_of: t.Callable[[list[str]], t.Iterable[Edge]]) -> list[dict[str, t.Any]]:
    """Breadth-first from ``ids``, one ``edges_of(sources)`` call per hop; each (start, type, target) once, at
    its shortest depth, as ``{id, type, target, depth}`` (``target`` is the name)."""
    reached: dict[str, set[str]] = {}
    found: list[dict[str, t.Any]] = []
    frontier: dict[str, set[str]] = {ci_id: {ci_id} for ci_id in ids}
    for hop in range(1, depth + 1):
        following: dict[str, set[str]] = {}
        for source, kind, target_id, target in edges_of(sorted(frontier)):
            for start in sorted(frontier[source]):
                seen = reached.setdefault(start, {start})
                if target_id in seen:
                    continue
                seen.add(target_id)
                found.append({"id": start, "type": kind, "target": target, "depth": hop})
                following.setdefault(target_id, set()).add(start)
        frontier = following
        if not frontier:
            break
    return found


# -- the encoded-query subset (ServiceNow syntax) for backends without a query language of their own ----

_OPERATORS = ("ISNOTEMPTY", "ISEMPTY", "STARTSWITH", "ENDSWITH", "NOT LIKE", "LIKE", "NOT IN", "IN", "!=", "=")


@dataclasses.dataclass(frozen=True)
class Term:
    field: str
    operator: str
    value: str

    def holds(self, actual: t.Any) -> bool:
        text = "" if actual is None else str(actual)
        operator = self.operator
        if operator in ("ISEMPTY", "ISNOTEMPTY"):
            return (text == "") == (operator == "ISEMPTY")
        if operator in ("IN", "NOT IN"):
            return (text in self.value.split(",")) == (operator == "IN")
        if operator in ("LIKE", "NOT LIKE"):
            return (self.value.lower() in text.lower()) == (operator == "LIKE")
        if operator == "STARTSWITH":
            return text.startswith(self.value)
        if operator == "ENDSWITH":
            return text.endswith(self.value)
        return (text == self.value) == (operator == "=")


def parse_query(query: str | None) -> list[Term]:
    """``field=value^field2INa,b^field3ISEMPTY``: terms ANDed with ``^``; OR and ordering are refused."""
    terms = []
    for part in (query or "").split("^"):
        if not part.strip():
            continue
        if part.startswith(("OR", "NQ", "ORDERBY", "EQ")) or "^OR" in part:
            raise ItsmValidationError("query", query, "this backend understands terms joined by ^ (AND) only: "
                                      "field=value, !=, IN, NOT IN, LIKE, NOT LIKE, STARTSWITH, ENDSWITH, ISEMPTY, "
                                      "ISNOTEMPTY; no OR, NQ or ORDERBY")
        for operator in _OPERATORS:
            field, found, value = part.partition(operator)
            if found and FIELD_NAME.match(field):
                terms.append(Term(field, operator, value))
                break
        else:
            raise ItsmValidationError("query", part, "expected a term like field=value, fieldINa,b or fieldISEMPTY")
    return terms


def matches(ci: CI, terms: t.Sequence[Term], filters: t.Mapping[str, t.Any],
            get: t.Callable[[CI, str], t.Any] = value_of) -> bool:
    """Canonical filters (a list: any of) and query terms, all ANDed; values compared as text."""
    for field, wanted in filters.items():
        actual = get(ci, field)
        if isinstance(wanted, list):
            if actual not in wanted and str(actual) not in (str(item) for item in wanted):
                return False
        elif actual != wanted and str(actual) != str(wanted):
            return False
    return all(term.holds(get(ci, term.field)) for term in terms)


# -- paging for HTTP backends ------------------------------------------------------------------------

Page = tuple[t.Sequence[t.Any], t.Optional[int]]


def ordered_pages(fetch: t.Callable[[int], Page], page_size: int, workers: int) -> t.Iterator[t.Any]:
    """Items of pages 0, 1, 2, ... in order; ``fetch(index)`` returns ``(items, total or None)``.

    Page 0 is read first; when it tells the total, the remaining ceil(total / page_size) - 1 pages are
    fetched by a pool of ``workers`` threads with at most ``workers`` pages in flight or waiting, so
    memory stays bounded and the request count is exactly the number of pages. Without a total the
    pages are read one after the other until a short one. A worker's error is raised here, in order.
    """
    items, total = fetch(0)
    yield from items
    if total is None or workers <= 1:
        index = 1
        while len(items) == page_size and (total is None or index * page_size < total):
            items = fetch(index)[0]
            yield from items
            index += 1
        return
    import concurrent.futures  # only HTTP backends page in parallel; local never pays for the import

    remaining = iter(range(1, -(-total // page_size)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(fetch, index) for index in _take(remaining, workers)]
        try:
            while pending:
                items = pending.pop(0).result()[0]
                pending.extend(pool.submit(fetch, index) for index in _take(remaining, 1))
                yield from items
        finally:
            for future in pending:
                future.cancel()


def _take(iterator: t.Iterator[int], count: int) -> list[int]:
    return [index for _unused, index in zip(range(count), iterator)]


def exactly(cis: t.Iterable[t.Mapping[str, t.Any]], filters: t.Mapping[str, t.Any] | None) -> t.Iterator[t.Any]:
    """The CIs that hold their text filters' values exactly: a remote system compares loosely (ServiceNow in any case,
    blanks trimmed; Assets' AQL in any case), and ``WEB01`` must not list or write web01 (issue 14). A field the CI
    was not read with is not re-checked; ``ci_class`` is the system's own."""
    texts = {field: {value} if isinstance(value, str) else {item for item in value if isinstance(item, str)}
             for field, value in (filters or {}).items() if field != "ci_class" and isinstance(value, (str, list))}
    for ci in cis:
        held = {field: ci.get(field) if field in TOP_LEVEL else (ci.get("fields") or {}).get(field, _UNREAD)
                for field in texts}
        if all(not wanted or not isinstance(held[field], str) or held[field] in wanted
               for field, wanted in texts.items()):
            yield ci


_UNREAD = object()
