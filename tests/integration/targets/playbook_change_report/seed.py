"""Fill a store with changes, approvals and incidents for the report: python seed.py <local_db | servicenow>."""

import sys

from store import REPORT_DAYS, days_ago, open_store

itsm = open_store(sys.argv[1], username="seed")
# Users and groups that exist in the simulator's seed as well as (any name) in a local store.
APPROVERS = ("admin", "cab.approver") if sys.argv[1] == "servicenow" else ("tech.lead", "cab.chair")
window = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2099-01-01T00:00:00Z"}


def change(kind, code=None, state="closed", **fields):
    record = itsm.create("change", dict(type=kind, short_description=f"{kind} change", assignment_group="Network",
                                        **window, **fields))
    if kind == "normal":
        record = itsm.transition("change", record, "assess")
        for approver in APPROVERS:
            record = itsm.decide_approval(record, approver, "approved", "ok")
    else:
        record = itsm.transition("change", record, "scheduled")
    record = itsm.transition("change", record, "implement")
    if state == "closed":
        record = itsm.transition("change", record, "review", {"close_code": code, "close_notes": "done"})
        record = itsm.transition("change", record, "closed")
    return record


# Opened before the report's period: a failed change and the incident it caused, resolved only now. The report
# must leave both out (counted in, they would move the change failure rate and the mean time to restore).
with days_ago(sys.argv[1], REPORT_DAYS + 10):
    old = change("standard", "unsuccessful")
    old_incident = itsm.create("incident", {"short_description": "old outage", "caused_by": old["number"]})
itsm.transition("incident", old_incident, "resolved", {"close_code": "solution_provided", "close_notes": "fixed"})
good = change("normal", "successful")
bad = change("standard", "unsuccessful")
caused = change("standard", "successful")
issues = change("standard", "successful_issues")
change("standard", state="implement")
restored = itsm.create("incident", {"short_description": "broke after change", "caused_by": caused["number"]})
itsm.transition("incident", restored, "resolved", {"close_code": "solution_provided", "close_notes": "fixed"})
itsm.create("incident", {"short_description": "still broken", "caused_by": bad["number"], "impact": "high"})
print(good["number"], bad["number"], caused["number"], issues["number"], "older:", old["number"], old_incident["number"])
