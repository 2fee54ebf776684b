# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests (issue 14) over every module's options, through the module's own action plugin.

Each example takes a task that succeeds (the module's baseline, on a real local store) and gives one of its
options (its own or a connection option; every runner's ARGUMENT_SPEC plus the connection table) a generated
value of the wrong type, odd or huge, or leaves a required one out. The action plugin runs as a task would run it
(core's argument validation, the collection's own checks, the runner, the local backend). Whatever the value, the
task returns a result and never raises (no traceback); a failed result's message names the option given the odd
value. An accepted value is fine: only the way a refusal is said is under test here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import types
import typing as t
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.opsgate.itsm.plugins import action as action_plugins
from ansible_collections.opsgate.itsm.plugins.module_utils import runners
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend

#: examples per option: every option of every module, about 200, each with this many values (CI: < 30 s)
EXAMPLES = 25
#: every module: its action plugin (the entry point) over its runner, found on disk so that a new module is covered
#: by this file or fails test_every_module_has_a_baseline
MODULES = sorted(name for _finder, name, _pkg in pkgutil.iter_modules(action_plugins.__path__)
                 if hasattr(importlib.import_module(f"{runners.__name__}.{name}"), "ARGUMENT_SPEC"))
#: options whose value is a path: generated inside the test's scratch directory, never anywhere on the machine
PATH_OPTIONS = {"local_db", "path", "policy", "ca_path", "jsm_mapping", "client_cert", "client_key"}
#: options a generated value must not turn on: a waiting gate would wait for its wait_timeout (an hour by default)
NOT_TURNED_ON = {"wait"}

ODD_TEXT = ["", " ", "\x00", "\n", "\t", "^", "^ORnumber!=x", "javascript:gs.getUserName()", " JavaScript:x", "%", "_",
            "\"", "'", "\\", "a,b", "é", "💥", "\u2028", "\ud7ff", "a" * 5000, "None", "null", "yes", "no", "[1, 2]",
            "{a: 1}", "-1", "0", "1e309", "nan", "inf", "1h", "-5m", "2026-13-45T99:99:99Z", "{{ lookup('env', 'HOME') }}"]
HUGE = [2 ** 31, 2 ** 63, 10 ** 40, -(2 ** 63) - 1, 10 ** 400]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.sampled_from(HUGE),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_TEXT), st.text(max_size=20),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(ODD_TEXT)), inner,
                                                 max_size=3)), max_leaves=6)


class Store:
    """A local store under a scratch directory, and the records the baselines name."""

    def __init__(self, root: str):
        self.root = root
        self.db = os.path.join(root, "itsm.sqlite")
        self.backend = LocalBackend(ConnectionSettings(local_db=self.db, username="tester"))
        self.change = self.backend.create("change", {"short_description": "gated", "type": "standard"})
        self.backend.put_ci("web01", "linux_server", {})

    def awaiting_approval(self) -> str:
        change = self.backend.create("change", {"short_description": "to approve"})
        return self.backend.transition("change", change, "assess", {"assignment_group": "ops"})["number"]


def _unique() -> str:
    return uuid.uuid4().hex[:8]


# module -> the arguments of a task that succeeds on the store (a fresh record where a run would use one up)
BASELINES: dict[str, t.Callable[[Store], dict[str, t.Any]]] = {
    "attachment": lambda store: {"number": store.change["number"]},
    "change_approval": lambda store: {"number": store.awaiting_approval(), "decision": "approved",
                                      "approver": "tech.lead"},
    "change_gate": lambda store: {"number": store.change["number"], "checks": ["state"], "allowed_states": ["new"]},
    "change_request": lambda store: {"correlation_id": f"prop-{_unique()}", "short_description": "generated"},
    "change_request_info": lambda store: {"limit": 5},
    "change_template": lambda store: {"name": "prop-template", "values": {"short_description": "generated"}},
    "configuration_item": lambda store: {"name": "web01", "ci_class": "linux_server"},
    "incident": lambda store: {"correlation_id": f"prop-{_unique()}", "short_description": "generated"},
    "incident_info": lambda store: {"limit": 5},
    "outbox": lambda store: {"action": "list", "path": os.path.join(store.root, "outbox.sqlite")},
    "problem": lambda store: {"correlation_id": f"prop-{_unique()}", "short_description": "generated"},
    "problem_info": lambda store: {"limit": 5},
}


def run_task(module: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
    """The module's action plugin run on ``args`` as ansible-playbook runs it on the controller."""
    action = importlib.import_module(f"ansible_collections.opsgate.itsm.plugins.action.{module}")
    task = types.SimpleNamespace(args=args, check_mode=False, async_val=0, action=f"opsgate.itsm.{module}")
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="unused"))
    return action.ActionModule(task, connection, None, None, None, None).run(task_vars={})


