"""The CMDB inventory's backend-neutral rules (_cmdb) and the local backend's side of the CMDB contract."""

import datetime as dt
import sqlite3

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _cmdb as cmdb
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmNotFoundError,
    ItsmUnavailableError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import _local_schema
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend

DEFAULTS = dict(ci_class=None, fields=list(cmdb.DEFAULT_FIELDS), filters={}, query=None,
                hostnames=list(cmdb.DEFAULT_HOSTNAMES), ansible_host=["ip_address"], variable_prefix="cmdb_",
                group_prefix="cmdb_", default_groups=["class", "environment", "operational_status"],
                duplicate_hostnames="first", relations=None, page_size=1000, workers=4)


def options(**given):
    values = dict(DEFAULTS, **given)
    return cmdb.InventoryOptions.from_options(values.__getitem__)


def ci(id, fields=None, ci_class="server", name=None):
    return {"id": id, "name": name or id, "ci_class": ci_class, "fields": fields or {}}


# -- options -----------------------------------------------------------------------------------------

def test_default_options_request_each_needed_field_once_and_never_the_top_level_ones():
    assert options().request_fields() == ["fqdn", "host_name", "ip_address", "environment", "operational_status"]


def test_request_fields_add_hostname_ansible_host_and_group_sources_to_the_fields():
    chosen = options(fields=["location.country"], hostnames=["dns_name", "name"], ansible_host=["mgmt_ip"],
                     default_groups=["environment"])
    assert chosen.request_fields() == ["location.country", "dns_name", "mgmt_ip", "environment"]


@pytest.mark.parametrize("option, value", [
    ("hostnames", []), ("hostnames", ["bad name"]), ("fields", ["ok", 3]), ("default_groups", ["colour"]),
    ("duplicate_hostnames", "last"), ("page_size", 0), ("workers", 100), ("variable_prefix", ""),
    ("variable_prefix", "bad-prefix"), ("filters", ["name"]), ("relations", {"depth": 9}),
    ("relations", {"kinds": ["Runs on"]}),
])
def test_an_invalid_option_is_refused_naming_the_option(option, value):
    with pytest.raises(ItsmValidationError) as error:
        options(**{option: value})
    assert error.value.details["option"].split(".")[0] == option


def test_relations_default_to_one_hop():
    chosen = options(relations={"types": ["Runs on"]})
    assert (chosen.relation_types, chosen.relation_depth) == (("Runs on",), 1)
    assert options().relation_depth == 0


# -- hosts -------------------------------------------------------------------------------------------

def test_hostname_falls_back_in_order_skipping_empty_values():
    item = ci("c1", {"fqdn": "", "host_name": None, "ip_address": "10.0.0.1"})
    assert cmdb.first_value(item, ["fqdn", "host_name", "ip_address"]) == "10.0.0.1"
    assert cmdb.first_value(item, ["fqdn", "name"]) == "c1"
    assert cmdb.first_value(item, ["fqdn"]) is None


def test_host_vars_are_prefixed_dot_walks_flattened_and_never_plain_name():
    names = cmdb.variable_names("cmdb_", ["fqdn", "location.country"])
    found = cmdb.host_vars(ci("c1", {"fqdn": "a.example.com", "location.country": "NL"}), names)
    assert found == {"cmdb_fqdn": "a.example.com", "cmdb_location_country": "NL", "cmdb_id": "c1",
                     "cmdb_name": "c1", "cmdb_class": "server"}
    assert "name" not in found


def test_default_groups_skip_empty_values():
    item = ci("c1", {"environment": "production", "operational_status": ""})
    assert list(cmdb.default_groups(item, ["class", "environment", "operational_status"])) == [
        ("class", "server"), ("environment", "production")]


def test_first_duplicate_by_id_keeps_the_name_and_the_others_are_reported():
    names = cmdb.Hostnames("first")
    got = [names.claim(ci(i, {"fqdn": "web.example.com"}), ["fqdn"]) for i in ("a1", "a2", "a3")]
    assert got == ["web.example.com", None, None]
    [message] = names.report(["fqdn"])
    assert "web.example.com (CIs a1, a2, a3)" in message and "first CI by id kept" in message


