"""Check the store after check_result.yml: one incident for the two hosts whose registered check failed, keyed as the
recorder keys a failure of that task. Usage: check_result.py DB"""
import sqlite3
import sys

from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder

connection = sqlite3.connect(sys.argv[1])
connection.row_factory = sqlite3.Row
incidents = [dict(row) for row in connection.execute("SELECT * FROM incidents")]
assert len(incidents) == 1, incidents
incident = incidents[0]
failure = _recorder.Failure(playbook="check_result.yml", play="Check the web tier", hosts="all",
                            task="Check the health page", host="web2")
assert incident["correlation_id"] == _recorder.signature(failure)[1], (incident["correlation_id"], "recorder differs")
assert incident["short_description"] == "Ansible task 'Check the health page' failed on web2 and 1 more host(s) (Check the web tier)", \
    incident["short_description"]
assert "Failed on 2 host(s): web2, web3" in incident["description"], incident["description"]
assert "web2: non-zero return code" in incident["description"], incident["description"]
# web2 is no CI of this store: the incident is raised without a CI rather than refused (as the recorder does).
assert incident["configuration_item"] is None, incident["configuration_item"]
for host in ("web1", "web4"):
    assert host not in incident["description"], (host, incident["description"])
print(f"one incident {incident['number']} for the failed checks")
