# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servicenow backend's CMDB: value and query rules (pure), and requests and refusals on the simulator.

What every backend shares is in test_cmdb_contract.py.
"""

from __future__ import annotations

import math
import urllib.parse
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError, ItsmNotFoundError, ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import cmdb as sn_cmdb
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import configuration_item
from ansible_collections.opsgate.itsm.plugins.plugin_utils._inventory_source import scoped_filters
from tests.unit.plugins.module_utils.backends import sn_sim


# -- pure rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, table", [(None, "cmdb_ci"), ("linux_server", "cmdb_ci_linux_server"),
                                          ("cmdb_ci_server", "cmdb_ci_server"), ("cmdb_ci", "cmdb_ci")])
def test_a_class_names_its_table(given, table):
    assert sn_cmdb.table_of(given) == table
    assert sn_cmdb.canonical_class(table) == (table if table == "cmdb_ci" else table[len("cmdb_ci_"):])


def test_a_class_that_is_no_table_name_is_refused_naming_the_option():
    with pytest.raises(ItsmValidationError, match=r"ci_class: 'Linux Server'"):
        sn_cmdb.table_of("Linux Server")


def test_choices_read_and_write_as_canonical_words_and_unknown_values_pass():
    assert [sn_cmdb.read_value("operational_status", raw) for raw in ("1", "6", "42", "")] == [
        "operational", "retired", "42", None]
    assert sn_cmdb.read_value("environment", "Production") == "production"
    assert sn_cmdb.write_value("install_status", "in_maintenance") == "3"
    assert sn_cmdb.write_value("environment", "Staging") == "Staging"
    assert (sn_cmdb.write_value("virtual", True), sn_cmdb.write_value("fqdn", None)) == ("true", "")


def test_filters_become_conditions_and_a_long_name_list_is_split():
    names = [f"n{index}" for index in range(150)]
    terms, split = sn_cmdb.conditions({"environment": "production", "operational_status": ["operational", "ready"],
                                       "ci_class": "linux_server", "name": names})
    assert terms == ["environment=Production", "operational_statusIN1,5", "sys_class_name=cmdb_ci_linux_server"]
    assert split == ("name", names)


def test_the_raw_query_is_anded_into_each_nq_group_and_ordered_by_sys_id():
    assert sn_cmdb.encoded("os=Linux^NQvirtual=true", ["environment=Production"]) == (
        "os=Linux^environment=Production^NQvirtual=true^environment=Production^ORDERBYsys_id")
    assert sn_cmdb.encoded(None, []) == "ORDERBYsys_id"
    with pytest.raises(ItsmValidationError, match="query"):
        sn_cmdb.encoded("os=Linux^ORDERBYname", [])


# -- on the simulator ------------------------------------------------------------------------------

@pytest.fixture
def sim():
    return sn_sim.simulator()


@pytest.fixture
def backend(sim):
    built = ServiceNowBackend(sn_sim.settings(sim), sleep=lambda seconds: None)
    yield built
    built.close()


@pytest.fixture
def prefix() -> str:
    return "sn" + uuid.uuid4().hex[:8]


def _seq(sim) -> int:
    logged = sim.admin("GET", "requests")["requests"]
    return logged[-1]["seq"] if logged else 0


def _since(sim, mark: int) -> list[dict]:
    return [item for item in sim.admin("GET", "requests")["requests"] if item["seq"] > mark]


@pytest.mark.parametrize("workers", [1, 4])
def test_n_cis_take_one_request_per_page(sim, backend, prefix, workers):
    for index in range(23):
        backend.put_ci(f"{prefix}-{index:02d}", "linux_server", {"fqdn": f"{prefix}-{index}.example.com"})
    mark = _seq(sim)

    found = list(backend.iter_cmdb("linux_server", ["fqdn", "location.country"], query=f"nameSTARTSWITH{prefix}",
                                   page_size=5, workers=workers))

    sent = _since(sim, mark)
    assert len(found) == 23
    assert len(sent) == math.ceil(23 / 5)
    assert all(item["method"] == "GET" and item["path"] == "/api/now/table/cmdb_ci_linux_server" for item in sent)


def test_a_reference_is_written_by_name_and_dot_walked_on_read(backend, prefix):
    backend.put_ci(f"{prefix}-web", "linux_server", {"location": "Paris", "support_group": "Network"})

    [ci] = backend.iter_cmdb(fields=["location.country", "location.name", "support_group"],
                             filters={"name": f"{prefix}-web"})

    assert ci["fields"]["location.country"] == "FR" and ci["fields"]["location.name"] == "Paris"
    assert len(ci["fields"]["support_group"]) == 32  # a reference reads as the sys_id


def test_an_unknown_reference_name_is_refused_naming_the_field(backend, prefix):
    with pytest.raises(ItsmNotFoundError, match=r"fields.location: .* no cmn_location record named 'Atlantis'"):
        backend.put_ci(f"{prefix}-web", "linux_server", {"location": "Atlantis"})
    assert list(backend.iter_cmdb(filters={"name": f"{prefix}-web"})) == []


def test_a_nested_value_is_refused_naming_the_field(backend, prefix):
    with pytest.raises(ItsmValidationError, match=r"fields.location: .*referenced record's name"):
        backend.put_ci(f"{prefix}-web", "linux_server", {"location": {"country": "NL"}})


def test_the_class_of_an_existing_ci_is_not_changed(backend, prefix):
    backend.put_ci(f"{prefix}-web", "linux_server", {})
    with pytest.raises(ItsmValidationError, match=r"ci_class: 'win_server' .*is a linux_server"):
        backend.put_ci(f"{prefix}-web", "win_server", {})


def test_two_cis_of_one_name_conflict(sim, backend, prefix):
    for _unused in range(2):
        backend.http.request("POST", "/api/now/table/cmdb_ci_server", json_body={"name": f"{prefix}-twin"})
    with pytest.raises(ItsmConflictError, match="more than one CI"):
        backend.put_ci(f"{prefix}-twin", None, {"fqdn": "x"})


def test_an_unknown_relationship_type_is_refused_naming_the_option(backend, prefix):
    backend.put_ci(f"{prefix}-a", "linux_server", {})
    backend.put_ci(f"{prefix}-b", "linux_server", {})
    with pytest.raises(ItsmNotFoundError, match=r"relations: .*'Hovers over'"):
        backend.put_ci_relations(f"{prefix}-a", [{"type": "Hovers over", "target": f"{prefix}-b"}])
    assert list(backend.ci_relations([ci["id"] for ci in backend.iter_cmdb(filters={"name": f"{prefix}-a"})])) == []


def test_an_unknown_class_of_a_new_ci_is_refused_naming_the_option(backend, prefix):
    with pytest.raises(ItsmValidationError) as raised:
        backend.put_ci(f"{prefix}-web", "nosuch_class", {"fqdn": "web.example.com"})
    assert raised.value.message.startswith("ci_class: 'nosuch_class' is not valid; expected a class such as linux_server")
    assert "cmdb_ci_nosuch_class" in raised.value.message
    assert list(backend.iter_cmdb(filters={"name": f"{prefix}-web"})) == []


@pytest.mark.parametrize("workers", [1, 4])
def test_reading_an_unknown_class_is_refused_naming_the_option(backend, workers):
    with pytest.raises(ItsmValidationError) as raised:
        list(backend.iter_cmdb("nosuch_class", workers=workers))
    assert raised.value.message.startswith("ci_class: 'nosuch_class' is not valid; expected a class such as linux_server")
    assert raised.value.details["option"] == "ci_class"


def _configure(backend, name: str, **params) -> dict:
    """configuration_item's run() as its action plugin calls it."""
    params = dict({"ci_class": None, "fields": None, "relations": None}, name=name, **params)
    return configuration_item.run(params, backend, check_mode=False, warn=lambda text: None)


