"""run() of configuration_item against a real local store."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils.runners import configuration_item


def test_check_mode_reports_a_new_ci_without_writing(task):
    result = task(configuration_item, check_mode=True, name="web01", ci_class="linux_server",
                  fields={"fqdn": "web01.example.com"})
    assert result["changed"] is True
    assert result["diff"]["before"] == {}
    assert list(task.backend.iter_cmdb()) == []


def _targets(task, *names):
    """The CIs relationships point at: a target must be a CI of the store, as on ServiceNow (issue 16)."""
    for name in names:
        task(configuration_item, name=name, ci_class="esx_server" if name.startswith("esx") else "linux_server")


def test_create_then_rerun_is_idempotent(task):
    _targets(task, "esx01")
    args = dict(name="web01", ci_class="linux_server", fields={"fqdn": "web01.example.com"},
                relations=[{"type": "Runs on", "target": "esx01"}])
    first = task(configuration_item, **args)
    again = task(configuration_item, **args)
    assert first["changed"] is True and again["changed"] is False
    assert again["record"] == {"name": "web01", "ci_class": "linux_server", "fields": {"fqdn": "web01.example.com"},
                               "relations": [{"type": "Runs on", "target": "esx01"}]}
    assert again["diff"]["before"] == again["diff"]["after"]


def test_update_changes_only_the_given_fields_and_null_removes_one(task):
    task(configuration_item, name="web01", ci_class="linux_server",
         fields={"fqdn": "a", "ip_address": "10.0.0.1", "rack": "r1"})
    result = task(configuration_item, name="web01", fields={"ip_address": "10.0.0.2", "rack": None})
    assert result["changed"] is True
    [stored] = task.backend.iter_cmdb()
    assert stored["ci_class"] == "linux_server"
    assert stored["fields"] == {"fqdn": "a", "ip_address": "10.0.0.2"}
    assert result["diff"]["before"]["fields"]["ip_address"] == "10.0.0.1"


def test_relations_are_replaced_exactly(task):
    _targets(task, "esx01", "db01")
    task(configuration_item, name="web01", relations=[{"type": "Runs on", "target": "esx01"}])
    result = task(configuration_item, name="web01", relations=[{"type": "Depends on", "target": "db01"}])
    assert result["changed"] is True
    assert result["diff"]["before"]["relations"] == [{"type": "Runs on", "target": "esx01"}]
    assert [(r["type"], r["target"]) for r in task.backend.ci_relations(["web01"])] == [("Depends on", "db01")]


def test_a_relation_without_a_target_is_refused_by_the_argument_spec(task):
    with pytest.raises(ValueError, match="target"):
        task(configuration_item, name="web01", relations=[{"type": "Runs on"}])


def test_a_ci_an_older_store_gave_any_class_is_still_updated_without_a_class(task):
    conn = task.backend.store.connection(create=True)
    with conn:
        conn.execute("INSERT INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, ?, ?)",
                     ("web01", "Linux Server", "{}", "2026-01-01T00:00:00Z"))  # no class name since issue 16

    result = task(configuration_item, name="web01", fields={"fqdn": "web01.example.com"})

    assert result["changed"] is True and result["record"]["ci_class"] == "Linux Server"
    assert [ci["fields"] for ci in task.backend.iter_cmdb()] == [{"fqdn": "web01.example.com"}]
