#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_gate
short_description: Let a play go on only if its change is approved, scheduled, in its window and outside every freeze
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Checks a change request before the work it covers, and fails the task (or waits) when the play should not
    go on. Five checks, each of which can be turned off with O(checks) and each answering with a reason.
  - "C(approval): the change is approved. A rejection, or a change canceled while approval is pending, fails at
    once, quoting the approvers' comments. A change whose approval was never requested fails at once too,
    instead of waiting for an approval that will never come."
  - "C(state): the change is in one of O(allowed_states). A change already past them (for example in C(review),
    C(closed) or C(canceled)) fails at once."
  - "C(window): now is inside the change's planned start and end (ISO 8601 UTC; a missing start or end leaves
    that side open; a change with neither has no window). O(early_start) lets the work begin a little before
    the planned start. The message says how long until the window opens or how long ago it closed. A window
    that has closed fails at once."
  - "C(freeze): no freeze or blackout covers now, nor the rest of the planned window. Windows come from a
    policy file (O(policy) or O(policy_data)) and from the backend's own blackout schedules
    (O(backend_blackouts)). A freeze that lasts until the planned window closes fails at once: waiting cannot
    help, the change must be rescheduled."
  - "C(scope): every host the play touches is an affected configuration item of the change. Hosts are mapped to
    CI names through the host variable O(ci_name_var), falling back to the inventory name; names are compared
    without regard to case. Hosts outside the change are listed by name."
  - "With O(wait=true) the gate polls until every check passes, one fails for good, or O(wait_timeout) runs
    out. One poll is one round of backend requests; the delay between polls starts at O(interval) and grows,
    with jitter, up to O(max_interval). While it waits it prints, at normal verbosity, a progress line such as
    C(CHG0000042 waiting for approval, 2 of 3 approvers pending, 4m10s elapsed) when what it waits for
    changes, and otherwise once a minute. A wait that cannot succeed in time (the window opens after the
    timeout) stops at once."
  - With O(transition_to) the change is moved to that state when the gate passes, and the gate's verdict is
    written to the change as a work note.
  - "A gate that fails writes the refusal to the change as a work note, C(Change gate refused at <time>: window,
    approval.) and one line per failing check, unless the gate's last note on the change already names the same
    failing checks (a gate retried with C(until) notes each new answer once); the task then reports C(changed).
    The change report (C(playbooks/change_report.yml)) counts refusals by reason from these notes. Check mode
    writes nothing."
  - Without O(number) and O(correlation_id) only the freeze check runs, answering "is now inside a freeze?" for
    pipelines that do not open changes.
  - "The task runs on the controller; put C(run_once: true) on it so a play over many hosts polls once."