def test_suffix_renames_later_duplicates_with_their_id():
    names = cmdb.Hostnames("suffix")
    got = [names.claim(ci(i, {"fqdn": "web"}), ["fqdn"]) for i in ("a1", "a2")]
    assert got == ["web", "web_a2"]
    assert "named <host>_<CI id>" in names.report(["fqdn"])[0]


def test_error_policy_refuses_a_duplicate_naming_both_cis():
    names = cmdb.Hostnames("error")
    names.claim(ci("a1", {"fqdn": "web"}), ["fqdn"])
    with pytest.raises(ItsmConflictError, match="a1 and a2 both have the host name 'web'"):
        names.claim(ci("a2", {"fqdn": "web"}), ["fqdn"])


def test_cis_without_a_hostname_are_reported():
    names = cmdb.Hostnames("first")
    assert names.claim(ci("a1"), ["fqdn"]) is None
    assert names.report(["fqdn"]) == ["1 CIs have none of the hostnames fields (fqdn) and were left out: a1"]


def test_relation_group_names_are_lower_case_words():
    assert cmdb.relation_group("Runs on", "ESX-01.lab") == "runs_on_esx_01_lab"


# -- encoded-query subset ------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("environment=production", True), ("environment!=production", False), ("osINLinux,AIX", True),
    ("osNOT INLinux", False), ("fqdnLIKEEXAMPLE", True), ("fqdnSTARTSWITHweb", True), ("fqdnENDSWITH.org", False),
    ("serialISEMPTY", True), ("serialISNOTEMPTY", False), ("environment=production^os=Windows", False),
    ("name=INDIA", False),
])
def test_query_terms(query, expected):
    item = ci("c1", {"environment": "production", "os": "Linux", "fqdn": "web.example.com"})
    assert cmdb.matches(item, cmdb.parse_query(query), {}) is expected


@pytest.mark.parametrize("query", ["a=1^ORb=2", "ORDERBYname", "justtext"])
def test_query_refuses_what_it_does_not_understand(query):
    with pytest.raises(ItsmValidationError, match="query"):
        cmdb.parse_query(query)


def test_filters_list_means_any_of_and_compare_as_text():
    item = ci("c1", {"rack": 12})
    assert cmdb.matches(item, [], {"rack": ["11", "12"]})
    assert not cmdb.matches(item, [], {"rack": "13"})


# -- the contract's defaults -----------------------------------------------------------------------------

def test_a_backend_without_a_cmdb_says_so():
    class Bare(ItsmBackend):
        name = "bare"
        get = find = create = update = transition = journal = add_journal = None

    with pytest.raises(ItsmUnavailableError, match="bare backend does not support reading the CMDB"):
        Bare(None).iter_cmdb()
    with pytest.raises(ItsmUnavailableError, match="relationships"):
        Bare(None).ci_relations(["a"])


# -- local backend ------------------------------------------------------------------------------------

@pytest.fixture
def cmdb_store(local_backend):
    local_backend.put_ci("web02", "linux_server", {"fqdn": "web02.example.com", "environment": "production",
                                                   "location": {"country": "DE"}, "secret": "not asked for"})
    local_backend.put_ci("web01", "linux_server", {"fqdn": "web01.example.com", "environment": "test",
                                                   "location.country": "NL"})
    local_backend.put_ci("esx01", "esx_server", {"environment": "production"})
    return local_backend


def test_local_items_come_ordered_by_id_with_only_the_asked_fields_dot_walked(cmdb_store):
    items = list(cmdb_store.iter_cmdb(fields=["fqdn", "location.country", "missing"]))
    assert [item["id"] for item in items] == ["esx01", "web01", "web02"]
    assert items[2] == {"id": "web02", "name": "web02", "ci_class": "linux_server",
                        "fields": {"fqdn": "web02.example.com", "location.country": "DE", "missing": None}}
    assert items[1]["fields"]["location.country"] == "NL"


