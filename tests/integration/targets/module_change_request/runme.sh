#!/usr/bin/env bash
# tasks/main.yml as ansible-test would run it, inside the secrets sweep (setup_collection/role_target.sh), which
# also looks for the token the jsm refusal task gives.
set -eu
# shellcheck source=../setup_collection/role_target.sh
source "$(dirname "$0")/../setup_collection/role_target.sh"
run_role_target not-a-secret
