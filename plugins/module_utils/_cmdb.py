# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMDB inventory's backend-neutral rules. FOR INTERNAL COLLECTION USE ONLY.

Options (validated, each error naming its option), the fields to fetch, hostname and ``ansible_host``
choice with a fallback order, deterministic duplicate resolution, default and relation group names,
change scope (which CIs a change lets an inventory hold) and the encoded-query subset the ``local``
backend understands. No Ansible, no I/O: the plugin feeds it CIs as ``{id, name, ci_class, fields}``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from . import _gate as gate
from ._errors import ItsmConflictError, ItsmNotFoundError, ItsmValidationError
from ._records import CHANGE, utcnow

CI = t.Mapping[str, t.Any]
TOP_LEVEL = ("id", "name", "ci_class")
GROUP_KINDS = {"class": "ci_class", "environment": "environment", "operational_status": "operational_status"}
DUPLICATE_POLICIES = ("first", "suffix", "error")
DEFAULT_FIELDS = ("fqdn", "host_name", "ip_address", "environment", "operational_status")
DEFAULT_HOSTNAMES = ("fqdn", "host_name", "name")
_LISTED = 10
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# -- options ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class InventoryOptions:
    ci_class: str | None = None
    fields: tuple[str, ...] = DEFAULT_FIELDS
    filters: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    query: str | None = None
    hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES
    ansible_host: tuple[str, ...] = ("ip_address",)
    variable_prefix: str = "cmdb_"
    group_prefix: str = "cmdb_"
    default_groups: tuple[str, ...] = tuple(GROUP_KINDS)
    duplicate_hostnames: str = "first"
    relation_types: tuple[str, ...] = ()
    relation_depth: int = 0
    page_size: int = 1000
    workers: int = 4

    @classmethod
    def from_options(cls, get: t.Callable[[str], t.Any]) -> "InventoryOptions":
        """Validate the plugin's options (read with ``get``); an error names the option and what is allowed."""
        relations = get("relations") or {}
        if not isinstance(relations, t.Mapping) or set(relations) - {"types", "depth"}:
            raise ItsmValidationError("relations", relations, "expected a dict with types (a list) and depth")
        depth = relations.get("depth", 1) if relations else 0
        if relations and (not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 5):
            raise ItsmValidationError("relations.depth", depth, "expected a number of hops from 1 to 5")
        prefix = get("variable_prefix")
        if not isinstance(prefix, str) or not _IDENTIFIER.match(prefix):
            raise ItsmValidationError("variable_prefix", prefix, "expected a non-empty prefix of letters, digits and "
                                      "underscores (a host variable may not be called plain name)")
        return cls(
            ci_class=get("ci_class") or None,
            fields=_field_list("fields", get("fields"), allow_empty=True),
            filters=_filters(get("filters")),
            query=get("query") or None,
            hostnames=_field_list("hostnames", get("hostnames")),
            ansible_host=_field_list("ansible_host", get("ansible_host"), allow_empty=True),
            variable_prefix=prefix,
            group_prefix=get("group_prefix") or "",
            default_groups=_choices("default_groups", get("default_groups"), tuple(GROUP_KINDS)),
            duplicate_hostnames=_choice("duplicate_hostnames", get("duplicate_hostnames"), DUPLICATE_POLICIES),
            relation_types=tuple(_field_list("relations.types", relations.get("types") or [], allow_empty=True,
                                             pattern=None)),
            relation_depth=depth,
            page_size=_bounded("page_size", get("page_size"), 1, 10000),
            workers=_bounded("workers", get("workers"), 1, 32),
        )

    def request_fields(self) -> list[str]:
        """Every field the inventory uses, once, in a stable order: nothing else is fetched."""
        wanted = list(self.fields) + list(self.hostnames) + list(self.ansible_host)
        wanted += [GROUP_KINDS[kind] for kind in self.default_groups]
        return list(dict.fromkeys(name for name in wanted if name not in TOP_LEVEL))


