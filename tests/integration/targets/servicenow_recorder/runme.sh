#!/usr/bin/env bash
# The recorder callback and the change_control / incident_on_failure roles against the ServiceNow simulator:
#   1. a recorded run (rescued failure, failing host, unreachable host): a standard change from the template,
#      closed unsuccessful with the recap note; one incident per failure signature, caused by the change;
#   2. the same failures again: a second change, the open incidents get a recurrence note each;
#   3. the instance down during a run: same exit code, a warning, the records in the outbox; the instance
#      back on the same URL: flush_outbox.yml sends them once, a second flush sends nothing;
#   4. roles.yml: change_control (open, approvals, gate, close) and incident_on_failure in a rescue;
#   5. the instance going down partway through a run: the change opened at the start, the end of the run (recap,
#      close, incident) in the outbox; the instance back with the same data: one flush ends that same change and
#      raises the incident caused by it, a second flush sends nothing;
#   6. a ca_path that does not exist: a warning naming it (no traceback, no "Callback dispatch failed"), the run's
#      records in the outbox; with the right ca_path one flush sends them (issue 12).
#   7. issue 19: a run from a GitLab pipeline with problem_after: a problem per recurring signature, the pipeline in
#      the change (its recap note: the change is made from a template), the job token nowhere.
# The recorder authenticates with OAuth (client credentials); its client secret must never be printed.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source "${HERE}/../setup_servicenow_simulator/simulator.sh"
ROOT="${SIM_ROOT}"
make_workdir servicenow_recorder
PYTHON="${SIM_PYTHON}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
unset JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID ITSM_RECORDER_RUN_ID ITSM_CHANGE ITSM_TOKEN ITSM_API_KEY || true

# start_recorder_simulator STATE_DIR PORT: the seeded CIs (8) the inventories name, on PORT (0: a free one).
start_recorder_simulator() {
    start_simulator "${WORK}/sim-$(basename "$1")" "$1" "$2" --seed-cmdb 8
}

fail() {
    echo "FAILED: $1"
    shift
    for log in "$@"; do echo "---- ${log}"; cat "${log}"; done
    exit 1
}

# The client secret is the credential in play: it must not show up in any output or in the outbox.
SECRET=opsgate-secret
no_secret() {
    local file
    for file in "$@"; do
        ! grep -q -- "${SECRET}" "${file}" || fail "the client secret appears in ${file}" "${file}"
    done
}

start_recorder_simulator "${WORK}/sim" 0
export ITSM_BACKEND=servicenow ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim/cert.pem"
export ITSM_CLIENT_ID=opsgate ITSM_CLIENT_SECRET="${SECRET}"
unset ITSM_USERNAME ITSM_PASSWORD || true
export ITSM_OUTBOX="${WORK}/outbox.sqlite"
export ITSM_RECORDER_CHANGE_TEMPLATE="Patch Linux servers - 1"
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
check() { "${PYTHON}" "${HERE}/check.py" "${ITSM_URL}" "${ITSM_CA_PATH}" "$@"; }
CHANGE_RE='opsgate\.itsm\.recorder: CHG[0-9]{7} created, now implement'
# flush NAME COUNT: playbooks/flush_outbox.yml sends COUNT records and leaves none pending (its log: WORK/NAME.log).
flush() {
    ansible-playbook "${ROOT}/playbooks/flush_outbox.yml" -v > "${WORK}/$1.log" 2>&1 || fail "$1 failed" "${WORK}/$1.log"
    grep -q "\"sent $2, refused 0, still pending 0\"" "${WORK}/$1.log" || fail "$1 did not send $2" "${WORK}/$1.log"
}

