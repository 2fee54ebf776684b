"""Check the store after the runs: exactly one incident for the four hosts' failure, raised with the first
run's fields and noted once per later run. Usage: check.py DB CHANGE RUNS"""
import sqlite3
import sys

from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder

db, change, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
connection = sqlite3.connect(db)
connection.row_factory = sqlite3.Row
incidents = connection.execute("SELECT * FROM incidents").fetchall()
assert len(incidents) == 1, [dict(row) for row in incidents]
incident = dict(incidents[0])
failure = _recorder.Failure(playbook="fail.yml", play="Deploy the web tier", hosts="all",
                            task="Migrate the database", host="web1")
assert incident["correlation_id"] == _recorder.signature(failure)[1], (incident["correlation_id"], "recorder differs")
assert incident["caused_by"] == change, (incident["caused_by"], change)
assert incident["urgency"] == "high", incident["urgency"]
assert incident["configuration_item"] == "web1-1", incident["configuration_item"]
for host in ("web1", "web2", "web3", "web4"):
    assert host in incident["description"], (host, incident["description"])
notes = [row["text"] for row in connection.execute(
    "SELECT text FROM journal WHERE kind = 'incident' AND field = 'work_notes' ORDER BY seq")]
recurrences = [note for note in notes if note.startswith("Recurrence #")]
assert [note.split(":")[0] for note in recurrences] == [f"Recurrence #{n}" for n in range(2, runs + 1)], notes
host_notes = [note for note in notes if note.startswith("Failed on 4 host(s): web1, web2, web3, web4")]
assert len(host_notes) == runs - 1, notes
print(f"one incident {incident['number']}, {len(recurrences)} recurrence(s)")