def _field_list(option: str, value: t.Any, allow_empty: bool = False,
                pattern: re.Pattern | None = _FIELD) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or (not values and not allow_empty):
        raise ItsmValidationError(option, value, "expected a list of field names")
    for item in values:
        if not isinstance(item, str) or not item or (pattern and not pattern.match(item)):
            raise ItsmValidationError(option, item, "expected a field name such as fqdn or location.country "
                                      "(letters, digits and underscores, dots for a dot-walk)")
    return tuple(values)


def _filters(value: t.Any) -> dict[str, t.Any]:
    if value in (None, {}):
        return {}
    if not isinstance(value, t.Mapping):
        raise ItsmValidationError("filters", value, "expected a dict of field: value or field: [values]")
    for key, item in value.items():
        if not isinstance(key, str) or not _FIELD.match(key):
            raise ItsmValidationError("filters", key, "expected field names as keys")
        if isinstance(item, (list, tuple)) and not item:
            raise ItsmValidationError(f"filters.{key}", item, "expected a value or a non-empty list of values")
    return {key: list(item) if isinstance(item, (list, tuple)) else item for key, item in value.items()}


def _choice(option: str, value: t.Any, allowed: t.Sequence[str]) -> str:
    if value not in allowed:
        raise ItsmValidationError(option, value, "expected one of: " + ", ".join(allowed))
    return value


def _choices(option: str, value: t.Any, allowed: t.Sequence[str]) -> tuple[str, ...]:
    values = [] if value is None else value
    if not isinstance(values, (list, tuple)):
        raise ItsmValidationError(option, value, "expected a list of: " + ", ".join(allowed))
    return tuple(_choice(option, item, allowed) for item in values)


