# shellcheck shell=bash
# Start and stop a throw-away PostgreSQL server (tests/postgresql_server.py, Debian's postgresql package) for a
# runme.sh target. Source it, then:
#   start_postgresql DIR [--bare]   sets PG_PORT and PG_URL (the itsm login's store, without password; --bare makes
#                                   no login nor database) and PG_SUPERUSER / PG_SUPERUSER_PASSWORD
#   stop_postgresql                 also run on EXIT
# PG_PYTHON runs the harness from the collection root found by setup_collection/collection.sh.

# shellcheck source=../setup_collection/collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/../setup_collection/collection.sh"
PG_PYTHON="$(command -v python3 || command -v python)"
# shellcheck disable=SC2034  # read by the runme.sh that sources this file
PG_SUPERUSER="postgres" PG_SUPERUSER_PASSWORD="postgres-test-password"
PG_DIR=""
PG_PORT=""
PG_URL=""

stop_postgresql() {
    if [ -n "${PG_DIR}" ]; then
        (cd "${COLLECTION_ROOT}" && "${PG_PYTHON}" -m tests.postgresql_server stop "${PG_DIR}") || true
        PG_DIR=""
    fi
}
on_exit stop_postgresql

start_postgresql() {
    PG_DIR="$1"
    shift
    local said
    said="$(cd "${COLLECTION_ROOT}" && "${PG_PYTHON}" -m tests.postgresql_server start "${PG_DIR}" "$@")" \
        || { echo "the PostgreSQL server did not start"; exit 1; }
    echo "${said}"
    sweep_secret "${PG_SUPERUSER_PASSWORD}"  # its data files (the records) are searched too
    PG_URL="$(sed -n 's/^PostgreSQL ready at \([^ ]*\) .*/\1/p' <<< "${said}")"
    # shellcheck disable=SC2034  # read by the runme.sh that sources this file
    PG_PORT="$(cat "${PG_DIR}/port")"
    [ -n "${PG_URL}" ] || { echo "the PostgreSQL server did not say where it listens"; exit 1; }
}
