# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plumbing: the cache that keeps its TTL on a hit, and CIs -> hosts. FOR INTERNAL COLLECTION USE ONLY.

Ansible's inventory cache rewrites an entry whenever a plugin assigns it, and a rewrite restarts the
entry's timeout; a plugin that assigns on every run keeps serving the same stale data for ever. Here an
entry is assigned only after a real fetch, so a hit leaves it (and its age) alone.
"""

from __future__ import annotations

import hashlib
import json
import typing as t

from ansible_collections.opsgate.itsm.plugins.module_utils import _cmdb as cmdb

Warn = t.Callable[[str], None]


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


# -- hosts -----------------------------------------------------------------------------------------

class HostWriter:
    """Adds CIs to the inventory one at a time (streamed: nothing but the names is kept)."""

    def __init__(self, plugin: t.Any, options: cmdb.InventoryOptions, constructed: t.Mapping[str, t.Any]):
        self.plugin = plugin
        self.inventory = plugin.inventory
        self.options = options
        self.names = cmdb.variable_names(options.variable_prefix, options.request_fields())
        self.hostnames = cmdb.Hostnames(options.duplicate_hostnames)
        self.compose = constructed.get("compose") or {}
        self.groups = constructed.get("groups") or {}
        self.keyed_groups = constructed.get("keyed_groups") or []
        self.strict = bool(constructed.get("strict"))
        self.hosts_by_ci: dict[str, str] = {}
        self._group_names: dict[str, str] = {}

    def add(self, ci: t.Mapping[str, t.Any]) -> None:
        host = self.hostnames.claim(ci, self.options.hostnames)
        if host is None:
            return
        inventory = self.inventory
        inventory.add_host(host)
        self.hosts_by_ci[ci["id"]] = host
        variables = cmdb.host_vars(ci, self.names)
        address = cmdb.first_value(ci, self.options.ansible_host) if self.options.ansible_host else None
        if address is not None:
            variables["ansible_host"] = address
        for name, value in variables.items():
            inventory.set_variable(host, name, value)
        for kind, value in cmdb.default_groups(ci, self.options.default_groups):
            inventory.add_child(self._group(f"{self.options.group_prefix}{kind}_{value}"), host)
        if self.compose or self.groups or self.keyed_groups:
            self._construct(host, variables)

    def _construct(self, host: str, variables: dict[str, t.Any]) -> None:
        plugin = self.plugin
        plugin._set_composite_vars(self.compose, variables, host, strict=self.strict)
        plugin._add_host_to_composed_groups(self.groups, variables, host, strict=self.strict)
        plugin._add_host_to_keyed_groups(self.keyed_groups, variables, host, strict=self.strict)

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
                raw = self.options.group_prefix + cmdb.relation_group(relation["type"], relation["target"])
                self.inventory.add_child(self._group(raw), host)

    def report(self) -> list[str]:
        return self.hostnames.report(self.options.hostnames)