@pytest.mark.parametrize("relation, refused", [({"type": "Hovers over", "target": "{prefix}-host"}, "'Hovers over'"),
                                               ({"type": "Runs on", "target": "{prefix}-nowhere"}, "-nowhere'")])
def test_a_refused_relation_leaves_no_new_ci_behind(backend, prefix, relation, refused):
    backend.put_ci(f"{prefix}-host", "linux_server", {})
    relation = {key: value.format(prefix=prefix) for key, value in relation.items()}

    with pytest.raises(ItsmNotFoundError) as raised:
        _configure(backend, f"{prefix}-web", ci_class="linux_server", fields={"fqdn": "web.example.com"},
                   relations=[relation])

    assert raised.value.details["option"] == "relations" and refused in raised.value.message
    assert [ci["name"] for ci in backend.iter_cmdb(query=f"nameSTARTSWITH{prefix}")] == [f"{prefix}-host"]


def test_a_refused_relation_leaves_an_existing_ci_unchanged(backend, prefix):
    _configure(backend, f"{prefix}-web", ci_class="linux_server", fields={"fqdn": "old.example.com"})

    with pytest.raises(ItsmNotFoundError, match="relations: .*'Hovers over'"):
        _configure(backend, f"{prefix}-web", fields={"fqdn": "new.example.com"},
                   relations=[{"type": "Hovers over", "target": f"{prefix}-web"}])

    [ci] = backend.iter_cmdb(fields=["fqdn"], filters={"name": f"{prefix}-web"})
    assert ci["fields"] == {"fqdn": "old.example.com"}


