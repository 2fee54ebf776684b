#!/usr/bin/env bash
# Golden-file tests of the opsgate.itsm.cmdb inventory against the ServiceNow simulator.
#   ./runme.sh          start the simulator with 24 seeded servers (deterministic sys_ids and names), shape
#                       them with seed.yml (configuration_item), compare `ansible-inventory --list` of every
#                       configs/*.cmdb.yml with expected/<name>.json, then the change-scoped inventory
#                       (change.yml) before and after approval, the configuration errors and an unreachable
#                       backend
#   ./runme.sh --write  the same, but (re)write the expected files instead of comparing
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source "${HERE}/../setup_servicenow_simulator/simulator.sh"
make_workdir inventory_cmdb_servicenow
PYTHON="${SIM_PYTHON}"
WRITE=false
[ "${1:-}" = --write ] && WRITE=true
# A source that fails to parse must fail the command, never pass silently with an empty inventory.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=1 ANSIBLE_NOCOLOR=1

# Start the simulator on a free port; its one stdout line says where it listens. --verbose logs every
# request to sim.err, which the paging check counts.
start_simulator "${WORK}/sim" "${WORK}/sim" 0 --seed-cmdb 24 --verbose
export ITSM_BACKEND=servicenow ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim/cert.pem"
export ITSM_USERNAME=admin ITSM_PASSWORD="${SN_PASSWORD}"
echo "simulator at ${URL}"

# Only this plugin may claim the sources, so a failure is ours and is not hidden behind another plugin's.
inventory() {
    ANSIBLE_INVENTORY_ENABLED=opsgate.itsm.cmdb ansible-inventory "$@"
}

status=0
fail() {
    echo "FAILED: $*"
    status=1
}

# same EXPECTED ACTUAL: the two inventories are equal (host and group order included); a diff if not.
same() {
    "${PYTHON}" - "$1" "$2" <<'PY'
import difflib, json, sys
expected, actual = (json.dumps(json.load(open(path)), indent=2, sort_keys=True).splitlines() for path in sys.argv[1:])
if expected != actual:
    sys.stdout.write("\n".join(difflib.unified_diff(expected, actual, sys.argv[1], sys.argv[2], lineterm="")) + "\n")
    sys.exit(1)
PY
}

# golden NAME ACTUAL: compare ACTUAL with expected/NAME.json, or write it with --write.
golden() {
    if "${WRITE}"; then
        "${PYTHON}" -c 'import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), indent=2, sort_keys=True); open(sys.argv[2], "a").write("\n")' \
            "$2" "${HERE}/expected/$1.json"
        echo "wrote expected/$1.json"
    elif ! same "${HERE}/expected/$1.json" "$2"; then
        fail "$(basename "$2") differs from expected/$1.json (./runme.sh --write regenerates it)"
    else
        echo "ok: $(basename "$2") equals expected/$1.json"
    fi
}

# hosts JSON: the inventory's host names, sorted, on one line.
hosts() {
    "${PYTHON}" -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["_meta"]["hostvars"])))' "$1"
}

# refused NAME EXPECTED ARGS...: `ansible-inventory ARGS --list` fails, with EXPECTED in its output and no
# traceback. Output in WORK/NAME.out.
refused() {
    local name="$1" expected="$2"
    shift 2
    if inventory "$@" --list > "${WORK}/${name}.out" 2>&1; then
        fail "${name}: the source was accepted"; return
    fi
    if ! tr -s ' \n' ' ' < "${WORK}/${name}.out" | grep -qF -- "${expected}"; then
        fail "${name}: the error does not say: ${expected}"; cat "${WORK}/${name}.out"; return
    fi
    if grep -q "Traceback" "${WORK}/${name}.out"; then
        fail "${name}: a traceback"; cat "${WORK}/${name}.out"; return
    fi
    echo "ok: ${name} fails with: ${expected}"
}

# says NAME TEXT: WORK/NAME.out (written by refused) holds TEXT too.
says() {
    tr -s ' \n' ' ' < "${WORK}/$1.out" | grep -qF -- "$2" || fail "$1: the error does not say: $2"
}

ansible-playbook -i localhost, -c local "${HERE}/seed.yml"

# -- golden files ------------------------------------------------------------------------------------

for config in "${HERE}"/configs/*.cmdb.yml; do
    name="$(basename "${config}" .cmdb.yml)"
    case "${name}" in
        bad_* | change* | paged) continue ;;  # below
    esac
    inventory -i "${config}" --list --output "${WORK}/${name}.json"
    golden "${name}" "${WORK}/${name}.json"
done

# -- parallel paging ---------------------------------------------------------------------------------

# paged.cmdb.yml is default.cmdb.yml read 5 CIs a page by 3 workers: the same inventory as the serial read
# of the same pages, and as the default's one page. 24 servers in pages of 5 cost 5 requests, at offsets
# 0, 5, 10, 15, 20.
sed 's/^workers: .*/workers: 1/' "${HERE}/configs/paged.cmdb.yml" > "${WORK}/serial.cmdb.yml"
grep -q '^workers: 1$' "${WORK}/serial.cmdb.yml" || fail "serial.cmdb.yml does not set workers: 1"
inventory -i "${WORK}/serial.cmdb.yml" --list --output "${WORK}/serial.json"
before="$(wc -l < "${WORK}/sim.err")"
inventory -i "${HERE}/configs/paged.cmdb.yml" --list --output "${WORK}/paged.json"
if ! same "${WORK}/serial.json" "${WORK}/paged.json"; then
    fail "the parallel read (paged.json) differs from the serial one (serial.json)"
