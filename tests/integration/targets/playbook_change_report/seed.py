"""Fill a local store with changes, approvals and incidents for the report: python seed.py <local_db>."""

import sys

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

itsm = build_backend(ConnectionSettings(local_db=sys.argv[1], username="seed"))
window = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2099-01-01T00:00:00Z"}


def change(kind, code=None, state="closed", **fields):
    record = itsm.create("change", dict(type=kind, short_description=f"{kind} change", assignment_group="Ops",
                                        **window, **fields))
    if kind == "normal":
        record = itsm.transition("change", record, "assess")
        record = itsm.decide_approval(record, "tech.lead", "approved", "ok")
        record = itsm.decide_approval(record, "cab.chair", "approved", "ok")
    else:
        record = itsm.transition("change", record, "scheduled")
    record = itsm.transition("change", record, "implement")
    if state == "closed":
        record = itsm.transition("change", record, "review", {"close_code": code, "close_notes": "done"})
        record = itsm.transition("change", record, "closed")
    return record


good = change("normal", "successful")
bad = change("standard", "unsuccessful")
caused = change("standard", "successful")
issues = change("standard", "successful_issues")
change("standard", state="implement")
restored = itsm.create("incident", {"short_description": "broke after change", "caused_by": caused["number"]})
itsm.transition("incident", restored, "resolved", {"close_code": "solution_provided", "close_notes": "fixed"})
itsm.create("incident", {"short_description": "still broken", "caused_by": bad["number"], "impact": "high"})
print(good["number"], bad["number"], caused["number"], issues["number"])
