# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plumbing (plugin_utils/_inventory.py): one CI -> one host, and the cache that keeps its TTL on a hit."""

import pytest
from ansible.inventory.data import InventoryData

from ansible_collections.opsgate.itsm.plugins.inventory.cmdb import InventoryModule
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmConflictError
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory, _inventory_source


def ci(id, fields=None, ci_class="server", name=None):
    return {"id": id, "name": name or id, "ci_class": ci_class, "fields": fields or {}}


# -- hosts -------------------------------------------------------------------------------------------

def test_hostname_falls_back_in_order_skipping_empty_values():
    item = ci("c1", {"fqdn": "", "host_name": None, "ip_address": "10.0.0.1"})
    assert _inventory.first_value(item, ["fqdn", "host_name", "ip_address"]) == "10.0.0.1"
    assert _inventory.first_value(item, ["fqdn", "name"]) == "c1"
    assert _inventory.first_value(item, ["fqdn"]) is None


def test_host_vars_are_prefixed_dot_walks_flattened_and_never_plain_name():
    names = _inventory.variable_names("cmdb_", ["fqdn", "location.country"])
    found = _inventory.host_vars(ci("c1", {"fqdn": "a.example.com", "location.country": "NL"}), names)
    assert found == {"cmdb_fqdn": "a.example.com", "cmdb_location_country": "NL", "cmdb_id": "c1",
                     "cmdb_name": "c1", "cmdb_class": "server"}
    assert "name" not in found


def test_default_groups_skip_empty_values():
    item = ci("c1", {"environment": "production", "operational_status": ""})
    assert list(_inventory.default_groups(item, ["class", "environment", "operational_status"])) == [
        ("class", "server"), ("environment", "production")]


def test_first_duplicate_by_id_keeps_the_name_and_the_others_are_reported():
    names = _inventory.Hostnames("first")
    got = [names.claim(ci(i, {"fqdn": "web.example.com"}), ["fqdn"]) for i in ("a1", "a2", "a3")]
    assert got == ["web.example.com", None, None]
    [message] = names.report(["fqdn"])
    assert "web.example.com (CIs a1, a2, a3)" in message and "first CI by id kept" in message


def test_suffix_renames_later_duplicates_with_their_id():
    names = _inventory.Hostnames("suffix")
    got = [names.claim(ci(i, {"fqdn": "web"}), ["fqdn"]) for i in ("a1", "a2")]
    assert got == ["web", "web_a2"]
    assert "named <host>_<CI id>" in names.report(["fqdn"])[0]


def test_error_policy_refuses_a_duplicate_naming_both_cis():
    names = _inventory.Hostnames("error")
    names.claim(ci("a1", {"fqdn": "web"}), ["fqdn"])
    with pytest.raises(ItsmConflictError, match="a1 and a2 both have the host name 'web'"):
        names.claim(ci("a2", {"fqdn": "web"}), ["fqdn"])


def test_cis_without_a_hostname_are_reported():
    names = _inventory.Hostnames("first")
    assert names.claim(ci("a1"), ["fqdn"]) is None
    assert names.report(["fqdn"]) == ["1 CIs have none of the hostnames fields (fqdn) and were left out: a1"]


def test_relation_group_names_are_lower_case_words():
    assert _inventory.relation_group("Runs on", "ESX-01.lab") == "runs_on_esx_01_lab"


# -- HostWriter: CIs into the inventory --------------------------------------------------------------

def writer_for(**given):
    """A HostWriter over an empty inventory of the real plugin, with the plugin's default options."""
    values = dict(ci_class=None, fields=list(_inventory_source.DEFAULT_FIELDS), filters={}, query=None,
                  hostnames=list(_inventory_source.DEFAULT_HOSTNAMES), ansible_host=["ip_address"],
                  variable_prefix="cmdb_", group_prefix="cmdb_", default_groups=list(_inventory_source.GROUP_KINDS),
                  duplicate_hostnames="first", relations=None, page_size=1000, workers=4)
    values.update(given)
    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    return _inventory.HostWriter(plugin, _inventory_source.InventoryOptions.from_options(values.__getitem__), {})