def options_of(module: str) -> dict[str, dict[str, t.Any]]:
    runner = importlib.import_module(f"{runners.__name__}.{module}")
    return dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)


def _named(result: t.Mapping[str, t.Any], option: str) -> bool:
    return result.get("option") == option or option in str(result.get("msg", ""))


def _elsewhere(option: str, value: t.Any) -> bool:
    """A usable local_db elsewhere (or left out: the default one) is another (empty) store: the baseline's record is not there, which the task
    says naming the option that names the record."""
    return option == "local_db" and (not value or isinstance(value, str))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> t.Iterator[dict[str, Store]]:
    made: dict[str, Store] = {}

    def store(module: str) -> Store:
        if module not in made:
            made[module] = Store(str(tmp_path_factory.mktemp(f"prop-{module}")))
        return made[module]

    yield store
    for each in made.values():
        each.backend.close()


@pytest.fixture(autouse=True)
def _no_itsm_environment(monkeypatch, tmp_path_factory):
    """The task's options only: no ITSM_* setting of the shell running the tests, and a default store (local_db
    left out) in a scratch Ansible home, never the user's."""
    for name in list(os.environ):
        if name.startswith("ITSM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path_factory.mktemp("ansible-home")))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # a relative path a task is given lands here


def test_every_module_has_a_baseline():
    assert MODULES and set(MODULES) <= set(BASELINES)


@pytest.mark.parametrize("module", MODULES)
def test_the_baselines_succeed(module, stores):
    store = stores(module)
    result = run_task(module, dict(BASELINES[module](store), backend="local", local_db=store.db))
    assert not result.get("failed"), result


MISSING = object()


def _args(store: Store, module: str, option: str, value: t.Any) -> dict[str, t.Any]:
    args = dict(BASELINES[module](store), backend="local", local_db=store.db)
    if value is MISSING:
        args.pop(option, None)
    elif option in PATH_OPTIONS and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        args[option] = os.path.join(store.root, "generated", str(value).lstrip("/"))
    elif option in NOT_TURNED_ON and value not in (None, False, 0, "", "no", "false", "off", "n", "f", "0"):
        args[option] = value if not isinstance(value, (bool, int, float)) and value else "maybe"
    else:
        args[option] = value
    return args


def _check(module: str, option: str, value: t.Any, result: t.Any) -> None:
    assert isinstance(result, dict)
    if "passed" in result:
        return  # the change gate's verdict on the change (a check it did not pass), not a refusal of the value
    if result.get("failed"):
        assert isinstance(result.get("msg"), str) and result["msg"], result
        assert "Traceback" not in result["msg"]
        named = _named(result, option) or (_elsewhere(option, value) and result.get("option") in options_of(module))
        assert named, f"{option}={value!r}: {result['msg']}"


# (module, option): each module's own options; the connection options (the same table in every module) once
OWN_OPTIONS = [(module, option) for module in MODULES
               for option in sorted(importlib.import_module(f"{runners.__name__}.{module}").ARGUMENT_SPEC)]
CONNECTION_OPTIONS = [("incident", option) for option in sorted(connection_argument_spec())]
REQUIRED = [(module, option) for module in MODULES for option, spec in sorted(options_of(module).items())
            if spec.get("required")]


@pytest.mark.parametrize("module, option", OWN_OPTIONS + CONNECTION_OPTIONS)
@settings(max_examples=EXAMPLES)
@given(value=VALUES)
def test_an_odd_option_value_is_refused_naming_the_option_never_with_a_traceback(module, option, value, stores):
    store = stores(module)

    result = run_task(module, _args(store, module, option, value))

    _check(module, option, value, result)


@pytest.mark.parametrize("module, option", REQUIRED)
def test_a_required_option_left_out_is_named(module, option, stores):
    store = stores(module)

    result = run_task(module, _args(store, module, option, MISSING))

    assert result["failed"] and option in result["msg"]


# Found by the property test above, kept as plain examples: a collection where text is expected.
@pytest.mark.parametrize("option, value", [("api_key", ["s3cret-key"]), ("password", {"s3cret": "pw"}),
                                           ("correlation_id", ["a"]), ("local_db", [])])
def test_a_list_or_dict_given_for_text_is_refused_naming_the_option_and_no_secret_shown(option, value, stores):
    store = stores("incident")
    args = dict(BASELINES["incident"](store), backend="local", local_db=store.db)
    args[option] = value

    result = run_task("incident", args)

    assert result["failed"] and result["option"] == option
    assert result["msg"].startswith(f"{option}: ") and "not a list or a dict" in result["msg"]
    assert "s3cret" not in repr(result)
