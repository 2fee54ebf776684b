# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""change_approval run() on a double of the backend contract: what it asks the backend for, and in which order."""

from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_approval

CHANGE = dict(id="c1", number="CHG0000003", state="assess", type="normal", approval="requested")
DECIDED = dict(CHANGE, state="scheduled", approval="approved")
PENDING = [dict(approver="alice", state="requested", comments=None)]
APPROVED = [dict(approver="alice", state="approved", comments="fine")]


@pytest.fixture
def backend(backend_double):
    backend_double.lookup.return_value = LookupResult(CHANGE, approvals=PENDING)
    backend_double.approvals.side_effect = [APPROVED]
    backend_double.decide_approval.return_value = DECIDED
    return backend_double


def test_a_decision_reads_the_change_with_its_approvals_decides_and_reads_them_again(double_task, backend):
    result = double_task(change_approval, number="CHG0000003", decision="approved", approver="alice",
                         comments="fine")

    assert backend.method_calls == [
        mock.call.lookup("change", number="CHG0000003", include=frozenset({"approvals"}), writes=None),
        mock.call.decide_approval(CHANGE, "alice", "approved", "fine", check_mode=False),
        mock.call.approvals(DECIDED),
    ]
    assert result["changed"] is True and result["record"] == DECIDED and result["approvals"] == APPROVED


def test_in_check_mode_the_approvals_are_read_once_with_the_change_and_the_decision_is_asked_in_check_mode(double_task, backend):
    backend.decide_approval.return_value = CHANGE  # the backend's prediction: nothing would move

    result = double_task(change_approval, check_mode=True, number="CHG0000003", decision="approved",
                         approver="alice")

    assert [call[0] for call in backend.method_calls] == ["lookup", "decide_approval"]
    assert backend.decide_approval.call_args == mock.call(CHANGE, "alice", "approved", None, check_mode=True)
    assert result["changed"] is False and result["approvals"] == PENDING


def test_without_an_approver_the_connections_user_decides(double_task, backend):
    double_task(change_approval, number="CHG0000003", decision="approved")

    assert backend.decide_approval.call_args.args[1] == "tester"  # settings.username of the double


def test_a_correlation_id_no_change_holds_is_refused_before_any_decision(double_task, backend):
    backend.lookup.return_value = None

    with pytest.raises(ItsmValidationError, match="no change holds this correlation id"):
        double_task(change_approval, correlation_id="nobody", decision="approved", approver="alice")

    assert backend.method_calls == [mock.call.lookup("change", correlation_id="nobody", open_only=False,
                                                     include=frozenset({"approvals"}), writes=None)]
