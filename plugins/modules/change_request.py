#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_request
short_description: Create, update, move through its lifecycle, close or cancel a change request
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Finds a change by O(number) or O(correlation_id) and creates it when neither matches, so a retried or
    repeated task never creates a second change.
  - Sets only the fields given, moves O(state) along the change model of the change's type, and appends
    O(work_notes) and O(comments) once (a re-run does not add the same note again).
  - "Change models: normal C(new -> assess -> authorize -> scheduled -> implement -> review -> closed);
    standard C(new -> scheduled -> implement -> review -> closed) (pre-approved); emergency
    C(new -> authorize -> scheduled -> implement -> review -> closed). Approvals, not this module, move a
    normal change from assess to authorize and on to scheduled (see M(opsgate.itsm.change_approval)).
    A change can be canceled from any state before review."
  - When O(state) is several steps ahead, the module walks the model one transition at a time; a state that
    cannot be reached fails before anything is written and names the states reachable from the current one,
    with every field the way there still lacks (O(close_code) and O(close_notes) to close, for example).
  - Every check that can refuse the task (names of groups, people and CIs on C(servicenow), the model, the
    fields a state needs, dates) is made before anything is written, so a refused task leaves the change and
    its affected CIs as they were. Check mode predicts the real run, O(configuration_items) included.
  - Carried out on the controller; the play's hosts are never contacted.
options:
  number:
    description:
      - The change's number, for example C(CHG0000042). The change must exist. An empty value is refused.
    type: str
  correlation_id:
    description:
      - An identifier of your own (a pipeline run, a deployment id). A change holding it is updated; when none
        does, a new change is created carrying it.
      - The open change holding it is used, even when closed or canceled changes hold it too; when none is
        open, the newest change holding it. Two open changes holding the same correlation id is an error.
      - Given with O(number), it is the change's new correlation id; one that another open change holds is
        refused, naming that change. An empty value is refused.
    type: str
  type:
    description:
      - The change model. Defaults to C(standard) when O(template) is given, else C(normal), on creation.
    type: str
    choices: [normal, standard, emergency]
  template:
    description:
      - Name of a standard change template whose values fill the fields not given. Only used on creation.
      - On the C(local) backend, define templates with M(opsgate.itsm.change_template).
    type: str
  state:
    description:
      - The state to move the change to.
      - C(closed) needs O(close_code) and O(close_notes) (given here or already on the change);
        entering C(assess) (normal) or C(authorize) (emergency) needs O(assignment_group).
    type: str
    choices: [new, assess, authorize, scheduled, implement, review, closed, canceled]
  short_description:
    description:
      - One-line summary. A new change needs one (or a O(template) that sets one); an empty one is refused.
    type: str
  description:
    description: Full description.
    type: str
  implementation_plan:
    description: How the change will be carried out.
    type: str
  backout_plan:
    description: How the change will be undone.
    type: str
  test_plan:
    description: How the change will be verified.
    type: str
  justification:
    description: Why the change is needed.
    type: str
  risk:
    description: Risk of the change.
    type: str
    choices: [very_high, high, moderate, low]
  impact:
    description: Impact of the change.
    type: str
    choices: [high, medium, low]
  assignment_group:
    description: The group responsible for the change.
    type: str
  assigned_to:
    description: The person responsible for the change.
    type: str
  requested_by:
    description: Who asked for the change.
    type: str
  start_date:
    description:
      - Planned start, ISO 8601 with a timezone (for example C(2026-11-24T22:00:00Z) or C(2026-11-24T23:00:00+01:00)).
        A date without a timezone is refused. Returned in UTC.
    type: str
  end_date:
    description:
      - Planned end, ISO 8601 with a timezone; not before O(start_date).
    type: str
  configuration_items:
    description:
      - Names of the configuration items the change affects. The list replaces the current set.
    type: list
    elements: str
  close_code:
    description: Outcome, required to close.
    type: str
    choices: [successful, successful_issues, unsuccessful]
  close_notes:
    description: Closing notes, required to close.
    type: str
  work_notes:
    description: A work note to append, once.
    type: str
  comments:
    description: A customer-visible comment to append, once.
    type: str
  fields:
    description:
      - Backend-specific fields as a dictionary of name to value, set as given.
    type: dict
  pipeline:
    description:
      - The CI pipeline this change comes from, so approvers and the change report see it.
      - V(true) reads it from the controller's environment, where the CI job runs C(ansible-playbook), from the same
        variables as the C(opsgate.itsm.recorder) callback (GitHub Actions, GitLab CI, Azure Pipelines, Jenkins,
        AWX / Automation Platform, and C(ITSM_PIPELINE_<KEY>); the notes list them per system). Only what is set
        is written, and no token or password variable is ever read.
      - A dictionary gives the values, with keys from C(system), C(repository), C(branch), C(commit),
        C(commit_time) (ISO 8601 with a timezone), C(url), C(run_number), C(triggered_by), C(job_id),
        C(job_template).
      - "The values go into the change's O(fields) as C(pipeline_<key>) (kept as columns by C(local), in the issue
        property C(opsgate.record) by C(jsm)) and a readable block at the end of its description (replacing an
        older one), which is where C(servicenow) keeps them: its C(change_request) table has no columns for them. A
        change made from a template keeps the template's description: the block goes into a work note when the
        change is created."
      - V(false) or left out writes none.
    type: raw
    version_added: 0.2.0
