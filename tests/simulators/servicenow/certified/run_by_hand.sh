#!/usr/bin/env bash
# Run the certified servicenow.itsm collection against the ServiceNow simulator. BY HAND, not in CI: the
# certified collection is GPL and not on PyPI, so it is never vendored here nor installed into our venv.
#
# Prepare once (any directory outside this repository):
#   git clone https://github.com/ansible-collections/servicenow.itsm /tmp/snitsm-src
#   python3.11 -m venv /tmp/certified/venv && /tmp/certified/venv/bin/pip install ansible-core requests
#   /tmp/certified/venv/bin/ansible-galaxy collection build --output-path /tmp/certified /tmp/snitsm-src
#   /tmp/certified/venv/bin/ansible-galaxy collection install -p /tmp/certified/collections \
#       /tmp/certified/servicenow-itsm-*.tar.gz
# Then, from the repository root:
#   tests/simulators/servicenow/certified/run_by_hand.sh [-v]
#
# It starts the simulator (HTTPS, fresh state, 8 seeded servers), points the certified modules at it through
# SN_HOST/SN_USERNAME/SN_PASSWORD and SSL_CERT_FILE (their validate_certs stays true: the simulator's
# certificate is trusted, not ignored), runs certified.yml (every module area, each recorded as works or
# fails; "works (notes: ...)" names certified-collection behaviour the driver works around), then a module with
# an API key alone, then the `servicenow.itsm.now` inventory (now.yml) checked against the simulator's own rows.
# It prints the table (tests/simulators/README.md keeps it) and exits 1 when an area fails. Environment:
#   CERTIFIED_VENV          default /tmp/certified/venv (ansible-core and requests)
#   CERTIFIED_COLLECTIONS   default /tmp/certified/collections (holds ansible_collections/servicenow/itsm)
#   SIM_PYTHON              the Python that runs the simulator (default: the repository's .venv, else python3)
#   SIM_ROOT                the tree whose tests/simulators/servicenow runs (default: this repository)
#   CERTIFIED_KEEP=1        keep the work directory (simulator state, logs, results.json)
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${SIM_ROOT:-$(cd "${HERE}/../../../.." && pwd)}"
VENV="${CERTIFIED_VENV:-/tmp/certified/venv}"
COLLECTIONS="${CERTIFIED_COLLECTIONS:-/tmp/certified/collections}"
if [ -z "${SIM_PYTHON:-}" ]; then
    if [ -x "${ROOT}/.venv/bin/python" ]; then SIM_PYTHON="${ROOT}/.venv/bin/python"; else SIM_PYTHON="$(command -v python3)"; fi
fi
[ -x "${VENV}/bin/ansible-playbook" ] || { echo "no ansible-playbook in ${VENV} (see the comment at the top)"; exit 2; }
[ -f "${COLLECTIONS}/ansible_collections/servicenow/itsm/MANIFEST.json" ] \
    || { echo "servicenow.itsm is not installed under ${COLLECTIONS} (see the comment at the top)"; exit 2; }

umask 077
WORK="$(mktemp -d "${TMPDIR:-/tmp}/certified-run.XXXXXX")"
SIM_PID=""
# shellcheck disable=SC2329  # run by the EXIT trap below
cleanup() {
    if [ -n "${SIM_PID}" ]; then
        kill "${SIM_PID}" 2>/dev/null || true
        wait "${SIM_PID}" 2>/dev/null || true
    fi
    if [ "${CERTIFIED_KEEP:-0}" = 1 ]; then echo "kept ${WORK}"; else rm -rf "${WORK}"; fi
}
trap cleanup EXIT

# The simulator prints one "ServiceNow simulator ready at URL" line once it listens.
(cd "${ROOT}" && exec "${SIM_PYTHON}" -m tests.simulators.servicenow --port 0 --state-dir "${WORK}/sim" \
    --seed-cmdb 8 > "${WORK}/sim.out" 2> "${WORK}/sim.err") &
SIM_PID=$!
for _ in $(seq 1 300); do
    grep -q "ready at" "${WORK}/sim.out" 2>/dev/null && break
    kill -0 "${SIM_PID}" 2>/dev/null || { cat "${WORK}/sim.err"; exit 1; }
    sleep 0.1
done
URL="$(sed -n 's/^ServiceNow simulator ready at //p' "${WORK}/sim.out")"
[ -n "${URL}" ] || { echo "the simulator did not start"; cat "${WORK}/sim.err"; exit 1; }

export SN_HOST="${URL}" SN_USERNAME=admin SN_PASSWORD=admin SSL_CERT_FILE="${WORK}/sim/cert.pem"
export ANSIBLE_COLLECTIONS_PATH="${COLLECTIONS}" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
export CERTIFIED_WORK="${WORK}" CERTIFIED_RESULTS="${WORK}/results.json" CERTIFIED_RUN_ID="$$"
collection_version="$("${VENV}/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' \
    "${COLLECTIONS}/ansible_collections/servicenow/itsm/MANIFEST.json")"
