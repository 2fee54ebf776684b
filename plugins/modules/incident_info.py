#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_info
short_description: List incidents by number, correlation id or filters
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Returns the incidents matching every filter given, oldest first, in one backend query (no request per record).
  - With O(include=[notes]), also returns each incident's work notes and comments, at the cost of one more
    backend read per hundred incidents returned (not one per incident).
options:
  number:
    description: An incident number. An empty value is refused.
    type: str
  correlation_id:
    description: The correlation id the incident carries. An empty value is refused.
    type: str
  state:
    description: Incidents in any of these states.
    type: list
    elements: str
    choices: [new, in_progress, on_hold, resolved, closed, canceled]
  active:
    description: Only open (V(true)) or only closed and canceled (V(false)) incidents.
    type: bool
  assignment_group:
    description: Incidents assigned to this group.
    type: str
  configuration_item:
    description: Incidents on this configuration item (by name).
    type: str
  caused_by:
    description: Incidents caused by this change (its number).
    type: str
  problem:
    description: Incidents linked to this problem (its number).
    type: str
  include:
    description:
      - What to return with each incident besides its fields.
      - V(notes), the incident's work notes and comments as RV(records[].notes), among them the
        recurrence notes of each repeated failure (on ServiceNow, one C(sys_journal_field) request for up
        to a hundred incidents). This costs one extra backend read per hundred incidents returned, which is why
        it is off by default.
    type: list
    elements: str
    choices: [notes]
notes:
  - "On C(jsm) O(number) is the issue key (C(ITSM-42)) and the filters become one JQL search of the mapped
    project. Filters JQL cannot answer exactly (O(configuration_item), O(caused_by)) are checked on the issues
    read, and C(total) is then not known."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.info
  - opsgate.itsm.info
seealso:
  - module: opsgate.itsm.incident
"""

EXAMPLES = r"""
- name: Incidents caused by this deployment's change
  opsgate.itsm.incident_info:
    caused_by: CHG0000042
  register: caused

- name: Open incidents on web01
  opsgate.itsm.incident_info:
    configuration_item: web01
    active: true

- name: Incidents opened during November 2026 (Paris time)
  opsgate.itsm.incident_info:
    opened_after: "2026-11-01T00:00:00+01:00"
    opened_before: "2026-11-30T23:59:59+01:00"
  register: november

- name: Open incidents with their work notes (how often each failure recurred)
  opsgate.itsm.incident_info:
    active: true
    include: [notes]
  register: open_incidents

- name: Recurrences of each open incident
  ansible.builtin.debug:
    msg: "{{ item.number }}: {{ item.notes | selectattr('text', 'match', 'Recurrence #') | list | length }} recurrences"
  loop: "{{ open_incidents.records }}"
  loop_control:
    label: "{{ item.number }}"

- name: Say when more incidents matched than the limit returned
  ansible.builtin.debug:
    msg: "{{ open_incidents.records | length }} of {{ open_incidents.total }} listed: raise limit for the rest"
  when: open_incidents.truncated
"""

RETURN = r"""
truncated:
  description:
    - V(true) when more incidents matched than O(limit) allowed to return; the task also warns.
    - Raise O(limit) or narrow the filters to get the rest.
  returned: success
  type: bool
  sample: false
total:
  description:
    - How many incidents matched, O(limit) aside.
    - Null when the backend cannot tell without reading them all.
  returned: success
  type: int
  sample: 1
records:
  description: The matching incidents, in the canonical shape returned by M(opsgate.itsm.incident).
  returned: success
  type: list
  elements: dict
  contains:
    notes:
      description:
        - The incident's work notes and comments, oldest first; an empty list when it has none.
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
      number: INC0000007
      state: in_progress
      priority: high
      caused_by: CHG0000042
      notes:
        - field: work_notes
          text: "Recurrence #2: the failure with correlation id smoke-web01 happened again."
          author: deploy-bot
          created: "2026-11-24T22:14:32Z"
"""
