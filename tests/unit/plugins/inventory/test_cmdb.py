"""The opsgate.itsm.cmdb inventory plugin, run by ansible-inventory the way users run it."""

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from ansible.inventory.data import InventoryData

from ansible_collections.opsgate.itsm.plugins.inventory.cmdb import InventoryModule
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory, _inventory_source
from tests.unit.plugins.module_utils.backends import sn_sim

# The per-checkout tree tests/conftest.py links (this directory is a package, so its conftest helpers are out of
# reach; the environment variable is not).
COLLECTIONS_BASE = os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"]
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


def ansible(tmp_path, command, env=None):
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_BASE, ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
                       ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_NOCOLOR="1", **(env or {}))
    return subprocess.run([os.path.join(BIN, command[0]), *command[1:]], env=environment, capture_output=True,
                          text=True, check=False)


def run(tmp_path, config, *extra, name="test.cmdb.yml", env=None, check=True):
    source = tmp_path / name
    source.write_text(json.dumps(config))
    done = ansible(tmp_path, ["ansible-inventory", "-i", str(source), "--list", *extra], env)
    if check:
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), done.stderr
    return done


def flush_cache(tmp_path, name="test.cmdb.yml"):
    """Parse the source the way ``ansible-playbook --flush-cache`` does (ansible-inventory has no
    --flush-cache before ansible-core 2.19): Ansible asks the plugin for fresh data."""
    playbook = tmp_path / "nothing.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": []}]))
    done = ansible(tmp_path, ["ansible-playbook", "-i", str(tmp_path / name), "--flush-cache", str(playbook)])
    assert done.returncode == 0, done.stdout + done.stderr


def printed(message, stderr):
    """Whether stderr holds the message, however Ansible wrapped it (2.17 wraps warnings at 80 columns,
    breaking long paths at hyphens)."""
    return "".join(message.split()) in "".join(stderr.split())


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
    assert printed("web01.example.com (CIs web01, web02)", stderr)


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
    assert printed("hostnames: [] is not valid; expected a list of field names", done.stderr)


def test_an_unusable_backend_fails_the_source_clearly(cmdb, tmp_path):
    done = run(tmp_path, dict(plugin="opsgate.itsm.cmdb", local_db=str(tmp_path)), check=False)
    assert done.returncode != 0
    assert printed(f"opsgate.itsm.cmdb inventory {tmp_path}/test.cmdb.yml: local_db: {tmp_path} is a directory",
                   done.stderr), done.stderr
    done = run(tmp_path, dict(plugin="opsgate.itsm.cmdb", backend="remedy"), check=False)
    assert done.returncode != 0 and printed("backend", done.stderr) and printed("remedy", done.stderr), done.stderr


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
    assert printed(f"change: {change['number']} did not pass the change gate: state", pending.stderr)
    cmdb.transition("change", change, "scheduled")
    listed, _stderr = run(tmp_path, config(cmdb, change=change["number"]))
    assert sorted(listed["_meta"]["hostvars"]) == ["db01", "esx01"]


def _scheduled_change(backend, cis):
    change = backend.create("change", {"type": "standard", "short_description": "patch", "start_date": _iso(-1),
                                       "end_date": _iso(1), "configuration_items": cis})
    return backend.transition("change", change, "scheduled")


def test_a_filter_on_name_is_anded_with_the_change_scope(cmdb, tmp_path):
    change = _scheduled_change(cmdb, ["db01", "esx01", "web01"])

    listed, _stderr = run(tmp_path, config(cmdb, change=change["number"], hostnames=["name"],
                                           filters={"name": ["web01", "web02", "esx01"]}))

    assert sorted(listed["_meta"]["hostvars"]) == ["esx01", "web01"]


def test_a_change_scoped_inventory_on_local_lists_the_affected_ci_under_a_shared_host_name(cmdb, tmp_path):
    change = _scheduled_change(cmdb, ["web02"])  # web02 shares its fqdn with web01, the lower id

    listed, _stderr = run(tmp_path, config(cmdb, change=change["number"], duplicate_hostnames="first"))

    assert list(listed["_meta"]["hostvars"]) == ["web01.example.com"]
    assert hostvars(listed, "web01.example.com")["cmdb_id"] == "web02"


@pytest.fixture(scope="module")
def simulator():
    yield sn_sim.simulator()
    sn_sim.stop()


