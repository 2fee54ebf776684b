# shellcheck shell=bash
# Start and stop the Jira Service Management simulator for a runme.sh target. Source it, then:
#   start_jsm_simulator LOG STATE_DIR FLAVOUR [simulator options...]   FLAVOUR cloud or datacenter; the port is a
#                                                                        free one. Sets SIM_PID, URL and CA_PATH
#                                                                        (the simulator's certificate), writes
#                                                                        LOG.out and LOG.err
#   stop_jsm_simulator                                                  also run on EXIT
# One simulator at a time: start_jsm_simulator stops the one before. SIM_ROOT is the collection root (where
# tests/simulators lives), found by setup_collection/collection.sh, which also gives make_workdir.

# shellcheck source=../setup_collection/collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/collection.sh"
SIM_ROOT="${COLLECTION_ROOT}"
SIM_PYTHON="$(command -v python3 || command -v python)"
SIM_PID=""
URL=""
CA_PATH=""

stop_jsm_simulator() {
    if [ -n "${SIM_PID}" ]; then
        kill "${SIM_PID}" 2>/dev/null || true
        wait "${SIM_PID}" 2>/dev/null || true
        SIM_PID=""
    fi
}
trap stop_jsm_simulator EXIT

start_jsm_simulator() {
    local log="$1" state="$2" flavour="$3"
    shift 3
    stop_jsm_simulator
    mkdir -p "${state}"
    (cd "${SIM_ROOT}" && exec "${SIM_PYTHON}" -m tests.simulators.jsm --port 0 --state-dir "${state}" \
        --flavour "${flavour}" "$@" > "${log}.out" 2> "${log}.err") &
    SIM_PID=$!
    for _ in $(seq 1 300); do
        grep -q "ready at" "${log}.out" 2>/dev/null && break
        kill -0 "${SIM_PID}" 2>/dev/null || { cat "${log}.err"; exit 1; }
        sleep 0.1
    done
    URL="$(sed -n 's/^JSM simulator ready at //p' "${log}.out")"
    [ -n "${URL}" ] || { echo "the JSM simulator did not start"; cat "${log}.err"; exit 1; }
    # shellcheck disable=SC2034  # read by the runme.sh that sources this file
    CA_PATH="${state}/cert.pem"
    echo "JSM simulator (${flavour}) at ${URL} (state ${state})"
}
