"""The opsgate.itsm.cmdb inventory plugin, run by ansible-inventory the way users run it."""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.opsgate.itsm.plugins.inventory.cmdb import InventoryModule
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory

# The tree tests/conftest.py links (this directory is a package, so its conftest helpers are out of reach).
COLLECTIONS_BASE = os.path.join(tempfile.gettempdir(), f"opsgate-itsm-pytest-{os.getuid()}")
BIN = os.path.dirname(sys.executable)
ANSIBLE_INVENTORY = os.path.join(BIN, "ansible-inventory")


def ansible_doc_json(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE)
    done = subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", *args], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


@pytest.fixture
def cmdb(local_backend):
    local_backend.put_ci("web01", "linux_server", {"fqdn": "web01.example.com", "ip_address": "10.0.0.1",
                                                   "environment": "production", "operational_status": "operational",
                                                   "location": {"country": "NL"}})
    local_backend.put_ci("web02", "linux_server", {"fqdn": "web01.example.com", "ip_address": "10.0.0.2",
                                                   "environment": "production"})
    local_backend.put_ci("db01", "linux_server", {"host_name": "db01", "environment": "test"})
    local_backend.put_ci("esx01", "esx_server", {"ip_address": "10.0.1.1"})
    local_backend.put_ci_relations("web01", [{"type": "Runs on", "target": "esx01"}])
    return local_backend


def run(tmp_path, config, *extra, name="test.cmdb.yml", env=None, check=True):
    source = tmp_path / name
    source.write_text(json.dumps(config))
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE, ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
                       ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_NOCOLOR="1", **(env or {}))
    done = subprocess.run([ANSIBLE_INVENTORY, "-i", str(source), "--list", *extra], env=environment,
                          capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), done.stderr
    return done


def plain(value):
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def hostvars(listed, host):
    return {key: plain(value) for key, value in listed["_meta"]["hostvars"][host].items()}


def members(listed, group):
    return sorted(listed.get(group, {}).get("hosts", []))


def config(backend, **options):
    return dict(plugin="opsgate.itsm.cmdb", local_db=backend.path, **options)


def test_documentation_extends_the_shared_and_core_fragments():
    doc = ansible_doc_json("-t", "inventory", "opsgate.itsm.cmdb")["opsgate.itsm.cmdb"]["doc"]
    assert {"backend", "local_db", "password", "compose", "keyed_groups", "strict", "cache", "cache_timeout",
            "hostnames", "change", "relations"} <= set(doc["options"])
    assert doc["options"]["local_db"]["env"] == [{"name": "ITSM_LOCAL_DB"}]


def test_only_cmdb_yml_files_are_claimed(tmp_path):
    for name in ("a.cmdb.yml", "b.cmdb.yaml", "c.yml"):
        (tmp_path / name).write_text("plugin: opsgate.itsm.cmdb\n")
    plugin = InventoryModule()
    assert [plugin.verify_file(str(tmp_path / name)) for name in ("a.cmdb.yml", "b.cmdb.yaml", "c.yml")] == [
        True, True, False]


def test_hosts_variables_default_groups_and_duplicates(cmdb, tmp_path):
    listed, stderr = run(tmp_path, config(cmdb, fields=["fqdn", "location.country"]))
    assert sorted(listed["_meta"]["hostvars"]) == ["db01", "esx01", "web01.example.com"]
    assert hostvars(listed, "web01.example.com") == {
        "ansible_host": "10.0.0.1", "cmdb_id": "web01", "cmdb_name": "web01", "cmdb_class": "linux_server",
        "cmdb_fqdn": "web01.example.com", "cmdb_location_country": "NL", "cmdb_host_name": None,
        "cmdb_ip_address": "10.0.0.1", "cmdb_environment": "production", "cmdb_operational_status": "operational"}
    assert "name" not in listed["_meta"]["hostvars"]["db01"]
    assert members(listed, "cmdb_class_linux_server") == ["db01", "web01.example.com"]
    assert members(listed, "cmdb_environment_test") == ["db01"]
    assert members(listed, "cmdb_operational_status_operational") == ["web01.example.com"]
    assert "web01.example.com (CIs web01, web02)" in " ".join(stderr.split())