options:
  number:
    description: The change's number. An empty value is refused (leave it out to gate without a change).
    type: str
  correlation_id:
    description:
      - The correlation id of the change, instead of O(number). The open change holding it is gated, even when
        closed or canceled changes hold it too; when none is open, the newest change holding it.
      - An empty value is refused (leave it out to gate without a change).
    type: str
  checks:
    description:
      - Which checks run. Either a list of check names (only those run), or a dictionary of check name to
        C(true)/C(false) over the default of all five.
      - "Check names: C(approval), C(state), C(window), C(freeze), C(scope)."
      - Without a change only C(freeze) can run; the others are skipped.
    type: raw
  allowed_states:
    description:
      - States the change may be in. Defaults to C(scheduled) and C(implement).
    type: list
    elements: str
    choices: [new, assess, authorize, scheduled, implement, review, closed, canceled]
  early_start:
    description:
      - How long before the planned start the window check already passes. Seconds, or a duration such as
        C(10m) or C(1h30m).
    type: raw
    default: 0
  environment:
    description:
      - The environment the play deploys to, matched against the C(scope.environments) of policy windows.
      - A policy window scoped to environments applies when this is not given (a scoped freeze is never skipped
        because the environment was left out).
    type: str
  hosts:
    description:
      - The inventory hosts whose CIs must be affected CIs of the change, each mapped to its CI name through
        O(ci_name_var). Defaults to every host the play targets (C(ansible_play_hosts_all)). An empty list skips
        the scope check's host comparison.
    type: list
    elements: str
  ci_name_var:
    description:
      - The host variable holding a host's CI name; hosts without it, or with it empty, use their inventory name.
    type: str
    default: itsm_ci_name
  policy:
    description:
      - A freeze policy file (YAML). See the notes for its format. It is validated with jsonschema; an error names
        the file, the path inside it and the problem.
    type: path
  policy_data:
    description:
      - The same policy as O(policy), given inline. Quote times of day (V('22:00')), because YAML reads an
        unquoted 22:00 as a number.
    type: dict
  backend_blackouts:
    description:
      - Also check the backend's own blackout schedules (on C(local), the windows stored with the backend's
        C(put_blackout)).
      - On C(servicenow), the entries (C(cmn_schedule_span)) of blackout schedules decide when a blackout
        is, expanded in the schedule's time zone, every page of them read. A schedule with a C(condition)
        blocks only a change that it applies to, known from a C(conflict) row written at or after the
        change's last update and last conflict run, or else by running the condition (on its
        C(applies_to) table, default C(cmdb_ci)) against the change's affected CIs. That costs one more
        request per poll, only while such a schedule has an entry in range. Without a change, only
        schedules without a condition count. A repeating entry on a day some months or years lack (the
        31st, 29 February) is skipped in those months, not moved.
      - A blackout C(conflict) row never sets the times itself, and older rows are ignored. A current row
        stands for the whole planned window only when its schedule's entries cannot be read. Other
        conflict types are not used. C(ci_already_scheduled) means another change on the same CI, which
        is not a freeze. C(not_in_maintenance_window) is advice about the planned window, which the
        C(window) check already covers. Both stay visible in the change's C(conflict_status).
    type: bool
    default: true
  wait:
    description:
      - Poll until the gate passes, fails for good, or O(wait_timeout) runs out.
      - While waiting, a poll the backend cannot answer (an outage longer than one request's O(retries)) is
        reported in the progress lines and tried again; it fails the task only once O(wait_timeout) is spent.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long O(wait) may last. Seconds, or a duration such as C(45m) or C(2h).
      - Separate from the connection option O(timeout), which bounds each request.
    type: raw
    default: 1h
  interval:
    description: The first delay between polls. Seconds, or a duration such as C(30s) or C(1m).
    type: raw
    default: 15
  max_interval:
    description: The longest delay between polls; the delay grows by half after each poll up to this.
    type: raw
    default: 2m
  on_timeout:
    description:
      - What a wait that runs out of time does. C(fail) fails the task; C(warn) returns C(passed=false) with a
        warning and lets the play go on. A check that fails for good (rejected, canceled, window closed) always
        fails.
    type: str
    choices: [fail, warn]
    default: fail
  transition_to:
    description:
      - Move the change to this state when the gate passes (for example C(implement)), walking the change model,
        and write the verdict as a work note. Nothing happens when the change is already there.
    type: str
    choices: [new, assess, authorize, scheduled, implement, review, closed, canceled]
notes:
  - "Policy file format: a mapping with C(windows) (a list), an optional C(timezone) (IANA name, default UTC)
    and an optional C(version: 1). Each window has a unique C(name), an optional C(reason) and C(timezone), and
    exactly one of: C(start) and C(end) (a one-off window; ISO 8601, local to the window's timezone unless
    they carry an offset; a date alone is midnight); C(weekly) (C(days): C(mon) ... C(sun)); C(monthly)
    (C(days): 1 to 31, or -1 for the last day of the month to -31). Recurring windows take C(start) and
    C(end) (C(HH:MM), default the whole day, C(24:00) allowed as an end; an end not after the start is on the
    next day, so 22:00 to 06:00 spans midnight) or C(start) and C(duration) (such as C(8h) or C(2d12h))."
  - "A window may carry C(scope) (C(environments), C(ci_patterns) as shell-style patterns such as C(db-*),
    C(change_types)): it then applies only when every criterion given matches; a criterion the gate cannot
    know (no O(environment), no change) counts as matching. C(exempt_emergency: true) lets emergency changes
    through."
  - "Times are wall-clock times in the window's timezone, so a nightly window stays 22:00 to 06:00 local across
    DST changes. A local time that does not exist or happens twice on a DST day is read so the window only
    grows: it starts at the earlier reading and ends at the later one. C(duration) counts elapsed time."
  - Recurring windows are expanded up to 400 days ahead of now.
  - "On C(jsm) there are no blackout schedules of the backend's own: the freeze windows come from the policy file
    (O(policy) or O(policy_data)), and O(backend_blackouts) adds nothing. O(number) is the issue key, for example
    C(ITSM-42); the approval is the project workflow's approval step."
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.attributes
attributes:
  check_mode:
    description: Evaluates once, never waits and never transitions; reports C(changed) when it would transition.
      A failing check that a real run would wait for gives a warning instead of a failure.
    support: full
  diff_mode:
    description: Returns the change before and after when O(transition_to) moves it.
    support: full
