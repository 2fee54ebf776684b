# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Native compose / groups / keyed_groups (plugin_utils/_constructed.py) against ansible-core's own Constructable.

Every configuration of the table runs for every host of the table twice: through ansible-core's
``_set_composite_vars``, ``_add_host_to_composed_groups`` and ``_add_host_to_keyed_groups`` on one inventory,
and through ``_constructed.Constructor`` on another. The test fails on any difference in groups, group
members, group parents, host variables (values and their types) or the error raised.
"""

import itertools

import pytest
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import _InventoryDataWrapper
from ansible._internal._datatag._tags import Origin
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.inventory.constructed import InventoryModule as ConstructedInventory
from ansible.template import trust_as_template

from ansible_collections.opsgate.itsm.plugins.plugin_utils import _constructed

HOSTS = {
    "plain": {"cmdb_os": "Linux", "cmdb_environment": "production", "cmdb_ip_address": "10.0.0.1",
              "ansible_host": "10.0.0.1", "cmdb_tags": {"Name": "web-01", "Role": "web", "items": "x"},
              "cmdb_roles": ["web", "db"], "cmdb_enabled": True},
    "unicode": {"cmdb_os": "Ünïcode ✓ système", "cmdb_environment": "prod", "cmdb_tags": {"Name": "naïve"},
                "cmdb_roles": ["日本", "ß"], "cmdb_enabled": False},
    "empty": {"cmdb_os": "", "cmdb_environment": None, "cmdb_tags": {}, "cmdb_roles": [], "cmdb_enabled": None},
    "sanitise": {"cmdb_os": "Red Hat-9.2/x86 (64)", "cmdb_environment": "pre-prod.eu", "ansible_host": "",
                 "cmdb_tags": {"Name": "a b", "Role": ""}, "cmdb_roles": ["a.b", "c d"]},
    "lookalikes": {"cmdb_os": "{{ 1 + 1 }}", "cmdb_environment": "123", "cmdb_tags": {"Name": "[1, 2]", "keys": "k"},
                   "cmdb_roles": ["None", "True", "{'a': 1}"]},
    "containers": {"cmdb_os": ["linux", None, "", "bsd"], "cmdb_environment": {"tier": "web", "zone": "", "dc": None},
                   "cmdb_tags": {"Name": ["x", "y"], "Role": {"a": 1}}, "cmdb_roles": [{"a": 1}, ["b"], None, ""]},
    "numbers": {"cmdb_os": 4, "cmdb_environment": 0, "cmdb_tags": {"Name": 1.5}, "cmdb_roles": [1, 0, True],
                "cmdb_enabled": 1},
    "missing": {"cmdb_name": "only-a-name"},
}

# Host variables another source set before (a YAML inventory's are trusted templates): not the plugin's variables
PRESET = {"lookalikes": {"cmdb_preset": trust_as_template("{{ 'rendered' }}")}, "plain": {"cmdb_preset": "kept"}}

# Each configuration: (compose, groups, keyed_groups, leading_separator)
KEYED = [
    [{"key": "cmdb_os"}, {"key": "cmdb_environment"}],
    [{"key": "cmdb_os", "prefix": "os"}, {"key": "cmdb_environment", "prefix": "env", "separator": "-"}],
    [{"key": "cmdb_os", "prefix": "", "separator": ""}],
    [{"key": "cmdb_os", "default_value": "unknown", "prefix": "os"},
     {"key": "cmdb_environment", "default_value": "none", "prefix": "env"}],
    [{"key": "cmdb_environment", "trailing_separator": False, "prefix": "env"}],
    [{"key": "cmdb_os", "parent_group": "all_os", "prefix": "os"}, {"key": "cmdb_tags.Name", "parent_group": "names"}],
    [{"key": "cmdb_tags.Name", "prefix": "tag"}, {"key": "cmdb_tags['Role']", "prefix": "role"},
     {"key": 'cmdb_tags["items"]'}, {"key": "cmdb_tags.items"}, {"key": "cmdb_tags.keys"}],
    [{"key": "cmdb_tags"}, {"key": "cmdb_tags", "prefix": "t", "default_value": "dflt"},
     {"key": "cmdb_tags", "separator": "=", "trailing_separator": False}],
    [{"key": "cmdb_roles", "prefix": "role"}, {"key": "cmdb_roles[0]", "prefix": "first"},
     {"key": "cmdb_roles[-1]"}, {"key": "cmdb_roles", "default_value": "blank"}],
    [{"key": "cmdb_os | default('no-os')", "prefix": "os"}, {"key": "cmdb_location | default('nowhere')"},
     {"key": "cmdb_environment | default('empty', true)"}, {"key": "cmdb_tags.Owner | d(\"nobody\")"},
     {"key": "cmdb_missing.deep.er | default(7)"}],
    [{"key": "cmdb_missing"}, {"key": "cmdb_missing", "default_value": "x"}, {"key": "cmdb_enabled"}],
    [{"key": "inventory_hostname", "prefix": "h"}, {"key": "group_names"}, {"key": "cmdb_os"}],
    [{"key": "cmdb_os.upper()"}, {"key": "cmdb_os ~ '_x'", "parent_group": "{{ cmdb_environment }}"}],
    [{"key": "cmdb_os", "parent_group": "{{ 'p_' ~ cmdb_os }}"}],
    [{"key": "composed_os", "prefix": "c"}, {"key": "composed_tag"}],
    [{"key": "cmdb_preset", "prefix": "p"}, {"key": "cmdb_os"}],
]
COMPOSE = [
    {},
    {"composed_os": "cmdb_os", "composed_tag": "cmdb_tags.Name", "composed_roles": "cmdb_roles"},
    {"ansible_host": "cmdb_ip_address", "composed_env": "cmdb_environment | default('none')",
     "composed_missing": "cmdb_missing"},
    {"composed_tags": "cmdb_tags", "composed_first": "cmdb_roles[0]", "composed_upper": "cmdb_os.upper()"},
    {"composed_os": "cmdb_os | default('x', true)", "composed_tag": "cmdb_tags['Role'] | default(none)"},
    {"composed_name": "inventory_hostname"},
]
GROUPS = [
    {},
    {"production": "cmdb_environment == 'production'", "not_prod": "cmdb_environment != 'production'"},
    {"web": "'web' in cmdb_roles", "no_web": "'web' not in cmdb_roles", "linux": "'Lin' in cmdb_os",
     "tagged": "'Name' in cmdb_tags"},
    {"enabled": "cmdb_enabled", "os_truth": "cmdb_os", "num": "cmdb_os == 4", "none_env": "cmdb_environment == none"},
    {"named": "cmdb_tags.Name == 'web-01'", "by_default": "cmdb_location | default('x') == 'x'",
     "complex": "cmdb_os is defined and cmdb_os | length > 3", "missing": "cmdb_missing == 'a'"},
    {"first": "cmdb_os == 'Linux'", "after_first": "'first' in group_names", "weird name!": "cmdb_enabled"},
    {"composed": "composed_os == 'Linux'"},
    {"preset": "cmdb_preset == 'rendered'", "os": "cmdb_os == 'Linux'"},
]
CONFIGURATIONS = [(compose, {}, keyed, lead) for keyed in KEYED for compose in (COMPOSE[0], COMPOSE[1])
                  for lead in (True, False)]
CONFIGURATIONS += [(compose, groups, [], True) for compose in COMPOSE for groups in (GROUPS[0], GROUPS[-1])]
CONFIGURATIONS += [({}, groups, KEYED[0], True) for groups in GROUPS[1:]]


def trusted(value):
    """The configuration as ansible-core reads it from a file: its text is trusted as templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {trusted(key): trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


class Constructed(ConstructedInventory):
    """ansible-core's constructed plugin with its options given directly (no plugin loader in unit tests)."""

    def __init__(self, options):
        super().__init__()
        self.options = options

    def get_option(self, option, hostvars=None):
        return self.options[option]


def plugin(strict, leading_separator, use_extra_vars=False):
    found = Constructed({"strict": strict, "leading_separator": leading_separator, "use_extra_vars": use_extra_vars})
    found.loader = DataLoader()
    # as ansible-core's inventory manager hands it to a plugin: set_variable tags values with their origin
    found.inventory = _InventoryDataWrapper(InventoryData(), target_plugin=found, origin=Origin(description="test"))
    found._vars = {"cmdb_os": "from-extra-vars"}
    return found


def outcome(inventory, host, error):
    """Everything the constructed options decide, in plain comparable form."""
    groups = {name: (sorted(h.name for h in group.hosts), sorted(g.name for g in group.child_groups),
                     sorted(g.name for g in group.parent_groups))
              for name, group in inventory.groups.items()}
    variables = inventory.get_host(host).vars
    return groups, variables, typed(variables), error


def typed(value):
    """The value's types all the way down: a tagged string differs from a plain one here."""
    if isinstance(value, dict):
        return type(value), {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return type(value), [typed(item) for item in value]
    return type(value)


def run(configuration, host, values, strict, native, use_extra_vars=False):
    compose, groups, keyed, leading_separator = (trusted(part) for part in configuration)
    inventory_plugin = plugin(strict, leading_separator, use_extra_vars)
    inventory = inventory_plugin.inventory
    inventory.add_host(host)
    for name, value in PRESET.get(host, {}).items():
        inventory.__wrapped__.set_variable(host, name, value)
    for name, value in values.items():
        inventory.set_variable(host, name, value)
    variables = dict(values)
    error = None
    try:
        if native:
            _constructed.Constructor(inventory_plugin, compose, groups, keyed, strict).construct(host, variables)
        else:
            inventory_plugin._set_composite_vars(compose, variables, host, strict=strict)
            inventory_plugin._add_host_to_composed_groups(groups, variables, host, strict=strict)
            inventory_plugin._add_host_to_keyed_groups(keyed, variables, host, strict=strict)
    except Exception as ex:  # ansible-core lets a TypeError out for a parent group templated to a dict
        error = (type(ex).__name__, str(ex))
    return outcome(inventory, host, error)


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
@pytest.mark.parametrize("index", range(len(CONFIGURATIONS)))
def test_native_construction_gives_ansible_cores_result(index, strict):
    configuration = CONFIGURATIONS[index]
    for host, values in HOSTS.items():
        expected = run(configuration, host, values, strict, native=False)
        assert run(configuration, host, values, strict, native=True) == expected, (host, configuration)


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_extra_vars_configurations_are_left_to_ansible_core(strict):
    configuration = (COMPOSE[1], GROUPS[1], KEYED[1], True)
    for host, values in HOSTS.items():
        expected = run(configuration, host, values, strict, native=False, use_extra_vars=True)
        assert expected[1].get("composed_os") == "from-extra-vars" or strict
        assert run(configuration, host, values, strict, native=True, use_extra_vars=True) == expected


def test_the_table_covers_every_native_form_and_a_fallback():
    """The comparison above proves something only if the native path runs: the table's expressions in the
    subset parse natively, and those outside it do not."""
    native = [keyed["key"] for keyed in itertools.chain(*KEYED)] + [
        expression for compose in COMPOSE for expression in compose.values()]
    parsed = {text: _constructed.parse_reference(text) is not None for text in native}
    assert not [text for text, ok in parsed.items() if not ok and text not in
                ("cmdb_os.upper()", "cmdb_os ~ '_x'", "cmdb_os.upper()")]
    assert not parsed["cmdb_os.upper()"] and not parsed["cmdb_os ~ '_x'"]
    conditions = [condition for groups in GROUPS for condition in groups.values()]
    parsed = {text: _constructed.parse_condition(text) is not None for text in conditions}
    assert [text for text, ok in parsed.items() if not ok] == ["cmdb_os is defined and cmdb_os | length > 3"]


def test_the_plugins_own_variables_are_read_natively():
    """A configuration in the subset never asks ansible-core, for any host of the table, with the variables
    tagged with their origin as in a real run: the speed of issue 15 depends on it."""
    calls = []
    for host in ("plain", "unicode", "empty", "sanitise", "lookalikes"):
        values = HOSTS[host]
        inventory_plugin = plugin(False, True)
        for method in ("_set_composite_vars", "_add_host_to_composed_groups", "_add_host_to_keyed_groups"):
            setattr(inventory_plugin, method, lambda *args, method=method, host=host, **kwargs: calls.append((host, method)))
        inventory_plugin.inventory.add_host(host)
        for name, value in values.items():
            inventory_plugin.inventory.set_variable(host, name, value)
        constructor = _constructed.Constructor(inventory_plugin, COMPOSE[1], GROUPS[1], KEYED[0] + KEYED[5], False)
        constructor.construct(host, dict(values))
    assert calls == []


@pytest.mark.parametrize("text", ["true", "range", "lookup", "a.b(", "a | upper", "a | default(b)", "a[b]",
                                  "a.0", "'x' in", "a == b", "a == 1.5", "a == 'x\\'y'", "", "  ", "a b"])
def test_expressions_outside_the_subset_are_not_parsed(text):
    assert _constructed.parse_reference(text) is None
    assert _constructed.parse_condition(text) is None or text in ()
