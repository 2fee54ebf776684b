#!/usr/bin/env bash
# Golden-file tests of the opsgate.itsm.cmdb inventory against the Jira Service Management simulator, on both
# flavours: Cloud (the Assets workspace API, /jsm/assets/workspace/{id}/v1, username + API token) and Data Center
# (/rest/insight/1.0, a personal access token alone). For each flavour:
#   start the simulator with 30 seeded Server objects (--seed-assets 30: deterministic object ids and labels),
#   shape them with seed.yml (configuration_item), compare `ansible-inventory --list` of configs/*.cmdb.yml with
#   expected/<name>.json (the same files for both flavours: the inventory does not depend on the flavour), the
#   paged read (its AQL requests counted in the simulator's log), the change-scoped inventory (change.yml) before
#   and after approval, the configuration errors and an unreachable backend.
#   ./runme.sh --write  the same, but (re)write the expected files instead of comparing (from the Cloud run)
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_jsm_simulator/simulator.sh
source "${HERE}/../setup_jsm_simulator/simulator.sh"
make_workdir inventory_cmdb_jsm
PYTHON="${SIM_PYTHON}"
WRITE=false
[ "${1:-}" = --write ] && WRITE=true
# A source that fails to parse must fail the command, never pass silently with an empty inventory.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=1 ANSIBLE_NOCOLOR=1 ITSM_BACKEND=jsm

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

# golden NAME ACTUAL: compare ACTUAL with expected/NAME.json, or write it with --write (Cloud only).
golden() {
    if "${WRITE}" && [ "${FLAVOUR}" = cloud ]; then
        "${PYTHON}" -c 'import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), indent=2, sort_keys=True); open(sys.argv[2], "a").write("\n")' \
            "$2" "${HERE}/expected/$1.json"
        echo "wrote expected/$1.json"
    elif ! same "${HERE}/expected/$1.json" "$2"; then
        fail "${FLAVOUR}: $(basename "$2") differs from expected/$1.json (./runme.sh --write regenerates it)"
    else
        echo "ok: ${FLAVOUR}: $(basename "$2") equals expected/$1.json"
    fi
}

# hosts JSON: the inventory's host names, sorted, on one line.
hosts() {
    "${PYTHON}" -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["_meta"]["hostvars"])))' "$1"
}