def test_local_without_a_field_list_returns_every_field(cmdb_store):
    [item] = cmdb_store.iter_cmdb(filters={"name": "web02"})
    assert item["fields"]["secret"] == "not asked for"


def test_local_filters_class_and_query_combine(cmdb_store):
    found = cmdb_store.iter_cmdb(ci_class="linux_server", filters={"environment": ["production", "staging"]},
                                 query="fqdnSTARTSWITHweb")
    assert [item["name"] for item in found] == ["web02"]


def test_local_pages_are_keyset_and_complete(local_backend, monkeypatch):
    from ansible_collections.opsgate.itsm.plugins.module_utils.backends import _local_cmdb

    for index in range(7):
        local_backend.put_ci(f"n{index}", "server", {})
    cursors = []
    page = _local_cmdb.Plan.page

    def counted(plan, conn, after, size):
        cursors.append(after)
        return page(plan, conn, after, size)
    monkeypatch.setattr(_local_cmdb.Plan, "page", counted)
    assert [item["name"] for item in local_backend.iter_cmdb(page_size=3)] == [f"n{i}" for i in range(7)]
    assert cursors == ["", "n2", "n5"]


def test_local_reads_of_a_store_that_does_not_exist_are_empty(local_backend):
    assert list(local_backend.iter_cmdb()) == []
    assert list(local_backend.ci_relations(["a"])) == []


def test_local_relations_follow_types_to_the_depth_each_target_once(local_backend):
    for name in ("web01", "esx01", "db01"):
        local_backend.put_ci(name, "linux_server", {})
    local_backend.put_ci_relations("web01", [{"type": "Runs on", "target": "esx01"},
                                             {"type": "Depends on", "target": "db01"}])
    local_backend.put_ci_relations("esx01", [{"type": "Runs on", "target": "cluster1"}])
    local_backend.put_ci_relations("db01", [{"type": "Runs on", "target": "esx01"}])
    one = list(local_backend.ci_relations(["web01"], ["Runs on"], 1))
    assert one == [{"id": "web01", "type": "Runs on", "target": "esx01", "depth": 1}]
    deep = list(local_backend.ci_relations(["web01"], None, 3))
    assert [(r["target"], r["depth"]) for r in deep] == [("db01", 1), ("esx01", 1), ("cluster1", 2)]


def test_local_put_ci_relations_is_idempotent_and_honours_check_mode(local_backend):
    wanted = [{"type": "Runs on", "target": "esx01"}]
    assert local_backend.put_ci_relations("web01", wanted, check_mode=True) is True  # a CI check mode would create
    local_backend.put_ci("web01", "linux_server", {})
    assert local_backend.put_ci_relations("web01", wanted, check_mode=True) is True
    assert list(local_backend.ci_relations(["web01"])) == []
    assert local_backend.put_ci_relations("web01", wanted) is True
    assert local_backend.put_ci_relations("web01", wanted) is False
    assert local_backend.put_ci_relations("web01", []) is True
    assert list(local_backend.ci_relations(["web01"])) == []


def test_local_put_ci_relations_refuses_a_malformed_entry(local_backend):
    with pytest.raises(ItsmValidationError, match="relations"):
        local_backend.put_ci_relations("web01", [{"type": "Runs on"}])


