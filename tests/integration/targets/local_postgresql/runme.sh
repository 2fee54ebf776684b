#!/usr/bin/env bash
# The local backend on a real PostgreSQL server (issue 18), started by setup_postgresql: the README's set-up
# commands as shown; the lifecycle (module_change_request, module_change_approval, module_incident) and change gate
# targets' own tasks with local_db a PostgreSQL URL; the recorder's runs, and its outbox while the database refuses
# connections, flushed once it accepts them again. Each part has a database of its own; every record exactly once.
set -eux
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_postgresql/postgresql.sh
source "${HERE}/../setup_postgresql/postgresql.sh"
make_workdir local_postgresql
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False
unset ITSM_BACKEND ITSM_LOCAL_DB ITSM_PASSWORD JOB_ID CI_PIPELINE_ID GITHUB_RUN_ID ITSM_RECORDER_RUN_ID ITSM_CHANGE || true
start_postgresql "${WORK}/server" --bare

# 1. The README's set-up block, verbatim, as the new server's superuser: a login, its database, the driver, local_db.
"${PYTHON}" - "${COLLECTION_ROOT}/README.md" > "${WORK}/setup.sh" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text[text.index("\n## The `local` backend\n"):]
section = section[:section.index("\n## ", 1)]
print(re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)[0], end="")
PY
# shellcheck disable=SC2153  # PG_PORT is set by start_postgresql
export PGHOST=127.0.0.1 PGPORT="${PG_PORT}" PGUSER="${PG_SUPERUSER}" PGPASSWORD="${PG_SUPERUSER_PASSWORD}"
# Without xtrace, which would print the password the block sets: the log must show it nowhere.
set +x
# shellcheck source=/dev/null
source "${WORK}/setup.sh" > "${WORK}/setup.log" 2>&1 || { cat "${WORK}/setup.log"; exit 1; }
set -x
grep -q '"number": "INC0000001"' "${WORK}/setup.log" || { cat "${WORK}/setup.log"; exit 1; }
# The login's password, which every part below uses, is searched for by the secrets sweep in all the target keeps
# (the module targets' runs, the recorder's, the outbox), except the README's block, which shows it on purpose.
set +x
[ "${ITSM_LOCAL_DB}" = "postgresql://itsm@127.0.0.1:${PG_PORT}/itsm" ] && [ -n "${ITSM_PASSWORD}" ]
sweep_secret "${ITSM_PASSWORD}"
set -x
sweep_input "${WORK}/setup.sh"
# xtrace off inside: the trace of the grep would print the password it looks for.
no_password() { { set +x; } 2>/dev/null; if grep -qF "${ITSM_PASSWORD}" "$1"; then echo "$1 shows the password"; exit 1; fi; set -x; }
no_password "${WORK}/setup.log"

# A database of its own for each part below, owned by the README's login; its URL carries no password.
database() {
    createdb --owner=itsm "$1"
    echo "postgresql://itsm@127.0.0.1:${PG_PORT}/$1"
}

# 2. The local targets' own tasks, local_db a PostgreSQL URL (the password from ITSM_PASSWORD); side by side, as
# several controllers sharing one server would run, each on its own database.
printf 'testhost ansible_connection=local ansible_python_interpreter=%s\n' "${PYTHON}" > "${WORK}/inventory"
targets=(module_change_request module_change_approval module_incident module_change_gate)
pids=()
for target in "${targets[@]}"; do
    mkdir -p "${WORK}/${target}"
    cat > "${WORK}/${target}.yml" <<YAML
- name: ${target} with a PostgreSQL local_db
  hosts: testhost
  gather_facts: false
  tasks:
    - name: The target's own tasks
      ansible.builtin.include_tasks: ${HERE}/../${target}/tasks/main.yml
YAML
    url="$(database "${target}")"
    ansible-playbook -i "${WORK}/inventory" "${WORK}/${target}.yml" -e "output_dir=${WORK}/${target}" \
        -e "itsm_local_db=${url}" > "${WORK}/${target}.log" 2>&1 &
    pids+=("$!")
done
failed=""
for index in "${!targets[@]}"; do
    wait "${pids[${index}]}" || { cat "${WORK}/${targets[${index}]}.log"; failed="${failed} ${targets[${index}]}"; }
    no_password "${WORK}/${targets[${index}]}.log"
done
[ -z "${failed}" ] || { echo "failed on PostgreSQL:${failed}"; exit 1; }

# 3. The recorder (callback_recorder's run; its second run, a recurrence, is the same code on either database):
# one change, one incident per failure, each once, written by forked workers at once.
cd "${HERE}/../callback_recorder"
export ANSIBLE_CALLBACKS_ENABLED=opsgate.itsm.recorder ITSM_OUTBOX="${WORK}/outbox.sqlite"
ITSM_LOCAL_DB="$(database recorder)"
{ set +x; } 2>/dev/null; with_password="${ITSM_LOCAL_DB/itsm@/itsm:${ITSM_PASSWORD}@}"; set -x
rc=0; ansible-playbook -i inventory.yml run.yml > "${WORK}/run1.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || { cat "${WORK}/run1.log"; exit 1; }
grep -q "opsgate.itsm.recorder: change CHG0000001 closed unsuccessful; incident INC0000001 created; incident INC0000002 created" \
    "${WORK}/run1.log"
{ set +x; } 2>/dev/null; "${PYTHON}" check.py "${with_password}" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'; set -x

# 4. The database refuses connections during a run: warnings, the same exit code, everything in the outbox; once it
# accepts them again, the outbox module sends each record once, and a second flush sends nothing.
ITSM_LOCAL_DB="$(database recorder_outage)"
{ set +x; } 2>/dev/null; with_password="${ITSM_LOCAL_DB/itsm@/itsm:${ITSM_PASSWORD}@}"; set -x
psql -d postgres -q -c "ALTER DATABASE recorder_outage ALLOW_CONNECTIONS false"
rc=0; ansible-playbook -i inventory.yml run.yml > "${WORK}/run3.log" 2>&1 || rc=$?
[ "${rc}" -eq 4 ] || { cat "${WORK}/run3.log"; exit 1; }
grep -q "3 records queued in the outbox" "${WORK}/run3.log" || { cat "${WORK}/run3.log"; exit 1; }
no_password "${WORK}/run3.log"
psql -d postgres -q -c "ALTER DATABASE recorder_outage ALLOW_CONNECTIONS true"
unset ANSIBLE_CALLBACKS_ENABLED
ansible-playbook "${COLLECTION_ROOT}/playbooks/flush_outbox.yml" -e retry_failed=false > "${WORK}/flush1.log" 2>&1 \
    || { cat "${WORK}/flush1.log"; exit 1; }
grep -q 'sent 3, refused 0, still pending 0[^0-9]' "${WORK}/flush1.log"
ansible-playbook "${COLLECTION_ROOT}/playbooks/flush_outbox.yml" > "${WORK}/flush2.log" 2>&1
grep -q 'sent 0, refused 0, still pending 0[^0-9]' "${WORK}/flush2.log"
{ set +x; } 2>/dev/null; "${PYTHON}" check.py "${with_password}" '{"close_codes": ["unsuccessful"], "incidents": 2, "recurrences": 0}'; set -x