echo "== 1. a recorded run: the play fails (a host failed, one unreachable), the exit code is ansible's"
rc=0; ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" > "${WORK}/run1.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || fail "run 1 exited ${rc}, expected 4" "${WORK}/run1.log"
grep -Eq "${CHANGE_RE}" "${WORK}/run1.log" || fail "run 1 did not open its change in implement" "${WORK}/run1.log"
grep -Eq "opsgate\.itsm\.recorder: change CHG[0-9]{7} closed unsuccessful; incident INC[0-9]{7} created; incident INC[0-9]{7} created$" \
    "${WORK}/run1.log" || fail "run 1 did not report its change and two new incidents" "${WORK}/run1.log"
! grep -q "WARNING.*recorder" "${WORK}/run1.log" || fail "run 1 warned" "${WORK}/run1.log"
check recorder '{"changes": 1, "recurrences": 0}' || fail "run 1 records" "${WORK}/run1.log"
no_secret "${WORK}/run1.log"

echo "== 2. the same failures again: a second change, a recurrence note on each open incident"
rc=0; ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" > "${WORK}/run2.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || fail "run 2 exited ${rc}, expected 4" "${WORK}/run2.log"
grep -Eq "opsgate\.itsm\.recorder: change CHG[0-9]{7} closed unsuccessful; incident INC[0-9]{7} recurred; incident INC[0-9]{7} recurred$" \
    "${WORK}/run2.log" || fail "run 2 did not update the two incidents" "${WORK}/run2.log"
check recorder '{"changes": 2, "recurrences": 1}' || fail "run 2 records" "${WORK}/run2.log"
no_secret "${WORK}/run2.log"

echo "== 3. the instance is down during a run: a warning, the same exit code, the records in the outbox"
PORT="${URL##*:}"
stop_simulator
rc=0; ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" > "${WORK}/run3.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || fail "run 3 exited ${rc}, expected 4" "${WORK}/run3.log"
grep -q "opsgate.itsm.recorder could not reach the servicenow backend at the start of the run" "${WORK}/run3.log" \
    || fail "run 3 did not warn at the start" "${WORK}/run3.log"
grep -q "opsgate.itsm.recorder: 3 records queued in the outbox ${ITSM_OUTBOX} because the servicenow backend failed" \
    "${WORK}/run3.log" || fail "run 3 did not queue its change and two incidents" "${WORK}/run3.log"
! grep -Eq "opsgate\.itsm\.recorder: (CHG|change )" "${WORK}/run3.log" || fail "run 3 claims a delivery" "${WORK}/run3.log"
no_secret "${WORK}/run3.log" "${ITSM_OUTBOX}"

# The instance is back on the same URL (a new one, so what is on it afterwards came from the outbox).
# The outbox keeps items per backend URL and only sends them there.
start_recorder_simulator "${WORK}/sim-back" "${PORT}"
[ "${URL}" = "${ITSM_URL}" ] || fail "the simulator came back at ${URL}, not ${ITSM_URL}"
export ITSM_CA_PATH="${WORK}/sim-back/cert.pem"
unset ANSIBLE_CALLBACKS_ENABLED
flush flush1 3
flush flush2 0
check recorder '{"changes": 1, "recurrences": 0, "change_named_by": "correlation_id"}' || fail "records after the flush" "${WORK}/flush1.log"
no_secret "${WORK}/flush1.log" "${WORK}/flush2.log" "${ITSM_OUTBOX}"

echo "== 4. the change_control and incident_on_failure roles (the recorder off)"
ansible-playbook -i "${HERE}/roles_inventory.yml" "${HERE}/roles.yml" > "${WORK}/roles.log" 2>&1 \
    || fail "roles.yml failed" "${WORK}/roles.log"
check roles '{"clean": "sn-roles-clean", "rescued": "sn-roles-rescued", "rescued_code": "successful_issues",
              "hosts": ["lnxd000003", "lnxp000001", "winp000004", "wint000002"], "failed_host": "wint000002",
              "play": "A deployment whose failure on one host a rescue records"}' || fail "roles records" "${WORK}/roles.log"
no_secret "${WORK}/roles.log"

