"""Fill a store with the changes, approvals, notes and incidents of the report: python seed.py <local_db | servicenow>.

Each record is written with the store's clock moved back (store.days_ago), so the report's periods, weeks, lead
times, approval waits and recovery times all have known, distinct values. The change gate's pass note is written
by the gate itself (its runner, on a clock moved back); recurrences by the backend's record_recurrence, as the
recorder does; the recorder's run changes carry the recorder's own correlation id and description.
check_report.py computes the expected figures from what the store holds, on its own.
"""

import datetime as dt
import sys

from store import days_ago, open_store

from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._records import format_datetime, utcnow
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import approvals as jsm_approvals
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate

WHERE = sys.argv[1]
itsm = open_store(WHERE, username="seed")
# The approvers of a normal change's two stages (the assignment group's, then the CAB's), users of the simulators'
# seeds as well as (any name) of a local store. Jira lets an approver answer only as themselves: on jsm each stage
# decides through a connection of its own (the simulator's seed tokens).
APPROVERS = {"servicenow": ("admin", "cab.approver"),
             "jsm": (("tech.lead", "tech-lead-token"), ("cab.chair", "cab-chair-token"))}.get(WHERE)
APPROVERS = APPROVERS or ("tech.lead", "cab.chair")
# Groups the simulators' seeds hold (any name on a local store).
OTHER_GROUP = {"servicenow": "Database"}.get(WHERE, "Platform")
HOUR = 1 / 24.0
MINUTE = HOUR / 60


def ago(days):
    return format_datetime(utcnow() - dt.timedelta(days=days))


def at(days):
    return days_ago(WHERE, days)


def opened(days, kind, group, summary=None, **fields):
    """A change opened ``days`` ago, its window from then to two days later."""
    with at(days):
        return itsm.create("change", dict(type=kind, short_description=summary or f"{kind} change",
                                          assignment_group=group, start_date=ago(days),
                                          end_date=ago(days - 2), **fields))


def move(days, record, state, fields=None):
    with at(days):
        return itsm.transition("change", record, state, fields or {})


def decide(days, record, stage, decision):
    """The approver of ``stage`` (0: the group's, 1: the CAB's) decides."""
    approver = APPROVERS[stage]
    with at(days):
        if WHERE != "jsm":
            return itsm.decide_approval(record, approver, decision, f"{decision} by {approver}")
        connected = open_store(WHERE, *approver)
        # Jira keeps no time per approver: the backend stamps a technical decision with the controller's clock,
        # moved back here as the site's is.
        real_clock, jsm_approvals.dt = jsm_approvals.dt, PastDatetime(days)
        try:
            me = jsm_approvals.user_id(connected.client, connected.client.myself())
            return connected.decide_approval(record, me, decision, f"{decision} by {approver[0]}")
        finally:
            jsm_approvals.dt = real_clock
            connected.close()


def close(days, record, code, notes="done"):
    record = move(days, record, "review", {"close_code": code, "close_notes": notes})
    return move(days, record, "closed")


def deploy(days_open, days_closed, record, code, notes="done"):
    """A standard change scheduled and implemented when opened, closed ``days_closed`` ago."""
    record = move(days_open, record, "scheduled")
    record = move(days_open, record, "implement")
    return close(days_closed, record, code, notes)


def from_pipeline(system, commit_days=None):
    """The description a pipeline's change carries: its CI block (module_utils/_pipeline.py), the form every
    backend can hold (servicenow keeps only this one)."""
    values = {"system": system, "repository": "opsgate/site", "commit": "0123abcd"}
    if commit_days is not None:
        values["commit_time"] = ago(commit_days)
    return pipeline.with_block("Deployed by the pipeline.", values)


