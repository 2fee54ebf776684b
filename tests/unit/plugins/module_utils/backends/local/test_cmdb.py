# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend's side of the CMDB contract and its own CI table (tables cis and ci_relations)."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import cmdb as local_cmdb


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
    for index in range(7):
        local_backend.put_ci(f"n{index}", "server", {})
    cursors = []
    page = local_cmdb.CiQuery.page

    def counted(ci_query, conn, after, size):
        cursors.append(after)
        return page(ci_query, conn, after, size)
    monkeypatch.setattr(local_cmdb.CiQuery, "page", counted)
    assert [item["name"] for item in local_backend.iter_cmdb(page_size=3)] == [f"n{i}" for i in range(7)]
    assert cursors == ["", "n2", "n5"]


def test_local_reads_of_a_store_that_does_not_exist_are_empty(local_backend):
    assert list(local_backend.iter_cmdb()) == []
    assert list(local_backend.ci_relations(["a"])) == []


def test_local_relations_follow_types_to_the_depth_each_target_once(local_backend):
    for name in ("web01", "esx01", "db01", "cluster1"):
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
    local_backend.put_ci("esx01", "esx_server", {})
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


def test_local_long_id_and_name_filters_are_both_applied(local_backend):
    for name in ("web01", "web02", "db01"):
        local_backend.put_ci(name, "server", {})
    names = ["web01", "web02"] + [f"absent{index}" for index in range(600)]
    ids = ["web02", "db01"] + [f"gone{index}" for index in range(600)]

    found = local_backend.iter_cmdb(filters={"name": names, "id": ids})

    assert [item["name"] for item in found] == ["web02"]


def test_cmdb_upsert_and_iterate(local):
    assert local.upsert_ci("web01", "linux_server", {"ip": "10.0.0.1"}) is True
    assert local.upsert_ci("web01", "linux_server", {"ip": "10.0.0.1"}) is False
    local.upsert_ci("db01", "linux_server", {"ip": "10.0.0.2"})
    local.upsert_ci("lb01", "load_balancer")

    assert [ci["name"] for ci in local.iter_cis()] == ["db01", "lb01", "web01"]
    assert list(local.iter_cis({"ci_class": "load_balancer"})) == [
        {"name": "lb01", "ci_class": "load_balancer", "fields": {}}]
    assert [ci["fields"]["ip"] for ci in local.iter_cis({"name": ["web01", "db01"]})] == ["10.0.0.2", "10.0.0.1"]
    with pytest.raises(ItsmValidationError):
        local.iter_cis({"os": "linux"})


# -- what ServiceNow refuses, refused here too (issue 16; the shared table is backends/test_refusals.py) -------------

def _store_directly(backend, sql, *params):
    """A row as a store written before issue 16 may hold it (a class in table form, any relationship type)."""
    conn = backend.store.connection(create=True)
    with conn:
        conn.execute(sql, params)


def test_a_class_given_as_its_table_is_stored_as_the_class(local_backend):
    local_backend.put_ci("web01", "cmdb_ci_linux_server", {})

    assert [ci["ci_class"] for ci in local_backend.iter_cmdb()] == ["linux_server"]
    assert local_backend.put_ci("web01", "linux_server", {}) is False  # the same class in either form


def test_a_class_filter_also_matches_the_table_form_an_older_store_holds(local_backend):
    local_backend.put_ci("web01", "server", {})
    _store_directly(local_backend, "INSERT INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, '{}', ?)",
                    "old01", "cmdb_ci_server", "2026-01-01T00:00:00Z")

    for given in ("server", "cmdb_ci_server"):
        assert [ci["name"] for ci in local_backend.iter_cmdb(given)] == ["old01", "web01"]
        assert [ci["name"] for ci in local_backend.iter_cmdb(filters={"ci_class": [given]})] == ["old01", "web01"]


def test_a_ci_keeps_its_class_and_no_class_given_keeps_it(local_backend):
    local_backend.put_ci("web01", "linux_server", {"fqdn": "web01.example.com"})

    with pytest.raises(ItsmValidationError) as raised:
        local_backend.put_ci("web01", "win_server", {})
    assert local_backend.put_ci("web01", None, {"fqdn": "web01.example.org"}) is True

    assert raised.value.details["option"] == "ci_class"
    assert [(ci["ci_class"], ci["fields"]) for ci in local_backend.iter_cmdb()] == [
        ("linux_server", {"fqdn": "web01.example.org"})]


def test_relationships_already_stored_are_not_checked_again(local_backend):
    for name in ("web01", "esx01"):
        local_backend.put_ci(name, "linux_server", {})
    _store_directly(local_backend, "INSERT INTO ci_relations (source, type, target) VALUES (?, ?, ?)",
                    "web01", "Members of", "gone01")  # a type and a target no longer taken, from an older store
    kept = [{"type": "Members of", "target": "gone01"}]

    assert local_backend.put_ci_relations("web01", kept) is False
    assert local_backend.put_ci_relations("web01", kept + [{"type": "Runs on", "target": "esx01"}]) is True
    assert sorted((item["type"], item["target"]) for item in local_backend.ci_relations(["web01"])) == [
        ("Members of", "gone01"), ("Runs on", "esx01")]


def test_every_relationship_type_is_one_of_servicenows_base_system(local_backend):
    for name in ("web01", "esx01"):
        local_backend.put_ci(name, "linux_server", {})

    for kind in sorted(local_cmdb.RELATION_TYPES):
        assert local_backend.put_ci_relations("web01", [{"type": kind, "target": "esx01"}]) is True


def test_a_class_an_older_store_holds_in_table_form_is_the_same_class(local_backend):
    _store_directly(local_backend, "INSERT INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, '{}', ?)",
                    "old01", "cmdb_ci_server", "2026-01-01T00:00:00Z")

    assert local_backend.put_ci("old01", "server", {}) is False
    with pytest.raises(ItsmValidationError):
        local_backend.put_ci("old01", "linux_server", {})
