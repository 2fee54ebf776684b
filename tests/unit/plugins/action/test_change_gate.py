"""The change_gate action plugin: the play's hosts as CI names, and the wait's progress on the console."""

import datetime as dt
import types

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.action import change_gate as action
from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate

HOSTVARS = {
    "web01": {"itsm_ci_name": "web01.example.com", "cmdb_name": "WEB-01"},
    "web02": {"itsm_ci_name": ""},  # set but empty: the inventory name stands in
    "db01": {},
}
PLAY = {"ansible_play_hosts_all": ["web01", "web02", "db01"], "hostvars": HOSTVARS}

CI_NAMES = {
    "play hosts, itsm_ci_name or inventory name": (
        None, "itsm_ci_name", PLAY, {"web01": "web01.example.com", "web02": "web02", "db01": "db01"}),
    "hosts given": (["db01", "web01"], "itsm_ci_name", PLAY, {"db01": "db01", "web01": "web01.example.com"}),
    "a host unknown to the inventory keeps its name": (["lb01"], "itsm_ci_name", PLAY, {"lb01": "lb01"}),
    "custom host variable": (None, "cmdb_name", PLAY, {"web01": "WEB-01", "web02": "web02", "db01": "db01"}),
    "no play hosts and no hosts option": (None, "itsm_ci_name", {}, {}),
}


@pytest.mark.parametrize("hosts, variable, task_vars, expected", list(CI_NAMES.values()), ids=list(CI_NAMES))
def test_ci_names(hosts, variable, task_vars, expected):
    assert action.ci_names(hosts, variable, task_vars) == expected


class StubDisplay:
    """Records what would reach the console, by verbosity."""

    def __init__(self):
        self.normal, self.verbose = [], []

    def display(self, msg, *args, **kwargs):
        self.normal.append(msg)

    def v(self, msg, *args, **kwargs):
        self.verbose.append(msg)

    vv = vvv = vvvv = verbose = v


def test_progress_lines_reach_the_console_at_normal_verbosity(monkeypatch, local_backend):
    stub = StubDisplay()
    monkeypatch.setattr(action, "display", stub)
    opens = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)
    change = local_backend.create("change", dict(
        correlation_id="deploy", short_description="Deploy", type="standard", configuration_items=["web01.example.com"],
        start_date=opens.isoformat(timespec="seconds"), end_date=(opens + dt.timedelta(hours=1)).isoformat()))
    local_backend.transition("change", change, "scheduled")
    plugin = action.ActionModule(types.SimpleNamespace(check_mode=False, args={}), None, None, None, None, None)
    params = _params(correlation_id="deploy", wait=True, wait_timeout="30s", interval=0.2, max_interval=0.5)

    result = plugin.run_task(params, local_backend, {"ansible_play_hosts_all": ["web01"], "hostvars": HOSTVARS},
                             warn=pytest.fail)

    assert result["passed"] is True and result["polls"] > 1
    waiting = f"{change['number']} waiting for the window to open"
    assert stub.normal and all(line.startswith(waiting) for line in stub.normal)
    assert stub.verbose == []


def _params(**args):
    spec = dict(connection_argument_spec(), **change_gate.ARGUMENT_SPEC)
    validated = ArgumentSpecValidator(spec).validate(dict(args, backend="local"))
    assert not validated.error_messages
    return validated.validated_parameters
