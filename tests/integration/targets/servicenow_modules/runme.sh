#!/usr/bin/env bash
# Every module and the change gate against the ServiceNow simulator over HTTPS, once per auth method:
# basic, OAuth (client id/secret + user/password), a pre-issued bearer token, and an API key.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_servicenow_simulator/simulator.sh
source "${HERE}/../setup_servicenow_simulator/simulator.sh"
make_workdir servicenow_modules
PYTHON="${SIM_PYTHON}"
export ANSIBLE_NOCOLOR=1

# Start the simulator on a free port; its one stdout line says where it listens.
start_simulator "${WORK}/sim" "${WORK}/sim" 0
export ITSM_BACKEND=servicenow ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim/cert.pem"
echo "simulator at ${URL}"

TOKEN="$("${PYTHON}" - "${URL}" "${ITSM_CA_PATH}" "${SN_PASSWORD}" <<'PY'
import json, ssl, sys, urllib.parse, urllib.request
url, cert, password = sys.argv[1:]
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "opsgate", "client_secret": "opsgate-secret",
                               "username": "admin", "password": password}).encode()
with urllib.request.urlopen(f"{url}/oauth_token.do", form, context=ssl.create_default_context(cafile=cert)) as answer:
    print(json.load(answer)["access_token"])
PY
)"
sweep_secret "${TOKEN}"

run() {
    local auth="$1"; shift
    echo "== ${auth}"
    env -u ITSM_USERNAME -u ITSM_PASSWORD -u ITSM_TOKEN -u ITSM_API_KEY -u ITSM_CLIENT_ID -u ITSM_CLIENT_SECRET \
        "$@" ansible-playbook -i localhost, -c local "${HERE}/playbook.yml" -e "run_id=${auth}" -e "output_dir=${WORK}"
}

run basic ITSM_USERNAME=admin ITSM_PASSWORD="${SN_PASSWORD}"
run oauth ITSM_CLIENT_ID=opsgate ITSM_CLIENT_SECRET=opsgate-secret ITSM_USERNAME=admin ITSM_PASSWORD="${SN_PASSWORD}"
run bearer ITSM_TOKEN="${TOKEN}" ITSM_USERNAME=admin
run api_key ITSM_API_KEY=opsgate-api-key ITSM_USERNAME=admin