echo "== 5. the instance goes down partway through a run; back with the same data, the outbox ends the run's change"
# A fresh instance, so every record on it comes from this run; the simulator keeps its data in its state dir.
stop_simulator
start_recorder_simulator "${WORK}/sim-midrun" 0
PORT="${URL##*:}"
export ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim-midrun/cert.pem" ITSM_OUTBOX="${WORK}/outbox-midrun.sqlite"
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
DOWN="${WORK}/midrun-down"
# The recorder's own short budget (no retry, 5 s a request) keeps the end of the run quick while the instance is down.
ITSM_RECORDER_RETRIES=0 ITSM_RECORDER_TIMEOUT=5 ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/midrun.yml" \
    -e down_marker="${DOWN}" > "${WORK}/midrun.log" 2>&1 &
pid=$!
# The change is opened before the first task: once the play waits, the instance goes down, then the play goes on.
for _ in $(seq 1 240); do
    grep -q "TASK \[Wait until the instance is down\]" "${WORK}/midrun.log" && break
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.5
done
stop_simulator
touch "${DOWN}"
rc=0; wait "${pid}" || rc=$?
[ "${rc}" -eq 2 ] || fail "the mid-run outage run exited ${rc}, expected 2 (a host failed)" "${WORK}/midrun.log"
CHANGE="$(grep -Eo "${CHANGE_RE}" "${WORK}/midrun.log" | grep -Eo 'CHG[0-9]{7}' || true)"
[ -n "${CHANGE}" ] || fail "the mid-run outage run did not open its change at the start" "${WORK}/midrun.log"
grep -qF "opsgate.itsm.recorder: 2 records queued in the outbox ${ITSM_OUTBOX} because the servicenow backend failed" \
    "${WORK}/midrun.log" || fail "the mid-run outage run did not queue its change's end and the incident" "${WORK}/midrun.log"
! grep -Eq "could not reach the servicenow backend at the start|Failure using method|Traceback" "${WORK}/midrun.log" \
    || fail "the recorder failed at the start or broke" "${WORK}/midrun.log"
! grep -Eq "opsgate\.itsm\.recorder: (change|incident) " "${WORK}/midrun.log" \
    || fail "the mid-run outage run claims a delivery at its end" "${WORK}/midrun.log"
check outbox "{\"path\": \"${ITSM_OUTBOX}\", \"change\": \"${CHANGE}\"}" || fail "the outbox after the outage" "${WORK}/midrun.log"
no_secret "${WORK}/midrun.log" "${ITSM_OUTBOX}"

# The same instance back: the same URL and the same state dir (its data, with the change the run opened).
start_recorder_simulator "${WORK}/sim-midrun" "${PORT}"
[ "${URL}" = "${ITSM_URL}" ] || fail "the simulator came back at ${URL}, not ${ITSM_URL}"
unset ANSIBLE_CALLBACKS_ENABLED
flush midrun-flush1 2
flush midrun-flush2 0
check midrun "{\"change\": \"${CHANGE}\"}" || fail "records after the mid-run flush" "${WORK}/midrun-flush1.log"
no_secret "${WORK}/midrun-flush1.log" "${WORK}/midrun-flush2.log" "${ITSM_OUTBOX}"

echo "== 6. a ca_path that does not exist: a warning naming it, the run's records in the outbox; the right one sends them"
stop_simulator
start_recorder_simulator "${WORK}/sim-capath" 0
export ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim-capath/cert.pem" ITSM_OUTBOX="${WORK}/outbox-capath.sqlite"
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
MISSING="${WORK}/no-such-dir/ca.pem"
rc=0; ITSM_CA_PATH="${MISSING}" ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" > "${WORK}/capath.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || fail "the run with a missing ca_path exited ${rc}, expected 4" "${WORK}/capath.log"
grep -qF "opsgate.itsm.recorder cannot use the servicenow backend (ca_path: ${MISSING} does not exist; expected a PEM file" \
    "${WORK}/capath.log" || fail "no warning naming ca_path at the start" "${WORK}/capath.log"
