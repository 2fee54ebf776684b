#!/usr/bin/env bash
# The recorder callback and the incident_on_failure role against the Jira Service Management simulator, Cloud
# (username + API token) and Data Center (a personal access token):
#   1. a recorded run logged under a change approved by the CAB (ITSM_CHANGE): the change moved to implement at
#      the start, and at the end one recap comment and closed unsuccessful (Failed); the role raises one incident
#      for the failure two hosts share in a rescue, the recorder one per failure signature (a failed host, an
#      unreachable one), each caused by the change (a Causes link);
#   2. the same failures again under a second change: the three open incidents get a recurrence note each;
#   3. the change report playbook on jsm (Data Center, the last site) names those changes and incidents;
#   4. (Cloud) the site going down partway through a run: the change moved to implement at the start, its end
#      and the incident in the outbox; the site back on the same port with the same state dir: one flush of
#      playbooks/flush_outbox.yml ends that change and raises the incident, a second flush sends nothing.
#   5. (Data Center) a recorded run without ITSM_CHANGE: the recorder's own standard change walks the workflow's
#      pre-approved route, Open -> Awaiting implementation (scheduled) -> Implementing at the start, then Review ->
#      Failed (closed unsuccessful) at the end, with no warning.
# The admin's token must never be printed nor queued.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_jsm_simulator/simulator.sh
source "${HERE}/../setup_jsm_simulator/simulator.sh"
ROOT="${SIM_ROOT}"
PYTHON="${SIM_PYTHON}"
make_workdir jsm_recorder
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
unset JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID ITSM_RECORDER_RUN_ID ITSM_CHANGE ANSIBLE_CALLBACKS_ENABLED || true
unset ITSM_USERNAME ITSM_PASSWORD ITSM_TOKEN ITSM_API_KEY ITSM_CLIENT_ID ITSM_CLIENT_SECRET ITSM_RECORDER_CHANGE_TEMPLATE || true
export ITSM_BACKEND=jsm

fail() {
    echo "FAILED: $1"
    shift
    for log in "$@"; do echo "---- ${log}"; cat "${log}"; done
    exit 1
}

# The admin's secret in play must not show up in any output or in the outbox, nor its Basic header.
no_secret() {
    local file
    for file in "$@"; do
        ! grep -qF -- "${SECRET}" "${file}" || fail "the admin's secret appears in ${file}" "${file}"
        ! grep -qF -- "${AUTHORIZATION#* }" "${file}" || fail "the admin's authorization appears in ${file}" "${file}"
    done
}

# open_change NAME: a normal change for the recorder to attach to, approved by cab.approver; sets CHANGE to its key.
open_change() {
    # The token in a vars file: -e on the command line is printed at -vvvv (the secrets sweep).
    printf 'approver_token: "%s"\n' "${APPROVER_TOKEN}" > "${WORK}/$1-approver.yml"
    sweep_input "${WORK}/$1-approver.yml"
    ansible-playbook -i localhost, -c local "${HERE}/open.yml" -e "correlation_id=jsm-recorder-$1" \
        -e "change_file=${WORK}/$1.change" -e "approver_name=${APPROVER}" -e "approver_user=${APPROVER_USER}" \
        -e "@${WORK}/$1-approver.yml" > "${WORK}/$1-open.log" 2>&1 \
        || fail "could not open change $1" "${WORK}/$1-open.log"
    CHANGE="$(cat "${WORK}/$1.change")"
}

# recorded NAME PLAYBOOK CHANGE EXPECTED_RC: a run of PLAYBOOK with the recorder logging it under CHANGE.
recorded() {
    local rc=0
    ITSM_CHANGE="$3" ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder \
        ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/$2" > "${WORK}/$1.log" 2>&1 || rc=$?
    [ "${rc}" -eq "$4" ] || fail "$1 exited ${rc}, expected $4" "${WORK}/$1.log"
    ! grep -Eq "Traceback|Callback dispatch failed|Failed to load callback" "${WORK}/$1.log" \
        || fail "the recorder broke in $1" "${WORK}/$1.log"
}

# flush NAME COUNT: playbooks/flush_outbox.yml sends COUNT records and leaves none pending (its log: WORK/NAME.log).
flush() {
    ansible-playbook "${ROOT}/playbooks/flush_outbox.yml" -v > "${WORK}/$1.log" 2>&1 || fail "$1 failed" "${WORK}/$1.log"
    grep -q "\"sent $2, refused 0, still pending 0\"" "${WORK}/$1.log" || fail "$1 did not send $2" "${WORK}/$1.log"
}

