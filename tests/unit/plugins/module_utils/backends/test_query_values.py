# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smaller query defects (issue 14, item 11) on every backend: a number is one value, and a comma is a legal
character of a CI name.

A number never holds a comma on any backend (``CHG0000001``, ``INC0000001``, a Jira key ``ITSM-12``), while
ServiceNow's ``numberIN`` would split ``INC1,INC2`` into two: refused, naming the option. A CI name may hold one on
every backend (ServiceNow, Assets and the local store all allow it), so ``web,01`` is looked up as one name.
"""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident_info

ONE_NUMBER = "is not valid; expected one record number without commas (a comma would make it a list of several)"


def test_a_number_with_a_comma_is_refused_not_split_into_two_records(backend):
    first = backend.create("incident", {"short_description": "first"})
    second = backend.create("incident", {"short_description": "second"})
    both = f"{first['number']},{second['number']}"

    with pytest.raises(ItsmValidationError) as listed:
        incident_info.run({"number": both, "limit": 10}, backend, False, lambda text: None)
    with pytest.raises(ItsmValidationError) as looked_up:
        backend.get("incident", number=both)

    assert str(listed.value) == str(looked_up.value) == f"number: {both!r} {ONE_NUMBER}"


def test_a_ci_name_with_a_comma_is_one_name(backend):
    name = f"web,{uuid.uuid4().hex[:6]}"
    backend.put_ci(name, "linux_server", {})

    change = backend.create("change", {"short_description": "comma CI", "configuration_items": [name, "web01"]})
    incident = backend.create("incident", {"short_description": "comma CI", "configuration_item": name})

    assert sorted(backend.affected_cis(backend.get("change", id=change["id"]))) == sorted([name, "web01"])
    assert backend.get("incident", id=incident["id"])["configuration_item"] == name
    assert [record["id"] for record in backend.find("incident", {"configuration_item": name})] == [incident["id"]]
    assert [ci["name"] for ci in backend.iter_cmdb(filters={"name": [name, "no-such-ci"]})] == [name]


# -- a list of correlation ids (issue 17: the change_events source reads every watched id in one find) ------------

def test_a_list_of_correlation_ids_finds_every_holder_of_any_of_them_in_one_find(backend):
    prefix = uuid.uuid4().hex[:8]
    ids = [f"{prefix}-a", f"{prefix}-b", f'{prefix}-"quoted" OR x']
    first = backend.create("change", {"short_description": "a", "correlation_id": ids[0]})
    backend.transition("change", first, "canceled")
    again = backend.create("change", {"short_description": "a again", "correlation_id": ids[0]})
    other = backend.create("change", {"short_description": "b", "correlation_id": ids[1],
                                      "configuration_items": ["web01"]})
    quoted = backend.create("change", {"short_description": "quoted", "correlation_id": ids[2]})
    backend.create("change", {"short_description": "not watched", "correlation_id": f"{prefix}-c"})

    found = list(backend.find("change", {"correlation_id": ids + [f"{prefix}-none"]}))

    assert [record["id"] for record in found] == [first["id"], again["id"], other["id"], quoted["id"]]  # oldest first
    assert [record["configuration_items"] for record in found] == [[], [], ["web01"], []]  # read in the same find
    assert [record["id"] for record in backend.find("change", {"correlation_id": [ids[1]]})] == [other["id"]]
    assert [record["id"] for record in backend.find("change", {"correlation_id": ids[1]})] == [other["id"]]


@pytest.mark.parametrize("value, allowed", [
    ("a,b", "without commas in a list"),
    ("a^ORnumber!=x", "without ^ or control characters"),
])
def test_a_correlation_id_list_refuses_a_value_that_would_widen_the_query_naming_it(backend, value, allowed):
    with pytest.raises(ItsmValidationError) as refused:
        list(backend.find("change", {"correlation_id": ["fine", value]}))
    assert refused.value.details["option"] == "correlation_id" and allowed in str(refused.value)
