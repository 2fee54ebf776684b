#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: problem_info
short_description: List problems by number, correlation id or filters
version_added: 0.2.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Returns the problems matching every filter given, oldest first, in one backend query (no request per record).
  - With O(include=[incidents]), also returns the numbers of each problem's incidents, and with O(include=[notes])
    its work notes and comments; each costs one more backend read per hundred problems returned (not one per
    problem).
options:
  number:
    description: A problem number. An empty value is refused.
    type: str
  correlation_id:
    description: The correlation id the problem carries. An empty value is refused.
    type: str
  state:
    description: Problems in any of these states.
    type: list
    elements: str
    choices: [new, assess, root_cause_analysis, fix_in_progress, resolved, closed]
  active:
    description: Only problems not closed (V(true)) or only closed ones (V(false)).
    type: bool
  assignment_group:
    description: Problems assigned to this group.
    type: str
  configuration_item:
    description: Problems about this configuration item (by name).
    type: str
  include:
    description:
      - What to return with each problem besides its fields.
      - V(incidents), the numbers of the incidents linked to the problem as RV(records[].incidents).
      - V(notes), the problem's work notes and comments as RV(records[].notes).
    type: list
    elements: str
    choices: [notes, incidents]
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.info
  - opsgate.itsm.info
seealso:
  - module: opsgate.itsm.problem
  - module: opsgate.itsm.incident_info
"""

EXAMPLES = r"""
- name: Problems still being worked on, with their incidents
  opsgate.itsm.problem_info:
    active: true
    include: [incidents]
  register: open_problems

- name: How many incidents each open problem has
  ansible.builtin.debug:
    msg: "{{ item.number }} ({{ item.state }}): {{ item.incidents | length }} incidents"
  loop: "{{ open_problems.records }}"
  loop_control:
    label: "{{ item.number }}"

- name: The problem raised for one failure signature
  opsgate.itsm.problem_info:
    correlation_id: "deploy.yml/web/Restart the service"
  register: by_signature
"""

RETURN = r"""
truncated:
  description:
    - V(true) when more problems matched than O(limit) allowed to return; the task also warns.
  returned: success
  type: bool
  sample: false
total:
  description:
    - How many problems matched, O(limit) aside.
    - Null when the backend cannot tell without reading them all.
  returned: success
  type: int
  sample: 1
records:
  description: The matching problems, in the canonical shape returned by M(opsgate.itsm.problem).
  returned: success
  type: list
  elements: dict
  contains:
    incidents:
      description: The numbers of the incidents linked to the problem, oldest first.
      returned: when O(include) has V(incidents)
      type: list
      elements: str
    notes:
      description: The problem's work notes and comments, oldest first; an empty list when it has none.
      returned: when O(include) has V(notes)
      type: list
      elements: dict
      contains:
        field:
          description: V(work_notes) or V(comments).
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
      number: PRB0000001
      state: root_cause_analysis
      priority: moderate
      incidents: [INC0000007, INC0000009]
"""
