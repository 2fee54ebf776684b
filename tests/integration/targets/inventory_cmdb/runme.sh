#!/usr/bin/env bash
# Golden-file tests of the opsgate.itsm.cmdb inventory on the local backend.
#   ./runme.sh          seed a local CMDB, compare `ansible-inventory --list` of every configs/*.cmdb.yml
#                       with expected/<name>.json
#   ./runme.sh --write  the same, but (re)write the expected files instead of comparing
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# The secrets sweep (issue 14) and make_workdir
# shellcheck source=../setup_collection/collection.sh
source "${HERE}/../setup_collection/collection.sh"
make_workdir inventory_cmdb
export ITSM_BACKEND=local ITSM_LOCAL_DB="${WORK}/cmdb.sqlite"
# A source that fails to parse must fail the command, never pass silently with an empty inventory.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=1 ANSIBLE_NOCOLOR=1
PYTHON="$(command -v python3 || command -v python)"

ansible-playbook -i localhost, "${HERE}/seed.yml"
# Only this plugin may claim the sources, so a failure is ours and is not hidden behind another plugin's.
export ANSIBLE_INVENTORY_ENABLED=opsgate.itsm.cmdb

status=0
for config in "${HERE}"/configs/*.cmdb.yml; do
    name="$(basename "${config}" .cmdb.yml)"
    [ "${name}" = bad_option ] && continue
    ansible-inventory -i "${config}" --list --output "${WORK}/${name}.json"
    if [ "${1:-}" = --write ]; then
        "${PYTHON}" -c 'import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), indent=2, sort_keys=True); open(sys.argv[2], "a").write("\n")' \
            "${WORK}/${name}.json" "${HERE}/expected/${name}.json"
        echo "wrote expected/${name}.json"
    elif ! "${PYTHON}" - "${HERE}/expected/${name}.json" "${WORK}/${name}.json" <<'PY'
import difflib, json, sys
expected, actual = (json.dumps(json.load(open(path)), indent=2, sort_keys=True).splitlines() for path in sys.argv[1:])
if expected != actual:
    sys.stdout.write("\n".join(difflib.unified_diff(expected, actual, "expected", "actual", lineterm="")) + "\n")
    sys.exit(1)
PY
    then
        echo "FAILED: ${name} differs from expected/${name}.json (./runme.sh --write regenerates it)"
        status=1
    else
        echo "ok: ${name}"
    fi
done

# A configuration error fails the source and names the option.
if ansible-inventory -i "${HERE}/configs/bad_option.cmdb.yml" --list > "${WORK}/bad.out" 2> "${WORK}/bad.err"; then
    echo "FAILED: bad_option.cmdb.yml was accepted"; status=1
elif ! tr -s ' \n' ' ' < "${WORK}/bad.err" | grep -q 'hostnames: \[\] is not valid'; then
    echo "FAILED: the error does not name hostnames:"; cat "${WORK}/bad.err"; status=1
else
    echo "ok: bad_option"
fi

# An unusable backend fails the source with a clear message.
if ITSM_LOCAL_DB="${WORK}" ansible-inventory -i "${HERE}/configs/default.cmdb.yml" --list > /dev/null 2> "${WORK}/unusable.err"; then
    echo "FAILED: a directory as local_db was accepted"; status=1
elif ! tr -s ' \n' ' ' < "${WORK}/unusable.err" | grep -q "local_db: ${WORK} is a directory"; then
    echo "FAILED: unclear error for an unusable backend:"; cat "${WORK}/unusable.err"; status=1
else
    echo "ok: unusable backend"
fi
exit "${status}"
