# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical input (_input): the checks every backend makes alike, before it asks its system anything."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _input as inputs
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmNotFoundError, ItsmValidationError


def _refused(call, *args, **kwargs) -> ItsmValidationError:
    with pytest.raises(ItsmValidationError) as raised:
        call(*args, **kwargs)
    return raised.value


# -- values a backend puts in a query ---------------------------------------------------------------

@pytest.mark.parametrize("value", ["ops^x", "ops\n", "a\tb", "nul\x00", "del\x7f", "c1\x85"])
def test_query_text_refuses_a_caret_or_a_control_character_naming_the_option(value):
    error = _refused(inputs.query_text, "assignment_group", value)

    assert str(error) == f"assignment_group: {value!r} is not valid; expected text without ^ or control characters"
    assert error.details["option"] == "assignment_group"


@pytest.mark.parametrize("value, text", [("Platform Operations", "Platform Operations"), ("tech.lead", "tech.lead"),
                                         ("Zürich-01", "Zürich-01"), (7, "7")])
def test_query_text_takes_any_other_text(value, text):
    assert inputs.query_text("caller", value) == text


@pytest.mark.parametrize("value", ["x" * 100, "a", "ansible-failure-0123456789abcdef01234567", 42])
def test_a_correlation_id_of_1_to_100_plain_characters_is_taken(value):
    assert inputs.require_correlation_id(value) == str(value)


@pytest.mark.parametrize("value", ["x" * 101, "", "a^b", "a\nb", None, ["a"]])
def test_a_correlation_id_that_a_servicenow_column_cannot_hold_is_refused(value):
    error = _refused(inputs.require_correlation_id, value)

    assert error.message.endswith("is not valid; expected text without ^ or control characters, up to 100 characters")
    assert error.details["option"] == "correlation_id"


@pytest.mark.parametrize("keys, option", [({"number": "CHG^1"}, "number"), ({"id": "a\nb"}, "id"),
                                          ({"correlation_id": "x" * 101}, "correlation_id"),
                                          ({"number": "CHG1", "correlation_id": "a^b"}, "correlation_id")])
def test_look_up_keys_are_refused_naming_the_key(keys, option):
    assert _refused(inputs.lookup_keys, **keys).details["option"] == option


def test_look_up_keys_left_out_are_not_checked():
    inputs.lookup_keys(None, None, None)
    inputs.lookup_keys(number="CHG0000001", correlation_id="deploy-42")


@pytest.mark.parametrize("filters, option", [
    ({"number": ["CHG1", "CHG^2"]}, "number"),
    ({"assignment_group": "ops^x"}, "assignment_group"),
    ({"configuration_item": "web\n01"}, "configuration_item"),
    ({"caused_by": "CHG^1"}, "caused_by"),
    ({"correlation_id": "x" * 101}, "correlation_id"),
])
def test_find_filters_that_name_records_are_refused_naming_the_filter(filters, option):
    assert _refused(inputs.query_filters, filters).details["option"] == option


def test_find_filters_of_choices_dates_and_flags_are_left_to_the_backend():
    inputs.query_filters({"state": ["new", "assess"], "active": True, "opened_after": "2026-01-01T00:00:00Z",
                          "number": None, "assignment_group": "ops", "unknown": "a^b"})


@pytest.mark.parametrize("fields, option", [
    ({"correlation_id": "a^b"}, "correlation_id"),
    ({"correlation_id": "x" * 101}, "correlation_id"),
    ({"assignment_group": "ops^x"}, "assignment_group"),
    ({"assigned_to": "a\nb"}, "assigned_to"),
    ({"caller": "a^b"}, "caller"),
    ({"configuration_item": "web^01"}, "configuration_item"),
    ({"caused_by": "CHG^1"}, "caused_by"),
])
def test_parse_input_refuses_query_values_naming_the_field(fields, option):
    kind = "change" if option in ("assigned_to",) else "incident"
    assert _refused(inputs.parse_input, kind, fields, creating=True).details["option"] == option


def test_parse_input_keeps_free_text_with_carets_and_newlines():
    parsed = inputs.parse_input("incident", {"short_description": "a ^ b", "description": "one\ntwo",
                                             "close_notes": "x^y", "correlation_id": "deploy-42"})

    assert parsed.values == {"short_description": "a ^ b", "description": "one\ntwo", "close_notes": "x^y",
                             "correlation_id": "deploy-42"}


def test_parse_input_refuses_a_template_or_a_ci_name_with_a_caret():
    assert _refused(inputs.parse_input, "change", {"template": "a^b"}, creating=True).details["option"] == "template"
    assert _refused(inputs.parse_input, "change", {"configuration_items": ["web01", "db^01"]}).details["option"] == \
        "configuration_items"


def test_ci_names_are_trimmed_sorted_and_distinct():
    assert inputs.ci_names([" web02", "web01", "web02 "]) == ["web01", "web02"]
    assert inputs.ci_names("web01") == ["web01"]


# -- the CMDB --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, canonical", [("linux_server", "linux_server"),
                                              ("cmdb_ci_linux_server", "linux_server"),
                                              ("cmdb_ci", "cmdb_ci"), ("server2", "server2")])
def test_a_ci_class_is_a_class_or_its_table(given, canonical):
    assert inputs.ci_class(given) == canonical


@pytest.mark.parametrize("given", ["Linux Server!", "Linux Server", "linux-server", "cmdb_ci_", "", None, 5, "Server"])
def test_a_ci_class_that_names_no_table_is_refused_naming_the_option(given):
    error = _refused(inputs.ci_class, given, "filters.ci_class")

    assert str(error) == (f"filters.ci_class: {given!r} is not valid; expected a class such as linux_server or a CI "
                          "table such as cmdb_ci_linux_server (lower-case letters, digits and underscores)")


