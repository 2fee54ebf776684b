# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/cmdb.py against the JSM simulator, each test on Cloud and Data Center: Assets objects read as
CIs in id order one request per page, written by put_ci with every refusal before the first write, and a
change's "Affected objects"."""

from __future__ import annotations

import math
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmNotFoundError, ItsmUnexpectedResponseError, ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import cmdb
from tests.unit.plugins.module_utils.backends.jsm.assets_types import ensure_ci_types
from tests.unit.plugins.module_utils.backends.jsm.conftest import SEEDED_ASSETS


@pytest.fixture
def catalog(client) -> cmdb.Catalog:
    ensure_ci_types(client)
    return cmdb.Catalog(client)


@pytest.fixture
def prefix() -> str:
    return "jc" + uuid.uuid4().hex[:8]


def _path(client, jsm, tail: str) -> str:
    return client.assets_base()[len(jsm.url):] + tail


def _aql_requests(client, jsm) -> int:
    if client.cloud:
        return jsm.request_count("POST", _path(client, jsm, "/object/aql"))
    return jsm.request_count("GET", _path(client, jsm, "/aql/objects"))


def _writes(client, jsm) -> int:
    return (jsm.request_count("POST", _path(client, jsm, "/object/create"))
            + jsm.request_count("PUT", _path(client, jsm, "/object/")))


def _mine(client, catalog, prefix, **options):
    options = {"ci_class": None, "fields": None, "filters": None, "page_size": 50, "workers": 1, **options}
    return list(cmdb.iter_cmdb(client, catalog, query=options.pop("query", f"nameSTARTSWITH{prefix}"), **options))


@pytest.mark.parametrize("workers", [1, 3])
def test_seeded_servers_come_in_id_order_one_aql_request_per_page(client, jsm, catalog, workers):
    catalog.types()
    before = _aql_requests(client, jsm)

    servers = list(cmdb.iter_cmdb(client, catalog, "server", ["hostname", "environment"], None, None, 7, workers))

    ids = [int(ci["id"]) for ci in servers]
    assert len(servers) == SEEDED_ASSETS and ids == sorted(ids)
    assert _aql_requests(client, jsm) - before == math.ceil(SEEDED_ASSETS / 7)
    assert {ci["ci_class"] for ci in servers} == {"server"}
    first = servers[0]
    assert first["fields"] == {"hostname": f"{first['name']}.opsgate.example",
                               "environment": first["fields"]["environment"]}


def test_every_attribute_but_the_label_without_fields(client, catalog):
    [service] = cmdb.iter_cmdb(client, catalog, "service", None, {"name": "Payroll"}, None, 10, 1)

    assert service["name"] == "Payroll"
    assert service["fields"]["description"] == "Payroll service"
    assert service["fields"]["key"] == f"ITAM-{service['id']}"
    assert "name" not in service["fields"]


def test_put_ci_creates_then_changes_nothing_then_clears(client, jsm, catalog, prefix):
    fields = {"fqdn": f"{prefix}.example.com", "ip_address": "10.0.0.1", "environment": "production"}

    created = cmdb.put_ci(client, catalog, f"{prefix}-web", "linux_server", fields, False)
    writes = _writes(client, jsm)
    again = cmdb.put_ci(client, catalog, f"{prefix}-web", "cmdb_ci_linux_server", fields, False)
    assert _writes(client, jsm) == writes  # the rerun only reads
    cleared = cmdb.put_ci(client, catalog, f"{prefix}-web", None, {"fqdn": None, "os": "RHEL 9"}, False)

    assert (created, again, cleared) == (True, False, True)
    [ci] = _mine(client, catalog, prefix, fields=["fqdn", "ip_address", "os", "operational_status"])
    assert (ci["name"], ci["ci_class"]) == (f"{prefix}-web", "linux_server")
    assert ci["fields"] == {"fqdn": None, "ip_address": "10.0.0.1", "os": "RHEL 9", "operational_status": None}


def test_put_ci_takes_back_the_read_only_values_it_read_but_refuses_changing_them(client, jsm, catalog, prefix):
    """configuration_item writes back every field it read (Key, Created, Updated included) with the ones it
    changes: the unchanged read-only values are left out, a changed one is still refused, before any write."""
    cmdb.put_ci(client, catalog, f"{prefix}-web", "linux_server", {"fqdn": "old"}, False)
    [read] = _mine(client, catalog, prefix)
    writes = _writes(client, jsm)

    changed = cmdb.put_ci(client, catalog, f"{prefix}-web", None, {**read["fields"], "fqdn": "new"}, False)
    with pytest.raises(ItsmValidationError, match="no writable attribute 'key'"):
        cmdb.put_ci(client, catalog, f"{prefix}-web", None, {**read["fields"], "key": "ITAM-1", "fqdn": "x"}, False)

    assert changed is True and _writes(client, jsm) == writes + 1
    [ci] = _mine(client, catalog, prefix, fields=["fqdn", "key"])
    assert ci["fields"] == {"fqdn": "new", "key": read["fields"]["key"]}


def test_check_mode_put_ci_writes_nothing(client, jsm, catalog, prefix):
    catalog.attributes(catalog.type_of("linux_server")["id"])
    writes = _writes(client, jsm)

    assert cmdb.put_ci(client, catalog, f"{prefix}-new", "linux_server", {"fqdn": "x"}, True) is True
    assert _writes(client, jsm) == writes and _mine(client, catalog, prefix) == []


