#!/usr/bin/env bash
# Installs Debian's postgresql server package for the tests of the local store on PostgreSQL (issue 18): the
# unit tests and the local_postgresql integration target start a throw-away server from it
# (tests/postgresql_server.py). Idempotent; needs root or sudo.
set -euo pipefail
newest() { printf '%s\n' /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1; }
if [ -x "$(newest)" ]; then
    "$(newest)" --version
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The package's postinst creates a cluster under /var/lib/postgresql; the tests never use it (nor start it).
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
"$(newest)" --version