def group_hosts(writer, group):
    return sorted(host.name for host in writer.inventory.groups[group].hosts)


def test_a_ci_becomes_a_host_with_its_variables_ansible_host_and_default_groups():
    writer = writer_for()

    writer.add(ci("c1", {"fqdn": "web01.example.com", "ip_address": "10.0.0.1", "environment": "production"},
                  ci_class="linux_server", name="web01"))

    variables = writer.inventory.get_host("web01.example.com").vars
    assert {name: value for name, value in variables.items() if not name.startswith("inventory_")} == {
        "cmdb_fqdn": "web01.example.com", "cmdb_ip_address": "10.0.0.1", "cmdb_environment": "production",
        "cmdb_id": "c1", "cmdb_name": "web01", "cmdb_class": "linux_server", "ansible_host": "10.0.0.1"}
    assert group_hosts(writer, "cmdb_class_linux_server") == ["web01.example.com"]
    assert group_hosts(writer, "cmdb_environment_production") == ["web01.example.com"]
    assert "cmdb_operational_status_" not in " ".join(writer.inventory.groups)  # an empty value makes no group
    assert writer.hosts_by_ci == {"c1": "web01.example.com"}


def test_a_ci_losing_its_host_name_is_left_out_and_reported():
    writer = writer_for(hostnames=["fqdn"])

    writer.add(ci("a1", {"fqdn": "web"}))
    writer.add(ci("a2", {"fqdn": "web"}))
    writer.add(ci("a3"))

    assert writer.hosts_by_ci == {"a1": "web"}
    duplicates, unnamed = writer.report()
    assert "web (CIs a1, a2)" in duplicates
    assert unnamed == "1 CIs have none of the hostnames fields (fqdn) and were left out: a3"


def test_relation_groups_are_made_for_hosts_of_the_inventory_only():
    writer = writer_for(default_groups=[])
    writer.add(ci("c1", {"fqdn": "web01"}))

    writer.add_relations([{"id": "c1", "type": "Runs on", "target": "esx01", "depth": 1},
                          {"id": "not-listed", "type": "Depends on", "target": "db01", "depth": 1}])

    assert group_hosts(writer, "cmdb_runs_on_esx01") == ["web01"]
    assert "cmdb_depends_on_db01" not in writer.inventory.groups


# -- cache --------------------------------------------------------------------------------------------

class FakePlugin:
    def __init__(self, cache_on):
        self.cache_on = cache_on
        self._cache = Recording()

    def get_option(self, name):
        return self.cache_on

    def get_cache_key(self, path):
        return f"key_{path}"


class Recording(dict):
    def __init__(self):
        super().__init__()
        self.assigned = 0

    def __setitem__(self, key, value):
        self.assigned += 1
        super().__setitem__(key, value)


def test_cache_functions_assign_only_after_a_fetch():
    plugin = FakePlugin(True)
    assert _inventory.get_cached_result(plugin, "k", cache=True) == (False, None)
    _inventory.update_cached_result(plugin, "k", {"cis": []})
    assert _inventory.get_cached_result(plugin, "k", cache=True) == (True, {"cis": []})
    assert _inventory.get_cached_result(plugin, "k", cache=False) == (False, None)
    assert plugin._cache.assigned == 1
    off = FakePlugin(False)
    _inventory.update_cached_result(off, "k", {})
    assert off._cache.assigned == 0 and _inventory.get_cached_result(off, "k", cache=True) == (False, None)


def test_cache_key_depends_on_what_is_fetched():
    plugin = FakePlugin(True)
    one = _inventory.cache_key(plugin, "p", {"fields": ["fqdn"]})
    assert one == _inventory.cache_key(plugin, "p", {"fields": ["fqdn"]})
    assert one != _inventory.cache_key(plugin, "p", {"fields": ["fqdn", "ip_address"]})
