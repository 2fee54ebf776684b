#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: problem
short_description: Raise, update, analyse, resolve or close a problem, the cause behind recurring incidents
version_added: 0.2.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Finds a problem by O(number), or an open one (C(new), C(assess), C(root_cause_analysis) or C(fix_in_progress))
    by O(correlation_id), and creates one when neither matches. A re-run with the same values changes nothing.
  - A task that resolves or closes by O(correlation_id) (O(state=resolved) or V(closed)) finds the newest problem
    holding it when none is open, so a re-run changes nothing; when no problem holds it, the task is refused rather
    than creating a problem that is settled at once.
  - "Problem model (ServiceNow's): C(new) -> C(assess) -> C(root_cause_analysis) -> C(fix_in_progress) ->
    C(resolved) -> C(closed). Re-analysis takes a problem in C(fix_in_progress), C(resolved) or C(closed) back to
    C(root_cause_analysis) and clears its resolution. The task walks every step to O(state) on the shortest way
    its O(resolution_code) allows, and is refused, before anything is written, when a step lacks what it needs."
  - "Every state past C(new) needs O(assigned_to); C(fix_in_progress) needs O(cause_notes) and O(fix_notes);
    C(resolved) and C(closed) need O(resolution_code) and what the code needs: V(fix_applied) O(cause_notes) and
    O(fix_notes), V(risk_accepted) O(cause_notes) and O(close_notes), V(canceled) O(close_notes), V(duplicate)
    O(duplicate_of)."
  - "Which code ends a problem from where: V(fix_applied) resolves it from C(fix_in_progress); V(risk_accepted)
    resolves or closes it from C(root_cause_analysis) or C(fix_in_progress); V(canceled) and V(duplicate) close it
    from any state before C(resolved); a resolved problem is closed with the code it was resolved with."
  - O(incidents) links incidents to the problem (each incident's C(problem)); every one of them must exist, and is
    checked before anything is written. M(opsgate.itsm.incident) links one incident with its O(opsgate.itsm.incident#module:problem) option.
  - Priority is derived from O(impact) and O(urgency) with the ServiceNow matrix, as for incidents.
  - Carried out on the controller; the play's hosts are never contacted.
options:
  number:
    description: The problem's number, for example C(PRB0000042). The problem must exist. An empty value is refused.
    type: str
  correlation_id:
    description:
      - A stable key of what keeps failing (an incident signature, say). An open problem holding it is updated;
        otherwise a new problem is created carrying it.
      - Given with O(number), it is the problem's new correlation id; one that another open problem holds is
        refused, naming that problem. An empty value is refused.
    type: str
  state:
    description: The state to move the problem to, through every step between.
    type: str
    choices: [new, assess, root_cause_analysis, fix_in_progress, resolved, closed]
  short_description:
    description: One-line summary. A new problem needs one; an empty one is refused.
    type: str
  description:
    description: The problem statement.
    type: str
  impact:
    description: Impact; with O(urgency) it sets the priority.
    type: str
    choices: [high, medium, low]
  urgency:
    description: Urgency; with O(impact) it sets the priority.
    type: str
    choices: [high, medium, low]
  assignment_group:
    description: The group working on the problem.
    type: str
  assigned_to:
    description: The person working on the problem; required in every state past C(new).
    type: str
  configuration_item:
    description:
      - The configuration item the problem is about, by name. It must be a CI of the backend's CMDB, on C(local) too
        (register it with M(opsgate.itsm.configuration_item)); an unknown name is refused and nothing is written.
    type: str
  cause_notes:
    description: The root cause; required to enter C(fix_in_progress).
    type: str
  fix_notes:
    description: The fix, or how to make it; required to enter C(fix_in_progress).
    type: str
  workaround:
    description: How to get around the problem until it is fixed.
    type: str
  resolution_code:
    description: How the problem ended; required to resolve or close (see the description for what each code needs).
    type: str
    choices: [fix_applied, risk_accepted, canceled, duplicate]
  close_notes:
    description: Closing notes; required to end a problem whose risk is accepted or that is canceled.
    type: str
  duplicate_of:
    description: The number of the problem this one duplicates; required with O(resolution_code=duplicate). It must exist.
    type: str
  work_notes:
    description: A work note to append, once.
    type: str
  comments:
    description: A customer-visible comment to append, once.
    type: str
  incidents:
    description:
      - Numbers of incidents to link to the problem. Each must exist; incidents linked already are left alone, and
        an incident linked to another problem is moved to this one. Incidents not listed keep their link.
    type: list
    elements: str
  fields:
    description: Backend-specific fields as a dictionary of name to value, set as given.
    type: dict
notes:
  - "On C(servicenow) the record is a row of the C(problem) table and an incident's link is its C(problem_id)."
  - "On C(jsm) O(number) is the issue key; the problem is an issue of the mapping's C(problem) request type (the
    default mapping: Jira Service Management's C(Problem) issue type) and an incident's link is an issue link."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
seealso:
  - module: opsgate.itsm.problem_info
  - module: opsgate.itsm.incident
"""

EXAMPLES = r"""
- name: The incident of a failed restart
  opsgate.itsm.incident:
    correlation_id: "deploy.yml/web/Restart the service"
    short_description: "Restart of the web service failed on web01"
  register: incident

- name: Raise a problem for the failure that keeps coming back, linked to its incident
  opsgate.itsm.problem:
    correlation_id: "deploy.yml/web/Restart the service"
    short_description: "The web service fails to restart after each release"
    description: "Restart of the web service failed on web01 three times this week."
    impact: medium
    urgency: medium
    incidents:
      - "{{ incident.record.number }}"
  register: problem

- name: The cause is found; the fix is under way
  opsgate.itsm.problem:
    number: "{{ problem.record.number }}"
    state: fix_in_progress
    assigned_to: jdoe
    cause_notes: The unit file's stop timeout is shorter than the service's drain time.
    fix_notes: Raise TimeoutStopSec to 90 seconds.

- name: Resolve it once the fix is deployed
  opsgate.itsm.problem:
    number: "{{ problem.record.number }}"
    state: resolved
    resolution_code: fix_applied
    work_notes: Deployed with release 4.2; no failure since.
"""

RETURN = r"""
record:
  description: The problem as read back from the backend (approximate in check mode).
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
      description: The problem number.
      type: str
      sample: PRB0000042
    url:
      description: A link a person can open.
      type: str
    state:
      description: Lifecycle state.
      type: str
      sample: root_cause_analysis
    active:
      description: False once closed.
      type: bool
    opened_at:
      description: When the problem was created, ISO 8601 UTC.
      type: str
    updated_at:
      description: When the record last changed, ISO 8601 UTC.
      type: str
    closed_at:
      description: When the problem was closed, ISO 8601 UTC.
      type: str
    short_description:
      description: One-line summary.
      type: str
    description:
      description: The problem statement.
      type: str
    impact:
      description: Impact.
      type: str
    urgency:
      description: Urgency.
      type: str
    priority:
      description: Derived from impact and urgency.
      type: str
      sample: moderate
    assignment_group:
      description: Group the record is assigned to.
      type: str
    assigned_to:
      description: Person the record is assigned to.
      type: str
    configuration_item:
      description: Name of the configuration item the problem is about.
      type: str
    cause_notes:
      description: The root cause.
      type: str
    fix_notes:
      description: The fix.
      type: str
    workaround:
      description: The workaround.
      type: str
    resolution_code:
      description: How the problem ended (V(fix_applied), V(risk_accepted), V(canceled), V(duplicate)); None while open.
      type: str
    close_notes:
      description: Closing notes.
      type: str
    duplicate_of:
      description: The number of the problem this one duplicates.
      type: str
    correlation_id:
      description: The correlation id, if any.
      type: str
    fields:
      description: Backend-specific fields, as set with O(fields); C(resolved_at) once resolved.
      type: dict
linked_incidents:
  description: The numbers of the incidents this task linked to the problem (those linked already are not listed).
  returned: success
  type: list
  elements: str
  sample: [INC0000007]
diff:
  description: The problem before and after the task.
  returned: success
  type: dict
"""
