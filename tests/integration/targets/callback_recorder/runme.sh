#!/usr/bin/env bash
# The recorder callback in real ansible-playbook runs against a local store: a rescued failure, a failing
# host and an unreachable host; the same failures in a second run; the backend down during a run and the
# outbox flushed afterwards, and the backend going down partway through a run; a run under ansible-runner, as
# AWX runs jobs; and the options flush_on_start, changes, incidents, assignment_group, resolve_on_success and
# change (ITSM_CHANGE), the [opsgate_itsm_recorder] ini section, itsm_ci_name and the per-play levels; the
# incident_on_failure role's default key equal to the recorder's; ITSM_CHANGE naming a change that does not exist.
# Every record exactly once.
set -eux
cd "$(dirname "$0")"
# shellcheck source=../setup_collection/collection.sh
source ../setup_collection/collection.sh
make_workdir callback_recorder
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite" ITSM_OUTBOX="$WORK/outbox.sqlite"
export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
unset JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID ITSM_RECORDER_RUN_ID ITSM_CHANGE || true

# 1. A run: the play fails (web2 failed, ghost unreachable), the recorder must not change the exit code.
rc=0; ansible-playbook -i inventory.yml run.yml > "$WORK/run1.log" 2>&1 || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/run1.log"; exit 1; }
# The end says what happened to the change: closed unsuccessful, not "updated" (issue 12).
grep -q "opsgate.itsm.recorder: change CHG0000001 closed unsuccessful; incident INC0000001 created; incident INC0000002 created" "$WORK/run1.log"
"$PYTHON" check.py "$ITSM_LOCAL_DB" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'

# 2. The same failures again: a second change, the two open incidents updated once each.
ansible-playbook -i inventory.yml run.yml > "$WORK/run2.log" 2>&1 || true
"$PYTHON" check.py "$ITSM_LOCAL_DB" '{"close_codes": ["unsuccessful", "unsuccessful"], "incidents": 2, "recurrences": 1}'

# 3. The backend is down during the run: warnings, the same exit code, everything in the outbox.
export ITSM_LOCAL_DB="$WORK/down/itsm.sqlite"
echo "a file where the store's directory should be" > "$WORK/down"
rc=0; ansible-playbook -i inventory.yml run.yml > "$WORK/run3.log" 2>&1 || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/run3.log"; exit 1; }
grep -q "3 records queued in the outbox" "$WORK/run3.log"
[ ! -e "$WORK/down/itsm.sqlite" ]
# The backend is back: the outbox module sends each record once; a second flush sends nothing.
rm "$WORK/down" && mkdir "$WORK/down"
unset ANSIBLE_CALLBACKS_ENABLED
ansible-playbook "$COLLECTION_ROOT"/playbooks/flush_outbox.yml -e retry_failed=false > "$WORK/flush1.log" 2>&1 \
    || { cat "$WORK/flush1.log"; exit 1; }
grep -q 'sent 3, refused 0, still pending 0[^0-9]' "$WORK/flush1.log"
ansible-playbook "$COLLECTION_ROOT"/playbooks/flush_outbox.yml > "$WORK/flush2.log" 2>&1
grep -q 'sent 0, refused 0, still pending 0[^0-9]' "$WORK/flush2.log"
"$PYTHON" check.py "$ITSM_LOCAL_DB" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'

