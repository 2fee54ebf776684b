# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Approval decisions on local changes: stages, rounds, no-ops and refusals."""

from __future__ import annotations

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from tests.unit.plugins.module_utils.backends.local.walks import drive_change


# -- approvals ---------------------------------------------------------------------------------

def test_two_approvals_move_a_normal_change_to_scheduled(local):
    change = drive_change(local, "normal", "assess")

    authorize = local.decide_approval(change, "tech.lead", "approved", None)
    scheduled = local.decide_approval(authorize, "cab.chair", "approved", "ok for Tuesday")

    assert (authorize["state"], authorize["approval"]) == ("authorize", "requested")
    assert (scheduled["state"], scheduled["approval"]) == ("scheduled", "approved")
    assert [(a["approver"], a["state"], a["stage"], a["comments"]) for a in local.approvals(change)] == [
        ("tech.lead", "approved", "assess", None), ("cab.chair", "approved", "authorize", "ok for Tuesday")]


def test_emergency_change_needs_one_approval(local):
    change = drive_change(local, "emergency", "authorize")

    scheduled = local.decide_approval(change, "cab.chair", "approved", None)

    assert (scheduled["state"], scheduled["approval"]) == ("scheduled", "approved")


def test_rejection_needs_comments_and_returns_the_change_to_new(local):
    change = drive_change(local, "normal", "assess")

    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "tech.lead", "rejected", "")
    assert caught.value.details["option"] == "comments"
    rejected = local.decide_approval(change, "tech.lead", "rejected", "no backout plan")

    assert (rejected["state"], rejected["approval"]) == ("new", "rejected")
    assert local.approvals(change)[-1]["comments"] == "no backout plan"


def test_a_rejected_change_can_be_resubmitted_and_approved_again_by_the_same_people(local):
    change = drive_change(local, "normal", "assess")
    local.decide_approval(change, "tech.lead", "approved", None)
    rejected = local.decide_approval(local.get("change", id=change["id"]), "cab.chair", "rejected", "bad timing")

    resubmitted = local.transition("change", rejected, "assess")
    again = local.decide_approval(resubmitted, "tech.lead", "approved", None)

    assert resubmitted["approval"] == "requested"
    assert again["state"] == "authorize"
    assert len(local.approvals(change)) == 3


@pytest.mark.parametrize("change_type, state", [
    ("normal", "new"), ("normal", "scheduled"), ("standard", "new"), ("emergency", "implement"),
])
def test_a_change_outside_an_approval_stage_refuses_decisions(local, change_type, state):
    change = drive_change(local, change_type, state)

    with pytest.raises(ItsmTransitionError) as caught:
        local.decide_approval(change, "someone", "approved", None)

    assert str(caught.value) == (f"{change['number']} is not awaiting approval: state {state}, "
                                 f"approval {change['approval']}")


def test_the_same_decision_by_the_same_approver_on_the_same_stage_is_a_no_op(local):
    change = drive_change(local, "normal", "assess")
    authorize = local.decide_approval(change, "tech.lead", "approved", None)

    repeated = local.decide_approval(change, "tech.lead", "approved", None)  # a retry, with the record it had

    assert repeated == authorize
    assert len(local.approvals(change)) == 1


def test_an_approver_decides_once_per_round_so_a_rerun_changes_nothing(db_path):
    warnings = []
    backend = LocalBackend(ConnectionSettings(local_db=db_path, username="tester"), warn=warnings.append)
    authorize = backend.decide_approval(drive_change(backend, "normal", "assess"), "tech.lead", "approved", None)

    again = backend.decide_approval(backend.get("change", id=authorize["id"]), "tech.lead", "approved", None)

    assert again == authorize
    assert len(backend.approvals(authorize)) == 1
    assert warnings == [f"tech.lead already approved {authorize['number']} at assess in this approval round; "
                        "another approver must decide at authorize"]
    backend.close()


def test_a_repeated_rejection_is_a_no_op(local):
    rejected = local.decide_approval(drive_change(local, "normal", "assess"), "tech.lead", "rejected", "no plan")

    again = local.decide_approval(local.get("change", id=rejected["id"]), "tech.lead", "rejected", "no plan")

    assert again == rejected and len(local.approvals(rejected)) == 1


def test_a_decision_on_a_stage_that_has_moved_on_is_refused(local):
    change = drive_change(local, "normal", "assess")
    local.decide_approval(change, "tech.lead", "approved", None)

    with pytest.raises(ItsmTransitionError) as caught:
        local.decide_approval(change, "other.lead", "approved", None)

    assert "moved on from assess to authorize" in str(caught.value)
    assert local.get("change", id=change["id"])["state"] == "authorize"


def test_decisions_are_validated(local):
    change = drive_change(local, "normal", "assess")

    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "tech.lead", "maybe", None)
    assert caught.value.details["option"] == "decision"
    with pytest.raises(ItsmValidationError) as caught:
        local.decide_approval(change, "", "approved", None)
    assert caught.value.details["option"] == "approver"
