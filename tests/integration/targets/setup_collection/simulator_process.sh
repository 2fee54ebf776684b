# shellcheck shell=bash
# Run one simulator process for a runme.sh target; sourced by setup_servicenow_simulator/simulator.sh and
# setup_jsm_simulator/simulator.sh, which name the simulator. It gives
#   launch_simulator PACKAGE BANNER LOG STATE_DIR [simulator options...]   starts `python -m tests.simulators.PACKAGE`
#                                                                          from the collection's root, waits for its
#                                                                          "BANNER ready at URL" line; sets SIM_PID
#                                                                          and URL, writes LOG.out and LOG.err
#   stop_simulator                                                         also run on EXIT
# collection.sh must be sourced first (COLLECTION_ROOT).

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
on_exit stop_simulator

launch_simulator() {
    local package="$1" banner="$2" log="$3" state="$4"
    shift 4
    sweep_input "${state}" "${log}.out" "${log}.err"  # the simulator's own data and logs hold the credentials it accepts
    (cd "${SIM_ROOT}" && exec "${SIM_PYTHON}" -m "tests.simulators.${package}" --state-dir "${state}" "$@" \
        > "${log}.out" 2> "${log}.err") &
    SIM_PID=$!
    for _ in $(seq 1 300); do
        grep -q "ready at" "${log}.out" 2>/dev/null && break
        kill -0 "${SIM_PID}" 2>/dev/null || { cat "${log}.err"; exit 1; }
        sleep 0.1
    done
    URL="$(sed -n "s/^${banner} ready at //p" "${log}.out")"
    [ -n "${URL}" ] || { echo "the ${banner} did not start"; cat "${log}.err"; exit 1; }
}
