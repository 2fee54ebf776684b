#!/usr/bin/env bash
# Every module and the change gate against the Jira Service Management simulator over HTTPS, on both flavours and
# with every way the jsm backend authenticates:
#   Cloud        username + API token (Basic), on the site's address and on the scoped-token base form
#                .../ex/jira/{cloudId} (served on loopback by the simulator; the real scoped host
#                api.atlassian.com cannot be reached from a test, so its address check is a unit test)
#   Data Center  a personal access token alone (Bearer), and username + password (Basic)
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../setup_jsm_simulator/simulator.sh
source "${HERE}/../setup_jsm_simulator/simulator.sh"
make_workdir jsm_modules
export ANSIBLE_NOCOLOR=1

# run DEPTH AUTH FLAVOUR APPROVER_SECRET_OPTION APPROVER_SECRET [VAR=value...]: the playbook with only the given
# credentials in the environment; DEPTH "thorough" runs every task, "modules" skips the check-mode, refusal and
# read-back tasks (run once per flavour), so the target stays fast. cab.approver decides approvals with their own
# credentials (Jira lets only an assigned approver answer), given to change_approval as the same kind of secret.
run() {
    local depth="$1" auth="$2" flavour="$3" approver_option="$4" approver_secret="$5"
    shift 5
    echo "== ${flavour} ${auth} (${depth})"
    local skip=()
    [ "${depth}" = thorough ] || skip=(--skip-tags thorough)
    # The approver's secret in a vars file: -e on the command line is printed at -vvvv (the secrets sweep).
    printf 'approver_secret: "%s"\n' "${approver_secret}" > "${WORK}/approver.yml"
    sweep_input "${WORK}/approver.yml"
    env -u ITSM_USERNAME -u ITSM_PASSWORD -u ITSM_TOKEN -u ITSM_API_KEY -u ITSM_CLIENT_ID -u ITSM_CLIENT_SECRET \
        "$@" ansible-playbook -i localhost, -c local "${HERE}/playbook.yml" "${skip[@]}" -e "run_id=${flavour}-${auth}" \
        -e "output_dir=${WORK}" -e "flavour=${flavour}" -e "approver_option=${approver_option}" \
        -e "@${WORK}/approver.yml" -e "site_url=${URL}"
}

export ITSM_BACKEND=jsm

# -- Jira Cloud ----------------------------------------------------------------------------------------------
# Cloud's search index lags behind writes (the simulator's default, 2 s, as on a real site): each task is a new
# process, and the next task finds what the one before created because the backend remembers the issues it created
# next to its site cache and reconciles them in every search (backends/jsm/client.py CreatedIssues).
start_jsm_simulator "${WORK}/cloud" "${WORK}/cloud" cloud
export ITSM_CA_PATH="${CA_PATH}"
CLOUD_ID="$("${SIM_PYTHON}" - "${URL}" "${CA_PATH}" <<'PY'
import json, ssl, sys, urllib.request
url, cert = sys.argv[1:]
# Where a user finds it too: https://<site>.atlassian.net/_edge/tenant_info
with urllib.request.urlopen(f"{url}/_edge/tenant_info", context=ssl.create_default_context(cafile=cert)) as answer:
    print(json.load(answer)["cloudId"])
PY
)"
run thorough api_token cloud token cab-token ITSM_URL="${URL}" ITSM_USERNAME=admin ITSM_TOKEN=admin-token
run modules scoped cloud token cab-token ITSM_URL="${URL}/ex/jira/${CLOUD_ID}" ITSM_USERNAME=admin ITSM_TOKEN=admin-token

# -- Jira Data Center ----------------------------------------------------------------------------------------
start_jsm_simulator "${WORK}/datacenter" "${WORK}/datacenter" datacenter
export ITSM_CA_PATH="${CA_PATH}"
run thorough pat datacenter token cab-pat ITSM_URL="${URL}" ITSM_TOKEN=admin-pat
run modules password datacenter password cab-token ITSM_URL="${URL}" ITSM_USERNAME=admin ITSM_PASSWORD=admin-token
