# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CMDB part of the backend contract (iter_cmdb, ci_relations, put_ci, put_ci_relations) on every backend.

Relationships are tested where a backend claims them (``cmdb_relations``); their input checks run everywhere.
CI ids are compared in the backend's own order (``ci_id_order``: text for local names and ServiceNow sys_ids,
numbers for Assets object ids). The simulators are shared by the session, so each test names its CIs with a
prefix of its own and reads them back through a STARTSWITH query, which every backend understands.
"""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmNotFoundError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import configuration_item


@pytest.fixture
def prefix() -> str:
    return "ct" + uuid.uuid4().hex[:8]


def _mine(backend, prefix, **options):
    return list(backend.iter_cmdb(query=f"nameSTARTSWITH{prefix}", **options))


def test_put_ci_creates_then_changes_nothing_on_a_rerun(backend, prefix):
    fields = {"fqdn": f"{prefix}-web.example.com", "ip_address": "10.1.0.1", "environment": "production",
              "operational_status": "operational"}

    created = backend.put_ci(f"{prefix}-web", "linux_server", fields)
    again = backend.put_ci(f"{prefix}-web", "linux_server", fields)

    assert (created, again) == (True, False)
    [ci] = _mine(backend, prefix, fields=["fqdn", "ip_address", "environment", "operational_status", "os"])
    assert (ci["name"], ci["ci_class"]) == (f"{prefix}-web", "linux_server")
    assert ci["fields"] == dict(fields, os=None)


def test_put_ci_sets_a_value_and_clears_a_none(backend, prefix):
    backend.put_ci(f"{prefix}-db", "linux_server", {"fqdn": "db.example.com", "environment": "test"})

    changed = backend.put_ci(f"{prefix}-db", None, {"fqdn": None, "environment": "production",
                                                    "operational_status": "repair_in_progress"})

    [ci] = _mine(backend, prefix, fields=["fqdn", "environment", "operational_status"])
    assert changed is True
    assert ci["fields"] == {"fqdn": None, "environment": "production", "operational_status": "repair_in_progress"}


def test_check_mode_put_ci_writes_nothing(backend, prefix):
    assert backend.put_ci(f"{prefix}-new", "linux_server", {"fqdn": "new.example.com"}, check_mode=True) is True
    assert _mine(backend, prefix) == []


@pytest.mark.parametrize("workers", [1, 3])
def test_pages_return_every_ci_once_in_id_order(backend, prefix, workers):
    names = [f"{prefix}-{index:02d}" for index in range(7)]
    for name in names:
        backend.put_ci(name, "linux_server", {"fqdn": f"{name}.example.com"})

    items = _mine(backend, prefix, fields=["fqdn"], page_size=2, workers=workers)

    ids = [ci["id"] for ci in items]
    assert ids == sorted(ids, key=backend.ci_id_order) and len(set(ids)) == 7
    assert sorted(ci["name"] for ci in items) == names
    assert all(ci["fields"] == {"fqdn": f"{ci['name']}.example.com"} for ci in items)


def test_ci_ids_sort_in_each_backends_own_order():
    """The key the id-order assertions use: text for local names and ServiceNow sys_ids, numbers for Assets."""
    assert sorted(["web10", "web9"], key=LocalBackend.ci_id_order) == ["web10", "web9"]
    assert sorted(["f" * 32, "0" * 32], key=ServiceNowBackend.ci_id_order) == ["0" * 32, "f" * 32]
    assert sorted(["10", "9"], key=JsmBackend.ci_id_order) == ["9", "10"]


def test_filters_and_class_are_anded_with_the_query(backend, prefix):
    backend.put_ci(f"{prefix}-a", "linux_server", {"environment": "production", "operational_status": "operational"})
    backend.put_ci(f"{prefix}-b", "linux_server", {"environment": "test", "operational_status": "operational"})
    backend.put_ci(f"{prefix}-c", "linux_server", {"environment": "production", "operational_status": "retired"})
    backend.put_ci(f"{prefix}-d", "win_server", {"environment": "production", "operational_status": "operational"})

    found = _mine(backend, prefix, ci_class="linux_server",
                  filters={"environment": "production", "operational_status": ["operational", "repair_in_progress"]})
    by_name = _mine(backend, prefix, filters={"name": [f"{prefix}-b", f"{prefix}-d"]})

    assert [ci["name"] for ci in found] == [f"{prefix}-a"]
    assert sorted(ci["name"] for ci in by_name) == [f"{prefix}-b", f"{prefix}-d"]


def test_a_long_name_list_is_read_in_full(backend, prefix):
    names = [f"{prefix}-{index:03d}" for index in range(130)]
    for name in names[::13]:
        backend.put_ci(name, "linux_server", {})

    found = list(backend.iter_cmdb(filters={"name": names}, fields=[], page_size=4))

    assert sorted(ci["name"] for ci in found) == names[::13]
    assert [ci["id"] for ci in found] == sorted((ci["id"] for ci in found), key=backend.ci_id_order)


def test_relations_are_exact_and_walk_to_the_depth(relations_backend, prefix):
    backend = relations_backend
    web, esx, cluster, db = (f"{prefix}-{name}" for name in ("web", "esx", "cluster", "db"))
    for name in (web, esx, cluster, db):
        backend.put_ci(name, "linux_server", {})

    first = backend.put_ci_relations(web, [{"type": "Runs on", "target": esx}, {"type": "Depends on", "target": db}])
    again = backend.put_ci_relations(web, [{"type": "Depends on", "target": db}, {"type": "Runs on", "target": esx}])
    backend.put_ci_relations(esx, [{"type": "Runs on", "target": cluster}])
    ids = {ci["name"]: ci["id"] for ci in _mine(backend, prefix)}

    walked = list(backend.ci_relations([ids[web]], ["Runs on"], 2))
    direct = list(backend.ci_relations([ids[web], ids[db]], None, 1))

    assert (first, again) == (True, False)
    assert walked == [{"id": ids[web], "type": "Runs on", "target": esx, "depth": 1},
                      {"id": ids[web], "type": "Runs on", "target": cluster, "depth": 2}]
    assert sorted((item["type"], item["target"]) for item in direct) == [("Depends on", db), ("Runs on", esx)]
    assert backend.put_ci_relations(web, [{"type": "Runs on", "target": esx}]) is True
    assert [item["target"] for item in backend.ci_relations([ids[web]], None, 1)] == [esx]


def test_a_relation_without_type_is_refused_naming_the_option(backend, prefix):
    backend.put_ci(f"{prefix}-web", "linux_server", {})
    with pytest.raises(ItsmValidationError) as raised:
        backend.put_ci_relations(f"{prefix}-web", [{"type": "", "target": "x"}])
    assert raised.value.details["option"] == "relations"


def test_relations_of_an_unknown_ci_are_refused(relations_backend, prefix):
    backend = relations_backend
    with pytest.raises(ItsmNotFoundError) as raised:
        backend.put_ci_relations(f"{prefix}-nowhere", [{"type": "Runs on", "target": "x"}])
    assert raised.value.details["option"] == "name"


def test_resolved_relations_are_written_once_the_ci_exists(relations_backend, prefix):
    backend = relations_backend
    web, esx = f"{prefix}-web", f"{prefix}-esx"
    backend.put_ci(esx, "linux_server", {})

    resolved = backend.resolve_ci_relations(web, [{"type": "Runs on", "target": esx}, {"type": "Runs on", "target": esx}])
    assert _mine(backend, prefix, filters={"name": web}) == []  # resolving writes nothing
    backend.put_ci(web, "linux_server", {})
    written = backend.put_ci_relations(web, resolved)

    assert resolved.wanted == [("Runs on", esx)]
    assert written is True
    [ci] = _mine(backend, prefix, filters={"name": web})
    assert [(item["type"], item["target"]) for item in backend.ci_relations([ci["id"]])] == [("Runs on", esx)]


@pytest.mark.parametrize("relation", [{"type": " ", "target": "x"}, {"type": "Runs on", "target": ""}])
def test_a_blank_relation_is_refused_before_the_ci_is_created(backend, prefix, relation):
    params = {"name": f"{prefix}-web", "ci_class": "linux_server", "fields": {"fqdn": "web.example.com"},
              "relations": [relation]}
    with pytest.raises(ItsmValidationError) as raised:
        configuration_item.run(params, backend, check_mode=False, warn=lambda text: None)
    assert raised.value.details["option"] == "relations"
    assert _mine(backend, prefix) == []


def test_affected_ci_ids_are_the_ids_iter_cmdb_gives(backend, prefix):
    for name in (f"{prefix}-web", f"{prefix}-db"):
        backend.put_ci(name, "linux_server", {})
    change = backend.set_affected_cis(backend.create("change", {"short_description": "patch"}), [f"{prefix}-web"])
    ids = {ci["name"]: ci["id"] for ci in _mine(backend, prefix)}

    affected = backend.affected_ci_ids(change)

    assert affected == [ids[f"{prefix}-web"]]
    assert [ci["name"] for ci in backend.iter_cmdb(filters={"id": affected})] == [f"{prefix}-web"]
