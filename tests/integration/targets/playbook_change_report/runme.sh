#!/usr/bin/env bash
# playbooks/change_report.yml against a seeded local store, ServiceNow simulator and JSM simulator, checked in
# headless chromium (check_report.py): every measure, week, group, CI system, refusal, repeat failure, the timeline
# and the outcomes match figures computed there from the records of the last 30 days and the 30 before (seed.py
# also opens records before both, which must stay out); the page does not overflow at 1280 or 390 px; tables have
# headers with scope and outcomes are not told apart by colour alone. A report_limit below the number of records
# of either period is refused, not written short; bad report_days / report_limit values are refused by name.
# Chromium comes from tests/ci/install_chromium.sh; without it this test fails when CI=true.
set -eux
cd "$(dirname "$0")"
HERE="$(pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source ../setup_servicenow_simulator/simulator.sh
# shellcheck source=../setup_jsm_simulator/simulator.sh
source ../setup_jsm_simulator/simulator.sh
make_workdir playbook_change_report
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite"
unset ANSIBLE_CALLBACKS_ENABLED || true
"$PYTHON" seed.py "$ITSM_LOCAL_DB"

# report STORE NAME: write the report of STORE (what seed.py filled) to $WORK/NAME.html and check it; the
# command the playbook's header and the README show, from the collection's root.
report() {
    (cd "$COLLECTION_ROOT" && ansible-playbook playbooks/change_report.yml -e report_path="$WORK/$2.html" -e report_days=30)
    grep -q '<svg id="timeline"' "$WORK/$2.html"
    if grep -Eq '(src|href)="https?:' "$WORK/$2.html"; then
        echo "the report loads an external asset; it must be self-contained"; exit 1
    fi
    mkdir -p "$WORK/$2" && "$PYTHON" "$HERE/check_report.py" "$1" "$WORK/$2.html" "$WORK/$2"
}
report "$ITSM_LOCAL_DB" local
# Without approvals and notes (a quicker report), the figures that need them say why they are missing.
ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/bare.html" \
    -e report_include_approvals=false -e report_include_notes=false
grep -qF 'the approvals were not read (report_include_approvals is false)' "$WORK/bare.html"
grep -qF "work notes were not read (report_include_notes is false)" "$WORK/bare.html"

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
# seed.py opened 8 changes in the last 30 days, 2 in the 30 before and 1 before both: a limit of 7 would leave out
# some of the period's.
refused cut "the last 30 days (report_days) hold more than 7 (report_limit) changes or incidents" -e report_limit=7
# The limit caps each period, not the store: 8 is enough for 30 days, not for 60, which reach the older changes.
ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/exact.html" -e report_limit=8
refused longer "the last 60 days (report_days) hold more than 8 (report_limit)" -e report_limit=8 -e report_days=60
# The previous period is read whole too: the last 2 days hold 1 change, the 2 days before them 2.
refused previous "the 2 days (report_days) before them hold more than 1 (report_limit)" -e report_limit=1 -e report_days=2
refused typo 'report_days: "a month" is not valid; expected a whole number, 1 or more' -e 'report_days="a month"'
refused zero 'report_limit: "0" is not valid; expected a whole number, 1 or more' -e report_limit=0

# The same records on the ServiceNow simulator, then on the JSM simulator (Cloud): the same report.
start_simulator "$WORK/sim" "$WORK/sim" 0
export ITSM_BACKEND=servicenow ITSM_URL="$URL" ITSM_CA_PATH="$WORK/sim/cert.pem" ITSM_USERNAME=admin \
    ITSM_PASSWORD="${SN_PASSWORD:-admin}"
unset ITSM_LOCAL_DB
"$PYTHON" seed.py servicenow
report servicenow servicenow

start_jsm_simulator "$WORK/jsm" "$WORK/jsm" cloud
export ITSM_BACKEND=jsm ITSM_URL="$URL" ITSM_CA_PATH="$CA_PATH" ITSM_USERNAME=admin ITSM_TOKEN=admin-token
unset ITSM_PASSWORD
"$PYTHON" seed.py jsm
report jsm jsm
