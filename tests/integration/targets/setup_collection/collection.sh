# shellcheck shell=bash
# Find the copy of opsgate.itsm that ansible-test runs the targets from. Source it from a runme.sh (the target
# declares needs/target/setup_collection); it sets COLLECTION_ROOT (the collection's root) and puts the
# directory holding ansible_collections/ on PYTHONPATH, so the target's Python helpers import that copy.
# ANSIBLE_COLLECTIONS_PATH is looked at first, then the directories above this file. It also gives
#   make_workdir NAME    sets WORK, a fresh directory for the target
# and PYTHON, the interpreter ansible-test runs the target with, and the secrets sweep (secret_sweep.sh: on_exit).

COLLECTION_ROOT=""
IFS=: read -r -a _collection_bases <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
_collection_bases+=("$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../../../../.." && pwd)")
for _collection_base in "${_collection_bases[@]}"; do
    if [ -n "${_collection_base}" ] && [ -d "${_collection_base}/ansible_collections/opsgate/itsm" ]; then
        COLLECTION_ROOT="${_collection_base}/ansible_collections/opsgate/itsm"
        export PYTHONPATH="${_collection_base}${PYTHONPATH:+:$PYTHONPATH}"
        break
    fi
done
[ -n "${COLLECTION_ROOT}" ] || { echo "opsgate.itsm not found on ANSIBLE_COLLECTIONS_PATH nor above ${BASH_SOURCE[0]}"; exit 1; }
# shellcheck disable=SC2034  # read by the runme.sh that sources this file
PYTHON="$(command -v python)"
# Every ansible run of the target at -vvvv, searched for secrets when it ends (issue 14); on_exit, sweep_secret.
# shellcheck source=secret_sweep.sh
source "$(dirname "${BASH_SOURCE[0]}")/secret_sweep.sh"

# make_workdir NAME: a fresh WORK directory for the target, under ansible-test's OUTPUT_DIR when it gives one.
make_workdir() {
    WORK="${OUTPUT_DIR:-$(mktemp -d)}/$1"
    rm -rf "${WORK}" && mkdir -p "${WORK}"
}
