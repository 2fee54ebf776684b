#!/usr/bin/env bash
# The incident_on_failure role in a play whose four hosts fail the same task at once: one incident with the
# recorder's signature, linked to the change in ITSM_CHANGE; each later run adds one recurrence note and
# leaves the incident's CI, urgency, description and change as they were raised.
set -eux
cd "$(dirname "$0")"
# shellcheck source=../setup_collection/collection.sh
source ../setup_collection/collection.sh
make_workdir role_incident_on_failure
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite" ITSM_USERNAME=tester
unset ANSIBLE_CALLBACKS_ENABLED ITSM_CHANGE || true
ansible-playbook setup.yml -e change_file="$WORK/change"
ITSM_CHANGE=$(cat "$WORK/change") ansible-playbook -i inventory.yml -f 4 fail.yml -e run=1 -e urgency=high \
    > "$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; exit 1; }
cat "$WORK/run1.log"
# The groups the role loops over are lists: ansible-core 2.19 warns about groupby's named tuples in a loop's items.
if grep -n 'GroupTuple' "$WORK/run1.log"; then echo "the role's loop items make ansible-core warn"; exit 1; fi
"$PYTHON" check.py "$ITSM_LOCAL_DB" "$(cat "$WORK/change")" 1
# Later runs differ in CI, urgency and change: a recurrence must not overwrite what the incident was raised with.
for run in 2 3; do
    ITSM_CHANGE=CHG9999999 ansible-playbook -i inventory.yml -f 4 fail.yml -e run=$run -e urgency=low
done
"$PYTHON" check.py "$ITSM_LOCAL_DB" "$(cat "$WORK/change")" 3
# problem_after 3 (issue 19): the fourth failure (past three) raises the signature's problem, linked from the incident,
# its statement the incident's description, a note naming the change of the run; a fifth run adds one note.
for run in 4 5; do
    ITSM_CHANGE=CHG000000$run ansible-playbook -i inventory.yml -f 4 fail.yml -e run=$run -e urgency=low -e problem_after=3 \
        > "$WORK/problem$run.log" 2>&1 || { cat "$WORK/problem$run.log"; exit 1; }
done
"$PYTHON" check.py "$ITSM_LOCAL_DB" "$(cat "$WORK/change")" 5
"$PYTHON" - "$ITSM_LOCAL_DB" <<'PY'
import sys
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
backend = build_backend(ConnectionSettings(local_db=sys.argv[1]))
[incident] = list(backend.find("incident", {}))
[problem] = list(backend.find("problem", {}))
assert incident["problem"] == problem["number"], (incident, problem)
assert problem["correlation_id"] == incident["correlation_id"].replace("ansible-failure-", "ansible-problem-")
assert problem["description"] == incident["description"] and "Migrate the database" in problem["short_description"]
notes = [entry["text"] for entry in backend.journal("problem", problem)]
assert [note.split(" failed:")[0] for note in notes] == ["Change CHG0000004", "Change CHG0000005"], notes
assert all("Failed on 4 host(s): web1, web2, web3, web4" in note for note in notes), notes
PY

# A check that registered its result instead of failing (failed_when: false) is recorded outside a rescue
# section: one incident for the two hosts whose check failed, with the key the recorder gives a failure of that
# task, and no error in the output. The hosts are no CIs of this store: the incident is raised without one.
ITSM_LOCAL_DB="$WORK/check.sqlite" ansible-playbook -i inventory.yml -f 4 check_result.yml > "$WORK/check.log" 2>&1 \
    || { cat "$WORK/check.log"; exit 1; }
cat "$WORK/check.log"
if grep -nE '\[ERROR\]|\[WARNING\]|FAILED!' "$WORK/check.log"; then echo "recording a registered check showed an error"; exit 1; fi
grep -q "incident_on_failure: configuration_item: local_db .* has no configuration item named 'web2'; the incident is raised without a configuration item" \
    "$WORK/check.log" || { echo "the role did not say it raised the incident without the unknown CI"; exit 1; }
"$PYTHON" check_result.py "$WORK/check.sqlite"

# Neither in a rescue section nor given a check: refused, saying how to use the role.
rc=0; ansible-playbook -i inventory.yml refuse.yml > "$WORK/refuse.log" 2>&1 || rc=$?
cat "$WORK/refuse.log"
[ "$rc" -eq 2 ] || { echo "the role ran without a failure to record (rc $rc)"; exit 1; }
grep -q 'outside a rescue section, give incident_on_failure_failed_task_name and incident_on_failure_failed_result' \
    "$WORK/refuse.log" || { echo "the refusal does not say how to use the role"; exit 1; }
