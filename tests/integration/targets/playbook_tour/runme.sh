#!/usr/bin/env bash
# The README's 60-second tour, playbooks/tour.yml, run unchanged with the README's command on the local backend
# and then on the ServiceNow simulator. Each time: the change is opened, the gate waits (the change's window opens
# 15 s after it was opened) and then passes, moving the change to implement; the smoke test fails on web2 and the
# rescue raises an incident linked to the change; the change is closed successful_issues. A second run finds the
# release deployed and stops without a change. On local, the next run after one stopped at the gate finishes it.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source "${HERE}/../setup_servicenow_simulator/simulator.sh"
make_workdir playbook_tour
export ANSIBLE_NOCOLOR=1
unset ANSIBLE_CALLBACKS_ENABLED ITSM_CHANGE || true

fail() { cat "$1"; echo "$2"; exit 1; }
expect() {  # expect LOG EXTENDED-REGEX: a line of the log matches
    grep -qE -- "$2" "$1" || fail "$1" "missing from $1: $2"
}

tour() {  # tour LOG: the README's command, from the collection's root
    (cd "${COLLECTION_ROOT}" && ansible-playbook -i playbooks/inventory playbooks/tour.yml) > "$1" 2>&1 \
        || fail "$1" "the tour failed"
}

story() {  # story NAME: run the tour twice against the backend the ITSM_* variables name, check both runs
    local log="${WORK}/$1.log" rerun="${WORK}/$1-rerun.log"
    echo "== tour on $1"
    tour "${log}"
    # The gate waited for the window, then passed and moved the change on (its task's result follows the wait).
    expect "${log}" '^CHG[0-9]+ waiting for the window to open in [0-9]+s, 0s elapsed$'
    [ "$(grep -A1 -E '^CHG[0-9]+ waiting for the window' "${log}" | tail -n1 | cut -c1-15)" = "changed: [web1]" ] \
        || fail "${log}" "the gate did not pass right after its wait"
    expect "${log}" '^fatal: \[web2\]: FAILED!'
    expect "${log}" 'web2 does not answer on /healthz'
    expect "${log}" '"msg": "CHG[0-9]+ closed \(successful_issues\): Release 1.0 deployed. Incidents: INC[0-9]+."'
    expect "${log}" '^web2 +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0 +skipped=0 +rescued=1'
    ansible-playbook -i localhost, -c local "${HERE}/check.yml" > "${WORK}/$1-check.log" 2>&1 \
        || fail "${WORK}/$1-check.log" "the records are not what the tour promises"

    tour "${rerun}"
    expect "${rerun}" '"msg": "Release 1.0 was deployed under CHG[0-9]+ already; -e release=1.1 deploys the next one."'
    if grep -qE '^changed: |TASK \[Open the change' "${rerun}"; then fail "${rerun}" "the second run went on"; fi
}

ITSM_BACKEND=local ITSM_LOCAL_DB="${WORK}/itsm.db" story local
# A run stopped at the gate left the change open: the next run goes on with it (no second change, no second
# approval request) and finishes.
ITSM_BACKEND=local ITSM_LOCAL_DB="${WORK}/resumed.db" ansible-playbook -i localhost, -c local "${HERE}/halfway.yml" \
    > "${WORK}/halfway.log" 2>&1 || fail "${WORK}/halfway.log" "could not leave a change halfway"
ITSM_BACKEND=local ITSM_LOCAL_DB="${WORK}/resumed.db" story resumed

start_simulator "${WORK}/sim" "${WORK}/sim" 0
ITSM_BACKEND=servicenow ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim/cert.pem" ITSM_USERNAME=admin ITSM_PASSWORD="${SN_PASSWORD}" \
    story servicenow
