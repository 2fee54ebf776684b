# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the CMDB inventory reads (plugin_utils/_inventory_source.py): its options and the change scope."""

import datetime as dt
from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmNotFoundError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory_source as source

DEFAULTS = dict(ci_class=None, fields=list(source.DEFAULT_FIELDS), filters={}, query=None,
                hostnames=list(source.DEFAULT_HOSTNAMES), ansible_host=["ip_address"], variable_prefix="cmdb_",
                group_prefix="cmdb_", default_groups=["class", "environment", "operational_status"],
                duplicate_hostnames="first", relations=None, page_size=1000, workers=4)


def options(**given):
    values = dict(DEFAULTS, **given)
    return source.InventoryOptions.from_options(values.__getitem__)


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
    found, ids = source.change_scope(local_backend, change["number"], None, True)
    assert found["number"] == change["number"]
    assert sorted(ids) == ["db01", "web01"]  # a local CI's id is its name
    assert source.change_scope(local_backend, None, "patch-1", True)[1] == ids


def test_the_change_scope_narrows_the_id_filter_and_keeps_the_users_name_filter():
    assert source.scoped_filters({"name": "web01", "environment": ["test"]}, ["b", "a"]) == {
        "name": "web01", "environment": ["test"], "id": ["a", "b"]}
    assert source.scoped_filters({"id": ["a", "c"]}, ["a", "b"]) == {"id": ["a"]}
    assert source.scoped_filters({"id": "c"}, ["a", "b"]) == {"id": []}


def test_change_scope_refuses_a_change_outside_its_window(local_backend):
    change = _approved_change(local_backend, _iso(2), _iso(3))
    with pytest.raises(ItsmConflictError, match=f"change: {change['number']} did not pass the change gate: window"):
        source.change_scope(local_backend, change["number"], None, True)
    assert source.change_scope(local_backend, change["number"], None, False)[1] == ["web01"]


def test_change_scope_refuses_an_unapproved_change(local_backend):
    change = local_backend.create("change", {"short_description": "x", "configuration_items": ["web01"]})
    with pytest.raises(ItsmConflictError, match="approval"):
        source.change_scope(local_backend, change["number"], None, True)


def test_change_scope_of_an_unknown_change(local_backend):
    with pytest.raises(ItsmNotFoundError, match="change_correlation_id: no change 'nope'"):
        source.change_scope(local_backend, None, "nope", True)


@pytest.mark.parametrize("number, correlation_id, required, key, include", [
    ("CHG0000003", None, False, dict(number="CHG0000003"), {"cis"}),
    (None, "patch-1", False, dict(correlation_id="patch-1", open_only=True), {"cis"}),
    (None, "patch-1", True, dict(correlation_id="patch-1", open_only=True), {"cis", "approvals"}),
])
def test_the_change_scope_is_one_look_up_declaring_the_cis_and_the_approvals_it_checks(
        number, correlation_id, required, key, include):
    change = dict(id="c3", number="CHG0000003", state="new", type="normal", approval="not_requested")
    backend = mock.create_autospec(ItsmBackend, instance=True)
    backend.lookup.return_value = LookupResult(change, approvals=[] if required else None, ci_ids=["ci-1", "ci-2"])

    if required:
        with pytest.raises(ItsmConflictError, match="approval"):  # the approvals read with it are checked
            source.change_scope(backend, number, correlation_id, required)
    else:
        assert source.change_scope(backend, number, correlation_id, required) == (change, ["ci-1", "ci-2"])

    assert backend.method_calls == [mock.call.lookup("change", **key, include=include)]