for flavour in cloud datacenter; do
    start_jsm_simulator "${WORK}/sim-${flavour}" "${WORK}/sim-${flavour}" "${flavour}" --seed-assets 8
    export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}" ITSM_OUTBOX="${WORK}/outbox-${flavour}.sqlite"
    if [ "${flavour}" = cloud ]; then
        SECRET=admin-token APPROVER=cab.approver@opsgate.example APPROVER_USER=cab.approver APPROVER_TOKEN=cab-token
        export ITSM_USERNAME=admin ITSM_TOKEN="${SECRET}"
        AUTHORIZATION="Basic $(printf 'admin:%s' "${SECRET}" | base64)"
    else
        SECRET=admin-pat APPROVER=cab.approver APPROVER_USER="" APPROVER_TOKEN=cab-pat
        unset ITSM_USERNAME || true
        export ITSM_TOKEN="${SECRET}"
        AUTHORIZATION="Bearer ${SECRET}"
    fi
    check() { "${PYTHON}" "${HERE}/check.py" "${ITSM_URL}" "${ITSM_CA_PATH}" "${AUTHORIZATION}" "$@"; }

    echo "== ${flavour} 1. a recorded run under an approved change: closed unsuccessful, three incidents caused by it"
    open_change "${flavour}-1"
    FIRST="${CHANGE}"
    recorded "${flavour}-run1" run.yml "${FIRST}" 4
    grep -qF "opsgate.itsm.recorder: ${FIRST} found, now implement" "${WORK}/${flavour}-run1.log" \
        || fail "run 1 did not move ${FIRST} to implement" "${WORK}/${flavour}-run1.log"
    grep -Eq "opsgate\.itsm\.recorder: change ${FIRST} closed unsuccessful; incident ITSM-[0-9]+ created; incident ITSM-[0-9]+ created$" \
        "${WORK}/${flavour}-run1.log" || fail "run 1 did not report its change and two new incidents" "${WORK}/${flavour}-run1.log"
    ! grep -q "WARNING.*recorder" "${WORK}/${flavour}-run1.log" || fail "run 1 warned" "${WORK}/${flavour}-run1.log"
    check "{\"changes\": [\"${FIRST}\"], \"recurrences\": 0}" || fail "run 1 records" "${WORK}/${flavour}-run1.log"
    no_secret "${WORK}/${flavour}-run1.log"

    echo "== ${flavour} 2. the same failures under a second change: a recurrence note on each open incident"
    open_change "${flavour}-2"
    SECOND="${CHANGE}"
    recorded "${flavour}-run2" run.yml "${SECOND}" 4
    grep -Eq "opsgate\.itsm\.recorder: change ${SECOND} closed unsuccessful; incident ITSM-[0-9]+ recurred; incident ITSM-[0-9]+ recurred$" \
        "${WORK}/${flavour}-run2.log" || fail "run 2 did not update the two incidents" "${WORK}/${flavour}-run2.log"
    check "{\"changes\": [\"${FIRST}\", \"${SECOND}\"], \"recurrences\": 1}" || fail "run 2 records" "${WORK}/${flavour}-run2.log"
    no_secret "${WORK}/${flavour}-run2.log"
done

echo "== 3. the change report on jsm (Data Center) names the runs' changes and incidents"
ansible-playbook "${ROOT}/playbooks/change_report.yml" -e "report_path=${WORK}/report.html" > "${WORK}/report.log" 2>&1 \
    || fail "the change report failed" "${WORK}/report.log"
for key in ${FIRST} ${SECOND}; do
    grep -qF ">${key}<" "${WORK}/report.html" || fail "the report does not name ${key}" "${WORK}/report.log"
done
[ "$(grep -oE '>ITSM-[0-9]+<' "${WORK}/report.html" | sort -u | wc -l)" -ge 5 ] \
    || fail "the report names fewer than the 2 changes and 3 incidents" "${WORK}/report.log"
no_secret "${WORK}/report.log" "${WORK}/report.html"

