#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configuration_item
short_description: Create or update a configuration item in the CMDB
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Creates the configuration item (CI) O(name) or updates its class, fields and relationships. Only what is
    given changes, so a re-run with the same values reports no change.
  - The relationships are checked before anything is written, so a task refused for a relationship creates no
    CI and changes none of its fields.
  - The CIs feed the P(opsgate.itsm.cmdb#inventory) inventory and the affected CIs of changes.
  - Supported by the C(local), C(servicenow) and C(jsm) backends, which refuse the same input with the same message.
    On ServiceNow the CI lives in the table C(cmdb_ci_<ci_class>). On every backend a CI keeps its class once it
    exists, and C(environment), C(operational_status) and C(install_status) take the same words (C(production),
    C(operational), C(installed)).
options:
  name:
    description: The CI's name, its key.
    type: str
    required: true
  ci_class:
    description:
      - The CI's class, for example C(linux_server), in lower-case letters, digits and underscores. The table form
        C(cmdb_ci_linux_server) is taken too and stored as C(linux_server). Left as it is when not given; a class
        other than the one an existing CI has is refused.
      - On ServiceNow, a class names the table C(cmdb_ci_<class>); a name starting with C(cmdb_) is the table
        itself. A new CI without a class goes to C(cmdb_ci). A class whose table the instance does not have is
        refused, and no CI is created.
    type: str
  fields:
    description:
      - CI fields to set, for example C(fqdn), C(host_name), C(ip_address), C(environment),
        C(operational_status). Fields not given are kept; a field given as V(null) is removed.
      - On C(local), a nested value, such as C(location) holding C(country), can be read by the inventory
        with a dot-walk (C(location.country)).
      - On ServiceNow values are plain; a reference field (C(location), C(support_group), C(assigned_to),
        C(maintenance_schedule)) takes the referenced record's name or sys_id, and the inventory reads
        C(location.country) through it.
    type: dict
  relations:
    description:
      - The relationships leaving this CI, exactly; relationships not listed are removed. Left as they are
        when not given.
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - The relationship type by its parent descriptor, for example C(Runs on) (for C(Runs on::Runs)) or
            C(Depends on).
          - On ServiceNow, a relationship type the instance has; on C(local), one of ServiceNow's base system
            (such as C(Runs on), C(Depends on), C(Contains), C(Hosted on), C(Members), C(Cluster of),
            C(Connects to), C(Uses), C(Virtualized by)).
        type: str
        required: true
      target:
        description:
          - The name of the CI it points at, an existing CI on every backend.
        type: str
        required: true
notes:
  - "On C(jsm) a CI is a Jira Service Management Assets object: O(ci_class) names its object type (C(linux_server) is
    C(Linux Server)) and O(fields) its attributes. Relationships are not supported (Assets keeps them as reference
    attributes): a task with O(relations) fails naming the backend before anything is written."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - plugin: opsgate.itsm.cmdb
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Register the hypervisor the web server runs on
  opsgate.itsm.configuration_item:
    name: esx01
    ci_class: esx_server

- name: Register a web server in the local CMDB
  opsgate.itsm.configuration_item:
    name: web01
    ci_class: linux_server
    fields:
      fqdn: web01.example.com
      ip_address: 10.0.0.11
      environment: production
      operational_status: operational
      location:
        country: NL
    relations:
      - type: Runs on
        target: esx01

- name: Register a server in ServiceNow, its location and support group by name
  opsgate.itsm.configuration_item:
    backend: servicenow
    name: lnx-web-01
    ci_class: linux_server
    fields:
      fqdn: lnx-web-01.example.com
      environment: production
      location: London
      support_group: Network
    relations:
      - type: Depends on
        target: lnx-db-01

- name: Take it out of operation, keeping everything else
  opsgate.itsm.configuration_item:
    name: web01
    fields:
      operational_status: non_operational
"""

RETURN = r"""
record:
  description: The CI as it is after the task (approximate in check mode).
  returned: success
  type: dict
  contains:
    name:
      description: The CI's name.
      type: str
    ci_class:
      description: Its class.
      type: str
    fields:
      description: All its fields.
      type: dict
    relations:
      description: Its relationships, when O(relations) was given.
      type: list
      elements: dict
diff:
  description: The CI before and after.
  returned: success
  type: dict
"""
