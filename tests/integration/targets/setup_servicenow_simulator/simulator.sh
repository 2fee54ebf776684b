# shellcheck shell=bash
# Start and stop the ServiceNow simulator for a runme.sh target. Source it, then:
#   start_simulator LOG STATE_DIR PORT [simulator options...]   PORT 0 picks a free one; sets SIM_PID and URL,
#                                                                writes LOG.out and LOG.err
#   stop_simulator                                               also run on EXIT
# and SN_PASSWORD, the admin's password of this run (exported; the secrets sweep searches for it).
# The process itself is run by setup_collection/simulator_process.sh; collection.sh there gives COLLECTION_ROOT
# (where tests/simulators lives) and make_workdir.

# shellcheck source=../setup_collection/collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/collection.sh"
# shellcheck source=../setup_collection/simulator_process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/simulator_process.sh"

start_simulator() {
    local log="$1" state="$2" port="$3"
    shift 3
    launch_simulator servicenow "ServiceNow simulator" "${log}" "${state}" --port "${port}" "$@"
    # The admin's password of this run, one the secrets sweep can search for ("admin" is also the user's name).
    SN_PASSWORD="sn-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    "${SIM_PYTHON}" - "${URL}" "${state}/cert.pem" "${SN_PASSWORD}" <<'PY' || { echo "the admin's password was not set"; exit 1; }
import json, ssl, sys, urllib.request
url, cert, password = sys.argv[1:]
request = urllib.request.Request(f"{url}/__sim/credentials", json.dumps({"user_name": "admin", "password": password}).encode(),
                                 {"Content-Type": "application/json"})
urllib.request.urlopen(request, context=ssl.create_default_context(cafile=cert)).read()
PY
    export SN_PASSWORD
    sweep_secret "${SN_PASSWORD}"
    echo "simulator at ${URL} (state ${state})"
}
