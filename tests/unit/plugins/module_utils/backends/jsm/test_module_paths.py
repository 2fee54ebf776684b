# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jsm backend on the paths the modules take (found by the jsm_modules integration target), on the JSM
simulator, Cloud and Data Center: each test fails without the fix it is named after."""

from __future__ import annotations

import uuid

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils import _workflow as workflow
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request as runner


@pytest.fixture
def backend(jsm):
    built = JsmBackend(ConnectionSettings(backend="jsm", url=jsm.url, username=jsm.username, token=jsm.token,
                                          ca_path=jsm.cert, timeout=10.0, retries=3), sleep=lambda seconds: None)
    yield built
    built.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def api_requests(jsm) -> int:
    return jsm.admin("GET", "requests")["count"]


def test_a_check_mode_create_moved_on_in_check_mode_reads_and_writes_nothing(jsm, backend):
    # change_request with state: assess in check mode plans the create, then the move, on a record without an id
    planned = backend.create("change", {"short_description": "planned", "correlation_id": unique("plan")},
                             check_mode=True)
    assert backend.client.group_exists("Network")  # the group check (a read even in check mode) is remembered
    before = api_requests(jsm)

    moved = backend.transition("change", planned, "assess", {"assignment_group": "Network"}, check_mode=True)

    assert (moved["state"], moved["number"], moved["assignment_group"]) == ("assess", None, "Network")
    assert api_requests(jsm) == before


def change_request(backend, check_mode=False, **args):
    """The change_request module's run() with validated arguments, as its action plugin calls it."""
    spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
    validated = ArgumentSpecValidator(spec, **getattr(runner, "ARGUMENT_RULES", {})).validate(dict(args, backend="jsm"))
    assert not validated.error_messages
    return runner.run(validated.validated_parameters, backend, check_mode=check_mode, warn=lambda message: None)


def test_a_playbook_asks_for_approval_with_state_authorize_as_the_workflow_does(jsm, backend):
    # JSM's approval step sits in Authorize, reached by the workflow's Request approval transition: the planner
    # lets a user make that move too (the canonical model leaves it to the technical approval, approvals.py).
    cid = unique("ask")
    opened = change_request(backend, correlation_id=cid, short_description="ask", assignment_group="Network",
                            state="assess")["record"]
    planned = change_request(backend, check_mode=True, number=opened["number"], state="authorize")
    asked = change_request(backend, number=opened["number"], state="authorize")

    assert (opened["state"], planned["record"]["state"], planned["changed"]) == ("assess", "authorize", True)
    assert (asked["record"]["state"], asked["record"]["approval"]) == ("authorize", "requested")
    # one pending approver per CAB Approval member (cab.approver, cab.chair)
    assert [step["state"] for step in backend.approvals(asked["record"])] == ["requested", "requested"]


def test_the_planner_still_refuses_what_no_one_may_do_on_jsm(backend):
    # assess -> authorize is the only move added: implement stays out of reach until the approval.
    change = {"id": "1", "number": "ITSM-1", "state": "assess", "type": "normal", "assignment_group": "Network"}

    assert workflow.plan("change", change, "authorize", {}, backend) == ["authorize"]
    with pytest.raises(ItsmTransitionError) as caught:
        workflow.plan("change", change, "implement", {}, backend)
    assert caught.value.message.endswith("states reachable from assess: new, canceled, authorize")
    assert workflow.plan("change", dict(change, type="emergency", state="new"), "authorize", {}, backend) == [
        "authorize"]