def _bounded(option: str, value: t.Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ItsmValidationError(option, value, f"expected a whole number from {low} to {high}")
    return value


# -- one CI -> one host ----------------------------------------------------------------------------

def value_of(ci: CI, field: str) -> t.Any:
    return ci.get(field) if field in TOP_LEVEL else (ci.get("fields") or {}).get(field)


def first_value(ci: CI, sources: t.Sequence[str]) -> str | None:
    """The first non-empty value of ``sources`` (the fallback order), as text."""
    for source in sources:
        value = value_of(ci, source)
        if value not in (None, ""):
            return str(value)
    return None


def variable_names(prefix: str, fields: t.Sequence[str]) -> dict[str, str]:
    """Field -> host variable (``location.country`` -> ``cmdb_location_country``), computed once per run."""
    names = {field: prefix + field.replace(".", "_") for field in fields}
    names.update(id=prefix + "id", name=prefix + "name", ci_class=prefix + "class")
    return names


def host_vars(ci: CI, names: t.Mapping[str, str]) -> dict[str, t.Any]:
    values = ci.get("fields") or {}
    found = {names[field]: value for field, value in values.items() if field in names}
    found.update({names[key]: ci.get(key) for key in TOP_LEVEL})
    return found


def default_groups(ci: CI, kinds: t.Sequence[str]) -> t.Iterator[tuple[str, str]]:
    """``(kind, value)`` for each default group the CI belongs to; empty values make no group."""
    for kind in kinds:
        value = value_of(ci, GROUP_KINDS[kind])
        if value not in (None, ""):
            yield kind, str(value)


class Hostnames:
    """Claims host names in the order CIs arrive (ordered by id), so the same CMDB gives the same result."""

    def __init__(self, policy: str):
        self.policy = policy
        self.owner: dict[str, str] = {}
        self.duplicates: dict[str, list[str]] = {}
        self.unnamed: list[str] = []

    def claim(self, ci: CI, sources: t.Sequence[str]) -> str | None:
        """The CI's host name, or None when it has none or loses a duplicate under ``first``."""
        name = first_value(ci, sources)
        ci_id = str(ci.get("id"))
        if name is None:
            self.unnamed.append(ci_id)
            return None
        owner = self.owner.setdefault(name, ci_id)
        if owner == ci_id:
            return name
        self.duplicates.setdefault(name, [owner]).append(ci_id)
        if self.policy == "error":
            raise ItsmConflictError(f"duplicate_hostnames: CIs {owner} and {ci_id} both have the host name {name!r}; "
                                    "set duplicate_hostnames to first or suffix, or fix the CMDB",
                                    option="duplicate_hostnames", value=name)
        if self.policy == "suffix":
            return self.claim({**ci, "fields": {"_suffixed": f"{name}_{ci_id}"}}, ("_suffixed",))
        return None

    def report(self, sources: t.Sequence[str]) -> list[str]:
        """Warnings about what was left out or renamed (empty when nothing was)."""
        messages = []
        if self.duplicates:
            shown = list(self.duplicates.items())[:_LISTED]
            listed = "; ".join(f"{name} (CIs {', '.join(ids)})" for name, ids in shown)
            more = len(self.duplicates) - _LISTED
            kept = ("the first CI by id kept the name, the others were left out" if self.policy == "first"
                    else "the others were named <host>_<CI id>")
            messages.append(f"{len(self.duplicates)} host names are shared by more than one CI, {kept}: {listed}"
                            + (f" and {more} more" if more > 0 else ""))
        if self.unnamed:
            listed = ", ".join(self.unnamed[:_LISTED]) + (f" and {len(self.unnamed) - _LISTED} more"
                                                          if len(self.unnamed) > _LISTED else "")
            messages.append(f"{len(self.unnamed)} CIs have none of the hostnames fields ({', '.join(sources)}) "
                            f"and were left out: {listed}")
        return messages


def relation_list(relations_given: t.Any) -> list[tuple[str, str]]:
    """``[{type, target}]`` validated and sorted, duplicates dropped."""
    if not isinstance(relations_given, (list, tuple)):
        raise ItsmValidationError("relations", relations_given, "expected a list of {type, target}")
    wanted = set()
    for item in relations_given:
        if (not isinstance(item, t.Mapping) or set(item) != {"type", "target"}
                or not all(isinstance(item[key], str) and item[key].strip() for key in ("type", "target"))):
            raise ItsmValidationError("relations", item, "expected {type, target} with non-empty text, like "
                                      "{type: Runs on, target: esx01}")
        wanted.add((item["type"].strip(), item["target"].strip()))
    return sorted(wanted)


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


def relation_group(relation_type: str, target: str) -> str:
    """``Runs on`` + ``esx01`` -> ``runs_on_esx01`` (the plugin sanitizes it further as Ansible does)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{relation_type}_{target}").strip("_").lower()


# -- change scope ----------------------------------------------------------------------------------

def change_scope(backend: t.Any, number: str | None, correlation_id: str | None,
                 require_approved: bool) -> tuple[dict[str, t.Any], list[str]]:
    """The change and the ids of the CIs it affects; refused unless it is approved and in its window.

    Ids, not names: CMDB names need not be unique, and a scope by name would let in a CI that shares a
    name with an affected one (issue 7).

    With ``require_approved`` the change must pass the gate's approval, state (scheduled or implement)
    and window checks now; otherwise an inventory built from it could reach hosts outside an approved change.
    """
    option = "change" if number else "change_correlation_id"
    change = backend.get(CHANGE, number=number, correlation_id=correlation_id, open_only=bool(correlation_id))
    if change is None:
        raise ItsmNotFoundError(f"{option}: no change {number or correlation_id!r} on the {backend.name} backend",
                                option=option, value=number or correlation_id)
    if require_approved:
        options = gate.GateOptions(checks=("approval", "state", "window"))
        verdict = gate.evaluate(change, backend.approvals(change), [], None, utcnow(), None, options)
        if not verdict.passed:
            raise ItsmConflictError(f"{option}: {verdict.summary(change['number'])[:-1]}; the inventory lists hosts "
                                    "only for an approved change inside its window (change_require_approved)",
                                    option=option, value=change["number"])
    return change, backend.affected_ci_ids(change)


def scoped_filters(filters: t.Mapping[str, t.Any], ids: t.Sequence[str]) -> dict[str, t.Any]:
    """The user's filters ANDed with the change scope: ``id`` narrowed to ``ids``, every other filter kept."""
    scope = sorted(ids)
    if "id" in filters:
        given = filters["id"] if isinstance(filters["id"], list) else [filters["id"]]
        scope = [ci_id for ci_id in scope if ci_id in {str(item) for item in given}]
    return dict(filters, id=scope)


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
            if found and _FIELD.match(field):
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