grep -qF "opsgate.itsm.recorder: 3 records queued in the outbox ${ITSM_OUTBOX} because the servicenow backend failed: ca_path: ${MISSING} does not exist" \
    "${WORK}/capath.log" || fail "the run's change and two incidents were not queued" "${WORK}/capath.log"
! grep -Eq "Callback dispatch|Traceback|suitable TLS CA certificate bundle" "${WORK}/capath.log" \
    || fail "the recorder broke on the missing ca_path" "${WORK}/capath.log"
no_secret "${WORK}/capath.log" "${ITSM_OUTBOX}"
unset ANSIBLE_CALLBACKS_ENABLED
flush capath-flush1 3
flush capath-flush2 0
check recorder '{"changes": 1, "recurrences": 0, "change_named_by": "correlation_id"}' || fail "records after the ca_path flush" "${WORK}/capath-flush1.log"
no_secret "${WORK}/capath-flush1.log" "${WORK}/capath-flush2.log" "${ITSM_OUTBOX}"
echo "== 7. issue 19: a run from a GitLab pipeline with problem_after 2: each signature that failed again raises its problem"
# The instance holds the two incidents of the run flushed in 6; this run fails the same way once more.
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder ITSM_RECORDER_PROBLEM_AFTER=2
rc=0; GITLAB_CI=true CI_PROJECT_PATH=acme/shop CI_COMMIT_SHA=0123456789abcdef CI_PIPELINE_ID=5150 \
    CI_COMMIT_TIMESTAMP=2026-12-01T10:15:30Z CI_PIPELINE_URL=https://gitlab.example.com/acme/shop/-/pipelines/5150 \
    CI_JOB_TOKEN=glcbt-sn-job-token ansible-playbook -i "${HERE}/inventory.yml" "${HERE}/run.yml" > "${WORK}/problem.log" 2>&1 \
    || rc=$?
unset ANSIBLE_CALLBACKS_ENABLED ITSM_RECORDER_PROBLEM_AFTER
[ "${rc}" -eq 4 ] || fail "the problem run exited ${rc}, expected 4" "${WORK}/problem.log"
grep -Eq "problem PRB[0-9]{7} created; .*problem PRB[0-9]{7} created$" "${WORK}/problem.log" \
    || fail "the problem run did not raise two problems" "${WORK}/problem.log"
! grep -q glcbt-sn-job-token "${WORK}/problem.log" || fail "the CI job token was printed" "${WORK}/problem.log"
no_secret "${WORK}/problem.log"
"${PYTHON}" - <<'PY' || fail "the problems or the pipeline on ServiceNow" "${WORK}/problem.log"
import os
from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request_info
backend = build_backend(ConnectionSettings(backend="servicenow", url=os.environ["ITSM_URL"],
                                           ca_path=os.environ["ITSM_CA_PATH"], client_id="opsgate",
                                           client_secret=os.environ["ITSM_CLIENT_SECRET"]))
problems = list(backend.find("problem", {}))
incidents = list(backend.find("incident", {}))
assert len(problems) == 2 and sorted(i["problem"] for i in incidents) == sorted(p["number"] for p in problems), \
    (problems, incidents)
for problem in problems:
    assert "hunter2" not in problem["description"], problem["description"]
    [note] = [entry["text"] for entry in backend.journal("problem", problem)]
    assert note.startswith("Change CHG") and " failed: Ansible task " in note, note
# The run's change is made from a template: its pipeline is in its recap note, which read() finds with the notes.
[change] = [record for record in change_request_info.with_notes(backend, "change", list(backend.find("change", {})))
            if "5150" in str(record.get("notes"))]
values = pipeline.read(change)
assert (values["commit"], values["commit_time"]) == ("0123456789abcdef", "2026-12-01T10:15:30Z"), values
assert values["gate_used"] is False and values["system"] == "gitlab_ci", values
assert "glcbt-sn-job-token" not in str(change), change
print("problems", [p["number"] for p in problems], "pipeline", values)
PY

echo "servicenow_recorder: all checks passed"