# 4. Under ansible-runner (AWX's way to run a job): its own event callback and ours side by side.
export ITSM_LOCAL_DB="$WORK/runner/itsm.sqlite"
mkdir -p "$WORK/runner/project" "$WORK/runner/inventory" "$WORK/runner/env"
cp run.yml "$WORK/runner/project/" && cp inventory.yml "$WORK/runner/inventory/hosts.yml"
cat > "$WORK/runner/env/envvars" <<ENV
ANSIBLE_CALLBACKS_ENABLED: opsgate.itsm.recorder
ITSM_LOCAL_DB: $ITSM_LOCAL_DB
ITSM_OUTBOX: $WORK/runner/outbox.sqlite
JOB_ID: "4242"
ENV
"$PYTHON" - "$WORK/runner" <<'PY'
import glob, json, os, sys
import ansible_runner
result = ansible_runner.run(private_data_dir=sys.argv[1], playbook="run.yml", quiet=True)
assert result.rc == 4, result.rc
events = [e["event"] for e in result.events]
# AWX's event stream is intact: task events and the final stats reach the job's event callback.
assert "runner_on_failed" in events and "runner_on_unreachable" in events and "playbook_on_stats" in events, events
stdout = result.stdout.read()
assert "opsgate.itsm.recorder: change CHG0000001 closed unsuccessful" in stdout, stdout[-2000:]
PY
"$PYTHON" check.py "$ITSM_LOCAL_DB" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'
"$PYTHON" - "$ITSM_LOCAL_DB" <<'PY'
import hashlib, sys
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
[change] = build_backend(ConnectionSettings(local_db=sys.argv[1])).find("change", {})
# The change's correlation id comes from AWX's JOB_ID, so a relaunch of job 4242 finds it again.
assert change["correlation_id"] == "ansible-run-" + hashlib.sha256(b"4242").hexdigest()[:24], change
PY
unset JOB_ID
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
fresh() { export ITSM_LOCAL_DB="$WORK/$1/itsm.sqlite" ITSM_OUTBOX="$WORK/$1/outbox.sqlite"; mkdir -p "$WORK/$1"; }
records() { "$PYTHON" records.py "$ITSM_LOCAL_DB" "$1" || { cat "$WORK"/*.log; exit 1; }; }

# 5. A real failure, then a rescued failure in its always section: the incident is the real one's.
fresh rescue
ansible-playbook rescue_in_always.yml > "$WORK/rescue.log" 2>&1 || true
records '[i["short_description"] for i in incidents] == ["Ansible task \x27Real failure\x27 failed on localhost (Deploy with a cleanup)"]'
records 'len(changes) == 1 and "Real failure" in changes[0]["notes"][0] and "Cleanup step" not in changes[0]["notes"][0]'

# 6. The incident_on_failure role re-raises the failure it recorded: one incident (the role's), none from us.
fresh role
ansible-playbook with_role.yml > "$WORK/role.log" 2>&1 || true
records 'len(incidents) == 1 and "Migrate" in incidents[0]["short_description"] and len(changes) == 1'

# 7. The outbox is unusable (a directory): the records still reach the healthy backend, with a clear warning.
fresh outbox-dir && mkdir "$ITSM_OUTBOX"
ansible-playbook -i inventory.yml run.yml > "$WORK/outbox-dir.log" 2>&1 || true
grep -q "the outbox $ITSM_OUTBOX cannot be used" "$WORK/outbox-dir.log"
if grep -q "could not reach" "$WORK/outbox-dir.log"; then exit 1; fi
"$PYTHON" check.py "$ITSM_LOCAL_DB" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'

# 8. Stopped runs: SIGTERM (an AWX cancel) and SIGINT (Ctrl-C) still end the change, once, as interrupted.
for sig in TERM INT; do
    fresh "sig$sig"
    ansible-playbook slow.yml > "$WORK/sig$sig.log" 2>&1 &
    pid=$!
    for _ in $(seq 60); do grep -q "TASK \[Wait to be stopped\]" "$WORK/sig$sig.log" && break; sleep 0.5; done
    sleep 1 && kill -s "$sig" "$pid"
    rc=0; wait "$pid" || rc=$?
    [ "$rc" -ne 0 ] || { cat "$WORK/sig$sig.log"; exit 1; }
    records 'len(changes) == 1 and changes[0]["state"] == "closed" and changes[0]["close_code"] == "unsuccessful"'
    records 'len(changes[0]["notes"]) == 1 and "interrupted" in changes[0]["notes"][0] and not incidents'
done

# 9. The backend goes down partway through the run: the change opened at the start, the end goes to the outbox;
# the outbox module then sends it, and every record exists exactly once, the incident caused by the change.
# The store lives in a directory of its own that store_down replaces by a file (outage.yml does it from a task).
fresh_store() { fresh "$1" && export ITSM_LOCAL_DB="$WORK/$1/store/itsm.sqlite" && mkdir -p "$WORK/$1/store"; }
store_down() { mv "$WORK/$1/store" "$WORK/$1/store.saved" && echo down > "$WORK/$1/store"; }
store_up() { rm "$WORK/$1/store" && mv "$WORK/$1/store.saved" "$WORK/$1/store"; }
flush() { env -u ANSIBLE_CALLBACKS_ENABLED ansible-playbook "$COLLECTION_ROOT"/playbooks/flush_outbox.yml > "$WORK/$1.log" 2>&1 \
    || { cat "$WORK/$1.log"; exit 1; }; }
fresh_store midrun
rc=0; ansible-playbook outage.yml > "$WORK/midrun.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$WORK/midrun.log"; exit 1; }
grep -q "opsgate.itsm.recorder: CHG0000001 created, now implement" "$WORK/midrun.log"
grep -q "2 records queued in the outbox" "$WORK/midrun.log"
store_up midrun
records 'len(changes) == 1 and changes[0]["state"] == "implement" and not changes[0]["notes"] and not incidents'
flush midrun-flush1
grep -q 'sent 2, refused 0, still pending 0[^0-9]' "$WORK/midrun-flush1.log"
flush midrun-flush2
grep -q 'sent 0, refused 0, still pending 0[^0-9]' "$WORK/midrun-flush2.log"
records 'len(changes) == 1 and changes[0]["state"] == "closed" and changes[0]["close_code"] == "unsuccessful"'
records 'len(changes[0]["notes"]) == 1 and "Fail while the backend is down" in changes[0]["notes"][0]'
records 'len(incidents) == 1 and incidents[0]["caused_by"] == changes[0]["number"] == "CHG0000001"'
records '"Fail while the backend is down" in incidents[0]["short_description"]'

# 10. flush_on_start: what the outbox holds is sent before the first task (default), or only at the end (false).
fresh_store onstart
for flush_on_start in false true; do
    store_down onstart
    ansible-playbook probe.yml -e expected_pending=0 > "$WORK/onstart-queue.log" 2>&1
    grep -q "1 records queued in the outbox" "$WORK/onstart-queue.log"
    store_up onstart
    pending=$([ "$flush_on_start" = true ] && echo 0 || echo 1)
    ITSM_RECORDER_FLUSH_ON_START=$flush_on_start ansible-playbook probe.yml -e expected_pending="$pending" \
        > "$WORK/onstart-$flush_on_start.log" 2>&1 || { cat "$WORK/onstart-$flush_on_start.log"; exit 1; }
done
# Each queued change (of a run whose store was down throughout) was created once by the flush, then closed.
records 'len(changes) == 4 and all(c["state"] == "closed" and len(c["notes"]) == 1 for c in changes) and not incidents'

# 11. Options from an ansible.cfg [opsgate_itsm_recorder] section: no change (changes = false), incidents with the
# assignment group, the host's itsm_ci_name as CI and the play's impact and urgency; then resolve_on_success
# resolves that incident when the same task succeeds in a later run.
fresh_store options
cat > "$WORK/options/ansible.cfg" <<CFG
[defaults]
callbacks_enabled = opsgate.itsm.recorder

[opsgate_itsm_recorder]
changes = false
assignment_group = Platform Operations
resolve_on_success = true
CFG
options() { env -u ANSIBLE_CALLBACKS_ENABLED ANSIBLE_CONFIG="$WORK/options/ansible.cfg" \
    ansible-playbook -i options_inventory.yml options.yml "$@" >> "$WORK/options.log" 2>&1; }
rc=0; options || rc=$?
[ "$rc" -eq 2 ] || { cat "$WORK/options.log"; exit 1; }
records 'not changes and len(incidents) == 1 and incidents[0]["state"] == "new" and not incidents[0]["caused_by"]'
records '(incidents[0]["impact"], incidents[0]["urgency"]) == ("high", "low")'
records 'incidents[0]["assignment_group"] == "Platform Operations" and incidents[0]["configuration_item"] == "app1-ci"'
options -e fail_now=false
records 'not changes and len(incidents) == 1 and incidents[0]["state"] == "resolved"'
records '"succeeded again" in incidents[0]["close_notes"]'

# 12. ITSM_CHANGE attaches the run to an existing change (no change of its own); incidents: false raises none.
fresh_store attach
"$PYTHON" - "$ITSM_LOCAL_DB" <<'PY'
import sys
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
backend = build_backend(ConnectionSettings(local_db=sys.argv[1]))
assert backend.create("change", {"type": "standard", "short_description": "Planned work"})["number"] == "CHG0000001"
PY
rc=0; ITSM_CHANGE=CHG0000001 ITSM_RECORDER_INCIDENTS=false ansible-playbook -i options_inventory.yml options.yml \
    > "$WORK/attach.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$WORK/attach.log"; exit 1; }
records 'len(changes) == 1 and changes[0]["short_description"] == "Planned work" and not incidents'
records 'changes[0]["state"] == "closed" and changes[0]["close_code"] == "unsuccessful" and len(changes[0]["notes"]) == 1'

# 13. The role's default key is the recorder's without incident_on_failure_playbook / _play_hosts: the recorder
# publishes both, and its change, which the role's incident is caused by. A failure rescued by the role, then the same failure unrescued: one incident, a recurrence noted
# by the recorder. The user's own value still wins: another playbook name is another incident.
fresh role-key
rk() { ansible-playbook role_key.yml -e "$@" >> "$WORK/role-key.log" 2>&1 || true; }
rk rescued=true
records 'len(incidents) == 1 and "Correlation key: role_key.yml/Deploy/Migrate/localhost" in incidents[0]["description"]'
# The role's incident is caused by the change the recorder opened for the run (it publishes its number).
records 'len(changes) == 1 and incidents[0]["caused_by"] == changes[0]["number"]'
rk rescued=false
grep -q "incident INC0000001 recurred" "$WORK/role-key.log" || { cat "$WORK/role-key.log"; exit 1; }
records 'len(incidents) == 1 and [n[:13] for n in incidents[0]["notes"]] == ["Recurrence #2"]'
rk '{"rescued": true, "incident_on_failure_playbook": "elsewhere.yml"}'
records 'len(incidents) == 2 and "Correlation key: elsewhere.yml/Deploy/Migrate/localhost" in incidents[1]["description"]'

# 14. ITSM_CHANGE naming a change that does not exist: a clear warning at the start naming the change and the store
# (not "could not reach"), the incident still raised, the end of that change kept in the outbox as refused for good
# with its reason; the outbox module lists it as permanent, and the next run and every flush say it waits (issue 12).
fresh_store unknown
rc=0; ITSM_CHANGE=CHG9999999 ansible-playbook -i options_inventory.yml options.yml > "$WORK/unknown.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$WORK/unknown.log"; exit 1; }
grep -qF "opsgate.itsm.recorder: the change option (ITSM_CHANGE) names a change that does not exist: change: CHG9999999 does not exist on the local backend (local:$ITSM_LOCAL_DB)" \
    "$WORK/unknown.log" || { cat "$WORK/unknown.log"; exit 1; }
if grep -q "could not reach" "$WORK/unknown.log"; then cat "$WORK/unknown.log"; exit 1; fi
grep -qF "refused the end of change CHG9999999 for good (change: CHG9999999 does not exist" "$WORK/unknown.log"
records 'not changes and len(incidents) == 1'
env -u ANSIBLE_CALLBACKS_ENABLED ansible localhost -m opsgate.itsm.outbox -a action=list > "$WORK/unknown-list.log" 2>&1 \
    || { cat "$WORK/unknown-list.log"; exit 1; }
"$PYTHON" - "$WORK/unknown-list.log" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
listed = json.JSONDecoder().raw_decode(text[text.index("localhost | SUCCESS => ") + 23:])[0]
[item] = listed["queued"]
assert (item["state"], item["permanent"], item["description"]) == ("failed", True, "the end of change CHG9999999"), item
assert item["last_error"].startswith("change: CHG9999999 does not exist on the local backend"), item
assert listed["permanent_failures"] == 1, listed
PY
ansible-playbook -i options_inventory.yml options.yml -e fail_now=false > "$WORK/unknown-next.log" 2>&1 \
    || { cat "$WORK/unknown-next.log"; exit 1; }
grep -q "1 item in $ITSM_OUTBOX was refused for good by the local backend" "$WORK/unknown-next.log" \
    || { cat "$WORK/unknown-next.log"; exit 1; }
flush unknown-flush
grep -q "1 item in $ITSM_OUTBOX was refused for good by the local backend" "$WORK/unknown-flush.log"

# 15. The change knows its pipeline (issue 19): under GitLab CI's variables, the recorder's change and the one the
# change_control role opens carry the pipeline (fields, i.e. local columns, and the description's block), the
# recorder's says whether the gate ran; the job's tokens are nowhere, neither in the output nor in the store.
fresh pipeline
gitlab() { env GITLAB_CI=true CI_PROJECT_PATH=acme/shop CI_COMMIT_BRANCH=main CI_COMMIT_SHA=0123456789abcdef \
    CI_COMMIT_TIMESTAMP=2026-12-01T10:15:30+01:00 CI_PIPELINE_URL=https://gitlab.example.com/acme/shop/-/pipelines/"$1" \
    CI_PIPELINE_IID=17 GITLAB_USER_LOGIN=carol CI_PIPELINE_ID="$1" CI_JOB_NAME=deploy \
    CI_JOB_TOKEN=glcbt-secret-job-token CI_REGISTRY_PASSWORD=secret-registry-password \
    ansible-playbook pipeline.yml -e gate="$2" > "$WORK/pipeline-$1.log" 2>&1 || { cat "$WORK/pipeline-$1.log"; exit 1; }; }
gitlab 991 true
gitlab 992 false
read_back='__import__("ansible_collections.opsgate.itsm.plugins.module_utils._pipeline", fromlist=["read"]).read'
records "[($read_back)(c).get(\"gate_used\") for c in changes if c[\"correlation_id\"].startswith(\"ansible-run-\")] == [True, False]"
records "[($read_back)(c)[\"url\"][-3:] for c in changes] == [\"991\", \"991\", \"992\", \"992\"]"
records "all(($read_back)(c)[\"commit_time\"] == \"2026-12-01T09:15:30Z\" and \"Repository: acme/shop\" in c[\"description\"] for c in changes)"
records "[\"gate_used\" in ($read_back)(c) for c in changes] == [True, False, True, False]"
if grep -rqa -e glcbt-secret-job-token -e secret-registry-password "$WORK/pipeline" "$WORK"/pipeline-*.log; then exit 1; fi

# 16. problem_after (issue 19): one failed run, then three at once with ITSM_RECORDER_PROBLEM_AFTER=2: exactly one
# problem for the signature, linked from its incident, one note per failed run's change (each run its own change).
fresh problem
ansible-playbook rescue_in_always.yml > "$WORK/problem-0.log" 2>&1 || true
export ITSM_RECORDER_PROBLEM_AFTER=2
for run in 1 2 3; do ansible-playbook rescue_in_always.yml > "$WORK/problem-$run.log" 2>&1 & done
wait || true
unset ITSM_RECORDER_PROBLEM_AFTER
"$PYTHON" - "$ITSM_LOCAL_DB" <<'PY' || { cat "$WORK"/problem-*.log; exit 1; }
import sys
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
backend = build_backend(ConnectionSettings(local_db=sys.argv[1]))
[incident] = list(backend.find("incident", {}))
[problem] = list(backend.find("problem", {}))
changes = list(backend.find("change", {}))
assert incident["problem"] == problem["number"] and len(changes) == 4, (incident, changes)
assert "Task: Real failure" in problem["description"] and "the real problem" in problem["description"], problem
notes = sorted(entry["text"].split(" failed:")[0] for entry in backend.journal("problem", problem))
assert notes == sorted(f"Change {change['number']}" for change in changes[1:]), notes
PY

echo "callback_recorder: all checks passed"
