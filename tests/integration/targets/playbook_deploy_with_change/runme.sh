#!/usr/bin/env bash
# The demo, as `make demo` runs it: playbooks/deploy_with_change.yml with playbooks/inventory on a fresh local
# store. The change waits in assess and the gate refuses with reasons, two approvals let it into implement, the two
# simulated smoke test failures raise one incident and then update it, the change closes as successful_issues and
# the summary names the records: in that order, with no error and no warning in the output (the smoke test's
# failure is a registered check, not a failed task). A re-run of the finished release stops cleanly without a
# second record. Then playbooks/approve_change.yml approves one change, rejects another and refuses a rejection
# without comments.
set -eux
cd "$(dirname "$0")"
# shellcheck source=../setup_collection/collection.sh
source ../setup_collection/collection.sh
make_workdir playbook_deploy_with_change
# DEMO_DIR keeps the rendered site out of the collection copy.
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.db" DEMO_DIR="$WORK" ANSIBLE_NOCOLOR=1
unset ANSIBLE_CALLBACKS_ENABLED || true
PLAYBOOKS="$COLLECTION_ROOT/playbooks"

expect() {  # expect LOG TEXT: the log holds TEXT (fixed string)
    grep -qF -- "$2" "$1" || { cat "$1"; echo "missing from $1: $2"; exit 1; }
}

ansible-playbook -i "$PLAYBOOKS/inventory" "$PLAYBOOKS/deploy_with_change.yml" > "$WORK/deploy.log" 2>&1 \
    || { cat "$WORK/deploy.log"; exit 1; }
# The story, in the order a reader meets it.
"$PYTHON" - "$WORK/deploy.log" <<'PY'
import sys
log = open(sys.argv[1]).read()
story = ['"msg": "CHG0000001 is assess, approval requested"',
         '"msg": "passed=False: CHG0000001 did not pass the change gate: approval: waiting for approval in assess',
         'TASK [Record the technical and CAB approvals]', 'TASK [Pass the gate and start the implementation]',
         'TASK [Render the site]', '"msg": "Smoke test 1 failed: INC0000001 raised for change CHG0000001"',
         '"msg": "Smoke test 2 failed: INC0000001 updated (recurrence) for change CHG0000001"',
         'TASK [Close the change with the code the play\'s outcome gives]', '"Change   CHG0000001: closed (successful_issues)"',
         '"Incident INC0000001: priority high, caused by CHG0000001"']
found = [log.find(step) for step in story]
missing = [step for step, at in zip(story, found) if at < 0]
if missing or found != sorted(found):
    sys.exit(f"{log}\nthe demo's story is missing {missing} or out of order: {list(zip(found, story))}")
PY
expect "$WORK/deploy.log" "\"Site     $WORK/www/index.html\""
grep -q 'Release 1.4.2' "$WORK/www/index.html"
# The output reads as the story: no error banner and no warning (ansible-core's GroupTuple warning included).
if grep -nE '\[ERROR\]|\[WARNING\]|GroupTuple|FAILED!' "$WORK/deploy.log"; then
    cat "$WORK/deploy.log"; echo "the demo's output shows an error or a warning"; exit 1
fi

ansible-playbook -i "$PLAYBOOKS/inventory" "$PLAYBOOKS/deploy_with_change.yml" > "$WORK/rerun.log" 2>&1 \
    || { cat "$WORK/rerun.log"; exit 1; }
expect "$WORK/rerun.log" 'Release 1.4.2 was already deployed under CHG0000001 (closed, successful_issues); nothing to do.'
if grep -qE 'TASK \[Summary\]|changed: |\[ERROR\]|\[WARNING\]' "$WORK/rerun.log"; then
    cat "$WORK/rerun.log"; echo "the re-run went on, changed something or warned"; exit 1
fi

ansible-playbook open_changes.yml > "$WORK/open.log" 2>&1 || { cat "$WORK/open.log"; exit 1; }
# A normal change needs the technical and the CAB approval: the first moves it to authorize, the second schedules it.
for approver in tech.lead cab.chair; do
    ansible-playbook "$PLAYBOOKS/approve_change.yml" -e change=CHG0000002 -e decision=approved -e approver=$approver \
        > "$WORK/approve-$approver.log" 2>&1 || { cat "$WORK/approve-$approver.log"; exit 1; }
done
expect "$WORK/approve-tech.lead.log" '"CHG0000002: state authorize, approval requested"'
expect "$WORK/approve-cab.chair.log" '"CHG0000002: state scheduled, approval approved"'
expect "$WORK/approve-cab.chair.log" '"cab.chair: approved"'
ansible-playbook "$PLAYBOOKS/approve_change.yml" -e change=CHG0000003 -e decision=rejected -e approver=cab.member \
    -e 'comments="No backout test"' > "$WORK/reject.log" 2>&1 || { cat "$WORK/reject.log"; exit 1; }
expect "$WORK/reject.log" '"CHG0000003: state '
expect "$WORK/reject.log" 'approval rejected"'
rc=0; ansible-playbook "$PLAYBOOKS/approve_change.yml" -e change=CHG0000003 -e decision=rejected > "$WORK/bad.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$WORK/bad.log"; echo "a rejection without comments must fail the input check"; exit 1; }
expect "$WORK/bad.log" 'give -e change=<number>, -e decision=approved|rejected, and -e comments=... when rejecting'

"$PYTHON" check.py "$ITSM_LOCAL_DB"
