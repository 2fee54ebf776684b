# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plumbing: the cache that keeps its TTL on a hit, and CIs -> hosts. FOR INTERNAL COLLECTION USE ONLY.

One CI becomes one host: its name chosen with a fallback order, duplicates resolved deterministically (CIs
arrive ordered by id), its values as prefixed host variables, default and relation groups. No I/O here: the
plugin feeds CIs as ``{id, name, ci_class, fields}``; what it reads, and for which change, is _inventory_source's.

Ansible's inventory cache rewrites an entry whenever a plugin assigns it, and a rewrite restarts the
entry's timeout; a plugin that assigns on every run keeps serving the same stale data for ever. Here an
entry is assigned only after a real fetch, so a hit leaves it (and its age) alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils._cmdb import CI, TOP_LEVEL, value_of
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmConflictError
from ansible_collections.opsgate.itsm.plugins.plugin_utils._constructed import Constructor
from ansible_collections.opsgate.itsm.plugins.plugin_utils._inventory_source import GROUP_KINDS, InventoryOptions

Warn = t.Callable[[str], None]
#: how many host names or CIs a warning lists before "and N more"
_LISTED = 10


# -- cache -----------------------------------------------------------------------------------------

def cache_key(plugin: t.Any, path: str, material: t.Mapping[str, t.Any]) -> str:
    """The plugin's per-file key plus a digest of everything that decides what is fetched, so
    changing the fields, filters or backend never serves data fetched for other options."""
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{plugin.get_cache_key(path)}_{digest}"


def get_cached_result(plugin: t.Any, key: str, cache: bool) -> tuple[bool, t.Any]:
    """``(True, value)`` on a hit; a miss when caching is off or Ansible asked for fresh data."""
    if not cache or not plugin.get_option("cache"):
        return False, None
    try:
        return True, plugin._cache[key]
    except KeyError:
        return False, None


def update_cached_result(plugin: t.Any, key: str, value: t.Any) -> None:
    """Store a freshly fetched value; never called on a hit, so a hit does not reset the TTL."""
    if plugin.get_option("cache"):
        plugin._cache[key] = value


# -- one CI -> one host ----------------------------------------------------------------------------

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


def relation_group(relation_type: str, target: str) -> str:
    """``Runs on`` + ``esx01`` -> ``runs_on_esx01`` (the plugin sanitizes it further as Ansible does)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{relation_type}_{target}").strip("_").lower()


# -- hosts -----------------------------------------------------------------------------------------

class HostWriter:
    """Adds CIs to the inventory one at a time (streamed: nothing but the names is kept)."""

    def __init__(self, plugin: t.Any, options: InventoryOptions, constructed: t.Mapping[str, t.Any]):
        self.plugin = plugin
        self.inventory = plugin.inventory
        self.options = options
        self.names = variable_names(options.variable_prefix, options.request_fields())
        self.hostnames = Hostnames(options.duplicate_hostnames)
        # compose, groups and keyed_groups: natively for the simple expressions, by ansible-core for the rest
        self.constructor = Constructor(plugin, constructed.get("compose"), constructed.get("groups"),
                                       constructed.get("keyed_groups"), bool(constructed.get("strict")))
        self.hosts_by_ci: dict[str, str] = {}
        self._group_names: dict[str, str] = {}

    def add(self, ci: t.Mapping[str, t.Any]) -> None:
        host = self.hostnames.claim(ci, self.options.hostnames)
        if host is None:
            return
        inventory = self.inventory
        inventory.add_host(host)
        self.hosts_by_ci[ci["id"]] = host
        variables = host_vars(ci, self.names)
        address = first_value(ci, self.options.ansible_host) if self.options.ansible_host else None
        if address is not None:
            variables["ansible_host"] = address
        for name, value in variables.items():
            inventory.set_variable(host, name, value)
        for kind, value in default_groups(ci, self.options.default_groups):
            inventory.add_child(self._group(f"{self.options.group_prefix}{kind}_{value}"), host)
        if self.constructor:
            self.constructor.construct(host, variables)

    def _group(self, raw: str) -> str:
        name = self._group_names.get(raw)
        if name is None:
            name = self._group_names[raw] = self.inventory.add_group(self.plugin._sanitize_group_name(raw))
        return name

    def add_relations(self, relations: t.Iterable[t.Mapping[str, t.Any]]) -> None:
        """Relation groups (``<prefix>runs_on_esx01``) for hosts of the inventory only."""
        for relation in relations:
            host = self.hosts_by_ci.get(relation["id"])
            if host is not None:
                raw = self.options.group_prefix + relation_group(relation["type"], relation["target"])
                self.inventory.add_child(self._group(raw), host)

    def report(self) -> list[str]:
        return self.hostnames.report(self.options.hostnames)
