#!/usr/bin/env bash
# playbooks/change_report.yml against a seeded local store and a seeded ServiceNow simulator, checked in
# headless chromium: the page renders and its figures, timeline and outcome chart match the records. A
# report_limit below the number of records is refused, not written short of the newest records. Chromium
# comes from tests/ci/install_chromium.sh; without it this test fails when CI=true.
set -eux
cd "$(dirname "$0")"
HERE="$(pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source ../setup_servicenow_simulator/simulator.sh
make_workdir playbook_change_report
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite"
unset ANSIBLE_CALLBACKS_ENABLED || true
"$PYTHON" seed.py "$ITSM_LOCAL_DB"
# The playbook reads approvals by default; REPORT_APPROVALS=false checks the report without them.
approvals=()
[ -z "${REPORT_APPROVALS:-}" ] || approvals=(-e "report_include_approvals=$REPORT_APPROVALS")

# report STORE NAME: write the report of STORE (what seed.py filled) to $WORK/NAME.html and check it.
report() {
    ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/$2.html" "${approvals[@]}"
    grep -q '<svg id="timeline"' "$WORK/$2.html"
    if grep -Eq '(src|href)="https?:' "$WORK/$2.html"; then
        echo "the report loads an external asset; it must be self-contained"; exit 1
    fi
    mkdir -p "$WORK/$2" && "$PYTHON" "$HERE/check_report.py" "$1" "$WORK/$2.html" "$WORK/$2"
}
report "$ITSM_LOCAL_DB" local

# seed.py made 5 changes: a limit of 3 would drop the newest (the info modules read oldest first).
rc=0; ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/cut.html" \
    -e report_limit=3 > "$WORK/cut.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] || ! grep -q "report_limit is 3, but the backend holds more changes or incidents than that" "$WORK/cut.log"; then
    cat "$WORK/cut.log"; echo "a report cut at report_limit was written"; exit 1
fi
[ ! -e "$WORK/cut.html" ]
ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/exact.html" -e report_limit=5

# The same records on the ServiceNow simulator.
start_simulator "$WORK/sim" "$WORK/sim" 0
export ITSM_BACKEND=servicenow ITSM_URL="$URL" ITSM_CA_PATH="$WORK/sim/cert.pem" ITSM_USERNAME=admin ITSM_PASSWORD=admin
unset ITSM_LOCAL_DB
"$PYTHON" seed.py servicenow
report servicenow servicenow
