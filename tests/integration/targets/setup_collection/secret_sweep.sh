# shellcheck shell=bash
# The secrets sweep (issue 14), sourced by collection.sh, so every runme.sh target has it: every ansible-playbook,
# ansible-inventory, ansible-runner and ansible-rulebook run of the target is at -vvvv (ANSIBLE_VERBOSITY=4, the
# verbose lines on stderr so that --list output stays JSON), logged to one file (ANSIBLE_LOG_PATH), and what it prints
# is copied (a shim before the real command on PATH). When the target ends, that log, those copies, every file under
# WORK (the outputs the target kept, the local stores, the outboxes, reports, inventories) and the records in the
# simulators' databases are searched for every secret the sweep knows; a hit fails the target, naming file and line.
#
# The sweep knows the secrets the simulators accept (the JSM seed's API tokens and personal access tokens, the
# ServiceNow simulator's OAuth client secrets and API keys, its admin password, which setup_servicenow_simulator makes
# distinct for each run) and those a target registers:
#   sweep_secret VALUE...   a secret the target's plays use (a PostgreSQL login's password)
#   sweep_input PATH...     a file or directory the target writes its secrets into on purpose (a vars file, a
#                           simulator's state): not searched
#   on_exit COMMAND         run COMMAND when the target ends (the sweep's own check runs last and keeps a failure's
#                           exit status); simulator_process.sh and setup_postgresql stop their servers with it
# Secrets shorter than 8 characters are not searched for (they would match ordinary words): no play may use one.

if [ -z "${SWEEP_DIR:-}" ] || [ "${SWEEP_PID:-}" != "$$" ]; then
    SWEEP_PID="$$"
    SWEEP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/opsgate-sweep.XXXXXX")"
    SWEEP_EXCLUDED=()
    _SWEEP_EXIT_HOOKS=()
    # SWEEP_VERBOSITY=0 runs a target as it ran before the sweep (to measure what -vvvv costs); searched all the same
    export ANSIBLE_VERBOSITY="${SWEEP_VERBOSITY:-4}" ANSIBLE_VERBOSE_TO_STDERR=True ANSIBLE_LOG_PATH="${SWEEP_DIR}/ansible.log"
    : > "${SWEEP_DIR}/secrets"
    # What the commands print, whatever the target does with it (ansible-core prints some lines, the extra vars among
    # them, to the console only, not to its log): each ansible command is a copy of this shim, on PATH before the real
    # one, which keeps a copy of both streams and becomes the command that follows it on PATH (exec: the same
    # process, so signals reach it). Python, not shell: ansible-test's injector runs what it finds with Python.
    mkdir -p "${SWEEP_DIR}/bin"
    cat > "${SWEEP_DIR}/bin/shim" <<'SHIM'
#!/usr/bin/env python3
"""The secrets sweep's shim (setup_collection/secret_sweep.sh): copy the console output, then run the command."""
import os
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
name = os.path.basename(sys.argv[0])
dirs = os.environ.get("PATH", "").split(os.pathsep)
after = dirs[dirs.index(here) + 1:] if here in dirs else dirs
real = next((os.path.join(d, name) for d in after if os.access(os.path.join(d, name), os.X_OK)), None)
if real is None:
    sys.exit(f"secret sweep: no {name} on PATH after {here}")
# The same process back in this shim (exec keeps the pid) would be a loop: refuse it rather than spin.
chain = [link for link in os.environ.get("OPSGATE_SWEEP_CHAIN", "").split(";") if link]
if f"{os.getpid()}:{here}" in chain:
    sys.exit(f"secret sweep: {name} runs the shim in {here} again; PATH: {os.environ.get('PATH')}")
os.environ["OPSGATE_SWEEP_CHAIN"] = ";".join(chain + [f"{os.getpid()}:{here}"])
handle, copy = tempfile.mkstemp(prefix="console.", dir=os.path.dirname(here))
os.close(handle)
for fd, suffix in ((1, ""), (2, ".err")):
    read, write = os.pipe()
    if os.fork() == 0:  # the copy of one stream: to where it went, and to the file
        os.close(write)
        with open(copy + suffix, "ab", buffering=0) as out:  # unbuffered: the copy ends with os._exit
            while True:
                chunk = os.read(read, 65536)
                if not chunk:
                    os._exit(0)
                os.write(fd, chunk)
                out.write(chunk)
    os.close(read)
    os.dup2(write, fd)
    os.close(write)
