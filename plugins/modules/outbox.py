#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: outbox
short_description: Send, list or purge the records the recorder callback could not deliver
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - The P(opsgate.itsm.recorder#callback) callback keeps what it could not deliver (the backend was down, a credential
    had expired) in an outbox, a local SQLite file or a table of a PostgreSQL database. This module sends those
    records, lists them, or removes them.
  - "O(action=flush) sends every pending item meant for the backend of this task's connection options, oldest
    first, each exactly once: an item that was already written (a reply lost on the way back) is recognised
    by its correlation id and marker and not written again. At the first error about the connection (an outage,
    refused credentials, a setting such as O(ca_path) that cannot be used, or an error nobody foresaw) the flush
    stops and the remaining items stay C(pending), each with the error that stopped it (RV(queued[].last_error)),
    to be sent by the next flush."
  - "An item the backend refuses for good, because sending it again as it is cannot succeed (the change it names
    does not exist, a value is refused, HTTP 400, 403, 404, 409 or 422), is kept as C(failed), marked
    RV(queued[].permanent) with the reason in RV(queued[].last_error). No flush sends it again unless
    O(retry_failed) is set; every flush counts those items (RV(permanent_failures)) and warns of them, naming each
    and why, until they are sent or purged."
  - O(action=list) returns the items with why each waits, O(action=purge) removes delivered items (or the items given
    by O(ids)).
  - Items are kept per target (backend and URL, or the C(local) database file); O(action=flush) only sends the
    items meant for this task's backend.
  - Carried out on the controller; the play's hosts are never contacted.
options:
  action:
    description: What to do with the outbox.
    type: str
    choices: [flush, list, purge]
    default: flush
  path:
    description:
      - The outbox file. If not set, the value of the C(ITSM_OUTBOX) environment variable is used (the same the
        recorder callback reads), else C(opsgate_itsm/outbox.sqlite) under the Ansible home.
      - "Or a PostgreSQL URL (C(postgresql://itsm@db.example.com/itsm)), as O(local_db) takes: the outbox is then the
        table C(outbox_items) of that database, where an AWX / Automation Platform job's recorder keeps what it could
        not deliver beyond the job's container. Its password comes from O(password) with the C(local) backend (as for
        O(local_db)), else from the URL, else from libpq (C(PGPASSWORD), a C(.pgpass) file). Needs the C(psycopg)
        Python package."
      - A file path has C(~) and C($VARS) expanded.
    type: str
  states:
    description:
      - With O(action=list), the states of the items returned (default C(pending) and C(failed)).
      - C(pending) items wait for the next flush; C(failed) items were refused for good and wait for a person.
      - With O(action=purge), the states of the items removed (default C(delivered)).
    type: list
    elements: str
    choices: [pending, delivered, failed]
  ids:
    description: With O(action=purge), remove exactly these items, whatever their state.
    type: list
    elements: str
  retry_failed:
    description: With O(action=flush), also send again the items the backend refused for good before (after fixing the cause).
    type: bool
    default: false
  all_targets:
    description:
      - With O(action=list) or O(action=purge), cover the items of every backend, not only the one of this
        task's connection options. O(action=flush) always sends only to this task's backend.
    type: bool
    default: false
notes:
  - "Items bound for C(jsm) are sent with the same guarantees as on the other backends (found by correlation id
    before a create, a recurrence counted once per run marker); a broken connection setting, such as an unreadable
    O(jsm_mapping) file, leaves them pending."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
attributes:
  check_mode:
    description: O(action=flush) lists what it would send; O(action=purge) lists what it would remove.
    support: full
  diff_mode:
    description: No diff is returned.
    support: none
seealso:
  - plugin: opsgate.itsm.recorder
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Deliver what the recorder could not
  opsgate.itsm.outbox:
  register: flushed

- name: Show what is still waiting, for every backend
  opsgate.itsm.outbox:
    action: list
    all_targets: true
  register: waiting

- name: Send again the items the backend refused, after fixing the cause
  opsgate.itsm.outbox:
    retry_failed: true

- name: Forget delivered items
  opsgate.itsm.outbox:
    action: purge

