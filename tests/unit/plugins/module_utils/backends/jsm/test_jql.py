# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JQL quoting (backends/jsm/jql.py): the hostile-value table, as text and as searches on the simulator."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import jql

from .conftest import create_issues, new_label

# value -> the literal it must become: quotes and backslashes escaped, everything else inside the quotes as is
HOSTILE = [
    ('x" OR project = ITSM OR summary ~ "', r'"x\" OR project = ITSM OR summary ~ \""'),
    ("\\", r'"\\"'),
    ('a\\" OR 1=1 OR key != "', r'"a\\\" OR 1=1 OR key != \""'),
    ('"', r'"\""'),
    (") OR (project = ITSM", '") OR (project = ITSM"'),
    ("ITSM-1, ITSM-2", '"ITSM-1, ITSM-2"'),
    ("it's", '"it\'s"'),
    ("' OR '1'='1", "\"' OR '1'='1\""),
    ("50% * ? ~ [x]", '"50% * ? ~ [x]"'),
    ("ORDER BY created", '"ORDER BY created"'),
    ("héllo wörld ☃", '"héllo wörld ☃"'),
    ("\\u0022", r'"\\u0022"'),
]
CONTROL = ["a\nb", "a\rb", "tab\there", "nul\x00", "esc\x1b[0m", "del\x7f", "line\u2028sep", "para\u2029sep",
           "\x85next-line"]


@pytest.mark.parametrize("value, literal", HOSTILE)
def test_quote_escapes_quotes_and_backslashes_only(value, literal):
    assert jql.quote(value, "correlation_id") == literal


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_are_refused_naming_the_option(value):
    with pytest.raises(ItsmValidationError) as error:
        jql.quote(value, "correlation_id")
    assert error.value.details["option"] == "correlation_id"
    assert "control characters" in error.value.message


@pytest.mark.parametrize("value", [None, True, 1.5, ["a"], {"a": 1}])
def test_values_that_are_not_text_or_integers_are_refused(value):
    with pytest.raises(ItsmValidationError, match="number: .* expected text or a number"):
        jql.quote(value, "number")


def test_in_list_quotes_each_value_and_refuses_an_empty_list():
    assert jql.one_of("key", ["ITSM-1", 'x") OR ("'], "number") == 'key IN ("ITSM-1", "x\\") OR (\\"")'
    with pytest.raises(ItsmValidationError, match="at least one value"):
        jql.quote_list([], "number")


def test_field_and_property_names_are_checked_not_quoted():
    assert jql.clause_name("customfield_10050") == "cf[10050]"
    assert jql.clause_name("status") == "status"
    assert jql.property_clause("opsgate", "correlation_id") == "issue.property[opsgate].correlation_id"
    for bad in ("status OR 1", "cf[1] x", 'a"'):
        with pytest.raises(ItsmValidationError):
            jql.clause_name(bad)
    with pytest.raises(ItsmValidationError):
        jql.property_clause("key] OR x = [y")
    with pytest.raises(ItsmValidationError):
        jql.property_clause("opsgate", "a OR b")


def test_compare_quotes_its_value_and_takes_only_comparisons():
    assert jql.compare("key", ">=", "ITSM-12", "number") == 'key >= "ITSM-12"'
    assert jql.compare("key", "<", 'x" OR key > "A-1', "number") == 'key < "x\\" OR key > \\"A-1"'
    with pytest.raises(ValueError):
        jql.compare("key", "= 1 OR key", "ITSM-1", "number")


def test_all_of_keeps_an_or_inside_its_own_condition():
    assert jql.all_of("a = 1 OR b = 2", "", "c = 3") == "(a = 1 OR b = 2) AND (c = 3)"


def test_a_hostile_value_finds_exactly_the_issue_holding_it(jsm, client):
    """Each hostile value is an issue's correlation id property: searching by it finds that issue and no other
    of the run (a widened query would find them all, an over-escaped one none)."""
    label = new_label()
    values = [value for value, _literal in HOSTILE]
    made = create_issues(client, len(values), label,
                         properties=lambda index: {"opsgate": {"correlation_id": values[index]}})
    ids = [issue["id"] for issue in made]
    prop = jql.property_clause("opsgate", "correlation_id")
    for value, issue in zip(values, made):
        query = jql.all_of(jql.equals("labels", label, "label"), jql.equals(prop, value, "correlation_id"))
        found = [item["key"] for item in client.search(query, fields=["summary"], reconcile=ids)]
        assert found == [issue["key"]], (value, query)