@pytest.mark.parametrize("name_class_fields, option, words", [
    (("-web", "mainframe", {}), "ci_class", "expected an Assets object type of"),
    (("-web", None, {}), "ci_class", "a new CI needs its class"),
    (("-web", "linux_server", {"colour": "red"}), "fields.colour", "no writable attribute 'colour'"),
    (("-web", "linux_server", {"key": "ITAM-1"}), "fields.key", "no writable attribute 'key'"),
    (("-web", "linux_server", {"fqdn": ["a"]}), "fields.fqdn", "stores plain values"),
    (("-old", "win_server", {"fqdn": "x"}), "ci_class", "is a linux_server and the jsm backend does not change"),
])
def test_refusals_come_before_any_write(client, jsm, catalog, prefix, name_class_fields, option, words):
    cmdb.put_ci(client, catalog, f"{prefix}-old", "linux_server", {"fqdn": "old"}, False)
    suffix, ci_class, fields = name_class_fields
    writes = _writes(client, jsm)

    with pytest.raises(ItsmValidationError) as raised:
        cmdb.put_ci(client, catalog, prefix + suffix, ci_class, fields, False)

    assert raised.value.details["option"] == option and words in str(raised.value)
    assert _writes(client, jsm) == writes
    assert [ci["name"] for ci in _mine(client, catalog, prefix)] == [f"{prefix}-old"]


def test_filters_class_and_query_are_anded(client, catalog, prefix):
    for suffix, ci_class, env, status in (("a", "linux_server", "production", "operational"),
                                          ("b", "linux_server", "test", "operational"),
                                          ("c", "linux_server", "production", "retired"),
                                          ("d", "win_server", "production", "operational")):
        cmdb.put_ci(client, catalog, f"{prefix}-{suffix}", ci_class,
                    {"environment": env, "operational_status": status}, False)

    found = _mine(client, catalog, prefix, ci_class="linux_server",
                  filters={"environment": "production", "operational_status": ["operational", "repair"]})
    by_class = _mine(client, catalog, prefix, filters={"ci_class": ["win_server"]})
    by_query = _mine(client, catalog, prefix, query=f"nameSTARTSWITH{prefix}^environment!=production")
    by_aql = _mine(client, catalog, prefix, query=f'label STARTSWITH "{prefix}" AND "Operational status" = retired')

    assert [ci["name"] for ci in found] == [f"{prefix}-a"]
    assert [ci["name"] for ci in by_class] == [f"{prefix}-d"]
    assert [ci["name"] for ci in by_query] == [f"{prefix}-b"]
    assert [ci["name"] for ci in by_aql] == [f"{prefix}-c"]
    assert _mine(client, catalog, prefix, filters={"name": []}) == []


def test_a_long_name_list_is_read_in_chunks_in_id_order(client, catalog, prefix):
    names = [f"{prefix}-{index:03d}" for index in range(230)]
    for name in names[::23]:
        cmdb.put_ci(client, catalog, name, "linux_server", {}, False)

    found = list(cmdb.iter_cmdb(client, catalog, None, [], {"name": names}, None, 3, 1))

    assert [ci["name"] for ci in found] == names[::23]
    assert [int(ci["id"]) for ci in found] == sorted(int(ci["id"]) for ci in found)


@pytest.mark.parametrize("query, option", [("label = x ORDER BY label", "query"), (None, "filters.ci_class")])
def test_read_refusals_name_their_option(client, catalog, query, option):
    with pytest.raises(ItsmValidationError) as raised:
        list(cmdb.iter_cmdb(client, catalog, None, None, {"ci_class": "mainframe"} if not query else None, query,
                            10, 1))
    assert raised.value.details["option"] == option


def test_a_page_out_of_id_order_is_an_error_not_a_skip(client, catalog, monkeypatch):
    def reversed_page(query, start, size, attributes=True, what=""):
        return [{"id": "9", "label": "b", "objectType": {"name": "Server"}},
                {"id": "8", "label": "a", "objectType": {"name": "Server"}}], 2, True

    monkeypatch.setattr(client, "aql_page", reversed_page)
    with pytest.raises(ItsmUnexpectedResponseError, match="did not order the search by Key"):
        list(cmdb.iter_cmdb(client, catalog, None, None, None, None, 10, 1))


def test_affected_ci_ids_are_the_ids_iter_cmdb_gives(client, catalog, prefix):
    for name in (f"{prefix}-web", f"{prefix}-db"):
        cmdb.put_ci(client, catalog, name, "linux_server", {}, False)
    change = client.create_issue({"project": {"key": "ITSM"}, "issuetype": {"name": "Change"}, "summary": prefix})
    ids = {ci["name"]: ci["id"] for ci in _mine(client, catalog, prefix)}

    changed = cmdb.set_affected_cis(client, change["key"], [f"{prefix}-web"])
    again = cmdb.set_affected_cis(client, change["key"], [f"{prefix}-web"])

    assert (changed, again) == (True, False)
    assert cmdb.affected_ci_ids(client, change["key"]) == [ids[f"{prefix}-web"]]
    assert cmdb.affected_cis(client, change["key"]) == [f"{prefix}-web"]
    with pytest.raises(ItsmNotFoundError) as raised:
        cmdb.set_affected_cis(client, change["key"], [f"{prefix}-nowhere"])
    assert raised.value.details["option"] == "configuration_items"
    assert cmdb.affected_ci_ids(client, change["key"]) == [ids[f"{prefix}-web"]]


def test_relations_input_is_checked_as_everywhere(client):
    with pytest.raises(ItsmValidationError) as raised:
        cmdb.check_relations([{"type": "Runs on"}])
    assert raised.value.details["option"] == "relations"
    with pytest.raises(ItsmValidationError) as raised:
        cmdb.check_relation_types(["Runs on::Runs"])
    assert raised.value.details["option"] == "relations.types"