def test_constructed_features_and_default_groups_off(cmdb, tmp_path):
    listed, _stderr = run(tmp_path, config(cmdb, default_groups=[], ansible_host=[], hostnames=["name"],
                                           compose={"role": "cmdb_class.split('_')[0]"},
                                           groups={"prod": "cmdb_environment == 'production'"},
                                           keyed_groups=[{"key": "role", "prefix": "role"}]))
    assert not [group for group in listed if group.startswith("cmdb_")]
    assert "ansible_host" not in listed["_meta"]["hostvars"]["web01"]
    assert members(listed, "prod") == ["web01", "web02"]
    assert members(listed, "role_linux") == ["db01", "web01", "web02"]
    assert hostvars(listed, "esx01")["role"] == "esx"


def test_filters_query_and_relations(cmdb, tmp_path):
    listed, _stderr = run(tmp_path, config(cmdb, ci_class="linux_server", filters={"environment": "production"},
                                           query="ip_addressSTARTSWITH10.0.0", duplicate_hostnames="suffix",
                                           relations={"types": ["Runs on"]}))
    assert sorted(listed["_meta"]["hostvars"]) == ["web01.example.com", "web01.example.com_web02"]
    assert members(listed, "cmdb_runs_on_esx01") == ["web01.example.com"]


def test_a_config_error_names_the_option(cmdb, tmp_path):
    done = run(tmp_path, config(cmdb, hostnames=[]), check=False)
    assert done.returncode != 0
    assert "hostnames: [] is not valid; expected a list of field names" in " ".join(done.stderr.split())


def test_an_unusable_backend_fails_the_source_clearly(cmdb, tmp_path):
    done = run(tmp_path, dict(plugin="opsgate.itsm.cmdb", local_db=str(tmp_path)), check=False)
    assert done.returncode != 0
    assert f"opsgate.itsm.cmdb inventory {tmp_path}/test.cmdb.yml: local_db: {tmp_path} is a directory" in \
        " ".join(done.stderr.split())
    done = run(tmp_path, dict(plugin="opsgate.itsm.cmdb", backend="jsm"), check=False)
    assert done.returncode != 0 and "the jsm backend is not available yet" in " ".join(done.stderr.split())


def test_connection_options_come_from_the_environment_and_extra_vars(cmdb, tmp_path):
    listed, _stderr = run(tmp_path, {"plugin": "opsgate.itsm.cmdb"}, env={"ITSM_LOCAL_DB": cmdb.path})
    assert "db01" in listed["_meta"]["hostvars"]
    listed, _stderr = run(tmp_path, {"plugin": "opsgate.itsm.cmdb"}, "-e", f"itsm_local_db={cmdb.path}")
    assert "db01" in listed["_meta"]["hostvars"]


def _iso(hours):
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_change_scoped_inventory_lists_only_an_approved_changes_cis(cmdb, tmp_path):
    change = cmdb.create("change", {"type": "standard", "short_description": "patch", "start_date": _iso(-1),
                                    "end_date": _iso(1), "configuration_items": ["db01", "esx01"]})
    pending = run(tmp_path, config(cmdb, change=change["number"]), check=False)
    assert pending.returncode != 0
    assert f"change: {change['number']} did not pass the change gate: state" in " ".join(pending.stderr.split())
    cmdb.transition("change", change, "scheduled")
    listed, _stderr = run(tmp_path, config(cmdb, change=change["number"]))
    assert sorted(listed["_meta"]["hostvars"]) == ["db01", "esx01"]


def test_cache_hit_serves_the_cached_hosts_and_does_not_rewrite_the_entry(cmdb, tmp_path):
    cache_dir = tmp_path / "cache"
    options = config(cmdb, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir),
                     cache_timeout=3600)
    first, _stderr = run(tmp_path, options)
    [entry] = list(cache_dir.iterdir())
    written = entry.stat().st_mtime_ns
    cmdb.put_ci("new01", "linux_server", {})
    second, _stderr = run(tmp_path, options)
    assert second["_meta"]["hostvars"] == first["_meta"]["hostvars"]
    assert entry.stat().st_mtime_ns == written
    fresh, _stderr = run(tmp_path, options, "--flush-cache")
    assert "new01" in fresh["_meta"]["hostvars"]
    changed_fields, _stderr = run(tmp_path, dict(options, fields=["fqdn"]))
    assert "new01" in changed_fields["_meta"]["hostvars"]


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
