#!/usr/bin/env bash
# Event-Driven Ansible for real: ansible-rulebook (with its Java rules engine) runs the opsgate.itsm.change_events
# source on the local backend. playbooks/submit_change.yml opens the release's change and ends; the rulebook is
# started; two approvers approve; the source reports "approved" and the rule runs playbooks/deploy_approved_change.yml
# with the change as itsm_change, which passes the gate, deploys and closes the change. The checkpoint is 0600.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_collection/collection.sh
source "${HERE}/../setup_collection/collection.sh"
make_workdir eda_change_events
unset ANSIBLE_CALLBACKS_ENABLED ITSM_URL ITSM_USERNAME ITSM_PASSWORD ITSM_TOKEN || true
export ANSIBLE_NOCOLOR=1 ITSM_BACKEND=local ITSM_LOCAL_DB="${WORK}/itsm.db" DEMO_DIR="${WORK}"
ANSIBLE_COLLECTIONS_PATH="$(dirname "$(dirname "$(dirname "${COLLECTION_ROOT}")")")"
export ANSIBLE_COLLECTIONS_PATH
PLAYBOOKS="${COLLECTION_ROOT}/playbooks"
RULEBOOK_PID=""
cleanup() { [ -z "${RULEBOOK_PID}" ] || kill "${RULEBOOK_PID}" 2>/dev/null || true; }
on_exit cleanup
fail() { echo "FAILED: $1"; shift; for log in "$@"; do echo "---- ${log}"; cat "${log}"; done; exit 1; }

ansible-playbook -i "${PLAYBOOKS}/inventory" "${PLAYBOOKS}/submit_change.yml" > "${WORK}/submit.log" 2>&1 \
    || fail "submit_change.yml failed" "${WORK}/submit.log"
grep -q "approval requested; the deployment starts when it is approved" "${WORK}/submit.log" \
    || fail "the change was not submitted" "${WORK}/submit.log"

printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: "%s"\n' \
    "$(command -v python)" > "${WORK}/inventory.yml"
printf 'checkpoint: %s\nplaybook: %s\n' "${WORK}/state/checkpoint.json" "${PLAYBOOKS}/deploy_approved_change.yml" \
    > "${WORK}/vars.yml"
ansible-rulebook -r "${HERE}/rulebook.yml" -i "${WORK}/inventory.yml" --print-events -e "${WORK}/vars.yml" \
    > "${WORK}/rulebook.log" 2>&1 &
RULEBOOK_PID=$!
for _ in $(seq 1 600); do
    [ -f "${WORK}/state/checkpoint.json" ] && break
    kill -0 "${RULEBOOK_PID}" 2>/dev/null || fail "ansible-rulebook stopped" "${WORK}/rulebook.log"
    sleep 0.1
done
[ "$(stat -c %a "${WORK}/state/checkpoint.json")" = 600 ] || fail "the checkpoint is not 0600"

for approver in tech.lead cab.chair; do
    ansible localhost -i "${PLAYBOOKS}/inventory" -m opsgate.itsm.change_approval \
        -a "correlation_id=deploy-1.4.2 approver=${approver} decision=approved" > "${WORK}/approve.log" 2>&1 \
        || fail "approving as ${approver} failed" "${WORK}/approve.log"
done

for _ in $(seq 1 1200); do
    kill -0 "${RULEBOOK_PID}" 2>/dev/null || break
    sleep 0.1
done
kill -0 "${RULEBOOK_PID}" 2>/dev/null && fail "the rulebook did not shut down after the approval" "${WORK}/rulebook.log"
wait "${RULEBOOK_PID}" || fail "ansible-rulebook failed" "${WORK}/rulebook.log"
RULEBOOK_PID=""
grep -q "'event': 'approved'" "${WORK}/rulebook.log" || fail "no approved event" "${WORK}/rulebook.log"
grep -q 'Change CHG0000001: closed (successful)' "${WORK}/rulebook.log" \
    || fail "the deployment did not run and close the change" "${WORK}/rulebook.log"
grep -q 'Release 1.4.2' "${WORK}/www/index.html" || fail "the site was not deployed"
echo "eda_change_events: the approval launched the deployment, which closed CHG0000001"
