# shellcheck shell=bash
# A target whose tests are its tasks/main.yml, run by its runme.sh so that the secrets sweep (secret_sweep.sh,
# issue 14) sees it: without a runme.sh, ansible-test would run the tasks itself, outside the sweep. Source it from
# the target's runme.sh (the target declares needs/target/setup_collection), then
#   run_role_target [SECRET...]   the play ansible-test writes for a role target: hosts testhost from the inventory
#                                 it gives, facts gathered unless the aliases say gather_facts/no/, output_dir (a
#                                 fresh directory under WORK, so the sweep reads it), roles: [the target]; each
#                                 SECRET is a value the tasks use on purpose, searched for like the simulators' own
# shellcheck source=collection.sh
source "$(dirname "${BASH_SOURCE[0]}")/collection.sh"

run_role_target() {
    local target_dir target gather_facts=true inventory
    target_dir="$(cd "$(dirname "$0")" && pwd)"
    target="$(basename "${target_dir}")"
    if [ "$#" -gt 0 ]; then sweep_secret "$@"; fi
    make_workdir "${target}"
    grep -qx 'gather_facts/no/\?' "${target_dir}/aliases" && gather_facts=false
    # ansible-test gives a script target its inventory (testhost on the local connection) in INVENTORY_PATH
    inventory="${INVENTORY_PATH:-}"
    if [ -z "${inventory}" ]; then
        inventory="${WORK}/inventory"
        printf 'testhost ansible_connection=local ansible_python_interpreter=%s\n' "${PYTHON}" > "${inventory}"
    fi
    mkdir -p "${WORK}/output_dir"
    cat > "${WORK}/play.yml" <<YAML
- hosts: testhost
  gather_facts: ${gather_facts}
  vars:
    output_dir: ${WORK}/output_dir
  roles:
    - ${target}
YAML
    ANSIBLE_ROLES_PATH="$(dirname "${target_dir}")" ansible-playbook -i "${inventory}" "${WORK}/play.yml"
}
