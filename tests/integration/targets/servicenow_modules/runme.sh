#!/usr/bin/env bash
# Every module and the change gate against the ServiceNow simulator over HTTPS, once per auth method:
# basic, OAuth (client id/secret + user/password), a pre-issued bearer token, and an API key.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# The collection root (where tests/simulators lives): ansible-test runs this script from a copy of the
# target, so look for the collection on ANSIBLE_COLLECTIONS_PATH, then above this directory.
ROOT=""
IFS=: read -r -a bases <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
for base in "${bases[@]}"; do
    if [ -n "${base}" ] && [ -d "${base}/ansible_collections/opsgate/itsm/tests/simulators" ]; then
        ROOT="${base}/ansible_collections/opsgate/itsm"
        break
    fi
done
[ -n "${ROOT}" ] || ROOT="$(cd "${HERE}/../../../.." && pwd)"
WORK="${OUTPUT_DIR:-$(mktemp -d)}/servicenow_modules"
rm -rf "${WORK}" && mkdir -p "${WORK}"
PYTHON="$(command -v python3 || command -v python)"
export ANSIBLE_NOCOLOR=1

# Start the simulator on a free port; its one stdout line says where it listens.
(cd "${ROOT}" && exec "${PYTHON}" -m tests.simulators.servicenow --port 0 --state-dir "${WORK}/sim" \
    > "${WORK}/sim.out" 2> "${WORK}/sim.err") &
SIM_PID=$!
trap 'kill "${SIM_PID}" 2>/dev/null || true; wait "${SIM_PID}" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    grep -q "ready at" "${WORK}/sim.out" 2>/dev/null && break
    kill -0 "${SIM_PID}" 2>/dev/null || { cat "${WORK}/sim.err"; exit 1; }
    sleep 0.1
done
URL="$(sed -n 's/^ServiceNow simulator ready at //p' "${WORK}/sim.out")"
[ -n "${URL}" ] || { echo "the simulator did not start"; cat "${WORK}/sim.err"; exit 1; }
export ITSM_BACKEND=servicenow ITSM_URL="${URL}" ITSM_CA_PATH="${WORK}/sim/cert.pem"
echo "simulator at ${URL}"

TOKEN="$("${PYTHON}" - "${URL}" "${ITSM_CA_PATH}" <<'PY'
import json, ssl, sys, urllib.parse, urllib.request
url, cert = sys.argv[1:]
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "opsgate", "client_secret": "opsgate-secret",
                               "username": "admin", "password": "admin"}).encode()
with urllib.request.urlopen(f"{url}/oauth_token.do", form, context=ssl.create_default_context(cafile=cert)) as answer:
    print(json.load(answer)["access_token"])
PY
)"

run() {
    local auth="$1"; shift
    echo "== ${auth}"
    env -u ITSM_USERNAME -u ITSM_PASSWORD -u ITSM_TOKEN -u ITSM_API_KEY -u ITSM_CLIENT_ID -u ITSM_CLIENT_SECRET \
        "$@" ansible-playbook -i localhost, -c local "${HERE}/playbook.yml" -e "run_id=${auth}" -e "output_dir=${WORK}"
}

run basic ITSM_USERNAME=admin ITSM_PASSWORD=admin
run oauth ITSM_CLIENT_ID=opsgate ITSM_CLIENT_SECRET=opsgate-secret ITSM_USERNAME=admin ITSM_PASSWORD=admin
run bearer ITSM_TOKEN="${TOKEN}" ITSM_USERNAME=admin
run api_key ITSM_API_KEY=opsgate-api-key ITSM_USERNAME=admin
