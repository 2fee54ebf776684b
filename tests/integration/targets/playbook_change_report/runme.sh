#!/usr/bin/env bash
# playbooks/change_report.yml against a seeded local store and a seeded ServiceNow simulator, checked in
# headless chromium: the page renders and its figures, timeline and outcome chart match the records opened in
# the last report_days days (seed.py also opens records before them, which must stay out). A report_limit
# below the number of records of the period is refused, not written short; bad report_days / report_limit
# values are refused by name. Chromium comes from tests/ci/install_chromium.sh; without it this test fails
# when CI=true.
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

# refused NAME MESSAGE ARGS...: the playbook run with ARGS fails saying MESSAGE and writes no $WORK/NAME.html.
refused() {
    local name="$1" message="$2" rc=0
    shift 2
    ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/$name.html" "$@" \
        > "$WORK/$name.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] || ! grep -qF "$message" "$WORK/$name.log"; then
        cat "$WORK/$name.log"; echo "the report was not refused with: $message"; exit 1
    fi
    [ ! -e "$WORK/$name.html" ]
}
# seed.py opened 5 changes in the last 30 days and 1 before: a limit of 3 would leave out some of the period's.
refused cut "the last 30 days (report_days) hold more than 3 (report_limit) changes or incidents" -e report_limit=3
# The limit caps the period, not the store: 5 is enough for 30 days, not for 60, which reach the older change.
ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/exact.html" -e report_limit=5
refused longer "the last 60 days (report_days) hold more than 5 (report_limit)" -e report_limit=5 -e report_days=60
refused typo 'report_days: "a month" is not valid; expected a whole number, 1 or more' -e 'report_days="a month"'
refused zero 'report_limit: "0" is not valid; expected a whole number, 1 or more' -e report_limit=0

# The same records on the ServiceNow simulator.
start_simulator "$WORK/sim" "$WORK/sim" 0
export ITSM_BACKEND=servicenow ITSM_URL="$URL" ITSM_CA_PATH="$WORK/sim/cert.pem" ITSM_USERNAME=admin ITSM_PASSWORD=admin
unset ITSM_LOCAL_DB
"$PYTHON" seed.py servicenow
report servicenow servicenow