- name: Send what AWX jobs queued in a PostgreSQL outbox (the recorder's ITSM_OUTBOX)
  opsgate.itsm.outbox:
    path: "postgresql://itsm@db.example.com:5432/itsm?sslmode=verify-full"
"""

RETURN = r"""
path:
  description: The outbox file, or its PostgreSQL URL without the password.
  returned: always
  type: str
  sample: /home/ops/.ansible/opsgate_itsm/outbox.sqlite
target:
  description: The backend the items belong to (C(local:<database>) or C(<backend>:<url>)); null with O(all_targets).
  returned: always
  type: str
  sample: local:/home/ops/.ansible/opsgate_itsm/itsm.sqlite
queued:
  description: The items listed, or those still pending or failed after a flush (or that a flush in check mode would send).
  returned: when O(action) is C(list) or C(flush)
  type: list
  elements: dict
  contains:
    id:
      description: The item's unique id.
      type: str
    type:
      description: C(change), C(incident) or C(resolve).
      type: str
    description:
      description: What the item writes, in words (C(the end of change CHG0000012), C(incident 'Ansible task ...')).
      type: str
    state:
      description: C(pending) (the next flush sends it), C(failed) (refused for good) or C(delivered).
      type: str
    permanent:
      description:
        - Whether the backend refused the item for good (state C(failed)); no flush sends it again unless
          O(retry_failed) is set.
      type: bool
    last_error:
      description:
        - Why the item waits, the error of its last send (null when it was never tried); for a permanent failure,
          the reason the backend refused it.
      type: str
    attempts:
      description: How many flushes tried to send it since it was queued.
      type: int
    number:
      description: The change the item names (the recorder's O(opsgate.itsm.recorder#callback:change)), else null.
      type: str
    correlation_id:
      description: The correlation id the item finds or creates its record by.
      type: str
    target:
      description: The backend the item belongs to, as in RV(target).
      type: str
    created:
      description: When the item was queued (ISO 8601).
      type: str
    updated:
      description: When the item last changed (ISO 8601).
      type: str
    result:
      description: For a delivered item, what the delivery returned (as in RV(delivered)); else null.
      type: dict
    leased_until:
      description:
        - While a flush holds the item, when its lease ends (ISO 8601, UTC); else null. A flush renews its lease while
          it works; a flush that was killed gives the item back at this time.
      type: str
  sample:
    - id: "opsgate.itsm recorder attempt 1f0c9a7e5d3b4a21:incident:ansible-failure-9b1d..."
      type: incident
      description: 'incident "Ansible task ''Deploy'' failed on web1 (Web)"'
      state: pending
      permanent: false
      attempts: 1
      last_error: "local_db: /srv/itsm.sqlite stayed locked by other writers for the whole timeout of 30 seconds"
    - id: "opsgate.itsm recorder attempt 7c2e01d4a9b3f655:change:end"
      type: change
      description: the end of change CHG9999999
      state: failed
      permanent: true
      attempts: 1
      last_error: "change: CHG9999999 does not exist on the local backend (local:/home/ops/.ansible/opsgate_itsm/itsm.sqlite)"
permanent_failures:
  description:
    - How many items for this backend (of those listed, with O(action=list)) the backend refused for good, so that no
      flush sends them again unless O(retry_failed) is set; a flush warns of each with its reason.
  returned: when O(action) is C(list) or C(flush)
  type: int
  sample: 0
delivered:
  description:
    - "The items sent by this flush, with the record each wrote and its C(outcome), what happened to it: for an
      incident C(created), C(recurred) or C(unchanged); for a change C(created) or C(found) at the start of a run,
      and at its end C(closed successful), C(closed successful_issues), C(closed unsuccessful), C(moved to review) or
      C(left in <state>), after C(created and) when the flush created the change."
  returned: when O(action=flush)
  type: list
  elements: dict
  sample:
    - id: "opsgate.itsm recorder attempt 1f0c9a7e5d3b4a21:change:end"
      type: change
      number: CHG0000012
      outcome: created and closed unsuccessful
refused:
  description:
    - The items the backend refused for good during this flush (kept as C(failed)), each with its C(error).
    - Named C(failed) before; a non-empty C(failed) list made Ansible report the task as failed.
  returned: when O(action=flush)
  type: list
  elements: dict
remaining:
  description: How many items for this backend are still pending after the flush.
  returned: when O(action=flush)
  type: int
  sample: 0
leased:
  description:
    - How many of the items for this backend another flush holds (leased), so that this flush did not send them; the
      task warns when there are any, saying until when (RV(leased_until)).
    - A lease lasts 30 seconds and is renewed while its flush works, so the items of a flush that was killed
      (kill -9) are sent by the first flush after its lease ends.
  returned: when O(action=flush)
  type: int
  sample: 0
leased_until:
  description: When the last lease of RV(leased) ends (ISO 8601, UTC); null when RV(leased) is 0.
  returned: when O(action=flush)
  type: str
  sample: "2026-12-06T04:20:31Z"
other_targets:
  description:
    - Items this flush could not send because another backend or URL queued them, counted per target
      (C(backend:url) or C(local:path)); the task warns when there are any. Flush them with that connection.
  returned: when O(action=flush)
  type: dict
  sample: {"servicenow:https://example.service-now.com": 3}
purged:
  description: The ids of the items removed.
  returned: when O(action=purge)
  type: list
  elements: str
"""