def test_a_new_ci_with_a_relation_costs_seven_requests_and_a_rerun_six(sim, backend, prefix):
    backend.put_ci(f"{prefix}-host", "linux_server", {})
    args = dict(ci_class="linux_server", fields={"fqdn": "web.example.com"},
                relations=[{"type": "Runs on", "target": f"{prefix}-host"}])
    mark = _seq(sim)

    created = _configure(backend, f"{prefix}-web", **args)
    sent = _since(sim, mark)
    again = _configure(backend, f"{prefix}-web", **args)

    # resolve: look the CI up, one batch for the type and the target; read the CI; put_ci: look up, create;
    # put_ci_relations: find the new CI, one batch of writes
    assert [(item["method"], item["path"].rsplit("/", 1)[-1]) for item in sent] == [
        ("GET", "cmdb_ci"), ("POST", "batch"), ("GET", "cmdb_ci"), ("GET", "cmdb_ci"),
        ("POST", "cmdb_ci_linux_server"), ("GET", "cmdb_ci"), ("POST", "batch")]
    assert len(_since(sim, sent[-1]["seq"])) == 6
    assert (created["changed"], again["changed"]) == (True, False)
    assert again["record"]["relations"] == [{"type": "Runs on", "target": f"{prefix}-host"}]


def _insert_ci(backend, name: str, sys_id: str | None = None) -> str:
    body = {"name": name} if sys_id is None else {"name": name, "sys_id": sys_id}
    return backend.http.request("POST", "/api/now/table/cmdb_ci_server", json_body=body).body["result"]["sys_id"]


def test_the_change_scope_is_the_linked_ci_not_a_namesake(backend, prefix):
    twins = sorted(_insert_ci(backend, f"{prefix}-dupweb") for _unused in range(2))
    change = backend.create("change", {"short_description": "patch one of two namesakes"})
    backend.http.request("POST", "/api/now/table/task_ci", json_body={"task": change["id"], "ci_item": twins[1]})

    ids = backend.affected_ci_ids(change)
    scoped = list(backend.iter_cmdb(filters=scoped_filters({"name": f"{prefix}-dupweb"}, ids)))

    assert ids == [twins[1]]
    assert [ci["id"] for ci in scoped] == [twins[1]]


def test_only_the_identity_columns_and_the_requested_fields_are_fetched(sim, backend, prefix):
    backend.put_ci(f"{prefix}-web", "linux_server", {"fqdn": "web.example.com"})
    mark = _seq(sim)

    list(backend.iter_cmdb("linux_server", ["fqdn", "location.country", "name", "fqdn"],
                           filters={"name": f"{prefix}-web"}))

    [sent] = _since(sim, mark)
    assert urllib.parse.parse_qs(sent["query"])["sysparm_fields"] == ["sys_id,name,sys_class_name,fqdn,location.country"]


def test_a_ci_inserted_before_the_read_position_is_not_returned_twice(backend, prefix):
    base = uuid.uuid4().hex
    names = [f"{prefix}-{index}" for index in range(5)]
    for index, name in enumerate(names):
        _insert_ci(backend, name, f"8{base[:27]}{index:04d}")
    reading = backend.iter_cmdb("server", [], query=f"nameSTARTSWITH{prefix}", page_size=2, workers=1)
    first_page = [next(reading), next(reading)]

    # a lower sys_id shifts every later offset by one: the next page starts with the last CI already read
    _insert_ci(backend, f"{prefix}-late", f"0{base[:31]}")
    rest = list(reading)

    assert [ci["name"] for ci in first_page + rest] == names
