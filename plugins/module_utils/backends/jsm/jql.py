# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JQL (and AQL) text of the jsm backend: values quoted so that they can never widen a query.
FOR INTERNAL COLLECTION USE ONLY.

Pure functions. Every value a query compares with is a double-quoted string literal: a backslash and a
double quote are escaped, and a control character (or a Unicode line or paragraph separator) is refused
naming the option, since no name, number or correlation id holds one and a parser may end a token there.
Inside quotes the operators, keywords and parentheses of JQL are plain text, so ``x" OR project = "Y``
stays one value. Quoted values are for ``=``, ``!=`` and ``IN``: ``~`` is a text search whose own syntax
(wildcards) these functions do not neutralise. Field and property names come from the mapping or the
site's field list, never from a task, and are checked against a strict pattern all the same.
"""

from __future__ import annotations

import re
import typing as t
import unicodedata

from ..._errors import ItsmValidationError

# Jira's custom field ids, and a JQL clause name the backend may write bare (system fields, cf[N]).
_CUSTOM_ID = re.compile(r"^customfield_([0-9]+)$")
_BARE_CLAUSE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9_]*|cf\[[0-9]+\])$")
# An entity property key and the path inside its JSON value (issue.property[key].path).
_PROPERTY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_PROPERTY_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_REFUSED_CATEGORIES = ("Cc", "Zl", "Zp")
ALLOWED = "expected text without control characters (line breaks, tabs, NUL)"


def check_text(value: t.Any, option: str) -> str:
    """``value`` as text fit for a query: a string or an integer, no control character."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ItsmValidationError(option, value, "expected text or a number")
    text = str(value)
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in text):
        raise ItsmValidationError(option, value, ALLOWED)
    return text


def quote(value: t.Any, option: str) -> str:
    """A JQL string literal holding exactly ``value``: ``"..."`` with ``\\`` and ``"`` escaped."""
    text = check_text(value, option)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_list(values: t.Iterable[t.Any], option: str) -> str:
    """``("a", "b")`` for ``IN``; an empty list is refused (``IN ()`` is a syntax error, not "nothing")."""
    quoted = [quote(value, option) for value in values]
    if not quoted:
        raise ItsmValidationError(option, [], "expected at least one value")
    return "(" + ", ".join(quoted) + ")"


def clause_name(field_id: str) -> str:
    """How JQL names a field the site listed: ``cf[10050]`` for ``customfield_10050``, a system id as it is."""
    match = _CUSTOM_ID.match(field_id)
    if match:
        return f"cf[{match.group(1)}]"
    if not _BARE_CLAUSE.match(field_id):
        raise ItsmValidationError("mapping", field_id, "expected a Jira field id (customfield_N or a system id)")
    return field_id


def property_clause(key: str, path: str = "") -> str:
    """``issue.property[key].path``: an issue property (and a path in its JSON value) as a JQL field."""
    if not _PROPERTY_KEY.match(key):
        raise ItsmValidationError("mapping", key, "expected a property key of letters, digits, '.', '_' or '-'")
    if path and not _PROPERTY_PATH.match(path):
        raise ItsmValidationError("mapping", path, "expected a property path of dotted identifiers")
    return f"issue.property[{key}]" + (f".{path}" if path else "")


def equals(field: str, value: t.Any, option: str) -> str:
    """``field = "value"`` with ``field`` an already checked clause name."""
    return f"{field} = {quote(value, option)}"


def compare(field: str, operator: str, value: t.Any, option: str) -> str:
    """``field < "value"`` (or ``<=``, ``>``, ``>=``): on ``key``, Jira compares a project's keys by number."""
    if operator not in ("<", "<=", ">", ">="):
        raise ValueError(f"not a JQL comparison: {operator!r}")
    return f"{field} {operator} {quote(value, option)}"


def one_of(field: str, values: t.Iterable[t.Any], option: str) -> str:
    """``field IN ("a", "b")``."""
    return f"{field} IN {quote_list(values, option)}"


def all_of(*conditions: str) -> str:
    """The conditions ANDed, each in parentheses so an OR inside one cannot escape it."""
    kept = [condition for condition in conditions if condition]
    return " AND ".join(f"({condition})" for condition in kept)
