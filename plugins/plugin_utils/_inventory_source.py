# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the CMDB inventory reads: its options and the change scope. FOR INTERNAL COLLECTION USE ONLY.

The options are validated here, each error naming its option; the change scope (which CIs a change lets an
inventory hold) finds the change by the collection's one look-up rule and asks the change gate whether it is
approved and inside its window. Turning the CIs read into hosts and groups is _inventory's part.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils import _gate as gate
from ansible_collections.opsgate.itsm.plugins.module_utils import _input as inputs
from ansible_collections.opsgate.itsm.plugins.module_utils._cmdb import FIELD_NAME, TOP_LEVEL
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (ItsmConflictError, ItsmNotFoundError,
                                                                           ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils._records import CHANGE, utcnow
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend, Record

#: default group kind -> the CI value that names the group
GROUP_KINDS = {"class": "ci_class", "environment": "environment", "operational_status": "operational_status"}
DUPLICATE_POLICIES = ("first", "suffix", "error")
DEFAULT_FIELDS = ("fqdn", "host_name", "ip_address", "environment", "operational_status")
DEFAULT_HOSTNAMES = ("fqdn", "host_name", "name")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
                pattern: re.Pattern | None = FIELD_NAME) -> tuple[str, ...]:
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
        if not isinstance(key, str) or not FIELD_NAME.match(key):
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


# -- change scope ----------------------------------------------------------------------------------

def change_scope(backend: ItsmBackend, number: str | None, correlation_id: str | None,
                 require_approved: bool) -> tuple[Record, list[str]]:
    """The change and the ids of the CIs it affects; refused unless it is approved and in its window.

    Ids, not names: CMDB names need not be unique, and a scope by name would let in a CI that shares a
    name with an affected one (issue 7).

    With ``require_approved`` the change must pass the gate's approval, state (scheduled or implement)
    and window checks now; otherwise an inventory built from it could reach hosts outside an approved change.
    """
    option = "change" if number else "change_correlation_id"
    # Checked as the inventory's own options: the look-up's refusal would name number or correlation_id.
    if number:
        inputs.record_number(number, option)
    else:
        inputs.require_correlation_id(correlation_id, option)
    # By the one look-up rule, open holders only when by correlation id: a closed or canceled change scopes no
    # host. Its CIs (and approvals) are read with it (servicenow: in the same request).
    include = {"cis", "approvals"} if require_approved else {"cis"}
    if number:
        found = backend.lookup(CHANGE, number=number, include=include)
    else:
        found = backend.lookup(CHANGE, correlation_id=correlation_id, open_only=True, include=include)
    if found is None:
        raise ItsmNotFoundError(f"{option}: no change {number or correlation_id!r} on the {backend.name} backend",
                                option=option, value=number or correlation_id)
    change = found.record
    if require_approved:
        options = gate.GateOptions(checks=("approval", "state", "window"))
        verdict = gate.evaluate(change, found.approvals or [], [], None, utcnow(), None, options)
        if not verdict.passed:
            raise ItsmConflictError(f"{option}: {verdict.summary(change['number'])[:-1]}; the inventory lists hosts "
                                    "only for an approved change inside its window (change_require_approved)",
                                    option=option, value=change["number"])
    return change, list(found.ci_ids or [])


def scoped_filters(filters: t.Mapping[str, t.Any], ids: t.Sequence[str]) -> dict[str, t.Any]:
    """The user's filters ANDed with the change scope: ``id`` narrowed to ``ids``, every other filter kept."""
    scope = sorted(ids)
    if "id" in filters:
        given = filters["id"] if isinstance(filters["id"], list) else [filters["id"]]
        scope = [ci_id for ci_id in scope if ci_id in {str(item) for item in given}]
    return dict(filters, id=scope)
