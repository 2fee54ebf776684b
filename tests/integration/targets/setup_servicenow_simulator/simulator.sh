# shellcheck shell=bash
# Start and stop the ServiceNow simulator for a runme.sh target. Source it, then:
#   start_simulator LOG STATE_DIR PORT [simulator options...]   PORT 0 picks a free one; sets SIM_PID and URL,
#                                                                writes LOG.out and LOG.err
#   stop_simulator                                               also run on EXIT
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
    echo "simulator at ${URL} (state ${state})"
}