# refused NAME EXPECTED ARGS...: `ansible-inventory ARGS --list` fails, with EXPECTED in its output and no
# traceback. Output in WORK/FLAVOUR-NAME.out.
refused() {
    local name="${FLAVOUR}-$1" expected="$2"
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

# says NAME TEXT: WORK/FLAVOUR-NAME.out (written by refused) holds TEXT too.
says() {
    tr -s ' \n' ' ' < "${WORK}/${FLAVOUR}-$1.out" | grep -qF -- "$2" || fail "${FLAVOUR}-$1: the error does not say: $2"
}

# aql_pages: the pages of the last Assets AQL reads in the simulator's log (from line BEFORE on), as
# "startAt" offsets on Cloud and page numbers on Data Center, sorted.
aql_pages() {
    if [ "${FLAVOUR}" = cloud ]; then
        tail -n +"$((before + 1))" "${WORK}/${FLAVOUR}.err" | grep -o '"POST /jsm/assets/workspace/[^/]*/v1/object/aql?[^ ]*' \
            | grep -o 'startAt=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' '
    else
        tail -n +"$((before + 1))" "${WORK}/${FLAVOUR}.err" | grep -o '"GET /rest/insight/1.0/aql/objects?[^ ]*' \
            | grep -o '[?&]page=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' '
    fi
}

run_flavour() {
    FLAVOUR="$1"
    echo "== ${FLAVOUR}"
    # --verbose logs every request to FLAVOUR.err, which the paging check counts.
    start_jsm_simulator "${WORK}/${FLAVOUR}" "${WORK}/${FLAVOUR}" "${FLAVOUR}" --seed-assets 30 --verbose
    export ITSM_URL="${URL}" ITSM_CA_PATH="${CA_PATH}"
    # The approver's token in a vars file: -e on the command line is printed at -vvvv (the secrets sweep).
    approver=(-e "@${WORK}/approver-${FLAVOUR}.yml")
    sweep_input "${WORK}/approver-${FLAVOUR}.yml"
    if [ "${FLAVOUR}" = cloud ]; then
        export ITSM_USERNAME=admin ITSM_TOKEN=admin-token
        printf 'approver_username: cab.approver\napprover_token: cab-token\n' > "${WORK}/approver-${FLAVOUR}.yml"
        expected_pages="0 7 14 21 28 "
    else
        unset ITSM_USERNAME
        export ITSM_TOKEN=admin-pat
        printf 'approver_token: cab-pat\n' > "${WORK}/approver-${FLAVOUR}.yml"
        expected_pages="1 2 3 4 5 "
    fi

    ansible-playbook -i localhost, -c local "${HERE}/seed.yml"

    # -- golden files --------------------------------------------------------------------------------

    for config in "${HERE}"/configs/*.cmdb.yml; do
        name="$(basename "${config}" .cmdb.yml)"
        case "${name}" in
            bad_* | change* | paged | encoded) continue ;;  # below
        esac
        inventory -i "${config}" --list --output "${WORK}/${FLAVOUR}-${name}.json"
        golden "${name}" "${WORK}/${FLAVOUR}-${name}.json"
    done
    # The encoded-query subset translated to AQL selects what filtered.cmdb.yml's filters and AQL select.
    inventory -i "${HERE}/configs/encoded.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-encoded.json"
    same "${HERE}/expected/filtered.json" "${WORK}/${FLAVOUR}-encoded.json" \
        || fail "${FLAVOUR}: the encoded query lists other hosts than filtered.cmdb.yml"

    # -- parallel paging -----------------------------------------------------------------------------

    # paged.cmdb.yml is default.cmdb.yml read 7 objects a page by 3 workers: the same inventory as the serial
    # read of the same pages, and as the default's one page. 31 servers in pages of 7 cost 5 AQL requests.
    sed 's/^workers: .*/workers: 1/' "${HERE}/configs/paged.cmdb.yml" > "${WORK}/serial.cmdb.yml"
    grep -q '^workers: 1$' "${WORK}/serial.cmdb.yml" || fail "serial.cmdb.yml does not set workers: 1"
    inventory -i "${WORK}/serial.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-serial.json"
    before="$(wc -l < "${WORK}/${FLAVOUR}.err")"
    inventory -i "${HERE}/configs/paged.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-paged.json"
    if ! same "${WORK}/${FLAVOUR}-serial.json" "${WORK}/${FLAVOUR}-paged.json"; then
        fail "${FLAVOUR}: the parallel read (paged.json) differs from the serial one (serial.json)"
    elif ! same "${HERE}/expected/default.json" "${WORK}/${FLAVOUR}-paged.json"; then
        fail "${FLAVOUR}: the paged read differs from expected/default.json"
    elif [ "$(hosts "${WORK}/${FLAVOUR}-paged.json" | wc -w)" != 31 ]; then
        fail "${FLAVOUR}: paged.json does not list the 31 servers"
    else
        echo "ok: ${FLAVOUR}: the parallel read equals the serial read and the one-page read"
    fi
    pages="$(aql_pages)"
    if [ "${pages}" = "${expected_pages}" ]; then
        echo "ok: ${FLAVOUR}: the paged read made 5 AQL requests, pages ${pages}"
    else
        fail "${FLAVOUR}: the paged read asked for the pages '${pages}', not '${expected_pages}'"
    fi

    # -- change-scoped inventory ---------------------------------------------------------------------

    ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=open -e "output_dir=${WORK}"
    NUMBER="$(cat "${WORK}/change_number")"
    echo "change ${NUMBER}"
    sed "s/^change_correlation_id: .*/change: ${NUMBER}/" "${HERE}/configs/change.cmdb.yml" > "${WORK}/by_number.cmdb.yml"
    grep -q "^change: ${NUMBER}$" "${WORK}/by_number.cmdb.yml" || fail "by_number.cmdb.yml does not name ${NUMBER}"
    affected="lnxp000013 winp000009"

    # Before the approval the change's hosts cannot be listed ...
    for config in "${HERE}/configs/change.cmdb.yml" "${WORK}/by_number.cmdb.yml"; do
        name="unapproved_$(basename "${config}" .cmdb.yml)"
        refused "${name}" "${NUMBER} did not pass the change gate" -i "${config}"
        says "${name}" "state is authorize, expected scheduled or implement"
        says "${name}" "only for an approved change inside its window (change_require_approved)"
    done
    # ... unless the configuration says that it is only a plan.
    inventory -i "${HERE}/configs/change_plan.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-change_plan.json"
    [ "$(hosts "${WORK}/${FLAVOUR}-change_plan.json")" = "${affected}" ] \
        || fail "${FLAVOUR}: change_plan.json lists $(hosts "${WORK}/${FLAVOUR}-change_plan.json")"

    ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=approve -e "output_dir=${WORK}" "${approver[@]}"
    # Approved, scheduled and in its window: exactly the two affected hosts, by correlation id and by key.
    inventory -i "${HERE}/configs/change.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-change.json"
    golden change "${WORK}/${FLAVOUR}-change.json"
    inventory -i "${WORK}/by_number.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-by_number.json"
    for listing in change by_number change_plan; do
        [ "$(hosts "${WORK}/${FLAVOUR}-${listing}.json")" = "${affected}" ] \
            || fail "${FLAVOUR}: ${listing}.json lists '$(hosts "${WORK}/${FLAVOUR}-${listing}.json")', not '${affected}'"
        same "${HERE}/expected/change.json" "${WORK}/${FLAVOUR}-${listing}.json" \
            || fail "${FLAVOUR}: ${listing}.json differs from expected/change.json"
    done

    ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=implement -e "output_dir=${WORK}"
    inventory -i "${WORK}/by_number.cmdb.yml" --list --output "${WORK}/${FLAVOUR}-implement.json"
    same "${HERE}/expected/change.json" "${WORK}/${FLAVOUR}-implement.json" || fail "${FLAVOUR}: the change in implement lists other hosts"

    ansible-playbook -i localhost, -c local "${HERE}/change.yml" -e step=close -e "output_dir=${WORK}"
    refused closed_by_number "change: ${NUMBER} did not pass the change gate" -i "${WORK}/by_number.cmdb.yml"
    says closed_by_number "state is closed, expected scheduled or implement"
    refused closed_by_correlation_id "change_correlation_id: no change 'inventory-cmdb-jsm'" \
        -i "${HERE}/configs/change.cmdb.yml"

    # -- configuration errors name the option; relationships are a documented difference -------------

    for config in "${HERE}"/configs/bad_*.cmdb.yml; do
        expected="$(sed -n 's/^# expect: //p' "${config}")"
        [ -n "${expected}" ] || { fail "$(basename "${config}") has no '# expect:' line"; continue; }
        refused "$(basename "${config}" .cmdb.yml)" "${expected}" -i "${config}"
    done

    # -- an unusable backend fails the source with a clear message, and never shows the token --------

    SECRET="tok-$(date +%s)-${RANDOM}-unshown"
    PORT="$("${PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    for verbosity in -v -vvv; do
        ITSM_URL="https://127.0.0.1:${PORT}" ITSM_TOKEN="${SECRET}" ITSM_RETRIES=1 \
            refused "unreachable${verbosity}" "the connection to https://127.0.0.1:${PORT} failed" \
            -i "${HERE}/configs/default.cmdb.yml" "${verbosity}"
        says "unreachable${verbosity}" "opsgate.itsm.cmdb inventory ${HERE}/configs/default.cmdb.yml"
        ! grep -qF "${SECRET}" "${WORK}/${FLAVOUR}-unreachable${verbosity}.out" || fail "${FLAVOUR}: unreachable${verbosity}: the token is shown"
    done
    ITSM_TOKEN="${SECRET}" refused wrong_token "${URL} refused the credentials" -i "${HERE}/configs/default.cmdb.yml" -vvv
    ! grep -qF "${SECRET}" "${WORK}/${FLAVOUR}-wrong_token.out" || fail "${FLAVOUR}: wrong_token: the token is shown"
    stop_jsm_simulator
}

run_flavour cloud
run_flavour datacenter
exit "${status}"
