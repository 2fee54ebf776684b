# shellcheck shell=bash
# Start and stop the Jira Service Management simulator for a runme.sh target. Source it, then:
#   start_jsm_simulator LOG STATE_DIR FLAVOUR [simulator options...]   FLAVOUR cloud or datacenter; the port is a
#                                                                        free one. Sets SIM_PID, URL and CA_PATH
#                                                                        (the simulator's certificate), writes
#                                                                        LOG.out and LOG.err
#   stop_jsm_simulator                                                  also run on EXIT
# One simulator at a time: start_jsm_simulator stops the one before. The process itself is run by
# setup_collection/simulator_process.sh; collection.sh there also gives make_workdir.

# shellcheck source=../setup_collection/collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/collection.sh"
# shellcheck source=../setup_collection/simulator_process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/simulator_process.sh"
CA_PATH=""

stop_jsm_simulator() {
    stop_simulator
}

start_jsm_simulator() {
    local log="$1" state="$2" flavour="$3"
    shift 3
    stop_simulator
    mkdir -p "${state}"
    launch_simulator jsm "JSM simulator" "${log}" "${state}" --port 0 --flavour "${flavour}" "$@"
    # shellcheck disable=SC2034  # read by the runme.sh that sources this file
    CA_PATH="${state}/cert.pem"
    echo "JSM simulator (${flavour}) at ${URL} (state ${state})"
}
