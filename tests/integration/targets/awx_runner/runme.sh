#!/usr/bin/env bash
# The collection as AWX / Automation Platform runs it, through ansible-runner (AWX's job launcher) with no container:
# a private data dir holding the project (with an ansible.cfg that enables the recorder), the credential injected
# from meta/credential_types/servicenow_basic.yml into env/envvars (and its CA certificate as a file), the AWX job's
# own variables (JOB_ID, AWX_HOST), against the ServiceNow simulator; a PostgreSQL server (setup_postgresql) for the
# outbox kept in a database. awx_job.py says what each run proves.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_postgresql/postgresql.sh
source "${HERE}/../setup_postgresql/postgresql.sh"
make_workdir awx_runner
# An AWX job reads the project's ansible.cfg: no ANSIBLE_CONFIG (ansible-test sets one) and no callbacks from the
# environment.
unset ANSIBLE_CONFIG ANSIBLE_CALLBACKS_ENABLED ITSM_BACKEND ITSM_URL ITSM_USERNAME ITSM_PASSWORD ITSM_TOKEN ITSM_API_KEY ITSM_OUTBOX \
    ITSM_OUTBOX_DURABLE ITSM_CA_PATH ITSM_CLIENT_ID ITSM_CLIENT_SECRET JOB_ID AWX_HOST AWX_ISOLATED_DATA_DIR \
    PGPASSWORD PGHOST PGPORT PGUSER || true
export ANSIBLE_NOCOLOR=1
start_postgresql "${WORK}/postgresql"
# The itsm login's password is the harness's (tests/postgresql_server.py PASSWORD): searched for like the API key.
PG_PASSWORD=itsm-test-password
sweep_secret "${PG_PASSWORD}"
# What AWX itself writes the credential into, on purpose: the job's env/envvars and ansible-runner's record of the
# environment it passed (artifacts/<ident>/command). The job's output, events and the outboxes are searched.
# shellcheck disable=SC2016  # expanded when the hook runs, once the jobs have written them
on_exit 'sweep_input "${WORK}"/job-*/env/envvars "${WORK}"/job-*/artifacts/*/command'
cd "${COLLECTION_ROOT}"
# Not exec: setup_postgresql stops the server when the target ends.
"${PYTHON}" "${HERE}/awx_job.py" "${COLLECTION_ROOT}" "${WORK}" "${PG_URL}" "${PG_PASSWORD}"
