#!/usr/bin/env bash
# playbooks/change_report.yml against a seeded local store, checked in headless chromium: the page
# renders and its figures, timeline and outcome chart match the records. Chromium comes from
# tests/ci/install_chromium.sh; without it this test fails when CI=true.
set -eux
cd "$(dirname "$0")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PYTHON=$(command -v python)
IFS=: read -r -a bases <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
for base in "${bases[@]}" "$(cd ../../../../../../.. && pwd)"; do
    if [ -n "$base" ] && [ -d "$base/ansible_collections/opsgate/itsm" ]; then
        export PYTHONPATH="$base${PYTHONPATH:+:$PYTHONPATH}"
        COLLECTION_ROOT="$base/ansible_collections/opsgate/itsm"
        break
    fi
done
export ITSM_BACKEND=local ITSM_LOCAL_DB="$WORK/itsm.sqlite"
[ -n "${COLLECTION_ROOT:-}" ] || { echo "opsgate.itsm not found on ANSIBLE_COLLECTIONS_PATH"; exit 1; }
unset ANSIBLE_CALLBACKS_ENABLED || true
"$PYTHON" seed.py "$ITSM_LOCAL_DB"
# The playbook reads approvals by default; REPORT_APPROVALS=false checks the report without them.
approvals=()
[ -z "${REPORT_APPROVALS:-}" ] || approvals=(-e "report_include_approvals=$REPORT_APPROVALS")
ansible-playbook "$COLLECTION_ROOT"/playbooks/change_report.yml -e report_path="$WORK/report.html" "${approvals[@]}"
grep -q '<svg id="timeline"' "$WORK/report.html"
if grep -Eq '(src|href)="https?:' "$WORK/report.html"; then
    echo "the report loads an external asset; it must be self-contained"; exit 1
fi
"$PYTHON" check_report.py "$ITSM_LOCAL_DB" "$WORK/report.html" "$WORK"