os.execv(real, [real] + sys.argv[1:])
SHIM
    chmod +x "${SWEEP_DIR}/bin/shim"
    for _sweep_command in ansible ansible-playbook ansible-inventory; do
        ln -s shim "${SWEEP_DIR}/bin/${_sweep_command}"
    done
    # Before the first real ansible-playbook on PATH: after ansible-test's injector (its ansible-playbook is a link to
    # its python.py, which runs the next one it finds) and after an enclosing target's shim (both copy then).
    _sweep_path=() _sweep_placed=""
    IFS=: read -r -a _sweep_dirs <<< "${PATH}"
    for _sweep_entry in "${_sweep_dirs[@]}"; do
        if [ -z "${_sweep_placed}" ] && [ -x "${_sweep_entry}/ansible-playbook" ] && [ ! -e "${_sweep_entry}/shim" ] \
                && [ "$(basename "$(readlink -f "${_sweep_entry}/ansible-playbook")")" != python.py ]; then
            _sweep_path+=("${SWEEP_DIR}/bin") _sweep_placed=1
        fi
        _sweep_path+=("${_sweep_entry}")
    done
    [ -n "${_sweep_placed}" ] || _sweep_path=("${SWEEP_DIR}/bin" "${_sweep_dirs[@]}")
    PATH="$(IFS=:; echo "${_sweep_path[*]}")"
    export PATH

    sweep_secret() {
        local value
        for value in "$@"; do printf '%s\n' "${value}" >> "${SWEEP_DIR}/secrets"; done
    }

    sweep_input() {
        local path
        for path in "$@"; do SWEEP_EXCLUDED+=("$(cd "$(dirname "${path}")" && pwd)/$(basename "${path}")"); done
    }

    on_exit() {
        _SWEEP_EXIT_HOOKS+=("$1")
    }

    # The secrets every simulator accepts, read from their seeds (not copied here, so a new one is known at once).
    _sweep_known() {
        (cd "${COLLECTION_ROOT}" && "$(command -v python3 || command -v python)" - <<'PY'
from tests.simulators.jsm import seed as jsm_seed
from tests.simulators.servicenow import auth as sn_auth
for _name, _display, token, pat, _groups in jsm_seed.USERS:
    print(token)
    print(pat)
for client in sn_auth.OAUTH_CLIENTS.values():
    print(client["secret"])
for key in sn_auth.API_KEYS:
    print(key)
PY
        )
    }

    # Every file the sweep reads: the ansible log and WORK, less what sweep_input named.
    _sweep_files() {
        local prune=() path
        for path in "${SWEEP_EXCLUDED[@]}"; do prune+=(-path "${path}" -prune -o); done
        find "${SWEEP_DIR}/ansible.log" "${SWEEP_DIR}"/console.* ${WORK:+"${WORK}"} "${prune[@]}" -type f -print0 \
            2>/dev/null
    }

    # The records a simulator holds (its SQLite database, read once it has stopped), less the table of the
    # credentials it accepts: what the plays wrote to the remote system.
    _sweep_records() {
        local path
        cat > "${SWEEP_DIR}/records.py" <<'PY'
import sqlite3, sys
secrets = [line.rstrip("\n") for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
for path in sys.argv[2:]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if table == "_credentials":  # servicenow: the passwords it accepts
            continue
        for row in db.execute(f'SELECT * FROM "{table}"'):
            if table == "docs" and row[0] == "user":  # jsm: a user's API token and personal access token
                continue
            text = " ".join(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value) for value in row)
            if any(secret in text for secret in secrets):
                print(f"{path}: table {table}: {text[:300]}")
PY
        for path in "${SWEEP_EXCLUDED[@]}"; do [ -d "${path}" ] && find "${path}" -name '*.sqlite3' -print0; done |
            xargs -0 -r "$(command -v python3 || command -v python)" "${SWEEP_DIR}/records.py" "$1"
    }

    sweep_check() {
        local secrets="${SWEEP_DIR}/searched" hits="${SWEEP_DIR}/hits"
        { cat "${SWEEP_DIR}/secrets"; _sweep_known; } | awk 'length >= 8' | sort -u > "${secrets}"
        [ -f "${SWEEP_DIR}/ansible.log" ] || { echo "secret sweep: no ansible run was logged"; return 1; }
        sleep 0.2  # the last command's console copies are written by processes that may still be flushing
        _sweep_files | xargs -0 grep -naF -f "${secrets}" -- > "${hits}" 2>/dev/null || true
        _sweep_records "${secrets}" >> "${hits}"
        if [ -s "${hits}" ]; then
            echo "secret sweep: a secret appears in the target's output or files (shown masked):"
            while IFS= read -r line; do  # masked first, then cut: a cut must not leave part of a secret
                while IFS= read -r secret; do line="${line//"${secret}"/<SECRET>}"; done < "${secrets}"
                printf '  %s\n' "${line:0:300}"
            done < "${hits}"
            return 1
        fi
        echo "secret sweep: $(wc -l < "${secrets}") secrets, none in $(_sweep_files | tr -cd '\0' | wc -c) files"
    }

    _sweep_exit() {
        local rc=$? hook
        set +ex  # xtrace would print each secret the check compares
        for hook in "${_SWEEP_EXIT_HOOKS[@]}"; do eval "${hook}"; done
        if sweep_check; then rm -rf "${SWEEP_DIR}"; else rc=1; echo "(the sweep's files: ${SWEEP_DIR})"; fi
        exit "${rc}"
    }
    trap _sweep_exit EXIT
fi
