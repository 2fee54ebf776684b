#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident
short_description: Open, update, resolve, close, reopen or cancel an incident, one per recurring failure
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Finds an incident by O(number), or an open one (C(new), C(in_progress) or C(on_hold)) by O(correlation_id),
    and creates one when neither matches.
  - A task that resolves, closes or cancels by O(correlation_id) (O(state=resolved), V(closed) or V(canceled))
    finds the newest incident holding it when none is open, so a re-run changes nothing; when no incident holds
    it, the task is refused rather than creating an incident that is settled at once. O(state=in_progress)
    reopens the newest incident holding the O(correlation_id) if it is resolved.
  - When an open incident already holds the O(correlation_id), the same failure has happened again; the module
    updates that incident and appends a work note counting the recurrence instead of opening another.
  - Priority is derived from O(impact) and O(urgency) with the ServiceNow matrix.
  - "Incident model: C(new), C(in_progress), C(on_hold) (needs O(hold_reason)), C(resolved) and C(closed)
    (need O(close_code) and O(close_notes)), C(canceled). Moving a resolved incident back to C(in_progress)
    reopens it."
  - Carried out on the controller; the play's hosts are never contacted.
options:
  number:
    description: The incident's number, for example C(INC0000042). The incident must exist. An empty value is refused.
    type: str
  correlation_id:
    description:
      - A stable key of the failure (for example playbook, play and task). An open incident holding it is
        updated; otherwise a new incident is created carrying it (see the description for resolving, closing,
        canceling and reopening by correlation id).
      - Given with O(number), it is the incident's new correlation id; one that another open incident holds is
        refused, naming that incident. An empty value is refused.
    type: str
  state:
    description: The state to move the incident to.
    type: str
    choices: [new, in_progress, on_hold, resolved, closed, canceled]
  short_description:
    description: One-line summary. A new incident needs one; an empty one is refused.
    type: str
  description:
    description: Full description.
    type: str
  impact:
    description: Impact; with O(urgency) it sets the priority.
    type: str
    choices: [high, medium, low]
  urgency:
    description: Urgency; with O(impact) it sets the priority.
    type: str
    choices: [high, medium, low]
  caller:
    description: Who reported the incident.
    type: str
  assignment_group:
    description: The group working on the incident.
    type: str
  assigned_to:
    description: The person working on the incident.
    type: str
  configuration_item:
    description:
      - The configuration item that failed, by name. It must be a CI of the backend's CMDB, on C(local) too
        (register it with M(opsgate.itsm.configuration_item)); an unknown name is refused and nothing is written.
    type: str
  caused_by:
    description: Number of the change that caused the incident. The change must exist.
    type: str
  problem:
    description:
      - Number of the problem the incident is an occurrence of (for example C(PRB0000042)), which links the incident
        to it (ServiceNow C(problem_id); on C(jsm) an issue link). The problem must exist. An empty value removes
        the link.
      - M(opsgate.itsm.problem) links many incidents at once with its O(opsgate.itsm.problem#module:incidents).
    type: str
  hold_reason:
    description: Why the incident is on hold; required for O(state=on_hold).
    type: str
    choices: [awaiting_caller, awaiting_problem, awaiting_vendor, awaiting_change]
  close_code:
    description: Resolution code; required to resolve or close.
    type: str
    choices: [duplicate, known_error, no_resolution_provided, resolved_by_caller, resolved_by_change,
              resolved_by_problem, resolved_by_request, solution_provided, workaround_provided]
  close_notes:
    description: Resolution notes; required to resolve or close.
    type: str
  work_notes:
    description: A work note to append, once.
    type: str
  comments:
    description: A customer-visible comment to append, once.
    type: str
  recurrence_note:
    description:
      - When an open incident is found by O(correlation_id), append a work note that counts the recurrence.
        Set to V(false) to update such an incident idempotently instead.
    type: bool
    default: true
  fields:
    description: Backend-specific fields as a dictionary of name to value, set as given.
    type: dict
  problem_after:
    description:
      - Raise a problem when the failure behind this incident (its O(correlation_id), the failure's signature) has
        happened this many times within O(problem_window) days, counting the incidents holding the id and their
        recurrence notes; while that problem is open, every later occurrence updates it. C(0) never does; C(1) is
        refused (a failure that happened once does not recur).
      - "One problem per signature (its correlation id is the incident's with C(ansible-problem-) in place of
        C(ansible-failure-), else prefixed with it), whose statement is the incident's description; the open incident
        is linked to it (its C(problem)) and each occurrence adds one work note, C(Change <caused_by> failed: <short
        description and work notes>) (C(A run without a change failed: ...) without O(caused_by)). The
        C(opsgate.itsm.incident_on_failure) role and the C(opsgate.itsm.recorder) callback use the same rule."
    type: int
    default: 0
    version_added: 0.2.0
  problem_window:
    description: The days back in which O(problem_after) counts the failure's occurrences.
    type: float
    default: 30
    version_added: 0.2.0
  problem_change:
    description:
      - The change this occurrence of the failure happened under, named in the problem's note (O(problem_after));
        by default the incident's O(caused_by), which a recurrence does not change.
    type: str
    version_added: 0.2.0
notes:
  - "On C(jsm) O(number) is the issue key (C(ITSM-42)); O(caused_by) is a C(Causes) issue link to the change and
    O(problem) a C(Problem/Incident) issue link to the problem;
    O(work_notes) are internal comments and O(comments) public ones. States, fields and values go through the
    mapping (O(jsm_mapping))."
  - "On C(local) and C(servicenow) each number N of C(Recurrence #N) is written once, however many forks or
    controllers record a recurrence of the incident at the same moment, and without gaps: C(local) counts it in the
    transaction that adds the note, C(servicenow) claims it (a C(sys_journal_field) row of element
    C(opsgate_recurrence), keyed on the incident and N) before the note; where the instance refuses the user that
    insert, the number is counted from the notes and a warning names the grant."
  - "On C(jsm) every recurrence increments a counter in the issue property C(opsgate.recurrence) (N of
    C(Recurrence #N) is the counter's), and the work note is added at a bounded rate whatever its text: for
    recurrences #2 to #5, then at most one an hour (saying how many recurrences went unnoted since the last note),
    and no more than 1,000 in all, so a failure recurring thousands of times stays far below Jira's per-issue comment
    cap. RV(recurred) is true for every recurrence counted, noted or not."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - module: opsgate.itsm.incident_info
  - module: opsgate.itsm.change_request
  - module: opsgate.itsm.problem
"""

EXAMPLES = r"""
- name: Raise an incident for a failed deployment step (a recurrence updates the same incident)
  opsgate.itsm.incident:
    correlation_id: "deploy.yml/web/Restart the service"
    short_description: "Restart of the web service failed on web01"
    description: "{{ ansible_failed_result.msg | default('unknown error') }}"
    impact: high
    urgency: medium
    configuration_item: web01
    caused_by: "{{ change.record.number }}"
  register: incident

- name: Resolve it
  opsgate.itsm.incident:
    number: "{{ incident.record.number }}"
    state: resolved
    close_code: solution_provided
    close_notes: Rolled back the release.

- name: Put an incident on hold while the vendor answers
  opsgate.itsm.incident:
    number: INC0000007
    state: on_hold
    hold_reason: awaiting_vendor
"""

RETURN = r"""
record:
  description: The incident as read back from the backend (approximate in check mode).
  returned: success
  type: dict
  contains:
    backend:
      description: The backend that holds the record.
      type: str
    id:
      description: The backend's identifier.
      type: str
    number:
      description: The incident number.
      type: str
      sample: INC0000042
    url:
      description: A link a person can open.
      type: str
    state:
      description: Lifecycle state.
      type: str
      sample: in_progress
    active:
      description: False once closed or canceled.
      type: bool
    opened_at:
      description: When the incident was created, ISO 8601 UTC.
      type: str
    updated_at:
      description: When the record last changed, ISO 8601 UTC.
      type: str
    closed_at:
      description: When the incident was closed or canceled, ISO 8601 UTC.
      type: str
    short_description:
      description: One-line summary.
      type: str
    description:
      description: Full description.
      type: str
    impact:
      description: Impact.
      type: str
    urgency:
      description: Urgency.
      type: str
    caller:
      description: Who reported the incident.
      type: str
    assignment_group:
      description: Group the record is assigned to.
      type: str
    assigned_to:
      description: Person the record is assigned to.
      type: str
    configuration_item:
      description: Name of the affected configuration item.
      type: str
    caused_by:
      description: Number of the change that caused it.
      type: str
    problem:
      description: Number of the problem the incident is linked to; None when it has none.
      type: str
      sample: PRB0000003
    hold_reason:
      description:
        - Why the incident is on hold (V(awaiting_caller), V(awaiting_problem), V(awaiting_vendor),
          V(awaiting_change)); None unless on hold.
      type: str
    close_code:
      description: How the incident was resolved (for example V(solution_provided), V(workaround_provided), V(duplicate)); None while open.
      type: str
    close_notes:
      description: Closing notes.
      type: str
    correlation_id:
      description: The correlation id, if any.
      type: str
    priority:
      description: Derived from impact and urgency.
      type: str
      sample: high
    reopen_count:
      description: How often the incident was reopened.
      type: int
    fields:
      description: Backend-specific fields, as set with O(fields).
      type: dict
recurred:
  description:
    - True when an open incident with the same correlation id was found and the recurrence recorded (a work note added;
      on C(jsm) the recurrence counted, its note added at a bounded rate).
  returned: success
  type: bool
problem:
  description:
    - With O(problem_after), the problem of the failure once raised (C(number)), what the task did to it (C(outcome),
      one of C(created), C(updated) or C(unchanged)) and how often the failure happened in the window
      (C(occurrences)); null while below the threshold.
  returned: when O(problem_after) is set and the incident is open
  type: dict
  version_added: 0.2.0
diff:
  description: The incident before and after the task.
  returned: success
  type: dict
"""