echo "simulator at ${URL}; servicenow.itsm ${collection_version}; $("${VENV}/bin/ansible-playbook" --version | head -1)"

status=0
"${VENV}/bin/ansible-playbook" -i localhost, -c local -e "ansible_python_interpreter=${VENV}/bin/python" \
    "$@" "${HERE}/certified.yml" || status=1

# The API key alone (the modules refuse api_key next to a username, so SN_USERNAME/SN_PASSWORD are left out).
with_api_key() {
    env -u SN_USERNAME -u SN_PASSWORD SN_API_KEY="$1" "${VENV}/bin/ansible" localhost -c local -i localhost, \
        -e "ansible_python_interpreter=${VENV}/bin/python" -m servicenow.itsm.incident_info -a "number=INC0010001"
}
api_key_result="works"
if ! with_api_key opsgate-api-key > "${WORK}/api_key.out" 2>&1; then
    api_key_result="fails: $(grep -v -i cryptography "${WORK}/api_key.out" | tr '\n' ' ' | cut -c1-300)"
elif with_api_key not-the-key > "${WORK}/api_key_wrong.out" 2>&1; then
    api_key_result="fails: a wrong API key was accepted"
fi

# The inventory plugin: every seeded server is a host, and the relation groups of `enhanced: true` hold the
# servers each seeded service depends on. The expected values come from the simulator's own Table API.
inventory_result="works"
if ! ANSIBLE_INVENTORY_ENABLED=servicenow.itsm.now ANSIBLE_INVENTORY_UNPARSED_FAILED=1 \
    "${VENV}/bin/ansible-inventory" -i "${HERE}/now.yml" --list --output "${WORK}/inventory.json" 2> "${WORK}/inventory.err"; then
    inventory_result="fails: ansible-inventory: $(tr '\n' ' ' < "${WORK}/inventory.err" | cut -c1-300)"
elif ! check="$("${VENV}/bin/python" - "${URL}" "${WORK}/inventory.json" <<'PY' 2>&1
import base64, json, ssl, sys, urllib.parse, urllib.request

url, path = sys.argv[1:]
context = ssl.create_default_context()  # SSL_CERT_FILE trusts the simulator


def table(name, query):
    params = urllib.parse.urlencode({"sysparm_query": query, "sysparm_display_value": "true"})
    request = urllib.request.Request(f"{url}/api/now/table/{name}?{params}",
                                     headers={"Accept": "application/json",
                                              "Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()})
    with urllib.request.urlopen(request, context=context) as answer:
        return json.load(answer)["result"]


inventory = json.load(open(path))
hosts = set(inventory["_meta"]["hostvars"])
servers = {row["name"] for row in table("cmdb_ci_server", "ORDERBYname")}
assert servers and servers <= hosts, f"servers missing from the inventory: {sorted(servers - hosts)}"
# keyed_groups: one os_<os> group per operating system (spaces kept or made "_", as ansible's setting says)
linux = {row["name"] for row in table("cmdb_ci_server", "osSTARTSWITHLinux")}
in_linux_groups = {host for name, group in inventory.items() if name.replace(" ", "_").startswith("os_Linux_")
                   for host in group.get("hosts", [])}
assert in_linux_groups == linux, f"the os_Linux* keyed groups hold {sorted(in_linux_groups)}, not {sorted(linux)}"
for rel in table("cmdb_rel_ci", "type.name=Depends on::Used by^child.sys_class_name=cmdb_ci_server"):
    service, server = rel["parent"]["display_value"], rel["child"]["display_value"]
    groups = [name for name, group in inventory.items() if server in group.get("hosts", []) and name.endswith("_Depends_on")]
    assert any(name.startswith(service.replace(" ", "_")) for name in groups), f"{server} is in no group of {service}: {groups}"
print(f"{len(hosts)} hosts, relation groups present")
PY
)"; then
    inventory_result="fails: $(echo "${check}" | tail -1 | cut -c1-300)"
fi
echo "now inventory: ${check:-}"
"${VENV}/bin/python" - "${WORK}/results.json" "${inventory_result}" "${api_key_result}" <<'PY' || status=1
import json, sys
results = json.load(open(sys.argv[1]))
results["authentication (API key)"] = sys.argv[3]
results["now inventory (enhanced)"] = sys.argv[2]
json.dump(results, open(sys.argv[1], "w"), indent=2)
width = max(map(len, results))
print("\n".join(f"{name:<{width}}  {value}" for name, value in results.items()))
sys.exit(any(not value.startswith("works") for value in results.values()))
PY
exit "${status}"
