#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_request_info
short_description: List change requests by number, correlation id or filters
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Returns the changes matching every filter given, oldest first, in one backend query (no request per record).
  - With no filter, returns the first O(limit) changes.
  - With O(include), also returns each change's approvals or work notes and comments, at the cost of one more
    backend read per hundred changes returned for each (not one per change).
options:
  number:
    description: A change number. An empty value is refused.
    type: str
  correlation_id:
    description: The correlation id the change carries. An empty value is refused.
    type: str
  state:
    description: Changes in any of these states.
    type: list
    elements: str
    choices: [new, assess, authorize, scheduled, implement, review, closed, canceled]
  type:
    description: Changes of any of these types.
    type: list
    elements: str
    choices: [normal, standard, emergency]
  approval:
    description: Changes with this approval status.
    type: str
    choices: [not_requested, requested, approved, rejected]
  active:
    description: Only open (V(true)) or only closed and canceled (V(false)) changes.
    type: bool
  assignment_group:
    description: Changes assigned to this group.
    type: str
  configuration_item:
    description: Changes that affect this configuration item (by name).
    type: str
  window_start:
    description:
      - With O(window_end), changes whose planned window overlaps this range. ISO 8601 with a timezone.
    type: str
  window_end:
    description: End of the range for O(window_start). ISO 8601 with a timezone.
    type: str
  include:
    description:
      - What to return with each change besides its fields.
      - V(approvals), the change's approvals as RV(records[].approvals) (on ServiceNow, one
        C(sysapproval_approver) request for up to a hundred changes). On a backend that does not record
        approvals, every change gets an empty list and the task warns once.
      - V(notes), the change's work notes and comments as RV(records[].notes), among them the verdicts
        M(opsgate.itsm.change_gate) writes (on ServiceNow, one C(sys_journal_field) request for up to a
        hundred changes).
      - Each costs one extra backend read per hundred changes returned, which is why both are off by default.
    type: list
    elements: str
    choices: [approvals, notes]
  approvals:
    description:
      - Also return the approvals of each change as RV(records[].approvals).
      - The same as V(approvals) in O(include), which it predates.
    type: bool
    default: false
notes:
  - "On C(jsm) O(number) is the issue key (C(ITSM-42)) and the filters become one JQL search of the mapped
    project. Filters JQL cannot answer exactly (O(approval), O(configuration_item), O(window_start),
    O(window_end)) are checked on the issues read, and C(total) is then not known. The approval is read from the
    change's status and its Approvals field."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.info
  - opsgate.itsm.info
seealso:
  - module: opsgate.itsm.change_request
"""

EXAMPLES = r"""
- name: Changes touching web01 planned for the night of 24 November
  opsgate.itsm.change_request_info:
    configuration_item: web01
    window_start: "2026-11-24T18:00:00Z"
    window_end: "2026-11-25T06:00:00Z"
  register: tonight

- name: Open changes waiting for approval
  opsgate.itsm.change_request_info:
    state: [assess, authorize]
    approval: requested
  register: pending

- name: Changes opened in the last seven days
  opsgate.itsm.change_request_info:
    opened_after: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now().timestamp() - 7 * 86400, utc=true) }}"
  register: this_week

- name: Find the change of this pipeline run
  opsgate.itsm.change_request_info:
    correlation_id: deploy-1234
  register: found

- name: Changes of the last release with who approved them and when
  opsgate.itsm.change_request_info:
    assignment_group: Platform
    window_start: "2026-11-01T00:00:00Z"
    window_end: "2026-12-01T00:00:00Z"
    approvals: true
  register: release

- name: The gate's verdicts and the other work notes on the change this play opened
  opsgate.itsm.change_request_info:
    number: "{{ change.record.number }}"
    include: [notes, approvals]
  register: history

- name: Show them, oldest first
  ansible.builtin.debug:
    msg: "{{ history.records[0].notes | selectattr('field', 'eq', 'work_notes') | map(attribute='text') | list }}"

- name: Open changes, a hundred at most, and whether that was all of them
  opsgate.itsm.change_request_info:
    active: true
    limit: 100
  register: open_changes

- name: Say when the list was cut
  ansible.builtin.debug:
    msg: "{{ open_changes.records | length }} of {{ open_changes.total }} open changes listed; raise limit for the rest"
  when: open_changes.truncated

- name: Approvers of each change
  ansible.builtin.debug:
    msg: >-
      {{ item.number }}: {{ item.approvals | selectattr('state', 'eq', 'approved')
      | map(attribute='approver') | join(', ') }}
  loop: "{{ release.records }}"
  loop_control:
    label: "{{ item.number }}"
"""

RETURN = r"""
truncated:
  description:
    - V(true) when more changes matched than O(limit) allowed to return; the task also warns.
    - Raise O(limit) or narrow the filters to get the rest.
  returned: success
  type: bool
  sample: false
total:
  description:
    - How many changes matched, O(limit) aside.
    - Null when the backend cannot tell without reading them all (ServiceNow with O(window_start)).
  returned: success
  type: int
  sample: 2
records:
  description: The matching changes, in the canonical shape returned by M(opsgate.itsm.change_request).
  returned: success
  type: list
  elements: dict
  contains:
    approvals:
      description:
        - The change's approvals, oldest first.
        - An empty list when the change has none, and on a backend that does not record approvals.
      returned: when O(include) has V(approvals), or O(approvals=true)
      type: list
      elements: dict
      contains:
        approver:
          description: The user name of the approver.
          type: str
        state:
          description:
            - V(approved) or V(rejected) once decided.
            - V(requested) or V(not_requested) while the approver has not decided (ServiceNow lists pending
              approvals; the C(local) backend records decisions only).
          type: str
        comments:
          description: The approver's comments (on ServiceNow, the latest one), or null.
          type: str
        stage:
          description:
            - The change state the decision was taken in, V(assess) or V(authorize).
            - Null on ServiceNow, which does not record it.
          type: str
        decided_at:
          description: When the approver decided, ISO 8601 in UTC; null while the approval is pending.
          type: str
    notes:
      description:
        - The change's work notes and comments, oldest first; an empty list when it has none.
      returned: when O(include) has V(notes)
      type: list
      elements: dict
      contains:
        field:
          description: V(work_notes) (seen by the people working on it) or V(comments) (seen by everyone).
          type: str
        text:
          description: The text of the note.
          type: str
        author:
          description: The user name of who wrote it.
          type: str
        created:
          description: When it was written, ISO 8601 in UTC.
          type: str
  sample:
    - backend: local
      number: CHG0000042
      state: scheduled
      approval: approved
      type: normal
      start_date: "2026-11-24T22:00:00Z"
      end_date: "2026-11-24T23:30:00Z"
      approvals:
        - approver: tech.lead
          state: approved
          comments: Plan looks fine.
          stage: assess
          decided_at: "2026-11-20T09:12:40Z"
        - approver: cab.chair
          state: approved
          comments: null
          stage: authorize
          decided_at: "2026-11-21T14:03:05Z"
      notes:
        - field: work_notes
          text: "Change gate passed at 2026-11-24T22:00:41Z; moving to implement.\n- approval: approved"
          author: deploy-bot
          created: "2026-11-24T22:00:41Z"
"""
