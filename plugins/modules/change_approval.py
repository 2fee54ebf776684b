#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_approval
short_description: Approve or reject a change request as an approver
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Records an approval decision on a change that is awaiting approval, and returns the change with its
    approvals.
  - "On a normal change the first approval (in C(assess)) moves it to C(authorize) and a second one, the
    CAB's, to C(scheduled); an emergency change needs one approval in C(authorize). A rejection sends the
    change back to C(new) with approval C(rejected)."
  - On the C(local) backend this is how a CAB approves. The same approver repeating the same decision at the
    same stage changes nothing.
options:
  number:
    description: The change's number. An empty value is refused.
    type: str
  correlation_id:
    description: The correlation id of the change, instead of O(number). An empty value is refused.
    type: str
  decision:
    description: The decision.
    type: str
    required: true
    choices: [approved, rejected]
  approver:
    description:
      - Who decides. Left out, the connection's O(username), else the operating-system user. An empty value is
        refused, never taken for either.
    type: str
  comments:
    description: The approver's comments; required to reject.
    type: str
notes:
  - "On C(jsm) a normal change passes the same two stages. The technical approval, in C(assess), takes the project
    workflow's transition to C(authorize) (the standard ITSM template's C(Request approval)) or, rejected, back to
    C(new), and is kept in an issue property; the CAB's is the workflow's approval step in C(authorize) (the
    C(CAB Approval) group's, in the standard ITSM template). Jira lets an approver answer only as themselves, and
    the backend holds both stages to that rule: run the task with the approver's own credentials (O(username) and
    O(token)); deciding for anyone else is refused before anything is sent. Jira keeps no comment with a decision on
    Cloud, so O(comments) go to an issue property and an internal comment."
  - "On C(jsm) a rejection ends as on the other backends (state C(new), approval C(rejected)). The CAB's step
    declines the change into its rejection status and the backend reopens it through the workflow, as the
    mapping's C(change.rejection) says (O(jsm_mapping)); with C(reopen: false), or a workflow offering no way back
    (a warning says so), the change stays there, state C(canceled), approval C(rejected)."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - module: opsgate.itsm.change_request
"""

EXAMPLES = r"""
- name: Ask for approval (a normal change entering assess requests it)
  opsgate.itsm.change_request:
    number: "{{ change.record.number }}"
    assignment_group: Change Management
    state: assess

- name: Technical approval
  opsgate.itsm.change_approval:
    number: "{{ change.record.number }}"
    approver: alice
    decision: approved
    comments: Plan reviewed.

- name: CAB approval
  opsgate.itsm.change_approval:
    number: "{{ change.record.number }}"
    approver: cab.chair
    decision: approved

- name: Reject, with the reason
  opsgate.itsm.change_approval:
    number: CHG0000043
    approver: cab.chair
    decision: rejected
    comments: No backout plan.
"""

RETURN = r"""
record:
  description: The change after the decision, in the canonical shape returned by M(opsgate.itsm.change_request).
  returned: success
  type: dict
  sample:
    number: CHG0000042
    state: authorize
    approval: requested
approvals:
  description: Every approval decision on the change, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    approver:
      description: Who decided.
      type: str
    state:
      description: V(approved), V(rejected) or V(requested).
      type: str
    comments:
      description: The approver's comments.
      type: str
    stage:
      description: The change state the decision was taken in.
      type: str
    decided_at:
      description: When, ISO 8601 UTC.
      type: str
diff:
  description: The change and its approvals before and after.
  returned: success
  type: dict
"""
