# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A controller without jsonschema gets ansible's usual "missing library" message, not a traceback."""

from __future__ import annotations

import sys

import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmUnavailableError
from ansible_collections.opsgate.itsm.plugins.module_utils._policy import build_policy

POLICY = {"windows": [{"name": "year-end", "start": "2026-12-20T00:00:00Z", "end": "2027-01-03T00:00:00Z"}]}


def test_a_valid_policy_builds_when_jsonschema_is_installed():
    assert [window.name for window in build_policy(POLICY, source="inline").windows] == ["year-end"]


def test_missing_jsonschema_library_is_reported_with_ansibles_wording(monkeypatch):
    # None in sys.modules makes `import jsonschema` raise ImportError, as on a controller without it.
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ItsmUnavailableError) as caught:
        build_policy(POLICY, source="inline")
    assert str(caught.value).startswith("policy: " + missing_required_lib("jsonschema"))
    assert caught.value.details["option"] == "policy"
