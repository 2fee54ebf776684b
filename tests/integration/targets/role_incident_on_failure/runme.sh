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
ITSM_CHANGE=$(cat "$WORK/change") ansible-playbook -i inventory.yml -f 4 fail.yml -e run=1 -e urgency=high
"$PYTHON" check.py "$ITSM_LOCAL_DB" "$(cat "$WORK/change")" 1
# Later runs differ in CI, urgency and change: a recurrence must not overwrite what the incident was raised with.
for run in 2 3; do
    ITSM_CHANGE=CHG9999999 ansible-playbook -i inventory.yml -f 4 fail.yml -e run=$run -e urgency=low
done
"$PYTHON" check.py "$ITSM_LOCAL_DB" "$(cat "$WORK/change")" 3