echo "== 4. the site goes down partway through a run; back with the same data, the outbox ends the run's change"
start_jsm_simulator "${WORK}/sim-midrun" "${WORK}/sim-midrun" cloud --seed-assets 8
PORT="${URL##*:}"
SECRET=admin-token APPROVER=cab.approver@opsgate.example APPROVER_USER=cab.approver APPROVER_TOKEN=cab-token
export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}" ITSM_OUTBOX="${WORK}/outbox-midrun.sqlite" ITSM_USERNAME=admin ITSM_TOKEN="${SECRET}"
AUTHORIZATION="Basic $(printf 'admin:%s' "${SECRET}" | base64)"
open_change midrun
MIDRUN="${CHANGE}"
DOWN="${WORK}/midrun-down"
# The recorder's own short budget (no retry, 5 s a request) keeps the end of the run quick while the site is down.
ITSM_CHANGE="${MIDRUN}" ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder ITSM_RECORDER_RETRIES=0 ITSM_RECORDER_TIMEOUT=5 \
    ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/midrun.yml" -e down_marker="${DOWN}" > "${WORK}/midrun.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
    grep -q "TASK \[Wait until the site is down\]" "${WORK}/midrun.log" && break
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.5
done
stop_jsm_simulator
touch "${DOWN}"
rc=0; wait "${pid}" || rc=$?
[ "${rc}" -eq 2 ] || fail "the mid-run outage run exited ${rc}, expected 2 (a host failed)" "${WORK}/midrun.log"
grep -qF "opsgate.itsm.recorder: ${MIDRUN} found, now implement" "${WORK}/midrun.log" \
    || fail "the mid-run outage run did not move its change to implement at the start" "${WORK}/midrun.log"
grep -qF "opsgate.itsm.recorder: 2 records queued in the outbox ${ITSM_OUTBOX} because the jsm backend failed" \
    "${WORK}/midrun.log" || fail "the mid-run outage run did not queue its change's end and the incident" "${WORK}/midrun.log"
! grep -Eq "opsgate\.itsm\.recorder: (change|incident) |Traceback" "${WORK}/midrun.log" \
    || fail "the mid-run outage run claims a delivery at its end, or broke" "${WORK}/midrun.log"
no_secret "${WORK}/midrun.log" "${ITSM_OUTBOX}"

# The same site back: the same port and state dir (its data, with the change the run moved to implement).
start_jsm_simulator "${WORK}/sim-midrun-back" "${WORK}/sim-midrun" cloud --port "${PORT}"
[ "${URL}" = "${ITSM_URL}" ] || fail "the simulator came back at ${URL}, not ${ITSM_URL}"
flush midrun-flush1 2
flush midrun-flush2 0
"${PYTHON}" "${HERE}/check.py" "${ITSM_URL}" "${ITSM_CA_PATH}" "${AUTHORIZATION}" \
    "{\"changes\": [\"${MIDRUN}\"], \"recurrences\": 0, \"midrun\": true}" || fail "records after the flush" "${WORK}/midrun-flush1.log"
no_secret "${WORK}/midrun-flush1.log" "${WORK}/midrun-flush2.log" "${ITSM_OUTBOX}"

echo "== 5. without ITSM_CHANGE: the run's own standard change, new -> scheduled -> implement -> review -> closed"
start_jsm_simulator "${WORK}/sim-own" "${WORK}/sim-own" datacenter --seed-assets 8
SECRET=admin-pat AUTHORIZATION="Bearer admin-pat"
unset ITSM_USERNAME || true
export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}" ITSM_OUTBOX="${WORK}/outbox-own.sqlite" ITSM_TOKEN="${SECRET}"
rc=0
ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" \
    > "${WORK}/own.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || fail "the run with its own change exited ${rc}, expected 4" "${WORK}/own.log"
OWN="$(sed -nE 's/.*opsgate\.itsm\.recorder: (ITSM-[0-9]+) created, now implement.*/\1/p' "${WORK}/own.log" | head -n1)"
[ -n "${OWN}" ] || fail "the run did not open its own change and move it to implement" "${WORK}/own.log"
grep -Eq "opsgate\.itsm\.recorder: change ${OWN} closed unsuccessful; incident ITSM-[0-9]+ created; incident ITSM-[0-9]+ created$" \
    "${WORK}/own.log" || fail "the run did not close its own change" "${WORK}/own.log"
! grep -Eq "WARNING.*recorder|Traceback" "${WORK}/own.log" || fail "the run with its own change warned" "${WORK}/own.log"
"${PYTHON}" "${HERE}/walk.py" "${ITSM_URL}" "${ITSM_CA_PATH}" "${AUTHORIZATION}" "${OWN}" \
    "Open,Awaiting implementation,Implementing,Review,Failed" || fail "the own change's walk" "${WORK}/own.log"
no_secret "${WORK}/own.log" "${ITSM_OUTBOX}"
echo "jsm_recorder: all checks passed"