@pytest.mark.parametrize("given", ["", " ", None, "web^01", "web\n01"])
def test_a_ci_name_is_text_a_query_can_hold(given):
    assert _refused(inputs.ci_name, given).details["option"] == "name"


def test_cmdb_filters_make_the_class_canonical_and_check_names_and_values():
    assert inputs.cmdb_filters({"ci_class": ["cmdb_ci_linux_server", "server"], "environment": "production",
                                "cpu_count": 4}) == {"ci_class": ["linux_server", "server"],
                                                     "environment": "production", "cpu_count": 4}
    assert inputs.cmdb_filters(None) == {}
    assert _refused(inputs.cmdb_filters, {"a b": "x"}).details["option"] == "filters"
    assert _refused(inputs.cmdb_filters, {"location.name": ["Paris", "Lon^don"]}).details["option"] == \
        "filters.location.name"


@pytest.mark.parametrize("given", ["Runs on::Runs", "Runs^on", "Runs\non", "", "  ", None])
def test_a_relation_type_is_a_parent_descriptor(given):
    error = _refused(inputs.relation_type, "relations", given)

    assert error.message.endswith("is not valid; expected a relationship type's parent descriptor, such as Runs on")


def test_relation_list_is_checked_sorted_and_distinct():
    given = [{"type": "Runs on ", "target": "esx01"}, {"type": "Depends on", "target": " db01"},
             {"type": "Runs on", "target": "esx01"}]

    assert inputs.relation_list(given) == [("Depends on", "db01"), ("Runs on", "esx01")]
    assert inputs.relation_list([]) == []


@pytest.mark.parametrize("given, says", [
    ("Runs on", "expected a list of {type, target}"),
    ([{"type": "Runs on"}], "expected {type, target} with non-empty text"),
    ([{"type": "Runs on", "target": ""}], "expected {type, target} with non-empty text"),
    ([{"type": "Runs on", "target": "esx01", "depth": 1}], "expected {type, target} with non-empty text"),
    ([{"type": "Runs on::Runs", "target": "esx01"}], "expected a relationship type's parent descriptor"),
    ([{"type": "Runs on", "target": "esx^01"}], "expected text without ^ or control characters"),
])
def test_relation_list_refuses_naming_relations(given, says):
    error = _refused(inputs.relation_list, given)

    assert error.details["option"] == "relations" and says in error.message


# -- templates and approvals -----------------------------------------------------------------------------------

def test_template_fields_are_what_describes_the_work():
    assert set(inputs.TEMPLATE_FIELDS) == {"short_description", "description", "implementation_plan", "backout_plan",
                                           "test_plan", "justification", "risk", "impact", "assignment_group",
                                           "assigned_to", "requested_by"}
    assert inputs.template_fields({"risk": "low", "assignment_group": "Platform"}) == {"risk": "low",
                                                                                       "assignment_group": "Platform"}


@pytest.mark.parametrize("field", ["type", "correlation_id", "close_code", "close_notes", "start_date", "end_date",
                                   "work_notes", "configuration_items"])
def test_template_fields_refuse_identity_outcome_and_schedule_naming_values(field):
    error = _refused(inputs.template_fields, {field: "x"})

    assert error.details["option"] == f"values.{field}"
    assert "not a field a template can set; expected one of: short_description," in error.message


def test_template_fields_check_values_as_a_change_does():
    assert _refused(inputs.template_fields, {"risk": "extreme"}).details["option"] == "risk"
    assert _refused(inputs.template_fields, ["risk"]).details["option"] == "values"


@pytest.mark.parametrize("approver, decision, comments, option", [
    ("tech.lead", "maybe", None, "decision"),
    ("", "approved", None, "approver"),
    (None, "approved", None, "approver"),
    ("tech^lead", "approved", None, "approver"),
    ("tech.lead", "rejected", None, "comments"),
])
def test_approval_decisions_are_checked_once_for_every_backend(approver, decision, comments, option):
    assert _refused(inputs.approval_decision, approver, decision, comments).details["option"] == option


def test_an_approval_decision_with_what_it_needs_passes():
    inputs.approval_decision("tech.lead", "approved", None)
    inputs.approval_decision("tech.lead", "rejected", "not in the freeze")


# -- what only the system can tell, in the same words ----------------------------------------------------------

def test_unknown_names_read_the_same_on_every_backend():
    error = inputs.unknown_name("configuration_item", "https://example.service-now.com", "configuration item", "web9")

    assert isinstance(error, ItsmNotFoundError)
    assert str(error) == "configuration_item: https://example.service-now.com has no configuration item named 'web9'"
    assert (error.details["option"], error.details["value"]) == ("configuration_item", "web9")


def test_an_unknown_relation_type_says_what_a_task_names():
    error = inputs.unknown_relation_type("local_db /tmp/itsm.sqlite", "Hovers over")

    assert str(error) == ("relations: local_db /tmp/itsm.sqlite has no relationship type whose parent descriptor is "
                          "'Hovers over' (the part before :: of a name such as Runs on::Runs)")
    assert error.details["option"] == "relations"


def test_a_class_change_is_refused_naming_ci_class():
    error = inputs.class_kept("local", "web01", "linux_server", "win_server")

    assert str(error) == ("ci_class: 'win_server' is not valid; web01 is a linux_server and the local backend does not "
                          "change a CI's class; leave ci_class out or use the class it has")
