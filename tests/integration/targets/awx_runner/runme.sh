#!/usr/bin/env bash
# The collection as AWX / Automation Platform runs it, through ansible-runner (AWX's job launcher) with no container:
# a private data dir holding the project (with an ansible.cfg that enables the recorder), the credential injected
# from meta/credential_types/servicenow_basic.yml into env/envvars (and its CA certificate as a file), the AWX job's
# own variables (JOB_ID, AWX_HOST), against the ServiceNow simulator. awx_job.py says what each run proves.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_collection/collection.sh
source "${HERE}/../setup_collection/collection.sh"
make_workdir awx_runner
# An AWX job reads the project's ansible.cfg: no ANSIBLE_CONFIG (ansible-test sets one) and no callbacks from the
# environment.
unset ANSIBLE_CONFIG ANSIBLE_CALLBACKS_ENABLED ITSM_BACKEND ITSM_URL ITSM_USERNAME ITSM_PASSWORD ITSM_TOKEN ITSM_API_KEY ITSM_OUTBOX \
    ITSM_OUTBOX_DURABLE ITSM_CA_PATH ITSM_CLIENT_ID ITSM_CLIENT_SECRET JOB_ID AWX_HOST AWX_ISOLATED_DATA_DIR || true
export ANSIBLE_NOCOLOR=1
cd "${COLLECTION_ROOT}"
exec "${PYTHON}" "${HERE}/awx_job.py" "${COLLECTION_ROOT}" "${WORK}"