seealso:
  - module: opsgate.itsm.change_request
  - module: opsgate.itsm.change_approval
"""

EXAMPLES = r"""
- name: Stop the play unless CHG0000042 allows it now
  opsgate.itsm.change_gate:
    number: CHG0000042
  run_once: true

- name: Wait up to two hours for approval and the window, then start the implementation
  opsgate.itsm.change_gate:
    number: "{{ change.record.number }}"
    wait: true
    wait_timeout: 2h
    interval: 30s
    early_start: 10m
    policy: "{{ playbook_dir }}/freezes.yml"
    environment: production
    transition_to: implement
  run_once: true

- name: Is now a freeze? (a pipeline that opens no change; the verdict is in freeze.passed)
  opsgate.itsm.change_gate:
    policy_data:
      windows:
        - name: year-end freeze
          start: "2026-12-20T00:00:00+01:00"
          end: "2027-01-04T00:00:00+01:00"
    environment: production
  run_once: true
  register: freeze
  ignore_errors: true

- name: Gate a standard change without the approval check, hosts named by their CMDB name
  opsgate.itsm.change_gate:
    correlation_id: "deploy-{{ release }}"
    checks: {approval: false}
    ci_name_var: cmdb_name
  run_once: true

- name: Inline policy (times quoted)
  opsgate.itsm.change_gate:
    number: CHG0000042
    policy_data:
      timezone: Europe/Paris
      windows:
        - name: nightly batch
          weekly: {days: [mon, tue, wed, thu, fri], start: "22:00", end: "06:00"}
        - name: year-end freeze
          reason: Financial close
          start: "2026-12-20"
          end: "2027-01-04"
          exempt_emergency: true
  run_once: true

# freezes.yml
# version: 1
# timezone: Europe/Paris
# windows:
#   - name: month-end close
#     monthly: {days: [-1], start: "18:00", duration: 30h}
#     scope: {environments: [production], ci_patterns: ["erp-*"]}
#   - name: Black Friday
#     start: 2026-11-27T00:00
#     end: 2026-11-30T23:59
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: false
checks:
  description: Every check that ran, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(approval), C(state), C(window), C(freeze) or C(scope).
      type: str
    passed:
      description: Whether it passed.
      type: bool
    message:
      description: The reason, in a sentence.
      type: str
  sample:
    - name: approval
      passed: false
      message: waiting for approval, 2 of 3 approvers pending (carol, dave)
    - name: window
      passed: true
      message: inside the planned window (2026-11-24T10:00:00Z to 2026-11-24T14:00:00Z), closes in 2h00m
record:
  description: The change as last read (after the transition, when there was one); null without a change.
  returned: always
  type: dict
  sample:
    number: CHG0000042
    state: implement
    approval: approved
waited:
  description: Seconds spent in the task, waiting included.
  returned: always
  type: float
  sample: 250.4
polls:
  description: How many rounds of backend requests the gate made.
  returned: always
  type: int
  sample: 9
timed_out:
  description: Whether the gate stopped waiting because of O(wait_timeout).
  returned: always
  type: bool
  sample: false
msg:
  description: One paragraph; when the gate fails, it names every failing check and its reason.
  returned: always
  type: str
  sample: >-
    CHG0000042 did not pass the change gate: approval: rejected by cab (comments: cab: "No backout plan");
    state: state is new, expected scheduled or implement.
diff:
  description: The change before and after the transition.
  returned: when O(transition_to) moved the change
  type: dict
ansible_stats:
  description:
    - "The gated change as a custom stat named C(itsm_change), as M(ansible.builtin.set_stats) would set it (not per
      host, not aggregated): C(number), C(id), C(state), C(approval), C(url) and C(verdict) (C(passed) or C(failed))."
    - AWX and Automation Platform make a job's custom stats its artifacts, which the following nodes of a workflow
      receive as the extra variable C(itsm_change). ansible-core keeps custom stats only from a task that did not
      fail, so a failed verdict is published only when the gate warns instead of failing (O(on_timeout=warn)).
  returned: when the gate read a change
  type: dict
  sample:
    data:
      itsm_change:
        number: CHG0000042
        id: 42
        state: implement
        approval: approved
        url: null
        verdict: passed
    per_host: false
    aggregate: false
"""