notes:
  - "On C(jsm) O(number) is the issue key (C(ITSM-42)). States, fields and option values go through the mapping
    (O(jsm_mapping)); the site's workflow holds the model, so a move it does not offer from the change's status is
    refused before anything is written, listing the transitions it offers, and a status the mapping does not map is
    an error listing the mapped ones."
  - "On C(jsm) O(work_notes) are internal comments and O(comments) public ones; O(assignment_group), O(assigned_to),
    O(requested_by), the close code and notes and O(fields) are kept in the issue property C(opsgate.record) as
    given (Jira has no field for them); O(template) is refused (Jira Service Management has no standard change
    templates); the affected CIs are Assets objects in the C(Affected objects) field."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
  - opsgate.itsm.attributes.check_mode_full
  - opsgate.itsm.attributes.diff_mode_full
  - opsgate.itsm.pipeline
seealso:
  - module: opsgate.itsm.change_request_info
  - module: opsgate.itsm.change_approval
  - module: opsgate.itsm.change_template
"""

EXAMPLES = r"""
- name: Open a normal change for this deployment (a re-run finds the same change)
  opsgate.itsm.change_request:
    correlation_id: "deploy-{{ release }}-{{ lookup('ansible.builtin.env', 'CI_PIPELINE_ID', default='manual') }}"
    short_description: "Deploy {{ release }} to production"
    assignment_group: Platform
    risk: moderate
    impact: medium
    start_date: "2026-11-24T22:00:00Z"
    end_date: "2026-11-24T23:30:00Z"
    implementation_plan: Rolling restart, one node at a time.
    backout_plan: Redeploy the previous release.
    configuration_items: "{{ ansible_play_hosts }}"
  register: change

- name: Ask for approval
  opsgate.itsm.change_request:
    number: "{{ change.record.number }}"
    state: assess

- name: Start work once approved and scheduled
  opsgate.itsm.change_request:
    number: "{{ change.record.number }}"
    state: implement
    work_notes: Deployment started.

- name: Close it with the outcome
  opsgate.itsm.change_request:
    number: "{{ change.record.number }}"
    state: closed
    close_code: successful
    close_notes: Deployed without incident.

- name: Open the change of this CI pipeline run, with its repository, commit and URL (read from the CI's variables)
  opsgate.itsm.change_request:
    correlation_id: "deploy-{{ lookup('ansible.builtin.env', 'CI_PIPELINE_ID', default='manual') }}"
    short_description: "Deploy {{ release }}"
    pipeline: true
  register: change

- name: Record a routine change from a standard template, straight to implement
  opsgate.itsm.change_request:
    template: Rotate TLS certificates
    correlation_id: "cert-rotation-{{ now(utc=true, fmt='%Y-%m-%d') }}"
    state: implement
"""

RETURN = r"""
record:
  description: The change as read back from the backend (approximate in check mode).
  returned: success
  type: dict
  contains:
    backend:
      description: The backend that holds the record.
      type: str
      sample: local
    id:
      description: The backend's identifier (ServiceNow sys_id, Jira key, local id). None in check mode on creation.
      type: str
      sample: 1f0c2d6e4b6a4cf1a2f1b6a1e0a0c0de
    number:
      description: The change number. None in check mode on creation.
      type: str
      sample: CHG0000042
    url:
      description: A link a person can open.
      type: str
    state:
      description: Lifecycle state.
      type: str
      sample: implement
    active:
      description: False once closed or canceled.
      type: bool
    opened_at:
      description: When the change was created, ISO 8601 UTC.
      type: str
    updated_at:
      description: When the record last changed, ISO 8601 UTC.
      type: str
    closed_at:
      description: When the change was closed or canceled, ISO 8601 UTC.
      type: str
    type:
      description: Change model.
      type: str
      sample: normal
    short_description:
      description: One-line summary.
      type: str
    description:
      description: Full description.
      type: str
    implementation_plan:
      description: How the change is carried out.
      type: str
    backout_plan:
      description: How the change is undone.
      type: str
    test_plan:
      description: How the change is verified.
      type: str
    justification:
      description: Why the change is needed.
      type: str
    risk:
      description: Risk (V(very_high), V(high), V(moderate), V(low)).
      type: str
    impact:
      description: Impact (V(high), V(medium), V(low)).
      type: str
    assignment_group:
      description: Group the record is assigned to.
      type: str
    assigned_to:
      description: Person the record is assigned to.
      type: str
    requested_by:
      description: Who asked for the change.
      type: str
    start_date:
      description: Planned start, ISO 8601 UTC.
      type: str
      sample: "2026-11-24T22:00:00Z"
    end_date:
      description: Planned end, ISO 8601 UTC.
      type: str
      sample: "2026-11-24T23:30:00Z"
    close_code:
      description: How the change was closed (V(successful), V(successful_issues), V(unsuccessful)); None while open.
      type: str
    close_notes:
      description: Closing notes.
      type: str
    correlation_id:
      description: The correlation id, if any.
      type: str
    approval:
      description: Approval status (V(not_requested), V(requested), V(approved), V(rejected)).
      type: str
      sample: approved
    template:
      description: The standard change template it was created from, if any.
      type: str
    configuration_items:
      description: Names of the affected configuration items.
      type: list
      elements: str
    fields:
      description: Backend-specific fields, as set with O(fields).
      type: dict
  sample:
    backend: local
    number: CHG0000042
    state: scheduled
    approval: approved
    type: normal
diff:
  description: The change before and after the task (its canonical fields).
  returned: success
  type: dict
  contains:
    before:
      description: The change before the task; empty when it was created.
      type: dict
    after:
      description: The change after the task.
      type: dict
"""
