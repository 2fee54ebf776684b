# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (issue 14) over the two files a user writes: the freeze/blackout policy (_policy.py) and
the jsm backend's mapping (backends/jsm/mapping.py).

Generated documents (anything YAML can hold, and valid documents with one node replaced by an odd value) are
either built or refused with the collection's error naming the option (policy_data / policy / jsm_mapping) and
where in the document the problem is; a policy that is built also answers for any week without an error. Never
another exception.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.opsgate.itsm.plugins.module_utils import _policy as policy
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmSettingsError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import mapping

EXAMPLES = 150
ODD = ["", " ", "\x00", "24:00", "25:00", "00:60", "7:5", "2026-02-30", "2026-12-20T18:00", "2026-12-20T18:00+14:00",
       "Europe/Paris", "Mars/Olympus", "utc", "mon", "Sunday", "fri", 0, -1, 31, -31, 32, 1320, 2 ** 63, 10 ** 400,
       1.5, float("nan"), float("inf"), True, None, "8h", "0s", "-5m", "1d12h", "1e309", "99999999999d", [], {}, ["mon"],
       {"environments": ["prod"]}, "💥", "a" * 300]
SCALARS = st.one_of(st.sampled_from(ODD), st.text(max_size=12), st.integers(), st.floats(), st.booleans(), st.none())
ANY = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=8)

VALID_POLICY = {
    "version": 1, "timezone": "Europe/Paris",
    "windows": [
        {"name": "year end", "reason": "closing", "start": "2026-12-20", "end": "2027-01-03T08:00",
         "scope": {"environments": ["prod"], "ci_patterns": ["db*"], "change_types": ["normal"]}},
        {"name": "weekend", "weekly": {"days": ["sat", "sunday"], "start": "22:00", "end": "24:00"},
         "exempt_emergency": True},
        {"name": "month end", "timezone": "America/New_York", "monthly": {"days": [-1, 1, 31], "duration": "1d12h"}},
    ],
}
with open(mapping.DEFAULT_MAPPING, encoding="utf-8") as _handle:
    VALID_MAPPING = yaml.safe_load(_handle)


def _paths(node, prefix=()):
    """Every path (a tuple of keys and indexes) inside a document, the root included."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


def _replaced(document, path, value):
    changed = copy.deepcopy(document)
    if not path:
        return value
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


def mutated(document) -> st.SearchStrategy:
    """The document with one node (anywhere, the root included) replaced by an odd value, or left out."""
    paths = list(_paths(document))
    replaced = st.tuples(st.sampled_from(paths), ANY).map(lambda pair: _replaced(document, *pair))
    dropped = st.sampled_from([path for path in paths if path and isinstance(path[-1], str)]).map(
        lambda path: _dropped(document, path))
    return st.one_of(replaced, dropped)


def _dropped(document, path):
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return changed


def _built_policy_answers(built: policy.Policy) -> None:
    start = dt.datetime(2026, 3, 28, tzinfo=dt.timezone.utc)  # a week over a DST change in Europe
    for context in (policy.PolicyContext(), policy.PolicyContext("prod", ("db01",), "emergency")):
        built.occurrences(start, start + dt.timedelta(days=7), context)


@pytest.mark.parametrize("document", [VALID_POLICY])
def test_the_valid_policy_builds(document):
    _built_policy_answers(policy.build_policy(document, source="test"))


@settings(max_examples=EXAMPLES)
@given(document=st.one_of(ANY, mutated(VALID_POLICY)))
def test_policy_data_is_built_or_refused_naming_the_option(document):
    try:
        built = policy.build_policy(document, source="policy_data")
    except ItsmValidationError as refused:
        assert refused.details["option"] == "policy_data"
        assert refused.message.startswith("policy_data: ") and "Traceback" not in refused.message
        return
    _built_policy_answers(built)


@settings(max_examples=EXAMPLES // 3)
@given(text=st.one_of(st.text(max_size=200), mutated(VALID_POLICY).map(lambda doc: yaml.safe_dump(doc, width=1000))))
def test_a_policy_file_is_built_or_refused_naming_the_option(text, tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    try:
        built = policy.load_policy(str(path))
    except ItsmValidationError as refused:
        assert refused.details["option"] == "policy" and refused.message.startswith("policy: ")
        return
    _built_policy_answers(built)


@pytest.mark.parametrize("value", [10 ** 400, 2 ** 1100, "1e309", "inf", "nan", float("nan"), "99999999999d"])
def test_a_duration_too_long_for_a_date_is_refused_naming_the_option(value):
    """Found by the module property test (change_gate early_start / max_interval): OverflowError, a traceback."""
    with pytest.raises(ItsmValidationError) as refused:
        policy.parse_duration(value, "early_start")
    assert refused.value.details["option"] == "early_start"


def test_the_default_mapping_builds():
    assert mapping.build_mapping(VALID_MAPPING, "default").project == VALID_MAPPING["project"]


@settings(max_examples=EXAMPLES)
@given(document=st.one_of(ANY, mutated(VALID_MAPPING)))
def test_a_mapping_is_built_or_refused_naming_the_option(document):
    try:
        built = mapping.build_mapping(document, "mapping.yml")
    except ItsmSettingsError as refused:
        assert refused.details["option"] == mapping.OPTION
        assert refused.message.startswith(f"{mapping.OPTION}: ") and "Traceback" not in refused.message
        return
    for kind in ("change", "incident"):
        part = built.of(kind)
        for state, names in part.statuses.items():
            assert part.state_of({"name": names[0]}) == state