def test_a_change_scoped_inventory_on_servicenow_lists_the_affected_ci_not_its_namesake(simulator, tmp_path):
    backend = sn_sim.contract_backend(tmp_path)
    prefix = "inv" + uuid.uuid4().hex[:8]
    twins = sorted(backend.http.request("POST", "/api/now/table/cmdb_ci_server", json_body={"name": f"{prefix}-dupweb"})
                   .body["result"]["sys_id"] for _unused in range(2))
    change = backend.create("change", {"short_description": "patch one of two namesakes"})
    backend.http.request("POST", "/api/now/table/task_ci", json_body={"task": change["id"], "ci_item": twins[1]})
    backend.close()
    environment = {"ITSM_BACKEND": "servicenow", "ITSM_URL": simulator.url, "ITSM_USERNAME": simulator.username,
                   "ITSM_PASSWORD": simulator.password, "ITSM_CA_PATH": simulator.cert}

    listed, _stderr = run(tmp_path, {"plugin": "opsgate.itsm.cmdb", "change": change["number"], "hostnames": ["name"],
                                     "change_require_approved": False, "duplicate_hostnames": "first",
                                     "query": f"nameSTARTSWITH{prefix}"}, env=environment)

    assert list(listed["_meta"]["hostvars"]) == [f"{prefix}-dupweb"]
    assert hostvars(listed, f"{prefix}-dupweb")["cmdb_id"] == twins[1]


def test_strict_fails_the_source_on_a_broken_compose_entry_and_otherwise_skips_it(cmdb, tmp_path):
    broken = dict(compose={"role": "cmdb_no_such_variable.upper()"}, keyed_groups=[{"key": "cmdb_missing"}])

    failed = run(tmp_path, config(cmdb, strict=True, **broken), check=False)
    listed, _stderr = run(tmp_path, config(cmdb, strict=False, **broken))

    assert failed.returncode != 0 and "cmdb_no_such_variable" in failed.stderr
    assert "db01" in listed["_meta"]["hostvars"] and "role" not in hostvars(listed, "db01")


def test_table_is_an_alias_of_ci_class(cmdb, tmp_path):
    listed, _stderr = run(tmp_path, config(cmdb, table="esx_server"))
    assert list(listed["_meta"]["hostvars"]) == ["esx01"]


class RelationSpy:
    """The real local backend, recording which CI ids relationships are asked for."""

    def __init__(self, backend):
        self.backend = backend
        self.asked = []

    def iter_cmdb(self, *args):
        return self.backend.iter_cmdb(*args)

    def ci_relations(self, ids, types, depth):
        self.asked.append(list(ids))
        return self.backend.ci_relations(ids, types, depth)


def test_relations_are_read_only_for_the_cis_in_the_inventory(cmdb):
    cmdb.put_ci_relations("web02", [{"type": "Runs on", "target": "esx01"}])  # web02 loses its host name to web01
    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    plugin.get_option = lambda name: None  # no cache
    given = dict(ci_class="linux_server", fields=[], filters={}, query=None, hostnames=["fqdn", "host_name"],
                 ansible_host=[], variable_prefix="cmdb_", group_prefix="cmdb_", default_groups=[],
                 duplicate_hostnames="first", relations={"types": ["Runs on"], "depth": 2}, page_size=10, workers=1)
    options = _inventory_source.InventoryOptions.from_options(given.__getitem__)
    writer = _inventory.HostWriter(plugin, options, {})
    spy = RelationSpy(cmdb)

    plugin._fetch(spy, writer, options, {})

    assert spy.asked == [["db01", "web01"]]
    assert sorted(plugin.inventory.groups["cmdb_runs_on_esx01"].hosts, key=str) == [
        plugin.inventory.get_host("web01.example.com")]


def test_cache_entry_expires_after_its_timeout(cmdb, tmp_path):
    options = config(cmdb, cache=True, cache_plugin="ansible.builtin.jsonfile",
                     cache_connection=str(tmp_path / "cache"), cache_timeout=1)
    run(tmp_path, options)
    cmdb.put_ci("new01", "linux_server", {})

    time.sleep(2.1)
    expired, _stderr = run(tmp_path, options)

    assert "new01" in expired["_meta"]["hostvars"]


def test_a_cached_change_scoped_inventory_is_refused_once_the_change_is_canceled(cmdb, tmp_path):
    change = _scheduled_change(cmdb, ["db01"])
    options = config(cmdb, change=change["number"], cache=True, cache_plugin="ansible.builtin.jsonfile",
                     cache_connection=str(tmp_path / "cache"), cache_timeout=3600)
    listed, _stderr = run(tmp_path, options)
    cmdb.transition("change", cmdb.get("change", number=change["number"]), "canceled")

    refused = run(tmp_path, options, check=False)

    assert list(listed["_meta"]["hostvars"]) == ["db01"] and len(list((tmp_path / "cache").iterdir())) == 1
    assert refused.returncode != 0
    assert printed(f"change: {change['number']} did not pass the change gate: state: state is canceled",
                   refused.stderr), refused.stderr


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
    flush_cache(tmp_path)
    fresh, _stderr = run(tmp_path, options)
    assert "new01" in fresh["_meta"]["hostvars"]
    assert entry.stat().st_mtime_ns != written
    changed_fields, _stderr = run(tmp_path, dict(options, fields=["fqdn"]))
    assert "new01" in changed_fields["_meta"]["hostvars"]
