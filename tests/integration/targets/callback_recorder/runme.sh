#!/usr/bin/env bash
# The recorder callback in real ansible-playbook runs against a local store: a rescued failure, a failing
# host and an unreachable host; the same failures in a second run; the backend down during a run and the
# outbox flushed afterwards; and a run under ansible-runner, as AWX runs jobs. Every record exactly once.
set -eux
cd "$(dirname "$0")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PYTHON=$(command -v python)
# check.py imports the collection: find the directory that holds ansible_collections/opsgate/itsm.
IFS=: read -r -a bases <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
for base in "${bases[@]}" "$(cd ../../../../../../.. && pwd)"; do
    if [ -n "$base" ] && [ -d "$base/ansible_collections/opsgate/itsm" ]; then
        export PYTHONPATH="$base${PYTHONPATH:+:$PYTHONPATH}"
        COLLECTION_ROOT="$base/ansible_collections/opsgate/itsm"
        break
    fi
done
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite" ITSM_OUTBOX="$WORK/outbox.sqlite"
export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
[ -n "${COLLECTION_ROOT:-}" ] || { echo "opsgate.itsm not found on ANSIBLE_COLLECTIONS_PATH"; exit 1; }
unset JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID ITSM_RECORDER_RUN_ID ITSM_CHANGE || true

# 1. A run: the play fails (web2 failed, ghost unreachable), the recorder must not change the exit code.
rc=0; ansible-playbook -i inventory.yml run.yml > "$WORK/run1.log" 2>&1 || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/run1.log"; exit 1; }
grep -q "opsgate.itsm.recorder: change CHG0000001 updated; incident INC0000001 created; incident INC0000002 created" "$WORK/run1.log"
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
grep -q '"sent 3, refused 0, still pending 0"' "$WORK/flush1.log"
ansible-playbook "$COLLECTION_ROOT"/playbooks/flush_outbox.yml > "$WORK/flush2.log" 2>&1
grep -q '"sent 0, refused 0, still pending 0"' "$WORK/flush2.log"
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
assert "opsgate.itsm.recorder: change CHG0000001 updated" in stdout, stdout[-2000:]
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
echo "callback_recorder: all checks passed"
