#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: attachment
short_description: Attach a file to a change or incident, or list its attachments
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Uploads a file from the controller to a change request or an incident and returns the record's attachments.
  - Idempotent by content. When the record already has an attachment of the same name whose SHA-256 equals the
    file's, nothing is sent. A file with new content under an existing name replaces the older attachment.
  - Without O(path), lists the record's attachments and changes nothing.
  - On C(local) the file's bytes are kept in the store; on C(servicenow) they go through the Attachment API.
options:
  kind:
    description:
      - The kind of record the file belongs to.
      - Left out, the prefix of O(number) says it (C(CHG) a change, C(INC) an incident, C(PRB) a problem); a number
        with another prefix is refused, asking for O(kind). Looked up by O(correlation_id), the record is a change
        unless O(kind) says otherwise.
    type: str
    choices: [change, incident, problem]
  number:
    description: The record's number. An empty value is refused.
    type: str
  correlation_id:
    description: The correlation id of the record, instead of O(number). An empty value is refused.
    type: str
  path:
    description: The file to attach, on the controller.
    type: path
  name:
    description:
      - The attachment's name. Defaults to the base name of O(path).
      - A file name, never a path. A name holding a slash, a backslash or a NUL character, the names C(.) and
        C(..), and an empty name are refused, naming O(name).
    type: str
  content_type:
    description: The MIME type. Defaults to a guess from the name, else C(application/octet-stream).
    type: str
notes:
  - "On C(jsm) the file is a Jira attachment of the issue; Jira keeps no hash, so the SHA-256 of each file the module
    attached is kept in the issue property C(opsgate.attachments). An attachment added in Jira's UI has no recorded
    hash and counts as different content. O(number) is the issue key, for example C(ITSM-42)."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - module: opsgate.itsm.change_request
  - module: opsgate.itsm.incident
"""

EXAMPLES = r"""
- name: Attach the deployment log to the change
  opsgate.itsm.attachment:
    number: "{{ change.record.number }}"
    path: /var/log/deploy/run.log

- name: Attach a diagnostic bundle to the incident (its number says it is one), under a clear name
  opsgate.itsm.attachment:
    number: "{{ incident.record.number }}"
    path: "{{ bundle_path }}"
    name: diagnostics.tar.gz

- name: Attach it by the incident's correlation id (then kind is needed)
  opsgate.itsm.attachment:
    kind: incident
    correlation_id: "web-tier-down"
    path: "{{ bundle_path }}"
    name: diagnostics.tar.gz

- name: List a change's attachments
  opsgate.itsm.attachment:
    number: "{{ change.record.number }}"
  register: files
"""

RETURN = r"""
attachment:
  description: The attachment written, or the one already there with the same content.
  returned: when O(path) is given
  type: dict
  contains:
    id:
      description: The backend's id of the attachment (none in check mode).
      type: str
    name:
      description: The attachment's name.
      type: str
    size:
      description: Size in bytes.
      type: int
    sha256:
      description: Lower-case hex SHA-256 of the content.
      type: str
    content_type:
      description: The MIME type.
      type: str
    created:
      description: When it was attached, ISO 8601 UTC.
      type: str
    url:
      description: Where to download it (ServiceNow) or its local reference.
      type: str
  sample:
    name: run.log
    size: 5321
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
attachments:
  description: Every attachment of the record after the task, oldest first, shaped like RV(attachment).
  returned: success
  type: list
  elements: dict
record:
  description: The change or incident, in the canonical shape of M(opsgate.itsm.change_request) or M(opsgate.itsm.incident).
  returned: success
  type: dict
diff:
  description: Attachment names and their SHA-256 before and after.
  returned: when O(path) is given
  type: dict
"""