class PastDatetime:
    """The ``datetime`` module as the jsm backend's approvals see it: its clock moved back ``days``."""

    timezone = dt.timezone
    timedelta = dt.timedelta

    def __init__(self, days):
        moment = utcnow() - dt.timedelta(days=days)

        class Moved(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

        self.datetime = Moved


class PastClock:
    """The change gate's clock, moved back like the store's."""

    def __init__(self, days):
        self.moment = utcnow() - dt.timedelta(days=days)

    def now(self):
        return self.moment

    def monotonic(self):
        return 0.0

    def sleep(self, seconds):
        raise AssertionError("the seed's gate does not wait")


def gate(days, record):
    """The change gate, run as a play runs it, passing the change and moving it to implement (its note)."""
    params = {name: spec.get("default") for name, spec in change_gate.ARGUMENT_SPEC.items()}
    params.update(number=record["number"], checks=["approval", "state", "window"], transition_to="implement")
    with at(days):
        result = change_gate.run(params, itsm, check_mode=False, warn=print, clock=PastClock(days))
    assert result.get("passed") and result.get("changed"), result
    return result["record"]


def refused(days, record, reasons):
    """The change gate, run as a play runs it with the checks ``reasons``, refusing the change on each of them: the
    refusal note it writes is what the report counts."""
    params = {name: spec.get("default") for name, spec in change_gate.ARGUMENT_SPEC.items()}
    params.update(number=record["number"], checks=list(reasons))
    with at(days):
        result = change_gate.run(params, itsm, check_mode=False, warn=print, clock=PastClock(days))
    failing = [check["name"] for check in result["checks"] if not check["passed"]]
    assert result.get("failed") and result.get("changed") and failing == list(reasons), result


def incident(days, summary, **fields):
    with at(days):
        return itsm.create("incident", dict(short_description=summary, **fields))


def resolve(days, record):
    with at(days):
        return itsm.transition("incident", record, "resolved", {"close_code": "solution_provided",
                                                                "close_notes": "fixed"})


def recorder_run(days, days_closed, run_id, gated, description):
    """A change the recorder opened for a run that named none (its correlation id), from a pipeline, ended with
    the recorder's word on whether a change gate ran in the run."""
    run = _recorder.Run(run_id=run_id, attempt=run_id + "-1", playbook="site.yml")
    with at(days):
        record = itsm.create("change", dict(type="standard", short_description=run.short_description(),
                                            description=description, correlation_id=run.correlation_id,
                                            assignment_group=OTHER_GROUP))
    return deploy(days, days_closed, record, "successful", "Ansible run site.yml finished: successful.\n"
                  + pipeline.gate_line(gated))


# Before both periods (more than 60 days ago): in neither.
deploy(70, 70, opened(70, "standard", "Network", "outside both periods"), "successful")

# The previous period (30 to 60 days ago).
old = deploy(40, 40, opened(40, "standard", "Network", "old failed change"), "unsuccessful")
resolve(39.5, incident(40, "old outage", caused_by=old["number"]))
old_normal = opened(45, "normal", "Network", "old normal change")
old_normal = move(45, old_normal, "assess")
for stage in (0, 1):
    old_normal = decide(44, old_normal, stage, "approved")
old_normal = move(43.5, old_normal, "implement")
close(43, old_normal, "successful")

# The period (the last 30 days): Network.
n1 = move(20, opened(20, "normal", "Network", "normal change, gated"), "assess")
n1 = decide(20 - 6 * HOUR, n1, 0, "approved")
n1 = decide(20 - 12 * HOUR, n1, 1, "approved")
n1 = gate(19, n1)
close(18.9, n1, "successful")
n2 = deploy(12, 11.5, opened(12, "standard", "Network", "unsuccessful change"), "unsuccessful")
incident(11.5, "still broken", caused_by=n2["number"], impact="high")
n3 = deploy(5, 5 - 40 * MINUTE, opened(5, "standard", "Network", "change that broke something"), "successful")
broke = incident(4.9, "broke after change", caused_by=n3["number"])
resolve(4.9 - 90 * MINUTE, broke)
n4 = deploy(3, 3 - 45 / 86400.0, opened(3, "standard", "Network", "change with issues",
                                        description=from_pipeline("jenkins")), "successful_issues")

# The period: Database.
p1 = opened(4.8, "emergency", OTHER_GROUP, f"Fix {broke['number']}", justification=f"{broke['number']} is open")
# JSM's workflow asks for approval from planning (its Request approval transition); the others from new.
p1 = move(4.8, move(4.8, p1, "assess") if WHERE == "jsm" else p1, "authorize")
# ServiceNow asks the Change Advisory Board (cab.approver); the local store takes any approver's decision.
p1 = decide(4.8 - 20 * MINUTE, p1, 1, "approved")
p1 = move(4.8 - 20 * MINUTE, p1, "implement")
close(4.7, p1, "successful")
p2 = move(8, opened(8, "normal", "Network", "rejected change"), "assess")
p2 = decide(7.9, p2, 0, "rejected")
refused(5.5, p2, ["approval", "window"])  # after its window ended
# Two recorder runs from pipelines that know their commit time: one with no change gate, one whose gate refused
# once before it passed.
recorder_run(2.2, 2.2 - 10 * MINUTE, "run-without-gate", False, from_pipeline("github_actions", 2.2 + HOUR))
p4 = recorder_run(1.5, 1.5 - 5 * MINUTE, "run-with-gate", True, from_pipeline("gitlab_ci", 1.5 + 30 * MINUTE))
refused(1.5, p4, ["state"])

# The recorder's incidents: one failure that recurred three times (a problem candidate), one that recurred once.
r1 = incident(6, "task failed on web01", correlation_id=_recorder.INCIDENT_CORRELATION_PREFIX + "aaaa")
for days in (5.5, 4.5, 3.5):
    with at(days):
        itsm.record_recurrence(r1, f"failed again {days} days ago")
r2 = incident(2.1, "task failed on db01", correlation_id=_recorder.INCIDENT_CORRELATION_PREFIX + "bbbb")
with at(2.05):
    itsm.record_recurrence(r2, "failed again")
print("seeded", WHERE)
