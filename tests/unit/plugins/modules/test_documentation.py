"""Each module's DOCUMENTATION (fragments merged) says exactly what its argument spec enforces.

validate-modules cannot see the argument spec of an action-plugin module, so this test does.
"""

import os

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils._records import CHANGE_FIELDS, INCIDENT_FIELDS, PROBLEM_FIELDS
from ansible_collections.opsgate.itsm.plugins.module_utils import runners

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py"))
ATTRIBUTES = ("type", "choices", "default", "required", "no_log", "elements")


def _runner(name):
    return __import__(f"{runners.__name__}.{name}", fromlist=["ARGUMENT_SPEC"])


@pytest.fixture(scope="module")
def docs(ansible_doc):
    return ansible_doc(*(f"opsgate.itsm.{name}" for name in MODULES))


def _normalised(option):
    entry = {key: option.get(key) for key in ATTRIBUTES}
    entry["type"] = entry["type"] or "str"
    entry["required"] = bool(entry["required"])
    entry["no_log"] = bool(entry["no_log"])
    if entry["type"] != "list":
        entry["elements"] = None
    return entry


def _documented(option):
    # ansible-doc does not show no_log; the docs carry it through the description of secrets.
    entry = _normalised(option)
    entry.pop("no_log")
    return entry


@pytest.mark.parametrize("module", MODULES)
def test_every_option_is_documented_as_specified(docs, module):
    spec = dict(connection_argument_spec(), **_runner(module).ARGUMENT_SPEC)
    documented = docs[f"opsgate.itsm.{module}"]["doc"]["options"]
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        expected = _normalised(option)
        expected.pop("no_log")
        assert _documented(documented[name]) == expected, f"{module}.{name}"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_an_action_plugin_and_examples(docs, module):
    assert os.path.isfile(os.path.join(ROOT, "plugins", "action", f"{module}.py"))
    assert docs[f"opsgate.itsm.{module}"]["examples"].strip()
    assert docs[f"opsgate.itsm.{module}"]["return"]


def test_action_group_lists_every_module():
    import yaml
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as stream:
        runtime = yaml.safe_load(stream)
    assert runtime["action_groups"]["itsm"] == MODULES


@pytest.mark.parametrize("module, fields", [("change_request", CHANGE_FIELDS), ("incident", INCIDENT_FIELDS),
                                            ("problem", PROBLEM_FIELDS)])
def test_the_returned_record_documents_every_canonical_field(docs, module, fields):
    documented = docs[f"opsgate.itsm.{module}"]["return"]["record"]["contains"]
    assert sorted(documented) == sorted(fields)
