# shellcheck shell=bash
# Start and stop the ServiceNow simulator for a runme.sh target. Source it, then:
#   start_simulator LOG STATE_DIR PORT [simulator options...]   PORT 0 picks a free one; sets SIM_PID and URL,
#                                                                writes LOG.out and LOG.err
#   stop_simulator                                               also run on EXIT
# SIM_ROOT is the collection root (where tests/simulators lives), found by setup_collection/collection.sh,
# which also gives make_workdir.

# shellcheck source=../setup_collection/collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/collection.sh"
SIM_ROOT="${COLLECTION_ROOT}"
SIM_PYTHON="$(command -v python3 || command -v python)"
SIM_PID=""
URL=""

stop_simulator() {
    if [ -n "${SIM_PID}" ]; then
        kill "${SIM_PID}" 2>/dev/null || true
        wait "${SIM_PID}" 2>/dev/null || true
        SIM_PID=""
    fi
}
trap stop_simulator EXIT

start_simulator() {
    local log="$1" state="$2" port="$3"
    shift 3
    (cd "${SIM_ROOT}" && exec "${SIM_PYTHON}" -m tests.simulators.servicenow --port "${port}" --state-dir "${state}" \
        "$@" > "${log}.out" 2> "${log}.err") &
    SIM_PID=$!
    for _ in $(seq 1 300); do
        grep -q "ready at" "${log}.out" 2>/dev/null && break
        kill -0 "${SIM_PID}" 2>/dev/null || { cat "${log}.err"; exit 1; }
        sleep 0.1
    done
    URL="$(sed -n 's/^ServiceNow simulator ready at //p' "${log}.out")"
    [ -n "${URL}" ] || { echo "the simulator did not start"; cat "${log}.err"; exit 1; }
    echo "simulator at ${URL} (state ${state})"
}

