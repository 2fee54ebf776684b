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
options:
  number:
    description: An incident number.
    type: str
  correlation_id:
    description: The correlation id the incident carries.
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
"""

RETURN = r"""
records:
  description: The matching incidents, in the canonical shape returned by M(opsgate.itsm.incident).
  returned: success
  type: list
  elements: dict
  sample:
    - backend: local
      number: INC0000007
      state: in_progress
      priority: high
      caused_by: CHG0000042
"""
