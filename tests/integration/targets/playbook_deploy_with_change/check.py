"""Assert what deploy_with_change.yml and approve_change.yml left in a local store: python check.py <local_db>."""

import sys

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

backend = build_backend(ConnectionSettings(local_db=sys.argv[1]))
changes = {change["number"]: change for change in backend.find("change", {})}
incidents = list(backend.find("incident", {}))
errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


def approvals(number):
    return sorted((a["approver"], a["state"]) for a in backend.approvals(changes[number]))


deployed = changes["CHG0000001"]
check(len(changes) == 3, f"one change for the release and two for the CAB, not {sorted(changes)}")
check((deployed["state"], deployed["close_code"]) == ("closed", "successful_issues"),
      f"the release's change is {deployed['state']} ({deployed['close_code']}), expected closed (successful_issues)")
check(deployed["correlation_id"] == "demo-deploy-1.4.2", f"correlation id {deployed['correlation_id']}")
check(approvals("CHG0000001") == [("cab.chair", "approved"), ("tech.lead", "approved")],
      f"release approvals {approvals('CHG0000001')}")
notes = [note["text"] for note in backend.journal("change", deployed)]
check(any(note.startswith("Change gate passed") and "moving to implement" in note for note in notes),
      f"the gate's note on moving to implement is missing: {notes}")
check(len(incidents) == 1, f"one deduplicated incident, not {len(incidents)}")
if incidents:
    incident = incidents[0]
    check(incident["caused_by"] == "CHG0000001", f"the incident is caused by {incident['caused_by']}")
    recurrences = [n for n in backend.journal("incident", incident) if n["text"].startswith("Recurrence")]
    check(len(recurrences) == 1, f"the second failure adds one recurrence note, not {len(recurrences)}")
check((changes["CHG0000002"]["approval"], approvals("CHG0000002"))
      == ("approved", [("cab.chair", "approved"), ("tech.lead", "approved")]),
      f"CHG0000002: {changes['CHG0000002']['approval']} {approvals('CHG0000002')}")
check((changes["CHG0000003"]["approval"], approvals("CHG0000003")) == ("rejected", [("cab.member", "rejected")]),
      f"CHG0000003: {changes['CHG0000003']['approval']} {approvals('CHG0000003')}")
print("\n".join(errors) or "records as expected")
sys.exit(1 if errors else 0)
