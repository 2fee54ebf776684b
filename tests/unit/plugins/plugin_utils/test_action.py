# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action base (plugin_utils/_action.py) through a module's real action plugin: what a user reads.

The task's arguments are tagged the way a playbook's are (ansible-core 2.19 hands action plugins
``_AnsibleTaggedStr`` values), so a message that would name that class is caught here.
"""

from __future__ import annotations

import importlib
import types
from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import store as local_store
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _action

ITSM_ENV = ("ITSM_BACKEND", "ITSM_TIMEOUT", "ITSM_RETRIES", "ITSM_VALIDATE_CERTS", "ITSM_LOCAL_DB")


def tagged(value):
    """``value`` as a playbook gives it to an action plugin (tagged with its origin, where core tags)."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # ansible-core before 2.19 passes plain str
        return value
    return Origin(path="/playbooks/site.yml", line_num=7).tag(value) if isinstance(value, str) else value


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    for name in ITSM_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))


@pytest.fixture
def run_action(tmp_path):
    """Run opsgate.itsm.<module> as ansible-core would, on a local store under tmp_path; the task's result."""
    def run(module: str, check_mode: bool = False, **args) -> dict:
        args.setdefault("local_db", str(tmp_path / "itsm.sqlite"))
        plugin_module = importlib.import_module(f"ansible_collections.opsgate.itsm.plugins.action.{module}")
        task = types.SimpleNamespace(args={key: tagged(value) for key, value in args.items()}, check_mode=check_mode,
                                     async_val=0, action=f"opsgate.itsm.{module}")
        connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None))
        plugin = plugin_module.ActionModule(task, connection, None, None, None, None)
        plugin._load_name = f"opsgate.itsm.{module}"
        return plugin.run(task_vars={})
    return run


# -- empty options that name a record or a person (issue 12) ------------------------------------------

NAMING_MODULES = {
    "change_request": dict(short_description="Deploy"),
    "incident": dict(short_description="Down"),
    "change_gate": dict(checks=["state"]),
    "change_approval": dict(decision="approved", approver="alice"),
    "attachment": dict(),
    "change_request_info": dict(),
    "incident_info": dict(),
}


@pytest.mark.parametrize("option", ["number", "correlation_id"])
@pytest.mark.parametrize("module", list(NAMING_MODULES))
@pytest.mark.parametrize("empty", ["", "  "], ids=["empty", "blank"])
def test_an_empty_number_or_correlation_id_is_refused_naming_the_option(run_action, tmp_path, module, option, empty):
    result = run_action(module, **NAMING_MODULES[module], **{option: empty})

    assert result["failed"] is True
    assert result["msg"] == f"{option}: {empty!r} is not valid; it is empty; give a value, or leave the option out"
    assert result["option"] == option
    assert not (tmp_path / "itsm.sqlite").exists()  # nothing was created


def test_an_empty_number_no_longer_creates_a_change(run_action):
    refused = run_action("change_request", number="", short_description="Deploy")
    found = run_action("change_request_info")

    assert refused["failed"] is True and found["records"] == []


def test_an_empty_approver_is_refused_not_taken_for_the_os_user(run_action):
    change = run_action("change_request", correlation_id="c", short_description="Deploy", assignment_group="ops",
                        state="assess")["record"]

    result = run_action("change_approval", number=change["number"], approver="", decision="approved")

    assert result["failed"] is True
    assert result["msg"].startswith("approver: '' is not valid; it is empty")
    assert run_action("change_request_info", number=change["number"], approvals=True)["records"][0]["approvals"] == []


# -- typed options: a plain message, never ansible-core's internal type names (issue 12) -------------

TYPED = {
    "timeout": ("abc", "timeout: 'abc' is not valid; expected a number of seconds, like 30 or 2.5"),
    "retries": ("many", "retries: 'many' is not valid; expected a whole number of retries, like 3"),
    "validate_certs": ("perhaps", "validate_certs: 'perhaps' is not valid; expected true or false"),
    "limit": ("ten", "limit: 'ten' is not valid; expected a whole number, like 3"),
    "active": ("sometimes", "active: 'sometimes' is not valid; expected true or false"),
}


@pytest.mark.parametrize("option", list(TYPED))
def test_a_value_of_the_wrong_type_gets_a_plain_message(run_action, option):
    value, message = TYPED[option]

    result = run_action("change_request_info", **{option: value})

    assert result["failed"] is True
    assert result["msg"].startswith(message)
    assert "Tagged" not in result["msg"] and "class" not in result["msg"]
    assert result["option"] == option


