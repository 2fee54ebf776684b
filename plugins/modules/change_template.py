#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_template
short_description: Define a standard change template
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Stores a named set of change field values. A change created with O(opsgate.itsm.change_request#module:template)
    takes these values for the fields it does not set, and is a pre-approved standard change.
  - Supported by the C(local) backend; ServiceNow keeps its templates in the instance, and Jira Service Management
    has none.
options:
  name:
    description: The template's name.
    type: str
    required: true
  values:
    description:
      - Change fields the template sets, for example C(short_description), C(description),
        C(implementation_plan), C(backout_plan), C(test_plan), C(justification), C(risk), C(impact),
        C(assignment_group), C(assigned_to), C(requested_by).
    type: dict
    required: true
notes:
  - "Not supported on C(jsm): Jira Service Management has no standard change templates; the task fails naming
    the backend."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - module: opsgate.itsm.change_request
"""

EXAMPLES = r"""
- name: A template for routine certificate rotation
  opsgate.itsm.change_template:
    name: Rotate TLS certificates
    values:
      short_description: Rotate TLS certificates
      implementation_plan: Replace the certificate and reload the service.
      backout_plan: Restore the previous certificate.
      risk: low
      impact: low
      assignment_group: Platform
"""

RETURN = r"""
template:
  description: The template as the backend stored it, read back (in check mode, as it would be stored).
  returned: success
  type: dict
  contains:
    name:
      description: The template's name.
      type: str
    fields:
      description: The values it sets.
      type: dict
diff:
  description: The template before and after.
  returned: success
  type: dict
"""
