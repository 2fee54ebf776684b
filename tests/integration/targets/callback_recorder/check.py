"""Assert the records the recorder left in a local store: python check.py <local_db> <expectation>."""

import json
import sys

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

db, expected = sys.argv[1], json.loads(sys.argv[2])
backend = build_backend(ConnectionSettings(local_db=db))
changes = list(backend.find("change", {}))
incidents = list(backend.find("incident", {}))
errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


check([c["close_code"] for c in changes] == expected["close_codes"],
      f"close codes {[c['close_code'] for c in changes]} != {expected['close_codes']}")
check(all(c["state"] == "closed" for c in changes), "every change is closed")
for change in changes:
    notes = [n["text"] for n in backend.journal("change", change)]
    check(len(notes) == 1, f"{change['number']} has one recap note, not {len(notes)}")
check(len(incidents) == expected["incidents"], f"{len(incidents)} incidents, expected {expected['incidents']}")
check(len({i["correlation_id"] for i in incidents}) == len(incidents), "one incident per signature")
for incident in incidents:
    notes = [n["text"] for n in backend.journal("incident", incident)]
    recurrences = [n for n in notes if n.startswith("Recurrence #")]
    check(len(recurrences) == expected["recurrences"],
          f"{incident['number']} has {len(recurrences)} recurrence notes, expected {expected['recurrences']}")
    check("hunter2" not in incident["description"] + "".join(notes), f"{incident['number']} leaks a secret")
    check(incident["caused_by"] == changes[0]["number"], f"{incident['number']} is caused by the first change")
summaries = sorted(i["short_description"] for i in incidents)
if incidents:
    check(summaries == ["Ansible task 'Fail on web2 with a secret' "
                        "failed on web2 (A run with a rescued failure, a failing host and an unreachable host)",
                        "Ansible task 'Ping every host' unreachable on ghost (A run with a rescued failure, a "
                        "failing host and an unreachable host)"], f"incident summaries: {summaries}")
if errors:
    sys.exit("FAILED: " + "; ".join(errors))
print(f"ok: {len(changes)} changes, {len(incidents)} incidents")