def test_a_mistyped_value_from_the_environment_names_its_variable(run_action, monkeypatch):
    monkeypatch.setenv("ITSM_TIMEOUT", "soon")

    result = run_action("incident_info")

    assert result["failed"] is True
    assert result["msg"] == ("timeout: 'soon' is not valid; expected a number of seconds, like 30 or 2.5; "
                             "the value comes from ITSM_TIMEOUT")


def test_well_typed_values_still_pass(run_action):
    result = run_action("change_request_info", timeout="2.5", retries="1", validate_certs="no", limit="5")

    assert not result.get("failed") and result["records"] == []


# -- the base itself, with a stand-in runner and a double of the backend (issue 16) ------------------------

@pytest.fixture
def built(monkeypatch):
    """Backends the action base builds: a double of the contract each, recording the settings it was built with."""
    backends = []

    def build(settings, warn=None):
        backend = mock.create_autospec(ItsmBackend, instance=True)
        backend.settings = settings
        backends.append(backend)
        return backend
    monkeypatch.setattr(_action, "build_backend", build)
    return backends


def run_base(run, check_mode=False, **args):
    """Run ItsmAction over a stand-in runner module whose run() is ``run``; the task's result."""
    class Action(_action.ItsmAction):
        runner = types.SimpleNamespace(ARGUMENT_SPEC=dict(name=dict(type="str", required=True)), run=run)

    task = types.SimpleNamespace(args={key: tagged(value) for key, value in args.items()}, check_mode=check_mode,
                                 async_val=0, action="opsgate.itsm.stand_in")
    plugin = Action(task, types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None)), None, None, None, None)
    plugin._load_name = "opsgate.itsm.stand_in"
    return plugin.run(task_vars={})


def test_the_runner_gets_validated_params_the_built_backend_and_check_mode_and_the_backend_is_closed(built):
    seen = {}

    def run(params, backend, check_mode, warn):
        seen.update(params=params, backend=backend, check_mode=check_mode)
        warn("a word from the runner")
        return dict(changed=True, record={"number": "CHG0000001"})

    result = run_base(run, check_mode=True, name="x", backend="local", local_db="/nowhere/itsm.sqlite")

    [backend] = built
    assert seen["backend"] is backend and seen["check_mode"] is True
    assert seen["params"]["name"] == "x" and backend.settings.local_db == "/nowhere/itsm.sqlite"
    assert backend.close.call_count == 1
    assert result["changed"] is True and result["record"] == {"number": "CHG0000001"}
    assert result["warnings"] == ["a word from the runner"]


def test_a_collection_error_becomes_a_failed_result_naming_the_option_and_the_backend_is_still_closed(built):
    def run(params, backend, check_mode, warn):
        raise ItsmValidationError("name", params["name"], "expected a better name")

    result = run_base(run, name="x")

    assert result["failed"] is True
    assert result["msg"] == "name: 'x' is not valid; expected a better name"
    assert result["option"] == "name"
    assert built[0].close.call_count == 1


def test_a_missing_required_option_fails_before_any_backend_is_built(built):
    result = run_base(lambda *args, **kwargs: {})

    assert result["failed"] is True and "name" in result["msg"]
    assert built == []


def test_the_connections_secrets_never_reach_the_result(built):
    def run(params, backend, check_mode, warn):
        warn(f"logged in with {params['password']}")
        return dict(changed=False, echoed=params["password"], nested={"token": params["password"]})

    result = run_base(run, name="x", backend="servicenow", url="https://sn.invalid", username="u",
                      password="hunter2-secret")

    assert "hunter2-secret" not in repr(result)
    assert result["echoed"] != "hunter2-secret" and result["warnings"] != ["logged in with hunter2-secret"]


# -- one task, one transaction (issue 14 item 8) ------------------------------------------------------

def test_a_tasks_writes_are_one_transaction_on_local(run_action, tmp_path, monkeypatch):
    """The action plugin opens backend.task() around a writing task: its several writes (create, two transitions,
    a note) commit once, at the end of the task; the gate (it waits) and the outbox (per item) do not."""
    commits: list[str] = []
    end_task = local_store.LocalStore._end_task

    def counting_end(self, commit):
        commits.append(f"task {'commit' if commit else 'rollback'} {bool(self._task_conn)}")
        end_task(self, commit)
    monkeypatch.setattr(local_store.LocalStore, "_end_task", counting_end)
    result = run_action("change_request", short_description="Deploy", type="standard", state="implement",
                        correlation_id="one-tx", work_notes="done")
    assert result.get("failed") is not True and result["record"]["state"] == "implement", result
    assert commits == ["task commit True"]
    assert _action.ItsmAction.one_transaction is True
    for module in ("change_gate", "outbox", "incident_info", "change_request_info"):
        plugin = importlib.import_module(f"ansible_collections.opsgate.itsm.plugins.action.{module}").ActionModule
        assert plugin.one_transaction is False, module
