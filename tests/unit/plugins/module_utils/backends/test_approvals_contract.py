# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""approvals_for, the bulk read behind change_request_info's approvals, on every backend that records approvals."""

from __future__ import annotations


def test_approvals_for_lists_each_change_as_approvals_does(approvals_backend, approval_scenario):
    backend = approvals_backend
    approver, connected, _after = approval_scenario.stages[0]
    decided = approval_scenario.request(backend, backend.create("change", {"short_description": "bulk a"}))
    decided = connected.decide_approval(decided, approver, "approved", "fine by me")
    untouched = backend.create("change", {"short_description": "bulk b"})

    found = backend.approvals_for([decided["id"], untouched["id"]])

    assert found == {decided["id"]: backend.approvals(decided), untouched["id"]: []}
    assert (approver, "approved", "fine by me") in [
        (item["approver"], item["state"], item["comments"]) for item in found[decided["id"]]]
    assert backend.approvals_for([]) == {}