elif ! same "${HERE}/expected/default.json" "${WORK}/paged.json"; then
    fail "the paged read differs from expected/default.json"
elif [ "$(hosts "${WORK}/paged.json" | wc -w)" != 24 ]; then
    fail "paged.json does not list the 24 servers"
else
    echo "ok: the parallel read equals the serial read and the one-page read"
fi
offsets="$(tail -n +"$((before + 1))" "${WORK}/sim.err" | grep -o '"GET /api/now/table/cmdb_ci_server?[^ ]*' \
    | grep -o 'sysparm_offset=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' ')"
if [ "${offsets}" = "0 5 10 15 20 " ]; then
    echo "ok: the paged read made 5 requests, at offsets ${offsets}"
else
    fail "the paged read made the requests at offsets '${offsets}', not '0 5 10 15 20 '"
fi

# -- change-scoped inventory -------------------------------------------------------------------------

ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=open -e "output_dir=${WORK}"
NUMBER="$(cat "${WORK}/change_number")"
echo "change ${NUMBER}"
sed "s/^change_correlation_id: .*/change: ${NUMBER}/" "${HERE}/configs/change.cmdb.yml" > "${WORK}/by_number.cmdb.yml"
grep -q "^change: ${NUMBER}$" "${WORK}/by_number.cmdb.yml" || fail "by_number.cmdb.yml does not name ${NUMBER}"
affected="lnxp000013.example.com winp000009.example.com"

# Before the approval the change's hosts cannot be listed ...
for config in "${HERE}/configs/change.cmdb.yml" "${WORK}/by_number.cmdb.yml"; do
    name="unapproved_$(basename "${config}" .cmdb.yml)"
    refused "${name}" "${NUMBER} did not pass the change gate" -i "${config}"
    says "${name}" "state is assess, expected scheduled or implement"
    says "${name}" "only for an approved change inside its window (change_require_approved)"
done
# ... unless the configuration says that it is only a plan.
inventory -i "${HERE}/configs/change_plan.cmdb.yml" --list --output "${WORK}/change_plan.json"
[ "$(hosts "${WORK}/change_plan.json")" = "${affected}" ] || fail "change_plan.json lists $(hosts "${WORK}/change_plan.json")"

ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=approve -e "output_dir=${WORK}"
# Approved, scheduled and in its window: exactly the two affected hosts, by correlation id and by number.
inventory -i "${HERE}/configs/change.cmdb.yml" --list --output "${WORK}/change.json"
golden change "${WORK}/change.json"
inventory -i "${WORK}/by_number.cmdb.yml" --list --output "${WORK}/by_number.json"
for listing in change by_number change_plan; do
    [ "$(hosts "${WORK}/${listing}.json")" = "${affected}" ] \
        || fail "${listing}.json lists '$(hosts "${WORK}/${listing}.json")', not '${affected}'"
    same "${HERE}/expected/change.json" "${WORK}/${listing}.json" || fail "${listing}.json differs from expected/change.json"
done

ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=implement -e "output_dir=${WORK}"
inventory -i "${WORK}/by_number.cmdb.yml" --list --output "${WORK}/implement.json"
same "${HERE}/expected/change.json" "${WORK}/implement.json" || fail "the change in implement lists other hosts"

ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=close -e "output_dir=${WORK}"
refused closed_by_number "change: ${NUMBER} did not pass the change gate" -i "${WORK}/by_number.cmdb.yml"
says closed_by_number "state is closed, expected scheduled or implement"
refused closed_by_correlation_id "change_correlation_id: no change 'inventory-cmdb-servicenow'" \
    -i "${HERE}/configs/change.cmdb.yml"

# -- configuration errors name the option ------------------------------------------------------------

for config in "${HERE}"/configs/bad_*.cmdb.yml; do
    expected="$(sed -n 's/^# expect: //p' "${config}")"
    [ -n "${expected}" ] || { fail "$(basename "${config}") has no '# expect:' line"; continue; }
    refused "$(basename "${config}" .cmdb.yml)" "${expected}" -i "${config}"
done

# -- an unusable backend fails the source with a clear message, and never shows the password ---------

SECRET="pw-$(date +%s)-${RANDOM}-unshown"
sweep_secret "${SECRET}"
PORT="$("${PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
for verbosity in -v -vvv; do
    ITSM_URL="https://127.0.0.1:${PORT}" ITSM_PASSWORD="${SECRET}" ITSM_RETRIES=1 \
        refused "unreachable${verbosity}" "the connection to https://127.0.0.1:${PORT} failed" \
        -i "${HERE}/configs/default.cmdb.yml" "${verbosity}"
    says "unreachable${verbosity}" "opsgate.itsm.cmdb inventory ${HERE}/configs/default.cmdb.yml: read the CMDB"
    ! grep -qF "${SECRET}" "${WORK}/unreachable${verbosity}.out" || fail "unreachable${verbosity}: the password is shown"
done
ITSM_PASSWORD="${SECRET}" refused wrong_password "${URL} refused the credentials (basic authentication as admin)" -i "${HERE}/configs/default.cmdb.yml"
! grep -qF "${SECRET}" "${WORK}/wrong_password.out" || fail "wrong_password: the password is shown"

exit "${status}"