def test_version_1_store_gains_the_relations_table(tmp_path):
    path = str(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    _local_schema.MIGRATIONS[0](conn)
    conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.close()
    store = _local_schema.open_store(path, 5, create=False)
    tables = {row[0] for row in store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "ci_relations" in tables
    assert store.execute("SELECT max(version) FROM schema_version").fetchone()[0] == _local_schema.SCHEMA_VERSION
    store.close()


# -- change scope ---------------------------------------------------------------------------------------

def _approved_change(backend, start, end, cis=("web01",)):
    """A standard change is approved from the start; moved to scheduled it passes the approval and state checks."""
    change = backend.create("change", {"type": "standard", "short_description": "patch", "start_date": start,
                                       "end_date": end, "correlation_id": "patch-1", "configuration_items": list(cis)})
    return backend.transition("change", change, "scheduled")


def _iso(delta_hours):
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=delta_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_change_scope_of_an_approved_change_inside_its_window(local_backend):
    change = _approved_change(local_backend, _iso(-1), _iso(1), ("web01", "db01"))
    found, ids = cmdb.change_scope(local_backend, change["number"], None, True)
    assert found["number"] == change["number"]
    assert sorted(ids) == ["db01", "web01"]  # a local CI's id is its name
    assert cmdb.change_scope(local_backend, None, "patch-1", True)[1] == ids


def test_the_change_scope_narrows_the_id_filter_and_keeps_the_users_name_filter():
    assert cmdb.scoped_filters({"name": "web01", "environment": ["test"]}, ["b", "a"]) == {
        "name": "web01", "environment": ["test"], "id": ["a", "b"]}
    assert cmdb.scoped_filters({"id": ["a", "c"]}, ["a", "b"]) == {"id": ["a"]}
    assert cmdb.scoped_filters({"id": "c"}, ["a", "b"]) == {"id": []}


def test_local_long_id_and_name_filters_are_both_applied(local_backend):
    for name in ("web01", "web02", "db01"):
        local_backend.put_ci(name, "server", {})
    names = ["web01", "web02"] + [f"absent{index}" for index in range(600)]
    ids = ["web02", "db01"] + [f"gone{index}" for index in range(600)]

    found = local_backend.iter_cmdb(filters={"name": names, "id": ids})

    assert [item["name"] for item in found] == ["web02"]


def test_change_scope_refuses_a_change_outside_its_window(local_backend):
    change = _approved_change(local_backend, _iso(2), _iso(3))
    with pytest.raises(ItsmConflictError, match=f"change: {change['number']} did not pass the change gate: window"):
        cmdb.change_scope(local_backend, change["number"], None, True)
    assert cmdb.change_scope(local_backend, change["number"], None, False)[1] == ["web01"]


def test_change_scope_refuses_an_unapproved_change(local_backend):
    change = local_backend.create("change", {"short_description": "x", "configuration_items": ["web01"]})
    with pytest.raises(ItsmConflictError, match="approval"):
        cmdb.change_scope(local_backend, change["number"], None, True)


def test_change_scope_of_an_unknown_change(local_backend):
    with pytest.raises(ItsmNotFoundError, match="change_correlation_id: no change 'nope'"):
        cmdb.change_scope(local_backend, None, "nope", True)


# -- ordered parallel pages -------------------------------------------------------------------------------

class Pages:
    def __init__(self, total, page_size, tell_total=True, fail_at=None):
        self.total, self.page_size, self.tell_total, self.fail_at = total, page_size, tell_total, fail_at
        self.requested = []

    def __call__(self, index):
        self.requested.append(index)
        if index == self.fail_at:
            raise ItsmConflictError(f"page {index} failed")
        start = index * self.page_size
        return list(range(start, min(start + self.page_size, self.total))), self.total if self.tell_total else None


@pytest.mark.parametrize("total", [0, 1, 10, 11, 95])
def test_parallel_pages_come_in_order_with_one_request_per_page(total):
    fetch = Pages(total, 10)
    assert list(cmdb.ordered_pages(fetch, 10, workers=4)) == list(range(total))
    assert sorted(fetch.requested) == list(range(max(1, -(-total // 10))))


def test_pages_without_a_total_are_read_until_a_short_one():
    fetch = Pages(25, 10, tell_total=False)
    assert list(cmdb.ordered_pages(fetch, 10, workers=4)) == list(range(25))
    assert fetch.requested == [0, 1, 2]


def test_a_failed_page_is_raised_to_the_reader():
    with pytest.raises(ItsmConflictError, match="page 3 failed"):
        list(cmdb.ordered_pages(Pages(100, 10, fail_at=3), 10, workers=3))
