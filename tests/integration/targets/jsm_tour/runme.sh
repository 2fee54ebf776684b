#!/usr/bin/env bash
# The README's tour (playbooks/tour.yml) and `make demo`'s playbook (playbooks/deploy_with_change.yml) run
# unchanged with ITSM_BACKEND=jsm against the Jira Service Management simulator, with the README's command plus the
# simulator's approver logins (-e @tests/simulators/jsm/approver_logins.yml: Jira lets an approver answer only as
# themselves, so each approval is sent with its approver's own login):
#   1. the tour on Cloud (admin's API token) and on Data Center (admin's personal access token): the change asks
#      for approval (assess), the group's approver (the connection's user, admin) takes it to authorize, the CAB
#      (cab.approver, with their login) to scheduled; the gate waits for the window and moves it to implement; the
#      smoke test fails on web2 and the rescue raises an incident caused by the change; the change is closed
#      successful_issues; playbook_tour's check.yml reads the same records back as on local and ServiceNow (two
#      approvals); a second run (on Cloud) finds the release deployed and stops;
#   2. the demo playbook on Cloud, connected as its service account deploy-bot (its module_defaults name it):
#      the gate refuses while the change is in assess, tech.lead and cab.chair approve with their own logins, the
#      gate passes, one incident recurs, the change is closed; a second run stops.
# No approver's or connection's secret is printed, at -v either.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_jsm_simulator/simulator.sh
source "${HERE}/../setup_jsm_simulator/simulator.sh"
make_workdir jsm_tour
export ANSIBLE_NOCOLOR=1
unset ANSIBLE_CALLBACKS_ENABLED ITSM_CHANGE ITSM_USERNAME ITSM_PASSWORD ITSM_TOKEN ITSM_API_KEY ITSM_CLIENT_ID \
    ITSM_CLIENT_SECRET || true
export ITSM_BACKEND=jsm
LOGINS="tests/simulators/jsm/approver_logins.yml"
SECRETS=(admin-token admin-pat cab-token tech-lead-token cab-chair-token deploy-bot-token)

fail() { cat "$1"; echo "$2"; exit 1; }
expect() {  # expect LOG EXTENDED-REGEX: a line of the log matches
    grep -qE -- "$2" "$1" || fail "$1" "missing from $1: $2"
}
no_secret() {  # no_secret LOG: none of the simulator's secrets in LOG
    local secret
    for secret in "${SECRETS[@]}"; do
        ! grep -qF -- "${secret}" "$1" || fail "$1" "the secret ${secret} appears in $1"
    done
}
playbook() {  # playbook LOG PLAYBOOK [ARGS...]: the README's command, from the collection's root
    local log="$1" book="$2"
    shift 2
    (cd "${COLLECTION_ROOT}" && ansible-playbook -i playbooks/inventory "playbooks/${book}" -e "@${LOGINS}" "$@") \
        > "${log}" 2>&1 || fail "${log}" "${book} failed"
    no_secret "${log}"
}

tour() {  # tour FLAVOUR [once]: the tour twice (once: the first run only), on the simulator the ITSM_* variables name
    local log="${WORK}/tour-$1.log" rerun="${WORK}/tour-$1-rerun.log"
    echo "== the tour on jsm ($1)"
    playbook "${log}" tour.yml -v
    expect "${log}" '^changed: \[web1\] => \(item=admin\)'
    expect "${log}" '^changed: \[web1\] => \(item=cab.approver\)'
    expect "${log}" '^ITSM-[0-9]+ waiting for the window to open in [0-9]+s, 0s elapsed$'
    [ "$(grep -A1 -E '^ITSM-[0-9]+ waiting for the window' "${log}" | tail -n1 | cut -c1-15)" = "changed: [web1]" ] \
        || fail "${log}" "the gate did not pass right after its wait"
    expect "${log}" 'web2 does not answer on /healthz'
    expect "${log}" '"msg": "ITSM-[0-9]+ closed \(successful_issues\): Release 1.0 deployed. Incidents: ITSM-[0-9]+."'
    expect "${log}" '^web2 +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0 +skipped=0 +rescued=1'
    ansible-playbook -i localhost, -c local "${HERE}/../playbook_tour/check.yml" > "${WORK}/tour-$1-check.log" 2>&1 \
        || fail "${WORK}/tour-$1-check.log" "the records are not what the tour promises"
    [ "${2:-}" != once ] || return 0

    playbook "${rerun}" tour.yml
    expect "${rerun}" '"msg": "Release 1.0 was deployed under ITSM-[0-9]+ already; -e release=1.1 deploys the next one."'
    if grep -qE '^changed: |TASK \[Open the change' "${rerun}"; then fail "${rerun}" "the second run went on"; fi
}

start_jsm_simulator "${WORK}/sim-cloud" "${WORK}/sim-cloud" cloud
export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}" ITSM_USERNAME=admin ITSM_TOKEN=admin-token
tour cloud

echo "== make demo's playbook on jsm (cloud), as its service account deploy-bot"
# The demo's change names the play's host, localhost: a site has its CI, as the tour's first task registers its hosts.
ansible localhost -m opsgate.itsm.configuration_item -a "name=localhost ci_class=linux_server" \
    > "${WORK}/demo-ci.log" 2>&1 || fail "${WORK}/demo-ci.log" "could not register localhost"
DEMO="${WORK}/demo.log"
ITSM_TOKEN=deploy-bot-token DEMO_DIR="${WORK}/demo" playbook "${DEMO}" deploy_with_change.yml
expect "${DEMO}" '"msg": "ITSM-[0-9]+ is assess, approval requested"'
expect "${DEMO}" '"msg": "passed=False: ITSM-[0-9]+ did not pass the change gate: approval: waiting for approval in assess'
expect "${DEMO}" '^changed: \[localhost\] => \(item=tech.lead\)'
expect "${DEMO}" '^changed: \[localhost\] => \(item=cab.chair\)'
expect "${DEMO}" '"msg": "Smoke test 2 failed: ITSM-[0-9]+ updated \(recurrence\) for change ITSM-[0-9]+"'
expect "${DEMO}" '"Change   ITSM-[0-9]+: closed \(successful_issues\)"'
ITSM_TOKEN=deploy-bot-token DEMO_DIR="${WORK}/demo" playbook "${WORK}/demo-rerun.log" deploy_with_change.yml
expect "${WORK}/demo-rerun.log" 'Release 1.4.2 was already deployed under ITSM-[0-9]+ \(closed, successful_issues\)'

start_jsm_simulator "${WORK}/sim-datacenter" "${WORK}/sim-datacenter" datacenter
unset ITSM_USERNAME
export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}" ITSM_TOKEN=admin-pat
tour datacenter once
echo "jsm_tour: all checks passed"
