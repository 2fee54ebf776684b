#!/usr/bin/env bash
# Run ansible-test from a virtualenv on a fresh copy of the working tree.
#
# ansible-test needs the collection at a real .../ansible_collections/opsgate/itsm path and cannot
# download its pip bootstrap script here, so this: writes the pip bootstrap stand-in for the venv's
# ansible-test (get_pip_bootstrap.py), copies the files git would ship into
# $TMPDIR/opsgate-itsm-<uid>-<checkout hash>/<venv name>/ansible_collections/opsgate/itsm
# (collection_copy.py), and runs ansible-test there with the venv first on PATH. Results stay in that
# copy's tests/output/. The copy must not sit inside a git work tree: ansible-test would take the
# enclosing repository as the source of truth, find the copy git-ignored and skip every target.
# The copy is kept between runs (ansible-test caches its venvs in tests/output/), so two runs from one
# checkout at once would overwrite each other's copy: a lock on it makes the second wait for the first.
#
# Usage: tests/ci/ansible_test.sh VENV_DIR ANSIBLE_TEST_ARGS...
set -euo pipefail

venv=$(cd "${1:?usage: ansible_test.sh VENV_DIR ANSIBLE_TEST_ARGS...}" && pwd)
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base="${TMPDIR:-/tmp}/opsgate-itsm-$(id -u)-$(printf '%s' "$root" | sha256sum | cut -c1-10)"
dest="$base/$(basename "$venv")/ansible_collections/opsgate/itsm"
mkdir -p "$base"
if git -C "$base" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "ansible_test.sh: $base is inside a git work tree; set TMPDIR to a directory outside one" >&2
    exit 1
fi

# Held by ansible-test itself after the exec below, until it exits.
exec 9>"$base/$(basename "$venv").lock"
if ! flock -n 9; then
    echo "ansible_test.sh: another ansible-test run uses $base; waiting for it to finish" >&2
    flock 9
fi

"$venv/bin/python" "$root/tests/ci/get_pip_bootstrap.py"
"$venv/bin/python" "$root/tests/ci/collection_copy.py" "$root" "$dest"
cd "$dest"
export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"
echo "+ ansible-test $* (in $dest)"
exec "$venv/bin/ansible-test" "$@"
